/* kernel-patch/0002, range state keyed by address (issue 9): memory mapped
 * again where a retired range was must not inherit "retired".
 *
 * Two workers, each with 16 MiB (8 ranges, 2 MiB aligned) of distinct pages:
 * one enrolled by madvise(MADV_MERGEABLE), the other by
 * prctl(PR_SET_MEMORY_MERGE) (every new VMA mergeable: ksm_add_vma()). Once
 * all their ranges are retired, each maps its region again with MAP_FIXED
 * (the first one then calls madvise(MADV_MERGEABLE) on it) and fills it with
 * pairs: page i and page i + half hold the same content, in other ranges, so
 * the probes of a retired range (at fixed offsets) cannot pair them. Fresh
 * ranges are scanned in full and merge every pair within a few scans; ranges
 * that inherited "retired" are jumped over until a probe round.
 *
 * ksmd is stopped (run=0: nothing unmerged, state kept) during the remap, as
 * when it does not pass by between the munmap and the new memory (a large
 * or slow scan): otherwise the first pass without pages there prunes the
 * ranges' state, which hid the defect. The remap is done right after the
 * scan that followed a probe round of the first 0002 (full_scans % 32 == 2,
 * every retired range probed in scan 0 mod 32), so that the inherited state
 * shows for certain: no merge for 30 scans. Counted in full scans, not
 * time. */
#include "sampling.h"

#define LEN (16 * KT_MIB)
#define NPAGES (LEN / KT_PAGE)
#define NW 2
#define MAX_SCANS 8	/* full scans from the remap until 95 % of the pages merged */

/* page i and page i + NPAGES/2: the same content, new to this boot */
static void fill_pairs(unsigned char *p, uint64_t id)
{
	for (size_t i = 0; i < NPAGES; i++)
		ks_fill_page(p + i * KT_PAGE, 3, id, i % (NPAGES / 2));
}

static size_t check_pairs(const unsigned char *p, uint64_t id)
{
	size_t bad = 0;

	for (size_t i = 0; i < NPAGES; i++)
		bad += !ks_page_ok(p + i * KT_PAGE, 3, id, i % (NPAGES / 2));
	return bad;
}

/* 'f' map again with MAP_FIXED and fill with pairs, 'v' verify */
static size_t handle(char c, void *ctx)
{
	struct ks_region *r = ctx;

	switch (c) {
	case 'f':
		if (mmap(r->p, LEN, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != r->p)
			return (size_t)errno;
		fill_pairs(r->p, r->id);
		if (r->how == KS_BY_MADVISE && madvise(r->p, LEN, MADV_MERGEABLE))
			return (size_t)errno;
		return 0;
	case 'v':
		return check_pairs(r->p, r->id);
	}
	return 0;
}

int main(void)
{
	struct ks_worker w[NW];
	long rmap_retired, s0, scans, merged[NW] = { 0 };

	s0 = ks_retire_pair_then_stop(w, LEN, handle, &rmap_retired);
	for (int i = 0; i < NW; i++) {
		size_t e = ks_worker_cmd(&w[i], 'f');

		if (e)
			kt_fail("pid %d: mmap(MAP_FIXED)/madvise: errno=%s", w[i].pid,
				kt_errname((int)e));
	}
	ks_set("run", 1);
	/* until 95 % of each region merged, or 4 x MAX_SCANS full scans */
	scans = ks_wait_all_merged(w, NW, NPAGES, s0, 4 * MAX_SCANS, merged);
	kt_log("retired: rmap_items %ld; after the remap at full_scans %ld: merged %ld (madvise) "
	       "and %ld (prctl) of %lu each, %s %ld full scans; rearmed %ld",
	       rmap_retired, s0, merged[0], merged[1], NPAGES, scans < 0 ? "not within" : "after",
	       scans < 0 ? 4 * MAX_SCANS : scans, kt_ksm_sys("sampling_ranges_rearmed"));
	ks_workers_verify_stop(w, NW);
	ks_set("sampling", 0);
	if (scans < 0 || scans > MAX_SCANS)
		kt_fail("remapped over retired ranges: merged %ld (madvise) and %ld (prctl) of %lu "
			"each, not within %d full scans (took %ld; inherited \"retired\"?)",
			merged[0], merged[1], NPAGES, MAX_SCANS, scans);
	kt_pass("remapped over retired ranges (madvise and prctl): %ld and %ld of %lu pages "
		"merged within %ld full scans (bound %d)", merged[0], merged[1], NPAGES, scans,
		MAX_SCANS);
}
