/* kernel-patch/0002, no loss on dense memory: two twins of 20 MiB each
 * (the same 5,120 distinct pages in both), enrolled with process_madvise
 * (kernel-patch/0001). With sampling=1 they must still merge >= 99% of
 * their pages, in no more full scans than sampling=0 takes in the same boot.
 *
 * Counted exactly, one full scan at a time (sampling.h's ks_kick(), with
 * pages_to_scan above the pages of both twins): the twins are enrolled
 * while ksmd is stopped by run=2, which also puts its cursor at the start
 * of a scan; run=1 wakes it for the first scan, each kick for one more, and
 * the merged pages are read between scans. (This test first counted scans
 * by reading full_scans every 50 ms with ksmd running: scans then took a
 * tenth of a second, so the count of each setting was off by one either
 * way, and "at most one more than sampling=0" held or not by luck.) */
#include "sampling.h"

#define LEN (20 * KT_MIB)
#define PAGES (2 * LEN / KT_PAGE)
#define MAX_SCANS 20	/* stock KSM merges twins in its second scan */

/* Full scans until 99% of the twins' pages are merged (-1: not within
 * MAX_SCANS); *merged after them and after the sampler settled, *rmap then. */
static long run(pid_t ksmd, int sampling, long *merged, long *rmap)
{
	struct ks_layout l = { 0 };	/* page i: the same in both twins */
	struct ks_worker w[2];
	long want = (PAGES * 99 + 99) / 100, scans = -1;
	long pts0 = kt_ksm_sys("pages_to_scan"), sleep0 = kt_ksm_sys("sleep_millisecs");

	ks_set("run", 2);	/* unmerges all, cursor to the start of a scan */
	ks_set("sampling", sampling);
	for (int i = 0; i < 2; i++)
		ks_worker_spawn(&w[i], LEN, 7, &l);
	for (int i = 0; i < 2; i++)
		ks_enroll_remote(&w[i]);
	ks_set("pages_to_scan", 4 * PAGES);
	ks_set("sleep_millisecs", KS_KICK_SLEEP_MS + 1);
	ks_settle(ksmd);
	ks_wake_batch(ksmd, "run", 1);		/* scan 1 */
	for (long n = 1; n <= MAX_SCANS; n++) {
		if ((*merged = ks_sum(w, 2, "ksm_merging_pages")) >= want) {
			scans = n;
			break;
		}
		ks_kick(ksmd);		/* scan n + 1 */
	}
	ks_set("pages_to_scan", pts0);
	ks_set("sleep_millisecs", sleep0);
	ks_wait_scans(12, kt_time_left());	/* the sampler settles: nothing may unmerge */
	*merged = ks_sum(w, 2, "ksm_merging_pages");
	*rmap = ks_sum(w, 2, "ksm_rmap_items");
	kt_log("sampling=%d: 99%% of %lu pages merged after %ld full scans (-1: not within %d), "
	       "%ld merged and %ld rmap_items after settling", sampling, PAGES, scans, MAX_SCANS,
	       *merged, *rmap);
	if (*merged < want)
		kt_fail("sampling=%d: only %ld of %lu pages merged (want >= %ld)",
			sampling, *merged, PAGES, want);
	for (int i = 0; i < 2; i++)
		if (ks_worker_cmd(&w[i], 'v'))
			kt_fail("sampling=%d: pid %d: pages changed", sampling, w[i].pid);
	for (int i = 0; i < 2; i++)
		ks_worker_stop(&w[i]);
	return scans;
}

int main(void)
{
	long m0, m1, s0, s1, r0, r1;
	pid_t ksmd;

	ks_require_sampling();
	kt_ksm_start();
	ksmd = ks_find_ksmd();
	s0 = run(ksmd, 0, &m0, &r0);
	s1 = run(ksmd, 1, &m1, &r1);
	ks_set("sampling", 0);
	if (s0 < 0)
		kt_fail("sampling=0: the twins did not merge within %d full scans", MAX_SCANS);
	if (s1 < 0 || s1 > s0)
		kt_fail("sampling=1 took %ld full scans (-1: more than %d), sampling=0 %ld: more",
			s1, MAX_SCANS, s0);
	kt_pass("sampling=0: %ld merged in %ld full scans; sampling=1: %ld merged in %ld full "
		"scans; rmap_items %ld vs %ld", m0, s0, m1, s1, r1, r0);
}
