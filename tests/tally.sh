# tally.sh — the results bookkeeping of the test runners (run-integration.sh,
# run-reliability.sh, fleet/run.sh), sourced. A test exits 0 (pass), 77
# (skip, saying why on stderr) or anything else (fail).
passed=0 failed=0 skipped=0 failures=""

# tally NAME RC [NOTE] — counts one test's exit status and says it:
# "-- PASS NAME (NOTE)", "-- SKIP NAME", "-- FAIL NAME (rc=RC, NOTE)".
tally() {
	note=${3:+" ($3)"} rcnote=${3:+", $3"}
	case $2 in
	0)  passed=$((passed + 1)); echo "-- PASS $1$note" ;;
	77) skipped=$((skipped + 1)); echo "-- SKIP $1" ;;
	*)  failed=$((failed + 1)); failures="$failures $1"; echo "-- FAIL $1 (rc=$2$rcnote)" ;;
	esac
}

# tally_summary KIND — the lines CI reads; true only when nothing failed.
tally_summary() {
	[ -n "$failures" ] && echo "failed:$failures"
	echo "$1: $passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ]
}
