# Metrics: `ksmplusctl metrics` and the [metrics] textfile pass
# `promtool check metrics`; their per-app figures are status's; the textfile
# is written atomically and readable by node_exporter, follows a reload to
# a new path (the old one removed), and is removed at stop; a textfile path
# node_exporter would never read is refused with file:line.
. "$(dirname "$0")/lib.sh"
need_root
need_ksm
command -v promtool > /dev/null || fail "promtool missing (make deps installs Debian's prometheus)"
ksm_save

# promcheck FILE — promtool's verdict, and not on an empty input (which it accepts)
promcheck() {
	[ -s "$1" ] || fail "$1 is empty"
	promtool check metrics < "$1" > "$TMP/promtool.out" 2>&1 ||
		fail "promtool check metrics: $(cat "$TMP/promtool.out")"
}
# value FILE METRIC — the sample of METRIC (the whole series, labels included)
value() { awk -v m="$2" '$1 == m { print $2 }' "$1"; }

PROM=$TMP/node-exporter/ksmplus.prom
mkdir -p "$TMP/node-exporter"
write_conf "[ksmd]" "pages_to_scan = 5000" "sleep_millisecs = 10" "[apps]" "app = ksmpmetric" \
	"[metrics]" "textfile = $PROM" "interval_sec = 1"
a=$(start_twin ksmpmetric 8)
b=$(start_twin ksmpmetric 8)
start_daemon
merged() { [ $(( $(merging "$a") + $(merging "$b") )) -ge 3891 ]; }   # 95 % of 4096
wait_until 60 merged || fail "twins not merged"

ctl metrics > "$TMP/m.txt" || fail "ksmplusctl metrics failed"
promcheck "$TMP/m.txt"
[ "$(value "$TMP/m.txt" 'ksmplus_app_processes{app="ksmpmetric"}')" = 2 ] ||
	fail "app processes: $(grep app_processes "$TMP/m.txt")"
grep -q '^ksmplus_info{version="[0-9.]*",backend="[a-z_]*"} 1$' "$TMP/m.txt" || fail "no ksmplus_info"
[ "$(value "$TMP/m.txt" 'ksmplus_enroll_total{result="enrolled"}')" = 2 ] ||
	fail "enroll_total: $(grep enroll_total "$TMP/m.txt")"
grep -q '^ksmplus_ksmd_cpu_seconds_total [0-9]' "$TMP/m.txt" || fail "no ksmd CPU"

# The same figures as status (both from the daemon's one source); merging
# pages are live, so compare within one status call's distance.
merging_kib=$(ctl status --json | python3 -c 'import json,sys
d = json.load(sys.stdin)
print(sum(a.get("merging_kib", 0) for a in d["apps"] if a["name"] == "ksmpmetric"))')
m_bytes=$(value "$TMP/m.txt" 'ksmplus_app_merging_bytes{app="ksmpmetric"}')
[ "$m_bytes" = $((merging_kib * 1024)) ] || fail "merging: metrics $m_bytes, status $((merging_kib * 1024))"
[ "$m_bytes" -ge $((3891 * 4096)) ] || fail "merging bytes $m_bytes, pages are $(( $(merging "$a") + $(merging "$b") ))"

# The textfile: there, complete, readable by others, no temporary left.
wait_until 10 test -s "$PROM" || fail "textfile $PROM not written"
cp "$PROM" "$TMP/p.txt"
promcheck "$TMP/p.txt"
[ "$(stat -c %a "$PROM")" = 644 ] || fail "textfile mode $(stat -c %a "$PROM"), node_exporter cannot read it"
[ "$(value "$TMP/p.txt" 'ksmplus_app_processes{app="ksmpmetric"}')" = 2 ] || fail "textfile lacks the app"
ls -A "$TMP/node-exporter" | grep -v '^ksmplus.prom$' && fail "temporary files left beside the textfile"
# rewritten every interval
m0=$(stat -c %Y.%N "$PROM")
wait_until 10 sh -c "[ \"\$(stat -c %Y.%N '$PROM')\" != '$m0' ]" || fail "textfile not rewritten"

# Reload to another path: the old file goes, the new one comes.
PROM2=$TMP/node-exporter/ksmplus2.prom
write_conf "[ksmd]" "pages_to_scan = 5000" "sleep_millisecs = 10" "[apps]" "app = ksmpmetric" \
	"[metrics]" "textfile = $PROM2" "interval_sec = 1"
ctl reload || fail "reload failed"
wait_until 10 test -s "$PROM2" || fail "new textfile $PROM2 not written after reload"
[ -e "$PROM" ] && fail "old textfile $PROM left after reload"

# A path node_exporter would not read, in a drop-in: refused with file:line.
mkdir -p "$CONF.d"
printf '[metrics]\ntextfile = %s\n' "$TMP/ksmplus.txt" > "$CONF.d/50-metrics.conf"
out=$("$BUILD/ksmplusd" --check-config --config "$CONF" 2>&1) && fail "a .txt textfile accepted: $out"
echo "$out" | grep -q "50-metrics.conf:2: invalid value '$TMP/ksmplus.txt' for textfile" ||
	fail "unclear error: $out"
ctl reload > "$TMP/reload.out" 2>&1 && fail "reload accepted a .txt textfile"
grep -q "50-metrics.conf:2" "$TMP/reload.out" || fail "reload error lacks file:line: $(cat "$TMP/reload.out")"
rm "$CONF.d/50-metrics.conf"

# A directory that is not there (yet): said once in the log, the daemon
# goes on, and writes as soon as it appears.
PROM3=$TMP/later/ksmplus.prom
write_conf "[ksmd]" "pages_to_scan = 5000" "sleep_millisecs = 10" "[apps]" "app = ksmpmetric" \
	"[metrics]" "textfile = $PROM3" "interval_sec = 1"
ctl reload || fail "reload failed"
[ -e "$PROM2" ] && fail "old textfile $PROM2 left after reload"
wait_until 10 grep -q "cannot create a temporary file beside it" "$DLOG" ||
	fail "no log line about a missing textfile directory"
sleep 2.5       # two more intervals: still one line, not one per write
[ "$(grep -c "cannot write the textfile" "$DLOG")" = 1 ] || fail "the failure was logged more than once"
mkdir "$TMP/later"
wait_until 10 grep -q "metrics: writing $PROM3 again" "$DLOG" || fail "no recovery once the directory came"
promcheck "$PROM3"
ctl status > /dev/null || fail "daemon not answering"

stop_daemon || fail "daemon exited non-zero"
[ -e "$PROM3" ] && fail "textfile left after stop: figures of a stopped daemon read as current"
verify_twin "$a"; verify_twin "$b"
exit 0
