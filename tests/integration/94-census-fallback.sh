# policy = census, a process its census cannot read: enrolled whole
# instead (as policy = whole), said once in the log with app, PID and the
# errno's text, shown in status (state "whole", the reason) and --json
# (mode "whole", reason). Root reads any pagemap, so the failure is the
# daemon's test hook KSMPLUS_CENSUS_FAIL (rangeplan.h): "PID ERRNO" lines.
# Two identical twins a and b whose census fails with EACCES (13) and EIO
# (5) merge >= 95 % of their 10,240 pages; c, read normally, stays under
# the census (its own app's only readable process: nothing to plan), and
# its censuses (every 2 s) do not log a and b again.
. "$(dirname "$0")/lib.sh"
need_root
need_ksm
ksm_save
write_conf "[ksmplusd]" "policy = census" "rescan_interval_sec = 1" "census_interval_sec = 2" \
	"[apps]" "app = ksmpcfail" "[ksmd]" "pages_to_scan = 5000" "sleep_millisecs = 10"
a=$(start_twin ksmpcfail 20)
b=$(start_twin ksmpcfail 20)
c=$(start_twin ksmpcfail 4 --distinct --seed 3)
printf '%s 13\n%s 5\n' "$a" "$b" > "$TMP/census-fail"
export KSMPLUS_CENSUS_FAIL="$TMP/census-fail"
start_daemon

fell() { [ "$(grep -c "census of ksmpcfail\[[0-9]*\] (app ksmpcfail) failed: .*; enrolled the whole process instead" "$DLOG")" -ge 2 ]; }
# counted in censuses and full scans, not seconds (lib.sh)
census_within ksmpcfail 2 fell || fail "no fallback logged: $(grep -i census "$DLOG" | tail -5)"
grep -q "census of ksmpcfail\[$a\] (app ksmpcfail) failed: Permission denied;" "$DLOG" ||
	fail "fallback of $a does not name its PID and EACCES: $(grep failed "$DLOG")"
grep -q "census of ksmpcfail\[$b\] (app ksmpcfail) failed: Input/output error;" "$DLOG" ||
	fail "fallback of $b does not name its PID and EIO: $(grep failed "$DLOG")"
merged() { [ $(( $(merging "$a") + $(merging "$b") )) -ge 9728 ]; }   # 95% of 10240
scans_within 16 merged || fail "only $(( $(merging "$a") + $(merging "$b") )) of 10240 pages merging"
for p in $a $b; do verify_twin "$p"; done

out=$(ctl status) || fail "status failed"
echo "$out" | grep -q "^ *$a .* whole .*census cannot read it (Permission denied): whole process" ||
	fail "status does not show $a's fallback: $out"
echo "$out" | grep -q "^ *$c .* enrolled " || fail "status does not show $c enrolled: $out"
json=$(ctl status --json) || fail "status --json failed"
got=$(python3 -c 'import json, sys
for p in json.loads(sys.argv[1])["processes"]:
    if p["pid"] == int(sys.argv[2]): print(p["state"], p["mode"], p.get("reason", ""))' "$json" "$b")
[ "$got" = "enrolled whole census cannot read it (Input/output error): whole process" ] ||
	fail "status --json of $b: '$got'"

# c's censuses go on; a and b are not censused, nor logged, again
n0=$(grep -c "census of app ksmpcfail" "$DLOG")
wait_until $WAIT_NET sh -c "[ \$(grep -c 'census of app ksmpcfail' $DLOG) -ge $((n0 + 2)) ]" ||
	fail "no census of c since"
grep "census of app ksmpcfail" "$DLOG" | tail -1 | grep -q ": 1 processes" ||
	fail "a census after the fallback did not read c alone: $(grep 'census of app' "$DLOG" | tail -1)"
n=$(grep -c "(app ksmpcfail) failed:" "$DLOG")
[ "$n" = 2 ] || fail "fallbacks logged $n times, not once each"
stop_daemon || fail "daemon exited non-zero"
exit 0
