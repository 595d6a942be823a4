# An enrolled process with 60,000 VMAs forks 200 children: the daemon tracks
# all 201, answers status within 1 s, and its RSS grows by less than 16 MiB.
# Why 16 MiB: a tracked process costs ~0.7 KiB and a pidfd (201: 140 KiB);
# the one range list ever built, the parent's while it is enrolled, is 60,000
# x 16 B = 1 MB (twice that while it doubles, and ASan keeps freed blocks in
# quarantine). Keeping a range list per whole-process enrollment, as before,
# cost 1 MB per child: 200 MB. Then with max_processes = 100, 200 more
# forks: 100 tracked, the cap said once in the log and in status.
. "$(dirname "$0")/../integration/lib.sh"
need_root
need_ksm
ksm_save
N=200 VMAS=60000 BOUND_KIB=16384
[ "$(cat /proc/sys/vm/max_map_count)" -gt $((VMAS + 1000)) ] || skip "vm.max_map_count too low"

cp "$BUILD/tests/forker" "$TMP/ksmpvmas"
write_conf "[apps]" "app = ksmpvmas"
start_daemon
status_probe
rss0=$(daemon_rss_kib) fds0=$(daemon_fds)
st=$TMP/fork.st
"$TMP/ksmpvmas" --mib 2 --vmas $VMAS --children $N --status "$st" > /dev/null 2>&1 &
fp=$!
track "$fp"
wait_until 60 grep -qs ready "$st" || fail "forker did not start"
enrolled() { grep -q "ksm_merge_any: yes\|ksm_mergeable: yes" "/proc/$fp/ksm_stat"; }
wait_until 60 enrolled || fail "forker $fp not enrolled"

procs() { ctl status --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(1 for p in d.get("processes", []) if p.get("app") == "ksmpvmas"))'; }
kill -USR1 "$fp"
while ! grep -q "forked $N" "$st"; do status_probe; sleep 0.2; done
tracked() { status_probe; n=$(procs); [ "${n:-0}" -ge $((N + 1)) ]; }
wait_until 120 tracked || fail "daemon tracks $(procs) of $((N + 1)) processes"
status_probe
rss1=$(daemon_rss_kib) fds1=$(daemon_fds)
note "daemon RSS $rss0 -> $rss1 KiB, fds $fds0 -> $fds1 with $((N + 1)) processes of $VMAS VMAs"
[ $((rss1 - rss0)) -le $BOUND_KIB ] ||
	fail "daemon RSS grew by $((rss1 - rss0)) KiB (bound $BOUND_KIB) for $((N + 1)) processes"

# The cap: fewer than the 201 running may be tracked; the rest are refused.
kill -USR2 "$fp"
wait_until 60 grep -q "reaped $N" "$st" || fail "children not reaped: $(cat "$st")"
gone() { n=$(procs); [ -n "$n" ] && [ "$n" -le 1 ]; }
wait_until 60 gone || fail "daemon still tracks $(procs) processes after the children exited"
echo "[ksmplusd]" >> "$CONF"; echo "max_processes = 100" >> "$CONF"
kill -HUP "$DAEMON_PID"
wait_until 20 grep -q "configuration reloaded" "$DLOG" || fail "reload not done"
kill -USR1 "$fp"
while ! grep -q "forked $N" "$st"; do status_probe; sleep 0.2; done
capped() { ctl status | grep -q "at the max_processes cap (100): .* left alone"; }
wait_until 60 capped || fail "status does not show the cap: $(ctl status | head -12)"
n=$(procs)
[ "$n" = 100 ] || fail "$n processes tracked with max_processes = 100"
n=$(grep -c "the max_processes cap" "$DLOG")
[ "$n" = 1 ] || fail "the cap was logged $n times, not once"
status_probe
figures "children=$N vmas=$VMAS rss0_kib=$rss0 rss_tracked_kib=$rss1 fds0=$fds0 fds_tracked=$fds1"
stop_daemon || fail "daemon exited non-zero"
exit 0
