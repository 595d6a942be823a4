# Under systemd (JOURNAL_STREAM set) the log goes to the journal with
# structured fields, so that `journalctl -u ksmplusd APP=gimp` works:
# MESSAGE_ID, APP, PID, BACKEND and REASON on enroll / skip. journald is a
# stand-in here (journal_recv.py on /run/systemd/journal/socket, in a mount
# namespace of the daemon's own: the host's /run is not touched).
. "$(dirname "$0")/lib.sh"
need_root
need_ksm
command -v unshare > /dev/null || skip "no unshare"
ksm_save
HERE=$(cd "$(dirname "$0")" && pwd)
J=$TMP/journal.jsonl
ENROLLED=a1713412788545768c4eae8e1ed5b136
SKIPPED=09fdb51ce61c47a5872c774f52abf0d4

write_conf "[ksmd]" "pages_to_scan = 5000" "sleep_millisecs = 10" "[apps]" "app = ksmpjournal"
a=$(start_twin ksmpjournal 4)
b=$(start_twin ksmpjournal 4)
kill -STOP "$b"         # stopped: "later", logged as a skip
# exec: the namespace's shell becomes the daemon, so DAEMON_PID is it
unshare -m sh -c "mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/journal &&
	{ python3 '$HERE/journal_recv.py' /run/systemd/journal/socket '$J' & } &&
	until [ -e '$J.ready' ]; do sleep 0.05; done &&
	JOURNAL_STREAM=8:1 exec '$BUILD/ksmplusd' --config '$CONF' --socket '$SOCK'" > "$DLOG" 2>&1 &
DAEMON_PID=$!
# the receiver lives in the daemon's namespace: kill it with the test
wait_until 20 test -e "$J.ready" || fail "journal stand-in did not start"
track "$(pgrep -f "journal_recv.py /run/systemd/journal/socket $J")"

# field FILTER KEY — KEY of the first entry matching the python FILTER
entry() {
	python3 -c 'import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if eval(sys.argv[2]):
        print(e.get(sys.argv[3], "")); break' "$J" "$1" "$2"
}
ready() { [ -n "$(entry '"ready" in e["MESSAGE"]' MESSAGE 2>/dev/null)" ]; }
wait_until 20 ready || fail "no 'ready' in the journal: $(cat "$J" 2>/dev/null); stderr: $(cat "$DLOG")"
[ -s "$DLOG" ] && fail "lines went to stderr instead of the journal: $(cat "$DLOG")"

en="e.get('MESSAGE_ID') == '$ENROLLED' and e.get('PID') == '$a'"
[ "$(entry "$en" APP)" = ksmpjournal ] || fail "no enroll entry with APP for $a: $(cat "$J")"
[ "$(entry "$en" BACKEND)" = ptrace ] || [ "$(entry "$en" BACKEND)" = process_madvise ] ||
	fail "enroll entry's BACKEND: $(entry "$en" BACKEND)"
[ "$(entry "$en" PRIORITY)" = 6 ] || fail "enroll entry's PRIORITY: $(entry "$en" PRIORITY)"
entry "$en" MESSAGE | grep -q "^enrolled ksmpjournal\[$a\] (app ksmpjournal" ||
	fail "enroll entry's MESSAGE: $(entry "$en" MESSAGE)"

sk="e.get('MESSAGE_ID') == '$SKIPPED' and e.get('PID') == '$b'"
[ "$(entry "$sk" APP)" = ksmpjournal ] || fail "no skip entry for the stopped $b: $(cat "$J")"
entry "$sk" REASON | grep -q "stopped" || fail "skip entry's REASON: $(entry "$sk" REASON)"
[ "$(entry "$sk" PRIORITY)" = 4 ] || fail "skip entry's PRIORITY: $(entry "$sk" PRIORITY)"
kill -CONT "$b"
wait_until 60 sh -c "grep -q '\"MESSAGE_ID\": \"$ENROLLED\".*\"PID\": \"$b\"\|\"PID\": \"$b\".*\"MESSAGE_ID\": \"$ENROLLED\"' '$J'" ||
	fail "the stopped process was not enrolled once continued: $(cat "$J")"

stop_daemon || fail "daemon exited non-zero"
verify_twin "$a"; verify_twin "$b"
exit 0
