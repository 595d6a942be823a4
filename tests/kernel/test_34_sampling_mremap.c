/* kernel-patch/0002, range state keyed by address (issue 9: "Reset it ... and
 * when the VMA changes"): memory that mremap() moves onto the address of a
 * retired range must not inherit "retired".
 *
 * Failed on 0002 before mremap() forgot range state (0 of 4,096 pages
 * merged in 32 scans), when it was forgotten only on MADV_MERGEABLE and
 * ksm_add_vma() (test_28's MAP_FIXED case). mremap() calls neither:
 * move_vma() keeps VM_MERGEABLE on the moved VMA, and MREMAP_FIXED unmaps
 * the destination and moves the pages there under one mmap_write_lock, so
 * ksmd never sees the address empty and never prunes its state. Now
 * move_vma() and an in-place growth call ksm_vma_moved().
 *
 * Two workers, each with X: 16 MiB (8 ranges, 2 MiB aligned) of distinct
 * pages, one enrolled by madvise(MADV_MERGEABLE), the other by
 * prctl(PR_SET_MEMORY_MERGE). Once all their ranges are retired, ksmd is
 * stopped (run=0: nothing unmerged, state kept) so that it never meets Y at
 * its first address (a new range there would wake the retired ones), and
 * each worker maps Y (16 MiB, mergeable: madvise, or prctl's every new VMA),
 * fills it with pairs and moves it onto X with mremap(MREMAP_FIXED). Pairs:
 * page i of the first half and page half + (i + 1) % half hold the same
 * content, so the two copies lie in other ranges and at other offsets in
 * them: the two probes of a retired range (same offset in every range)
 * cannot pair them. Fresh ranges are scanned in full and merge every pair
 * within a few scans; ranges that inherited "retired" are jumped over.
 * Done right after the scan that followed a probe round (full_scans % 32 ==
 * 2), so no probe round falls within the bound. Counted in full scans, not
 * time: 95 % of each region merged within MAX_SCANS.
 *
 * Then a control, whatever the outcome: MADV_UNMERGEABLE + MADV_MERGEABLE
 * on the moved memory (the path on which 0002 does forget range state) must
 * merge the same pairs within MAX_SCANS: a failure above is then the
 * inherited state, not pairs that cannot merge or a miscount. */
#include "sampling.h"

#define LEN (16 * KT_MIB)
#define NPAGES (LEN / KT_PAGE)
#define HALF (NPAGES / 2)
#define NW 2
#define MAX_SCANS 8	/* full scans from the move until 95 % of the pages merged */
#define GIVE_UP (4 * MAX_SCANS)	/* to report how far it got */

static uint64_t pair_content(size_t i)
{
	return i < HALF ? i : (i - HALF + 1) % HALF;
}

static size_t check_pairs(const unsigned char *p, uint64_t id)
{
	size_t bad = 0;

	for (size_t i = 0; i < NPAGES; i++)
		bad += !ks_page_ok(p + i * KT_PAGE, 4, id, pair_content(i));
	return bad;
}

/* Maps Y, fills it with pairs, makes it mergeable (madvise, or prctl's
 * ksm_add_vma()) and moves it onto x. 0 or an errno. */
static size_t move_pairs_onto(unsigned char *x, int how, uint64_t id)
{
	unsigned char *y = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (y == MAP_FAILED)
		return (size_t)errno;
	for (size_t i = 0; i < NPAGES; i++)
		ks_fill_page(y + i * KT_PAGE, 4, id, pair_content(i));
	if (how == KS_BY_MADVISE && madvise(y, LEN, MADV_MERGEABLE))
		return (size_t)errno;
	if (mremap(y, LEN, LEN, MREMAP_MAYMOVE | MREMAP_FIXED, x) != x)
		return (size_t)errno;
	return 0;
}

/* 'y' move pairs onto X, 'a' advise X unmergeable then mergeable again,
 * 'v' verify */
static size_t handle(char c, void *ctx)
{
	struct ks_region *r = ctx;

	switch (c) {
	case 'y':
		return move_pairs_onto(r->p, r->how, r->id);
	case 'a':
		if (madvise(r->p, LEN, MADV_UNMERGEABLE) || madvise(r->p, LEN, MADV_MERGEABLE))
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
	long rmap_retired, s0, s1, scans, control, merged[NW] = { 0 }, cmerged[NW] = { 0 };

	s0 = ks_retire_pair_then_stop(w, LEN, handle, &rmap_retired);
	for (int i = 0; i < NW; i++) {
		size_t e = ks_worker_cmd(&w[i], 'y');

		if (e)
			kt_fail("pid %d: mmap/madvise/mremap(MREMAP_FIXED): errno=%s", w[i].pid,
				kt_errname((int)e));
		if (kt_vma_has_flag(w[i].pid, w[i].addr, "mg") != 1)
			kt_fail("pid %d: the moved VMA at %#lx is not mergeable: nothing to test",
				w[i].pid, w[i].addr);
	}
	ks_set("run", 1);
	scans = ks_wait_all_merged(w, NW, NPAGES, s0, GIVE_UP, merged);
	kt_log("after the move at full_scans %ld: merged %ld (madvise) and %ld (prctl) of %lu "
	       "each, %s %ld full scans; rearmed %ld", s0, merged[0], merged[1], NPAGES,
	       scans < 0 ? "not within" : "after", scans < 0 ? (long)GIVE_UP : scans,
	       kt_ksm_sys("sampling_ranges_rearmed"));

	/* the control: the same pairs, state forgotten by MADV_MERGEABLE */
	s1 = kt_ksm_sys("full_scans");
	for (int i = 0; i < NW; i++) {
		size_t e = ks_worker_cmd(&w[i], 'a');

		if (e)
			kt_fail("pid %d: madvise(MADV_UNMERGEABLE, MADV_MERGEABLE): errno=%s",
				w[i].pid, kt_errname((int)e));
	}
	control = ks_wait_all_merged(w, NW, NPAGES, s1, GIVE_UP, cmerged);
	kt_log("control, advised again at full_scans %ld: merged %ld and %ld, %s %ld full scans",
	       s1, cmerged[0], cmerged[1], control < 0 ? "not within" : "after",
	       control < 0 ? (long)GIVE_UP : control);
	ks_workers_verify_stop(w, NW);
	ks_set("sampling", 0);
	if (control < 0 || control > MAX_SCANS)
		kt_fail("control: advised again, the pairs merged %ld and %ld of %lu, not within "
			"%d full scans: the test cannot tell the defect (moved: %ld and %ld)",
			cmerged[0], cmerged[1], NPAGES, MAX_SCANS, merged[0], merged[1]);
	if (scans < 0 || scans > MAX_SCANS)
		kt_fail("mremap onto retired ranges: merged %ld (madvise) and %ld (prctl) of %lu "
			"each, not within %d full scans (%s %ld; inherited \"retired\"); advised "
			"again: all merged within %ld", merged[0], merged[1], NPAGES, MAX_SCANS,
			scans < 0 ? "gave up after" : "took", scans < 0 ? (long)GIVE_UP : scans,
			control);
	kt_pass("mremap onto retired ranges (madvise and prctl): %ld and %ld of %lu pages "
		"merged within %ld full scans (bound %d)", merged[0], merged[1], NPAGES, scans,
		MAX_SCANS);
}
