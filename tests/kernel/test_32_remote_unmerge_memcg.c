/* A memcg limit hit during a remote process_madvise(MADV_UNMERGEABLE).
 * Twin a lives in its own cgroup (/sys/fs/cgroup/kt-unmerge-memcg) with
 * oom_score_adj -1000, twin b outside; ksmd merges them and is stopped; then
 * memory.max of a's cgroup is set to its usage + a quarter of what
 * unmerging needs, and the caller (in the root cgroup) unmerges a in two
 * ranges, the first an eighth of the region. Unmerging copies every merged
 * page and charges the copies to the target's cgroup, so it hits the limit:
 *   - without swap (the normal kernels) the cgroup cannot reclaim anonymous
 *     memory and its OOM killer finds no victim (-1000), so the charge
 *     fails: the call returns the length of the first range only (a
 *     partial count), and a call on the second range alone fails with
 *     EAGAIN: madvise turns the -ENOMEM of break_ksm() into EAGAIN, as
 *     madvise(2) documents for "a kernel resource temporarily unavailable".
 *     The pages copied so far stay copied, the VMA stays mergeable;
 *   - with swap (the debug flavour's zram) reclaim may swap a's pages out
 *     and the calls complete: both outcomes are accepted there.
 * Either way: no OOM kill in the cgroup (memory.events oom_kill 0), the
 * caller is not OOM-killed (it runs on), the target is alive and its memory
 * intact, and once the limit is lifted a whole call completes.
 * The memcg OOM report the failed charge prints ("invoked oom-killer",
 * "Call Trace:", "Out of memory and no killable processes") is expected: the
 * test brackets it with KTEST-OOM-EXPECTED markers in the kernel log, between
 * which tests/kernel/run.sh ignores "Call Trace:" (not WARNING/BUG/KASAN). */
#include <sys/stat.h>
#include "kt.h"

#define LEN (16 * KT_MIB)
#define PAGES (2 * LEN / KT_PAGE)
#define FIRST (LEN / 8)
#define CG "/sys/fs/cgroup/kt-unmerge-memcg"

static void join_cgroup(void)
{
	/* Before the twin maps its memory: charges do not move with a task. */
	if (kt_write_file(CG "/cgroup.procs", "0") ||
	    kt_write_file("/proc/self/oom_score_adj", "-1000"))
		_exit(3);
}

static long cg_field(const char *file, const char *key)
{
	return kt_file_field(file, key);
}

