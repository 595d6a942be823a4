# An app can be a cgroup (`app = cgroup:GLOB`): every process in a matching
# cgroup is enrolled, one already there at start and one moved in later
# (nothing announces a move: the rescan timer finds it). The test cgroup is
# made under the cgroup2 mount (/sys/fs/cgroup on pure v2 systems,
# /sys/fs/cgroup/unified on hybrid ones) and removed at the end.
. "$(dirname "$0")/lib.sh"
need_root
need_ksm
ksm_save
CG2=$(awk '$9 == "cgroup2" && $4 == "/" { print $5; exit }' /proc/self/mountinfo)
[ -n "$CG2" ] || skip "no cgroup2 hierarchy mounted"
NAME="ksmplus-test-$$"
CG="$CG2/$NAME"
mkdir "$CG" || skip "cannot create a cgroup under $CG2"
test_cleanup() {
	for p in $(cat "$CG/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
	wait_until 10 sh -c "[ -z \"\$(cat $CG/cgroup.procs 2>/dev/null)\" ]"
	rmdir "$CG" 2>/dev/null || echo "note: could not remove $CG" >&2
}

# A: started inside the cgroup before the daemon
cp "$BUILD/tests/twin" "$TMP/ksmpcga"
st=$TMP/a.st
sh -c "echo \$\$ > $CG/cgroup.procs && exec $TMP/ksmpcga --mib 2 --status $st" > /dev/null 2>&1 &
a=$!
track "$a"
wait_until 20 grep -qs ready "$st" || fail "twin in the cgroup did not start"
grep -q "$NAME" "/proc/$a/cgroup" || fail "$a is not in $CG: $(cat /proc/$a/cgroup)"
b=$(start_twin ksmpcgb 2)

write_conf "[ksmplusd]" "rescan_interval_sec = 1" "[apps]" "app = cgroup:$NAME"
start_daemon
enrolled() { grep -q "ksm_merge_any: yes\|ksm_mergeable: yes" "/proc/$1/ksm_stat"; }
wait_until 20 enrolled "$a" || fail "$a in the cgroup not enrolled"
enrolled "$b" && fail "$b outside the cgroup enrolled"
ctl status | grep -q "ksmpcga *cgroup" || fail "status does not show $a as a cgroup member: $(ctl status)"

# B: moved in later
echo "$b" > "$CG/cgroup.procs" || fail "cannot move $b into $CG"
wait_until 20 enrolled "$b" || fail "$b moved into the cgroup not enrolled"
verify_twin "$b"

# ksmplusctl add --cgroup: the same, by the command line
out=$(ctl remove "cgroup:$NAME" --runtime --unmerge) || fail "remove failed: $out"
# Under load an undo may go on in the background: the reply says so, and
# the wait gives it the time it gives an unmerge (22-tree does the same).
check_undone "$out" 2 "$a" "$b"
not_enrolled() { ! enrolled "$1"; }
wait_until 30 not_enrolled "$a" || fail "$a still enrolled after remove --unmerge: $out"
ctl add --cgroup "$NAME" --runtime > /dev/null || fail "add --cgroup failed"
wait_until 20 enrolled "$a" || fail "$a not enrolled after add --cgroup"
ctl list | grep -q "cgroup:$NAME" || fail "list lacks cgroup:$NAME"
stop_daemon || fail "daemon exited non-zero"
exit 0
