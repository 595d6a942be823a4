/* kernel-patch/0002, issue 9 defect 2, the benchmark (make bench-kernel):
 * what ksmd costs, at the default pages_to_scan=100 and sleep_millisecs=20,
 * on a large enrolled region of distinct pages, with sampling=0 (stock: every
 * page has its rmap_item and is compared in every scan) against sampling=1
 * once every range is retired; and what the region's owner feels: the worst
 * and the 99th-percentile latency of mmap() and munmap() in a loop that
 * maps, touches and unmaps 64 KiB every millisecond (both take the mmap_lock
 * for writing, so they wait for ksmd's read lock; and on this PREEMPT_NONE
 * kernel a ksmd batch keeps the CPU until its next cond_resched()).
 *
 * The settings alternate in short slices of one boot, in the order stock,
 * sampling / sampling, stock / ... (ABBA: a drift of the host's load over
 * the run cancels), each pair followed by a slice with ksmd stopped (run=0:
 * the latency the guest shows without ksmd at all). A TCG guest's CPU time
 * grows when the host is busy; between boots stock's own figure moved 2.7x,
 * which is what the slices are for. Before each slice the setting is brought
 * to its steady state at full speed (stock: two full scans, every page in
 * the unstable tree; sampling: every range retired again) and the slice
 * starts with ksmd's second batch at the measured pace.
 *
 * ksmd's CPU time is its scheduler runtime in ns (clock_getcpuclockid());
 * its batches are its voluntary context switches (it sleeps once per batch
 * of pages_to_scan budget units), so CPU per budget unit follows. Stock
 * spends a unit per scanned page; sampling one per KSM_SAMPLE_SKIP_COST (12)
 * pages passed over, so 12 * (stock ns per unit) / (sampling ns per unit) is
 * the skip cost at which a unit of either costs the same, printed as the
 * calibration.
 *
 * Runs only with ksmplus.bench_mib=N on the guest command line (the region,
 * MiB; ksmplus.bench_s=S each slice, default 8 s; ksmplus.bench_pairs=P,
 * default 6): it takes minutes, so check-kernel skips it.
 * tests/kernel/sampling-bench.sh sets them.
 *
 * With ksmplus.reset_mms=N (issue 9), first: what ksm_sample_reset_all()
 * costs under many mms. N processes, each with RESET_RANGES ranges that hold
 * one touched page, enrolled and scanned with sampling=1 (one range state
 * each); then, with ksmd asleep, the time of the write of sampling=0, which
 * drops every mm's range state under ksm_mmlist_lock (a spinlock). */
#include <stdatomic.h>
#include "sampling.h"

/* mmap()/munmap() latency histogram: 1/4 ms buckets up to 64 ms */
#define LAT_BUCKET_NS	250000L
#define LAT_BUCKETS	256

struct shared {
	_Atomic long worst_mmap_ns, worst_munmap_ns;
	_Atomic long hist[LAT_BUCKETS + 1];	/* both calls; last: overflow */
	_Atomic int stop;
};

enum { STOCK, SAMPLING, IDLE, NSETTINGS };
static const char *const setting_name[NSETTINGS] = { "0 (stock)", "1 (sampling)", "ksmd stopped" };

/* What the slices of one setting added up to */
struct totals {
	double secs;
	long cpu_ns, batches, scans, scanned, items, slices;
	long worst_mmap_ns, worst_munmap_ns;
	long hist[LAT_BUCKETS + 1];
	double ns_per_unit[64];	/* per slice, for the pairs' ratios */
};

static long ns_since(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a->tv_sec) * 1000000000L + (b.tv_nsec - a->tv_nsec);
}

static void worst(_Atomic long *w, long v)
{
	long cur = atomic_load(w);

	while (v > cur && !atomic_compare_exchange_weak(w, &cur, v))
		;
}

static void record(struct shared *sh, _Atomic long *w, long ns)
{
	long b = ns / LAT_BUCKET_NS;

	worst(w, ns);
	atomic_fetch_add(&sh->hist[b < LAT_BUCKETS ? b : LAT_BUCKETS], 1);
}

