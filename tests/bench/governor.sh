#!/bin/sh
# tests/bench/governor.sh — ksmd's pace policies side by side (issue 10):
# the same workloads under each policy, one after the other, in one run.
#   phase A  an app of 3 processes is enrolled: two 64 MiB twins (pages
#            distinct within a process, identical across the two) and a
#            400 MiB process with no duplicates at all;
#   phase B  a new pair of 32 MiB twins of the same app arrives;
#   idle     nothing changes: ksmd's CPU over a window once things settled.
# Per policy: seconds and ksmd CPU-seconds from the start of each phase to
# 90 % of what it can save (pages_sharing), ksmd CPU % while idle, MiB saved
# at the end (general_profit).  Policies:
#   governor    [ksmd] governor = pressure (ksmplusd's own)
#   defaults    fixed, kernel defaults (100 pages / 20 ms)
#   fixed-1000  fixed, 1,000 pages / 20 ms
#   advisor     the kernel's advisor_mode = scan-time, its defaults
#   ksmtuned    fixed, plus ksmtuned's rule every 60 s (free < 20 % of RAM:
#               +300 pages, else -50, 64..1,250; ksmd stopped while the
#               enrolled memory plus that 20 % fits in RAM and free > 20 %)
# Env: BUILD (build), BENCH_GOV_POLICIES (all of the above), BENCH_GOV_CAP
# (seconds a phase may take, 150), BENCH_GOV_IDLE (idle window, 60 s, after
# BENCH_GOV_IDLE_WAIT 45 s).  Takes the test lock: nothing else merges
# meanwhile.  KSM knobs are put back as found.
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${BUILD:-build}
KSM=/sys/kernel/mm/ksm
POLICIES=${BENCH_GOV_POLICIES:-governor defaults fixed-1000 advisor ksmtuned}
CAP=${BENCH_GOV_CAP:-150}
IDLE=${BENCH_GOV_IDLE:-60}
IDLE_WAIT=${BENCH_GOV_IDLE_WAIT:-45}
T=$(mktemp -d /tmp/ksmplus-bench-gov.XXXXXX)
DPID="" TUNED=""
A_PAGES=16384   # 64 MiB of pages shared by the second twin of pair A
B_PAGES=8192    # 32 MiB, pair B

if [ -z "${KSMPLUS_TEST_LOCKED:-}" ]; then
	KSMPLUS_TEST_LOCKED=1 exec flock -o /var/lock/ksmplus-tests.lock "$0" "$@"
fi

SHARING0=$(cat "$KSM/pages_sharing")
saved_knobs=""
for k in run pages_to_scan sleep_millisecs advisor_mode; do
	[ -r "$KSM/$k" ] && saved_knobs="$saved_knobs $k=$(cat "$KSM/$k")"
