#!/bin/sh
# Benchmarks of the user path, printed as table rows (sourced or run by
# tests/bench/run.sh; BUILD = build dir, needs root and KSM).
#  - exec -> enrolled latency: 100 launches of a matching program, ksmplusd
#    with the proc connector beside the same daemon polling /proc every 15 s
#  - twins: seconds from `ksmplusctl add` to 90% merged, MiB saved
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${BUILD:-build}
KSM=/sys/kernel/mm/ksm
T=$(mktemp -d /tmp/ksmplus-bench.XXXXXX)
DPID=""

bench_cleanup() {
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	[ -f "$T/pids" ] && kill $(cat "$T/pids") 2>/dev/null
	rm -rf "$T"
}
trap bench_cleanup EXIT

# start_d CONF [ENV=VAL] — ksmplusd on a private socket; waits for ready
start_d() {
	conf=$1; shift
	env "$@" "$BUILD/ksmplusd" --config "$conf" --socket "$T/sock" > "$T/d.log" 2>&1 &
	DPID=$!
	i=0
	until grep -q ready "$T/d.log" 2>/dev/null; do
		i=$((i + 1)); [ $i -gt 200 ] && { echo "daemon did not start" >&2; cat "$T/d.log" >&2; exit 1; }
		sleep 0.05
	done
}
stop_d() { kill "$DPID"; wait "$DPID" 2>/dev/null; DPID=""; }

bench_exec_latency() {
	cp "$BUILD/tests/twin" "$T/ksmpbench"
	printf '[apps]\napp = ksmpbench\n' > "$T/a.conf"
	start_d "$T/a.conf"
	# one after another: each launch waited for
	set -- $("$BUILD/bench/exec_latency" "$T/ksmpbench" 100 0 5000)
	stop_d
	printf '[ksmplusd]\nsweep_interval_sec = 15\n[apps]\napp = ksmpbench\n' > "$T/b.conf"
	start_d "$T/b.conf" KSMPLUS_NO_CONNECTOR=1
	# the poller needs up to 15 s per launch: launch all 100 within 30 s
	b=$("$BUILD/bench/exec_latency" "$T/ksmpbench" 100 30000 20000)
	stop_d
	set -- "$@" $b
	printf '%-44s %10s %10s %10s %8s\n' "exec -> enrolled (100 launches)" "p50 ms" "p99 ms" "max ms" "missed"
	printf '%-44s %10s %10s %10s %8s\n' "  ksmplusd, proc connector" "$1" "$2" "$3" "$4"
	printf '%-44s %10s %10s %10s %8s\n' "  baseline, /proc poll every 15 s" "$5" "$6" "$7" "$8"
	awk -v a="$2" -v b="$6" 'BEGIN { if (a > 0) printf "  p99 ratio baseline/ksmplusd: %.0fx (target: p99 <= 50 ms)\n", b / a }'
}

merging_sum() {
	s=0
	for p in "$@"; do
		v=$(awk '$1 == "ksm_merging_pages" { print $2 }' "/proc/$p/ksm_stat")
		s=$((s + ${v:-0}))
	done
	echo $s
}

bench_twins() {
	cp "$BUILD/tests/twin" "$T/ksmpbtwin"
	printf '[apps]\n' > "$T/t.conf"       # default ksmd knobs, as a user gets
	start_d "$T/t.conf"
	for i in 1 2; do
		"$T/ksmpbtwin" --mib 20 --status "$T/tw$i" > /dev/null 2>&1 &
		echo $! >> "$T/pids"
	done
	pids=$(cat "$T/pids")
	for i in 1 2; do until grep -q ready "$T/tw$i" 2>/dev/null; do sleep 0.05; done; done
	gp0=$(cat "$KSM/general_profit")
	t0=$(date +%s.%N)
	"$BUILD/ksmplusctl" --socket "$T/sock" add ksmpbtwin --runtime > /dev/null
	# shellcheck disable=SC2086
	while [ "$(merging_sum $pids)" -lt 9216 ]; do      # 90% of 10240 pages
		sleep 0.05
		[ "$(echo "$(date +%s.%N) - $t0 > 120" | bc)" = 1 ] && break
	done
	t1=$(date +%s.%N)
	sleep 1
	# shellcheck disable=SC2086
	m=$(merging_sum $pids)
	gp1=$(cat "$KSM/general_profit")
	profit=$("$BUILD/ksmplusctl" --socket "$T/sock" status --json |
		 python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(a.get("profit_kib",0) for a in d["apps"]))')
	"$BUILD/ksmplusctl" --socket "$T/sock" remove ksmpbtwin --runtime --unmerge > /dev/null
	stop_d
	printf '%-44s %10s %10s %12s %14s\n' "twins (2 x 20 MiB identical), default ksmd" "seconds" "pages" "profit MiB" "ksmd +MiB"
	printf '%-44s %10.1f %10s %12.1f %14.1f\n' "  ksmplusctl add -> 90% merged" \
		"$(echo "$t1 - $t0" | bc)" "$m" "$(echo "$profit / 1024" | bc -l)" \
		"$(echo "($gp1 - $gp0) / 1048576" | bc -l)"
}

if [ "$(basename "$0")" = enroll.sh ]; then
	[ "$(id -u)" = 0 ] && [ -w "$KSM/run" ] || { echo "bench: needs root and KSM" >&2; exit 1; }
	bench_exec_latency
	bench_twins
fi
