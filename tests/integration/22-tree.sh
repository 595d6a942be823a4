# An app is a process tree. A browser-like parent whose renderers are
# children exec'd under another name:
#  A) running before `add`: the renderers join the app through their parent,
#     are enrolled and merge; status lists the whole tree; remove --unmerge
#     leaves nothing enrolled or merging in it;
#  B) added before the renderers start: they inherit the enrollment, and
#     status says so ("inherited");
#  C) sandboxed renderers running before `add`: one whose seccomp filter
#     allows prctl is enrolled whole, one whose filter kills on prctl is
#     enrolled range by range with madvise, one whose filter kills on both is
#     skipped with the verdict; all stay alive with their memory intact.
# Whole-process enrollment (merge-any, inherited through fork and exec):
# policy = whole. The same tree under policy = census: 22-tree-census.sh.
. "$(dirname "$0")/lib.sh"
need_root
need_ksm
ksm_save
N=3
MIB=10
PAGES=$((MIB * 256))

write_conf "[ksmplusd]" "policy = whole" "[ksmd]" "pages_to_scan = 5000" "sleep_millisecs = 10"
start_daemon
cp "$BUILD/tests/browser" "$TMP/ksmpbrowser"
cp "$BUILD/tests/twin" "$TMP/ksmprender"

