/* sampling.h — shared by the sampling tests of kernel-patch/0002 (tests/kernel/
 * test_2x_sampling_*.c): the /sys/kernel/mm/ksm/sampling knob, workers that
 * hold a region of low-density memory, and the numbers the tests report. */
#ifndef KSMPLUS_KS_H
#define KSMPLUS_KS_H
#include <stdbool.h>
#include "kt.h"

static inline void ks_require_sampling(void)
{
	if (access("/sys/kernel/mm/ksm/sampling", F_OK))
		kt_fail("no /sys/kernel/mm/ksm/sampling: kernel without 0002");
}

static inline void ks_set(const char *knob, long v)
{
	char path[128], val[32];

	snprintf(path, sizeof(path), "/sys/kernel/mm/ksm/%s", knob);
	snprintf(val, sizeof(val), "%ld", v);
	if (kt_write_file(path, val))
		kt_fail("write %s=%s: errno=%s", path, val, kt_errname(errno));
}

/* MemAvailable after dropping what the kernel can drop by itself: page
 * cache, empty slabs of the rmap_item cache (SLUB sysfs, if present), and
 * pages sitting on per-cpu lists (compaction drains them). */
static inline long ks_memavail_kib(void)
{
	kt_write_file("/proc/sys/vm/drop_caches", "3");
	kt_write_file("/sys/kernel/slab/ksm_rmap_item/shrink", "1");
	kt_write_file("/proc/sys/vm/compact_memory", "1");
	kt_sleep_ms(300);
	return kt_file_field("/proc/meminfo", "MemAvailable");
}

/* Waits until ksmd has completed n more full scans; false on timeout. */
static inline bool ks_wait_scans(long n, double timeout_s)
{
	long want = kt_ksm_sys("full_scans") + n + 1;	/* +1: the one in flight */
	double t0 = kt_now();

	while (kt_ksm_sys("full_scans") < want) {
		if (kt_now() - t0 > timeout_s)
			return false;
		kt_sleep_ms(100);
	}
	return true;
}

/* What 0002 charges against pages_to_scan for the pages a scan passes over
 * without an rmap_item: one unit per KSM_SAMPLE_SKIP_COST of them (mm/ksm.c).
 * test_26 derives its wake-up bounds from it, test_27 its break-even line. */
#define KS_SKIP_COST 12

/* The pid of the ksmd kernel thread (its CPU clock and /proc/PID/status) */
static inline pid_t ks_find_ksmd(void)
{
	char path[64], comm[32];

	for (pid_t pid = 2; pid < 1000; pid++) {
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strcmp(comm, "ksmd\n")) {
			fclose(f);
			return pid;
		}
		fclose(f);
	}
	kt_fail("no ksmd thread found in /proc");
}

/* --- ksmd one batch at a time (test_21, test_26) ---------------------------
 * Counts, not time: with sleep_millisecs an hour, ksmd runs one
 * ksm_do_scan(pages_to_scan) batch per wake-up -- a write of another
 * sleep_millisecs value (sleep_millisecs_store() wakes it), or of run=1 --
 * and sleeps again. Inside a batch it only sleeps in D, so "state S with
 * more voluntary context switches than before" means the batch is done.
 * A batch ends at the end of a full scan at the latest (ksm_do_scan()
 * returns when scan_get_next_rmap_item() does), so with pages_to_scan above
 * the pages of all enrolled memory one wake-up is exactly one full scan. */
#define KS_KICK_SLEEP_MS 3600000L

/* ksmd's scheduler state letter, and its voluntary context switches */
static inline char ks_ksmd_state(pid_t ksmd, long *nvcsw)
{
	char path[64], line[128];
	char state = '?';
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", ksmd);
	f = fopen(path, "r");
	if (!f)
		kt_fail("open %s: errno=%s", path, kt_errname(errno));
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "State:", 6))
			sscanf(line + 6, " %c", &state);
	fclose(f);
	*nvcsw = kt_file_field(path, "voluntary_ctxt_switches");
	return state;
}

