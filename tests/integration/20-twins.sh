# The main user path on real KSM: two copies of a workload with 20 MiB of
# identical pages each, `ksmplusctl add`, >= 95% of their 10,240 pages merge
# within 60 s, memory unchanged; `remove --unmerge` undoes it.
. "$(dirname "$0")/lib.sh"
need_root
need_ksm
ksm_save

write_conf "[ksmd]" "pages_to_scan = 5000" "sleep_millisecs = 10"
start_daemon
a=$(start_twin ksmptwin 20)
b=$(start_twin ksmptwin 20)

ctl add ksmptwin || fail "ksmplusctl add failed"
grep -q "ksmptwin" "$CONF.d/90-ksmplusctl.conf" || fail "add not persisted in the drop-in"
start=$(date +%s)
merged() { [ $(( $(merging "$a") + $(merging "$b") )) -ge 9728 ]; }   # 95% of 10240
wait_until 60 merged || fail "only $(( $(merging "$a") + $(merging "$b") )) of 10240 pages merging after 60 s"
note "merged $(( $(merging "$a") + $(merging "$b") )) pages in $(( $(date +%s) - start )) s"
verify_twin "$a"; verify_twin "$b"

out=$(ctl status) || fail "status failed"
echo "$out" | grep -q "ksmptwin" || fail "status lacks the app: $out"
json=$(ctl status --json) || fail "status --json failed"
echo "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d)' >/dev/null || fail "status --json is not JSON: $json"
ctl list | grep -q ksmptwin || fail "list lacks the app"

out=$(ctl remove ksmptwin --unmerge) || fail "remove --unmerge failed"
note "$out"
check_undone "$out" 2 $a $b
unmerged() { [ "$(merging "$a")" = 0 ] && [ "$(merging "$b")" = 0 ]; }
wait_until 30 unmerged || fail "still merging after remove --unmerge: $(merging "$a") $(merging "$b")"
verify_twin "$a"; verify_twin "$b"
grep -q "ksmptwin" "$CONF.d/90-ksmplusctl.conf" && fail "remove not persisted"
# An undo that went on in the background may have unmerged the pages and
# not yet taken back the merge setting.
unenrolled() { ! grep -q "ksm_merge_any: yes\|ksm_mergeable: yes" "/proc/$1/ksm_stat"; }
for p in $a $b; do wait_until 30 unenrolled "$p" || fail "$p still enrolled"; done
stop_daemon || fail "daemon exited non-zero"
exit 0
