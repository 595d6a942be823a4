/* Remote process_madvise(MADV_UNMERGEABLE) unmerges: two twins opt
 * themselves in with madvise(MADV_MERGEABLE) (so only the remote UNMERGEABLE
 * is under test), ksmd merges them, then UNMERGEABLE on one twin from here
 * brings its ksm_merging_pages to 0, pages_sharing falls (both counters
 * once ksmd has dropped the stale rmap_items), its VMA loses "mg", and both
 * twins' memory is unchanged. */
#include "kt.h"

#define LEN (8 * KT_MIB)
#define PAGES (2 * LEN / KT_PAGE)

int main(void)
{
	struct kt_twin a, b;
	long want = PAGES * 95 / 100, got, sharing0, sharing1, merging, r;
	double took;
	size_t bad;

	kt_ksm_start();
	kt_twin_spawn(&a, LEN, NULL);
	kt_twin_spawn(&b, LEN, NULL);
	if (kt_twin_cmd(&a, 'm', 0) || kt_twin_cmd(&b, 'm', 0))
		kt_fail("madvise(MADV_MERGEABLE) in the twins failed");
	got = kt_wait_merged(&a, &b, want, 240, &took);
	if (got < want)
		kt_fail("setup: only %ld of %lu pages merged after %.0fs", got, PAGES, took);
	sharing0 = kt_ksm_sys("pages_sharing");

	r = kt_pmadvise(a.pidfd, (void *)a.addr, LEN, MADV_UNMERGEABLE);
	if (r < 0)
		kt_fail("process_madvise(pid %d, MADV_UNMERGEABLE): errno=%s", a.pid,
			kt_errname(errno));
	if (r != (long)LEN)
		kt_fail("process_madvise(MADV_UNMERGEABLE) returned %ld, want %lu", r, LEN);
	/* break_ksm() has copied every page by now, but the counters follow
	 * when ksmd next walks a's rmap_items and drops them: poll. */
	{
		double t0 = kt_now();

		do {
			sharing1 = kt_ksm_sys("pages_sharing");
			merging = kt_ksm_stat(a.pid, "ksm_merging_pages");
			if (merging == 0 && sharing1 <= sharing0 - want / 2)
				break;
			kt_sleep_ms(200);
		} while (kt_now() - t0 < 60);
		took = kt_now() - t0;
	}
	kt_log("after %.1fs: pages_sharing %ld -> %ld, twin a merging %ld, twin b merging %ld",
	       took, sharing0, sharing1, merging, kt_ksm_stat(b.pid, "ksm_merging_pages"));
	if (merging != 0)
		kt_fail("twin a still has %ld merged pages after 60s", merging);
	if (sharing1 > sharing0 - want / 2)
		kt_fail("pages_sharing fell only from %ld to %ld", sharing0, sharing1);
	if (kt_vma_has_flag(a.pid, a.addr, "mg") != 0)
		kt_fail("twin a's VMA still mergeable");
	if ((bad = kt_twin_cmd(&a, 'v', 0)) || (bad = kt_twin_cmd(&b, 'v', 0)))
		kt_fail("%zu pages changed by unmerging", bad);
	kt_twin_stop(&a);
	kt_twin_stop(&b);
	kt_pass("pages_sharing %ld -> %ld, twin unmerged (counters after %.1fs), contents intact",
		sharing0, sharing1, took);
}
