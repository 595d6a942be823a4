# What status says of policy = census, and what survives a restart:
# * status (text and --json) shows, per app under census, the ranges advised
#   now and the memory they cover, the last census's time, pages hashed,
#   CPU, plan and forecast, and when the next census is due; an app under
#   policy = whole shows none of it;
# * the last `analyze` forecast and census summary are kept in the state
#   directory (--state-dir): a restarted daemon shows the same ones;
# * a state file that is corrupt or not ours is named in the log (file and
#   line) and ignored: the daemon runs, with no forecast.
. "$(dirname "$0")/lib.sh"
need_root
need_ksm
ksm_save
write_conf "[ksmplusd]" "policy = census" "rescan_interval_sec = 1" "census_interval_sec = 3600" \
	"[apps]" "app = ksmpcst" "app = ksmpwhole" "[app ksmpwhole]" "policy = whole" \
	"[ksmd]" "pages_to_scan = 5000" "sleep_millisecs = 10"
a=$(start_twin ksmpcst 20 --distinct --seed 1 --ff-kib 1024)
b=$(start_twin ksmpcst 20 --distinct --seed 2 --ff-kib 1024)
w=$(start_twin ksmpwhole 4)
start_daemon

# appf JSON APP KEY — a field of app APP in status --json ("" when absent)
appf() {
	python3 -c 'import json,sys
for a in json.loads(sys.argv[1])["apps"]:
    if a["name"] == sys.argv[2]: print(a.get(sys.argv[3], ""))' "$1" "$2" "$3"
}
advised() { appf "$(ctl status --json)" ksmpcst census_advised_kib; }
# Counted in censuses, not seconds (lib.sh: census_within): a census paces
# itself, and a loaded machine slows it down.
census_within ksmpcst 2 logged "census of app ksmpcst: 2 processes" || fail "no census of the app"
# advised as the census ends (the same turn of the loop), or at a retry
advised_both() { [ "$(grep -c 'census: ksmpcst\[[0-9]*\] (app ksmpcst): +' "$DLOG")" -ge 2 ]; }
census_within ksmpcst 2 advised_both || fail "no ranges advised: $(grep census "$DLOG")"

js=$(ctl status --json) || fail "status --json failed"
for k in census_ranges census_advised_kib census_time census_hashed_kib census_cpu_ms census_next_s \
	census_planned_kib census_net_kib census_procs; do
	[ -n "$(appf "$js" ksmpcst "$k")" ] || fail "status --json lacks $k: $js"
done
note "census status: $(python3 -c 'import json,sys
a=[x for x in json.loads(sys.argv[1])["apps"] if x["name"] == "ksmpcst"][0]
print(" ".join("%s=%s" % (k, v) for k, v in a.items() if k.startswith("census")))' "$js")"
[ "$(appf "$js" ksmpcst census_procs)" = 2 ] || fail "census_procs is not 2"
[ "$(appf "$js" ksmpcst census_ranges)" -ge 2 ] || fail "fewer than 2 ranges advised"
# the 0xff MiB of each twin, and not the 19 distinct MiB: a bit over 2 MiB
adv=$(appf "$js" ksmpcst census_advised_kib)
[ "$adv" -ge 2048 ] && [ "$adv" -le 4096 ] || fail "advised $adv KiB (want 2048..4096)"
# 2 x 20 MiB read and hashed (a few stack pages more)
hashed=$(appf "$js" ksmpcst census_hashed_kib)
[ "$hashed" -ge 40960 ] && [ "$hashed" -le 45000 ] || fail "hashed $hashed KiB (want ~40960)"
[ "$(appf "$js" ksmpcst census_net_kib)" -gt 0 ] || fail "the plan's forecast is not positive"
next=$(appf "$js" ksmpcst census_next_s)
[ "$next" -gt 3000 ] && [ "$next" -le 3600 ] || fail "next census in $next s (interval 3600)"
when=$(appf "$js" ksmpcst census_time)
now=$(date +%s)
[ "$when" -le "$now" ] && [ "$when" -ge $((now - 120)) ] || fail "census_time $when, now $now"
[ -z "$(appf "$js" ksmpwhole census_ranges)" ] || fail "an app under policy = whole shows census state"
txt=$(ctl status) || fail "status failed"
echo "$txt" | grep -q "^  ksmpcst: [0-9]* ranges, [0-9.]* MiB advised; census at .* UTC: 2 processes, [0-9.]* MiB hashed in [0-9]* ms CPU, plan [0-9.]* MiB, net [0-9.]* MiB; next in [0-9]* s$" ||
	fail "status text lacks the census line: $txt"

