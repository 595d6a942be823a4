/* kernel-patch/0002, the late twin (issue 9): B starts with A's contents at
 * other addresses after all of A's ranges retired. How many full scans until
 * B is merged with A? Bound: MAX_SCANS (issue 9's goal: 64).
 *
 * A: 32 MiB of pairwise distinct pages, enrolled with process_madvise
 * (kernel-patch/0001), left until its 16 ranges are retired. B: the same
 * 8,192 contents, 1 MiB + 20 pages further into its own mapping than A's
 * (other addresses, and each of B's ranges straddles two of A's), enrolled
 * the same way. Counted from B's enrollment, in full scans (ksmd's seqnr),
 * not time: until 95 % of each one's pages are merged. The scans to the
 * first merge and to half are logged too. */
#include "sampling.h"

#define LEN (32 * KT_MIB)
#define NPAGES ((long)(LEN / KT_PAGE))
#define SHIFT_B (KT_MIB + 20 * KT_PAGE)
#define MAX_SCANS 64
#define GIVE_UP 400	/* full scans, to report how long it took before the fix */

int main(void)
{
	struct ks_worker w[2];
	struct ks_twin_progress pr;
	long retired0, s0;

	ks_require_sampling();
	kt_ksm_start();
	ks_ksm_restart();
	ks_set("sampling", 1);
	retired0 = kt_ksm_sys("sampling_ranges_retired");
	ks_spawn_region(&w[0], LEN, 0, 1);	/* the same contents in A and B */
	ks_enroll_remote(&w[0]);
	ks_wait_retired(retired0, ks_ranges(&w[0], 1));
	if (!ks_wait_scans(2, kt_time_left()))
		kt_fail("ksmd stopped scanning");
	ks_spawn_region(&w[1], LEN, SHIFT_B, 1);
	kt_log("A at %#lx (retired: rmap_items %ld), B at %#lx", w[0].addr,
	       kt_ksm_stat(w[0].pid, "ksm_rmap_items"), w[1].addr);
	s0 = kt_ksm_sys("full_scans");
	ks_enroll_remote(&w[1]);
	ks_watch_twins(w, NPAGES, s0, GIVE_UP, &pr);
	kt_log("late twin: full scans from B's enrollment to A's first merge %ld, to half "
	       "merged %ld, to 95%% merged %ld (-1: not within the %ld scans watched); merged "
	       "%ld (A) %ld (B) of %ld; rearmed %ld", pr.first, pr.half, pr.all, pr.n, pr.ma, pr.mb,
	       NPAGES, kt_ksm_sys("sampling_ranges_rearmed"));
	ks_workers_verify_stop(w, 2);
	ks_set("sampling", 0);
	if (pr.all < 0 || pr.all > MAX_SCANS)
		kt_fail("late twin not merged within %d full scans: %ld (A) %ld (B) of %ld "
			"pages merged after %ld scans (first merge after %ld, half after %ld)",
			MAX_SCANS, pr.ma, pr.mb, NPAGES, pr.all < 0 ? pr.n : pr.all, pr.first, pr.half);
	kt_pass("late twin at other addresses: 95%% of 2 x %ld pages merged %ld full scans "
		"after B's enrollment (first merge %ld, half %ld; bound %d)", NPAGES, pr.all,
		pr.first, pr.half, MAX_SCANS);
}
