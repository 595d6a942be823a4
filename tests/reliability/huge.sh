# shellcheck shell=sh
# A target with a huge sparse address space, for 25-huge-undo and
# 26-stop-undo: 16 MiB of memory plus 1 TiB reserved (untouched but its
# first MiB, like an ASan shadow or a JS heap cage), whose unmerge walks
# every page slot and takes seconds, past one operation's deadline.

# huge_need — root, KSM with merge-any (the whole-process undo); the knobs
# saved for the cleanup
huge_need() {
	need_root
	need_ksm
	ksm_save
	grep -q "ksm_merge_any" "/proc/self/ksm_stat" 2>/dev/null ||
		skip "kernel without PR_SET_MEMORY_MERGE (ksm_merge_any)"
}

# huge_start NAME — starts it as NAME (after start_daemon: the daemon must
# not inherit the fifo's write end), adds NAME and waits until it is
# enrolled whole; HUGE_PID. Its stdin is a fifo held open on fd 3, so it
# sees no EOF until huge_finish (ctl calls meanwhile: 3>&-).
huge_start() {
	HUGE_NAME=$1
	cp "$BUILD/tests/checksum_loop" "$TMP/$HUGE_NAME"
	mkfifo "$TMP/in"
	exec 3<> "$TMP/in"
	"$TMP/$HUGE_NAME" 16 idle 1024 < "$TMP/in" > "$TMP/out" 2>&1 3>&- &
	HUGE_PID=$!
	track "$HUGE_PID"
	wait_until 20 grep -q ready "$TMP/out" || fail "$HUGE_NAME did not start: $(cat "$TMP/out")"
	ctl add "$HUGE_NAME" > /dev/null 3>&- || fail "ksmplusctl add $HUGE_NAME failed"
	wait_until 30 sh -c "grep -q 'ksm_merge_any: yes' /proc/$HUGE_PID/ksm_stat" ||
		fail "$HUGE_NAME not enrolled"
}

# huge_finish — it must be alive; EOF: it verifies its memory (unchanged by
# merging and unmerging) and must exit 0.
huge_finish() {
	kill -0 "$HUGE_PID" || fail "$HUGE_NAME died"
	exec 3>&-
	wait_until 30 huge_exited || fail "$HUGE_NAME did not exit at EOF"
	wait "$HUGE_PID"; hf_rc=$?
	[ "$hf_rc" = 0 ] || fail "$HUGE_NAME exited $hf_rc: $(cat "$TMP/out")"
}
huge_exited() {
	[ ! -e "/proc/$HUGE_PID" ] || [ "$(awk '{ print $3 }' "/proc/$HUGE_PID/stat")" = Z ]
}
