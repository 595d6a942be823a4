# A duplicate that arrives late merges: app A's pages are enrolled and aged
# by ksmd with smart_scan = 1 (the kernel's default), then app B starts with
# the same contents; B's pages must merge within a few FULL SCANS of B's
# enrollment (scans are counted, never seconds).
#
# Why they would not (mm/ksm.c, 6.7 and later): two pages merge only in a
# full scan that visits both (the unstable tree is rebuilt every scan, and a
# page is compared only when its checksum held since its previous visit).
# should_skip_rmap_item() ages a page's rmap_item at every visit that does
# not merge it; from age 3 on it skips the page for skip_age(age) scans
# (1, 2, 4, then 8 from age 9): an aged page is compared in one full scan
# out of 9, on a phase set by when its process was enrolled. B's new pages
# are compared in the scans 2, 3, 4, 6, 9, 14 after their first visit, then
# one in 9 again (phase 14 mod 9 = 5): in residues mod 9 {2,3,4,6,0,5}.
# When A's phase relative to B's is one of the other three (1, 7, 8), the
# two copies are never in the same scan and never merge, however long ksmd
# runs. One pair of processes then merges all or nothing (0 of 2,560 pages
# in 5 minutes in 85-analyze-apps, all at once with smart_scan = 0); with
# LATE_PAIRS pairs enrolled one full scan apart, about a third stay apart.
# The daemon turns smart_scan off while newly enrolled memory has its first
# full scans: every page, old or new, is then compared in every scan.
#
# Also: smart_scan comes back once the window is over, when the daemon stops
# in a window, and at unmerge --all; a smart_scan set in [ksmd] is pinned.
. "$(dirname "$0")/lib.sh"
need_root
need_ksm
[ -f "$KSM/smart_scan" ] || skip "no $KSM/smart_scan (a kernel before 6.7 never skips pages)"
ksm_save
ksm_set smart_scan 1
PAIRS=${LATE_PAIRS:-18}
BOUND=8                 # full scans after the last B is enrolled
AGE=22                  # full scans with smart_scan on: past age 13, one visit in 9

fast_conf() {
	write_conf "[ksmplusd]" "policy = whole" "drop_unprofitable = no" \
		"[ksmd]" "governor = pressure" "pages_to_scan = $1" "sleep_millisecs = $2" "$3" \
		"[apps]" "app = ksmplatea" "app = ksmplateb" "app = ksmplatec"
}
# 1,000 pages / 20 ms (the burst pace): a full scan of these ~10,000 pages
# takes longer than a poll of their counters, so scans are counted exactly.
fast_conf 1000 20 ""
start_daemon

