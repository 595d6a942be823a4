# zsh completion (completion/_ksmplusctl), the bash one's offers: commands,
# options per command, running program names for add, the daemon's apps for
# remove (through the --socket given on the line, either form), cgroup scopes
# for add --cgroup; installed where Debian's zsh looks, removed by uninstall.
# zsh runs for real, interactive on a pty (zsh_complete.zsh).
. "$(dirname "$0")/lib.sh"
need_root
command -v zsh > /dev/null || skip "no zsh (make deps installs it)"
root=$(cd "$(dirname "$0")/../.." && pwd)
DRIVER=$root/tests/integration/zsh_complete.zsh
[ -f "$root/completion/_ksmplusctl" ] || fail "no completion/_ksmplusctl"

# complete LINE — what zsh offers for the last word of LINE, one per line
complete_line() {
	PATH=$BUILD:$PATH zsh -f "$DRIVER" "$root/completion" "ksmplusctl $1" > "$TMP/offered" ||
		fail "zsh did not complete 'ksmplusctl $1' (rc $?)"
	cat "$TMP/offered"
}
offers() {      # offers WANT LINE — WANT is among the completions
	complete_line "$2" > /dev/null
	grep -qx -- "$1" "$TMP/offered" ||
		fail "'ksmplusctl $2' does not offer $1: $(tr '\n' ' ' < "$TMP/offered")"
}
lacks() {
	complete_line "$2" > /dev/null
	! grep -qx -- "$1" "$TMP/offered" || fail "'ksmplusctl $2' offers $1"
}

# every command, and only commands, on an empty word
complete_line "" > /dev/null
want="add analyze help list metrics reload remove resume status top unmerge"
[ "$(sort "$TMP/offered" | tr '\n' ' ')" = "$want " ] ||
	fail "commands offered: $(tr '\n' ' ' < "$TMP/offered"), expected $want"
offers metrics "m"
offers top "t"
offers analyze "an"
offers --socket "--"
offers --version "--"
offers --json "status --"
offers --fresh "status --f"
lacks --all "status --"
offers --all "unmerge "
offers --unmerge "remove --u"
offers --runtime "add --r"
offers --wait "add --w"
offers --sample "analyze --s"
offers -n "top -"

# add: running programs by name
start_twin ksmpzcompl 1 > /dev/null
offers ksmpzcompl "add ksmpzc"
offers ksmpzcompl "--socket /nonexistent add --runtime ksmpzc"

# remove: the daemon's apps, asked on the socket given on the line, whose
# path has a space: typed with a backslash or quotes, it must reach
# ksmplusctl unquoted (zsh's opt_args adds a level of escaping of its own)
mkdir "$TMP/with space"
SOCK="$TMP/with space/ksmplusd.sock"
esc=$(printf '%s' "$SOCK" | sed 's/ /\\ /g')
write_conf "[apps]" "app = ksmpzcompl-cfg"
start_daemon
offers ksmpzcompl-cfg "--socket $esc remove ksmpzcompl-"
offers ksmpzcompl-cfg "--socket='$SOCK' remove ksmpzcompl-"
lacks ksmpzcompl "--socket $esc remove ksmpzcompl"
ctl add ksmpzcompl-rt --runtime > /dev/null || fail "add failed"
offers ksmpzcompl-rt "--socket $esc remove --unmerge ksmpzcompl-"
# no daemon on that socket: nothing offered
complete_line "--socket $TMP/none.sock remove " > /dev/null
[ ! -s "$TMP/offered" ] || fail "offers without a daemon: $(cat "$TMP/offered")"

# add --cgroup: scope names under /sys/fs/cgroup
CG=""
test_cleanup() { [ -z "$CG" ] || rmdir "$CG" 2> /dev/null; }
for r in /sys/fs/cgroup/unified /sys/fs/cgroup; do
	if [ -f "$r/cgroup.procs" ] && mkdir "$r/ksmpzcompl-test.scope" 2> /dev/null; then
		CG=$r/ksmpzcompl-test.scope
		break
	fi
done
if [ -n "$CG" ]; then
	offers ksmpzcompl-test.scope "add --cgroup ksmpzcompl-t"
	lacks ksmpzcompl "add --cgroup ksmpzc"
	rmdir "$CG" && CG=""
else
	note "no writable cgroup root: add --cgroup completion not checked"
fi
stop_daemon || fail "daemon exited non-zero"

# make install puts it on Debian's zsh $fpath; uninstall takes it back
D=$TMP/dest
make -s -C "$root" BUILD="$BUILD" DESTDIR="$D" PREFIX=/usr install > "$TMP/install.log" 2>&1 ||
	fail "make install failed: $(tail -5 "$TMP/install.log")"
f=usr/share/zsh/vendor-completions/_ksmplusctl
cmp -s "$D/$f" "$root/completion/_ksmplusctl" || fail "make install did not install /$f"
zsh -fc 'print -rl -- $fpath' | grep -qx "/$(dirname $f)" ||
	fail "zsh's \$fpath has no /$(dirname $f): $(zsh -fc 'print -r -- $fpath')"
make -s -C "$root" BUILD="$BUILD" DESTDIR="$D" PREFIX=/usr uninstall > "$TMP/install.log" 2>&1 ||
	fail "make uninstall failed"
[ ! -e "$D/$f" ] || fail "make uninstall left /$f"
exit 0
