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
# Then late memory (late_row): how long memory mapped after enrollment
# waits to be merged. CENSUS_ROWS=late: that table only.
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

# late_row LABEL POLICY MIB GROW_MIB — late memory: two MIB MiB processes
# with no duplicates, enrolled (whole: merge-any; census: its first census
# done), then each maps GROW_MIB MiB more, equal across them. Seconds from
# the growth until both merged 95 % of it (daemon defaults: rescans every
# 10 s, census_interval_sec 300; drop_unprofitable = no, the profit check
# is not what is measured), and the censuses it took.
late_row() {
	label=$1 pol=$2 mib=$3 grow=$4
	cp "$BUILD/tests/twin" "$T/ksmpblate"
	printf '[ksmplusd]\npolicy = %s\ndrop_unprofitable = no\n[apps]\napp = ksmpblate\n' "$pol" > "$T/c.conf"
	: > "$T/pids"
	for s in 1 2; do
		"$T/ksmpblate" --mib "$mib" --distinct --seed $s --grow-mib "$grow" --grow-seed 7 \
			--status "$T/$s.st" > /dev/null 2>&1 &
		echo $! >> "$T/pids"
	done
	set -- $(cat "$T/pids"); a=$1 b=$2
	until grep -qs ready "$T/1.st" && grep -qs ready "$T/2.st"; do sleep 0.05; done
	"$BUILD/ksmplusd" --config "$T/c.conf" --socket "$T/sock" > "$T/d.log" 2>&1 &
	DPID=$!
	until grep -qs ready "$T/d.log"; do sleep 0.05; done
	if [ "$pol" = whole ]; then
		until grep -qs "ksm_merge_any: yes" "/proc/$a/ksm_stat" && grep -qs "ksm_merge_any: yes" "/proc/$b/ksm_stat"; do sleep 0.1; done
	else
		until grep -q "census of app ksmpblate: 2 processes" "$T/d.log"; do sleep 0.1; done
	fi
	sleep 1         # the growth comes after the census, not with it
	before=$(sum_field ksm_merging_pages $a $b)
	n0=$(grep -c "census of app ksmpblate" "$T/d.log")
	start=$(date +%s.%N)
	kill -USR2 $a $b
	want=$(( before + grow * 256 * 2 * 95 / 100 ))
	end=$(( $(date +%s) + 400 ))
	while [ "$(sum_field ksm_merging_pages $a $b)" -lt $want ] && [ "$(date +%s)" -lt $end ]; do
		sleep 0.1
	done
	if [ "$(sum_field ksm_merging_pages $a $b)" -ge $want ]; then
		secs=$(echo "$(date +%s.%N) - $start" | bc | xargs printf '%.1f s')
	else
		secs="> 400 s"
	fi
	n=$(( $(grep -c "census of app ksmpblate" "$T/d.log") - n0 ))
	kill "$DPID"; wait "$DPID" 2>/dev/null; DPID=""
	kill $a $b; wait $a $b 2>/dev/null
	[ "$pol" = whole ] && n="—"
	printf '| %s | %s | %s | %s |\n' "$label" "$pol" "$secs" "$n"
}

echo 1000 > "$KSM/pages_to_scan"
echo 10 > "$KSM/sleep_millisecs"
echo 0 > "$KSM/use_zero_pages"
if [ "${CENSUS_ROWS:-all}" != late ]; then
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
echo
fi
echo "late memory (defaults: rescans every 10 s, census_interval_sec 300): seconds until merged"
echo "| workload | policy | merged in | censuses it took |"
echo "|---|---|---|---|"
for pol in whole census; do
	late_row "2 x 100 MiB distinct, then +20 MiB each, equal" $pol 100 20
done
for pol in whole census; do
	late_row "2 x 20 MiB distinct, then +20 MiB each, equal" $pol 20 20
done
