# ksmplusctl top: frames of per-app figures with the saving's trend; not on
# a terminal it prints COUNT frames one after another (1 by default) and
# asks for the totals only (no record per process); bad -d/-n are usage
# errors naming the value.
. "$(dirname "$0")/lib.sh"
need_root
need_ksm
ksm_save

write_conf "[ksmd]" "pages_to_scan = 5000" "sleep_millisecs = 10" "[apps]" "app = ksmptop"
a=$(start_twin ksmptop 16 --distinct)
b=$(start_twin ksmptop 16 --distinct)
start_daemon

# One frame by default off a terminal.
ctl top > "$TMP/one.txt" || fail "top failed"
[ "$(grep -c '^ksmplus [0-9][0-9]:[0-9][0-9]:[0-9][0-9]' "$TMP/one.txt")" = 1 ] ||
	fail "not one frame: $(cat "$TMP/one.txt")"
grep -q '^APP  *PROCS  *PSS_MiB  *MERGING_MiB  *SAVED_MiB  *TREND_MiB/min$' "$TMP/one.txt" ||
	fail "no header: $(cat "$TMP/one.txt")"
awk '$1 == "ksmptop" { found = 1; if ($2 != 2 || $NF != "-") exit 1 } END { exit !found }' \
	"$TMP/one.txt" || fail "first frame's row: $(grep ksmptop "$TMP/one.txt")"

# Once merged: frames one after another, each with the saving (the trend's
# arithmetic is test_control's test_format_top).
merged() { [ $(( $(merging "$a") + $(merging "$b") )) -ge 7782 ]; }   # 95 % of 8192
wait_until 120 merged || fail "twins not merged: $(( $(merging "$a") + $(merging "$b") )) pages"
# exact savings are computed off the daemon's loop: wait for ones from after the merge
ctl status --fresh > /dev/null || fail "status --fresh failed"
ctl top -d 0.2 -n 3 > "$TMP/three.txt" || fail "top -n 3 failed"
[ "$(grep -c '^ksmplus ' "$TMP/three.txt")" = 3 ] || fail "not 3 frames: $(cat "$TMP/three.txt")"
awk '$1 == "ksmptop" { n++; if ($5 + 0 < 15 || (n > 1 && $NF !~ /^[+-][0-9]+\.[0-9]$/)) exit 1 }
     END { exit n != 3 }' "$TMP/three.txt" ||
	fail "rows (saved >= 15 MiB, a trend after the first): $(grep ksmptop "$TMP/three.txt")"

# Usage errors.
for bad in "-d 0" "-d x" "-n 0" "-n" "--fast"; do
	# shellcheck disable=SC2086
	ctl top $bad > "$TMP/bad.out" 2>&1
	[ $? = 2 ] || fail "top $bad: not a usage error (exit 2): $(cat "$TMP/bad.out")"
done
ctl top -n 0 2>&1 | grep -q "not '0'" || fail "top -n 0: the error does not name the value"

stop_daemon || fail "daemon exited non-zero"
ctl top > "$TMP/nod.out" 2>&1 && fail "top succeeded without a daemon"
grep -q "cannot connect" "$TMP/nod.out" || fail "top without a daemon: $(cat "$TMP/nod.out")"
verify_twin "$a"; verify_twin "$b"
exit 0
