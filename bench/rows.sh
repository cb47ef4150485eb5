# SPDX-License-Identifier: MIT
# Shell side of bench/rows.py (POSIX sh, so that make's recipes can use it):
# bench_row MEASURE HEALER [REFERENCE [RATIO]] appends one row of make
# bench's closing table when HEALER_BENCH_ROWS is set.
bench_row() {
	[ -n "${HEALER_BENCH_ROWS:-}" ] || return 0
	printf '%s\t%s\t%s\t%s\n' "$(echo "$1" | tr '\t' ' ')" "$(echo "$2" | tr '\t' ' ')" \
		"$(echo "${3:-}" | tr '\t' ' ')" "$(echo "${4:-}" | tr '\t' ' ')" >>"$HEALER_BENCH_ROWS"
}
