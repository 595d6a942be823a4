#!/bin/sh
# Runs tests/integration/*.sh in order. Each exits 0 (pass), 77 (skip, says
# why on stderr) or anything else (fail). BUILD names the build directory.
# Tests that need root or KSM skip loudly; CI has both.
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${BUILD:-build}" && pwd)
export BUILD
. "$here/tally.sh"
# Each test holds this lock: tests change machine-wide KSM state, so two runs
# at once (a developer's and CI's, two worktrees) would break each other.
lock=${KSMPLUS_TEST_LOCK:-/var/lock/ksmplus-tests.lock}
for t in "$here"/integration/[0-9]*.sh; do
	name=$(basename "$t" .sh)
	echo "== $name"
	start=$(date +%s)
	flock -o "$lock" sh "$t"
	rc=$?
	tally "$name" $rc "$(( $(date +%s) - start ))s"
done
tally_summary integration
