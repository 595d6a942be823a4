#!/bin/sh
# Runs each libFuzzer harness for FUZZ_SECONDS (default 60), one after the
# other, starting from its seed corpus in tests/fuzz/corpus/NAME (which also
# replays every past crash kept there as a regression seed).  New inputs go to
# BUILD/corpus/NAME, never into the tree; a crashing, leaking or failing input
# is saved under BUILD/crashes/.  Exit 1 if any harness failed.
#   usage: run.sh BUILD NAME...
set -u
build=$1
shift
secs=${FUZZ_SECONDS:-60}
here=$(cd "$(dirname "$0")" && pwd)
# Scratch files for the harnesses that go through the filesystem: tmpfs if
# there is one (the drop-in writer fsyncs every write).
base=/tmp
[ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm
scratch=$(mktemp -d "$base/ksmplus-fuzz-run.XXXXXX") || exit 1
trap 'rm -rf "$scratch"' EXIT INT TERM
mkdir -p "$build/crashes"
failed=""
for name in "$@"; do
	bin="$build/fuzz/fuzz_$name"
	corpus="$build/corpus/$name"
	log="$build/fuzz-$name.log"
	mkdir -p "$corpus"
	dict=""
	[ -f "$here/$name.dict" ] && dict="-dict=$here/$name.dict"
	# NAME.options: extra libFuzzer flags, e.g. a -max_len past a limit.
	opts=""
	[ -f "$here/$name.options" ] && opts=$(cat "$here/$name.options")
	echo "fuzz: $name for ${secs}s (log: $log)"
	# -timeout: an input taking 10 s is a hang worth a report, even on a
	# loaded 2-CPU machine; leaks fail the run (ASan's leak check is on).
	# shellcheck disable=SC2086
	if TMPDIR=$scratch "$bin" -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$build/crashes/$name-" $dict $opts "$corpus" "$here/corpus/$name" \
		>"$log" 2>&1; then
		grep -E '^stat::number_of_executed_units|^Done' "$log" | tr '\n' ' '
		echo
	else
		echo "fuzz: $name FAILED; last lines of $log:" >&2
		grep -av '^#[0-9]' "$log" | tail -n 40 >&2
		ls -l "$build/crashes/" | grep -- "$name-" >&2
		failed="$failed $name"
	fi
done
if [ -n "$failed" ]; then
	echo "fuzz: FAILED:$failed (inputs in $build/crashes/; reproduce: $build/fuzz/fuzz_NAME FILE)" >&2
	exit 1
fi
echo "fuzz: all passed"
