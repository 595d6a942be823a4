# ksmplusctl analyze on real KSM: the census's forecast (pages saved) is
# within 10 % of what KSM then really saves (the app's exact saving from its
# page frames, rmap_items added back) once the app is enrolled and merging
# has finished, for identical twins, eight
# of them, twins whose only duplicates are 25 % zero pages, and the
# low-density workload (2 x 100 MiB, 1 MiB of 0xff each, the rest distinct).
# The census never changes a target, costs nothing on a 1 TiB PROT_NONE
# reservation (pages looked at are counted), says so when the process exits
# mid-census, and refuses unknown apps and PIDs.
. "$(dirname "$0")/lib.sh"
need_root
need_ksm
ksm_save
# Zero pages then merge like any other (with use_zero_pages they would map
# the zero page and count in ksm_zero_pages, not pages_sharing).
ksm_set use_zero_pages 0
# The low-density case loses memory by design: measure it before any drop.
write_conf "[ksmplusd]" "drop_unprofitable = no" "[ksmd]" "pages_to_scan = 5000" "sleep_millisecs = 10"
export KSMPLUS_CENSUS_HOLD="$TMP/hold"
start_daemon

field() { python3 -c 'import json,sys; print(json.load(sys.stdin)["census"][sys.argv[1]])' "$1"; }

# --- errors ---------------------------------------------------------------
out=$(ctl analyze ksmpnobody 2>&1) && fail "analyze of an unknown app succeeded: $out"
echo "$out" | grep -q "no running process is named ksmpnobody" || fail "unclear message: $out"
out=$(ctl analyze --pid 1073741000 2>&1) && fail "analyze of a missing PID succeeded: $out"
echo "$out" | grep -q "no process 1073741000" || fail "unclear message: $out"
ctl analyze > /dev/null 2>&1; [ $? -eq 2 ] || fail "analyze without NAME is not a usage error"

