# policy = census on real KSM, the thesis' low-density workload: 2 x 100 MiB,
# the first 1 MiB of each all 0xff, the rest distinct. Whole-process
# enrollment keeps 51,200 rmap_items for 512 duplicate pages and loses
# memory (the profit check then drops it: 0 saved). The census enrolls only
# the 0xff pages: >= 510 of the 512 merged, <= 600 rmap_items, profit > 0,
# memory unchanged. Then growth: each twin maps 100 MiB more whose pages
# equal its first region's (same seed and offsets), so the census made on
# growth adds those ranges; and a range that stops paying (the process
# writes it over: here, the grown region is unmapped) leaves the plan.
# CENSUS_TEST_POLICY=whole runs the same checks on whole-process enrollment
# (they must fail: that is the point of the policy).
. "$(dirname "$0")/lib.sh"
need_root
need_ksm
ksm_save
ksm_set use_zero_pages 0
POLICY=${CENSUS_TEST_POLICY:-census}
write_conf "[ksmplusd]" "policy = $POLICY" "rescan_interval_sec = 1" "census_interval_sec = 3600" \
	"profit_min_scans = 2" "profit_min_sec = 2" \
	"[apps]" "app = ksmpcpol" "[ksmd]" "pages_to_scan = 5000" "sleep_millisecs = 10"
a=$(start_twin ksmpcpol 100 --distinct --seed 1 --ff-kib 1024)
b=$(start_twin ksmpcpol 100 --distinct --seed 2 --ff-kib 1024)
start_daemon

# mergeable_kib PID — KiB of its VMAs advised MADV_MERGEABLE (VmFlags mg)
mergeable_kib() {
	awk '/^[0-9a-f]+-[0-9a-f]+ / { size = 0 }
	     $1 == "Size:" { size = $2 }
	     $1 == "VmFlags:" { for (i = 2; i <= NF; i++) if ($i == "mg") kib += size }
	     END { print kib + 0 }' "/proc/$1/smaps"
}
advised_both() { [ "$(grep -c 'census: ksmpcpol\[[0-9]*\] (app ksmpcpol): +' "$DLOG")" -ge 2 ]; }
# Whole-process: the profit check has its chance to drop the app (2 scans,
# 2 s); the census: its first census and plan, logged.
if [ "$POLICY" = census ]; then
	census_within ksmpcpol 2 logged "census of app ksmpcpol: 2 processes" || fail "no census of the app"
	# advised as the census ends (the same turn of the loop), or at a retry
	census_within ksmpcpol 2 advised_both || fail "no ranges advised: $(grep census "$DLOG")"
fi
wait_until $WAIT_NET sh -c "[ \$(cat $KSM/full_scans) -ge $(( $(cat $KSM/full_scans) + 3 )) ]" || fail "ksmd does not scan"
settle "$a" "$b" || fail "merging did not settle"
merged=$(sum_field ksm_merging_pages "$a" "$b")
rmap=$(sum_field ksm_rmap_items "$a" "$b")
profit=$(sum_field ksm_process_profit "$a" "$b")
note "$POLICY: merged $merged of 512, rmap_items $rmap, profit $profit B (general_profit $(cat $KSM/general_profit) B)"
for p in $a $b; do verify_twin "$p"; done
[ "$merged" -ge 510 ] || fail "$POLICY: $merged of 512 duplicate pages merged (want >= 510)"
[ "$rmap" -le 600 ] || fail "$POLICY: $rmap rmap_items (want <= 600)"
[ "$profit" -gt 0 ] || fail "$POLICY: profit $profit B (want > 0)"

# growth: 100 MiB more each, equal page for page to the first region (but
# the 0xff MiB): censused again on growth, advised, merged
# (merged within the two censuses that start after the growth, and 16 full
# scans after them: counted, as a census paces itself)
n0=$(censuses ksmpcpol)
for p in $a $b; do kill -USR2 "$p"; done
for p in $a $b; do wait_until 30 grep -q grown "$TMP/twin.$p.st" || fail "$p did not grow"; done
grown_merged() { [ "$(merging "$a")" -ge 20000 ]; }
if [ "$POLICY" = census ]; then app=ksmpcpol; else app=""; fi
events_within "$app" 2 16 grown_merged || fail "grown region not merged: $(cat "/proc/$a/ksm_stat")"
[ "$POLICY" != census ] || [ "$(censuses ksmpcpol)" -gt "$n0" ] || fail "no census on growth"
for p in $a $b; do verify_twin "$p"; done
census_cpu=$(sed -n 's/.*census of app ksmpcpol: .*(\([0-9.]*\) s in [0-9]* censuses).*/\1/p' "$DLOG" | tail -1)
note "after growth: merged $(sum_field ksm_merging_pages "$a" "$b"), rmap_items $(sum_field ksm_rmap_items "$a" "$b"), profit $(sum_field ksm_process_profit "$a" "$b") B; census CPU ${census_cpu:-?} s"

[ "$POLICY" = census ] || exit 0

# ranges that stop paying: c and d hold the same distinct pages (same seed),
# so each is all duplicate while both live; once d exits, c's pages are
# unique, and the census made on d's leaving unmerges c's range.
# (census_within, lib.sh: a census paces itself, tens of seconds for these
# 400 MiB on a loaded machine; waits are counted in censuses, not seconds)
c=$(start_twin ksmpcpol 8 --distinct --seed 5)
d=$(start_twin ksmpcpol 8 --distinct --seed 5)
wait_until 60 grep -q "enrolled ksmpcpol\[$d\]" "$DLOG" || fail "d not enrolled"
census_within ksmpcpol 2 logged 'census of app ksmpcpol: 4 processes' ||
	fail "no census of c and d in the two censuses after d's enrollment: $(grep 'census of' "$DLOG" | tail -3)"
c_merging() { [ "$(merging "$c")" -ge 2000 ]; }
scans_within 16 c_merging || fail "c not merging: $(cat "/proc/$c/ksm_stat")"
kill "$d"
census_within ksmpcpol 2 logged "census: ksmpcpol\[$c\] (app ksmpcpol): [0-9]* KiB no longer pay, unmerged" ||
	fail "c's range not unmerged after d left: $(grep census "$DLOG" | tail -5)"
# What is advised, read from the VMAs' flags (mg), not from ksmd's progress:
# c keeps at most a few stack pages (zeros the others hold too), a keeps its
# 200 MiB.
c_kib=$(mergeable_kib "$c"); a_kib=$(mergeable_kib "$a")
note "after d left: c advised $c_kib KiB, merging $(merging "$c"); a advised $a_kib KiB"
[ "$c_kib" -lt 256 ] || fail "c still has $c_kib KiB advised"
verify_twin "$c"
[ "$a_kib" -ge $((190 * 1024)) ] || fail "a's ranges lost: $a_kib KiB advised"

kill -0 "$DAEMON_PID" || fail "daemon died"
stop_daemon || fail "daemon exited non-zero"
exit 0
