#!/bin/bash
# tests/kernel/sampling-bench.sh — the kernel-patch/0002 (KSM sampling scan)
# benchmark table: boots the patched kernel with tests/kernel/run.sh
# (--flavor patched, cached kernel if nothing changed) and prints what the
# sampling tests measured in the guest, sampling=0 against sampling=1 in the
# same boot. Environment as for run.sh (BUILD, KSMPLUS_KERNEL_*), and
#   KSMPLUS_BENCH_MIB  the region of test_27 sampling_cost, MiB (default
#                      2048, issue 9's size; the guest gets that plus 1 GiB
#                      unless KSMPLUS_GUEST_MEM says otherwise)
#   KSMPLUS_BENCH_S    its slices, seconds (default 8)
#   KSMPLUS_BENCH_PAIRS  how many stock/sampling pairs of slices (default 6)
#   KSMPLUS_RESET_MMS  processes for test_27's ksm_sample_reset_all() timing
#                      (default 1000, 32 ranges each; 0 skips it)
# KSMPLUS_KERNEL_TESTS=sampling_cost runs that benchmark alone (~15 min with 2 GiB).
set -uo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$REPO/$BUILD ;; esac
MIB=${KSMPLUS_BENCH_MIB:-2048}
case $MIB in ''|*[!0-9]*) echo "sampling-bench: KSMPLUS_BENCH_MIB=$MIB is not a number of MiB" >&2; exit 2 ;; esac
# The slices and their convergence take minutes: the safety nets grow too.
# tsc=reliable: without it the guest's clocksource watchdog gives up on the
# TCG TSC and the guest clock (and the latencies) move in 4-ms jiffies.
KSMPLUS_GUEST_MEM=${KSMPLUS_GUEST_MEM:-$((MIB + 1024))M} \
KSMPLUS_TEST_TIMEOUT=${KSMPLUS_TEST_TIMEOUT:-3000} \
KSMPLUS_KERNEL_TIMEOUT=${KSMPLUS_KERNEL_TIMEOUT:-5400} \
KSMPLUS_GUEST_APPEND="${KSMPLUS_GUEST_APPEND:-} tsc=reliable ksmplus.bench_mib=$MIB ksmplus.bench_s=${KSMPLUS_BENCH_S:-8} ksmplus.bench_pairs=${KSMPLUS_BENCH_PAIRS:-6} ksmplus.reset_mms=${KSMPLUS_RESET_MMS:-1000}" \
	"$REPO/tests/kernel/run.sh" --flavor patched
rc=$?
serial=$BUILD/kernel/patched/serial.log
[ -r "$serial" ] || { echo "sampling-bench: no serial log $serial" >&2; exit 1; }
echo
echo "Low-density workload: 2 x 100 MiB, distinct pages but the first 1 MiB (256 x 0xff),"
echo "enrolled with process_madvise(MADV_MERGEABLE), after convergence:"
sed -n 's/^# sampling_density: TABLE //p' "$serial"
echo
echo "Dense twins (2 x 20 MiB, same pages), time to merge >= 99%:"
sed -n 's/^KTEST sampling_dense [A-Z]* //p' "$serial"
echo
echo "Duplicates gained after retirement:"
sed -n 's/^KTEST sampling_later [A-Z]* //p' "$serial"
echo
echo "Stress (write/fork/munmap/mremap/exit, sampling=1):"
sed -n 's/^KTEST sampling_stress [A-Z]* //p' "$serial"
echo
echo "ksmd's cost on distinct pages at pages_to_scan=100, sleep_millisecs=20, in"
echo "alternating slices of one boot (stock in steady state, sampling=1 once every"
echo "range is retired, and ksmd stopped), and the target's mmap/munmap latency:"
sed -n 's/^# sampling_cost: TABLE //p' "$serial" | grep -v '^reset_all'
echo
echo "Dropping all range state (sampling=0 or run=2: ksm_sample_reset_all()):"
sed -n 's/^# sampling_cost: TABLE reset_all: //p' "$serial"
echo
echo "Remapped over retired ranges, and the late twin (full scans to merge):"
sed -n 's/^KTEST sampling_\(remap\|late\) [A-Z]* //p' "$serial"
echo
echo "Budget (wake-ups per full scan, retired memory, pages_to_scan=100):"
sed -n 's/^KTEST sampling_budget [A-Z]* //p' "$serial"
exit $rc
