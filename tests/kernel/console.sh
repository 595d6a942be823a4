# shellcheck shell=bash
# tests/kernel/console.sh — what in a guest's serial log fails a boot of
# tests/kernel/run.sh, apart from the tests' own results: kernel reports
# (WARNING, BUG, KASAN, lockdep, ...), kmemleak suspects, and, on the debug
# flavour, a kmemleak that gave no verdict (disabled itself, not mounted, or
# its scan refused): "0 suspects" from a kmemleak that did not run would
# pass a leak. Sourced by run.sh; tests/kernel/console-selftest.sh feeds it
# recorded report lines (run.sh runs that first, so a checker that no longer
# sees a report fails check-kernel).

# Kernel reports; lockdep's and DEBUG_ATOMIC_SLEEP's start with WARNING:/BUG:,
# kmemleak's suspects (listed by init.sh) with "unreferenced object", its
# automatic scan says "N new suspected memory leaks" (info: in the dmesg
# dump at the end), and it turns itself off with "Kernel memory leak
# detector disabled" (e.g. after "Cannot allocate a kmemleak_object").
KSPLAT='(WARNING:|BUG:|kernel BUG at|Oops|Call Trace:|Kernel panic|general protection fault|UBSAN:|KASAN:|INFO: task .* blocked|rcu: INFO:|watchdog: BUG:|unreferenced object|new suspected memory leaks|kmemleak: (Kernel memory leak detector disabled|Cannot allocate)|KTEST-SETUP-FAIL|KTEST-KMEMLEAK-FAIL)'

# reports SERIAL-LOG -> the log less the "Call Trace:" lines of memcg OOM
# reports a test provokes on purpose (test_32 writes KTEST-OOM-EXPECTED-BEGIN
# and -END to /dev/kmsg around the call). Every other line stays: a WARNING,
# BUG or KASAN report between the markers still fails. The window also
# closes where the test ends (KTEST-EXIT) and where the dmesg dump begins:
# a marker written without a newline stays an open record that the console
# prints only at the next message, here after KTEST-DONE (seen on the debug
# kernel), which kept the window open over every later test.
reports() {
	awk '/KTEST-OOM-EXPECTED-BEGIN/ { x = 1 }
		/KTEST-OOM-EXPECTED-END|^KTEST-EXIT |^KTEST-DMESG-BEGIN/ { x = 0 }
		x && /Call Trace:/ { next } { print }' "$1"
}

# console_verdict SERIAL-LOG KMEMLEAK -> prints why the log fails a boot
# (nothing if it does not); status 1 if it does. KMEMLEAK=1 (the debug
# flavour) also requires init.sh's verdict "KTEST-KMEMLEAK-END suspects=0".
console_verdict() {
	local log=$1 kmemleak=$2 bad=0
	if reports "$log" | grep -qE "$KSPLAT"; then
		echo "kernel report (WARNING/BUG/Oops/KASAN/lockdep/kmemleak) in the log:"
		reports "$log" | grep -nE -A3 "$KSPLAT" | head -n 40
		bad=1
	fi
	if [ "$kmemleak" = 1 ] && ! grep -qx 'KTEST-KMEMLEAK-END suspects=0' "$log"; then
		echo "no kmemleak verdict of 0 suspects (got: $(grep -E '^KTEST-KMEMLEAK-(END|FAIL)' "$log" || echo 'nothing'))"
		bad=1
	fi
	return $bad
}
