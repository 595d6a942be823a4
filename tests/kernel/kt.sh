# shellcheck shell=sh
# kt.sh — helpers for the in-guest sh tests (tests/kernel/test_NN_NAME.sh),
# sourced as ". /tests/kt.sh". /init sets KTEST_NAME from the file name.
# A test ends with exactly one of kt_pass / kt_fail / kt_skip, which print
# the "KTEST NAME STATUS DETAIL" line tests/kernel/run.sh reads; a failure
# caused by a system call says errno=ENAME in DETAIL (see kt.h).
KT_NAME=${KTEST_NAME:?run by /init, which sets KTEST_NAME}
# shellcheck disable=SC2034 # for the tests that source this file
KSM=/sys/kernel/mm/ksm
KT_PIDS=""

kt_result() { st=$1; shift; kt_cleanup; echo "KTEST $KT_NAME $st $*"; }
kt_pass() { kt_result PASS "$@"; exit 0; }
kt_fail() { kt_result FAIL "$@"; exit 1; }
kt_skip() { kt_result SKIP "$@"; exit 0; }
kt_log()  { echo "# $KT_NAME: $*"; }

# Processes to kill when the test ends.
kt_track() { KT_PIDS="$KT_PIDS $*"; }
kt_cleanup() {
	for p in $KT_PIDS; do kill "$p" 2>/dev/null; done
	for p in $KT_PIDS; do wait "$p" 2>/dev/null; done
	KT_PIDS=""
}

# Seconds left before /init kills this test (ksmplus.test_timeout, less
# 20 s to report): the safety net of a wait whose bound is something else.
KT_T0=$(date +%s)
kt_time_left() {
	limit=$(sed -n 's/.*ksmplus.test_timeout=\([0-9]*\).*/\1/p' /proc/cmdline)
	echo $(( ${limit:-300} - 20 - ($(date +%s) - KT_T0) ))
}

# kt_wait_scans N CMD... — polls CMD until true; 1 once ksmd has completed
# N more full scans (counted, not timed: a debug kernel is ten times
# slower) or the test's time has run out.
kt_wait_scans() {
	n=$1; shift
	end=$(( $(cat $KSM/full_scans) + n + 1 ))	# +1: the scan in flight
	while ! "$@"; do
		[ "$(cat $KSM/full_scans)" -ge "$end" ] && return 1
		[ "$(kt_time_left)" -le 0 ] && return 1
		sleep 0.2
	done
}

# kt_wait SECONDS CMD... — polls CMD every 0.2 s; 1 on timeout. CMD is run
# anew each time, but its arguments are expanded once: poll a function.
kt_wait() {
	t=$1; shift
	end=$(( $(date +%s) + t ))
	while ! "$@"; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.2
	done
}

# kt_ksm_stat PID KEY — a /proc/PID/ksm_stat field, 0 if absent.
kt_ksm_stat() {
	v=$(sed -n "s/^$2 //p" "/proc/$1/ksm_stat" 2>/dev/null)
	echo "${v:-0}"
}

# kt_vma_flag PID HEXADDR FLAG — true if the VMA containing HEXADDR has FLAG
# in its smaps VmFlags ("mg" = VM_MERGEABLE).
kt_vma_flag() {
	awk -v a="$2" -v f="$3" '
		function hex(s,  i, c, v) { v = 0; s = tolower(s)
			for (i = 1; i <= length(s); i++) { c = index("0123456789abcdef", substr(s, i, 1)) - 1; v = v * 16 + c }
			return v }
		BEGIN { want = hex(a) }
		/^[0-9a-f]+-[0-9a-f]+ / { split($1, r, "-"); inside = (hex(r[1]) <= want && want < hex(r[2])); next }
		inside && /^VmFlags:/ { for (i = 2; i <= NF; i++) if ($i == f) found = 1; exit }
		END { exit !found }' "/proc/$1/smaps"
}

# kt_twin MIB — starts /bin/ktwin (comm "ktwin") and waits until it has
# filled its memory; its PID is left in KT_TWIN, its status file is
# /tmp/ktwin.PID (see tests/kernel/ktwin.c).
kt_twin() {
	KT_NTWIN=$(( ${KT_NTWIN:-0} + 1 ))
	st=/tmp/ktwin.$$.$KT_NTWIN
	ktwin "$1" "$st" >/dev/null 2>&1 &
	KT_TWIN=$!
	kt_track "$KT_TWIN"
	kt_wait 60 grep -qs ready "$st" || kt_fail "ktwin did not start"
	# ktwin keeps appending to $st: give it its PID's name as a link.
	ln -s "$st" "/tmp/ktwin.$KT_TWIN"
}
