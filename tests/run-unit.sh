#!/bin/sh
# Runs each cmocka unit-test binary given; prints one summary line that CI reads.
passed=0 failed=0
for t in "$@"; do
	echo "== $t"
	# shellcheck disable=SC2086 # VALGRIND is a command line
	if ${VALGRIND:-} "$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $t"; fi
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
