# shellcheck shell=sh
# The kselftests the series adds to tools/testing/selftests/mm
# (kernel-patch/0003: ksm_remote_madv for 0001, ksm_sampling for 0002),
# built by run.sh from the series and the tree's kselftest.h. Each must
# exit 0 (KSFT_PASS) and print no "not ok" TAP line; a skip (exit 4) fails
# too: the guest kernel has everything they need. The KSM knobs they
# change are put back for the tests that follow.
# shellcheck source=kt.sh
. /tests/kt.sh

LIST=/bin/selftests.list
[ -s $LIST ] || kt_fail "no selftest in the initramfs: kernel-patch/series adds none" \
	"(tools/testing/selftests/mm/*.c)"

KNOBS="run pages_to_scan sleep_millisecs smart_scan sampling"
saved=""
for k in $KNOBS; do
	[ -e "$KSM/$k" ] && saved="$saved $k=$(cat "$KSM/$k")"
done
restore() {
	for kv in $saved; do echo "${kv#*=}" >"$KSM/${kv%%=*}" 2>/dev/null; done
}

ran="" failed=""
while read -r t; do
	out=/tmp/$t.tap
	"/bin/$t" >"$out" 2>&1
	rc=$?
	sed "s/^/# $t: /" "$out"
	nok=$(grep -c '^not ok' "$out")
	if [ $rc -ne 0 ] || [ "$nok" -ne 0 ]; then
		failed="$failed $t (exit $rc, $nok not ok: $(grep -m1 '^not ok' "$out"))"
	fi
	ran="$ran $t($(grep -c '^ok' "$out") ok)"
done <$LIST
restore
[ -z "$failed" ] || kt_fail "selftest(s) failed:$failed"
kt_pass "selftests passed:$ran"
