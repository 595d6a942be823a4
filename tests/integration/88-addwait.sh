# ksmplusctl add --wait: returns once two full scans passed with no more of
# the app's pages merging, and prints the exact saving then; refuses to wait
# while ksmd is stopped (paused by unmerge --all); says so when the app has
# no running process.
. "$(dirname "$0")/lib.sh"
need_root
need_ksm
ksm_save

# [ksmd] knobs make the governor fixed; the census advises one twin a scan
# or two before the other (ptrace injection, one process at a time), and
# with smart_scan on the first twin's pages would age into skip phases and
# some pairs meet only many scans later, or never (seen under load before
# governor = fixed had the smart_scan window: 2,578 of 8,192 merged, then
# nothing for 2 scans).
write_conf "[ksmd]" "pages_to_scan = 5000" "sleep_millisecs = 10"
start_daemon
a=$(start_twin ksmpwait 16 --distinct)
b=$(start_twin ksmpwait 16 --distinct)

ctl add ksmpwait --runtime --wait > "$TMP/wait.out" 2> "$TMP/wait.err" ||
	fail "add --wait failed: $(cat "$TMP/wait.out" "$TMP/wait.err")"
# Done means done: nothing more merges afterwards (two full scans later).
m=$(( $(merging "$a") + $(merging "$b") ))
[ "$m" -ge 7782 ] || fail "add --wait returned with $m of 8192 pages merging"
s=$(cat "$KSM/full_scans")
wait_until 60 sh -c "[ \$(cat $KSM/full_scans) -ge $((s + 2)) ]" || fail "ksmd stopped scanning"
[ $(( $(merging "$a") + $(merging "$b") )) = "$m" ] ||
	fail "still merging after add --wait: $m then $(( $(merging "$a") + $(merging "$b") ))"
grep -q "^ksmpwait: added; 2 running processes enrolled" "$TMP/wait.out" || fail "no add line: $(cat "$TMP/wait.out")"
line=$(grep "^ksmpwait: merged;" "$TMP/wait.out") || fail "no result line: $(cat "$TMP/wait.out")"
saved=$(echo "$line" | sed -n 's/.*saving \([0-9.]*\) MiB$/\1/p')
# 16 MiB of one twin's pages are shared: the exact saving is about that
awk -v s="$saved" 'BEGIN { exit !(s >= 15 && s <= 16.5) }' || fail "saving '$saved' MiB, not ~16: $line"
note "$line"
[ -s "$TMP/wait.err" ] && fail "progress written off a terminal: $(cat "$TMP/wait.err")"

# No running process: nothing to wait for.
ctl add ksmpwait-none --runtime --wait > "$TMP/none.out" 2>&1 || fail "add --wait of an idle app failed"
grep -q "ksmpwait-none: no running process enrolled; nothing to wait for" "$TMP/none.out" ||
	fail "idle app: $(cat "$TMP/none.out")"

# Paused: ksmd stopped, nothing would merge; refused, not a 600 s wait.
ctl unmerge --all > /dev/null || fail "unmerge --all failed"
c=$(start_twin ksmpwait2 4)
ctl add ksmpwait2 --runtime --wait > "$TMP/paused.out" 2>&1 && fail "add --wait while paused succeeded"
grep -q "enrollment is paused by 'unmerge --all' and ksmd stopped" "$TMP/paused.out" || fail "paused: $(cat "$TMP/paused.out")"
ctl resume > /dev/null || fail "resume failed"

# --wait is add's only.
ctl remove ksmpwait --wait > "$TMP/rm.out" 2>&1
[ $? = 2 ] || fail "remove --wait not a usage error: $(cat "$TMP/rm.out")"
stop_daemon || fail "daemon exited non-zero"
verify_twin "$a"; verify_twin "$b"; verify_twin "$c"
exit 0
