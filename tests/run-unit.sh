#!/bin/sh
# Runs each cmocka unit-test binary given; prints one summary line that CI reads.
passed=0 failed=0
# Tests change machine-wide KSM state (knobs, merged pages); two runs at once
# (a developer's and CI's, or two worktrees) would break each other. Each test
# holds this lock while it runs.
lock=${KSMPLUS_TEST_LOCK:-/var/lock/ksmplus-tests.lock}
for t in "$@"; do
	echo "== $t"
	# shellcheck disable=SC2086 # VALGRIND is a command line
	if flock -o "$lock" ${VALGRIND:-} "$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $t"; fi
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