done
knob() { [ "$(cat "$KSM/$1")" = "$2" ] || echo "$2" > "$KSM/$1"; }
restore_knobs() {
	for kv in $saved_knobs; do
		k=${kv%%=*}
		v=$(printf '%s' "${kv#*=}" | sed 's/.*\[\(.*\)\].*/\1/')     # advisor_mode: "[none] scan-time"
		[ "$k" = run ] && continue
		knob "$k" "$v" 2>/dev/null
	done
	v=${saved_knobs#*run=}; knob run "${v%% *}" 2>/dev/null
}
cleanup() {
	[ -n "$TUNED" ] && kill "$TUNED" 2>/dev/null
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	[ -f "$T/pids" ] && kill $(cat "$T/pids") 2>/dev/null
	# ksmd drops the dead workloads' rmap_items and stable pages only as
	# it scans: leave the counters as found.
	[ -n "${KSMD:-}" ] && drain
	restore_knobs
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

now() { date +%s.%N; }
# ksmd's CPU time in seconds, to the nanosecond (stat's ticks are too coarse
# for an idle window)
ksmd_cpu() { awk '{ printf "%.6f\n", $1 / 1e9 }' "/proc/$KSMD/schedstat"; }
elapsed() { echo "$(now) - $1" | bc; }

start_w() {     # start_w NAME MIB SEED — one workload of the app
	"$T/ksmpgov" --mib "$2" --seed "$3" --distinct --status "$T/$1" > /dev/null 2>&1 &
	echo $! >> "$T/pids"
}
wait_ready() { for f in "$@"; do until grep -qs ready "$T/$f"; do sleep 0.05; done; done; }

# until pages_sharing >= $1 or CAP seconds; prints "seconds cpu_s" or "- cpu_s"
time_to() {
	t0=$(now); c0=$(ksmd_cpu)
	while [ "$(cat "$KSM/pages_sharing")" -lt "$1" ]; do
		if [ "$(echo "$(elapsed "$t0") > $CAP" | bc)" = 1 ]; then
			echo "- $(echo "$(ksmd_cpu) - $c0" | bc -l)"
			return
		fi
		sleep 0.1
	done
	echo "$(elapsed "$t0") $(echo "$(ksmd_cpu) - $c0" | bc -l)"
}

# ksmtuned's adjust(), every 60 s, with the app's processes as "committed".
ksmtuned_loop() {
	total=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
	thres=$((total * 20 / 100)); [ $thres -lt 2048 ] && thres=2048
	sleep_ms=$((10 * 16 * 1024 * 1024 / total)); [ $sleep_ms -lt 10 ] && sleep_ms=10
	npages=$(cat "$KSM/pages_to_scan")
	while sleep 60; do
		free=$(awk '/^(MemFree|Buffers|Cached):/ { f += $2 } END { print f }' /proc/meminfo)
		committed=0
		for p in $(cat "$T/pids"); do
			committed=$((committed + $(awk '/^VmSize:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)))
		done
		if [ $((committed + thres)) -lt "$total" ] && [ "$free" -gt $thres ]; then
			echo 0 > "$KSM/run"
			continue
		fi
		if [ "$free" -lt $thres ]; then npages=$((npages + 300)); else npages=$((npages - 50)); fi
		[ $npages -gt 1250 ] && npages=1250
		[ $npages -lt 64 ] && npages=64
		echo $npages > "$KSM/pages_to_scan"
		echo $sleep_ms > "$KSM/sleep_millisecs"
		echo 1 > "$KSM/run"
	done
}

# The last policy's processes are gone, but ksmd drops their rmap_items and
# stable pages only as it scans: let it, fast, so that every policy starts
# from the counters found at the start (<= 60 s; others' merged memory, a
# QEMU guest's say, stays counted); then stop it.
drain() {
	knob pages_to_scan 5000; knob sleep_millisecs 10; knob run 1
	i=0
	while [ "$(cat "$KSM/pages_sharing")" -gt "$SHARING0" ] && [ $i -lt 600 ]; do
		sleep 0.1; i=$((i + 1))
	done
	knob run 0
}

policy_conf() {
	printf '[apps]\napp = ksmpgov\n[ksmd]\n'
	case $1 in
	governor) printf 'governor = pressure\n' ;;
	defaults|ksmtuned) printf 'pages_to_scan = 100\nsleep_millisecs = 20\n' ;;
	fixed-1000) printf 'pages_to_scan = 1000\nsleep_millisecs = 20\n' ;;
	advisor) printf 'advisor_mode = scan-time\n' ;;
	esac
}

run_policy() {
	p=$1
	: > "$T/pids"
	drain
	knob pages_to_scan 100; knob sleep_millisecs 20
	[ -w "$KSM/advisor_mode" ] && knob advisor_mode none
	start_w a1 64 1; start_w a2 64 1; start_w big 400 7
	wait_ready a1 a2 big
	base=$(cat "$KSM/pages_sharing")
	gp0=$(cat "$KSM/general_profit")
	policy_conf "$p" > "$T/$p.conf"
	"$BUILD/ksmplusd" --config "$T/$p.conf" --socket "$T/sock" > "$T/$p.log" 2>&1 &
	DPID=$!
	[ "$p" = ksmtuned ] && { ksmtuned_loop & TUNED=$!; }
	# phase A: from the daemon's start, which enrolls the running app
	a=$(time_to $((base + A_PAGES)))
	# phase B: a new pair, enrolled on exec
	start_w b1 32 2; start_w b2 32 2
	wait_ready b1 b2
	b=$(time_to $((base + A_PAGES + B_PAGES * 9 / 10)))
	sleep "$IDLE_WAIT"
	c0=$(ksmd_cpu); t0=$(now)
	sleep "$IDLE"
	idle=$(echo "100 * ($(ksmd_cpu) - $c0) / $(elapsed "$t0")" | bc -l)
	saved=$(echo "($(cat "$KSM/general_profit") - $gp0) / 1048576" | bc -l)
	state=""
	[ "$p" = governor ] && state=$("$BUILD/ksmplusctl" --socket "$T/sock" status --json |
		sed -n 's/.*"gov_state": *"\([a-z]*\)".*/\1/p' | head -n 1)
	[ -n "$TUNED" ] && { kill "$TUNED"; wait "$TUNED" 2>/dev/null; TUNED=""; }
	"$BUILD/ksmplusctl" --socket "$T/sock" remove ksmpgov --runtime --unmerge > /dev/null
	kill "$DPID"; wait "$DPID" 2>/dev/null; DPID=""
	kill $(cat "$T/pids") 2>/dev/null
	for w in $(cat "$T/pids"); do while kill -0 "$w" 2>/dev/null; do sleep 0.05; done; done
	: > "$T/pids"
	echo "$p $a $b $idle $saved ${state:--}" >> "$T/rows"
}

[ "$(id -u)" = 0 ] && [ -w "$KSM/run" ] || { echo "bench: needs root and KSM" >&2; exit 1; }
KSMD=$(pgrep -x ksmd | head -n 1)
[ -n "$KSMD" ] || { echo "bench: no ksmd thread" >&2; exit 1; }
cp "$BUILD/tests/twin" "$T/ksmpgov"
: > "$T/rows"
for p in $POLICIES; do
	[ "$p" = advisor ] && [ ! -w "$KSM/advisor_mode" ] && continue
	run_policy "$p"
done

echo "ksmd pace policies: app = 2 x 64 MiB twins + 400 MiB without duplicates, then 2 x 32 MiB"
echo "twins arrive; '-' = not reached in ${CAP} s; idle = ${IDLE} s window, ${IDLE_WAIT} s after phase B"
printf '%-12s %9s %9s %9s %9s %9s %9s %9s %8s\n' policy "A s" "A cpu-s" "A s*cpu" \
	"B s" "B cpu-s" "idle %" "saved MiB" state
while read -r p as ac bs bc idle saved state; do
	prod=-
	[ "$as" != - ] && prod=$(echo "$as * $ac" | bc -l)
	printf '%-12s %9s %9.2f %9s %9s %9.2f %9.3f %9.1f %8s\n' "$p" \
		"$(printf '%s' "$as" | awk '$1 == "-" { print; next } { printf "%.1f", $1 }')" "$ac" \
		"$(printf '%s' "$prod" | awk '$1 == "-" { print; next } { printf "%.1f", $1 }')" \
		"$(printf '%s' "$bs" | awk '$1 == "-" { print; next } { printf "%.1f", $1 }')" "$bc" \
		"$idle" "$saved" "$state"
done < "$T/rows"
awk '$1 == "governor" && $2 != "-" { g = $2 * $3 }
     $1 != "governor" && $2 != "-" { p = $2 * $3; if (best == "" || p < best) { best = p; who = $1 } }
     $1 == "governor" { gi = $6 }
     $1 == "defaults" { di = $6 }
     END {
	if (g > 0 && best != "")
		printf "phase A time x CPU: governor %.1f, best other (%s) %.1f: %.1fx (goal >= 2x)\n", g, who, best, best / g
	if (gi != "")
		printf "idle ksmd CPU: governor %.3f %%, kernel defaults %.3f %% (goal <= 0.1 %%)\n", gi, di
     }' "$T/rows"
