# governor = advisor: the kernel's scan-time advisor runs while ksmplusd
# does, steered by the governor's states: a burst after enrollment (a short
# target scan time, the CPU cap max_cpu_percent), ksmd stopped (run = 0)
# when nothing is left to gain, woken by the next enrollment; an advisor
# knob set by hand is left alone, then and at stop; at stop every other knob
# is back, pages_to_scan too (the kernel resets it when advisor_mode
# changes: to 500 when the advisor starts, to 100 when it stops).
. "$(dirname "$0")/lib.sh"
need_root
need_ksm
[ -w "$KSM/advisor_mode" ] || skip "no KSM advisor on this kernel ($KSM/advisor_mode)"
ksm_save
ksm_set advisor_mode none
ksm_set pages_to_scan 321       # not the kernel's default: a reset shows
cpu0=$(cat "$KSM/advisor_max_cpu")
run0=$(cat "$KSM/run")

gov() { ctl status --json | sed -n "s/.*\"$1\": *\"\{0,1\}\([^\",}]*\).*/\1/p" | head -n 1; }
state_is() { [ "$(gov gov_state)" = "$1" ]; }
knob_is() { [ "$(sed 's/.*\[\(.*\)\].*/\1/' "$KSM/$1")" = "$2" ]; }
admin_has() { gov gov_admin_knobs | grep -q "$1"; }

write_conf "[ksmd]" "governor = advisor" "max_cpu_percent = 30" "[apps]" "app = advtwin"
start_daemon
grep -q "governor: advisor (advisor_mode = scan-time)" "$DLOG" || fail "the advisor governor did not start"
knob_is advisor_mode scan-time || fail "advisor_mode is $(cat "$KSM/advisor_mode") while the advisor governs"
[ "$(gov governor)" = advisor ] || fail "status says governor $(gov governor)"

twin=$(start_twin advtwin 16)
wait_until 20 grep -q "settle -> burst\|idle -> burst" "$DLOG" || fail "no burst after enrollment"
wait_until 10 knob_is advisor_target_scan_time 5 ||
	fail "burst but advisor_target_scan_time is $(cat "$KSM/advisor_target_scan_time")"
knob_is advisor_max_cpu 30 || fail "advisor_max_cpu is $(cat "$KSM/advisor_max_cpu"), not max_cpu_percent"
ctl status | grep -q "^advisor: *full scan in 5 s, CPU cap 30 %, run 1" ||
	fail "text status has no advisor line: $(ctl status | grep -i advisor)"
wait_until 120 state_is idle || fail "not idle after the burst: $(gov gov_state): $(gov gov_why)"
wait_until 5 knob_is run 0 || fail "idle but ksmd still runs (run = $(cat "$KSM/run"))"
[ "$(merging "$twin")" -gt 0 ] || fail "the twin's memory did not merge"
verify_twin "$twin"

# The next enrollment wakes ksmd at once.
start_twin advtwin 8 > /dev/null
wait_until 10 knob_is run 1 || fail "an enrollment did not restart ksmd"

# An advisor knob set by hand is the admin's: not steered, not restored.
echo 77 > "$KSM/advisor_target_scan_time"
wait_until 20 admin_has advisor_target_scan_time ||
	fail "a knob set by hand is not reported: $(gov gov_admin_knobs)"
grep -q "advisor_target_scan_time was set to 77 behind ksmplusd's back" "$DLOG" || fail "not logged"
knob_is advisor_target_scan_time 77 || fail "the governor overwrote advisor_target_scan_time"
stop_daemon || fail "daemon exited non-zero"
knob_is advisor_target_scan_time 77 || fail "advisor_target_scan_time set by hand was 'restored'"
knob_is advisor_mode none || fail "advisor_mode not restored: $(cat "$KSM/advisor_mode")"
knob_is pages_to_scan 321 || fail "pages_to_scan not restored: $(cat "$KSM/pages_to_scan") (was 321)"
knob_is advisor_max_cpu "$cpu0" || fail "advisor_max_cpu not restored: $(cat "$KSM/advisor_max_cpu")"
knob_is run "$run0" || fail "run not restored: $(cat "$KSM/run")"
exit 0