/* Writes knob=v, which wakes ksmd for one batch, and waits until it is
 * asleep again (the test's time limit is the safety net). */
static inline void ks_wake_batch(pid_t ksmd, const char *knob, long v)
{
	long v0, vn;

	if (ks_ksmd_state(ksmd, &v0) != 'S')
		kt_fail("ksmd not asleep before %s=%ld", knob, v);
	ks_set(knob, v);
	while (ks_ksmd_state(ksmd, &vn) != 'S' || vn <= v0) {
		if (kt_time_left() <= 0)
			kt_fail("out of time (test_timeout): ksmd did not finish the batch "
				"after %s=%ld", knob, v);
		kt_sleep_ms(2);
	}
}

/* Wakes ksmd for one batch: writes the other of two sleep_millisecs values
 * (a write of the same value would not wake it). */
static inline void ks_kick(pid_t ksmd)
{
	long ms = kt_ksm_sys("sleep_millisecs") == KS_KICK_SLEEP_MS ? KS_KICK_SLEEP_MS + 1
								   : KS_KICK_SLEEP_MS;

	ks_wake_batch(ksmd, "sleep_millisecs", ms);
}

/* Waits until ksmd sleeps between batches (state S long enough to be seen
 * twice, 50 ms apart, with no context switch in between). */
static inline void ks_settle(pid_t ksmd)
{
	long v0, v;

	for (;;) {
		char s0 = ks_ksmd_state(ksmd, &v0);

		kt_sleep_ms(50);
		if (s0 == 'S' && ks_ksmd_state(ksmd, &v) == 'S' && v == v0)
			return;
		if (kt_time_left() <= 0)
			kt_fail("out of time (test_timeout): ksmd never settled asleep");
	}
}

/* Unmerges everything and restarts ksmd: each measurement starts clean. */
static inline void ks_ksm_restart(void)
{
	ks_set("run", 2);
	ks_set("run", 1);
}

/* --- workers: a child that maps and fills a region, then obeys commands --- */

struct ks_worker {
	pid_t pid;
	int pidfd, cmd, reply;
	unsigned long addr;
	size_t len;
};

/* Page contents: a 64-bit word pattern from (kind, id, page); kind 0 = all
 * 0xff. Different (id, page) give different pages. */
static inline uint64_t ks_word(unsigned kind, uint64_t id, uint64_t page, size_t j)
{
	if (kind == 0)
		return ~0ULL;
	return 0x6b736d2b00000000ULL ^ ((uint64_t)kind << 56) ^ (id << 44) ^
	       (page << 12) ^ j;
}

static inline void ks_fill_page(unsigned char *p, unsigned kind, uint64_t id, uint64_t page)
{
	uint64_t *w = (uint64_t *)p;

	for (size_t j = 0; j < KT_PAGE / 8; j++)
		w[j] = ks_word(kind, id, page, j);
}

static inline bool ks_page_ok(const unsigned char *p, unsigned kind, uint64_t id, uint64_t page)
{
	const uint64_t *w = (const uint64_t *)p;

	for (size_t j = 0; j < KT_PAGE / 8; j++)
		if (w[j] != ks_word(kind, id, page, j))
			return false;
	return true;
}

/* The low-density layout: the first dup_pages pages all 0xff, every other
 * page distinct (within the worker and from every other worker id). */
struct ks_layout {
	size_t dup_pages;
	/* rewritten later by command 'r': [rw_first, rw_first + rw_pages) */
	size_t rw_first, rw_pages;
	unsigned rw_kind;	/* content kind written by 'r' */
	size_t rw_period;	/* see ks_expect() */
};

static inline void ks_expect(const struct ks_layout *l, bool rewritten, uint64_t id,
			     size_t i, unsigned *kind, uint64_t *kid, uint64_t *kpage)
{
	if (i < l->dup_pages) {
		*kind = 0; *kid = 0; *kpage = 0;
	} else if (rewritten && i >= l->rw_first && i < l->rw_first + l->rw_pages) {
		/* the same in every worker: duplicates across workers */
		size_t k = i - l->rw_first;

		/* first half: pages unique in a worker; second half, when
		 * rw_period is set: rw_period contents repeated */
		*kind = l->rw_kind; *kid = 0;
		*kpage = l->rw_period && k >= l->rw_pages / 2 ?
			 (1 << 20) + k % l->rw_period : k;
	} else {
		*kind = 1; *kid = id; *kpage = i;
	}
}

