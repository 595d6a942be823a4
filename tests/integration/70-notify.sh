# systemd's notify protocol without systemd: a fake NOTIFY_SOCKET receives
# READY after the first sweep, STATUS with the figures, WATCHDOG pings,
# RELOADING on SIGHUP and STOPPING at the end.
. "$(dirname "$0")/lib.sh"
need_root
need_ksm
ksm_save
command -v python3 >/dev/null || skip "needs python3 for the fake notify socket"

python3 - "$TMP/notify.sock" "$TMP/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(30)
with open(sys.argv[2], "a", buffering=1) as log:
    try:
        while True:
            msg = s.recv(4096).decode()
            log.write(msg.replace("\n", " ") + "\n")
            if "STOPPING=1" in msg:
                break
    except socket.timeout:
        pass
PY
track $!
wait_until 10 test -S "$TMP/notify.sock" || fail "fake notify socket not up"

write_conf "[apps]" "app = ksmpnotify"
p=$(start_twin ksmpnotify 2)
NOTIFY_SOCKET=$TMP/notify.sock WATCHDOG_USEC=1000000 start_daemon
wait_until 10 grep -q "READY=1" "$TMP/notify.log" || fail "no READY=1"
grep "STATUS=" "$TMP/notify.log" | grep -q "backend .*1 apps, 1 processes enrolled" ||
	fail "STATUS lacks the figures: $(grep STATUS= "$TMP/notify.log")"
wait_until 5 grep -q "WATCHDOG=1" "$TMP/notify.log" || fail "no watchdog pings"
kill -HUP "$DAEMON_PID"
wait_until 10 grep -q "RELOADING=1" "$TMP/notify.log" || fail "no RELOADING=1 on SIGHUP"
stop_daemon || fail "daemon exited non-zero"
wait_until 10 grep -q "STOPPING=1" "$TMP/notify.log" || fail "no STOPPING=1"
exit 0
