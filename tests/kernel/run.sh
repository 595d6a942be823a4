#!/bin/bash
# tests/kernel/run.sh — build the kernel patches in kernel-patch/series into a
# minimal x86_64 kernel, boot it in QEMU (TCG) with an initramfs holding the
# in-guest tests, and check the results read back from the serial console.
#
# The same tests also run on the unpatched kernel (same source, same config,
# empty series), where tests/kernel/expect-unpatched says which of them must
# FAIL and why: proof that the tests can fail.
#
# Usage: tests/kernel/run.sh [--debug] [--flavor patched|unpatched|both] [--build-only]
#        tests/kernel/run.sh --checkpatch
#   --flavor      which kernel(s) to test (default: both)
#   --debug       the debug flavour (make check-kernel-debug): the same tests
#                 on kernels built with tests/kernel/debug.fragment too
#                 (KASAN, KMEMLEAK, PROVE_LOCKING, DEBUG_ATOMIC_SLEEP,
#                 DEBUG_VM, THP, fake NUMA, zram swap), each booted twice:
#                   thp-always:  transparent_hugepage=always  numa=fake=2
#                                merge_across_nodes=1, swap on zram
#                   thp-madvise: transparent_hugepage=madvise numa=fake=2
#                                merge_across_nodes=0, swap on zram
#                 with 2 GiB of guest RAM (KASAN's shadow), 1200 s per test,
#                 2,000 scans for sampling_spread (not 8,300), and a
#                 kmemleak scan after the tests: any leak, kernel report or
#                 missing kmemleak verdict fails.
#                 Own work tree (work-debug) and cache key; logs in
#                 BUILD/kernel-debug/FLAVOR-VARIANT/serial.log
#   --build-only  build kernels, tests and initramfs; boot nothing
#   --checkpatch  only run the tree's scripts/checkpatch.pl --strict on the
#                 series (check-kernel runs it too, first): an error or a
#                 warning fails, CHECK notes are shown
#
# Layout
#   kernel-patch/series           patch file names, in order ('#' comments)
#   kernel-patch/config.fragment  merged on top of `make tinyconfig`
#   tests/kernel/test_NN_NAME.c   in-guest test, built static, reports NAME
#   tests/kernel/test_NN_NAME.sh  in-guest test run by busybox sh
#   tests/kernel/*.c (other)      static helper programs, put in the guest's PATH
#   tests/kernel/kt.h, kt.sh      helpers for C and sh tests (KTEST lines)
#   tests/kernel/expect-FLAVOR    "NAME STATUS [ERE]" lines overriding the
#                                 default expectation (PASS) on that flavor
#   tests/kernel/pending          "NAME WHY" lines: tests that fail on the
#                                 current series (the fix is a patch revision
#                                 away), left out unless KSMPLUS_KERNEL_TESTS
#                                 names them
#   tests/kernel/init.sh          the guest's /init
#
# Environment
#   KSMPLUS_KERNEL_CACHE    source, build trees and bzImages
#                           (default /var/tmp/ksmplus-kernel)
#   KSMPLUS_KERNEL_TARBALL  default /usr/src/linux-source-6.12.tar.xz
#   KSMPLUS_KERNEL_JOBS     make -j (default 2)
#   KSMPLUS_KERNEL_TIMEOUT  seconds a guest may run before qemu is killed
#                           (1500; --debug: 7200)
#   KSMPLUS_TEST_TIMEOUT    seconds one in-guest test may run before /init
#                           kills it (ksmplus.test_timeout; 400; --debug:
#                           1200, KASAN under TCG being several times
#                           slower: the tests count scans, this is their
#                           safety net)
#   BUILD                   the repo's build directory (default build): where
#                           ksmplusd/ksmplusctl are looked for and where test
#                           binaries, initramfs and serial logs go (BUILD/kernel)
#   KSMPLUS_GUEST_MEM       the guest's memory (qemu -m; 1G, --debug 2G),
#                           e.g. 3G for make bench-kernel's 2 GiB region
#   V=1                     print the whole serial log, not just KTEST lines
#   KSMPLUS_GUEST_APPEND    more guest kernel arguments, e.g. ksmplus.stress_s=30
#   KSMPLUS_KERNEL_BOOTS    --debug: boot only the variants whose name
#                           matches this ERE (thp-always, thp-madvise)
#   KSMPLUS_KERNEL_TESTS    run only the tests whose NAME matches this ERE
#                           (whole name), e.g. 'sampling_(budget|spread)';
#                           the only way to run a test listed in
#                           tests/kernel/pending (known to fail on the
#                           current series: left out by default)
set -euo pipefail

