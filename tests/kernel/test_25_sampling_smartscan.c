/* kernel-patch/0002, issue 9 risk 1: smart_scan (on by default) must not skip
 * the scans that sampling picked a page for. Sampling keeps a page's
 * rmap_item only when it picks the page (and for the scan after, its merge
 * attempt); smart_scan skips pages whose rmap_item has aged without merging.
 * Before the fix, a page picked in the first sampled scan, whose rmap_item
 * had aged through the three full scans, was skipped by smart_scan: the scan
 * sampling granted it never looked at the page.
 *
 * Workload: two processes, 8 MiB each of pairwise distinct pages (nothing
 * merges, so no range re-arms to full scans), enrolled with sampling=1 and
 * smart_scan=1 after run=2. Once every range is retired, smart_scan must not
 * have skipped a single page (pages_skipped unchanged): from the first
 * sampled scan on, every page ksmd looks at is one that sampling picked. */
#include "sampling.h"

#define LEN (8 * KT_MIB)
#define NW 2

int main(void)
{
	struct ks_layout l = { .dup_pages = 0 };
	struct ks_worker w[NW];
	long smart0, skipped0, retired0, skipped, freed0;

	ks_require_sampling();
	kt_ksm_start();
	ks_ksm_restart();
	smart0 = kt_ksm_sys("smart_scan");
	ks_set("smart_scan", 1);
	ks_set("sampling", 1);
	skipped0 = kt_ksm_sys("pages_skipped");
	retired0 = kt_ksm_sys("sampling_ranges_retired");
	freed0 = kt_ksm_sys("sampling_items_freed");
	for (int i = 0; i < NW; i++)
		ks_worker_spawn(&w[i], LEN, i + 1, &l);
	for (int i = 0; i < NW; i++)
		ks_enroll_remote(&w[i]);
	ks_wait_retired(retired0, ks_ranges(w, NW));
	ks_wait_scans(2, 60);
	skipped = kt_ksm_sys("pages_skipped") - skipped0;
	kt_log("pages_skipped +%ld, items_freed +%ld, rmap_items %ld, full_scans %ld",
	       skipped, kt_ksm_sys("sampling_items_freed") - freed0,
	       ks_sum(w, NW, "ksm_rmap_items"), kt_ksm_sys("full_scans"));
	for (int i = 0; i < NW; i++) {
		size_t bad = ks_worker_cmd(&w[i], 'v');

		if (bad)
			kt_fail("pid %d: %zu pages changed", w[i].pid, bad);
	}
	for (int i = 0; i < NW; i++)
		ks_worker_stop(&w[i]);
	ks_set("sampling", 0);
	ks_set("smart_scan", smart0);
	if (skipped)
		kt_fail("smart_scan skipped %ld pages that sampling had picked", skipped);
	kt_pass("sampling=1 smart_scan=1: no sampled page skipped by smart_scan "
		"(pages_skipped +0 until all %ld ranges retired)", ks_ranges(w, NW));
}
