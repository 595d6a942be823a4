#!/bin/sh
# tests/bench/run.sh — the benchmark table (make bench). Needs root.
#   BUILD            build dir (build)
#   BENCH_SECONDS    measuring window (60)
#   BENCH_IDLE       idle non-matching processes (2000)
#   BENCH_RATE       short-lived processes per second (200)
#   BENCH_FALLBACK=1 also measure ksmplusd without the proc connector
#   BENCH_ONLY       space-separated subset of: overhead enroll governor census analyze
#                    (governor: ksmd pace policies, ~20 min; tests/bench/governor.sh;
#                    census: policy = whole vs census, ~5 min; tests/bench/census.sh;
#                    analyze: the census's forecast error and throughput, ~3 min,
#                    tests/bench/analyze.sh, BENCH_ANALYZE_MIB sizes its big pair)
# Every process started here is killed on exit; KSM sysfs knobs are put back
# as found.
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${BUILD:-build}
SECONDS_=${BENCH_SECONDS:-60}
IDLE=${BENCH_IDLE:-2000}
RATE=${BENCH_RATE:-200}
ONLY=${BENCH_ONLY:-overhead enroll governor census analyze}
KSM=/sys/kernel/mm/ksm
HZ=$(getconf CLK_TCK)
W=$(mktemp -d /tmp/ksmplus-bench-run.XXXXXX)
STARTED=""      # pids of what this script started, killed by cleanup

# ---- bookkeeping ----

started() { STARTED="$STARTED $1"; }