static inline size_t ks_check_all(const unsigned char *p, size_t len,
				  const struct ks_layout *l, bool rewritten, uint64_t id)
{
	size_t bad = 0;

	for (size_t i = 0; i < len / KT_PAGE; i++) {
		unsigned kind;
		uint64_t kid, kpage;

		ks_expect(l, rewritten, id, i, &kind, &kid, &kpage);
		bad += !ks_page_ok(p + i * KT_PAGE, kind, kid, kpage);
	}
	return bad;
}

/* Commands: 'm' madvise(MADV_MERGEABLE) itself, 'r' rewrite the rw range,
 * 'v' verify (replies bad pages), 'q' quit. Replies are size_t. */
static inline void ks_worker_main(size_t len, uint64_t id, const struct ks_layout *l,
				  int cmd, int reply)
{
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned long addr = (unsigned long)p;
	bool rewritten = false;
	char c;

	if (p == MAP_FAILED)
		_exit(2);
	for (size_t i = 0; i < len / KT_PAGE; i++) {
		unsigned kind;
		uint64_t kid, kpage;

		ks_expect(l, false, id, i, &kind, &kid, &kpage);
		ks_fill_page(p + i * KT_PAGE, kind, kid, kpage);
	}
	if (write(reply, &addr, sizeof(addr)) != sizeof(addr))
		_exit(2);
	while (read(cmd, &c, 1) == 1) {
		size_t r = 0;

		switch (c) {
		case 'm':
			r = madvise(p, len, MADV_MERGEABLE) ? (size_t)errno : 0;
			break;
		case 'r':
			rewritten = true;
			for (size_t i = l->rw_first; i < l->rw_first + l->rw_pages; i++) {
				unsigned kind;
				uint64_t kid, kpage;

				ks_expect(l, true, id, i, &kind, &kid, &kpage);
				ks_fill_page(p + i * KT_PAGE, kind, kid, kpage);
			}
			break;
		case 'v':
			r = ks_check_all(p, len, l, rewritten, id);
			break;
		case 'q':
			_exit(0);
		}
		if (write(reply, &r, sizeof(r)) != sizeof(r))
			_exit(2);
	}
	_exit(0);
}

/*
 * Fork a worker running body(arg, cmd, reply) — it never returns — and wait
 * for the address it reports: the pipes, start handshake and pidfd every
 * sampling test's workers share.
 */
