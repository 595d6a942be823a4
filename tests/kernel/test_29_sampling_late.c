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

/* Commands: 'v' verify (replies bad pages), 'q' quit. */
static void worker(size_t shift, int cmd, int reply)
{
	unsigned char *raw = mmap(NULL, LEN + 4 * KT_MIB, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *p;
	unsigned long addr;
	char c;

	if (raw == MAP_FAILED)
		_exit(2);
	addr = (((unsigned long)raw + 2 * KT_MIB - 1) & ~(2 * KT_MIB - 1)) + shift;
	p = (unsigned char *)addr;
	for (size_t i = 0; i < NPAGES; i++)
		ks_fill_page(p + i * KT_PAGE, 1, 1, i);	/* the same in A and B */
	if (write(reply, &addr, sizeof(addr)) != sizeof(addr))
		_exit(2);
	while (read(cmd, &c, 1) == 1) {
		size_t bad = 0;

		if (c == 'q')
			_exit(0);
		for (size_t i = 0; i < NPAGES; i++)
			bad += !ks_page_ok(p + i * KT_PAGE, 1, 1, i);
		if (write(reply, &bad, sizeof(bad)) != sizeof(bad))
			_exit(2);
	}
	_exit(0);
}

static void body(const void *arg, int cmd, int reply)
{
	worker(*(const size_t *)arg, cmd, reply);
}

static void spawn(struct ks_worker *w, size_t shift)
{
	ks_worker_fork(w, LEN, body, &shift);
}

int main(void)
{
	struct ks_worker w[2];
	long retired0, s0, first = -1, half = -1, all = -1, ma = 0, mb = 0;

	ks_require_sampling();
	kt_ksm_start();
	ks_ksm_restart();
	ks_set("sampling", 1);
	retired0 = kt_ksm_sys("sampling_ranges_retired");
	spawn(&w[0], 0);
	ks_enroll_remote(&w[0]);
	ks_wait_retired(retired0, ks_ranges(&w[0], 1));
	if (!ks_wait_scans(2, kt_time_left()))
		kt_fail("ksmd stopped scanning");
	spawn(&w[1], SHIFT_B);
	kt_log("A at %#lx (retired: rmap_items %ld), B at %#lx", w[0].addr,
	       kt_ksm_stat(w[0].pid, "ksm_rmap_items"), w[1].addr);
	s0 = kt_ksm_sys("full_scans");
	ks_enroll_remote(&w[1]);
	for (;;) {
		long n = kt_ksm_sys("full_scans") - s0;

		ma = kt_ksm_stat(w[0].pid, "ksm_merging_pages");
		mb = kt_ksm_stat(w[1].pid, "ksm_merging_pages");
		if (first < 0 && ma > 0)
			first = n;
		if (half < 0 && ma >= NPAGES / 2 && mb >= NPAGES / 2)
			half = n;
		if (ma >= NPAGES * 95 / 100 && mb >= NPAGES * 95 / 100) {
			all = n;
			break;
		}
		if (n > GIVE_UP)
			break;
		if (kt_time_left() <= 0)
			kt_fail("out of time (test_timeout) %ld full scans after B's enrollment: "
				"merged %ld (A) %ld (B) of %ld", n, ma, mb, NPAGES);
		kt_sleep_ms(10);
	}
	kt_log("late twin: full scans from B's enrollment to A's first merge %ld, to half "
	       "merged %ld, to 95%% merged %ld (-1: not within %d scans); merged "
	       "%ld (A) %ld (B) of %ld; rearmed %ld", first, half, all, GIVE_UP, ma, mb,
	       NPAGES, kt_ksm_sys("sampling_ranges_rearmed"));
	for (int i = 0; i < 2; i++)
		if (ks_worker_cmd(&w[i], 'v'))
			kt_fail("pid %d: pages changed", w[i].pid);
	for (int i = 0; i < 2; i++)
		ks_worker_stop(&w[i]);
	ks_set("sampling", 0);
	if (all < 0 || all > MAX_SCANS)
		kt_fail("late twin not merged within %d full scans: %ld (A) %ld (B) of %ld "
			"pages merged after %ld scans (first merge after %ld, half after %ld)",
			MAX_SCANS, ma, mb, NPAGES, all < 0 ? GIVE_UP : all, first, half);
	kt_pass("late twin at other addresses: 95%% of 2 x %ld pages merged %ld full scans "
		"after B's enrollment (first merge %ld, half %ld; bound %d)", NPAGES, all, first,
		half, MAX_SCANS);
}