# --- surviving a restart ------------------------------------------------------
ctl analyze ksmpcst > /dev/null || fail "analyze failed"
js=$(ctl status --json)
fc=$(appf "$js" ksmpcst forecast_kib); fct=$(appf "$js" ksmpcst forecast_time)
[ -n "$fc" ] || fail "no forecast in status after analyze"
[ -f "$TMP/state/state" ] || fail "no state file in $TMP/state"
[ "$(stat -c %a "$TMP/state/state")" = 644 ] || fail "state file mode $(stat -c %a "$TMP/state/state")"
ls -a "$TMP/state" | grep -q '^\.state\.' && fail "a temporary file was left: $(ls -a "$TMP/state")"
stop_daemon || fail "daemon exited non-zero"
# without the app's processes: no new census can replace the saved one
kill "$a" "$b"
start_daemon
grep -q "state from $TMP/state: 1 forecasts, 1 census summaries" "$DLOG" || fail "state not loaded: $(cat "$DLOG")"
js=$(ctl status --json)
[ "$(appf "$js" ksmpcst forecast_kib)" = "$fc" ] || fail "forecast after restart: $(appf "$js" ksmpcst forecast_kib), was $fc"
[ "$(appf "$js" ksmpcst forecast_time)" = "$fct" ] || fail "forecast time changed across the restart"
[ "$(appf "$js" ksmpcst census_time)" = "$when" ] || fail "census time after restart: $(appf "$js" ksmpcst census_time), was $when"
[ "$(appf "$js" ksmpcst census_saved)" = 1 ] || fail "the saved census is not marked as such"
[ "$(appf "$js" ksmpcst census_hashed_kib)" = "$hashed" ] || fail "census figures changed across the restart"
ctl status | grep -q "ksmpcst: 0 ranges, 0.0 MiB advised; census at .* UTC (before a restart)" ||
	fail "status text does not say the census is from before the restart: $(ctl status)"
ctl status | grep -q "FORECAST_MiB" || fail "no FORECAST_MiB after restart"
stop_daemon || fail "daemon exited non-zero"

# --- a state file we cannot use ----------------------------------------------
good=$(cat "$TMP/state/state")
printf 'ksmplusd-state 1\nforecast 1 x\n' > "$TMP/state/state"
start_daemon
grep -q "ignoring the saved state: $TMP/state/state:2: malformed forecast" "$DLOG" ||
	fail "corrupt state file not named: $(cat "$DLOG")"
[ -z "$(appf "$(ctl status --json)" ksmpcst forecast_kib)" ] || fail "a forecast from a corrupt file"
stop_daemon || fail "daemon exited non-zero"
printf '%s\n' "[Desktop Entry]" "Name=foo" > "$TMP/state/state"
start_daemon
grep -q "ignoring the saved state: $TMP/state/state:1: not a ksmplusd state file" "$DLOG" ||
	fail "foreign state file not named: $(cat "$DLOG")"
stop_daemon || fail "daemon exited non-zero"
# a state directory others may write: refused on save, said once, daemon runs
printf '%s\n' "$good" > "$TMP/state/state"
chmod 0777 "$TMP/state"
start_daemon
c=$(start_twin ksmpcst 4 --distinct --seed 1 --ff-kib 1024)
census_within ksmpcst 2 logged "census of app ksmpcst: 1 processes" || fail "no census of c"
# saved (or refused) as the census ends, in the same turn of the loop: once
# the loop answers a request, it is in the log
ctl status > /dev/null || fail "status failed"
grep -q "forecasts will not survive a restart: $TMP/state: the state directory must be ours" "$DLOG" ||
	fail "unsafe state directory not reported: $(cat "$DLOG")"
[ "$(printf '%s\n' "$good")" = "$(cat "$TMP/state/state")" ] || fail "state written into an unsafe directory"
verify_twin "$c"; verify_twin "$w"
kill -0 "$DAEMON_PID" || fail "daemon died"
stop_daemon || fail "daemon exited non-zero"
exit 0
