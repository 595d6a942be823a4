/* kernel-patch/0002, memory that gains duplicates later: two workers with
 * 32 MiB of distinct pages each are enrolled with process_madvise
 * (kernel-patch/0001) and left until the sampler has retired their ranges.
 * Then each rewrites 8 MiB of its region: the first 4 MiB with pages that
 * are unique within a worker but the same in both (pairs across processes,
 * like twins), the next 4 MiB with 64 contents repeated (many copies).
 * The retired ranges are re-armed by their periodic probe (a few pages
 * every 32 scans, kept for two scans): all rewritten pages must merge. */
#include "sampling.h"

#define LEN (32 * KT_MIB)
#define NW 2
#define RW_FIRST (8 * KT_MIB / KT_PAGE)
#define RW_PAGES (8 * KT_MIB / KT_PAGE)

int main(void)
{
	/* pairs for the first half, then 64 contents repeated: ks_expect() */
	struct ks_layout l = { .dup_pages = 0, .rw_first = RW_FIRST, .rw_pages = RW_PAGES,
			       .rw_kind = 2, .rw_period = 64 };
	struct ks_worker w[NW];
	long want = NW * RW_PAGES * 95 / 100, merged = 0, rmap_retired, retired0;
	double t0, took;

	ks_require_sampling();
	kt_ksm_start();
	ks_ksm_restart();
	ks_set("sampling", 1);
	retired0 = kt_ksm_sys("sampling_ranges_retired");
	for (int i = 0; i < NW; i++)
		ks_worker_spawn(&w[i], LEN, i + 1, &l);
	kt_log("worker regions at %#lx and %#lx", w[0].addr, w[1].addr);
	for (int i = 0; i < NW; i++)
		ks_enroll_remote(&w[i]);
	/* all 2 x 16 ranges retired */
	t0 = kt_now();
	while (kt_ksm_sys("sampling_ranges_retired") - retired0 < (long)(NW * LEN / (2 * KT_MIB))) {
		if (kt_now() - t0 > 300)
			kt_fail("ranges not retired after 300s: %ld retired",
				kt_ksm_sys("sampling_ranges_retired") - retired0);
		kt_sleep_ms(200);
	}
	rmap_retired = ks_sum(w, NW, "ksm_rmap_items");
	kt_log("retired after %.1fs: rmap_items %ld, merged %ld", kt_now() - t0, rmap_retired,
	       ks_sum(w, NW, "ksm_merging_pages"));
	for (int i = 0; i < NW; i++)
		ks_worker_cmd(&w[i], 'r');
	t0 = kt_now();
	while ((merged = ks_sum(w, NW, "ksm_merging_pages")) < want) {
		if (kt_now() - t0 > 400)
			break;
		kt_sleep_ms(250);
	}
	took = kt_now() - t0;
	kt_log("after rewrite: merged %ld of %lu in %.1fs, rearmed %ld, rmap_items %ld",
	       merged, NW * RW_PAGES, took, kt_ksm_sys("sampling_ranges_rearmed"),
	       ks_sum(w, NW, "ksm_rmap_items"));
	ks_workers_verify_stop(w, NW);
	ks_set("sampling", 0);
	if (merged < want)
		kt_fail("only %ld of %lu rewritten pages merged %.0fs after the rewrite",
			merged, NW * RW_PAGES, took);
	kt_pass("retired (rmap_items %ld), rewritten 2 x %lu pages merged: %ld after %.1fs",
		rmap_retired, RW_PAGES, merged, took);
}
