# 1,000 forks of an enrolled process, status asked throughout: the daemon
# tracks them all, answers within 1 s, and its fds and RSS come back down
# when the children exit (nothing kept per dead process). With the default
# governor (pressure, asserted): the parent's enrollment costs its pidfd and
# the watch of its memory cgroup (v1: an eventfd and memory.pressure_level),
# which the children share; once the parent exits too, the watch goes and
# the fds are back to where they started.
. "$(dirname "$0")/../integration/lib.sh"
need_root
need_ksm
ksm_save
N=1000

cp "$BUILD/tests/forker" "$TMP/ksmprfork"
write_conf "[apps]" "app = ksmprfork"
start_daemon
need_governor pressure
fds0=$(daemon_fds) watches0=$(gov_field gov_watches)
st=$TMP/fork.st
"$TMP/ksmprfork" --mib 2 --children $N --status "$st" > /dev/null 2>&1 &
fp=$!
track "$fp"
wait_until 20 grep -qs ready "$st" || fail "forker did not start"
enrolled() { grep -q "ksm_merge_any: yes\|ksm_mergeable: yes" "/proc/$fp/ksm_stat"; }
wait_until 30 enrolled || fail "forker $fp not enrolled"
# status answers after the enrollment's loop turn: the watch is in place
fds_enrolled=$(daemon_fds) watches1=$(gov_field gov_watches)
[ "$watches1" -ge "$watches0" ] || fail "$watches1 governor watches, fewer than at start"

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
# One pidfd per live process; none may outlive its process. (+1: a
# client's connection being closed.)
[ "$fds1" -le $((fds_enrolled + 1)) ] ||
	fail "daemon holds $fds1 fds after the children exited ($fds0 at start, $fds_enrolled with the parent enrolled)"
kill "$fp"
wait_until 30 sh -c "[ \$(ls /proc/$DAEMON_PID/fd | wc -l) -le $((fds0 + 1)) ]" ||
	fail "daemon holds $(daemon_fds) fds after the forker exited (started with $fds0)"
watches2=$(gov_field gov_watches)
[ "$watches2" = "$watches0" ] ||
	fail "$watches2 governor watches after the forker exited, $watches0 at start"
figures "children=$N fds_peak=$fds_peak rss_peak_kib=$rss_peak fds_enrolled=$fds_enrolled fds_after=$fds1 watches=$watches0/$watches1/$watches2"
stop_daemon || fail "daemon exited non-zero"
exit 0
