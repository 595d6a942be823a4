# Only where it saves memory: a process whose pages are all distinct costs
# rmap_items and merges nothing, so it is dropped after a few full scans;
# a dense twin pair stays enrolled.
. "$(dirname "$0")/lib.sh"
need_root
need_ksm
ksm_save

write_conf "[ksmplusd]" "rescan_interval_sec = 1" "profit_min_scans = 2" \
	"[apps]" "app = ksmpdense ksmpsparse" "[ksmd]" "pages_to_scan = 5000" "sleep_millisecs = 10"
a=$(start_twin ksmpdense 8)
b=$(start_twin ksmpdense 8)
s=$(start_twin ksmpsparse 8 --distinct)
start_daemon
enrolled() { grep -q "ksm_merge_any: yes\|ksm_mergeable: yes" "/proc/$1/ksm_stat"; }
for p in $a $b $s; do enrolled "$p" || fail "$p not enrolled at start"; done
dropped() { ctl status | grep -q "dropped"; }
wait_until 60 dropped || fail "sparse process not dropped: $(ctl status)"
ctl status | grep "dropped" | grep -q "$s" || fail "the wrong process was dropped: $(ctl status)"
enrolled "$s" && fail "dropped process $s still enrolled"
for p in $a $b; do enrolled "$p" || fail "dense process $p dropped"; done
[ "$(merging "$a")" -gt 1900 ] || fail "dense twins not merging: $(merging "$a")"
verify_twin "$s"
grep -q "dropped ksmpsparse\[$s\]" "$DLOG" || fail "drop not logged"
exit 0
