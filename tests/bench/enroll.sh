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
trap 'exit 1' INT TERM

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

# sum of Pss (KiB) of the given processes
pss_sum() {
	for p in "$@"; do awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null; done |
		awk '{ s += $1 } END { print s + 0 }'
}
gain_kib() {    # what KSM saves system-wide now, KiB (general_profit)
	echo $(( $(cat "$KSM/general_profit") / 1024 ))
}
# settle: until two more full scans change pages_sharing no more (<= 120 s).
# With nothing enrolled ksmd sleeps and full_scans stands still: then it
# is settled too.
settle() {
	end=$(( $(date +%s) + 120 ))
	while [ "$(date +%s)" -lt $end ]; do
		s=$(cat "$KSM/full_scans"); m=$(cat "$KSM/pages_sharing")
		t=$(( $(date +%s) + 5 ))
		while [ "$(cat "$KSM/full_scans")" -lt $((s + 2)) ] && [ "$(date +%s)" -lt $t ]; do
			sleep 0.05
		done
		[ "$(cat "$KSM/pages_sharing")" = "$m" ] && return 0
	done
}
knob() { echo "$2" > "$KSM/$1"; }

# The browser-like app (a parent and 6 sandboxed renderers exec'd under
# another name, 20 MiB each): ksmplusd added after launch, against the same
# tree merged from birth (prctl before exec), with the same ksmd knobs.
bench_browser() {
	N=6; MIB=20
	cp "$BUILD/tests/browser" "$T/ksmpbrowse"
	cp "$BUILD/tests/twin" "$T/ksmprend"
	old_pts=$(cat "$KSM/pages_to_scan"); old_sleep=$(cat "$KSM/sleep_millisecs")
	old_run=$(cat "$KSM/run")
	launch() {      # launch DIR [--self-merge]: the tree's pids on stdout
		d=$1; shift
		mkdir -p "$d"
		"$T/ksmpbrowse" --renderer "$T/ksmprend" --children $N --mib $MIB --sandbox \
			--status "$d" "$@" > /dev/null 2>&1 &
		echo $! >> "$T/pids"
		bp=$!
		for i in $(seq 0 $((N - 1))); do
			until grep -qs ready "$d/r.$i"; do sleep 0.05; done
		done
		echo "$bp $(for i in $(seq 0 $((N - 1))); do awk '{print $2}' "$d/r.$i"; done)"
	}
	stop_tree() { kill "$1"; while kill -0 "$1" 2>/dev/null; do sleep 0.05; done; }

	# baseline: merged from birth
	knob pages_to_scan 5000; knob sleep_millisecs 10; knob run 1
	g0=$(gain_kib)
	t0=$(date +%s.%N)
	tree=$(launch "$T/base" --self-merge)
	settle
	base=$(( $(gain_kib) - g0 ))
	tb=$(echo "$(date +%s.%N) - $t0" | bc)
	# shellcheck disable=SC2086
	stop_tree ${tree%% *}
	settle

	# ksmplusd, added after launch
	knob run 0
	tree=$(launch "$T/late")
	# shellcheck disable=SC2086
	pss0=$(pss_sum $tree)
	printf '[apps]\n[ksmd]\npages_to_scan = 5000\nsleep_millisecs = 10\n' > "$T/b.conf"
	start_d "$T/b.conf"
	g0=$(gain_kib)
	t0=$(date +%s.%N)
	"$BUILD/ksmplusctl" --socket "$T/sock" add ksmpbrowse --runtime > /dev/null
	# shellcheck disable=SC2086
	: > "$T/curve"
	# shellcheck disable=SC2086
	while :; do
		echo "$(echo "$(date +%s.%N) - $t0" | bc) $(merging_sum $tree)" >> "$T/curve"
		[ "$(echo "$(date +%s.%N) - $t0 > 20" | bc)" = 1 ] && break
		tail -n 40 "$T/curve" | awk 'NR == 1 { f = $2 } END { exit !($2 > 0 && $2 == f && NR == 40) }' && break
		sleep 0.05
	done
	settle
	late=$(( $(gain_kib) - g0 ))
	# shellcheck disable=SC2086
	final=$(merging_sum $tree)
	t90=$(awk -v f="$final" '$2 >= 0.9 * f { print $1; exit }' "$T/curve")
	# shellcheck disable=SC2086
	drop=$(( pss0 - $(pss_sum $tree) ))
	saved=$("$BUILD/ksmplusctl" --socket "$T/sock" status --json --fresh |
		python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(a.get("saved_kib",0) for a in d["apps"]))')
	"$BUILD/ksmplusctl" --socket "$T/sock" remove ksmpbrowse --runtime --unmerge > /dev/null
	stop_d
	# shellcheck disable=SC2086
	stop_tree ${tree%% *}
	knob pages_to_scan "$old_pts"; knob sleep_millisecs "$old_sleep"; knob run "$old_run"
	printf '%-44s %12s %12s\n' "browser-like app (1 + $N x $MIB MiB, sandboxed)" "saved MiB" "seconds"
	printf '%-44s %12.1f %12s\n' "  baseline: every process merged from birth" \
		"$(echo "$base / 1024" | bc -l)" "$(printf '%.1f' "$tb") (launch to settled)"
	printf '%-44s %12.1f %12s\n' "  ksmplusd added after launch" \
		"$(echo "$late / 1024" | bc -l)" "$(printf '%.1f' "${t90:-0}") (add to 90 %)"
	awk -v a="$late" -v b="$base" 'BEGIN { if (b > 0) printf "  ratio ksmplusd/baseline: %.1f %% (goal: >= 95 %%)\n", 100 * a / b }'
	awk -v s="$saved" -v d="$drop" 'BEGIN { if (d > 0) printf "  status saved_kib %d vs measured PSS drop %d KiB: %+.1f %%\n", s, d, 100 * (s - d) / d }'
}

if [ "$(basename "$0")" = enroll.sh ]; then
	[ "$(id -u)" = 0 ] && [ -w "$KSM/run" ] || { echo "bench: needs root and KSM" >&2; exit 1; }
	bench_exec_latency
	bench_twins
	bench_browser
fi
