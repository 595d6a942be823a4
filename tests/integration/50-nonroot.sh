# Anyone may read status; only root may change the app list.
. "$(dirname "$0")/lib.sh"
need_root
need_ksm
ksm_save
command -v setpriv >/dev/null || skip "needs setpriv (util-linux)"

write_conf "[apps]" "app = ksmpnr"
start_daemon
chmod 755 "$TMP"
asnobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
asnobody "$BUILD/ksmplusctl" --socket "$SOCK" status > /dev/null || fail "non-root status failed"
out=$(asnobody "$BUILD/ksmplusctl" --socket "$SOCK" add gimp 2>&1); rc=$?
[ $rc = 1 ] || fail "non-root add: exit $rc, want 1"
echo "$out" | grep -qi "permission denied" || fail "non-root add: '$out'"
ctl list | grep -q gimp && fail "non-root add took effect"
exit 0