static inline void ks_worker_fork(struct ks_worker *w, size_t len,
				  void (*body)(const void *arg, int cmd, int reply),
				  const void *arg)
{
	int c[2], r[2];

	if (pipe(c) || pipe(r))
		kt_fail("pipe: errno=%s", kt_errname(errno));
	w->len = len;
	w->pid = fork();
	if (w->pid < 0)
		kt_fail("fork: errno=%s", kt_errname(errno));
	if (w->pid == 0) {
		close(c[1]);
		close(r[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		body(arg, c[0], r[1]);
		_exit(0);
	}
	close(c[0]);
	close(r[1]);
	w->cmd = c[1];
	w->reply = r[0];
	if (read(w->reply, &w->addr, sizeof(w->addr)) != sizeof(w->addr))
		kt_fail("worker %d did not start", w->pid);
	w->pidfd = kt_pidfd_open(w->pid);
	if (w->pidfd < 0)
		kt_fail("pidfd_open(%d): errno=%s", w->pid, kt_errname(errno));
}

struct ks_spawn_arg {
	size_t len;
	uint64_t id;
	const struct ks_layout *l;
};

static inline void ks_worker_body(const void *arg, int cmd, int reply)
{
	const struct ks_spawn_arg *a = arg;

	ks_worker_main(a->len, a->id, a->l, cmd, reply);
}

static inline void ks_worker_spawn(struct ks_worker *w, size_t len, uint64_t id,
				   const struct ks_layout *l)
{
	struct ks_spawn_arg a = { .len = len, .id = id, .l = l };

	ks_worker_fork(w, len, ks_worker_body, &a);
}

static inline size_t ks_worker_cmd(struct ks_worker *w, char c)
{
	size_t r;

	if (write(w->cmd, &c, 1) != 1 || read(w->reply, &r, sizeof(r)) != sizeof(r))
		kt_fail("worker %d died (command %c)", w->pid, c);
	return r;
}

static inline void ks_worker_stop(struct ks_worker *w)
{
	char c = 'q';

	if (write(w->cmd, &c, 1) != 1)
		kill(w->pid, SIGKILL);
	waitpid(w->pid, NULL, 0);
	close(w->cmd);
	close(w->reply);
	close(w->pidfd);
}

/* The end of a test's workload: each of the n workers must still hold what
 * it wrote (merging changes no byte), then they exit. */
static inline void ks_workers_verify_stop(struct ks_worker *w, int n)
{
	for (int i = 0; i < n; i++)
		if (ks_worker_cmd(&w[i], 'v'))
			kt_fail("pid %d: pages changed", w[i].pid);
	for (int i = 0; i < n; i++)
		ks_worker_stop(&w[i]);
}

/* How many 2 MiB ranges of the sampling scan the workers' regions touch. */
static inline long ks_ranges(const struct ks_worker *w, int n)
{
	long r = 0;

	for (int i = 0; i < n; i++)
		r += (long)(((w[i].addr + w[i].len - 1) >> 21) - (w[i].addr >> 21) + 1);
	return r;
}

/* Waits until sampling_ranges_retired has grown by n; fails when the test's
 * time runs out (kt_time_left()), not after a fixed 120 s written for the
 * normal kernel: retiring takes a number of scans, and a KASAN kernel is
 * several times slower. */
static inline void ks_wait_retired(long retired0, long n)
{
	double t0 = kt_now();

	while (kt_ksm_sys("sampling_ranges_retired") - retired0 < n) {
		if (kt_time_left() <= 0)
			kt_fail("only %ld of %ld ranges retired after %.0f s (full_scans %ld)",
				kt_ksm_sys("sampling_ranges_retired") - retired0, n,
				kt_now() - t0, kt_ksm_sys("full_scans"));
		kt_sleep_ms(50);
	}
}

/* Enrolls a worker from outside with process_madvise(MADV_MERGEABLE)
 * (kernel-patch/0001), as ksmplusd does. One call advises at most
 * MAX_RW_COUNT (2 GiB - 4 KiB) and says how much it did: the rest follows. */
static inline void ks_enroll_remote(struct ks_worker *w)
{
	size_t done = 0;

	while (done < w->len) {
		long r = kt_pmadvise(w->pidfd, (void *)(w->addr + done), w->len - done,
				     MADV_MERGEABLE);

		if (r <= 0)
			kt_fail("process_madvise(pid %d, MADV_MERGEABLE, %zu bytes at +%zu) = %ld: "
				"errno=%s", w->pid, w->len - done, done, r, kt_errname(errno));
		done += (size_t)r;
	}
}

static inline long ks_sum(struct ks_worker *w, int n, const char *key)
{
	long s = 0;

	for (int i = 0; i < n; i++)
		s += kt_ksm_stat(w[i].pid, key);
	return s;
}
/* --- the remap tests' workers (test_28, test_34) and the waits they share --- */

/* How a worker's memory is made mergeable: by itself (madvise, or prctl
 * before it maps), or from outside (ks_enroll_remote()) */
enum { KS_BY_MADVISE, KS_BY_PRCTL, KS_BY_REMOTE };

/* A worker's region of distinct pages (kind 1, contents id) */
struct ks_region {
	unsigned char *p;
	size_t len;
	int how;
	uint64_t id;
};

/*
 * In a worker: prctl(PR_SET_MEMORY_MERGE) first if how says so, then maps
 * len bytes at shift past a 2 MiB boundary (shift 0: whole ranges of the
 * sampling scan), fills them with distinct pages, madvise(MADV_MERGEABLE)s
 * them if how says so, and reports the address to the parent.
 */
static inline struct ks_region ks_region_aligned(size_t len, size_t shift, int how,
						 uint64_t id, int reply)
{
	struct ks_region r = { .len = len, .how = how, .id = id };
	unsigned char *raw;
	unsigned long addr;

	if (how == KS_BY_PRCTL && prctl(67 /* PR_SET_MEMORY_MERGE */, 1, 0, 0, 0))
		_exit(3);
	raw = mmap(NULL, len + 4 * KT_MIB, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		_exit(2);
	addr = (((unsigned long)raw + 2 * KT_MIB - 1) & ~(2 * KT_MIB - 1)) + shift;
	r.p = (unsigned char *)addr;
	for (size_t i = 0; i < len / KT_PAGE; i++)
		ks_fill_page(r.p + i * KT_PAGE, 1, id, i);
	if (how == KS_BY_MADVISE && madvise(r.p, len, MADV_MERGEABLE))
		_exit(4);
	if (write(reply, &addr, sizeof(addr)) != sizeof(addr))
		_exit(2);
	return r;
}

/* Pages of a region that no longer hold what ks_region_aligned() wrote */
static inline size_t ks_region_check(const struct ks_region *r)
{
	size_t bad = 0;

	for (size_t i = 0; i < r->len / KT_PAGE; i++)
		bad += !ks_page_ok(r->p + i * KT_PAGE, 1, r->id, i);
	return bad;
}

/* In a worker: answers each command c with handle(c, ctx) (a size_t: an
 * errno, or bad pages) until 'q' or the parent goes. */
static inline void ks_worker_serve(int cmd, int reply, size_t (*handle)(char c, void *ctx),
				   void *ctx)
{
	char c;

	while (read(cmd, &c, 1) == 1 && c != 'q') {
		size_t r = handle(c, ctx);

		if (write(reply, &r, sizeof(r)) != sizeof(r))
			_exit(2);
	}
	_exit(0);
}

struct ks_region_arg {
	size_t len, shift;
	uint64_t id;
};

static inline size_t ks_region_handle(char c, void *ctx)
{
	return c == 'v' ? ks_region_check(ctx) : 0;
}

static inline void ks_region_body(const void *arg, int cmd, int reply)
{
	const struct ks_region_arg *a = arg;
	struct ks_region r = ks_region_aligned(a->len, a->shift, KS_BY_REMOTE, a->id, reply);

	ks_worker_serve(cmd, reply, ks_region_handle, &r);
}

/* Forks a worker holding len bytes of distinct pages (contents id) at shift
 * past a 2 MiB boundary, mergeable only once enrolled from outside
 * (ks_enroll_remote()); command 'v' verifies them. */
static inline void ks_spawn_region(struct ks_worker *w, size_t len, size_t shift, uint64_t id)
{
	struct ks_region_arg a = { .len = len, .shift = shift, .id = id };

	ks_worker_fork(w, len, ks_region_body, &a);
}

/* Waits until full_scans % mod == rem: a given scan of ksmd's rounds. */
static inline void ks_wait_scan_phase(long mod, long rem)
{
	while (kt_ksm_sys("full_scans") % mod != rem) {
		if (kt_time_left() <= 0)
			kt_fail("out of time (test_timeout) at full_scans %ld",
				kt_ksm_sys("full_scans"));
		kt_sleep_ms(5);
	}
}

/* Full scans from s0 until each of the n workers has 95 % of its npages
 * merged (merged[] holds the last counts), or -1 once give_up scans have
 * passed. Running out of the test's time fails the test. */
static inline long ks_wait_all_merged(struct ks_worker *w, int n, long npages, long s0,
				      long give_up, long *merged)
{
	for (;;) {
		long s = kt_ksm_sys("full_scans");
		bool all = true;

		for (int i = 0; i < n; i++) {
			merged[i] = kt_ksm_stat(w[i].pid, "ksm_merging_pages");
			all = all && merged[i] >= npages * 95 / 100;
		}
		if (all)
			return s - s0;
		if (s - s0 > give_up)
			return -1;
		if (kt_time_left() <= 0)
			kt_fail("out of time (test_timeout) %ld full scans after %ld: merged %ld "
				"and %ld", s - s0, s0, merged[0], merged[n - 1]);
		kt_sleep_ms(10);
	}
}

struct ks_how_arg {
	size_t (*handle)(char c, void *region);
	size_t len;
	int how;
	uint64_t id;
};

static inline void ks_how_body(const void *arg, int cmd, int reply)
{
	const struct ks_how_arg *a = arg;
	struct ks_region r = ks_region_aligned(a->len, 0, a->how, a->id, reply);

	ks_worker_serve(cmd, reply, a->handle, &r);
}

/* Forks a worker holding len bytes of distinct pages (contents id) made
 * mergeable how, at a 2 MiB boundary; it answers commands with
 * handle(c, its struct ks_region). */
static inline void ks_spawn_how(struct ks_worker *w, size_t len,
				size_t (*handle)(char c, void *region), int how, uint64_t id)
{
	struct ks_how_arg a = { .handle = handle, .len = len, .how = how, .id = id };

	ks_worker_fork(w, len, ks_how_body, &a);
}

/*
 * The remap tests' start: ksmd restarted with sampling on, two workers of
 * len bytes (w[0] madvise, w[1] prctl), left until all their ranges are
 * retired; then ksmd is stopped (run=0 waits for its batch and unmerges
 * nothing) right after the scan that followed a probe round, so that no
 * probe round falls within the test's bound. Returns full_scans then.
 */
static inline long ks_retire_pair_then_stop(struct ks_worker *w, size_t len,
					    size_t (*handle)(char c, void *region),
					    long *rmap_items_retired)
{
	long retired0;

	ks_require_sampling();
	kt_ksm_start();
	ks_ksm_restart();
	ks_set("sampling", 1);
	retired0 = kt_ksm_sys("sampling_ranges_retired");
	ks_spawn_how(&w[0], len, handle, KS_BY_MADVISE, 1);
	ks_spawn_how(&w[1], len, handle, KS_BY_PRCTL, 2);
	kt_log("regions at %#lx (madvise) and %#lx (prctl)", w[0].addr, w[1].addr);
	ks_wait_retired(retired0, ks_ranges(w, 2));
	*rmap_items_retired = ks_sum(w, 2, "ksm_rmap_items");
	ks_wait_scan_phase(32, 2);
	ks_set("run", 0);
	return kt_ksm_sys("full_scans");
}

/* --- late twins (test_29, test_35) --- */

/* Full scans from B's enrollment to A's first merge, to half and to 95 % of
 * both merged (-1: not seen), the last counts, and the scans watched. */
struct ks_twin_progress {
	long first, half, all, ma, mb, n;
};

/* Watches A (w[0]) and B (w[1]), npages each, from full scan s0 until 95 %
 * of both are merged, give_up scans have passed, or the test's time runs
 * out (then all stays -1 and the caller's verdict says how far it got). */
static inline void ks_watch_twins(struct ks_worker *w, long npages, long s0, long give_up,
				  struct ks_twin_progress *p)
{
	*p = (struct ks_twin_progress){ .first = -1, .half = -1, .all = -1 };
	for (;;) {
		p->n = kt_ksm_sys("full_scans") - s0;
		p->ma = kt_ksm_stat(w[0].pid, "ksm_merging_pages");
		p->mb = kt_ksm_stat(w[1].pid, "ksm_merging_pages");
		if (p->first < 0 && p->ma > 0)
			p->first = p->n;
		if (p->half < 0 && p->ma >= npages / 2 && p->mb >= npages / 2)
			p->half = p->n;
		if (p->ma >= npages * 95 / 100 && p->mb >= npages * 95 / 100) {
			p->all = p->n;
			return;
		}
		if (p->n > give_up || kt_time_left() <= 0)
			return;
		kt_sleep_ms(10);
	}
}
#endif
