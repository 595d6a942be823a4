# Only where it saves memory, judged per app: an app whose pages are all
# distinct costs rmap_items and merges nothing, so once that loss has lasted
# a few full scans and a minimum time, every process of it is dropped; after
# its back-off it is enrolled and judged again (and dropped again). A dense
# app stays. An app mixing a losing process with winning ones is judged as a
# whole and keeps all of them (a browser's UI process may lose, the browser
# wins). policy = whole: the profit check judges whole-process enrollment (a
# census app's plan is its profit check, range by range: 90-census).
. "$(dirname "$0")/lib.sh"
need_root
need_ksm
ksm_save

write_conf "[ksmplusd]" "policy = whole" "rescan_interval_sec = 1" "profit_min_scans = 2" "profit_min_sec = 2" \
	"profit_backoff_sec = 3" \
	"[apps]" "app = ksmpdense ksmpsparse ksmpmixed" "[ksmd]" "pages_to_scan = 5000" \
	"sleep_millisecs = 10"
a=$(start_twin ksmpdense 8)
b=$(start_twin ksmpdense 8)
s=$(start_twin ksmpsparse 80 --distinct)   # 1.25 MiB of rmap_items: past the 1 MiB margin
s2=$(start_twin ksmpsparse 16 --distinct --seed 7)
m1=$(start_twin ksmpmixed 8 --seed 3)
m2=$(start_twin ksmpmixed 8 --seed 3)
m3=$(start_twin ksmpmixed 4 --distinct --seed 9)
start_daemon
enrolled() { grep -q "ksm_merge_any: yes\|ksm_mergeable: yes" "/proc/$1/ksm_stat"; }
for p in $a $b $s $s2 $m1 $m2 $m3; do enrolled "$p" || fail "$p not enrolled at start"; done
dropped() { n=$(grep -c "dropped ksmpsparse\[" "$DLOG"); [ "$n" -ge 2 ]; }
wait_until 60 dropped || fail "sparse app not dropped: $(ctl status)"
for p in $s $s2; do
	ctl status | grep "dropped" | grep -q "^ *$p " || fail "$p not shown dropped: $(ctl status)"
	enrolled "$p" && fail "dropped process $p still enrolled"
done
grep -q "unprofitable: app loses" "$DLOG" || fail "the drop does not say why"
for p in $a $b; do enrolled "$p" || fail "dense process $p dropped"; done
[ "$(merging "$a")" -gt 1900 ] || fail "dense twins not merging: $(merging "$a")"
# the mixed app wins as a whole: its losing process stays enrolled
for p in $m1 $m2 $m3; do enrolled "$p" || fail "mixed app's $p dropped"; done
grep -q "dropped ksmpmixed" "$DLOG" && fail "the mixed app was dropped"
verify_twin "$s"

# after the back-off: enrolled again, judged again, dropped again
again() { grep -q "app ksmpsparse: enrolling again" "$DLOG"; }
wait_until 30 again || fail "dropped app not retried after its back-off"
redropped() { n=$(grep -c "dropped ksmpsparse\[" "$DLOG"); [ "$n" -ge 4 ]; }
wait_until 60 redropped || fail "retried app not dropped again: $(ctl status)"
verify_twin "$s"
exit 0