# window_closes WHAT — smart_scan comes back at the daemon's first tick (2 s;
# 30 s allows for a loaded machine) once full_scans reached the window's
# end, and not before it: the daemon logs both. (That there was a window
# is checked after B's merge, the point of the test.)
window_closes() {
	wait_until 30 smart_is 1 || fail "$1: smart_scan still $(cat "$KSM/smart_scan") at full scan $(scans)"
	line=$(grep "smart_scan back to 1 at full scan" "$DLOG" | tail -n 1)
	[ -n "$line" ] || return 0
	back=$(echo "$line" | sed -n 's/.*at full scan \([0-9]*\) (window until \([0-9]*\)).*/\1/p')
	end=$(echo "$line" | sed -n 's/.*(window until \([0-9]*\)).*/\1/p')
	[ -n "$back" ] && [ "$back" -ge "$end" ] || fail "$1: smart_scan back too early: '$line'"
	note "$1: smart_scan back to 1 at full scan $back, window until $end"
}
gov() { ctl status --json | python3 -c '
import json, sys
print(json.load(sys.stdin)["global"].get(sys.argv[1], ""))' "$1"; }
ksmd_pid() { for p in /proc/[0-9]*; do [ "$(cat "$p/comm" 2>/dev/null)" = ksmd ] && basename "$p" && return; done; }
ksmd_ticks() { awk '{ print $14 + $15 }' "/proc/$KSMD/stat"; }
KSMD=$(ksmd_pid)
[ -n "$KSMD" ] || fail "no ksmd thread"

# --- A: one process per content, each enrolled a full scan after the last -----
late_twins A ksmplatea "$PAIRS"
A=$LATE_PIDS
# The window of A's enrollments ends: then A ages with smart_scan on.
window_closes "after A"
f=$(scans); t0=$(ksmd_ticks); s0=$(cat "$KSM/pages_skipped")
wait_scans $((f + AGE))
smart_is 1 || fail "smart_scan turned off while nothing was enrolled"
age_ticks=$(( $(ksmd_ticks) - t0 ))
note "A: $PAIRS x 256 distinct pages aged $AGE full scans with smart_scan = 1: ksmd $age_ticks ticks, $(( $(cat "$KSM/pages_skipped") - s0 )) pages skipped"
[ "$(sum_field ksm_merging_pages $A)" -lt 64 ] || fail "A's distinct pages merged among themselves"

# --- B: the same contents, enrolled late -------------------------------------
t0=$(ksmd_ticks); fb0=$(scans)
late_twins B ksmplateb "$PAIRS"
B=$LATE_PIDS
fb=$(scans)
want=$(( PAIRS * 256 * 95 / 100 ))
late_twins_merge "$BOUND" $B
merged=$LATE_MERGED; at=$(scans)
note "B: $merged of $((PAIRS * 256)) pages merged, $((at - fb)) full scans after the last B was enrolled ($((at - fb0)) after the first); ksmd $(( $(ksmd_ticks) - t0 )) ticks since the first"
[ "$merged" -ge "$want" ] ||
	fail "late duplicates: B merged $merged of $((PAIRS * 256)) pages (want >= $want) in $((at - fb)) full scans after its enrollment"
grep -q "governor: smart_scan off until full scan [0-9]*: enrolled ksmplatea" "$DLOG" ||
	fail "no smart_scan window logged for A"
grep -q "governor: smart_scan off until full scan [0-9]*: enrolled ksmplateb" "$DLOG" ||
	fail "no smart_scan window logged for B"
set -- $A; verify_twin "$1"; verify_twin "${B##* }"
window_closes "after B"
[ "$(gov gov_smart_scan)" = on ] || fail "status after the window: '$(gov gov_smart_scan)'"

# --- restored: at unmerge --all and at stop, in the middle of a window --------
# A slow pace keeps the window open long enough to look at it.
fast_conf 100 500 ""
ctl reload > /dev/null || fail "reload failed"
smart_is 1 || fail "smart_scan not 1 after reload"
c=$(start_twin ksmplatec 1 --distinct --seed 99)
wait_until 20 is_enrolled "$c" || fail "C not enrolled"
wait_until 20 smart_is 0 || fail "smart_scan not off after C's enrollment"
why=$(gov gov_smart_scan)
note "status in C's window: $why"
echo "$why" | grep -q "^off until full scan [0-9]*: enrolled ksmplatec\[$c\]" ||
	fail "status --json does not say why smart_scan is off: '$why'"
[ "$(gov smart_scan)" = 0 ] || fail "status --json smart_scan: '$(gov smart_scan)'"
ctl status | grep -q "^smart_scan: *off until full scan .*(now 0)" || fail "text status: $(ctl status | head -12)"
ctl metrics | grep -qx "ksmplus_governor_smart_scan_window 1" ||
	fail "metrics in C's window: $(ctl metrics | grep smart_scan_window)"
ctl unmerge --all > /dev/null || fail "unmerge --all failed"
smart_is 1 || fail "unmerge --all left smart_scan $(cat "$KSM/smart_scan")"
ctl metrics | grep -qx "ksmplus_governor_smart_scan_window 0" ||
	fail "metrics after unmerge --all: $(ctl metrics | grep smart_scan_window)"
ctl resume > /dev/null || fail "resume failed"
wait_until 20 smart_is 0 || fail "smart_scan not off after resume enrolled the apps again"
stop_daemon || fail "daemon exited non-zero"
smart_is 1 || fail "stopped in a window: smart_scan left $(cat "$KSM/smart_scan")"

# --- pinned: smart_scan set in [ksmd] is the admin's --------------------------
fast_conf 1000 20 "smart_scan = 1"
start_daemon
c=$(start_twin ksmplatec 1 --distinct --seed 98)
wait_until 20 is_enrolled "$c" || fail "C not enrolled"
f=$(scans)
wait_scans $((f + 3))
smart_is 1 || fail "smart_scan set in [ksmd] was turned off"
echo "$(gov gov_smart_scan)" | grep -q "^pinned" || fail "status does not say pinned: '$(gov gov_smart_scan)'"
stop_daemon || fail "daemon exited non-zero"
smart_is 1 || fail "smart_scan not 1 at the end"
exit 0
