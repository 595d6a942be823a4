# Range rescans: a process enrolled by range (children = no) that maps new
# memory gets it advised by the next rescan of its maps, and merges it;
# memory intact, and still by range. (The rescan path once ran in no test:
# it enrolled such processes whole, with prctl, at their first new VMA.)
# policy = whole: under census new memory waits for a census (93-census-late).
. "$(dirname "$0")/lib.sh"
need_root
need_ksm
ksm_save
MIB=8
PAGES=$((MIB * 256))
write_conf "[ksmplusd]" "policy = whole" "rescan_interval_sec = 1" "[ksmd]" "pages_to_scan = 5000" "sleep_millisecs = 10" \
	"[apps]" "app = ksmprescan" "[app ksmprescan]" "children = no"
start_daemon
a=$(start_twin ksmprescan $MIB)
b=$(start_twin ksmprescan $MIB)
mode() { ctl status --json | python3 -c '
import json, sys
print(" ".join(p.get("mode", "-") for p in json.load(sys.stdin)["processes"] if p["app"] == "ksmprescan"))'; }
ranges() { [ "$(mode)" = "ranges ranges" ]; }
wait_until 30 ranges || fail "twins not enrolled by range: $(mode)"
merged() { [ "$(merging "$a")" -ge $(($1 * 9 / 10)) ] && [ "$(merging "$b")" -ge $(($1 * 9 / 10)) ]; }
wait_until 60 merged $PAGES || fail "not merged: $(merging "$a") $(merging "$b") of $PAGES pages"
# Each maps and fills MIB more: a new VMA nobody advised yet.
kill -USR2 "$a" "$b"
wait_until 60 merged $((2 * PAGES)) ||
	fail "new memory not merged after rescans: $(merging "$a") $(merging "$b") of $((2 * PAGES)) pages"
# By range still: merge-any would reach children exec'd later.
for p in $a $b; do grep -q "ksm_merge_any: yes" "/proc/$p/ksm_stat" && fail "rescan enrolled $p whole"; done
for p in $a $b; do verify_twin "$p"; done
stop_daemon || fail "daemon exited non-zero"
exit 0
