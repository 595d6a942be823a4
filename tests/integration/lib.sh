# lib.sh — shared by the integration tests (sourced). Every test gets a
# private temp dir, config and control socket; on exit everything it started
# is killed and every KSM knob is put back as found.
set -u
KSM=/sys/kernel/mm/ksm
TMP=$(mktemp -d /tmp/ksmplus-test.XXXXXX)
CONF=$TMP/ksmplusd.conf
SOCK=$TMP/ksmplusd.sock
DLOG=$TMP/ksmplusd.log
DAEMON_PID=""
KNOBS_SAVED=""

# KSMPLUS_KEEP_LOGS=DIR keeps the whole daemon log of a failed test there.
fail() {
	echo "FAIL: $*" >&2
	[ -f "$DLOG" ] || exit 1
	echo "--- daemon log:" >&2
	tail -n 40 "$DLOG" >&2
	[ -n "${KSMPLUS_KEEP_LOGS:-}" ] && mkdir -p "$KSMPLUS_KEEP_LOGS" &&
		cp "$DLOG" "$KSMPLUS_KEEP_LOGS/$(basename "$0" .sh).$$.log"
	exit 1
}
skip() { echo "SKIP: $*" >&2; exit 77; }
note() { echo "   $*"; }

need_root() { [ "$(id -u)" = 0 ] || skip "needs root (KSM knobs, ptrace)"; }
need_ksm()  { [ -w "$KSM/run" ] || skip "needs a kernel with KSM ($KSM/run not writable)"; }

# Saves every writable knob once; restored by cleanup.
ksm_save() {
	[ -n "$KNOBS_SAVED" ] && return
	: > "$TMP/knobs"
	for k in run pages_to_scan sleep_millisecs smart_scan advisor_mode use_zero_pages \
		 advisor_max_cpu advisor_target_scan_time \
		 max_page_sharing merge_across_nodes; do
		[ -r "$KSM/$k" ] || continue
		v=$(sed 's/.*\[\(.*\)\].*/\1/' "$KSM/$k")
		echo "$k $v" >> "$TMP/knobs"
	done
	SHARING0=$(cat "$KSM/pages_sharing")
	KNOBS_SAVED=1
}
# ksmd frees the rmap_items of exited processes only when it runs: let it run
# until the merged pages of our dead workloads are gone from the counters.
ksm_settle() {
	[ -n "$KNOBS_SAVED" ] || return 0
	echo 1 > "$KSM/run" 2>/dev/null || return 0
	wait_until 15 sh -c "[ \$(cat $KSM/pages_sharing) -le $SHARING0 ]" ||
		echo "note: pages_sharing $(cat "$KSM/pages_sharing") > $SHARING0 at exit" >&2
}
ksm_restore() {
	[ -n "$KNOBS_SAVED" ] || return 0
	# advisor first: pages_to_scan is refused while the advisor runs
	grep '^advisor_mode ' "$TMP/knobs" | while read -r k v; do echo "$v" > "$KSM/$k" 2>/dev/null; done
	grep -v '^advisor_mode ' "$TMP/knobs" | while read -r k v; do
		[ "$(sed 's/.*\[\(.*\)\].*/\1/' "$KSM/$k")" = "$v" ] || echo "$v" > "$KSM/$k" 2>/dev/null
	done
}
ksm_set() { ksm_save; echo "$2" > "$KSM/$1"; }

# A file, not a variable: start_twin runs in $(...) subshells.
track() { echo "$*" >> "$TMP/pids"; }

