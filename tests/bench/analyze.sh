#!/bin/sh
# The census of `ksmplusctl analyze`, as table rows (run by tests/bench/run.sh
# with BENCH_ONLY=analyze; BUILD = build dir; needs root and KSM):
#  - per test workload of tests/integration/85-analyze*.sh: the forecast
#    (pages saved) against what KSM then really saves once the app is
#    enrolled and merging has finished (the app's exact saving from its page
#    frames, as in status, with its rmap_items added back), and the census's
#    cost and throughput (MiB of page contents read per second of wall time,
#    held to half a core, and per second of its own CPU);
#  - throughput on 2 x BENCH_ANALYZE_MIB (256) MiB, every page and --sample 8.
# Every process started here is killed; use_zero_pages is put back (the
# daemon puts back the knobs it drives).
set -u
BUILD=${BUILD:-build}
BIG=${BENCH_ANALYZE_MIB:-256}
KSM=/sys/kernel/mm/ksm
T=$(mktemp -d /tmp/ksmplus-bench-ana.XXXXXX)
DPID=""
UZP=$(cat "$KSM/use_zero_pages" 2>/dev/null)
SMART=$(cat "$KSM/smart_scan" 2>/dev/null)

cleanup() {
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	[ -f "$T/pids" ] && kill $(cat "$T/pids") 2>/dev/null
	[ -n "$UZP" ] && [ "$(cat "$KSM/use_zero_pages")" != "$UZP" ] && echo "$UZP" > "$KSM/use_zero_pages"
	[ -n "$SMART" ] && [ "$(cat "$KSM/smart_scan")" != "$SMART" ] && echo "$SMART" > "$KSM/smart_scan"
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ctl() { "$BUILD/ksmplusctl" --socket "$T/sock" "$@"; }
field() { python3 -c 'import json,sys; print(json.load(sys.stdin)["census"][sys.argv[1]])' "$1"; }
ksm_field() { awk -v k="$2" '$1 == k || $1 == k":" { print $2 }' "/proc/$1/ksm_stat" 2>/dev/null; }
sum_field() {
	k=$1; shift; n=0
	for p in "$@"; do v=$(ksm_field "$p" "$k"); n=$(( n + ${v:-0} )); done
	echo $n
}

# twin NAME ARGS... — a workload process, ready; its pid
twin() {
	name=$1; shift
	[ -x "$T/$name" ] || cp "$BUILD/tests/twin" "$T/$name"
	st=$(mktemp "$T/st.XXXXXX")
	"$T/$name" --status "$st" "$@" > /dev/null 2>&1 &
	echo $! >> "$T/pids"
	i=0
	until grep -q ready "$st" 2>/dev/null; do
		i=$((i + 1)); [ $i -gt 1200 ] && { echo "bench: $name did not start" >&2; exit 1; }
		sleep 0.05
	done
	echo $!
}

# settle PIDS — merged pages hold still over two full ksmd scans
settle() {
	prev=-1
	for _ in $(seq 60); do
		f=$(cat "$KSM/full_scans")
		s=$(sum_field ksm_merging_pages "$@")
		[ "$s" = "$prev" ] && [ "$s" -gt 0 ] && return 0
		prev=$s
		while [ "$(cat "$KSM/full_scans")" -lt $((f + 2)) ]; do sleep 0.1; done
	done
	return 1
}

# saved_pages APP PIDS — what KSM really saves the app, rmap_items added back
saved_pages() {
	app=$1; shift
	kib=$(ctl status --fresh --json | python3 -c '
import json, sys
a = [x for x in json.load(sys.stdin)["apps"] if x["name"] == sys.argv[1]][0]
print(a["saved_kib"] if a["saved_exact"] == 1 else "none")' "$app")
	[ "$kib" = none ] && { echo "-"; return; }
	echo $(( (kib * 1024 + $(sum_field ksm_rmap_items "$@") * 64) / 4096 ))
}

row() { printf '%-40s %8s %10s %10s %7s %7s %7s %8s %8s\n' "$@"; }

# census_row LABEL JSON MEASURED KEY — one table row (forecast from KEY)
census_row() {
	fc=$(echo "$2" | field "$4")
	read_mib=$(( $(echo "$2" | field read_bytes) / 1048576 ))
	cpu=$(echo "$2" | field cpu_ms); wall=$(echo "$2" | field wall_ms)
	err=$(awk -v f="$fc" -v m="$3" 'BEGIN { if (m ~ /^[0-9]+$/ && m > 0) printf "%+.1f%%", 100 * (f - m) / m; else print "-" }')
	row "  $1" "$read_mib" "$fc" "$3" "$err" "$cpu" "$wall" "$(echo "$2" | field mib_s)" \
		"$(awk -v r="$(echo "$2" | field read_bytes)" -v c="$cpu" 'BEGIN { if (c > 0) printf "%.0f", r / 1048576 / (c / 1000); else print "-" }')"
}

# forecast APP LABEL TWIN_ARGS -- PIDS: analyze, enroll, settle, measure
forecast() {
	app=$1 label=$2; shift 2
	json=$(ctl analyze "$app" --json) || { row "  $label" "analyze failed"; return; }
	ctl add "$app" --runtime > /dev/null
	if settle "$@"; then m=$(saved_pages "$app" "$@"); else m="-"; fi
	census_row "$label" "$json" "$m" saved
	ctl remove "$app" --runtime --unmerge > /dev/null
	kill "$@" 2>/dev/null
}

[ "$(id -u)" = 0 ] && [ -w "$KSM/run" ] || { echo "bench: needs root and KSM" >&2; exit 1; }
# zero pages then merge like any other page (not into the zero page)
echo 0 > "$KSM/use_zero_pages"
# smart_scan's per-page skips could keep two apps enrolled at different
# times from ever meeting: the governor (kept with the fast pace below) turns
# it off after each enrollment, so it is left as the kernel has it
# (tests/integration/68-late-duplicate.sh)
printf '[ksmplusd]\ndrop_unprofitable = no\n[ksmd]\ngovernor = pressure\npages_to_scan = 5000\nsleep_millisecs = 10\n[apps]\napp = ksmpb-nomatch-zz\n' > "$T/d.conf"
"$BUILD/ksmplusd" --config "$T/d.conf" --socket "$T/sock" > "$T/d.log" 2>&1 &
DPID=$!
i=0
until grep -q ready "$T/d.log" 2>/dev/null; do
	i=$((i + 1)); [ $i -gt 200 ] && { echo "daemon did not start" >&2; cat "$T/d.log" >&2; exit 1; }
	sleep 0.05
done

echo "census (ksmplusctl analyze): forecast vs measured saving (pages), and cost"
row "" "read MiB" "forecast" "measured" "error" "CPU ms" "wall ms" "MiB/s" "MiB/CPUs"
a=$(twin ksmpa2 --mib 20); b=$(twin ksmpa2 --mib 20)
forecast ksmpa2 "2 x 20 MiB identical twins" "$a" "$b"
pids=""
for _ in 1 2 3 4 5 6 7 8; do pids="$pids $(twin ksmpa8 --mib 20)"; done
# shellcheck disable=SC2086
forecast ksmpa8 "8 x 20 MiB identical twins" $pids
a=$(twin ksmpaz --mib 20 --distinct --seed 1 --zero-pct 25); b=$(twin ksmpaz --mib 20 --distinct --seed 2 --zero-pct 25)
forecast ksmpaz "2 x 20 MiB, 25 % zero, rest distinct" "$a" "$b"
a=$(twin ksmpal --mib 100 --distinct --seed 1 --ff-kib 1024); b=$(twin ksmpal --mib 100 --distinct --seed 2 --ff-kib 1024)
forecast ksmpal "low density 2 x 100 MiB, 1 MiB 0xff" "$a" "$b"

# against another enrolled app: A's pages are B's (distinct within each);
# the forecast is A's saving merged with B (saved_shared)
b=$(twin ksmpab --mib 20 --distinct --seed 7)
ctl add ksmpab --runtime > /dev/null
settle_b=0
while ! grep -q "ksm_merge_any: yes\|ksm_mergeable: yes" "/proc/$b/ksm_stat" && [ $settle_b -lt 200 ]; do
	sleep 0.05; settle_b=$((settle_b + 1))
done
a=$(twin ksmpaa --mib 20 --distinct --seed 7)
json=$(ctl analyze ksmpaa --json)
ctl add ksmpaa --runtime > /dev/null
if settle "$a" "$b"; then m=$(saved_pages ksmpaa "$a"); else m="-"; fi
census_row "20 MiB app against an enrolled twin app" "$json" "$m" saved_shared
ctl remove ksmpaa --runtime --unmerge > /dev/null
ctl remove ksmpab --runtime --unmerge > /dev/null
kill "$a" "$b"

# throughput: census only (nothing enrolled), forecast against the full one
a=$(twin ksmpat --mib "$BIG" --distinct --seed 1 --zero-pct 10); b=$(twin ksmpat --mib "$BIG" --distinct --seed 2 --zero-pct 10)
full=$(ctl analyze ksmpat --json)
census_row "2 x $BIG MiB, 10 % zero: every page" "$full" "-" saved
s8=$(ctl analyze ksmpat --sample 8 --json)
census_row "  the same, --sample 8" "$s8" "$(echo "$full" | field saved)" saved
echo "  (--sample 8: +- $(echo "$s8" | field error) pages; 'measured' there is the full census)"
kill "$a" "$b"