stop_pid() {    # stop_pid PID: TERM, then KILL after 5 s
	[ -n "$1" ] || return 0
	kill "$1" 2>/dev/null || return 0
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

ksm_save() {    # the writable knobs, as name=value lines
	: > "$W/ksm.saved"
	cat "$KSM/pages_sharing" > "$W/sharing0" 2>/dev/null
	[ -d "$KSM" ] || return 0
	for f in "$KSM"/*; do
		# root passes -w on read-only files: look at the mode instead
		[ -n "$(find "$f" -maxdepth 0 -type f -perm -u+w 2>/dev/null)" ] || continue
		printf '%s=%s\n' "$(basename "$f")" "$(cat "$f" 2>/dev/null)" >> "$W/ksm.saved"
	done
}

ksm_restore() { # only what changed; run last (it may start/stop ksmd)
	[ -s "$W/ksm.saved" ] || return 0
	grep -v '^run=' "$W/ksm.saved" | while IFS='=' read -r k v; do
		[ "$(cat "$KSM/$k" 2>/dev/null)" = "$v" ] || { echo "$v" > "$KSM/$k"; } 2>/dev/null || true
	done
	v=$(sed -n 's/^run=//p' "$W/ksm.saved")
	[ -z "$v" ] || [ "$(cat "$KSM/run")" = "$v" ] || { echo "$v" > "$KSM/run"; } 2>/dev/null || true
}

# ksmd frees the rmap_items of exited processes only when it runs: let it run
# until the pages our dead workloads merged are gone from the counters.
ksm_settle() {
	s0=$(cat "$W/sharing0" 2>/dev/null)
	[ -n "$s0" ] || return 0
	echo 1 > "$KSM/run" 2>/dev/null || return 0
	i=0
	while [ "$(cat "$KSM/pages_sharing")" -gt "$s0" ] && [ $i -lt 150 ]; do
		sleep 0.1; i=$((i + 1))
	done
}

cleanup() {
	for p in $STARTED; do stop_pid "$p"; done
	ksm_settle
	ksm_restore
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- measuring ----

cpu_ticks() {   # utime + stime of PID, in clock ticks
	sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

hwm_kib() {     # peak RSS of PID
	awk '$1 == "VmHWM:" { print $2 }' "/proc/$1/status"
}

rss_kib() {
	awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"
}

# start_ksmplusd NAME [ENV=VAL...] — on a private socket, matching nothing;
# sets DPID once it says ready.
start_ksmplusd() {
	name=$1; shift
	printf '[apps]\napp = ksmpb-nomatch-zz\n' > "$W/$name.conf"
	env "$@" "$BUILD/ksmplusd" --config "$W/$name.conf" --socket "$W/$name.sock" \
		> "$W/$name.log" 2>&1 &
	DPID=$!
	started $DPID
	i=0
	until grep -q ready "$W/$name.log" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 600 ] || ! kill -0 $DPID 2>/dev/null; then
			echo "bench: ksmplusd ($name) did not start:" >&2
			cat "$W/$name.log" >&2
			return 1
		fi
		sleep 0.05
	done
}

# measure_window LABEL=PID... — CPU over BENCH_SECONDS while churn runs;
# writes "LABEL cpu_seconds cpu_percent hwm_kib rss_kib" lines to $W/rows
measure_window() {
	for lp in "$@"; do
		echo "${lp#*=} $(cpu_ticks "${lp#*=}")" >> "$W/t0"
	done
	"$BUILD/bench/churn" "$RATE" "$SECONDS_" > "$W/churn.out" 2>&1 &
	cp=$!
	started $cp
	t0=$(date +%s.%N)
	wait $cp
	t1=$(date +%s.%N)
	for lp in "$@"; do
		label=${lp%%=*}; pid=${lp#*=}
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "$label died - - -" >> "$W/rows"
			continue
		fi
		a=$(awk -v p="$pid" '$1 == p { print $2 }' "$W/t0")
		b=$(cpu_ticks "$pid")
		awk -v a="$a" -v b="$b" -v hz="$HZ" -v t0="$t0" -v t1="$t1" -v l="$label" \
		    -v hwm="$(hwm_kib "$pid")" -v rss="$(rss_kib "$pid")" \
		    'BEGIN { s = (b - a) / hz; printf "%s %.2f %.2f %s %s\n", l, s, 100 * s / (t1 - t0), hwm, rss }' \
		    >> "$W/rows"
	done
	: > "$W/t0"
	echo "$t0 $t1" > "$W/window"
}

# ---- benchmarks ----

bench_overhead() {
	: > "$W/rows"; : > "$W/t0"
	"$BUILD/bench/idle_procs" "$IDLE" > "$W/idle.out" 2>&1 &
	ip=$!
	started $ip
	i=0
	until grep -q ready "$W/idle.out" 2>/dev/null; do
		i=$((i + 1)); [ $i -gt 1200 ] && { echo "bench: idle_procs did not start" >&2; return 1; }
		sleep 0.05
	done

	start_ksmplusd conn || return 1
	d=$DPID
	"$BUILD/bench/poll_baseline" 1000 > "$W/poll.out" 2>&1 &
	bp=$!
	started $bp
	sleep 2         # past start-up: the first sweep is not the steady state
	measure_window "ksmplusd (proc connector)=$d" "poll_baseline (libproc2, 1 s)=$bp"
	stop_pid "$bp"
	stop_pid "$d"
	connector=yes
	grep -q 'connector unavailable' "$W/conn.log" && connector="NO (fell back to sweeps)"

	if [ "${BENCH_FALLBACK:-0}" = 1 ]; then
		start_ksmplusd fallback KSMPLUS_NO_CONNECTOR=1 || return 1
		d=$DPID
		sleep 2
		measure_window "ksmplusd (no connector, sweeps)=$d"
		stop_pid "$d"
	fi
	stop_pid "$ip"

	procs=$(sed -n 's/.*processes_last \([0-9]*\).*/\1/p' "$W/poll.out")
	read -r w0 w1 < "$W/window"
	achieved=$(awk -v s="$(sed -n 's/spawned \([0-9]*\).*/\1/p' "$W/churn.out")" \
		       -v t0="$w0" -v t1="$w1" 'BEGIN { printf "%.0f", s / (t1 - t0) }')
	echo "daemon overhead: $IDLE idle processes ($procs in all), churn $RATE/s asked," \
	     "$achieved/s achieved, ${SECONDS_} s window; connector: $connector"
	printf '%-40s %10s %8s %12s %12s\n' "" "CPU s" "CPU %" "VmHWM KiB" "VmRSS KiB"
	while read -r line; do
		label=${line% * * * *}
		# shellcheck disable=SC2086 # four numbers, split on purpose
		set -- ${line#"$label" }
		printf '%-40s %10s %8s %12s %12s\n' "  $label" "$1" "$2" "$3" "$4"
	done < "$W/rows"
}

bench_enroll() {        # the lead's exec->enrolled latency and twins benchmarks
	[ -f "$here/enroll.sh" ] || return 0
	BUILD=$BUILD sh "$here/enroll.sh"
}

bench_governor() {      # ksmd pace policies side by side
	BUILD=$BUILD sh "$here/governor.sh"
}

bench_census() {        # policy = whole vs census (issue 11)
	BUILD=$BUILD sh "$here/census.sh"
}

bench_analyze() {       # ksmplusctl analyze: forecast error, census throughput
	BUILD=$BUILD sh "$here/analyze.sh"
}

# ---- main ----

[ "$(id -u)" = 0 ] || { echo "bench: needs root (proc connector, KSM sysfs)" >&2; exit 1; }
for p in ksmplusd bench/idle_procs bench/churn bench/poll_baseline; do
	[ -x "$BUILD/$p" ] || { echo "bench: $BUILD/$p missing (make bench builds it)" >&2; exit 1; }
done
ksm_save
echo "ksmplus benchmarks, $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
for b in $ONLY; do
	echo
	"bench_$b"
done
