# Processes killed by their parent the moment they show up enrolled: some die
# while ksmplusd still has them seized. Their parent must still be able to
# reap them at once (a traced zombie is reported to the tracer first), and
# the daemon must keep going.
. "$(dirname "$0")/lib.sh"
need_root
need_ksm
ksm_save
[ -x "$BUILD/bench/exec_latency" ] || make -s -C "$(dirname "$0")/../.." BUILD="$BUILD" "$BUILD/bench/exec_latency" >/dev/null 2>&1 ||
	skip "cannot build exec_latency"
cp "$BUILD/tests/twin" "$TMP/ksmpkill"
# policy = whole: the race is the prctl injected right after exec, which
# happens for each launch within milliseconds; a census app is advised by
# range at its census (batched, seconds later, by design), and the kill under
# a range injection is reliability/70-census's (processes killed under plans).
write_conf "[ksmplusd]" "policy = whole" "[apps]" "app = ksmpkill"
start_daemon
out=$(timeout 120 "$BUILD/bench/exec_latency" "$TMP/ksmpkill" 100 3000 10000) ||
	fail "launcher hung or failed (a killed target left traced?): rc=$? '$out'"
set -- $out
[ "$4" = 0 ] || fail "$4 of 100 launches never showed up enrolled"
note "100 launches killed on enrollment: p50 $1 ms, p99 $2 ms"
kill -0 "$DAEMON_PID" || fail "daemon died"
ctl status > /dev/null || fail "daemon not answering"
for p in $(pgrep -f "$TMP/ksmpkill"); do
	grep -q "TracerPid:[[:space:]]*$DAEMON_PID" "/proc/$p/status" && fail "$p left traced"
done
exit 0
