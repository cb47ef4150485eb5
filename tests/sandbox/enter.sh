#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# enter.sh NAME CGDIR... -- COMMAND...: moves this very process into every
# CGDIR (fresh child cgroups made by sandbox.sh, one per mounted hierarchy),
# checks in /proc/self/cgroup that every hierarchy now ends in NAME, then
# execs COMMAND. A separate process, not a subshell: inside ( ) $$ is still
# the parent, and the parent must stay outside to remove the cgroups later.
set -uo pipefail
name=$1
shift
dirs=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
	dirs+=("$1")
	shift
done
[ "${1:-}" = -- ] || { echo "sandbox: enter.sh: missing --" >&2; exit 125; }
shift
for d in "${dirs[@]}"; do
	if ! echo $$ >"$d/cgroup.procs"; then
		echo "sandbox: cannot enter cgroup $d" >&2
		exit 125
	fi
done
# Rule 1 of TESTING.md: a manager started in a cgroup shared with anything
# else would move those processes into its own scope. Refuse unless every
# hierarchy, whatever it is, shows the fresh child.
while IFS= read -r line; do
	path=${line#*:}
	path=${path#*:}
	if [ "${path##*/}" != "$name" ]; then
		echo "sandbox: still outside the sandbox cgroup: $line" >&2
		exit 125
	fi
done </proc/$$/cgroup
exec "$@"
