# SIGHUP reloads; a bad config on reload keeps the running one and says
# file:line.
. "$(dirname "$0")/lib.sh"
need_root
need_ksm
ksm_save

write_conf "[apps]" "app = ksmpone"
start_daemon
write_conf "[apps]" "app = ksmpone" "app = ksmptwo"
kill -HUP "$DAEMON_PID"
wait_until 10 sh -c "'$BUILD/ksmplusctl' --socket '$SOCK' list | grep -q ksmptwo" || fail "reload did not pick up ksmptwo"
write_conf "[apps]" "app = ksmpone" "[nonsense]"
kill -HUP "$DAEMON_PID"
wait_until 10 grep -q "$CONF:3:" "$DLOG" || fail "bad reload not reported with file:line"
kill -0 "$DAEMON_PID" || fail "daemon died on a bad reload"
ctl list | grep -q ksmptwo || fail "running config lost after a bad reload"
out=$(ctl reload 2>&1) && fail "ksmplusctl reload of a bad config succeeded"
echo "$out" | grep -q "$CONF:3:" || fail "ksmplusctl reload: no file:line in '$out'"
stop_daemon || fail "daemon exited non-zero"
exit 0
