#!/bin/sh
# The census table (make bench, BENCH_ONLY=census; tests/bench/run.sh runs
# it): policy = whole (prctl on the whole process, then the profit check,
# as shipped) against policy = census (only the ranges whose duplicates pay),
# on the thesis' low-density workload (2 x 100 MiB, the first 1 MiB of each
# all 0xff, the rest distinct) and on dense twins (2 x 20 MiB identical).
# Each row: its own daemon and workload, ksmd at 1000 pages / 10 ms; the
# figures once merging (and, for whole, the profit check: defaults, 3 full
# scans and 60 s) has settled. Merged pages, rmap_items and profit are the
# workload's own (per-process ksm_stat), so other KSM users do not count.
# BUILD = build dir; needs root and KSM.
set -u
BUILD=${BUILD:-build}
KSM=/sys/kernel/mm/ksm
T=$(mktemp -d /tmp/ksmplus-bench-census.XXXXXX)
DPID=""
KNOBS="pages_to_scan sleep_millisecs use_zero_pages"
for k in $KNOBS; do cat "$KSM/$k" > "$T/knob.$k"; done

census_cleanup() {
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	[ -f "$T/pids" ] && for p in $(cat "$T/pids"); do kill "$p" 2>/dev/null; done
	for k in $KNOBS; do cat "$T/knob.$k" > "$KSM/$k" 2>/dev/null; done
	rm -rf "$T"
}
trap census_cleanup EXIT
trap 'exit 1' INT TERM

sum_field() { k=$1; shift; n=0; for p in "$@"; do
	v=$(awk -v k="$k" '$1 == k { print $2 }' "/proc/$p/ksm_stat" 2>/dev/null); n=$((n + ${v:-0})); done; echo $n; }

# settle PIDS: merged pages and rmap_items hold still over two full scans
settle() {
	end=$(( $(date +%s) + 240 ))
	prev=-1
	while [ "$(date +%s)" -lt $end ]; do
		f=$(cat $KSM/full_scans)
		now="$(sum_field ksm_merging_pages "$@") $(sum_field ksm_rmap_items "$@")"
		[ "$now" = "$prev" ] && return 0
		prev=$now
		while [ "$(cat $KSM/full_scans)" -lt $((f + 2)) ] && [ "$(date +%s)" -lt $end ]; do
			sleep 0.1
		done
	done
}

# row LABEL POLICY MIB TWIN_ARGS_A TWIN_ARGS_B
row() {
	label=$1 pol=$2 mib=$3 argsa=$4 argsb=$5
	cp "$BUILD/tests/twin" "$T/ksmpbcen"
	printf '[ksmplusd]\npolicy = %s\n[apps]\napp = ksmpbcen\n' "$pol" > "$T/c.conf"
	: > "$T/pids"
	# shellcheck disable=SC2086 # twin options, split on purpose
	"$T/ksmpbcen" --mib "$mib" --status "$T/a.st" $argsa > /dev/null 2>&1 &
	a=$!; echo $a >> "$T/pids"
	# shellcheck disable=SC2086
	"$T/ksmpbcen" --mib "$mib" --status "$T/b.st" $argsb > /dev/null 2>&1 &
	b=$!; echo $b >> "$T/pids"
	until grep -qs ready "$T/a.st" && grep -qs ready "$T/b.st"; do sleep 0.05; done
	"$BUILD/ksmplusd" --config "$T/c.conf" --socket "$T/sock" > "$T/d.log" 2>&1 &
	DPID=$!
	until grep -qs ready "$T/d.log"; do sleep 0.05; done
	# the profit check, if whole: a loss must last 3 scans and 60 s
	worst=0
	if [ "$pol" = whole ]; then
		# dropped, or kept past the 60 s a loss must last (a dense app)
		end=$(( $(date +%s) + 90 ))
		until grep -q "dropped ksmpbcen" "$T/d.log" || [ "$(date +%s)" -ge $end ]; do
			p=$(sum_field ksm_process_profit $a $b)
			[ "$p" -lt "$worst" ] && worst=$p
			sleep 0.5
		done
	else
		end=$(( $(date +%s) + 120 ))
		until grep -q "census: ksmpbcen.*advised" "$T/d.log" || [ "$(date +%s)" -ge $end ]; do
			sleep 0.1
		done
	fi
	settle $a $b
	merged=$(sum_field ksm_merging_pages $a $b)
	rmap=$(sum_field ksm_rmap_items $a $b)
	profit=$(sum_field ksm_process_profit $a $b)
	cpu=$(sed -n 's/.*census of app ksmpbcen: .*(\([0-9.]*\) s in [0-9]* censuses).*/\1/p' "$T/d.log" | tail -1)
	kill "$DPID"; wait "$DPID" 2>/dev/null; DPID=""
	kill $a $b; wait $a $b 2>/dev/null
	note=""
	[ "$pol" = whole ] && [ "$worst" -lt 0 ] && note=" (worst seen before: $worst B)"
	printf '| %s | %s | %s | %s | %s B%s | %s |\n' "$label" "$pol" "$merged" "$rmap" "$profit" "$note" "${cpu:-—}"
}

echo 1000 > "$KSM/pages_to_scan"
echo 10 > "$KSM/sleep_millisecs"
echo 0 > "$KSM/use_zero_pages"
echo "census policy (ksmd 1000 pages / 10 ms; figures once merged and settled)"
echo "| workload | policy | merged pages | rmap_items | net profit | census CPU s |"
echo "|---|---|---|---|---|---|"
for pol in whole census; do
	row "low density: 2 x 100 MiB, 1 MiB 0xff each" $pol 100 \
		"--distinct --seed 1 --ff-kib 1024" "--distinct --seed 2 --ff-kib 1024"
done
for pol in whole census; do
	row "dense: 2 x 20 MiB identical twins" $pol 20 "" ""
done
