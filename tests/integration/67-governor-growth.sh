# burst_growth_mib: an enrolled app whose resident anonymous memory grows
# by more than that since the latest burst bursts again (its new memory is
# merged at the burst's pace, not the idle trickle's); growth under it
# does not.
. "$(dirname "$0")/lib.sh"
need_root
need_ksm
ksm_save

gov() { ctl status --json | sed -n "s/.*\"$1\": *\"\{0,1\}\([^\",}]*\).*/\1/p" | head -n 1; }
state_is() { [ "$(gov gov_state)" = "$1" ]; }
bursts() { grep -c " -> burst" "$DLOG"; }

write_conf "[ksmd]" "governor = pressure" "burst_growth_mib = 12" "[apps]" "app = growtwin" "app = smalltwin"
start_daemon
grep -q "burst on 12 MiB growth" "$DLOG" || fail "burst_growth_mib not in the governor's start line"
small=$(start_twin smalltwin 8)
big=$(start_twin growtwin 16)
wait_until 20 grep -q "settle -> burst\|idle -> burst" "$DLOG" || fail "no burst after enrollment"
wait_until 120 state_is idle || fail "not idle after the burst: $(gov gov_state): $(gov gov_why)"

# 8 MiB more: under the limit, no burst.
n=$(bursts)
kill -USR2 "$small"
wait_until 20 grep -q "grown" "$TMP/twin.$small.st" || fail "smalltwin did not grow"
# 16 MiB more: over it. The tick that sees it sees smalltwin's growth too
# (done before): had that burst, it would be logged by then.
kill -USR2 "$big"
wait_until 20 grep -q "idle -> burst: growtwin grew by 1[0-9] MiB" "$DLOG" ||
	fail "no burst after growtwin grew by 16 MiB: $(gov gov_state): $(gov gov_why)"
grep -q "app smalltwin grew" "$DLOG" && fail "smalltwin's 8 MiB growth made a burst (limit 12 MiB)"
[ "$(bursts)" -eq $((n + 1)) ] || fail "$(( $(bursts) - n )) bursts for one growth"
wait_until 120 state_is idle || fail "not idle after the growth burst: $(gov gov_state)"
verify_twin "$big"
stop_daemon || fail "daemon exited non-zero"
exit 0
