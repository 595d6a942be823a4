#!/bin/sh
# Runs tests/reliability/*.sh: hostile targets and clients against a daemon
# built with ASan+UBSan (BUILD names that build). Each scenario sources
# tests/integration/lib.sh, exits 0/77/other like the integration tests, and
# prints a "figures:" line (daemon fds, RSS, status latency) that this runner
# collects into one table at the end.
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${BUILD:-build-asan}" && pwd)
export BUILD
# status_probe asks with the plain client when there is one (lib.sh says why).
plain=$(cd "$here/.." && pwd)/build/ksmplusctl
[ -x "$plain" ] && PROBE_CTL=$plain && export PROBE_CTL
lock=${KSMPLUS_TEST_LOCK:-/var/lock/ksmplus-tests.lock}
. "$here/tally.sh"
table=$(mktemp)
for t in "$here"/reliability/[0-9]*.sh; do
	[ -e "$t" ] || continue
	name=$(basename "$t" .sh)
	echo "== $name"
	out=$(mktemp)
	flock -o "$lock" sh "$t" > "$out" 2>&1
	rc=$?
	cat "$out"
	grep '^ *figures:' "$out" | sed "s/^ *figures:/$name:/" >> "$table"
	rm -f "$out"
	tally "$name" $rc
done
echo "== figures (daemon under attack: open fds, RSS, worst status latency)"
cat "$table"; rm -f "$table"
tally_summary reliability
