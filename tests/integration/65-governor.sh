# governor = pressure: bursts after enrollment, settles, idles; leaves idle
# on a memory cgroup's pressure event (a v1 memory cgroup whose limit makes
# a reader's page cache be reclaimed: no anonymous memory is pushed, this
# machine has no swap) and returns to idle when the reader stops; a knob
# set by hand is left alone, then and at stop; the others are restored.
. "$(dirname "$0")/lib.sh"
need_root
need_ksm
MEMCG=/sys/fs/cgroup/memory
[ -w "$MEMCG/cgroup.event_control" ] || skip "no cgroup v1 memory controller at $MEMCG"
ksm_save

CG=$MEMCG/ksmplus-test-$$
ORIG_CG=$MEMCG$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3 }' /proc/self/cgroup)
test_cleanup() {
	[ -d "$CG" ] || return 0
	for p in $(cat "$CG/cgroup.procs" 2>/dev/null); do kill "$p" 2>/dev/null; done
	wait_until 10 sh -c "[ -z \"\$(cat $CG/cgroup.procs)\" ]"
	rmdir "$CG" 2>/dev/null || echo "note: cannot remove $CG" >&2
}

# gov KEY — a field of status --json's global record
gov() { ctl status --json | sed -n "s/.*\"$1\": *\"\{0,1\}\([^\",}]*\).*/\1/p" | head -n 1; }
state_is() { [ "$(gov gov_state)" = "$1" ]; }
admin_reported() { [ "$(gov gov_admin_knobs)" = pages_to_scan ]; }

pts0=$(cat "$KSM/pages_to_scan")
sleep0=$(cat "$KSM/sleep_millisecs")
write_conf "[ksmd]" "governor = pressure" "[apps]" "app = govtwin"
start_daemon

# A twin that lives in a memory cgroup with a limit: its enrollment makes
# the daemon watch that cgroup's memory.pressure_level.
mkdir "$CG" || fail "cannot create $CG"
echo $((128 * 1024 * 1024)) > "$CG/memory.limit_in_bytes" || fail "cannot limit $CG"
echo $$ > "$CG/cgroup.procs" || fail "cannot join $CG"
twin=$(start_twin govtwin 16)
echo $$ > "$ORIG_CG/cgroup.procs" || fail "cannot leave $CG"
grep -qx "$twin" "$CG/cgroup.procs" || fail "twin $twin not in $CG"

wait_until 20 grep -q "settle -> burst\|idle -> burst" "$DLOG" || fail "no burst after enrollment"
grep -q "watching memory pressure of $CG (v1 memory.pressure_level low)" "$DLOG" ||
	fail "the twin's memory cgroup is not watched"
wait_until 90 state_is idle || fail "not idle after the burst: $(gov gov_state): $(gov gov_why)"
[ "$(cat "$KSM/sleep_millisecs")" -gt "$sleep0" ] || fail "idle but ksmd not slowed down"
verify_twin "$twin"

# Pressure: a reader of a file 3 x the limit, in the cgroup. The file is
# written with O_DIRECT so that its pages are not cached (and charged)
# outside the cgroup.
dd if=/dev/zero of="$TMP/big" bs=1M count=384 oflag=direct 2> /dev/null || fail "cannot write $TMP/big"
writes0=$(gov gov_knob_writes)
p0=$(date +%s%N)
sh -c "echo \$\$ > $CG/cgroup.procs && exec sh -c 'while :; do dd if=$TMP/big of=/dev/null bs=1M 2> /dev/null; done'" &
reader=$!
track "$reader"
wait_until 30 state_is pressure || fail "no pressure state while $CG reclaims: $(gov gov_state)"
note "pressure $(( ($(date +%s%N) - p0) / 1000000 )) ms after the reader started: $(gov gov_why); pages_to_scan $(cat "$KSM/pages_to_scan")"
[ "$(cat "$KSM/sleep_millisecs")" = 20 ] || fail "pressure but ksmd not sped up"

kill "$reader"
wait "$reader" 2> /dev/null
# After the last event, 20 s of quiet, then settle, then a full scan that
# gains nothing.
wait_until 120 state_is idle || fail "not idle after the pressure stopped: $(gov gov_state)"
writes=$(( $(gov gov_knob_writes) - writes0 ))
note "knob writes from idle through pressure back to idle: $writes"
[ "$writes" -le 8 ] || fail "$writes knob writes for one pressure episode"

# A knob set by hand is left alone: not steered at the next burst, not
# restored at stop. The knob the admin did not touch is still restored.
mine=$((pts0 + 233))
echo "$mine" > "$KSM/pages_to_scan"
start_twin govtwin 8 > /dev/null
wait_until 20 admin_reported ||
	fail "a knob set by hand is not reported: $(gov gov_admin_knobs)"
wait_until 20 grep -q "behind ksmplusd's back" "$DLOG" || fail "not logged"
ctl status | grep -q "not steered: *pages_to_scan" || fail "text status does not show the admin's knob"
[ "$(cat "$KSM/pages_to_scan")" = "$mine" ] || fail "the governor overwrote pages_to_scan"
# A reload re-applies [ksmd] and restarts the governor: the admin's knob
# stays theirs.
ctl reload > /dev/null || fail "reload refused"
wait_until 20 grep -q "configuration reloaded" "$DLOG" || fail "not reloaded"
gov_admin=$(gov gov_admin_knobs)
[ "$gov_admin" = pages_to_scan ] || fail "after reload the admin's knob is steered again ($gov_admin)"
[ "$(cat "$KSM/pages_to_scan")" = "$mine" ] || fail "reload overwrote pages_to_scan set by hand"
stop_daemon || fail "daemon exited non-zero"
[ "$(cat "$KSM/pages_to_scan")" = "$mine" ] || fail "pages_to_scan set by hand was 'restored'"
[ "$(cat "$KSM/sleep_millisecs")" = "$sleep0" ] || fail "sleep_millisecs not restored"
exit 0