# start_browser DIR [--on-signal]: prints the browser's PID
start_browser() {
	dir=$1; shift
	mkdir -p "$dir"
	"$TMP/ksmpbrowser" --renderer "$TMP/ksmprender" --children $N --mib $MIB \
		--status "$dir" "$@" > /dev/null 2>&1 &
	echo $! >> "$TMP/pids"
	wait_until 20 grep -qsE "ready|started" "$dir/browser" || fail "browser did not start"
	echo $!
}
renderers() { for i in $(seq 0 $((N - 1))); do awk '{print $2}' "$1/r.$i" 2>/dev/null; done; }
# verify_renderers DIR: each renderer checks its memory (twin: SIGUSR1)
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
all_ready() { for i in $(seq 0 $((N - 1))); do grep -qs ready "$1/r.$i" || return 1; done; }
count() { ctl status --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
ps = [p for p in d.get("processes", []) if p.get("app") == sys.argv[1]]
print(sum(1 for p in ps if p.get("state") == "enrolled"),
      sum(1 for p in ps if p.get("member") == "tree"),
      sum(1 for p in ps if p.get("inherited") == 1))' "$1"; }
has_merge_any() { grep -q "ksm_merge_any: yes" "/proc/$1/ksm_stat"; }
none_merge_any() { for p in "$@"; do ! has_merge_any "$p" || return 1; done; }

# A) running before add
bp=$(start_browser "$TMP/a")
wait_until 20 all_ready "$TMP/a" || fail "renderers did not start"
rs=$(renderers "$TMP/a")
pss() { for p in "$@"; do awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup"; done |
	awk '{ s += $1 } END { print s + 0 }'; }
pss0=$(pss $bp $rs)
ctl add ksmpbrowser --runtime > /dev/null || fail "add failed"
tree_enrolled() { set -- $(count ksmpbrowser); [ "$1" = $((N + 1)) ] && [ "$2" = $N ]; }
wait_until 30 tree_enrolled || fail "tree not enrolled (enrolled, tree, inherited): $(count ksmpbrowser)"
merged() { for r in $rs; do [ "$(merging "$r")" -ge $((PAGES * 95 / 100)) ] || return 1; done; }
start=$(date +%s)
wait_until 60 merged || fail "renderers merging: $(for r in $rs; do merging "$r"; done)"
note "A: $N renderers found through their parent, merged in $(( $(date +%s) - start )) s"
# What status says the app saves matches the drop in its PSS (within 5 %),
# once ksmd has nothing left to merge.
saved() { ctl status --json --fresh | python3 -c '
import json, sys
print(next(a["saved_kib"] for a in json.load(sys.stdin)["apps"] if a["name"] == "ksmpbrowser"))'; }
settled() { s1=$(cat "$KSM/full_scans"); m1=$(cat "$KSM/pages_sharing")
	wait_until 20 sh -c "[ \$(cat $KSM/full_scans) -ge $((s1 + 2)) ]"
	[ "$(cat "$KSM/pages_sharing")" = "$m1" ]; }
wait_until 60 settled || fail "merging does not settle"
drop=$(( pss0 - $(pss $bp $rs) )); sv=$(saved)
note "A: saved_kib $sv, measured PSS drop $drop KiB"
ok=$(python3 -c "print(abs($sv - $drop) <= 0.05 * $drop)")
[ "$ok" = True ] || fail "saved_kib $sv is not within 5 % of the PSS drop $drop KiB"
verify_renderers "$TMP/a"
ctl status | grep -q "ksmprender.*tree" || fail "status does not list the renderers: $(ctl status)"
out=$(ctl remove ksmpbrowser --runtime --unmerge) || fail "remove --unmerge failed"
# One command undoes what fits in its time; the rest goes on from the
# daemon's retry timer (a loaded machine: "goes on in the background"),
# and the reply says how many, apart from those unmerged.
check_undone "$out" $((N + 1)) $bp $rs
wait_until 30 none_merge_any $bp $rs || fail "still ksm_merge_any after remove --unmerge: $(for p in $bp $rs; do has_merge_any "$p" && echo "$p"; done)"
unmerged() { for r in $rs; do [ "$(merging "$r")" = 0 ] || return 1; done; }
wait_until 30 unmerged || fail "still merging after remove --unmerge: $(for r in $rs; do merging "$r"; done)"
verify_renderers "$TMP/a"
kill "$bp"
gone() { ! kill -0 "$bp" 2>/dev/null && for r in $rs; do ! kill -0 "$r" 2>/dev/null || return 1; done; }
wait_until 20 gone || fail "browser A did not exit"

# B) added first: the renderers inherit the enrollment
ctl add ksmpbrowser --runtime > /dev/null || fail "second add failed"
bp=$(start_browser "$TMP/b" --on-signal)
wait_until 20 has_merge_any "$bp" || fail "browser $bp not enrolled at exec"
kill -USR1 "$bp"
wait_until 20 all_ready "$TMP/b" || fail "renderers did not start"
rs=$(renderers "$TMP/b")
inherited() { set -- $(count ksmpbrowser); [ "$1" = $((N + 1)) ] && [ "$3" = $N ]; }
wait_until 30 inherited || fail "renderers not shown as inherited: $(count ksmpbrowser)"
ctl status | grep -q "ksmprender.*inherited" || fail "status does not say inherited: $(ctl status)"
n=$(grep -c "not enrolling" "$DLOG")
[ "$n" = 0 ] || fail "$n processes of the tree were skipped"
out=$(ctl remove ksmpbrowser --runtime --unmerge) || fail "remove --unmerge failed"
# One command undoes what fits in its time; the rest goes on from the
# daemon's retry timer (a loaded machine: "goes on in the background"),
# and the reply says how many, apart from those unmerged.
check_undone "$out" $((N + 1)) $bp $rs
wait_until 30 none_merge_any $bp $rs || fail "still ksm_merge_any after remove --unmerge: $(for p in $bp $rs; do has_merge_any "$p" && echo "$p"; done)"
kill "$bp"
wait_until 20 sh -c "! kill -0 $bp 2>/dev/null" || fail "browser B did not exit"

# C) sandboxed renderers, running before add
bp=$(start_browser "$TMP/c" --sandbox --kill-prctl 1 --kill-both 2)
wait_until 20 all_ready "$TMP/c" || fail "sandboxed renderers did not start"
set -- $(renderers "$TMP/c"); r0=$1; r1=$2; r2=$3
for r in $r0 $r1 $r2; do grep -q "Seccomp:[[:space:]]*2" "/proc/$r/status" || fail "$r not sandboxed"; done
ctl add ksmpbrowser --runtime > /dev/null || fail "third add failed"
wait_until 20 has_merge_any "$r0" || fail "renderer $r0 (filter allows prctl) not enrolled"
mergeable() { grep -q "ksm_mergeable: yes" "/proc/$1/ksm_stat"; }
wait_until 20 mergeable "$r1" || fail "renderer $r1 (filter kills prctl) not enrolled by madvise"
has_merge_any "$r1" && fail "renderer $r1 got prctl although its filter kills on it"
verdict() { ctl status | grep "^ *$r2 " | grep -q "seccomp: prctl -> KILL_PROCESS"; }
wait_until 20 verdict || fail "renderer $r2 not skipped with the verdict: $(ctl status)"
mergeable "$r2" && fail "renderer $r2 enrolled although its filter kills on prctl and madvise"
merged2() { for r in $r0 $r1; do [ "$(merging "$r")" -ge $((PAGES * 95 / 100)) ] || return 1; done; }
wait_until 60 merged2 || fail "sandboxed renderers not merging: $(merging "$r0") $(merging "$r1")"
verify_renderers "$TMP/c"
for r in $r0 $r1 $r2; do kill -0 "$r" || fail "renderer $r died"; done
note "C: sandboxed renderers: prctl, madvise, skipped ($(ctl status | grep "^ *$r2 " | sed 's/.*  //'))"
stop_daemon || fail "daemon exited non-zero"
exit 0
