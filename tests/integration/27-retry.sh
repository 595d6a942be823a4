# A process that cannot be enrolled for now (stopped by job control when the
# app is added) is reported with the reason, once, and enrolled by a retry
# once it runs again: "later" must mean later, not never. Log lines on
# stderr are timestamped.
. "$(dirname "$0")/lib.sh"
need_root
need_ksm
ksm_save

write_conf "[ksmd]" "run = 1"
start_daemon
p=$(start_twin ksmpstop 2)
kill -STOP "$p"
wait_until 10 grep -q "State:.*T" "/proc/$p/status" || fail "twin $p did not stop"
ctl add ksmpstop --runtime > /dev/null || fail "add failed"
skipped() { ctl status | grep -q "stopped"; }
wait_until 10 skipped || fail "status does not say why $p waits: $(ctl status)"
sleep 1         # a few retries pass while it stays stopped
kill -CONT "$p"
enrolled() { grep -q "ksm_merge_any: yes\|ksm_mergeable: yes" "/proc/$p/ksm_stat"; }
wait_until 30 enrolled || fail "$p not enrolled after SIGCONT"
verify_twin "$p"
n=$(grep -c "not enrolling ksmpstop\[$p\]" "$DLOG")
[ "$n" = 1 ] || fail "the skip of $p was logged $n times, not once"
# stderr lines carry a timestamp (the journal adds its own)
grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} ksmplusd: ' "$DLOG" ||
	fail "no timestamps in the daemon's stderr log"
stop_daemon || fail "daemon exited non-zero"
exit 0
