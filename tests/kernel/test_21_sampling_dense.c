/* kernel-patch/0002, no loss on dense memory: two twins of 20 MiB each
 * (the same 5,120 distinct pages in both), enrolled with process_madvise
 * (kernel-patch/0001). With sampling=1 they must still merge >= 99% of
 * their pages, in no more full scans than sampling=0 takes in the same boot,
 * give or take the scan in flight at enrollment (counted, not timed: a 1.2x
 * time bound failed under load with 3 scans against 2). */
#include "sampling.h"

#define LEN (20 * KT_MIB)
#define PAGES (2 * LEN / KT_PAGE)

static double run(int sampling, long *merged, long *scans, long *rmap)
{
	struct ks_layout l = { 0 };	/* page i: the same in both twins */
	struct ks_worker w[2];
	long want = (PAGES * 99 + 99) / 100, scans0;
	double t0, took;

	ks_ksm_restart();
	ks_set("sampling", sampling);
	for (int i = 0; i < 2; i++)
		ks_worker_spawn(&w[i], LEN, 7, &l);
	scans0 = kt_ksm_sys("full_scans");
	t0 = kt_now();
	for (int i = 0; i < 2; i++)
		ks_enroll_remote(&w[i]);
	while ((*merged = ks_sum(w, 2, "ksm_merging_pages")) < want && kt_now() - t0 < 240)
		kt_sleep_ms(50);
	took = kt_now() - t0;
	*scans = kt_ksm_sys("full_scans") - scans0;
	ks_wait_scans(12, 120);		/* the sampler settles: nothing may unmerge */
	*merged = ks_sum(w, 2, "ksm_merging_pages");
	*rmap = ks_sum(w, 2, "ksm_rmap_items");
	kt_log("sampling=%d: %ld of %lu merged after %.2fs (%ld full scans), %ld rmap_items after settling",
	       sampling, *merged, PAGES, took, *scans, *rmap);
	if (*merged < want)
		kt_fail("sampling=%d: only %ld of %lu pages merged (want >= %ld)",
			sampling, *merged, PAGES, want);
	for (int i = 0; i < 2; i++)
		if (ks_worker_cmd(&w[i], 'v'))
			kt_fail("sampling=%d: pid %d: pages changed", sampling, w[i].pid);
	for (int i = 0; i < 2; i++)
		ks_worker_stop(&w[i]);
	return took;
}

int main(void)
{
	long m0, m1, s0, s1, r0, r1;
	double t0, t1;

	ks_require_sampling();
	kt_ksm_start();
	t0 = run(0, &m0, &s0, &r0);
	t1 = run(1, &m1, &s1, &r1);
	ks_set("sampling", 0);
	if (s1 > s0 + 1)
		kt_fail("sampling=1 took %ld full scans (%.2fs), sampling=0 %ld (%.2fs): more than "
			"one more", s1, t1, s0, t0);
	kt_pass("sampling=0: %ld merged in %.2fs (%ld scans); sampling=1: %ld merged in %.2fs "
		"(%ld scans, %.2fx), rmap_items %ld vs %ld", m0, t0, s0, m1, t1, s1, t1 / t0, r1, r0);
}
