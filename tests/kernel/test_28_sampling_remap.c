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

enum { BY_MADVISE, BY_PRCTL };

static void fill_distinct(unsigned char *p, uint64_t id)
{
	for (size_t i = 0; i < NPAGES; i++)
		ks_fill_page(p + i * KT_PAGE, 1, id, i);
}

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

/* Commands: 'f' map again with MAP_FIXED and fill with pairs, 'v' verify,
 * 'q' quit. Replies are size_t (an errno, or bad pages). */
static void worker(int how, uint64_t id, int cmd, int reply)
{
	unsigned char *raw, *p;
	unsigned long addr;
	char c;

	if (how == BY_PRCTL && prctl(67 /* PR_SET_MEMORY_MERGE */, 1, 0, 0, 0))
		_exit(3);
	raw = mmap(NULL, LEN + 2 * KT_MIB, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		_exit(2);
	addr = ((unsigned long)raw + 2 * KT_MIB - 1) & ~(2 * KT_MIB - 1);
	p = (unsigned char *)addr;
	fill_distinct(p, id);
	if (how == BY_MADVISE && madvise(p, LEN, MADV_MERGEABLE))
		_exit(4);
	if (write(reply, &addr, sizeof(addr)) != sizeof(addr))
		_exit(2);
	while (read(cmd, &c, 1) == 1) {
		size_t r = 0;

		switch (c) {
		case 'f':
			if (mmap(p, LEN, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != p) {
				r = (size_t)errno;
				break;
			}
			fill_pairs(p, id);
			if (how == BY_MADVISE && madvise(p, LEN, MADV_MERGEABLE))
				r = (size_t)errno;
			break;
		case 'v':
			r = check_pairs(p, id);
			break;
		case 'q':
			_exit(0);
		}
		if (write(reply, &r, sizeof(r)) != sizeof(r))
			_exit(2);
	}
	_exit(0);
}

struct spawn_arg {
	int how;
	uint64_t id;
};

static void body(const void *arg, int cmd, int reply)
{
	const struct spawn_arg *a = arg;

	worker(a->how, a->id, cmd, reply);
}

static void spawn(struct ks_worker *w, int how, uint64_t id)
{
	struct spawn_arg a = { .how = how, .id = id };

	ks_worker_fork(w, LEN, body, &a);
}

int main(void)
{
	struct ks_worker w[NW];
	long retired0, rmap_retired, s0, scans = -1, merged[NW] = { 0 };

	ks_require_sampling();
	kt_ksm_start();
	ks_ksm_restart();
	ks_set("sampling", 1);
	retired0 = kt_ksm_sys("sampling_ranges_retired");
	spawn(&w[0], BY_MADVISE, 1);
	spawn(&w[1], BY_PRCTL, 2);
	kt_log("regions at %#lx (madvise) and %#lx (prctl)", w[0].addr, w[1].addr);
	ks_wait_retired(retired0, NW * LEN / (2 * KT_MIB));
	rmap_retired = ks_sum(w, NW, "ksm_rmap_items");

	/* just after the scan that followed a probe round of the first 0002 */
	while (kt_ksm_sys("full_scans") % 32 != 2) {
		if (kt_time_left() <= 0)
			kt_fail("out of time (test_timeout) at full_scans %ld",
				kt_ksm_sys("full_scans"));
		kt_sleep_ms(5);
	}
	ks_set("run", 0);	/* waits for ksmd's batch; unmerges nothing */
	s0 = kt_ksm_sys("full_scans");
	for (int i = 0; i < NW; i++) {
		size_t e = ks_worker_cmd(&w[i], 'f');

		if (e)
			kt_fail("pid %d: mmap(MAP_FIXED)/madvise: errno=%s", w[i].pid,
				kt_errname((int)e));
	}
	ks_set("run", 1);
	/* until 95 % of each region merged, or 4 x MAX_SCANS full scans */
	for (;;) {
		long s = kt_ksm_sys("full_scans");
		bool all = true;

		for (int i = 0; i < NW; i++) {
			merged[i] = kt_ksm_stat(w[i].pid, "ksm_merging_pages");
			all = all && merged[i] >= (long)NPAGES * 95 / 100;
		}
		if (all) {
			scans = s - s0;
			break;
		}
		if (s - s0 > 4 * MAX_SCANS)
			break;
		if (kt_time_left() <= 0)
			kt_fail("out of time (test_timeout) %ld full scans after the remap: merged "
				"%ld and %ld", s - s0, merged[0], merged[1]);
		kt_sleep_ms(10);
	}
	kt_log("retired: rmap_items %ld; after the remap at full_scans %ld: merged %ld (madvise) "
	       "and %ld (prctl) of %lu each, %s %ld full scans; rearmed %ld",
	       rmap_retired, s0, merged[0], merged[1], NPAGES, scans < 0 ? "not within" : "after",
	       scans < 0 ? 4 * MAX_SCANS : scans, kt_ksm_sys("sampling_ranges_rearmed"));
	for (int i = 0; i < NW; i++)
		if (ks_worker_cmd(&w[i], 'v'))
			kt_fail("pid %d: pages changed", w[i].pid);
	for (int i = 0; i < NW; i++)
		ks_worker_stop(&w[i]);
	ks_set("sampling", 0);
	if (scans < 0 || scans > MAX_SCANS)
		kt_fail("remapped over retired ranges: merged %ld (madvise) and %ld (prctl) of %lu "
			"each, not within %d full scans (took %ld; inherited \"retired\"?)",
			merged[0], merged[1], NPAGES, MAX_SCANS, scans);
	kt_pass("remapped over retired ranges (madvise and prctl): %ld and %ld of %lu pages "
		"merged within %ld full scans (bound %d)", merged[0], merged[1], NPAGES, scans,
		MAX_SCANS);
}
