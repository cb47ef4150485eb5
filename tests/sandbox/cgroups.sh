# SPDX-License-Identifier: MIT
# Rule 1 of shared/TESTING.md, shared by sandbox.sh (tier 1b) and the
# tier-2 boot test: before a service manager starts, the launching process
# leaves every cgroup it shares with anything else. Source this file (it
# needs a die() function), then
#   cgroups_make NAME PREFIX  a fresh child cgroup NAME (PREFIX-<pid>-...) in
#                             every hierarchy this process is in: cgdirs=()
#   tests/sandbox/enter.sh NAME "${cgdirs[@]}" -- CMD...
#                             moves a new process there, checks, execs CMD
#   remove_tree DIR           for each of cgdirs, deepest first, afterwards

# Mounted cgroup hierarchies from mountinfo: "fstype superopts mountpoint".
mounts=()
while read -r _ _ _ root mnt _ rest; do
	rest=${rest#*- }
	read -r fstype _ sopts <<<"$rest"
	case $fstype in cgroup | cgroup2) [ "$root" = / ] && mounts+=("$fstype ,$sopts, $mnt") ;; esac
done </proc/self/mountinfo

# The directory of one /proc/self/cgroup line ("ID:CONTROLLERS:PATH").
cgroup_dir() {
	local id=${1%%:*} rest=${1#*:} ctrls path m want c ok fstype sopts mnt
	ctrls=${rest%%:*}
	path=${rest#*:}
	for m in "${mounts[@]}"; do
		read -r fstype sopts mnt <<<"$m"
		if [ "$id" = 0 ] && [ -z "$ctrls" ]; then
			[ "$fstype" = cgroup2 ] || continue
		else
			[ "$fstype" = cgroup ] || continue
			ok=1
			IFS=, read -ra want <<<"$ctrls"
			for c in "${want[@]}"; do
				[[ $sopts == *,$c,* ]] || ok=0
			done
			[ $ok = 1 ] || continue
		fi
		echo "$mnt${path%/}"
		return 0
	done
	return 1
}

# rmdir a cgroup tree deepest first. The kernel may still be finishing the
# exits of the namespace's processes: retry briefly, then report.
remove_tree() {
	local d=$1 deadline=$((${EPOCHREALTIME/./} + 3000000)) left
	while :; do
		find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
		[ -d "$d" ] || return 0
		if [ "${EPOCHREALTIME/./}" -gt "$deadline" ]; then
			left=$(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | tr '\n' ' ')
			echo "sandbox: cannot remove $d (processes: ${left:-none})" >&2
			return 1
		fi
		sleep 0.02
	done
}

# Trees of earlier runs whose script was killed (PREFIX-<its pid>-...):
# removed when that pid is gone. A live one, or one still holding
# processes, stays.
sweep_stale() { # BASE PREFIX
	local base=$1 prefix=$2 d pid
	for d in "$base/$prefix"-*; do
		[ -d "$d" ] || continue
		pid=${d##*/"$prefix"-}
		pid=${pid%%-*}
		kill -0 "$pid" 2>/dev/null && continue
		find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
}

cgdirs=()
cgroups_make() { # NAME PREFIX
	local name=$1 prefix=$2 line parent dir
	while IFS= read -r line; do
		parent=$(cgroup_dir "$line") || die "cgroup hierarchy not mounted: $line"
		[ -d "$parent" ] || die "no cgroup folder $parent for $line"
		sweep_stale "$parent" "$prefix"
		dir=$parent/$name
		mkdir "$dir" || die "cannot create cgroup $dir"
		cgdirs+=("$dir")
		# cpuset: a child without cpus and mems accepts no process.
		if [ -f "$parent/cpuset.cpus" ]; then
			cat "$parent/cpuset.cpus" >"$dir/cpuset.cpus" &&
				cat "$parent/cpuset.mems" >"$dir/cpuset.mems" ||
				die "cannot set up cpuset $dir"
		fi
	done </proc/self/cgroup
	[ ${#cgdirs[@]} -gt 0 ] || die "no cgroup hierarchies"
}

# Removes the cgroups cgroups_make made, newest first (the child is gone by
# then). Returns 125 when one could not be removed, else 0.
cgroups_remove() {
	local rc=0 i
	for ((i = ${#cgdirs[@]} - 1; i >= 0; i--)); do
		remove_tree "${cgdirs[i]}" || rc=125
	done
	return $rc
}
