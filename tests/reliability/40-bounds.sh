# An enrolled process with 60,000 VMAs forks 200 children: the daemon tracks
# all 201 (one pidfd each), keeps answering, and its RSS grows by less than
# 16 MiB. Why 16 MiB: a tracked process costs ~0.7 KiB and a pidfd (201:
# 140 KiB); the one range list built, the parent's while it is enrolled, is
# 60,000 x 16 B = 1 MB (twice that while it doubles, and ASan keeps freed
# blocks in quarantine). Keeping a range list per whole-process enrollment,
# as before, cost 1 MB per child: 200 MB. Then max_processes = 100 and 200
# forks of a plain forker: 100 tracked, the cap said once, status says so.
# (Probed with `list`, and drop_unprofitable = no: `status` and the profit
# check have exact savings computed, a page-table walk of every process,
# which took 30 s for 201 processes of 60,000 VMAs each in the main loop
# before figures moved to a worker thread; this scenario bounds tracking,
# not that walk.) It runs with the default governor (pressure, asserted):
# its tick reads every enrolled process's merging pages and statm, and must
# do so without allocating per read (an ASan daemon's quarantine kept 29 MiB
# of FILE buffers: 201 processes every 2 s) and without ksm_stat, whose
# ksm_mergeable line walks all 60,000 VMAs under the mmap lock (22 ms a
# read: seconds per tick in the main loop, and list answered late).
. "$(dirname "$0")/../integration/lib.sh"
need_root
need_ksm
ksm_save
N=200 VMAS=60000 BOUND_KIB=16384
[ "$(cat /proc/sys/vm/max_map_count)" -gt $((VMAS + 1000)) ] || skip "vm.max_map_count too low"
LIST_WORST_MS=0
list_probe() {
	s0=$(date +%s%N)
	# The plain client, as status_probe's (PROBE_CTL): under load an ASan
	# client takes 0.4 s just to start, which failed this probe at 1.1 s.
	"${PROBE_CTL:-$BUILD/ksmplusctl}" --socket "$SOCK" list > /dev/null 2>&1 ||
		fail "list refused while under attack"
	ms=$(( ($(date +%s%N) - s0) / 1000000 ))
	[ "$ms" -gt "$LIST_WORST_MS" ] && LIST_WORST_MS=$ms
	[ "$ms" -le 1000 ] || fail "list took $ms ms (limit 1000)"
}

cp "$BUILD/tests/forker" "$TMP/ksmpvmas"
cp "$BUILD/tests/forker" "$TMP/ksmpcap"
# policy = whole: this bounds tracking. BOUNDS_POLICY=census measures the
# census default (not in the suite: it does not hold this bound yet). Its
# census now leaves out the children's pages shared since fork, but the
# census of the parent alone (60,525 pages in 60,000 VMAs: an entry per
# page, per VMA and per 2 MiB range, its plan's arrays) peaks at ~10 MiB,
# which an ASan daemon keeps: +44 to +46 MiB (+23 MiB with ASan's
# quarantine at 16 MiB), against +102 MiB before (README, "Fork-heavy").
POLICY=${BOUNDS_POLICY:-whole}
write_conf "[ksmplusd]" "policy = $POLICY" "drop_unprofitable = no" "[apps]" "app = ksmpcap"
start_daemon
need_governor pressure       # status while nothing is enrolled: no walk to wait for
list_probe
rss0=$(daemon_rss_kib) fds0=$(daemon_fds)
st=$TMP/fork.st
"$TMP/ksmpvmas" --mib 2 --vmas $VMAS --children $N --status "$st" > /dev/null 2>&1 &
fp=$!
track "$fp"
wait_until 60 grep -qs ready "$st" || fail "forker did not start"
# Added once its VMAs exist (enrolled at exec, it would have had none yet).
ctl add ksmpvmas --runtime > /dev/null || fail "add failed"
enrolled() { grep -q "ksm_merge_any: yes\|ksm_mergeable: yes" "/proc/$fp/ksm_stat"; }
wait_until 60 enrolled || fail "forker $fp not enrolled"
kill -USR1 "$fp"
while ! grep -q "forked $N" "$st"; do list_probe; sleep 0.2; done
tracked() { list_probe; [ "$(daemon_fds)" -ge $((fds0 + N + 1)) ]; }
wait_until 120 tracked || fail "daemon holds $(daemon_fds) fds, not $fds0 + $((N + 1)) pidfds"
i=0
while [ $i -lt 20 ]; do list_probe; sleep 0.1; i=$((i + 1)); done   # a rescan or two
rss1=$(daemon_rss_kib) fds1=$(daemon_fds)
note "daemon RSS $rss0 -> $rss1 KiB, fds $fds0 -> $fds1 with $((N + 1)) processes of $VMAS VMAs"
[ $((rss1 - rss0)) -le $BOUND_KIB ] ||
	fail "daemon RSS grew by $((rss1 - rss0)) KiB (bound $BOUND_KIB) for $((N + 1)) processes"
kill "$fp"
wait_until 60 sh -c "[ \$(ls /proc/$DAEMON_PID/fd | wc -l) -le $((fds0 + 2)) ]" ||
	fail "daemon holds $(daemon_fds) fds after the forker exited"

# The cap.
write_conf "[ksmplusd]" "policy = $POLICY" "drop_unprofitable = no" "max_processes = 100" "[apps]" "app = ksmpvmas ksmpcap"
kill -HUP "$DAEMON_PID"
wait_until 20 grep -q "configuration reloaded" "$DLOG" || fail "reload not done"
st=$TMP/cap.st
"$TMP/ksmpcap" --mib 2 --children $N --status "$st" > /dev/null 2>&1 &
cp=$!
track "$cp"
wait_until 60 grep -qs ready "$st" || fail "forker did not start"
kill -USR1 "$cp"
while ! grep -q "forked $N" "$st"; do status_probe; sleep 0.2; done
capped() { ctl status | grep -q "at the max_processes cap (100): .* left alone"; }
wait_until 60 capped || fail "status does not show the cap: $(ctl status | head -12)"
n=$(ctl status --json | python3 -c '
import json, sys
print(len(json.load(sys.stdin).get("processes", [])))')
# At most 100 (a few fewer if tracked ones exited once the cap was hit).
[ "$n" -le 100 ] && [ "$n" -ge 90 ] || fail "$n processes tracked with max_processes = 100"
n=$(grep -c "the max_processes cap" "$DLOG")
[ "$n" = 1 ] || fail "the cap was logged $n times, not once"
status_probe
figures "children=$N vmas=$VMAS rss0_kib=$rss0 rss_tracked_kib=$rss1 fds0=$fds0 fds_tracked=$fds1 list_worst_ms=$LIST_WORST_MS"
stop_daemon || fail "daemon exited non-zero"
exit 0
