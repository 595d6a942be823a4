# [app NAME] children = no: the app is its matching processes only. A
# browser-like parent is enrolled (by range, so that children exec'd later
# inherit nothing), its renderers are not, before or after add.
. "$(dirname "$0")/lib.sh"
need_root
need_ksm
ksm_save

cp "$BUILD/tests/browser" "$TMP/ksmpsolo"
cp "$BUILD/tests/twin" "$TMP/ksmpsolor"
write_conf "[apps]" "app = ksmpsolo" "[app ksmpsolo]" "children = no"
mkdir "$TMP/s"
"$TMP/ksmpsolo" --renderer "$TMP/ksmpsolor" --children 2 --mib 2 --status "$TMP/s" --on-signal \
	> /dev/null 2>&1 &
bp=$!
track "$bp"
wait_until 20 grep -qs ready "$TMP/s/browser" || fail "browser did not start"
start_daemon
mergeable() { grep -q "ksm_mergeable: yes" "/proc/$1/ksm_stat"; }
wait_until 20 mergeable "$bp" || fail "$bp not enrolled"
grep -q "ksm_merge_any: yes" "/proc/$bp/ksm_stat" && fail "$bp enrolled whole: its children would inherit"
kill -USR1 "$bp"
for i in 0 1; do wait_until 20 grep -qs ready "$TMP/s/r.$i" || fail "renderer $i did not start"; done
ctl reload > /dev/null || fail "reload failed"    # a sweep: it would take them now
for i in 0 1; do
	r=$(awk '{ print $2 }' "$TMP/s/r.$i")
	grep -q "ksm_merge_any: yes\|ksm_mergeable: yes" "/proc/$r/ksm_stat" && fail "renderer $r enrolled"
	ctl status | grep -q "^ *$r " && fail "renderer $r listed in status"
done
stop_daemon || fail "daemon exited non-zero"
exit 0
