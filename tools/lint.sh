#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Banned functions and comment style (shared/STYLE.md rule 10), SPDX lines,
# then clang-format in check mode over every tracked C file.
set -uo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.c' '*.h' 2>/dev/null)
[ -n "$files" ] || files=$(find . -path ./build -prune -o \( -name '*.c' -o -name '*.h' \) -print)
rc=0
banned='\b(system|popen|atoi|atol|strtok|strcpy|strcat|sprintf|vsprintf|gets|execvp|posix_spawnp)[[:space:]]*\('
if grep -nE "$banned" $files; then
	echo "lint: banned function (see STYLE.md rule 10)" >&2
	rc=1
fi
# '//' comments: a '//' outside string literals and not part of a URL (scheme://).
if grep -nE '^[^"]*(^|[^:])//' $files | grep -vE '"[^"]*//[^"]*"'; then
	echo "lint: use /* */ comments" >&2
	rc=1
fi
for f in $files; do
	head -n 2 "$f" | grep -q 'SPDX-License-Identifier' || { echo "lint: $f: missing SPDX line" >&2; rc=1; }
done
if ! clang-format --dry-run -Werror $files; then
	echo "lint: clang-format differs; run 'make format'" >&2
	rc=1
fi
[ $rc -eq 0 ] && echo "lint: OK"
exit $rc