# saved_pages NAME PIDS — pages the app really saves: the daemon's exact
# figure (page frames: each KSM page's mapcount - 1, shared out; net of
# rmap_items) with the rmap_items added back.
saved_pages() {
	name=$1; shift
	kib=$(ctl status --fresh --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
a = [x for x in d["apps"] if x["name"] == sys.argv[1]][0]
assert a["saved_exact"] == 1, a
print(a["saved_kib"])' "$name") || return 1
	echo $(( (kib * 1024 + $(sum_field ksm_rmap_items "$@") * 64) / 4096 ))
}

# forecast_case LABEL NAME PIDS... — analyze NAME, enroll it, compare.
forecast_case() {
	label=$1 name=$2; shift 2
	json=$(ctl analyze "$name" --json) || fail "$label: analyze failed"
	fc=$(echo "$json" | field saved)
	procs=$(echo "$json" | field procs)
	[ "$procs" = "$#" ] || fail "$label: census saw $procs processes, not $#"
	for p in "$@"; do verify_twin "$p"; done       # the census changed nothing
	cpu=$(echo "$json" | field cpu_ms); wall=$(echo "$json" | field wall_ms)
	[ $(( cpu * 2 )) -le $(( wall + 10 )) ] || fail "$label: census took $cpu ms CPU in $wall ms: over half a core"
	ctl add "$name" > /dev/null || fail "$label: add failed"
	settle "$@" || fail "$label: merging did not finish ($(sum_field ksm_merging_pages "$@") merging)"
	measured=$(saved_pages "$name" "$@") || fail "$label: no exact savings in status"
	# enrolled and merged now: the census still sees the same content
	json2=$(ctl analyze "$name" --json) || fail "$label: analyze of the enrolled app failed"
	[ "$(echo "$json2" | field procs)" = "$#" ] && [ "$(echo "$json2" | field saved)" -ge $(( fc - fc / 100 )) ] ||
		fail "$label: census of the enrolled app differs: $json2"
	diff=$(( fc > measured ? fc - measured : measured - fc ))
	note >&2 "$label: forecast $fc pages, measured $measured (net forecast $(echo "$json" | field net_bytes) B," \
		"$(echo "$json" | field mib_s) MiB/s, $cpu ms CPU in $wall ms)"
	[ $(( diff * 10 )) -le "$fc" ] || fail "$label: forecast $fc pages, measured $measured: off by more than 10 %"
	for p in "$@"; do verify_twin "$p"; done
	ctl remove "$name" --unmerge > /dev/null || fail "$label: remove failed"
	for p in "$@"; do kill "$p"; done
	for p in "$@"; do wait_until 20 sh -c "! kill -0 $p 2>/dev/null" || fail "$label: $p lives on"; done
	echo "$json"
}

# two identical 20 MiB twins
a=$(start_twin ksmpcen2 20)
b=$(start_twin ksmpcen2 20)
forecast_case "2 x 20 MiB" ksmpcen2 "$a" "$b" > "$TMP/two.json"
[ "$(field zero < "$TMP/two.json")" -lt 100 ] || fail "twins counted as zero pages"

# eight
pids=""
for _ in 1 2 3 4 5 6 7 8; do pids="$pids $(start_twin ksmpcen8 20)"; done
# shellcheck disable=SC2086
forecast_case "8 x 20 MiB" ksmpcen8 $pids > /dev/null

# 25 % zero pages, the rest distinct in each: the zero pages are the saving
a=$(start_twin ksmpcenz 20 --distinct --seed 1 --zero-pct 25)
b=$(start_twin ksmpcenz 20 --distinct --seed 2 --zero-pct 25)
forecast_case "25 % zero" ksmpcenz "$a" "$b" > "$TMP/zero.json"
z=$(field zero < "$TMP/zero.json")
[ "$z" -ge 2500 ] && [ "$z" -le 2700 ] || fail "25 % zero: $z zero pages counted, not ~2590"

# low density: 2 x 100 MiB, 1 MiB of 0xff each, the rest distinct
a=$(start_twin ksmpcenl 100 --distinct --seed 1 --ff-kib 1024)
b=$(start_twin ksmpcenl 100 --distinct --seed 2 --ff-kib 1024)
forecast_case "low density" ksmpcenl "$a" "$b" > "$TMP/low.json"
[ "$(field repeated < "$TMP/low.json")" -ge 512 ] || fail "low density: 0xff pages not counted"
[ "$(field net_bytes < "$TMP/low.json")" -lt 0 ] || fail "low density: forecast no loss"

# sampling one page in 16 on the low-density pair: within its bound
a=$(start_twin ksmpcens 100 --distinct --seed 1 --ff-kib 1024)
b=$(start_twin ksmpcens 100 --distinct --seed 2 --ff-kib 1024)
json=$(ctl analyze ksmpcens --sample 16 --json) || fail "analyze --sample failed"
fc=$(echo "$json" | field saved); err=$(echo "$json" | field error)
note "sample 16: forecast $fc +- $err pages (all pages: 511)"
[ "$err" -gt 0 ] && [ "$fc" -ge $((511 - err)) ] && [ "$fc" -le $((511 + err + 64)) ] ||
	fail "sampled forecast $fc +- $err misses 511"
kill "$a" "$b"

# a 1 TiB PROT_NONE | MAP_NORESERVE reservation: not walked
r=$(start_twin ksmpcenr 4 --reserve-gib 1024)
json=$(ctl analyze --pid "$r" --json) || fail "analyze of the reservation failed"
v=$(echo "$json" | field visited)
note "1 TiB reservation: $v pages looked at"
[ "$v" -lt 100000 ] || fail "census looked at $v pages of a 4 MiB process (1 TiB reserved)"
verify_twin "$r"
kill "$r"

# a process that exits mid-census: held after its maps are read, killed
touch "$TMP/hold"
x=$(start_twin ksmpcenx 20)
ctl analyze --pid "$x" > "$TMP/exit.out" 2>&1 &
cpid=$!
wait_until 30 grep -q "holding before reading the pages of $x " "$DLOG" || fail "census never held"
kill "$x"
gone() { [ ! -r "/proc/$x/status" ] || grep -q '^State:[[:space:]]*Z' "/proc/$x/status"; }
wait_until 20 gone || fail "$x did not exit"
rm -f "$TMP/hold"
wait "$cpid" && fail "census of an exited process succeeded: $(cat "$TMP/exit.out")"
grep -q "process $x exited during the census" "$TMP/exit.out" ||
	fail "unclear message: $(cat "$TMP/exit.out")"

kill -0 "$DAEMON_PID" || fail "daemon died"
stop_daemon || fail "daemon exited non-zero"
exit 0
