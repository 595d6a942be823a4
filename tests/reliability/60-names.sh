# Names that could break the config or the terminal: `ctl add` of each is
# refused with a message (the bad bytes shown escaped), the daemon keeps
# running and its config still loads after a reload. A process whose comm
# holds control characters is logged escaped. A process renaming itself in
# and out of an app in a loop costs (almost) no log lines.
. "$(dirname "$0")/../integration/lib.sh"
need_root
need_ksm
ksm_save

mkdir -p "$CONF.d"
write_conf "[apps]" "app = ksmpren"
start_daemon
esc=$(printf '\033')
tab=$(printf '\t')
for name in ";foo" "a=b" "[x" "a${tab}b" "${esc}[31m" "a b" "#x" "a,b"; do
	out=$(ctl add "$name" 2>&1); rc=$?
	[ $rc -ne 0 ] || fail "add '$name' accepted"
	echo "$out" | grep -q "invalid app name" || fail "add '$name': no reason given: '$out'"
	case $out in *"$esc"*|*"$tab"*) fail "add '$name': the reply carries raw control bytes" ;; esac
	kill -0 "$DAEMON_PID" 2>/dev/null || fail "daemon died on add '$name'"
	status_probe
done
ctl add "${esc}[31m" 2>&1 | grep -qF "'\\x1b[31m'" || fail "the escape is not shown as \\x1b"
grep -q "$esc" "$DLOG" && fail "raw ESC in the daemon log"
kill -HUP "$DAEMON_PID"
wait_until 20 grep -q "configuration reloaded" "$DLOG" || fail "config no longer loads after the refused adds"
"$BUILD/ksmplusd" --config "$CONF" --check-config > /dev/null 2>&1 || fail "--check-config fails"

# A program matching by its executable's name that names itself with
# control characters (then its app is added): logged escaped, never raw.
cp /bin/sh "$TMP/ksmpesc"
"$TMP/ksmpesc" -c 'printf "\033[2Jevil\tname" > /proc/self/comm; while :; do sleep 1; done' &
ep=$!
track "$ep"
wait_until 10 grep -q evil "/proc/$ep/comm" || fail "the shell did not rename itself"
ctl add ksmpesc --runtime > /dev/null || fail "add ksmpesc failed"
# (\x1b[2Jevil\x09name from an event; libproc2's sweep hands over
# .[2Jevil.name: either way, no raw control byte.)
wait_until 20 grep -q "evil.*\[$ep\]" "$DLOG" || fail "the renamed process is not logged"
grep "evil.*\[$ep\]" "$DLOG" | grep -q "[$esc$tab]" && fail "comm logged raw"
grep -q "$esc" "$DLOG" && fail "raw ESC in the daemon log"
ctl status | grep -q "$esc" && fail "raw ESC in status"

# A shell matching by comm only, renaming itself out of the app and back
# in, as fast as it can, for 5 s: log lines per second.
l0=$(wc -l < "$DLOG")
sh -c 'while :; do printf ksmpren > /proc/self/comm; printf other > /proc/self/comm; done' &
rp=$!
track "$rp"
i=0
while [ $i -lt 25 ]; do status_probe; sleep 0.2; i=$((i + 1)); done
kill "$rp"
l1=$(wc -l < "$DLOG")
lines=$(grep -c "\[$rp\]" "$DLOG")
note "renaming loop: $lines log lines about it in 5 s ($((l1 - l0)) lines in all)"
[ "$lines" -le 3 ] || fail "a renaming process cost $lines log lines in 5 s"
figures "rename_log_lines_per_5s=$lines"
stop_daemon || fail "daemon exited non-zero"
exit 0