cleanup() {
	[ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
	pids=$(cat "$TMP/pids" 2>/dev/null)
	# SIGCONT too: a workload a failed test left stopped would keep its
	# SIGTERM pending, and this wait would never end
	for p in $pids; do kill "$p" 2>/dev/null; kill -CONT "$p" 2>/dev/null; done
	for p in $pids; do while kill -0 "$p" 2>/dev/null; do sleep 0.05; done; done
	# a test's own leftovers (cgroups, ...): it defines test_cleanup
	command -v test_cleanup > /dev/null 2>&1 && test_cleanup
	ksm_settle
	ksm_restore
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# wait_until SECONDS CMD... — polls every 0.1 s
wait_until() {
	t=$1; shift
	end=$(( $(date +%s) + t ))
	while ! "$@"; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.1
	done
}

# --- waits that count events, not seconds ----------------------------------
# How long a census or ksmd's merging takes depends on the machine's load: a
# census paces itself (its CPU budget: 33 s for 400 MiB seen under CI's load)
# and ksmd's full scans slow down. So these waits end at the event, and give
# up only once enough censuses (counted in the daemon's log) and full scans
# have passed for it; WAIT_NET seconds is the safety net for a hung daemon or
# ksmd, never the bound on the event.
WAIT_NET=600

# logged PATTERN — PATTERN (grep's) is in the daemon's log
logged() { grep -q "$1" "$DLOG"; }
# censuses APP — APP's censuses ended so far: each logs its summary ("census
# of app APP: N processes, ...") or its failure ("census of app APP failed").
censuses() { grep -c "census of app $1[: ]" "$DLOG"; }
# census_running APP — 1 if a census of APP is running now (or status does
# not say: a wait then counts one census more), else 0
census_running() { ctl status --json 2>/dev/null | python3 -c '
import json, sys
try:
    a = [a for a in json.load(sys.stdin)["apps"] if a["name"] == sys.argv[1]]
    print(int(a[0].get("census_running", 0)) if a else 0)
except Exception:
    print(1)' "$1"; }

# events_within APP CENSUSES SCANS CMD... — waits until CMD succeeds. Gives
# up (CMD's status after a last try) once CENSUSES censuses of APP that
# started after the call have ended (a census running at the call may have
# read the memory before the event: it does not count) and ksmd has made
# SCANS full scans since. APP "": no census to wait for. Says what it counted.
events_within() {
	ew_app=$1; ew_n=$2; ew_s=$3; shift 3
	ew_t0=$(date +%s); ew_f0=$(cat "$KSM/full_scans"); ew_f=""; ew_c0=0; ew_want=0
	# for the note: censuses ended since the call (status may be slow)
	ew_cn=$( [ -z "$ew_app" ] || censuses "$ew_app")
	if [ -n "$ew_app" ]; then
		# running first, then the log: a census ending in between is
		# counted twice (a longer wait), never once too few
		ew_want=$(census_running "$ew_app")
		ew_c0=$(censuses "$ew_app")
		ew_want=$((ew_want + ew_c0 + ew_n))
	fi
	ew_why=event ew_rc=0
	# ew_at: full scans when the try that succeeds began (a slow CMD on a
	# loaded machine may end a few scans later)
	while ew_at=$(cat "$KSM/full_scans"); ! "$@"; do
		[ -z "$ew_f" ] && [ "$( [ -z "$ew_app" ] && echo 0 || censuses "$ew_app")" -ge "$ew_want" ] &&
			ew_f=$(( $(cat "$KSM/full_scans") + ew_s ))
		if [ -n "$ew_f" ] && [ "$(cat "$KSM/full_scans")" -ge "$ew_f" ]; then
			ew_why="gave up"
		elif [ $(( $(date +%s) - ew_t0 )) -ge "$WAIT_NET" ]; then
			ew_why="gave up at the safety net ($WAIT_NET s)"
		else
			sleep 0.1
			continue
		fi
		"$@" && ew_why="event at the last try"
		ew_rc=$?
		break
	done
	note "wait ($*): $ew_why after $(( $(date +%s) - ew_t0 )) s,${ew_app:+ $(( $(censuses "$ew_app") - ew_cn )) censuses of $ew_app ended,} $((ew_at - ew_f0)) full scans"
	return $ew_rc
}
# census_within APP N CMD... — CMD succeeds within the first N censuses of
# APP that start after the call (a census may be running when the event
# comes: then it is the next one that sees it).
census_within() { cw_app=$1; cw_n=$2; shift 2; events_within "$cw_app" "$cw_n" 0 "$@"; }
# scans_within N CMD... — CMD succeeds within N full scans of ksmd
scans_within() { sw_n=$1; shift; events_within "" 0 "$sw_n" "$@"; }

# --- late duplicates: 68-late-duplicate, 69-fixed-late-duplicate -----------
SCAN_TIMEOUT=300        # wall-clock limit for ksmd to make a scan, not a race
scans() { cat "$KSM/full_scans"; }
# wait_scans N — until full_scans reaches N
wait_scans() {
	wait_until $SCAN_TIMEOUT sh -c "[ \$(cat $KSM/full_scans) -ge $1 ]" ||
		fail "ksmd made no full scan $1 in $SCAN_TIMEOUT s (at $(scans))"
}
is_enrolled() { grep -q "ksm_merge_any: yes\|ksm_mergeable: yes" "/proc/$1/ksm_stat"; }
smart_is() { [ "$(cat "$KSM/smart_scan")" = "$1" ]; }
# late_twins LABEL NAME PAIRS [window] — PAIRS twins named NAME of 1 MiB of
# distinct pages, seeds 1..PAIRS (another NAME's twins of the same seeds hold
# the same contents), each enrolled one full scan after the last (as a
# census advises them); their PIDs in LATE_PIDS. window: the first one's
# enrollment must turn smart_scan off.
late_twins() {
	LATE_PIDS=""
	for lt_i in $(seq 1 "$3"); do
		lt_p=$(start_twin "$2" 1 --distinct --seed "$lt_i")
		LATE_PIDS="$LATE_PIDS $lt_p"
		wait_until 20 is_enrolled "$lt_p" || fail "$1 $lt_p not enrolled"
		if [ "$lt_i" = 1 ] && [ "${4:-}" = window ]; then
			wait_until 20 smart_is 0 || fail "smart_scan not off after $1's enrollment"
		fi
		wait_scans $(( $(scans) + 1 ))
	done
}
# late_twins_merge BOUND PIDS... — waits until the late twins PIDS (1 MiB
# each) merge >= 95 % of their pages, or ksmd made BOUND full scans since the
# call (after the last one's enrollment); LATE_MERGED: their merged pages.
late_twins_merge() {
	lm_bound=$1; shift
	LATE_WANT=$(( $# * 256 * 95 / 100 ))
	scans_within "$lm_bound" late_merged "$@"
	LATE_MERGED=$(sum_field ksm_merging_pages "$@")
	[ "$LATE_MERGED" -ge "$LATE_WANT" ]
}
# late_merged PIDS... — they merge LATE_WANT pages. Read with the shell's
# read, not an awk per process: a poll of 18 processes must take less than
# a full scan, or the count of scans overshoots on a loaded machine.
late_merged() {
	lm_sum=0
	for lm_p in "$@"; do
		while read -r lm_k lm_v; do
			[ "${lm_k%:}" = ksm_merging_pages ] && lm_sum=$((lm_sum + lm_v))
		done 2>/dev/null < "/proc/$lm_p/ksm_stat"
	done
	[ "$lm_sum" -ge "$LATE_WANT" ]
}

# write_conf LINE... — the daemon's config, as given. (A test that fixes
# ksmd's pace gets governor = fixed, which turns smart_scan off after each
# enrollment like the others: 69-fixed-late-duplicate.)
write_conf() {
	printf '%s\n' "$@" > "$CONF"
}

start_daemon() {
	# its own state directory: a test's forecasts never reach /var/lib
	"$BUILD/ksmplusd" --config "$CONF" --socket "$SOCK" --state-dir "$TMP/state" "$@" > "$DLOG" 2>&1 &
	DAEMON_PID=$!
	wait_until 20 test -S "$SOCK" || fail "daemon did not create $SOCK"
	wait_until 20 grep -q "ready" "$DLOG" || fail "daemon not ready"
}
stop_daemon() {
	[ -n "$DAEMON_PID" ] || return 0
	kill "$DAEMON_PID"; wait "$DAEMON_PID"; rc=$?
	DAEMON_PID=""
	return $rc
}
ctl() { "$BUILD/ksmplusctl" --socket "$SOCK" "$@"; }

# check_undone OUT N [PID...] — ksmplusctl's line after remove --unmerge or
# unmerge --all accounts for all N processes: unmerged, or going on in the
# background (the command's time ran out: legitimate on a loaded machine);
# and of PIDs, no more are still enrolled than the line says go on (one it
# calls unmerged is undone already: nothing enrolls it again meanwhile).
check_undone() {
	# cu_*: sh has no locals, and the tests use out, n, p...
	cu_out=$1; cu_n=$2; shift 2
	cu_u=$(printf '%s\n' "$cu_out" | sed -n 's/^unmerged \([0-9][0-9]*\) process.*/\1/p
		s/.*: removed; \([0-9][0-9]*\) process.*/\1/p')
	cu_p=$(printf '%s\n' "$cu_out" |
		sed -n 's/.*, \([0-9][0-9]*\) continues\{0,1\} in the background.*/\1/p')
	{ [ -n "$cu_u" ] && [ $((cu_u + ${cu_p:-0})) = "$cu_n" ]; } ||
		fail "not $cu_n processes unmerged or going on: $cu_out"
	cu_left=0
	for cu_pid in "$@"; do
		grep -qs "ksm_merge_any: yes\|ksm_mergeable: yes" "/proc/$cu_pid/ksm_stat" &&
			cu_left=$((cu_left + 1))
	done
	[ "$cu_left" -le "${cu_p:-0}" ] || fail "$cu_left still enrolled, but the reply says: $cu_out"
	[ -z "$cu_p" ] || note "$cu_p of $cu_n undone in the background: $cu_out"
}

ksm_field() { awk -v k="$2" '$1 == k || $1 == k":" { print $2 }' "/proc/$1/ksm_stat" 2>/dev/null; }
merging() { v=$(ksm_field "$1" ksm_merging_pages); echo "${v:-0}"; }

# sum_field KEY PIDS — KEY of /proc/PID/ksm_stat summed over PIDS: what
# they merged, their rmap_items... read per process, as other KSM users on
# the machine (a QEMU guest is merge-any) move the global counters.
sum_field() { k=$1; shift; n=0; for p in "$@"; do n=$(( n + $(ksm_field "$p" "$k" || echo 0) )); done; echo $n; }
# settle PIDS — waits until their merged pages hold still over two full
# ksmd scans and are not 0: merging is finished. 1 after 120 s.
settle() {
	end=$(( $(date +%s) + 120 ))
	prev=-1
	while :; do
		f=$(cat $KSM/full_scans)
		s=$(sum_field ksm_merging_pages "$@")
		[ "$s" = "$prev" ] && [ "$s" -gt 0 ] && return 0
		prev=$s
		wait_until 60 sh -c "[ \$(cat $KSM/full_scans) -ge $((f + 2)) ]" || return 1
		[ "$(date +%s)" -lt "$end" ] || return 1
	done
}

# start_twin NAME MIB — a copy of the twin workload named NAME (so comm and
# exe basename are NAME); prints its PID; waits until it has filled memory.
start_twin() {
	name=$1; mib=$2; shift 2
	[ -x "$TMP/$name" ] || cp "$BUILD/tests/twin" "$TMP/$name"
	st=$(mktemp "$TMP/st.XXXXXX")
	"$TMP/$name" --mib "$mib" --status "$st" "$@" > /dev/null 2>&1 &
	pid=$!
	track "$pid"
	wait_until 20 grep -q ready "$st" || fail "$name did not start"
	ln -s "$st" "$TMP/twin.$pid.st"
	echo "$pid"
}
# verify_twin PID — asks the workload to check its memory; fails if it changed.
verify_twin() {
	: > "$TMP/twin.$1.st"
	kill -USR1 "$1"
	wait_until 20 grep -q verify "$TMP/twin.$1.st" || fail "twin $1 did not answer"
	grep -q "verify ok" "$TMP/twin.$1.st" || fail "twin $1 memory changed: $(cat "$TMP/twin.$1.st")"
}

# --- figures for the reliability scenarios (tests/reliability) ---
daemon_fds() { ls "/proc/$DAEMON_PID/fd" 2>/dev/null | wc -l; }
daemon_rss_kib() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$DAEMON_PID/status" 2>/dev/null; }
STATUS_WORST_MS=0 STATUS_BEST_MS=0
# status_probe — fails unless status is answered within 1 s. A loop blocked
# by a target (a frozen process, an injection without a deadline) is blocked
# for every request, for seconds; a busy machine slows one request now and
# then. So: up to three requests, and one of them must be answered in time.
# The best of the three is kept for figures (the worst too). PROBE_CTL: the
# client that asks (the runner passes the plain build: what is measured is
# the daemon under attack, not an ASan client's leak scan of a 1,000-process
# reply, which alone takes ~0.2 s of CPU).
status_probe() {
	best=""
	for _ in 1 2 3; do
		s0=$(date +%s%N)
		"${PROBE_CTL:-$BUILD/ksmplusctl}" --socket "$SOCK" status > /dev/null 2>&1 ||
			fail "status refused while under attack"
		ms=$(( ($(date +%s%N) - s0) / 1000000 ))
		[ "$ms" -gt "$STATUS_WORST_MS" ] && STATUS_WORST_MS=$ms
		[ -z "$best" ] || [ "$ms" -lt "$best" ] && best=$ms
		[ "$ms" -le 1000 ] && break
	done
	[ "$best" -gt "$STATUS_BEST_MS" ] && STATUS_BEST_MS=$best
	[ "$best" -le 1000 ] || fail "status took $best ms or more, three times running (limit 1000)"
}
# gov_field KEY — the governor's KEY in status's global record ("" if none).
gov_field() { ctl status --json | python3 -c '
import json, sys
print(json.load(sys.stdin)["global"].get(sys.argv[1], ""))' "$1"; }
# need_governor POLICY — the scenario covers the governor, by default: fails
# if a later default change (or the config) turned it off.
need_governor() {
	g=$(gov_field governor)
	[ "$g" = "$1" ] || fail "governor is '$g', not $1: this scenario must run with it"
}
# figures — one line the reliability runner collects.
figures() {
	kill -0 "$DAEMON_PID" 2>/dev/null || fail "daemon died"
	echo "   figures: fds=$(daemon_fds) rss_kib=$(daemon_rss_kib) status_ms(best-of-3,worst)=$STATUS_BEST_MS,$STATUS_WORST_MS $*"
}
