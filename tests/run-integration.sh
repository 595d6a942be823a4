#!/bin/sh
# Runs tests/integration/*.sh in order. Each exits 0 (pass), 77 (skip, says
# why on stderr) or anything else (fail). BUILD names the build directory.
# Tests that need root or KSM skip loudly; CI has both.
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${BUILD:-build}" && pwd)
export BUILD
passed=0 failed=0 skipped=0 failures=""
for t in "$here"/integration/[0-9]*.sh; do
	name=$(basename "$t" .sh)
	echo "== $name"
	start=$(date +%s)
	sh "$t"
	rc=$?
	took=$(( $(date +%s) - start ))
	case $rc in
	0)  passed=$((passed + 1)); echo "-- PASS $name (${took}s)" ;;
	77) skipped=$((skipped + 1)); echo "-- SKIP $name" ;;
	*)  failed=$((failed + 1)); failures="$failures $name"; echo "-- FAIL $name (rc=$rc, ${took}s)" ;;
	esac
done
[ -n "$failures" ] && echo "failed:$failures"
echo "integration: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
