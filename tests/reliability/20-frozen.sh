# A twin workload in a frozen cgroup, then `ctl add`: the daemon skips it
# ("later: ... frozen") instead of waiting for a stop that cannot come,
# answers status within 1 s throughout, and once the cgroup is thawed
# enrolls it on a retry; its memory is intact and it is alive. Run with the
# cgroup v2 freezer (cgroup.freeze) and, where mounted, the v1 freezer
# (freezer.state), whose frozen tasks do not even stop for ptrace.
. "$(dirname "$0")/../integration/lib.sh"
need_root
need_ksm
ksm_save

CG=""           # the cgroup directory of the case running
MODE=""
freeze() {
	if [ "$MODE" = v2 ]; then echo 1 > "$CG/cgroup.freeze"; else echo FROZEN > "$CG/freezer.state"; fi
}
thaw() {
	[ -n "$CG" ] && [ -d "$CG" ] || return 0
	if [ "$MODE" = v2 ]; then echo 0 > "$CG/cgroup.freeze"; else echo THAWED > "$CG/freezer.state"; fi
}
is_frozen() {
	if [ "$MODE" = v2 ]; then grep -qx "frozen 1" "$CG/cgroup.events"
	else grep -qx FROZEN "$CG/freezer.state"; fi
}
# Thaws before failing: a task frozen by the v1 freezer cannot even be killed.
fail_thawed() { thaw; fail "$@"; }
test_cleanup() {
	for d in "$TMP"/cg.*; do
		[ -e "$d" ] || continue
		cg=$(cat "$d")
		[ -f "$cg/cgroup.freeze" ] && echo 0 > "$cg/cgroup.freeze"
		[ -f "$cg/freezer.state" ] && echo THAWED > "$cg/freezer.state"
		rmdir "$cg" 2>/dev/null
	done
}

v2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
v1=$(awk '$3 == "cgroup" && $4 ~ /(^|,)freezer(,|$)/ { print $2; exit }' /proc/mounts)
modes=""
[ -n "$v2" ] && [ -e "$v2/cgroup.freeze" -o -d "$v2" ] && modes="v2"
[ -n "$v1" ] && modes="$modes v1"
[ -n "$modes" ] || skip "no cgroup freezer mounted"

# FROZEN_POLICY: whole (this file: the prctl injection into a frozen
# target) or census (21-frozen-census.sh: the census's range injection).
POLICY=${FROZEN_POLICY:-whole}
write_conf "[ksmplusd]" "policy = $POLICY" "[ksmd]" "pages_to_scan = 5000" "sleep_millisecs = 10"
start_daemon
enrolled() { grep -q "ksm_merge_any: yes\|ksm_mergeable: yes" "/proc/$1/ksm_stat"; }
cases=0
worst_frozen=0
for MODE in $modes; do
	if [ "$MODE" = v2 ]; then CG=$v2/ksmplus-frozen.$$; else CG=$v1/ksmplus-frozen.$$; fi
	mkdir "$CG" || fail "cannot create $CG"
	echo "$CG" > "$TMP/cg.$MODE"
	[ "$MODE" = v2 ] && [ ! -e "$CG/cgroup.freeze" ] && { note "v2: no cgroup.freeze (kernel < 5.2)"; continue; }
	name=ksmpfrz$MODE
	a=$(start_twin "$name" 16)
	echo "$a" > "$CG/cgroup.procs" || fail "cannot move $a into $CG"
	freeze
	wait_until 10 is_frozen || fail_thawed "$MODE: $CG did not freeze"

	ctl add "$name" > /dev/null || fail_thawed "ksmplusctl add $name failed"
	# The first try: at add (whole), once the app's census made a plan
	# (census, a worker at nice 19: seconds on a loaded machine).
	wait_until 60 grep -q "not enrolling $name\[$a\]" "$DLOG" ||
		fail_thawed "$MODE: no attempt on the frozen twin: $(ctl status)"
	# Frozen for 3 s: status answers quickly, the twin stays untouched and
	# the daemon says why, every time it is asked.
	STATUS_WORST_MS=0
	end=$(( $(date +%s) + 3 ))
	while [ "$(date +%s)" -lt "$end" ]; do
		status_probe
		enrolled "$a" && fail_thawed "$MODE: frozen twin $a enrolled (so it was injected while frozen?)"
		st=$(ctl status)
		echo "$st" | grep -q "^ *$a .*frozen" ||
			fail_thawed "$MODE: status does not say the twin is frozen: $st"
		sleep 0.1
	done
	[ "$STATUS_WORST_MS" -gt "$worst_frozen" ] && worst_frozen=$STATUS_WORST_MS
	# census: censused once; its retries advise that plan, not a new census
	# each (which showed the twin enrolled while it ran, every second)
	if [ "$POLICY" = census ]; then
		n=$(grep -c "census of app $name:" "$DLOG")
		[ "$n" -le 1 ] || fail_thawed "$MODE: app $name censused $n times while frozen"
	fi
	# Retried with back-off: the last try before thawing was at most a few
	# seconds ago, the next one comes after thawing.
	thaw
	wait_until 60 enrolled "$a" || fail "$MODE: twin $a not enrolled within 60 s of thawing: $(ctl status)"
	verify_twin "$a"
	kill -0 "$a" || fail "$MODE: twin $a died"
	note "$MODE: frozen twin skipped (status worst ${STATUS_WORST_MS} ms), enrolled after thaw"
	ctl remove "$name" > /dev/null
	kill "$a"
	while kill -0 "$a" 2>/dev/null; do sleep 0.05; done
	rmdir "$CG"
	cases=$((cases + 1))
done
[ "$cases" -gt 0 ] || skip "no usable freezer"
figures "freezers=$cases status_worst_frozen_ms=$worst_frozen"
stop_daemon || fail "daemon exited non-zero"
exit 0
