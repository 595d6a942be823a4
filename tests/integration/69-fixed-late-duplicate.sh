# A late duplicate merges under governor = fixed too: the pace stays as
# [ksmd] sets it, but newly enrolled memory still gets its smart_scan window
# (68-late-duplicate says why, under the default governor). App A's pages
# are enrolled one process a full scan apart (as a census advises them),
# aged with smart_scan = 1, then app B starts with the same contents and
# must merge within a few FULL SCANS (counted, never seconds). Without the
# window about a third of such pairs never meet.
#
# Also: pages_to_scan and sleep_millisecs are never written; smart_scan is
# back to 1 once the window is over, at unmerge --all and at stop.
. "$(dirname "$0")/lib.sh"
need_root
need_ksm
[ -f "$KSM/smart_scan" ] || skip "no $KSM/smart_scan (a kernel before 6.7 never skips pages)"
ksm_save
ksm_set smart_scan 1
PAIRS=${LATE_PAIRS:-18}
BOUND=8                 # full scans after the last B is enrolled
AGE=22                  # full scans with smart_scan on: past age 13, one visit in 9

write_conf "[ksmplusd]" "policy = whole" "drop_unprofitable = no" \
	"[ksmd]" "governor = fixed" "pages_to_scan = 1000" "sleep_millisecs = 20" \
	"[apps]" "app = ksmpfixa" "app = ksmpfixb"
start_daemon

pace_is_fixed() {
	[ "$(cat "$KSM/pages_to_scan")" = 1000 ] && [ "$(cat "$KSM/sleep_millisecs")" = 20 ] ||
		fail "$1: the fixed pace was changed: $(cat "$KSM/pages_to_scan") pages / $(cat "$KSM/sleep_millisecs") ms"
}
# smart_scan back at the tick (2 s; 30 s for a loaded machine) once
# full_scans reached the window's end, not before: the daemon logs both.
window_closes() {
	wait_until 30 smart_is 1 || fail "$1: smart_scan still $(cat "$KSM/smart_scan") at full scan $(scans)"
	line=$(grep "smart_scan back to 1 at full scan" "$DLOG" | tail -n 1)
	[ -n "$line" ] || fail "$1: no window closed in the log"
	back=$(echo "$line" | sed -n 's/.*at full scan \([0-9]*\) (window until \([0-9]*\)).*/\1/p')
	end=$(echo "$line" | sed -n 's/.*(window until \([0-9]*\)).*/\1/p')
	[ -n "$back" ] && [ "$back" -ge "$end" ] || fail "$1: smart_scan back too early: '$line'"
	note "$1: smart_scan back to 1 at full scan $back, window until $end"
}
[ "$(gov_field governor)" = fixed ] || fail "governor is '$(gov_field governor)', not fixed"
[ "$(gov_field gov_smart_scan)" = on ] || fail "status before any enrollment: '$(gov_field gov_smart_scan)'"

# --- A: one process per content, each enrolled a full scan after the last -----
late_twins A ksmpfixa "$PAIRS"
A=$LATE_PIDS
window_closes "after A"
f=$(scans)
wait_scans $((f + AGE))
smart_is 1 || fail "smart_scan turned off while nothing was enrolled"
pace_is_fixed "after A"
[ "$(sum_field ksm_merging_pages $A)" -lt 64 ] || fail "A's distinct pages merged among themselves"

# --- B: the same contents, enrolled late -------------------------------------
late_twins B ksmpfixb "$PAIRS" window
B=$LATE_PIDS
fb=$(scans)
want=$(( PAIRS * 256 * 95 / 100 ))
late_twins_merge "$BOUND" $B
merged=$LATE_MERGED; at=$(scans)
note "B: $merged of $((PAIRS * 256)) pages merged, $((at - fb)) full scans after the last B was enrolled"
[ "$merged" -ge "$want" ] ||
	fail "late duplicates under governor = fixed: B merged $merged of $((PAIRS * 256)) pages (want >= $want) in $((at - fb)) full scans"
grep -q "governor: smart_scan off until full scan [0-9]*: enrolled ksmpfixb" "$DLOG" ||
	fail "no smart_scan window logged for B"
set -- $B; verify_twin "$1"
window_closes "after B"
pace_is_fixed "after B"
[ "$(gov_field gov_smart_scan)" = on ] || fail "status after the window: '$(gov_field gov_smart_scan)'"

# --- put back at unmerge --all and at stop, in the middle of a window ---------
c=$(start_twin ksmpfixa 1 --distinct --seed 99)
wait_until 20 is_enrolled "$c" || fail "C not enrolled"
wait_until 20 smart_is 0 || fail "smart_scan not off after C's enrollment"
ctl unmerge --all > /dev/null || fail "unmerge --all failed"
smart_is 1 || fail "unmerge --all left smart_scan $(cat "$KSM/smart_scan")"
ctl resume > /dev/null || fail "resume failed"
wait_until 20 smart_is 0 || fail "smart_scan not off after resume enrolled the apps again"
stop_daemon || fail "daemon exited non-zero"
smart_is 1 || fail "stopped in a window: smart_scan left $(cat "$KSM/smart_scan")"
exit 0
