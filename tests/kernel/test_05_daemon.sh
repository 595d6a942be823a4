# shellcheck shell=sh
# ksmplusd on the kernel under test: it must pick the process_madvise backend
# by itself (backend = auto), merge two twins (20 MiB of the same pages each,
# 10,240 pages) added by name with `ksmplusctl add`, and enroll anonymous
# memory a twin maps afterwards (picked up by its rescan), memory unchanged.
# policy = whole: the subject is the backend enrolling whole processes and
# their new VMAs at rescan. (Under the census default, memory mapped later
# waits for a census, rate-limited to 50 times the last census's CPU: 142 s
# on the debug kernel. The census runs in the guest in test_06.) Waits count
# ksmd's full scans, or run until the test's own time is up, never a fixed
# number of seconds: the debug kernel is ten times slower.
# shellcheck source=kt.sh
. /tests/kt.sh

D=/usr/sbin/ksmplusd
C=/usr/bin/ksmplusctl
if [ ! -x $D ] || [ ! -x $C ]; then
	echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
	echo "!!! $KT_NAME: build/ksmplusd and build/ksmplusctl were not built:"
	echo "!!! the daemon is NOT tested on this kernel. Run 'make' first."
	echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
	kt_skip "ksmplusd/ksmplusctl not in the initramfs (run make first)"
fi

W=/tmp/ksmplusd-test
SOCK=$W/ksmplusd.sock
mkdir -p $W
cat >$W/ksmplusd.conf <<CONF
[ksmplusd]
backend = auto
policy = whole
rescan_interval_sec = 2
[ksmd]
pages_to_scan = 20000
sleep_millisecs = 10
CONF
ctl() { $C --socket $SOCK "$@"; }
daemon_log() { sed 's/^/# ksmplusd: /' $W/ksmplusd.log | tail -n 30; }

kt_twin 20; a=$KT_TWIN
kt_twin 20; b=$KT_TWIN
$D --config $W/ksmplusd.conf --socket $SOCK >$W/ksmplusd.log 2>&1 &
dpid=$!
kt_track $dpid
kt_wait "$(kt_time_left)" grep -q ready $W/ksmplusd.log || { daemon_log; kt_fail "ksmplusd not ready"; }
ctl add ktwin >$W/add.out 2>&1 || { cat $W/add.out; daemon_log; kt_fail "ksmplusctl add ktwin failed"; }

backend=$(ctl status | sed -n 's/^backend: *//p')
kt_log "backend: $backend"
[ "$backend" = process_madvise ] || { daemon_log; kt_fail "ksmplusd chose backend=$backend, want process_madvise"; }

SCANS=20	# full scans to merge after enrollment (3 do: checksum, merge, stable)
# shellcheck disable=SC2317 # called through kt_wait
enrolled() { [ "$(ctl status | awk '$5 == "enrolled"' | wc -l)" -ge 2 ]; }
sum() { echo $(( $(kt_ksm_stat "$a" ksm_merging_pages) + $(kt_ksm_stat "$b" ksm_merging_pages) )); }
# shellcheck disable=SC2317 # called through kt_wait
merged_ge() { [ "$(sum)" -ge "$1" ]; }
t0=$(date +%s)
kt_wait "$(kt_time_left)" enrolled || { ctl status; daemon_log; kt_fail "twins not enrolled"; }
kt_wait_scans $SCANS merged_ge 9728 ||
	{ ctl status; daemon_log; kt_fail "only $(sum) of 10240 pages merged $SCANS full scans after enrollment"; }
t1=$(( $(date +%s) - t0 ))
kt_log "merged $(sum) of 10240 pages in $t1 s"

# New anonymous memory of the enrolled twins: 20 MiB more each.
kill -USR2 "$a" "$b"
for p in $a $b; do
	kt_wait "$(kt_time_left)" grep -q grown "/tmp/ktwin.$p" || kt_fail "twin $p did not grow"
	addr=$(sed -n 's/^grown \([0-9a-f]*\) .*/\1/p' "/tmp/ktwin.$p")
	kt_wait "$(kt_time_left)" kt_vma_flag "$p" "$addr" mg ||
		{ ctl status; daemon_log; kt_fail "twin $p: new VMA at $addr not enrolled"; }
done
kt_wait_scans $SCANS merged_ge 19456 ||
	{ ctl status; daemon_log; kt_fail "only $(sum) of 20480 pages merged $SCANS full scans after growing"; }
kt_log "after growing: $(sum) of 20480 pages merged"

for p in $a $b; do
	kill -USR1 "$p"
	kt_wait "$(kt_time_left)" grep -q verify "/tmp/ktwin.$p" || kt_fail "twin $p did not verify"
	grep -q "verify ok" "/tmp/ktwin.$p" || kt_fail "twin $p: memory changed: $(grep verify "/tmp/ktwin.$p")"
done
kill $dpid
wait $dpid
rc=$?
KT_PIDS=${KT_PIDS% "$dpid"}
[ $rc = 0 ] || { daemon_log; kt_fail "ksmplusd exited with status $rc on SIGTERM"; }
kt_pass "backend=process_madvise; twins merged in ${t1}s; new VMAs enrolled and merged"
