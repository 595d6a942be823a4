# A process tree under policy = census, the default (the config says no
# policy): a browser-like parent whose renderers are children exec'd under
# another name (22-tree.sh's workload; that test is whole-process).
#  A) running before `add`: the app's census reads the whole tree (4
#     processes), every renderer's duplicates are advised by range and
#     merged; status counts the tree; the app's saved_kib matches the drop
#     in the tree's PSS (within 5 %), and the census advised no merge-any;
#  B) added before the renderers start: an exec'd renderer is a new process
#     (exec drops its parent's advice), so it joins the app and its census:
#     all merged, shown as tree members enrolled (not inherited: nothing was
#     inherited), and the app saves what A saved (the same workload).
. "$(dirname "$0")/lib.sh"
need_root
need_ksm
ksm_save
ksm_set use_zero_pages 0
N=3
MIB=10
PAGES=$((MIB * 256))

write_conf "[ksmd]" "pages_to_scan = 5000" "sleep_millisecs = 10"
start_daemon
cp "$BUILD/tests/browser" "$TMP/ksmpcbrowser"
cp "$BUILD/tests/twin" "$TMP/ksmpcrender"

# start_browser DIR [--on-signal]: prints the browser's PID
start_browser() {
	dir=$1; shift
	mkdir -p "$dir"
	"$TMP/ksmpcbrowser" --renderer "$TMP/ksmpcrender" --children $N --mib $MIB \
		--status "$dir" "$@" > /dev/null 2>&1 &
	echo $! >> "$TMP/pids"
	wait_until 20 grep -qsE "ready|started" "$dir/browser" || fail "browser did not start"
	echo $!
}
renderers() { for i in $(seq 0 $((N - 1))); do awk '{print $2}' "$1/r.$i" 2>/dev/null; done; }
all_ready() { for i in $(seq 0 $((N - 1))); do grep -qs ready "$1/r.$i" || return 1; done; }
verify_renderers() {
	for i in $(seq 0 $((N - 1))); do
		r=$(awk '{print $2}' "$1/r.$i")
		: > "$1/r.$i"
		kill -USR1 "$r"
		wait_until 20 grep -qs verify "$1/r.$i" || fail "renderer $r did not answer"
		grep -q "verify ok" "$1/r.$i" || fail "renderer $r memory changed: $(cat "$1/r.$i")"
		echo "ready $r" > "$1/r.$i"
	done
}
# count: enrolled, tree members, inherited; then the app's policy and the
# processes its last census read
count() { ctl status --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
ps = [p for p in d.get("processes", []) if p.get("app") == sys.argv[1]]
a = next((a for a in d["apps"] if a["name"] == sys.argv[1]), {})
print(sum(1 for p in ps if p.get("state") == "enrolled"),
      sum(1 for p in ps if p.get("member") == "tree"),
      sum(1 for p in ps if p.get("inherited") == 1),
      a.get("policy", "whole"), a.get("census_procs", 0))' "$1"; }
saved() { ctl status --json --fresh | python3 -c '
import json, sys
print(next(a["saved_kib"] for a in json.load(sys.stdin)["apps"] if a["name"] == "ksmpcbrowser"))'; }
pss() { for p in "$@"; do awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup"; done |
	awk '{ s += $1 } END { print s + 0 }'; }
settled() { s1=$(cat "$KSM/full_scans"); m1=$(cat "$KSM/pages_sharing")
	wait_until 20 sh -c "[ \$(cat $KSM/full_scans) -ge $((s1 + 2)) ]"
	[ "$(cat "$KSM/pages_sharing")" = "$m1" ]; }
merged() { for p in "$@"; do [ "$(merging "$p")" -ge $((PAGES * 95 / 100)) ] || return 1; done; }
no_merge_any() { for p in "$@"; do grep -q "ksm_merge_any: yes" "/proc/$p/ksm_stat" && return 1; done; return 0; }

# A) running before add
bp=$(start_browser "$TMP/a")
wait_until 20 all_ready "$TMP/a" || fail "renderers did not start"
rs=$(renderers "$TMP/a")
pss0=$(pss $bp $rs)
ctl add ksmpcbrowser --runtime > /dev/null || fail "add failed"
tree_censused() { set -- $(count ksmpcbrowser)
	[ "$1" = $((N + 1)) ] && [ "$2" = $N ] && [ "$4" = census ] && [ "$5" = $((N + 1)) ]; }
wait_until 30 tree_censused || fail "tree not censused (enrolled, tree, inherited, policy, census_procs): $(count ksmpcbrowser)"
wait_until 60 merged $bp $rs || fail "tree merging: $(for p in $bp $rs; do merging "$p"; done)"
no_merge_any $bp $rs || fail "census enrolled a process whole (merge-any)"
wait_until 60 settled || fail "merging does not settle"
drop=$(( pss0 - $(pss $bp $rs) )); sva=$(saved)
note "A: $N renderers and their parent censused and merged; saved_kib $sva, PSS drop $drop KiB"
ok=$(python3 -c "print(abs($sva - $drop) <= 0.05 * $drop)")
[ "$ok" = True ] || fail "saved_kib $sva is not within 5 % of the PSS drop $drop KiB"
verify_renderers "$TMP/a"
ctl remove ksmpcbrowser --runtime --unmerge > /dev/null || fail "remove --unmerge failed"
unmerged() { for p in $bp $rs; do [ "$(merging "$p")" = 0 ] || return 1; done; }
wait_until 30 unmerged || fail "still merging after remove --unmerge: $(for p in $bp $rs; do merging "$p"; done)"
kill "$bp"
gone() { ! kill -0 "$bp" 2>/dev/null && for r in $rs; do ! kill -0 "$r" 2>/dev/null || return 1; done; }
wait_until 20 gone || fail "browser A did not exit"

# B) added first: the exec'd renderers join the app, censused with it
ctl add ksmpcbrowser --runtime > /dev/null || fail "second add failed"
bp=$(start_browser "$TMP/b" --on-signal)
wait_until 20 grep -q "census: ksmpcbrowser\[$bp\] (app ksmpcbrowser): +" "$DLOG" ||
	fail "browser $bp not censused and advised alone"
kill -USR1 "$bp"
wait_until 20 all_ready "$TMP/b" || fail "renderers did not start"
rs=$(renderers "$TMP/b")
wait_until 30 tree_censused || fail "renderers not censused with their parent: $(count ksmpcbrowser)"
set -- $(count ksmpcbrowser)
[ "$3" = 0 ] || fail "$3 exec'd renderers shown inherited under census (nothing is inherited across exec)"
wait_until 60 merged $rs || fail "renderers not merged: $(for p in $bp $rs; do merging "$p"; done)"
wait_until 60 settled || fail "merging does not settle"
svb=$(saved)
note "B: renderers joined at exec and merged; saved_kib $svb (A: $sva)"
ok=$(python3 -c "print(abs($svb - $sva) <= 0.05 * $sva)")
[ "$ok" = True ] || fail "B saves $svb KiB, A saved $sva KiB: not within 5 %"
n=$(grep -c "not enrolling" "$DLOG")
[ "$n" = 0 ] || fail "$n processes of the tree were skipped"
verify_renderers "$TMP/b"
stop_daemon || fail "daemon exited non-zero"
exit 0
