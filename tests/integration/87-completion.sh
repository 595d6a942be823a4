# Shell completion (completion/ksmplusctl.bash): commands, options per
# command, running program names for add, the daemon's apps for remove
# (through the --socket given on the line), cgroup scopes for add --cgroup.
. "$(dirname "$0")/lib.sh"
need_root
command -v bash > /dev/null || skip "no bash"
COMP=$(cd "$(dirname "$0")/../.." && pwd)/completion/ksmplusctl.bash

# complete WORD... — what bash would offer for the last word, one per line
complete_line() {
	PATH=$BUILD:$PATH bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_ksmplusctl; printf "%s\n" "${COMPREPLY[@]}"' sh "$COMP" ksmplusctl "$@"
}
offers() {      # offers WANT WORD... — WANT is among the completions
	want=$1; shift
	complete_line "$@" | grep -qx -- "$want" || fail "'ksmplusctl $*' does not offer $want: $(complete_line "$@" | tr '\n' ' ')"
}
lacks() {
	unwanted=$1; shift
	complete_line "$@" | grep -qx -- "$unwanted" && fail "'ksmplusctl $*' offers $unwanted"
	return 0
}

offers status ""
offers metrics "m"
offers top "t"
offers analyze "an"
offers --sample analyze "--s"
offers --cgroup analyze "--c"
offers -n top "-"
lacks --all status "--"
offers remove "r"
offers --socket "--"
offers --json status "--"
offers --fresh status "--f"
offers --all unmerge ""
offers --unmerge remove "--u"
offers --runtime add "--r"
offers --wait add "--w"

# add: running programs by name
w=$(start_twin ksmpcompl 1)
offers ksmpcompl add "ksmpco"
offers ksmpcompl --socket "$SOCK" add --runtime "ksmpco"

# remove: the daemon's apps, asked on the socket given on the line
write_conf "[apps]" "app = ksmpcompl-cfg"
start_daemon
offers ksmpcompl-cfg --socket "$SOCK" remove "ksmpcompl-"
lacks ksmpcompl --socket "$SOCK" remove "ksmpcompl-"
ctl add ksmpcompl-rt --runtime > /dev/null || fail "add failed"
offers ksmpcompl-rt --socket "$SOCK" remove "ksmpcompl-"
# no daemon on that socket: nothing, and no error on the terminal
[ -z "$(complete_line --socket "$TMP/none.sock" remove "" 2>&1)" ] || fail "noise without a daemon"

# add --cgroup: scope names under /sys/fs/cgroup
CG=""
test_cleanup() { [ -z "$CG" ] || rmdir "$CG" 2> /dev/null; }
for root in /sys/fs/cgroup/unified /sys/fs/cgroup; do
	if [ -f "$root/cgroup.procs" ] && mkdir "$root/ksmpcompl-test.scope" 2> /dev/null; then
		CG=$root/ksmpcompl-test.scope
		break
	fi
done
if [ -n "$CG" ]; then
	offers ksmpcompl-test.scope add --cgroup "ksmpcompl-t"
	offers ksmpcompl-test.scope analyze --cgroup "ksmpcompl-t"
	rmdir "$CG" && CG=""
else
	note "no writable cgroup root: add --cgroup completion not checked"
fi
stop_daemon || fail "daemon exited non-zero"
exit 0
