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

# A backend the kernel lacks is a clear error naming the ways out (on a
# kernel with kernel-patch/0001 the daemon starts instead).
write_conf "[ksmplusd]" "backend = process_madvise"
if "$BUILD/ksmplusd" --config "$CONF" --socket "$SOCK" > "$DLOG" 2>&1 & then
	DAEMON_PID=$!
	wait_until 10 sh -c "! kill -0 $DAEMON_PID 2>/dev/null || grep -q ready '$DLOG'"
	if grep -q ready "$DLOG"; then
		note "kernel accepts remote MADV_MERGEABLE: process_madvise backend runs"
		stop_daemon || fail "daemon exited non-zero"
	else
		wait "$DAEMON_PID"; rc=$?; DAEMON_PID=""
		[ $rc = 1 ] || fail "missing backend: exit $rc, want 1"
		grep -q "kernel-patch/0001" "$DLOG" && grep -q "ptrace" "$DLOG" ||
			fail "missing backend: no way out named: $(cat "$DLOG")"
	fi
fi
[ "$(cat "$KSM/pages_to_scan")" = "$before" ] || fail "knobs changed by a daemon that did not start"

# The advisor refuses pages_to_scan while it runs: applying and restoring
# both must happen in the right order.
before_adv=$(sed 's/.*\[\(.*\)\].*/\1/' "$KSM/advisor_mode")
[ "$before_adv" = none ] || skip "advisor already on"
write_conf "[ksmd]" "advisor_mode = scan-time" "pages_to_scan = 777"
start_daemon
grep -q "\[scan-time\]" "$KSM/advisor_mode" || fail "advisor_mode not applied"
stop_daemon || fail "daemon exited non-zero"
grep -q "\[none\]" "$KSM/advisor_mode" || fail "advisor_mode not restored"
[ "$(cat "$KSM/pages_to_scan")" = "$before" ] || fail "pages_to_scan not restored after advisor"
exit 0
