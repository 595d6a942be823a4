# policy = census under targets that reshape the memory its plans hold:
# reshapers (tests/workload/reshaper.c) munmap regions the plan advised, move
# and grow them with mremap, shrink them, fork children and map more, every
# 100 ms, while processes of another census app start and are killed within a
# second (many exit in the middle of a census: 40 MiB each, read at half a
# core). Census every 2 s, status asked throughout. The daemon must keep
# answering within 1 s, census again and again, leave its fds and RSS where
# they were once the churn stops, report nothing under ASan/UBSan, and the
# reshapers' memory (and their children's copies) must be unchanged.
. "$(dirname "$0")/../integration/lib.sh"
need_root
need_ksm
ksm_save
ROUNDS=${CENSUS_ROUNDS:-30}
write_conf "[ksmplusd]" "policy = census" "rescan_interval_sec = 1" "census_interval_sec = 2" \
	"[apps]" "app = ksmprshape" "app = ksmprshort" "[ksmd]" "pages_to_scan = 2000" "sleep_millisecs = 20"
cp "$BUILD/tests/reshaper" "$TMP/ksmprshape"
cp "$BUILD/tests/twin" "$TMP/ksmprshort"
# ASan keeps freed blocks in quarantine, 256 MiB by default: the census's
# read buffers alone would look like a leak. 16 MiB, as the bound allows.
ASAN_OPTIONS="quarantine_size_mb=16${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export ASAN_OPTIONS
start_daemon

# start_reshaper SEED — prints its PID once filled; verify_twin works on it
start_reshaper() {
	st=$(mktemp "$TMP/st.XXXXXX")
	"$TMP/ksmprshape" --mib 4 --regions 4 --seed "$1" --every-ms 100 --status "$st" > /dev/null 2>&1 &
	pid=$!
	track "$pid"
	wait_until 20 grep -q ready "$st" || return 1
	ln -s "$st" "$TMP/twin.$pid.st"
	echo "$pid"
}
r1=$(start_reshaper 1) && r2=$(start_reshaper 2) && r3=$(start_reshaper 3) || fail "reshapers did not start"
wait_until 60 grep -q "census of app ksmprshape: 3 processes" "$DLOG" || fail "no census of the reshapers"
wait_until 30 grep -q "census: ksmprshape\[[0-9]*\] (app ksmprshape): +" "$DLOG" || fail "nothing advised"
status_probe
fds0=$(daemon_fds) rss0=$(daemon_rss_kib)
# census_count [APP] — censuses since start, of APP or of every app
census_count() { ctl status --json | python3 -c 'import json,sys
print(sum(int(a.get("census_count", 0)) for a in json.load(sys.stdin)["apps"]
          if len(sys.argv) < 2 or a["name"] == sys.argv[1]))' "$@"; }
c0=$(census_count)

fds_peak=$fds0 rss_peak=$rss0 short=0 i=0
while [ $i -lt "$ROUNDS" ]; do
	i=$((i + 1))
	# a 40 MiB process of another census app, killed after 0.3 to 1.2 s: in its census
	"$TMP/ksmprshort" --mib 40 --distinct --seed $((100 + i)) > /dev/null 2>&1 &
	sp=$!
	track "$sp"
	short=$((short + 1))
	status_probe
	sleep "0.$((3 + i % 10))"
	kill "$sp" 2>/dev/null
	wait "$sp" 2>/dev/null
	status_probe
	f=$(daemon_fds); r=$(daemon_rss_kib)
	[ "$f" -gt "$fds_peak" ] && fds_peak=$f
	[ "${r:-0}" -gt "$rss_peak" ] && rss_peak=$r
done
c1=$(census_count)
[ $((c1 - c0)) -ge 5 ] || fail "only $((c1 - c0)) censuses during the churn (want >= 5)"
# the reshapers are due at every tick: the short-lived app must get its turn
shorts=$(census_count ksmprshort)
[ "$shorts" -ge 1 ] || fail "the short-lived app was never censused ($((c1 - c0)) censuses, all of the reshapers)"
census_fail=$(grep -c "census of app .* failed" "$DLOG")
for p in $r1 $r2 $r3; do verify_twin "$p"; done
# the churn stops: the short-lived ones are gone, the reshapers stay
settled() { status_probe; [ "$(daemon_fds)" -le $((fds0 + 2)) ]; }
wait_until 30 settled || fail "daemon holds $(daemon_fds) fds after the churn (had $fds0)"
fds1=$(daemon_fds) rss1=$(daemon_rss_kib)
# bounded: the census's hashes (16 B a page of ~60 MiB: ~250 KiB) are freed
# after each plan; ASan's quarantine keeps up to 16 MiB of freed memory
[ $((rss1 - rss0)) -le 32768 ] || fail "daemon RSS grew by $((rss1 - rss0)) KiB ($rss0 -> $rss1)"
grep -q "ERROR: AddressSanitizer\|runtime error:" "$DLOG" && fail "sanitizer report: $(grep -A5 'ERROR\|runtime error' "$DLOG")"
merging_kib=0
for p in $r1 $r2 $r3; do merging_kib=$((merging_kib + $(merging "$p") * 4)); done
figures "censuses=$((c1 - c0)) of_short_lived_app=$shorts short_lived=$short census_failed=$census_fail merging_kib=$merging_kib" \
	"fds=$fds0/$fds_peak/$fds1 rss_kib=$rss0/$rss_peak/$rss1"
for p in $r1 $r2 $r3; do verify_twin "$p"; done
stop_daemon || fail "daemon exited non-zero"
grep -q "ERROR: AddressSanitizer\|runtime error:\|LeakSanitizer" "$DLOG" && fail "sanitizer report at exit: $(grep -A5 'ERROR\|runtime error' "$DLOG")"
exit 0
