# Anyone may read status, but a non-root user sees only their own processes;
# only root may change the app list; a user over the per-uid connection cap
# is told why; the socket's directory must be root's.
. "$(dirname "$0")/lib.sh"
need_root
need_ksm
ksm_save
command -v setpriv >/dev/null || skip "needs setpriv (util-linux)"
PY=/usr/bin/python3         # root's python3 may live where nobody cannot read
[ -x "$PY" ] || skip "needs $PY"
RUNDIR=/run/ksmplus-test.$$
test_cleanup() { rm -rf "$RUNDIR"; }

write_conf "[apps]" "app = ksmpnr"
start_daemon
chmod 755 "$TMP"
NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
asnobody() { $NOBODY "$@"; }
asnobody "$BUILD/ksmplusctl" --socket "$SOCK" status > /dev/null || fail "non-root status failed"
out=$(asnobody "$BUILD/ksmplusctl" --socket "$SOCK" add gimp 2>&1); rc=$?
[ $rc = 1 ] || fail "non-root add: exit $rc, want 1"
echo "$out" | grep -qi "permission denied" || fail "non-root add: '$out'"
ctl list | grep -q gimp && fail "non-root add took effect"

# One process of the app as root, one as nobody.
rootpid=$(start_twin ksmpnr 4)
nst=$TMP/nobody.st
: > "$nst"; chown 65534 "$nst"
# not through asnobody: $! must be the process itself (setpriv execs it)
$NOBODY "$TMP/ksmpnr" --mib 4 --status "$nst" > /dev/null 2>&1 &
nbpid=$!
track "$nbpid"
wait_until 20 grep -q ready "$nst" || fail "nobody's twin did not start"
pids_json() { "$@" status --json | "$PY" -c '
import json, sys
print(" ".join(str(p["pid"]) for p in json.load(sys.stdin)["processes"]))'; }
both() { p=$(pids_json ctl); echo " $p " | grep -q " $rootpid " && echo " $p " | grep -q " $nbpid "; }
wait_until 20 both || fail "root does not see both processes: $(pids_json ctl)"

# Like hidepid: nobody sees its own process, not root's; in JSON and text.
p=$(pids_json asnobody "$BUILD/ksmplusctl" --socket "$SOCK")
[ "$p" = "$nbpid" ] || fail "nobody's status --json lists '$p', want only $nbpid (root's: $rootpid)"
txt=$(asnobody "$BUILD/ksmplusctl" --socket "$SOCK" status)
echo "$txt" | grep -q "^ *$nbpid " || fail "nobody's status does not list its $nbpid: $txt"
echo "$txt" | grep -q "^ *$rootpid " && fail "nobody's status lists root's $rootpid: $txt"
echo "$txt" | grep -q "yours only" || fail "nobody's status does not say the list is filtered"
ctl status | grep -q "^ *$nbpid " || fail "root's status does not list nobody's $nbpid"

# Over the per-uid cap: nobody holds 4 connections (reconnecting whenever
# the deadline cuts one); its ksmplusctl is refused, saying why, and exits
# 1; root is served meanwhile.
$NOBODY "$PY" - "$SOCK" <<'PY' > /dev/null 2>&1 &
import socket, sys, time
socks = []
while True:
    socks = [s for s in socks if s.fileno() >= 0]
    while len(socks) < 4:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sys.argv[1])
        s.send(b"op=st")
        socks.append(s)
    for s in socks:
        s.setblocking(False)
        try:
            if s.recv(4096) == b"":
                s.close()
        except BlockingIOError:
            pass
        except OSError:
            s.close()
    time.sleep(0.01)
PY
holder=$!
track "$holder"
refused() {
	out=$(asnobody "$BUILD/ksmplusctl" --socket "$SOCK" status 2>&1); rc=$?
	[ $rc = 1 ] && echo "$out" | grep -q "too many connections from uid 65534 (at most 4 at once)"
}
wait_until 20 refused || fail "nobody over its cap: exit $rc, '$out'"
ctl status > /dev/null || fail "root refused while nobody is at its cap"
kill "$holder"

# A socket directory others can write is refused at start, naming it.
mkdir "$TMP/open"; chmod 1777 "$TMP/open"
out=$("$BUILD/ksmplusd" --config "$CONF" --socket "$TMP/open/ksmplusd.sock" 2>&1); rc=$?
[ $rc != 0 ] || fail "ksmplusd started with its socket in a world-writable directory"
echo "$out" | grep -q "$TMP/open is writable by others" || fail "unclear error: '$out'"
[ -e "$TMP/open/ksmplusd.sock" ] && fail "socket created in $TMP/open"

# Under /run, like the default /run/ksmplusd: created 0755, socket 0666.
stop_daemon || fail "daemon exited non-zero"
SOCK=$RUNDIR/ksmplusd.sock
start_daemon
[ "$(stat -c %a "$RUNDIR")" = 755 ] || fail "$RUNDIR mode $(stat -c %a "$RUNDIR")"
[ "$(stat -c %a "$SOCK")" = 666 ] || fail "$SOCK mode $(stat -c %a "$SOCK")"
asnobody "$BUILD/ksmplusctl" --socket "$SOCK" status > /dev/null || fail "status on $SOCK"
exit 0
