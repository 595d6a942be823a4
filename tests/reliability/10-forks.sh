# 1,000 forks of an enrolled process, status asked throughout: the daemon
# tracks them all, answers within 1 s, and its fds and RSS come back down
# when the children exit (nothing kept per dead process).
. "$(dirname "$0")/../integration/lib.sh"
need_root
need_ksm
ksm_save
N=1000

cp "$BUILD/tests/forker" "$TMP/ksmprfork"
write_conf "[apps]" "app = ksmprfork"
start_daemon
fds0=$(daemon_fds)
st=$TMP/fork.st
"$TMP/ksmprfork" --mib 2 --children $N --status "$st" > /dev/null 2>&1 &
fp=$!
track "$fp"
wait_until 20 grep -qs ready "$st" || fail "forker did not start"
enrolled() { grep -q "ksm_merge_any: yes\|ksm_mergeable: yes" "/proc/$fp/ksm_stat"; }
wait_until 30 enrolled || fail "forker $fp not enrolled"

procs() { ctl status --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(1 for p in d.get("processes", []) if p.get("app") == "ksmprfork"))'; }
kill -USR1 "$fp"
while ! grep -q "forked $N" "$st"; do status_probe; sleep 0.2; done
tracked() { status_probe; n=$(procs); [ "${n:-0}" -ge $((N + 1)) ]; }
wait_until 60 tracked || fail "daemon tracks $(procs) of $((N + 1)) processes"
fds_peak=$(daemon_fds) rss_peak=$(daemon_rss_kib)

kill -USR2 "$fp"
wait_until 60 grep -q "reaped $N" "$st" || fail "children not reaped: $(cat "$st")"
gone() { status_probe; n=$(procs); [ -n "$n" ] && [ "$n" -le 1 ]; }
wait_until 60 gone || fail "daemon still tracks $(procs) processes after the children exited"
fds1=$(daemon_fds)
# One pidfd per live process; none may outlive its process.
[ "$fds1" -le $((fds0 + 2)) ] || fail "daemon holds $fds1 fds after the children exited (started with $fds0)"
figures "children=$N fds_peak=$fds_peak rss_peak_kib=$rss_peak fds_after=$fds1"
stop_daemon || fail "daemon exited non-zero"
exit 0
