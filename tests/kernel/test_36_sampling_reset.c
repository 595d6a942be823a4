/* kernel-patch/0002: dropping all range state (ksm_sample_reset_all(), on a
 * change of `sampling` and on run=2) must make every range start over with
 * full scans. Since issue 9 the state is dropped lazily: each mm's by ksmd
 * when it next comes to that mm (ksm_sample_sync()), not by the writer,
 * which used to hold ksm_mmlist_lock (taken by every fork and exit of a KSM
 * process) over all mms while freeing it.
 *
 * Ranges that start over retire again, so sampling_ranges_retired grows by
 * the region's range count once more; state that survived would leave them
 * retired and the counter still. Three ways in:
 *   1. sampling 1 -> 0 -> 1 while ksmd is stopped: ksmd never comes to the
 *      mm in between, so one visit must honour both resets;
 *   2. sampling 1 -> 0 with ksmd running (stock in between: every page gets
 *      its rmap_item back, and the state is freed at ksmd's visit) -> 1;
 *   3. run=2 (unmerge everything) and run=1.
 * Each must retire every range again within RETIRE_SCANS full scans (a range
 * retires about 10 scans after it starts over). */
#include "sampling.h"

#define LEN (16 * KT_MIB)
#define PAGES (LEN / KT_PAGE)
#define RETIRE_SCANS 64

/* Waits until n more ranges than retired0 have retired, or fails after
 * RETIRE_SCANS full scans: the state of the ranges was not dropped. */
static void wait_retired_in_scans(const char *how, long retired0, long n)
{
	long scan0 = kt_ksm_sys("full_scans");

	while (kt_ksm_sys("sampling_ranges_retired") - retired0 < n) {
		long scans = kt_ksm_sys("full_scans") - scan0;

		if (scans > RETIRE_SCANS || kt_time_left() <= 0)
			kt_fail("%s: %ld of %ld ranges retired again in %ld full scans: "
				"their state outlived the reset", how,
				kt_ksm_sys("sampling_ranges_retired") - retired0, n, scans);
		kt_sleep_ms(20);
	}
	kt_log("%s: all %ld ranges retired again %ld full scans later", how, n,
	       kt_ksm_sys("full_scans") - scan0);
}

int main(void)
{
	struct ks_layout l = { .dup_pages = 0 };
	struct ks_worker w;
	long ranges, retired0, items;

	ks_require_sampling();
	kt_ksm_start();
	ks_ksm_restart();
	ks_set("sampling", 1);
	retired0 = kt_ksm_sys("sampling_ranges_retired");
	ks_worker_spawn(&w, LEN, 1, &l);
	ks_enroll_remote(&w);
	ranges = ks_ranges(&w, 1);
	wait_retired_in_scans("enrolled", retired0, ranges);

	/* 1: two resets that ksmd sees as one visit */
	ks_set("run", 0);
	retired0 = kt_ksm_sys("sampling_ranges_retired");
	ks_set("sampling", 0);
	ks_set("sampling", 1);
	ks_set("run", 1);
	wait_retired_in_scans("sampling 1 -> 0 -> 1, ksmd stopped", retired0, ranges);

	/* 2: stock in between */
	ks_set("sampling", 0);
	if (!ks_wait_scans(2, kt_time_left()))
		kt_fail("sampling=0: 2 full scans not done before the test's deadline");
	items = kt_ksm_stat(w.pid, "ksm_rmap_items");
	if (items < (long)PAGES)
		kt_fail("sampling=0: %ld rmap_items after 2 full scans, want every page's (%lu)",
			items, PAGES);
	retired0 = kt_ksm_sys("sampling_ranges_retired");
	ks_set("sampling", 1);
	wait_retired_in_scans("sampling 1 -> 0 (2 scans) -> 1", retired0, ranges);

	/* 3: unmerge everything */
	retired0 = kt_ksm_sys("sampling_ranges_retired");
	ks_ksm_restart();
	wait_retired_in_scans("run=2, run=1", retired0, ranges);

	ks_workers_verify_stop(&w, 1);
	ks_set("sampling", 0);
	kt_pass("%ld ranges retired again after each reset (sampling 1-0-1 with ksmd stopped, "
		"1-0-1 with %ld rmap_items in between, run=2)", ranges, items);
}