SELF=$(readlink -f "$0")
REPO=$(cd "$(dirname "$SELF")/../.." && pwd)
cd "$REPO"
TIMEOUT=${KSMPLUS_KERNEL_TIMEOUT:-1500}
TEST_TIMEOUT=${KSMPLUS_TEST_TIMEOUT:-400}
TESTDIR=$REPO/tests/kernel

flavors=(patched unpatched)
build_only=0
debug=0
checkpatch_only=0
while [ $# -gt 0 ]; do
	case $1 in
	--flavor)
		case ${2:-} in
		both) flavors=(patched unpatched) ;;
		patched|unpatched) flavors=("$2") ;;
		*) echo "run.sh: --flavor patched|unpatched|both" >&2; exit 2 ;;
		esac
		shift 2 ;;
	--build-only) build_only=1; shift ;;
	--debug) debug=1; shift ;;
	--checkpatch) checkpatch_only=1; shift ;;
	-h|--help) sed -n '2,/^set -euo/p' "$SELF" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

log() { if [ $debug = 1 ]; then printf 'check-kernel-debug: %s\n' "$*" >&2; else printf 'check-kernel: %s\n' "$*" >&2; fi; }
die() { log "ERROR: $*"; exit 1; }

# The boots of a flavour: "VARIANT GUEST-ARGUMENTS" lines. The normal kernels
# boot once as they are; the debug kernel once per THP mode, each with fake
# NUMA (one value of merge_across_nodes each) and swap on zram.
GUEST_MEM=1G
VARIANTS=("default ")
if [ $debug = 1 ]; then
	# shellcheck disable=SC2034 # both read by build.sh
	EXTRA_FRAGMENTS=("$TESTDIR/debug.fragment")
	KERNEL_WORK_NAME="work-debug"
	GUEST_MEM=2G
	TIMEOUT=${KSMPLUS_KERNEL_TIMEOUT:-7200}
	TEST_TIMEOUT=${KSMPLUS_TEST_TIMEOUT:-1200}
	# sampling_spread: 2,000 full scans, not 8,300. The debug kernel does
	# about 4.5 a second (1,499 in 330 s, thp-always), so 8,300 would take
	# half an hour; the classes' spread (the reason for 8,300) is the
	# normal flavour's check, here the scans are for the sanitizers.
	DEBUG_ARGS="numa=fake=2 ksmplus.swap=zram ksmplus.spread_scans=2000"
	VARIANTS=("thp-always transparent_hugepage=always ksmplus.merge_across_nodes=1 $DEBUG_ARGS"
		  "thp-madvise transparent_hugepage=madvise ksmplus.merge_across_nodes=0 $DEBUG_ARGS")
fi
GUEST_MEM=${KSMPLUS_GUEST_MEM:-$GUEST_MEM}

# shellcheck source=tests/kernel/build.sh
. "$REPO/tests/kernel/build.sh"
OUT=$BUILD/kernel
[ $debug = 0 ] || OUT=$BUILD/kernel-debug
[ -r "$TARBALL" ] || die "$TARBALL missing (apt-get install linux-source-6.12)"
[ -r "$FRAGMENT" ] || die "$FRAGMENT missing"

mkdir -p "$CACHE" "$OUT"
PASSED=0    # results as expected (checkpatch, tests on each kernel)
FAILED=0    # anything else: unexpected results, missing lines, splats, timeouts
SKIPPED=0
FAILURES=()  # what failed, said again at the end: CI shows only the tail

# --- guest userland ---------------------------------------------------------

CFLAGS_T=(-static -O2 -g -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -I"$TESTDIR")

