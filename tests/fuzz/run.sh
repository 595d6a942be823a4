#!/bin/sh
# Runs each libFuzzer harness, one after the other, starting from its seed
# corpus in tests/fuzz/corpus/NAME (which also replays every past crash kept
# there as a regression seed).  New inputs go to BUILD/corpus/NAME, never into
# the tree; a crashing, leaking or failing input is saved under BUILD/crashes/.
# Exit 1 if any harness failed.
#
# Two modes:
#  - replay (the default, what `make fuzz` and CI run): every input of the
#    corpus, once, through all the harness's checks.  libFuzzer's mutations
#    are not repeatable even from a fixed seed, so mutating in CI would make a
#    clean checkout pass or fail by luck (three runs of 300,000 inputs from
#    seed 1, address-space randomisation off, added 1,262, 1,318 and 1,160
#    units to the corpus); the corpus in the tree is what
#    exploring found (minimised with -merge=1), every past crash included;
#  - exploring (FUZZ_SECONDS set, `make fuzz-explore`): random mutations for
#    that many seconds per harness, to look for new bugs.  What it finds
#    goes into tests/fuzz/corpus/NAME/ with the fix (`make fuzz-merge` adds
#    the new coverage), so the replay keeps it.
#   usage: run.sh BUILD NAME...
set -u
build=$(cd "$1" && pwd)
shift
secs=${FUZZ_SECONDS:-}
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
	dict=""
	[ -f "$here/$name.dict" ] && dict="-dict=$here/$name.dict"
	# NAME.options: extra libFuzzer flags, e.g. a -max_len past a limit.
	opts=""
	[ -f "$here/$name.options" ] && opts=$(cat "$here/$name.options")
	if [ -n "$secs" ]; then
		mkdir -p "$corpus"
		mode="-max_total_time=$secs"
		corpora="$corpus $here/corpus/$name"
		echo "fuzz: $name for ${secs}s, random mutations (log: $log)"
	else
		mode="-runs=0"
		corpora="$here/corpus/$name"
		echo "fuzz: $name, replaying $(ls "$here/corpus/$name" | wc -l) inputs (log: $log)"
	fi
	# Absolute paths throughout: the harnesses work inside their scratch
	# directory (fuzz_tmpdir.h).  -timeout: an input taking 10 s is a hang
	# worth a report, even on a loaded 2-CPU machine; leaks fail the run
	# (ASan's leak check is on).
	# shellcheck disable=SC2086
	if TMPDIR=$scratch "$bin" $mode -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$build/crashes/$name-" $dict $opts $corpora \
		>"$log" 2>&1; then
		grep -E '^stat::number_of_executed_units|^stat::new_units_added|^Done' "$log" | tr '\n' ' '
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
