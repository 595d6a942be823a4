# [ksmd] knobs are applied, and restored when the daemon stops; a knob this
# kernel lacks is a clear error.
. "$(dirname "$0")/lib.sh"
need_root
need_ksm
ksm_save

before=$(cat "$KSM/pages_to_scan")
want=$((before + 123))
write_conf "[ksmd]" "pages_to_scan = $want"
start_daemon
[ "$(cat "$KSM/pages_to_scan")" = "$want" ] || fail "pages_to_scan not applied"
[ "$(cat "$KSM/run")" = 1 ] || fail "ksmd not started"
stop_daemon || fail "daemon exited non-zero"
[ "$(cat "$KSM/pages_to_scan")" = "$before" ] || fail "pages_to_scan not restored"

# A knob name the parser knows but a fake sysfs lacks is covered by unit
# tests; here: a value the kernel refuses.
write_conf "[ksmd]" "advisor_mode = none" "sleep_millisecs = 0"
"$BUILD/ksmplusd" --config "$CONF" --socket "$SOCK" > "$DLOG" 2>&1 &
DAEMON_PID=$!
wait_until 10 sh -c "! kill -0 $DAEMON_PID 2>/dev/null" || true
if kill -0 "$DAEMON_PID" 2>/dev/null; then
	note "kernel accepted sleep_millisecs = 0"
else
	wait "$DAEMON_PID"; rc=$?; DAEMON_PID=""
	[ $rc = 1 ] || fail "refused knob: exit $rc"
	grep -q "$CONF:3:" "$DLOG" || fail "refused knob: no file:line"
fi
exit 0