# Test name from its file: test_05_daemon.c -> daemon.
test_name() {
	local n
	n=$(basename "$1"); n=${n%.*}; n=${n#test_}
	echo "${n#[0-9][0-9]_}"
}

# pending NAME -> why the test is left out of the default run (empty: it is
# not). tests/kernel/pending lists tests that fail on the current series and
# wait for a patch revision: committed, run only when KSMPLUS_KERNEL_TESTS
# names them (then expected to PASS like any other).
pending() {
	[ -e "$TESTDIR/pending" ] || return 0
	sed -e 's/#.*//' "$TESTDIR/pending" | awk -v n="$1" '$1 == n { $1 = ""; sub(/^ +/, ""); print; exit }'
}

# The kselftests the series adds (tools/testing/selftests/mm/*.c, in
# kernel-patch/0003), built static into the guest's /bin like the helper
# programs; test_07_selftests.sh runs them. The patches that touch the
# selftests are applied to a scratch copy of the files they change (and
# kselftest.h): the guest userland is shared by both flavors, and the
# selftests need no kernel build.
build_selftests() {
	local tmp=$OUT/selftests-src p f
	rm -rf "$tmp" "$OUT/selftests.list"
	: >"$OUT/selftests.list"
	for p in $(series_patches); do
		patch_files "$p" | grep -q '^tools/testing/selftests/' || continue
		mkdir -p "$tmp/tools/testing/selftests"
		for f in $(patch_files "$p"); do
			[ ! -e "$SRC/$f" ] || [ -e "$tmp/$f" ] || install -D -m 0644 "$SRC/$f" "$tmp/$f"
		done
		patch -s -p1 -d "$tmp" <"$p" || die "$(basename "$p") does not apply to $SRC's selftests"
		for f in $(patch_files "$p" | grep '^tools/testing/selftests/mm/[^/]*\.c$'); do
			basename "$f" .c >>"$OUT/selftests.list"
		done
	done
	[ -s "$OUT/selftests.list" ] || return 0
	cp "$SRC/tools/testing/selftests/kselftest.h" "$tmp/tools/testing/selftests/"
	sort -u -o "$OUT/selftests.list" "$OUT/selftests.list"
	while read -r f; do
		gcc -static -O2 -g -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror \
			-I"$tmp/tools/testing/selftests" -o "$OUT/bin/$f" \
			"$tmp/tools/testing/selftests/mm/$f.c" || die "selftest $f does not build"
	done <"$OUT/selftests.list"
	cp "$OUT/selftests.list" "$OUT/bin/selftests.list"
}

TESTS=()       # guest file names, in run order
build_guest_programs() {
	local f b name
	rm -rf "${OUT:?}/bin" "${OUT:?}/tests"
	mkdir -p "$OUT/bin" "$OUT/tests"
	for f in "$TESTDIR"/*.c; do
		[ -e "$f" ] || continue
		b=$(basename "$f" .c)
		case $b in
		test_*)
			name=$(test_name "$f")
			gcc "${CFLAGS_T[@]}" -DKT_NAME="\"$name\"" -o "$OUT/tests/$b" "$f" ;;
		*)	gcc "${CFLAGS_T[@]}" -o "$OUT/bin/$b" "$f" ;;
		esac
	done
	for f in "$TESTDIR"/test_*.sh; do
		[ -e "$f" ] || continue
		cp "$f" "$OUT/tests/"
	done
	build_selftests
	mapfile -t TESTS < <(cd "$OUT/tests" && find . -maxdepth 1 -type f -printf '%f\n' | LC_ALL=C sort)
	local only=() why
	if [ -n "${KSMPLUS_KERNEL_TESTS:-}" ]; then
		for f in "${TESTS[@]}"; do
			if test_name "$f" | grep -qxE -- "$KSMPLUS_KERNEL_TESTS"; then only+=("$f"); fi
		done
		TESTS=("${only[@]}")
		log "KSMPLUS_KERNEL_TESTS=$KSMPLUS_KERNEL_TESTS: running ${#TESTS[@]} test(s) only"
	else
		for f in "${TESTS[@]}"; do
			why=$(pending "$(test_name "$f")")
			if [ -n "$why" ]; then
				log "left out, pending (tests/kernel/pending): $(test_name "$f"): $why"
			else
				only+=("$f")
			fi
		done
		TESTS=("${only[@]}")
	fi
	[ ${#TESTS[@]} -gt 0 ] || die "no tests in $TESTDIR${KSMPLUS_KERNEL_TESTS:+ matching $KSMPLUS_KERNEL_TESTS}"
}

# Copies a dynamically linked program and everything ldd says it loads.
copy_with_libs() {
	local prog=$1 root=$2 dest=$3 lib
	install -D -m 0755 "$prog" "$root$dest"
	for lib in $(ldd "$prog" 2>/dev/null | grep -o '/[^ ]*' | sort -u); do
		[ -e "$lib" ] || continue
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
}

INITRAMFS=$OUT/initramfs.cpio
build_initramfs() {
	local root=$OUT/root t
	rm -rf "$root"
	mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,run,root,tests,usr/bin,usr/sbin}
	cp "$BUSYBOX" "$root/bin/busybox"
	install -m 0755 "$TESTDIR/init.sh" "$root/init"
	cp "$TESTDIR/kt.sh" "$root/tests/kt.sh"
	cp "$OUT"/bin/* "$root/bin/" 2>/dev/null || true
	cp "$OUT"/tests/* "$root/tests/"
	for t in "${TESTS[@]}"; do echo "$t $(test_name "$t")"; done >"$root/tests/list"
	echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
	echo "nobody:x:65534:65534:nobody:/:/bin/false" >>"$root/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
	if [ -x "$BUILD/ksmplusd" ] && [ -x "$BUILD/ksmplusctl" ]; then
		copy_with_libs "$BUILD/ksmplusd" "$root" /usr/sbin/ksmplusd
		copy_with_libs "$BUILD/ksmplusctl" "$root" /usr/bin/ksmplusctl
	else
		log "!!! $BUILD/ksmplusd or ksmplusctl missing: the in-guest daemon test will SKIP"
		log "!!! (run 'make' first to test ksmplusd inside the patched kernel)"
	fi
	(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >"$INITRAMFS.tmp"
	mv "$INITRAMFS.tmp" "$INITRAMFS"
}

# --- checkpatch -------------------------------------------------------------

# failed WHAT: logs WHAT and keeps it for the summary at the end
failed() {
	log "$*"
	FAILURES+=("$*")
}

# checkpatch PATCH... -> counts into PASSED / FAILED
checkpatch() {
	local p out
	for p in "$@"; do
		# FILE_PATH_CHANGES: "does MAINTAINERS need updating?", asked of
		# every new file; 0003's are under tools/testing/selftests/mm/,
		# which MAINTAINERS' MEMORY MANAGEMENT entry covers already.
		out=$(cd "$SRC" && ./scripts/checkpatch.pl --strict --color=never \
			--ignore FILE_PATH_CHANGES "$p" 2>&1) || true
		if echo "$out" | grep -q '^total: 0 errors, 0 warnings'; then
			log "checkpatch $(basename "$p"): $(echo "$out" | grep '^total:')"
			echo "$out" | grep -E '^CHECK:' >&2 || true
			PASSED=$((PASSED + 1))
		else
			echo "$out" >&2
			failed "checkpatch $(basename "$p"): NOT OK"
			FAILED=$((FAILED + 1))
		fi
	done
}

# --- boot and evaluate ------------------------------------------------------

# KSPLAT, reports, console_verdict: what in the serial log fails a boot.
# shellcheck source=tests/kernel/console.sh
. "$TESTDIR/console.sh"

# expect FLAVOR NAME -> "STATUS ERE" (default "PASS")
expect() {
	local file=$TESTDIR/expect-$1 line
	if [ -e "$file" ]; then
		line=$(sed -e 's/#.*//' "$file" | awk -v n="$2" '$1 == n { $1 = ""; sub(/^ +/, ""); print; exit }')
		[ -n "$line" ] && { echo "$line"; return; }
	fi
	echo "PASS"
}

# run_guest FLAVOR IMAGE VARIANT GUEST-ARGUMENTS (see VARIANTS)
run_guest() {
	local flavor=$1 image=$2 variant=$3 args=$4
	local dir=$OUT/$flavor serial rc t name want want_status want_re line status detail
	local run=$flavor
	if [ "$variant" != default ]; then run=$flavor-$variant; dir=$OUT/$run; fi
	mkdir -p "$dir"
	serial=$dir/serial.log
	log "$run kernel: booting (timeout ${TIMEOUT}s, serial log $serial)"
	set +e
	# mem-merge=off: QEMU marks guest RAM MADV_MERGEABLE by default, and the
	# host's ksmd would merge it beside (and into the counters of) host-side
	# KSM tests and benchmarks running at the same time.
	timeout -k 10 "$TIMEOUT" qemu-system-x86_64 -accel tcg -machine mem-merge=off -m "$GUEST_MEM" -smp 2 \
		-nographic -no-reboot -kernel "$image" -initrd "$INITRAMFS" \
		-append "console=ttyS0 panic=-1 loglevel=5 ksmplus.flavor=$flavor ksmplus.test_timeout=$TEST_TIMEOUT $args ${KSMPLUS_GUEST_APPEND:-}" \
		</dev/null 2>&1 | stdbuf -o0 tr -d '\r' | tee "$serial" |
		if [ "${V:-0}" = 1 ]; then cat; else grep --line-buffered -E "^(KTEST|# )|$KSPLAT"; fi
	rc=${PIPESTATUS[0]}
	set -e
	local fpass=0 ffail=0 fskip=0
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		failed "$run: TIMEOUT after ${TIMEOUT}s, qemu killed"
		ffail=$((ffail + 1))
	elif [ "$rc" != 0 ]; then
		failed "$run: qemu exited with status $rc"
		ffail=$((ffail + 1))
	fi
	local verdict
	if ! verdict=$(console_verdict "$serial" "$debug"); then
		failed "$run: $verdict"
		ffail=$((ffail + 1))
	fi
	grep -q '^KTEST-DONE' "$serial" || { failed "$run: the guest did not finish (no KTEST-DONE)"; ffail=$((ffail + 1)); }
	for t in "${TESTS[@]}"; do
		name=$(test_name "$t")
		want=$(expect "$flavor" "$name")
		want_status=${want%% *}
		want_re=""
		[ "$want" = "$want_status" ] || want_re=${want#* }
		line=$(grep -E "^KTEST $name (PASS|FAIL|SKIP)( |$)" "$serial" | tail -n 1 || true)
		if [ -z "$line" ]; then
			failed "$run: $name: no result line (crashed or hung?)"
			ffail=$((ffail + 1))
			continue
		fi
		status=$(echo "$line" | cut -d' ' -f3)
		detail=$(echo "$line" | cut -d' ' -f4-)
		if [ "$status" = SKIP ]; then
			log "$run: $name: SKIPPED: $detail"
			fskip=$((fskip + 1))
		elif [ "$status" = "$want_status" ] && { [ -z "$want_re" ] || echo "$detail" | grep -qE -- "$want_re"; }; then
			if [ "$want_status" = PASS ]; then
				log "$run: $name: ok"
			else
				log "$run: $name: ok (expected $want_status matching /$want_re/: $detail)"
			fi
			fpass=$((fpass + 1))
		else
			failed "$run: $name: NOT OK: got $status ($detail), expected $want_status${want_re:+ matching /$want_re/}"
			ffail=$((ffail + 1))
		fi
	done
	log "$run: $fpass as expected, $ffail failed, $fskip skipped"
	PASSED=$((PASSED + fpass)); FAILED=$((FAILED + ffail)); SKIPPED=$((SKIPPED + fskip))
}

# --- main -------------------------------------------------------------------

# All of it in a function, so that bash has read the whole script before it
# runs (editing run.sh during a run cannot break that run).
main() {
	phase_start; extract_source; phase_end "source"
	log "kernel $(kernel_version) from $TARBALL"
	mapfile -t PATCHES < <(series_patches)
	phase_start; checkpatch "${PATCHES[@]}"; phase_end "checkpatch"
	# The checker of the serial logs, on recorded reports (a second).
	"$TESTDIR/console-selftest.sh" || die "tests/kernel/console.sh misses reports (see above)"
	if [ $checkpatch_only = 1 ]; then
		echo "checkpatch: $PASSED passed, $FAILED failed"
		[ $FAILED = 0 ]; exit
	fi
	declare -A IMAGES=()
	for flavor in "${flavors[@]}"; do
		phase_start
		if [ "$flavor" = patched ]; then
			[ ${#PATCHES[@]} -gt 0 ] || die "kernel-patch/series is empty"
			build_kernel patched "${PATCHES[@]}"
		else
			build_kernel unpatched
		fi
		IMAGES[$flavor]=$KERNEL_IMAGE
		phase_end "kernel ($flavor)"
	done
	phase_start; build_guest_programs; build_initramfs; phase_end "tests + initramfs"

	if [ $build_only = 0 ]; then
		local v
		for flavor in "${flavors[@]}"; do
			for v in "${VARIANTS[@]}"; do
				if [ -n "${KSMPLUS_KERNEL_BOOTS:-}" ] &&
				   ! echo "${v%% *}" | grep -qxE -- "$KSMPLUS_KERNEL_BOOTS"; then
					continue
				fi
				phase_start
				run_guest "$flavor" "${IMAGES[$flavor]}" "${v%% *}" "${v#* }"
				if [ "${v%% *}" = default ]; then phase_end "boot + tests ($flavor)"
				else phase_end "boot+tests ($flavor ${v%% *})"; fi
			done
		done
	fi

	TIMINGS+=("$(printf '%-28s %4ds' total $(($(date +%s) - T0)))")
	log "timings:"
	for t in "${TIMINGS[@]}"; do echo "  $t" >&2; done
	[ $build_only = 0 ] || exit 0
	[ $SKIPPED = 0 ] || log "$SKIPPED skipped (see SKIPPED lines above)"
	for t in "${FAILURES[@]}"; do log "FAILED: $t"; done
	echo "check-kernel: $PASSED passed, $FAILED failed"
	[ $FAILED = 0 ]
}

main "$@"; exit $?
