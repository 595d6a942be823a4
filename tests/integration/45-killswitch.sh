# The kill switch: `ksmplusctl unmerge --all` undoes every enrollment (also
# children that inherited it), has the kernel unmerge every KSM page, puts
# ksmd's knobs back as they were, and enrolls nothing until `resume`; the
# daemon keeps running and answering meanwhile.
. "$(dirname "$0")/lib.sh"
need_root
need_ksm
ksm_save
run0=$(cat "$KSM/run"); pts0=$(cat "$KSM/pages_to_scan")

write_conf "[apps]" "app = ksmpkill2" "[ksmd]" "pages_to_scan = 4000" "sleep_millisecs = 10"
start_daemon
a=$(start_twin ksmpkill2 10)
b=$(start_twin ksmpkill2 10)
merged() { [ $(( $(merging "$a") + $(merging "$b") )) -ge 4864 ]; }   # 95% of 5120
wait_until 60 merged || fail "twins not merged: $(merging "$a") $(merging "$b")"

out=$(ctl unmerge --all) || fail "unmerge --all failed: $out"
note "$out"
# What did not fit in the command's time goes on in the background (a
# loaded machine), said apart from what was unmerged.
check_undone "$out" 2 $a $b
enrolled() { grep -q "ksm_merge_any: yes\|ksm_mergeable: yes" "/proc/$1/ksm_stat"; }
unenrolled() { ! enrolled "$1"; }
for p in $a $b; do wait_until 30 unenrolled "$p" || fail "$p still enrolled"; done
# run = 2 unmerged everything: no KSM page was left anywhere
echo "$out" | grep -q "pages_sharing now 0)" || fail "KSM pages left after unmerge --all: $out"
[ "$(cat "$KSM/run")" = "$run0" ] || fail "run is $(cat "$KSM/run"), was $run0"
[ "$(cat "$KSM/pages_to_scan")" = "$pts0" ] || fail "pages_to_scan $(cat "$KSM/pages_to_scan"), was $pts0"
verify_twin "$a"; verify_twin "$b"
ctl status | grep -q "paused" || fail "status does not say paused"

# Paused: a new process of the app is not enrolled, even at exec.
c=$(start_twin ksmpkill2 2)
ctl reload > /dev/null || fail "reload failed"   # a full sweep: it would enroll $c now
grep -q "ksm_merge_any: yes" "/proc/$c/ksm_stat" && fail "$c enrolled while paused"
ctl unmerge > /dev/null 2>&1 && fail "unmerge without --all accepted"

ctl resume > /dev/null || fail "resume failed"
for p in $a $b $c; do wait_until 20 enrolled "$p" || fail "$p not enrolled after resume"; done
[ "$(cat "$KSM/pages_to_scan")" = 4000 ] || fail "knobs not applied again at resume"
stop_daemon || fail "daemon exited non-zero"
exit 0
