/* Remote process_madvise(MADV_MERGEABLE) on two twin processes (20 MiB of
 * the same pages each, 10,240 pages in all): the call succeeds, the VMA is
 * marked mergeable (smaps VmFlags "mg": 6.12's ksm_stat has no
 * ksm_mergeable line), ksmd merges at least 95% of the pages, and the twins'
 * memory still holds what they wrote. */
#include "kt.h"

#define LEN (20 * KT_MIB)
#define PAGES (2 * LEN / KT_PAGE)

int main(void)
{
	struct kt_twin a, b;
	struct kt_twin *tw[2] = { &a, &b };
	long want = PAGES * 95 / 100, got;
	double took;

	kt_ksm_start();
	kt_twin_spawn(&a, LEN, NULL);
	kt_twin_spawn(&b, LEN, NULL);
	for (int i = 0; i < 2; i++) {
		long r = kt_pmadvise(tw[i]->pidfd, (void *)tw[i]->addr, LEN, MADV_MERGEABLE);

		if (r < 0)
			kt_fail("process_madvise(pid %d, MADV_MERGEABLE): errno=%s",
				tw[i]->pid, kt_errname(errno));
		if (r != (long)LEN)
			kt_fail("process_madvise(MADV_MERGEABLE) returned %ld, want %lu", r, LEN);
		if (kt_vma_has_flag(tw[i]->pid, tw[i]->addr, "mg") != 1)
			kt_fail("pid %d: VMA at %#lx not mergeable (no \"mg\" in smaps VmFlags)",
				tw[i]->pid, tw[i]->addr);
	}
	got = kt_wait_merged(&a, &b, want, 240, &took);
	kt_log("ksm_merging_pages %ld + %ld after %.1fs, pages_sharing %ld, full_scans %ld",
	       kt_ksm_stat(a.pid, "ksm_merging_pages"), kt_ksm_stat(b.pid, "ksm_merging_pages"),
	       took, kt_ksm_sys("pages_sharing"), kt_ksm_sys("full_scans"));
	if (got < want)
		kt_fail("only %ld of %lu pages merged after %.0fs (want >= %ld)", got, PAGES, took, want);
	for (int i = 0; i < 2; i++) {
		size_t bad = kt_twin_cmd(tw[i], 'v', 0);

		if (bad)
			kt_fail("pid %d: %zu pages changed after merging", tw[i]->pid, bad);
	}
	kt_twin_stop(&a);
	kt_twin_stop(&b);
	kt_pass("%ld of %lu pages merged in %.1fs, contents intact", got, PAGES, took);
}
