# shellcheck shell=sh
# A sandboxed process (a seccomp filter that kills it on prctl and madvise,
# like a browser renderer's) cannot be enrolled by injection; on a kernel
# with 0001 the process_madvise backend needs no injection: ksmplusd must
# enroll it, it must merge with a plain twin, stay alive, memory unchanged.
# (Unpatched: the ptrace backend skips it with the filter's verdict.)
# shellcheck source=kt.sh
. /tests/kt.sh

D=/usr/sbin/ksmplusd
C=/usr/bin/ksmplusctl
if [ ! -x $D ] || [ ! -x $C ]; then
	kt_skip "ksmplusd/ksmplusctl not in the initramfs (run make first)"
fi

# No "Seccomp:" line in status: the guest kernel has no CONFIG_SECCOMP.
if ! grep -q "^Seccomp:" /proc/self/status; then
	kt_skip "guest kernel built without CONFIG_SECCOMP_FILTER: no sandbox to test" \
		"(enable it in kernel-patch/config.fragment)"
fi

W=/tmp/ksmplusd-sandbox
SOCK=$W/ksmplusd.sock
mkdir -p $W
printf '[ksmplusd]\nbackend = auto\n[apps]\napp = ktwin\n[ksmd]\npages_to_scan = 20000\nsleep_millisecs = 10\n' \
	>$W/ksmplusd.conf
ctl() { $C --socket $SOCK "$@"; }
daemon_log() { sed 's/^/# ksmplusd: /' $W/ksmplusd.log | tail -n 30; }

kt_twin 8          # a plain twin: the sandboxed one merges with it
st=$W/sandboxed.st
ksandbox ktwin 8 $st >/dev/null 2>&1 &
s=$!
kt_track $s
kt_wait "$(kt_time_left)" grep -qs ready $st || kt_fail "sandboxed ktwin did not start"
grep -q "Seccomp:[[:space:]]*2" /proc/$s/status || kt_fail "ktwin $s is not under a seccomp filter"

$D --config $W/ksmplusd.conf --socket $SOCK >$W/ksmplusd.log 2>&1 &
dpid=$!
kt_track $dpid
kt_wait "$(kt_time_left)" grep -q ready $W/ksmplusd.log || { daemon_log; kt_fail "ksmplusd not ready"; }
backend=$(ctl status | sed -n 's/^backend: *//p')
if [ "$backend" != process_madvise ]; then
	ctl status | grep "^ *$s " | sed 's/^/# /'
	kt_fail "backend=$backend: the sandboxed process cannot be enrolled here"
fi
# shellcheck disable=SC2317 # called through kt_wait
merging() { [ "$(kt_ksm_stat "$s" ksm_merging_pages)" -ge 1945 ]; }     # 95 % of 2048
kt_wait "$(kt_time_left)" merging || { ctl status; daemon_log; kt_fail "sandboxed twin merging $(kt_ksm_stat "$s" ksm_merging_pages) of 2048 pages"; }
kill -0 $s || kt_fail "the sandboxed process died"
kill -USR1 $s
kt_wait "$(kt_time_left)" grep -q verify $st || kt_fail "sandboxed twin did not verify"
grep -q "verify ok" $st || kt_fail "sandboxed twin: memory changed: $(grep verify $st)"
ctl status | grep "^ *$s " | grep -q enrolled || { ctl status; kt_fail "status does not show $s enrolled"; }
kill $dpid
wait $dpid
KT_PIDS=${KT_PIDS% "$dpid"}
kt_pass "backend=process_madvise; sandboxed process enrolled without injection, merged, intact"