static long cg_current(void)
{
	FILE *f = fopen(CG "/memory.current", "r");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* One kernel log record; with its newline, or the record stays open (and
 * unprinted) until the next message, which may come after the test. */
static void kmsg(const char *msg)
{
	char line[128];

	snprintf(line, sizeof(line), "%s\n", msg);
	kt_write_file("/dev/kmsg", line);
}

int main(void)
{
	struct kt_twin a, b;
	long want = PAGES * 95 / 100, got, cur, limit, r, r2 = 0, merged_left;
	double took;
	char buf[64];
	size_t bad;
	int err = 0, swap;
	struct iovec iov[2];

	if (access("/sys/fs/cgroup/cgroup.controllers", R_OK))
		kt_skip("no cgroup2 at /sys/fs/cgroup");
	kt_write_file("/sys/fs/cgroup/cgroup.subtree_control", "+memory");
	if (mkdir(CG, 0755) && errno != EEXIST)
		kt_fail("mkdir %s: errno=%s", CG, kt_errname(errno));
	if (access(CG "/memory.max", W_OK))
		kt_skip("no memory controller in %s", CG);

	kt_ksm_start();
	kt_twin_spawn(&a, LEN, join_cgroup);
	kt_twin_spawn(&b, LEN, NULL);
	if (kt_pmadvise(a.pidfd, (void *)a.addr, LEN, MADV_MERGEABLE) < 0 ||
	    kt_pmadvise(b.pidfd, (void *)b.addr, LEN, MADV_MERGEABLE) < 0)
		kt_fail("process_madvise(MADV_MERGEABLE): errno=%s", kt_errname(errno));
	got = kt_wait_merged(&a, &b, want, 300, &took);
	if (got < want)
		kt_fail("setup: only %ld of %lu pages merged after %.0fs", got, PAGES, took);
	iov[0] = (struct iovec){ (void *)a.addr, FIRST };
	iov[1] = (struct iovec){ (void *)(a.addr + FIRST), LEN - FIRST };
	/* ksmd stays off during the unmerge: it would merge again. */
	kt_write_file("/sys/kernel/mm/ksm/run", "0");

	cur = cg_current();
	limit = cur + (long)LEN / 4;
	snprintf(buf, sizeof(buf), "%ld", limit);
	if (kt_write_file(CG "/memory.max", buf))
		kt_fail("memory.max=%s: errno=%s", buf, kt_errname(errno));
	kt_log("cgroup usage %ld KiB, memory.max %ld KiB, unmerging %lu KiB",
	       cur / 1024, limit / 1024, LEN / 1024);

	swap = kt_file_field("/proc/meminfo", "SwapTotal") > 0;
	kmsg("KTEST-OOM-EXPECTED-BEGIN");
	r = kt_pmadvisev(a.pidfd, iov, 2, MADV_UNMERGEABLE);
	if (r < 0)
		err = errno;
	if (r == (long)FIRST) {
		r2 = kt_pmadvise(a.pidfd, iov[1].iov_base, iov[1].iov_len, MADV_UNMERGEABLE);
		err = r2 < 0 ? errno : 0;
	}
	kmsg("KTEST-OOM-EXPECTED-END");
	merged_left = kt_ksm_stat(a.pid, "ksm_merging_pages");
	kt_log("at the limit (swap %s): two ranges -> %ld%s%s, second alone -> %ld%s%s; "
	       "usage %ld KiB, oom %ld, oom_kill %ld",
	       swap ? "on" : "off", r, r < 0 ? " errno=" : "", r < 0 ? kt_errname(err) : "",
	       r2, r2 < 0 ? " errno=" : "", r2 < 0 ? kt_errname(err) : "", cg_current() / 1024,
	       cg_field(CG "/memory.events", "oom"), cg_field(CG "/memory.events", "oom_kill"));
	if (r == (long)FIRST) {
		if (r2 >= 0 && !(swap && r2 == (long)(LEN - FIRST)))
			kt_fail("second range alone at the limit returned %ld, want EAGAIN", r2);
		if (r2 < 0 && err != EAGAIN)
			kt_fail("second range alone at the limit: errno=%s, want EAGAIN",
				kt_errname(err));
		if (r2 < 0 && kt_vma_has_flag(a.pid, a.addr + FIRST, "mg") != 1)
			kt_fail("failed unmerge cleared VM_MERGEABLE");
	} else if (!(swap && r == (long)LEN)) {
		kt_fail("two ranges at the limit: returned %ld%s%s, want %lu (the first range)",
			r, r < 0 ? " errno=" : "", r < 0 ? kt_errname(err) : "", FIRST);
	}
	if (cg_field(CG "/memory.events", "oom_kill") != 0)
		kt_fail("the cgroup's OOM killer killed something");
	if (kill(a.pid, 0))
		kt_fail("target died");

	/* Room again: the rest unmerges, the memory is intact. */
	if (kt_write_file(CG "/memory.max", "max"))
		kt_fail("memory.max=max: errno=%s", kt_errname(errno));
	r2 = kt_pmadvise(a.pidfd, (void *)a.addr, LEN, MADV_UNMERGEABLE);
	if (r2 != (long)LEN)
		kt_fail("second MADV_UNMERGEABLE without limit: %ld errno=%s", r2,
			r2 < 0 ? kt_errname(errno) : "-");
	if ((bad = kt_twin_cmd(&a, 'v', 0)) || (bad = kt_twin_cmd(&b, 'v', 0)))
		kt_fail("%zu pages changed", bad);
	kt_ksm_start();
	kt_twin_stop(&a);
	kt_twin_stop(&b);
	rmdir(CG);
	kt_pass("at memory.max (swap %s): %s (%ld merged pages left), no OOM kill, target intact; "
		"without limit: unmerged", swap ? "on" : "off",
		r == (long)LEN ? "completed by reclaim" :
		r2 < 0 ? "partial count, then EAGAIN" : "partial count, then completed",
		merged_left);
}
