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
