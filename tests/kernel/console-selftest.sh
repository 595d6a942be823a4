#!/bin/bash
# tests/kernel/console-selftest.sh — the serial-log checker of tests/kernel/
# run.sh (tests/kernel/console.sh) on recorded logs: it must pass a clean
# debug-flavour log and fail each kind of kernel report, kmemleak suspects,
# and a kmemleak that gave no verdict. run.sh runs it before booting
# anything, so a checker that goes blind fails check-kernel.
#
# What this shows and what it does not: that the host sees a leak the guest
# reports. The base log is the head and tail of a real one (patched debug
# kernel, thp-always, 2026-11-29); the kmemleak report is in the format of
# mm/kmemleak.c's print_unreferenced() (6.12), as in
# Documentation/dev-tools/kmemleak.rst: none of our debug runs has leaked,
# and the debug config has no way to provoke a leak (no modules, so no
# kmemleak-test; no fault injection). That the guest's kmemleak runs at all
# is checked on every debug boot: init.sh's verdict line, which needs both
# of its scans to be accepted, is required.
set -euo pipefail
SELF=$(readlink -f "$0")
# shellcheck source=tests/kernel/console.sh
. "$(dirname "$SELF")/console.sh"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
FAILED=0
CASES=0

# A clean debug boot, abridged from a real serial log.
clean_log() {
	cat <<'EOF'
KTEST-BEGIN kernel 6.12.117 cmdline: console=ttyS0 panic=-1 loglevel=5 ksmplus.flavor=patched ksmplus.test_timeout=400 transparent_hugepage=always numa=fake=2 ksmplus.merge_across_nodes=1 ksmplus.swap=zram
KTEST-SETUP merge_across_nodes=1
KTEST-SETUP numa nodes: 2
KTEST-SETUP swap: 524284 kB
KTEST-SETUP thp: [always] madvise never
KTEST-SETUP kmemleak: boot-time suspects cleared
KTEST-RUN remote_unmerge_memcg
# remote_unmerge_memcg: cgroup usage 16640 KiB, memory.max 20736 KiB, unmerging 16384 KiB
KTEST-OOM-EXPECTED-BEGIN
KTEST-OOM-EXPECTED-END
KTEST remote_unmerge_memcg PASS at memory.max (swap on): completed by reclaim (4096 merged pages left), no OOM kill, target intact; without limit: unmerged
KTEST-EXIT remote_unmerge_memcg rc=0 seconds=31
KTEST-RUN remote_fork_mremap
KTEST remote_fork_mremap PASS 3279 calls: 1692 advised, 1587 ENOMEM (moved away); 300 moves, 75 forks, contents intact; merges afterwards (1024 pages)
KTEST-EXIT remote_fork_mremap rc=0 seconds=24
KTEST-KMEMLEAK-BEGIN
KTEST-KMEMLEAK-END suspects=0
KTEST-DMESG-BEGIN
Linux version 6.12.117 (root@vm) (gcc (Debian 12.2.0-14+deb12u1) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #3 SMP Sun Nov 29 00:35:22 UTC 2026
rcu: 	RCU lockdep checking is enabled.
kmemleak: Kernel memory leak detector initialized (mem pool available: 15079)
kmemleak: Automatic memory scanning thread started
KTEST-DMESG-END
KTEST-DONE
EOF
}

# A memcg OOM report as test_32 provokes it on purpose (abridged).
oom_report() {
	cat <<'EOF'
ktwin invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0
CPU: 1 UID: 0 PID: 97 Comm: test_32_remote_ Not tainted 6.12.117 #3
Call Trace:
 <TASK>
 dump_stack_lvl+0x5d/0x80
 dump_header+0x43/0x1a0
 out_of_memory+0x2d5/0x5c0
 mem_cgroup_out_of_memory+0x13a/0x150
 </TASK>
Out of memory and no killable processes...
EOF
}

# A kmemleak suspect as `cat /sys/kernel/debug/kmemleak` lists it.
kmemleak_report() {
	cat <<'EOF'
unreferenced object 0xffff888003a1c700 (size 64):
  comm "test_31_remote_", pid 112, jiffies 4294912345
  hex dump (first 32 bytes):
    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  ................
    6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b a5  kkkkkkkkkkkkkkk.
  backtrace (crc 5f1a2b3c):
    kmem_cache_alloc_noprof+0x2b7/0x360
    xas_alloc+0x1c3/0x200
    xas_create+0x32c/0x8d0
    xas_store+0x72/0x9b0
    __xa_store+0x10a/0x240
    ksm_do_scan+0x1e27/0x3a30
EOF
}

# A KASAN report's first lines.
kasan_report() {
	cat <<'EOF'
==================================================================
BUG: KASAN: slab-use-after-free in ksm_do_scan+0x1a4f/0x3a30
Read of size 8 at addr ffff888005c3e2f8 by task ksmd/37
EOF
}

# log NAME: the clean log through sed SCRIPT... (insert or delete lines)
make_log() {
	local name=$1; shift
	clean_log | sed "$@" >"$TMP/$name"
	echo "$TMP/$name"
}

# expect_verdict pass|fail NAME LOG [KMEMLEAK]
expect_verdict() {
	local want=$1 name=$2 log=$3 kmemleak=${4:-1} out got
	CASES=$((CASES + 1))
	if out=$(console_verdict "$log" "$kmemleak"); then got=pass; else got=fail; fi
	if [ "$got" != "$want" ]; then
		echo "console-selftest: $name: the checker said $got, want $want${out:+: $out}" >&2
		FAILED=$((FAILED + 1))
	fi
}

kmemleak_report >"$TMP/r-leak"
oom_report >"$TMP/r-oom"
kasan_report >"$TMP/r-kasan"

expect_verdict pass "clean debug log" "$(make_log clean -e '')"
expect_verdict fail "kmemleak suspect listed" \
	"$(make_log leak -e "/^KTEST-KMEMLEAK-BEGIN/r $TMP/r-leak" -e 's/suspects=0/suspects=1/')"
expect_verdict fail "kmemleak suspect, verdict line says 0" \
	"$(make_log leak0 -e "/^KTEST-KMEMLEAK-BEGIN/r $TMP/r-leak")"
expect_verdict fail "kmemleak verdict of 1, list cut off" \
	"$(make_log count -e 's/suspects=0/suspects=1/')"
expect_verdict fail "kmemleak's automatic scan found leaks (dmesg)" \
	"$(make_log auto -e '/^kmemleak: Automatic/a kmemleak: 1 new suspected memory leaks (see /sys/kernel/debug/kmemleak)')"
expect_verdict fail "kmemleak disabled itself" \
	"$(make_log off -e '/^kmemleak: Automatic/a kmemleak: Kernel memory leak detector disabled')"
expect_verdict fail "no kmemleak verdict (scan refused)" \
	"$(make_log refused -e '/^KTEST-KMEMLEAK-/d' -e '/^KTEST-DMESG-BEGIN/i KTEST-KMEMLEAK-FAIL kmemleak refused a scan (disabled itself?)')"
expect_verdict fail "no kmemleak verdict (no debugfs)" \
	"$(make_log none -e '/^KTEST-KMEMLEAK-/d')"
expect_verdict pass "no kmemleak verdict, normal flavour" "$TMP/none" 0
expect_verdict pass "expected memcg OOM between the markers" \
	"$(make_log oom -e "/^KTEST-OOM-EXPECTED-BEGIN/r $TMP/r-oom")"
expect_verdict fail "Call Trace after the OOM window" \
	"$(make_log late -e "/^KTEST-RUN remote_fork_mremap/r $TMP/r-oom")"
# shellcheck disable=SC2016,SC1003 # sed's "$a\" (append after the last line)
expect_verdict fail "Call Trace in a window whose END came late (after KTEST-DONE)" \
	"$(make_log open -e '/^KTEST-OOM-EXPECTED-END/d' -e '$a\' -e 'KTEST-OOM-EXPECTED-END' \
		-e "/^KTEST-RUN remote_fork_mremap/r $TMP/r-oom")"
expect_verdict fail "KASAN report between the markers" \
	"$(make_log kasan -e "/^KTEST-OOM-EXPECTED-BEGIN/r $TMP/r-kasan")"
expect_verdict fail "lockdep report" \
	"$(make_log lockdep -e '/^KTEST-RUN remote_fork_mremap/a WARNING: possible circular locking dependency detected')"
expect_verdict fail "sleeping in atomic context" \
	"$(make_log atomic -e '/^KTEST-RUN remote_fork_mremap/a BUG: sleeping function called from invalid context at mm/ksm.c:2650')"
expect_verdict fail "a boot variant that did not take" \
	"$(make_log setup -e '/^KTEST-SETUP thp/a KTEST-SETUP-FAIL swap on zram')"

if [ "$FAILED" != 0 ]; then
	echo "console-selftest: $FAILED of $CASES cases wrong" >&2
	exit 1
fi
echo "console-selftest: $CASES cases as expected" >&2
