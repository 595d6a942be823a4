# Late memory under policy = census (the default): memory a process maps
# after its app's census is merged only from the next census. Growth must
# bring that census, not census_interval_sec (3600 s here, past the waits'
# safety net) later:
#  1) two 100 MiB processes with no duplicates (nothing advised) each map
#     20 MiB more, equal across them: 20 % growth, under the quarter that
#     alone made a census due before (it waited the interval);
#  2) two 40 MiB processes grow in four steps of 2 MiB (a renderer's small
#     steps): each step is under a quarter and under 4 MiB, the app's
#     growth adds up (16 MiB).
# Each grown page must be merged within the two censuses that start after
# the growth and 16 full scans after them (whole-process merge-any: within
# 16 full scans). Counted, not in seconds: a census is rate-limited (5 s, or
# 50 times its CPU) and paces itself, ksmd's scans slow down on a loaded
# machine; the test's seconds are reported, not bounded.
# LATE_TEST_POLICY=whole runs the same on whole-process enrollment.
. "$(dirname "$0")/lib.sh"
need_root
need_ksm
ksm_save
ksm_set use_zero_pages 0
POLICY=${LATE_TEST_POLICY:-}
write_conf "[ksmplusd]" ${POLICY:+"policy = $POLICY"} "rescan_interval_sec = 1" \
	"census_interval_sec = 3600" "drop_unprofitable = no" \
	"[apps]" "app = ksmplate" "[ksmd]" "pages_to_scan = 5000" "sleep_millisecs = 10"
# The processes are filled before they are enrolled (here: before the
# daemon starts, and added with ksmplusctl): a census of a process still
# filling would see growth that is not the late memory measured.
a=$(start_twin ksmplate 100 --distinct --seed 1 --grow-mib 20 --grow-seed 7)
b=$(start_twin ksmplate 100 --distinct --seed 2 --grow-mib 20 --grow-seed 7)
start_daemon
policy=$(ctl status --json | python3 -c '
import json, sys
print(next(a for a in json.load(sys.stdin)["apps"] if a["name"] == "ksmplate").get("policy", "whole"))')
[ "$policy" = "${POLICY:-census}" ] || fail "policy $policy, want ${POLICY:-census}"

# first_census APP — under census, waits for its census of both processes
first_census() {
	[ "$policy" = census ] || return 0
	census_within "$1" 2 logged "census of app $1: 2 processes" || fail "no census of $1"
	# its plan is applied in the turn of the loop that logged it: once
	# the loop answers, what merges later is the late memory
	ctl status > /dev/null || fail "status failed"
}
# merged_within APP CMD... — CMD succeeds within the two censuses of APP
# that start after the call (under census) and 16 full scans after them
merged_within() {
	if [ "$policy" = census ]; then mw_app=$1; else mw_app=""; fi
	shift
	events_within "$mw_app" 2 16 "$@"
}
# grow_merged PAGES PIDS — each of PIDS merges at least 95 % of PAGES
grow_merged() { n=$1; shift; for p in "$@"; do [ "$(merging "$p")" -ge $((n * 95 / 100)) ] || return 1; done; }

# 1) 20 MiB late, 20 % of the process
first_census ksmplate
m0=$(( $(merging "$a") + $(merging "$b") ))
start=$(date +%s)
for p in $a $b; do kill -USR2 "$p"; done
for p in $a $b; do wait_until 30 grep -q grown "$TMP/twin.$p.st" || fail "$p did not grow"; done
merged_within ksmplate grow_merged $((20 * 256)) $a $b ||
	fail "$policy: 20 MiB mapped late not merged ($(merging "$a") $(merging "$b") pages; before: $m0)"
s1=$(( $(date +%s) - start ))
note "$policy: 20 MiB mapped after the census merged in $s1 s"
for p in $a $b; do verify_twin "$p"; done

# 2) small steps: 4 x 2 MiB each
c=$(start_twin ksmplstep 40 --distinct --seed 3 --grow-mib 2 --grow-seed 8)
d=$(start_twin ksmplstep 40 --distinct --seed 4 --grow-mib 2 --grow-seed 8)
ctl add ksmplstep --runtime > /dev/null || fail "add ksmplstep failed"
first_census ksmplstep
start=$(date +%s)
for step in 1 2 3 4; do
	for p in $c $d; do kill -USR2 "$p"; done
	for p in $c $d; do wait_until 30 grep -q "grown $((step + 1))" "$TMP/twin.$p.st" ||
		fail "$p did not grow (step $step)"; done
done
# What the trigger promises: the app's growth not yet censused stays under
# 8 MiB in all. A census can fall between two steps (the machine's pace
# decides where: seen under load, c censused after 3 steps and d after 4,
# c's last 2 MiB then waits for census_interval_sec), so of the 16 MiB grown
# at least 8 MiB is merged, whatever the interleaving; the old trigger (a
# quarter of the process) merged 3 pages. whole merges it all.
app_merged() { [ $(( $(merging "$c") + $(merging "$d") )) -ge "$1" ]; }
if [ "$policy" = whole ]; then want=$((2 * 4 * 2 * 256 * 95 / 100)); else want=$((2 * 4 * 2 * 256 - 8 * 256)); fi
merged_within ksmplstep app_merged "$want" ||
	fail "$policy: 4 steps of 2 MiB: $(merging "$c") + $(merging "$d") pages merged, want $want"
s2=$(( $(date +%s) - start ))
note "$policy: 4 x 2 MiB grown in steps merged in $s2 s"
for p in $c $d; do verify_twin "$p"; done
censuses=$(grep -c "census of app ksmpl" "$DLOG")
note "$policy: $censuses censuses in all"
stop_daemon || fail "daemon exited non-zero"
exit 0