/* The target: the region, then the mmap/munmap loop until told to stop. */
static void target(size_t len, struct shared *sh, int reply)
{
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned long addr = (unsigned long)p;

	if (p == MAP_FAILED)
		_exit(2);
	for (size_t i = 0; i < len / KT_PAGE; i++)
		ks_fill_page(p + i * KT_PAGE, 1, 7, i);
	if (write(reply, &addr, sizeof(addr)) != sizeof(addr))
		_exit(2);
	while (!atomic_load(&sh->stop)) {
		struct timespec t0;
		unsigned char *q;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		q = mmap(NULL, 64 * 1024, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		record(sh, &sh->worst_mmap_ns, ns_since(&t0));
		if (q == MAP_FAILED)
			_exit(3);
		memset(q, 1, 64 * 1024);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		munmap(q, 64 * 1024);
		record(sh, &sh->worst_munmap_ns, ns_since(&t0));
		kt_sleep_ms(1);
	}
	_exit(0);
}

/* ksmd's scheduler runtime, ns: exact, where /proc/PID/stat has 4-ms ticks */
static long cpu_ns(clockid_t clk)
{
	struct timespec ts;

	if (clock_gettime(clk, &ts))
		kt_fail("clock_gettime(ksmd's CPU clock): errno=%s", kt_errname(errno));
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/* ksmd's voluntary context switches: one per batch (it sleeps between) */
static long batches(pid_t ksmd)
{
	long n;

	ks_ksmd_state(ksmd, &n);
	if (n < 0)
		kt_fail("no voluntary_ctxt_switches in /proc/%d/status", ksmd);
	return n;
}

static void set_pace(long pages, long ms)
{
	ks_set("pages_to_scan", pages);
	ks_set("sleep_millisecs", ms);
}

/* Brings setting s to its steady state at full speed; *cur: the last one. */
static void converge(int s, int *cur, const struct ks_worker *w)
{
	long retired0 = kt_ksm_sys("sampling_ranges_retired");

	if (s == IDLE) {
		ks_set("run", 0);
		return;
	}
	ks_set("run", 1);
	if (s == *cur)
		return;		/* still there: a stopped slice changes nothing */
	set_pace(20000, 10);
	ks_set("sampling", s == SAMPLING);
	if (s == SAMPLING)
		ks_wait_retired(retired0, ks_ranges(w, 1));
	else if (!ks_wait_scans(2, kt_time_left()))
		kt_fail("stock: 2 full scans not done before the test's deadline");
	*cur = s;
}

/* One slice of setting s: window_s seconds at pages_to_scan=100, 20 ms. */
static void slice(int s, int *cur, const struct ks_worker *w, struct shared *sh,
		  pid_t ksmd, clockid_t clk, long window_s, struct totals *t)
{
	long b0, ns0, scans0, scanned0, n, nb, ns;
	double t0, secs;

	converge(s, cur, w);
	set_pace(100, 20);
	/* The batch in flight may be a full-speed one: start with the second */
	b0 = batches(ksmd);
	while (s != IDLE && batches(ksmd) < b0 + 2) {
		if (kt_time_left() <= 0)
			kt_fail("ksmd did not sleep twice at the measured pace");
		kt_sleep_ms(5);
	}
	atomic_store(&sh->worst_mmap_ns, 0);
	atomic_store(&sh->worst_munmap_ns, 0);
	for (int i = 0; i <= LAT_BUCKETS; i++)
		atomic_store(&sh->hist[i], 0);
	b0 = batches(ksmd);
	ns0 = cpu_ns(clk);
	scans0 = kt_ksm_sys("full_scans");
	scanned0 = kt_ksm_sys("pages_scanned");
	t0 = kt_now();
	kt_sleep_ms(window_s * 1000);
	secs = kt_now() - t0;
	/* Read each counter once: ksmd goes on while we add them up */
	n = cpu_ns(clk) - ns0;
	nb = batches(ksmd) - b0;
	ns = kt_ksm_sys("full_scans") - scans0;
	t->secs += secs;
	t->cpu_ns += n;
	t->batches += nb;
	t->scans += ns;
	t->scanned += kt_ksm_sys("pages_scanned") - scanned0;
	t->items = kt_ksm_stat(w->pid, "ksm_rmap_items");
	if (t->slices < 64)
		t->ns_per_unit[t->slices] = nb > 0 ? (double)n / (nb * 100.0) : 0;
	t->slices++;
	if (atomic_load(&sh->worst_mmap_ns) > t->worst_mmap_ns)
		t->worst_mmap_ns = atomic_load(&sh->worst_mmap_ns);
	if (atomic_load(&sh->worst_munmap_ns) > t->worst_munmap_ns)
		t->worst_munmap_ns = atomic_load(&sh->worst_munmap_ns);
	for (int i = 0; i <= LAT_BUCKETS; i++)
		t->hist[i] += atomic_load(&sh->hist[i]);
	kt_log("slice %-12s %.1f s: ksmd %.2f %% CPU, %ld batches, %ld full scans, "
	       "worst mmap %.1f ms", setting_name[s], secs, 100.0 * n / (secs * 1e9),
	       nb, ns, atomic_load(&sh->worst_mmap_ns) / 1e6);
}

/* The latency under which q of all calls completed, ms (upper bucket edge) */
static double percentile_ms(const struct totals *t, double q)
{
	long all = 0, seen = 0;

	for (int i = 0; i <= LAT_BUCKETS; i++)
		all += t->hist[i];
	for (int i = 0; i <= LAT_BUCKETS; i++) {
		seen += t->hist[i];
		if (seen >= q * all)
			return (i + 1) * LAT_BUCKET_NS / 1e6;
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void report(size_t len, struct totals *t)
{
	double ratio[64], unit[2];
	long pairs = t[STOCK].slices < t[SAMPLING].slices ? t[STOCK].slices :
			t[SAMPLING].slices;

	kt_log("TABLE | sampling | region | ksmd CPU | CPU per budget unit | "
	       "full scans/s | pages scanned/s | worst mmap | worst munmap | "
	       "p99 / p99.9 mmap+munmap | rmap_items |");
	kt_log("TABLE |---|---|---|---|---|---|---|---|---|---|");
	for (int s = 0; s < NSETTINGS; s++) {
		const struct totals *x = &t[s];

		if (s < IDLE)
			unit[s] = x->batches ? x->cpu_ns / (x->batches * 100.0) : 0;
		kt_log("TABLE | %s | %zu MiB | %.2f %% | %s%.0f ns | %.2f | %.0f | "
		       "%.1f ms | %.1f ms | %.2f / %.2f ms | %ld |",
		       setting_name[s], len / KT_MIB,
		       100.0 * x->cpu_ns / (x->secs * 1e9),
		       s == IDLE ? "- " : "", s == IDLE ? 0 : unit[s],
		       x->scans / x->secs, x->scanned / x->secs,
		       x->worst_mmap_ns / 1e6, x->worst_munmap_ns / 1e6,
		       percentile_ms(x, 0.99), percentile_ms(x, 0.999), x->items);
	}
	if (pairs > 64)
		pairs = 64;
	for (long i = 0; i < pairs; i++)
		ratio[i] = t[STOCK].ns_per_unit[i] > 0 ?
			t[SAMPLING].ns_per_unit[i] / t[STOCK].ns_per_unit[i] : 0;
	qsort(ratio, (size_t)pairs, sizeof(ratio[0]), cmp_double);
	kt_log("TABLE ratio: sampling/stock ksmd CPU %.2f over all slices; per pair "
	       "(CPU per budget unit) min %.2f, median %.2f, max %.2f (%ld pairs)",
	       (double)t[SAMPLING].cpu_ns / t[SAMPLING].secs /
	       ((double)t[STOCK].cpu_ns / t[STOCK].secs),
	       ratio[0], ratio[pairs / 2], ratio[pairs - 1], pairs);
	kt_log("TABLE calibration: a budget unit costs the same in both settings "
	       "at KSM_SAMPLE_SKIP_COST %.1f (now %d: %d x %.0f ns / %.0f ns)",
	       unit[SAMPLING] > 0 ? KS_SKIP_COST * unit[STOCK] / unit[SAMPLING] : 0,
	       KS_SKIP_COST, KS_SKIP_COST, unit[STOCK], unit[SAMPLING]);
}

static void measure(size_t len, long window_s, long pairs, pid_t ksmd)
{
	struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	static struct totals t[NSETTINGS];
	struct ks_worker w = { .len = len };
	int r[2], cur = -1;
	clockid_t clk;

	if (sh == MAP_FAILED || pipe(r))
		kt_fail("mmap/pipe: errno=%s", kt_errname(errno));
	if (clock_getcpuclockid(ksmd, &clk))
		kt_fail("clock_getcpuclockid(ksmd %d) failed", ksmd);
	ks_ksm_restart();
	w.pid = fork();
	if (w.pid < 0)
		kt_fail("fork: errno=%s", kt_errname(errno));
	if (!w.pid) {
		close(r[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		target(len, sh, r[1]);
	}
	close(r[1]);
	if (read(r[0], &w.addr, sizeof(w.addr)) != sizeof(w.addr))
		kt_fail("target did not start");
	w.pidfd = kt_pidfd_open(w.pid);
	if (w.pidfd < 0)
		kt_fail("pidfd_open: errno=%s", kt_errname(errno));
	ks_enroll_remote(&w);
	for (long p = 0; p < pairs; p++) {
		int first = p % 2 ? SAMPLING : STOCK;

		slice(first, &cur, &w, sh, ksmd, clk, window_s, &t[first]);
		slice(!first, &cur, &w, sh, ksmd, clk, window_s, &t[!first]);
		slice(IDLE, &cur, &w, sh, ksmd, clk, window_s, &t[IDLE]);
	}
	ks_set("run", 1);
	report(len, t);
	atomic_store(&sh->stop, 1);
	waitpid(w.pid, NULL, 0);
	close(r[0]);
	close(w.pidfd);
	munmap(sh, sizeof(*sh));
}

#define RESET_RANGES 32

/* A process with RESET_RANGES 2 MiB ranges of one touched page each,
 * mergeable, that waits until its parent dies or kills it. */
static pid_t reset_child(void)
{
	pid_t pid = fork();

	if (pid < 0)
		kt_fail("fork: errno=%s", kt_errname(errno));
	if (pid == 0) {
		size_t len = RESET_RANGES * 2 * KT_MIB;
		unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (p == MAP_FAILED || madvise(p, len, MADV_MERGEABLE))
			_exit(2);
		for (size_t i = 0; i < RESET_RANGES; i++)
			p[i * 2 * KT_MIB] = (unsigned char)(i + 1);
		for (;;)
			pause();
	}
	return pid;
}

static void measure_reset(long mms)
{
	pid_t *pids = calloc((size_t)mms, sizeof(*pids));
	long pts0 = kt_ksm_sys("pages_to_scan"), sleep0 = kt_ksm_sys("sleep_millisecs");
	struct timespec a;
	long ns, ns_same;

	if (!pids)
		kt_fail("calloc");
	ks_ksm_restart();
	ks_set("sampling", 1);
	for (long i = 0; i < mms; i++)
		pids[i] = reset_child();
	kt_sleep_ms(1000);
	/* every range seen: state stored for each */
	if (!ks_wait_scans(3, 300))
		kt_fail("ksmd did not complete 3 scans over %ld mms", mms);
	ks_set("sleep_millisecs", 3600000);
	kt_sleep_ms(500);	/* ksmd back asleep: the write does not wait for a batch */
	clock_gettime(CLOCK_MONOTONIC, &a);
	ks_set("sampling", 1);	/* no change: the cost of the write itself */
	ns_same = ns_since(&a);
	clock_gettime(CLOCK_MONOTONIC, &a);
	ks_set("sampling", 0);	/* ksm_sample_reset_all() */
	ns = ns_since(&a);
	kt_log("TABLE reset_all: %ld mms x %d ranges (%ld range states): write of sampling=0 "
	       "%ld us (a write without change: %ld us)", mms, RESET_RANGES,
	       mms * RESET_RANGES, ns / 1000, ns_same / 1000);
	for (long i = 0; i < mms; i++)
		kill(pids[i], SIGKILL);
	for (long i = 0; i < mms; i++)
		waitpid(pids[i], NULL, 0);
	free(pids);
	ks_set("pages_to_scan", pts0);
	ks_set("sleep_millisecs", sleep0);
}

int main(void)
{
	long mib = kt_cmdline_long("ksmplus.bench_mib=", 0);
	long reset_mms = kt_cmdline_long("ksmplus.reset_mms=", 0);
	long window_s = kt_cmdline_long("ksmplus.bench_s=", 8);
	long pairs = kt_cmdline_long("ksmplus.bench_pairs=", 6);
	long pts0, sleep0;

	if (mib <= 0 && reset_mms <= 0)
		kt_skip("a benchmark: runs with ksmplus.bench_mib=N (make bench-kernel)");
	if (pairs < 1 || pairs > 64 || window_s < 1)
		kt_fail("ksmplus.bench_pairs=%ld (1..64), ksmplus.bench_s=%ld (>= 1)",
			pairs, window_s);
	ks_require_sampling();
	kt_ksm_start();
	if (reset_mms > 0)
		measure_reset(reset_mms);
	if (mib <= 0)
		kt_pass("reset_all only: see the TABLE line");
	pts0 = kt_ksm_sys("pages_to_scan");
	sleep0 = kt_ksm_sys("sleep_millisecs");
	measure((size_t)mib * KT_MIB, window_s, pairs, ks_find_ksmd());
	ks_set("sampling", 0);
	set_pace(pts0, sleep0);
	kt_pass("%ld MiB, %ld pairs of %ld-s slices: see the TABLE lines", mib, pairs, window_s);
}
