# An enrolled process that forks a pool of 2,000 children (a browser, a
# multiprocessing pool): the daemon tracks them as they appear, survives
# (this once crashed it: a pointer into the tracker array was held across
# the array's growth), sees them go, and still enrolls a new app afterwards.
# Run under ASan+UBSan too by check-asan.
. "$(dirname "$0")/lib.sh"
need_root
need_ksm
ksm_save
N=2000

cp "$BUILD/tests/forker" "$TMP/ksmpfork"
write_conf "[apps]" "app = ksmpfork"
# systemd's default soft fd limit: one pidfd per child would exhaust it.
ulimit -Sn 1024
start_daemon
st=$TMP/fork.st
"$TMP/ksmpfork" --mib 2 --children $N --status "$st" > /dev/null 2>&1 &
fp=$!
track "$fp"
wait_until 20 grep -qs ready "$st" || fail "forker did not start"
enrolled() { grep -q "ksm_merge_any: yes\|ksm_mergeable: yes" "/proc/$fp/ksm_stat"; }
wait_until 30 enrolled || fail "forker $fp not enrolled"

kill -USR1 "$fp"
wait_until 120 grep -q "forked $N" "$st" || fail "forker did not fork $N children: $(cat "$st")"
alive() { kill -0 "$DAEMON_PID" 2>/dev/null || { grep -A12 "ERROR: AddressSanitizer" "$DLOG" >&2; fail "daemon died"; }; }
# procs runs in $(...): it must not call fail (that exits only the subshell).
procs() { ctl status --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(1 for p in d.get("processes", []) if p.get("app") == "ksmpfork"
          and p.get("state") == "enrolled"))'; }
tracked() { alive; n=$(procs); [ "${n:-0}" -ge "$1" ]; }
# Every child inherits the enrollment; the daemon tracks each one.
wait_until 60 tracked $((N + 1)) || fail "daemon tracks $(procs) of $((N + 1)) processes"
kill -0 "$DAEMON_PID" || fail "daemon died during the fork storm"
note "tracked $(procs) enrolled processes of the pool"

kill -USR2 "$fp"
wait_until 60 grep -q "reaped $N" "$st" || fail "children not reaped: $(cat "$st")"
gone() { alive; n=$(procs); [ -n "$n" ] && [ "$n" -le 1 ]; }
wait_until 60 gone || fail "daemon still tracks $(procs) processes after the children exited"
kill -0 "$DAEMON_PID" || fail "daemon died when the children exited"

# Still working: a new app is enrolled.
tw=$(start_twin ksmpafter 2)
ctl add ksmpafter --runtime > /dev/null || fail "add after the fork storm failed"
after() { grep -q "ksm_merge_any: yes\|ksm_mergeable: yes" "/proc/$tw/ksm_stat"; }
wait_until 30 after || fail "new app ($tw) not enrolled after the fork storm: $(cat /proc/$tw/ksm_stat)"
stop_daemon || fail "daemon exited non-zero"
exit 0
