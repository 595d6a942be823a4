# Security domains: KSM merging across users is a side channel, so by
# default the processes of one uid only are enrolled. A nobody twin added
# while a root twin is enrolled is skipped with the reason; once the root
# one is gone it is enrolled (rescan). With cross_user = allow both are.
. "$(dirname "$0")/lib.sh"
need_root
need_ksm
ksm_save
command -v setpriv >/dev/null || skip "needs setpriv (util-linux)"

chmod 755 "$TMP"
mkdir -m 777 "$TMP/nb"
cp "$BUILD/tests/twin" "$TMP/ksmpcub"
chmod 755 "$TMP/ksmpcub"
# start_nobody NAME — a twin running as nobody; prints its PID
start_nobody() {
	st="$TMP/nb/$1.$$.$(date +%s%N)"
	setpriv --reuid=65534 --regid=65534 --clear-groups "$TMP/ksmpcub" --mib 4 --status "$st" \
		> /dev/null 2>&1 &
	pid=$!
	track "$pid"
	wait_until 20 grep -qs ready "$st" || fail "nobody's twin did not start"
	echo "$pid"
}
has_merge_any() { grep -q "ksm_merge_any: yes\|ksm_mergeable: yes" "/proc/$1/ksm_stat"; }

write_conf "[ksmplusd]" "rescan_interval_sec = 1" "[apps]" "app = ksmpcua"
start_daemon
a=$(start_twin ksmpcua 4)
wait_until 20 has_merge_any "$a" || fail "root twin $a not enrolled"
b=$(start_nobody b)
ctl add ksmpcub --runtime > /dev/null || fail "add failed"
why() { ctl status | grep -q "skipped.*cross-user: uid 65534 while uid 0 is enrolled; cross_user = allow to permit"; }
wait_until 20 why || fail "nobody's twin not shown skipped as cross-user: $(ctl status | tail -4)"
has_merge_any "$b" && fail "nobody's twin $b enrolled next to root's"
kill "$a"
wait_until 20 has_merge_any "$b" || fail "nobody's twin not enrolled once root's was gone: $(ctl status | tail -3)"
stop_daemon || fail "daemon exited non-zero"

write_conf "[ksmd]" "cross_user = allow" "[apps]" "app = ksmpcua ksmpcub"
start_daemon
c=$(start_twin ksmpcua 4)
d=$(start_nobody d)
wait_until 20 has_merge_any "$c" || fail "root twin $c not enrolled with cross_user = allow"
wait_until 20 has_merge_any "$d" || fail "nobody's twin $d not enrolled with cross_user = allow"
ctl status | grep -q "cross-user" && fail "cross-user refusal with cross_user = allow"
verify_twin "$c"
stop_daemon || fail "daemon exited non-zero"
exit 0
