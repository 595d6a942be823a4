/* kernel-patch/0002, issue 9 defect 2, the benchmark (make bench-kernel):
 * what ksmd costs, at the default pages_to_scan=100 and sleep_millisecs=20,
 * on a large enrolled region of distinct pages, with sampling=0 (stock)
 * against sampling=1 once every range is retired; and what the region's
 * owner feels: the worst mmap() and munmap() latency of a loop that maps,
 * touches and unmaps 64 KiB every millisecond (both take the mmap_lock for
 * writing, so they wait for ksmd's read lock).
 *
 * Runs only with ksmplus.bench_mib=N on the guest command line (the region,
 * MiB; ksmplus.bench_s=S the measuring window, default 30 s): it takes
 * minutes, so check-kernel skips it. tests/kernel/sampling-bench.sh sets it.
 *
 * With ksmplus.reset_mms=N (issue 9), first: what ksm_sample_reset_all()
 * costs under many mms. N processes, each with RESET_RANGES ranges that hold
 * one touched page, enrolled and scanned with sampling=1 (one range state
 * each); then, with ksmd asleep, the time of the write of sampling=0, which
 * drops every mm's range state under ksm_mmlist_lock (a spinlock). */
#include <stdatomic.h>
#include "sampling.h"

struct shared {
	_Atomic long worst_mmap_ns, worst_munmap_ns;
	_Atomic int stop;
};

static long cmdline_num(const char *key, long dflt)
{
	char buf[1024], *p;
	FILE *f = fopen("/proc/cmdline", "r");
	long v = dflt;

	if (!f)
		return dflt;
	if (fgets(buf, sizeof(buf), f) && (p = strstr(buf, key)))
		v = strtol(p + strlen(key), NULL, 10);
	fclose(f);
	return v;
}

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
		worst(&sh->worst_mmap_ns, ns_since(&t0));
		if (q == MAP_FAILED)
			_exit(3);
		memset(q, 1, 64 * 1024);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		munmap(q, 64 * 1024);
		worst(&sh->worst_munmap_ns, ns_since(&t0));
		kt_sleep_ms(1);
	}
	_exit(0);
}

static pid_t find_ksmd(void)
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

/* utime + stime of a task, in clock ticks. */
static long task_ticks(pid_t pid)
{
	char path[64], buf[512], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof(buf), f))
		kt_fail("read %s: errno=%s", path, kt_errname(errno));
	fclose(f);
	p = strrchr(buf, ')');
	/* after ")": state ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime stime */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 &ut, &st) != 2)
		kt_fail("cannot parse %s", path);
	return (long)(ut + st);
}

static void measure(int sampling, size_t len, long window_s, pid_t ksmd)
{
	struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct ks_worker w = { .len = len };
	long retired0, ticks0, scans0, items;
	double t0, secs, cpu;
	int r[2];

	if (sh == MAP_FAILED || pipe(r))
		kt_fail("mmap/pipe: errno=%s", kt_errname(errno));
	ks_set("pages_to_scan", 20000);
	ks_set("sleep_millisecs", 10);
	ks_ksm_restart();
	ks_set("sampling", sampling);
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
	retired0 = kt_ksm_sys("sampling_ranges_retired");
	ks_enroll_remote(&w);
	/* Steady state: every rmap_item made (stock), every range retired */
	if (!ks_wait_scans(3, 600))
		kt_fail("sampling=%d: 3 full scans took over 600 s", sampling);
	if (sampling)
		ks_wait_retired(retired0, ks_ranges(&w, 1));
	ks_set("pages_to_scan", 100);
	ks_set("sleep_millisecs", 20);
	kt_sleep_ms(1000);
	atomic_store(&sh->worst_mmap_ns, 0);
	atomic_store(&sh->worst_munmap_ns, 0);
	ticks0 = task_ticks(ksmd);
	scans0 = kt_ksm_sys("full_scans");
	t0 = kt_now();
	kt_sleep_ms(window_s * 1000);
	secs = kt_now() - t0;
	cpu = 100.0 * (task_ticks(ksmd) - ticks0) / sysconf(_SC_CLK_TCK) / secs;
	items = kt_ksm_stat(w.pid, "ksm_rmap_items");
	kt_log("TABLE | %d | %zu MiB | %.1f %% | %.3f | %.1f ms | %.1f ms | %ld |",
	       sampling, len / KT_MIB, cpu,
	       (kt_ksm_sys("full_scans") - scans0) / secs,
	       atomic_load(&sh->worst_mmap_ns) / 1e6,
	       atomic_load(&sh->worst_munmap_ns) / 1e6, items);
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
	long mib = cmdline_num("ksmplus.bench_mib=", 0);
	long reset_mms = cmdline_num("ksmplus.reset_mms=", 0);
	long window_s = cmdline_num("ksmplus.bench_s=", 30);
	long pts0, sleep0;
	pid_t ksmd;

	if (mib <= 0 && reset_mms <= 0)
		kt_skip("a benchmark: runs with ksmplus.bench_mib=N (make bench-kernel)");
	ks_require_sampling();
	kt_ksm_start();
	if (reset_mms > 0)
		measure_reset(reset_mms);
	if (mib <= 0)
		kt_pass("reset_all only: see the TABLE line");
	pts0 = kt_ksm_sys("pages_to_scan");
	sleep0 = kt_ksm_sys("sleep_millisecs");
	ksmd = find_ksmd();
	kt_log("TABLE | sampling | region | ksmd CPU | full scans/s | worst mmap | "
	       "worst munmap | rmap_items |");
	kt_log("TABLE |---|---|---|---|---|---|---|");
	for (int s = 0; s <= 1; s++)
		measure(s, (size_t)mib * KT_MIB, window_s, ksmd);
	ks_set("sampling", 0);
	ks_set("pages_to_scan", pts0);
	ks_set("sleep_millisecs", sleep0);
	kt_pass("%ld MiB, %ld s per setting: see the TABLE lines", mib, window_s);
}
