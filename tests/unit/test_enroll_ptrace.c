/* test_enroll_ptrace.c — syscall injection through ptrace, against live
 * targets: exactness (no wrong data, no spurious EINTR or -512 in the
 * target), real KSM merging, and the processes that must be skipped.
 * Needs root (skips loudly otherwise). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <dirent.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <time.h>

#include "enroll.h"
#include "test_enroll_target.h"

#define CHECKSUM_LOOP_NO_MAIN
#include "../workload/checksum_loop.c"

#ifndef PR_GET_MEMORY_MERGE
#define PR_GET_MEMORY_MERGE 68
#endif
#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#endif

#define MAX_LIVE 8
static struct target *live[MAX_LIVE];

static void track(struct target *t)
{
	for (int i = 0; i < MAX_LIVE; i++)
		if (!live[i]) {
			live[i] = t;
			return;
		}
}

static void untrack(struct target *t)
{
	for (int i = 0; i < MAX_LIVE; i++)
		if (live[i] == t)
			live[i] = NULL;
}

/* Kills whatever a failed test left running. A target killed while one of
 * its threads is parked (seized, its injected syscall late) dies a zombie
 * traced by us: its parent's wait() blocks until we collect it, and
 * target_kill() waits for that parent. */
static int kill_live(void **state)
{
	(void)state;
	for (int i = 0; i < MAX_LIVE; i++)
		if (live[i]) {
			if (live[i]->ref.pidfd >= 0)
				syscall(SYS_pidfd_send_signal, live[i]->ref.pidfd, SIGKILL, NULL, 0);
			for (int w = 0; w < 500 && ptrace_reap_pending() > 0; w++)
				usleep(10000);
			target_kill(live[i]);
			live[i] = NULL;
		}
	return 0;
}

static int stop_ok(struct target *t)
{
	int st = -1;
	untrack(t);
	int rc = target_stop(t, &st, 20000);
	if (rc < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "target ended badly: status %#x%s\n", st, rc < 0 ? " (timeout)" : "");
		return -1;
	}
	return 0;
}

#define NEED_ROOT()                                                                    \
	do {                                                                           \
		if (geteuid() != 0) {                                                  \
			fprintf(stderr, "SKIPPED %s: needs root (ptrace of a target, " \
				"/sys/kernel/mm/ksm)\n", __func__);                    \
			skip();                                                        \
		}                                                                      \
	} while (0)

static bool has_prctl_merge(void)
{
	return prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0) >= 0;
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

struct loop_args {
	const char *mib, *mode;
};

/* Runs build/tests/checksum_loop (native even under valgrind), or the same
 * code in this process when the program was not built. An ASan-built target
 * reserves terabytes of shadow memory, which makes unmerging it take minutes
 * (see test_undo_timeout): from build-asan/tests, the plain build is
 * preferred. KSMPLUS_TARGET_BIN overrides. */
static void run_checksum_loop(void *arg)
{
	const struct loop_args *a = arg;
	char dir[PATH_MAX - 32], path[PATH_MAX];
	char *argv[] = { (char *)"checksum_loop", (char *)a->mib, (char *)a->mode, NULL };
	if (getenv("KSMPLUS_TARGET_BIN"))
		execv(getenv("KSMPLUS_TARGET_BIN"), argv);
	self_dir(dir, sizeof(dir));
	char *asan = strstr(dir, "build-asan");
	if (asan) {
		snprintf(path, sizeof(path), "%.*sbuild%s/checksum_loop", (int)(asan - dir), dir,
			 asan + strlen("build-asan"));
		execv(path, argv);
	}
	snprintf(path, sizeof(path), "%s/checksum_loop", dir);
	execv(path, argv);
	_exit(checksum_loop_main(3, argv));
}

static size_t anon_bytes(pid_t pid)
{
	struct vma_list l;
	size_t sum = 0;
	if (test_anon_ranges(pid, &l) < 0)
		return 0;
	for (size_t i = 0; i < l.n; i++)
		sum += l.v[i].end - l.v[i].start;
	free(l.v);
	return sum;
}

/* The thread's blocked-signal mask, from /proc (SigBlk). */
static unsigned long long sig_blocked(pid_t pid, pid_t tid)
{
	char path[96], line[256];
	unsigned long long m = ~0ULL;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)tid);
	FILE *f = fopen(path, "re");
	if (!f)
		return m;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "SigBlk: %llx", &m) == 1)
			break;
	fclose(f);
	return m;
}

static void print_summary(struct target *t)
{
	char buf[256];
	ssize_t n = read(t->out_fd, buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = '\0';
		fprintf(stderr, "  target says: %s", buf);
	}
}

/* --- 1. exactness under repeated injection -------------------------------- */

struct pelter {
	const struct pidref *r;
	atomic_int stop;
	unsigned sent;
	bool storm;             /* no pause between signals */
};

static void *pelt(void *arg)
{
	struct pelter *p = arg;
	unsigned seed = 12345;
	while (!atomic_load(&p->stop)) {
		if (syscall(SYS_pidfd_send_signal, p->r->pidfd, SIGUSR1, NULL, 0) == 0)
			p->sent++;
		if (!p->storm)
			usleep(200 + rand_r(&seed) % 800);
	}
	return NULL;
}

/* An enroll or undo as the daemon does it: a "later" (its deadline passed
 * because the target was not scheduled in time on a loaded machine, or a
 * passing state) is tried again; anything else fails at once. What these
 * tests check is the state each operation leaves, not its timing. */
#define LATER_TRIES 50
static unsigned laters;         /* "later" results retried, all tests */

/* The pause before a "later" is tried again, with what the daemon's reaper
 * timer does meanwhile: a thread whose injected syscall did not return in
 * time is parked, and put back in order by ptrace_reap_pending() at its next
 * stop. Without it every retry says "an earlier injection is still being
 * wound up" (seen on a loaded machine, ASan build: 49 of them, then failed). */
static void later_pause(void)
{
	ptrace_reap_pending();
	usleep(10000);
}
static int enroll_retrying(const struct enroller *e, const struct pidref *r,
			   const struct vma_list *l, enum enroll_mode mode, bool on,
			   struct enroll_result *res)
{
	for (int i = 0;; i++) {
		int rc = on ? enroll_process(e, r, l, res) : enroll_undo(e, r, mode, l, res);

		if (rc == 0 || res->err != -EAGAIN || i + 1 == LATER_TRIES)
			return rc;
		laters++;
		later_pause();
	}
}

static void stress(bool with_signals)
{
	NEED_ROOT();
	static struct target t;
	struct loop_args a = { "8", "busy" };
	assert_int_equal(target_start(&t, run_checksum_loop, &a), 0);
	track(&t);
	if (anon_bytes(t.pid) > (1ULL << 40)) {
		fprintf(stderr, "SKIPPED: the target is ASan-built (terabytes of shadow); "
			"build the plain tests/workload/checksum_loop first\n");
		skip();
	}

	struct pelter p = { .r = &t.ref };
	pthread_t th;
	if (with_signals)
		assert_int_equal(pthread_create(&th, NULL, pelt, &p), 0);

	struct enroller e = { .backend = ENROLL_PTRACE, .has_prctl_merge = has_prctl_merge() };
	double sum = 0, max = 0;
	int n = 0;
	laters = 0;
	unsigned seed = 42;
	for (int i = 0; i < 100 && e.has_prctl_merge; i++) {
		struct enroll_result res;
		double t0 = now_us();
		int rc = enroll_retrying(&e, &t.ref, NULL, ENROLL_WHOLE, true, &res);
		double dt = now_us() - t0;
		if (rc)
			fprintf(stderr, "iteration %d: enroll: %s (%d)\n", i, res.reason, res.err);
		assert_int_equal(rc, 0);
		assert_int_equal(res.mode, ENROLL_WHOLE);
		sum += dt;
		max = dt > max ? dt : max;
		n++;
		assert_int_equal(ksm_stat_yes(t.pid, "ksm_merge_any"), 1);
		usleep(rand_r(&seed) % 3000);
		rc = enroll_retrying(&e, &t.ref, NULL, ENROLL_WHOLE, false, &res);
		if (rc)
			fprintf(stderr, "iteration %d: undo: %s (%d)\n", i, res.reason, res.err);
		assert_int_equal(rc, 0);
		assert_int_equal(ksm_stat_yes(t.pid, "ksm_merge_any"), 0);
		usleep(rand_r(&seed) % 3000);
	}
	if (n)
		fprintf(stderr, "  prctl injection: %d runs, mean %.0f us, max %.0f us\n", n,
			sum / n, max);

	/* Range by range, as on kernels without PR_SET_MEMORY_MERGE. */
	e.has_prctl_merge = false;
	sum = max = 0;
	n = 0;
	for (int i = 0; i < 30; i++) {
		struct vma_list l;
		struct enroll_result res;
		assert_int_equal(test_anon_ranges(t.pid, &l), 0);
		assert_true(l.n > 0);
		double t0 = now_us();
		int rc = enroll_retrying(&e, &t.ref, &l, ENROLL_RANGES, true, &res);
		double dt = now_us() - t0;
		if (rc)
			fprintf(stderr, "ranges %d: enroll: %s (%d)\n", i, res.reason, res.err);
		assert_int_equal(rc, 0);
		assert_int_equal(res.mode, ENROLL_RANGES);
		assert_true(res.bytes >= (8u << 20));
		sum += dt;
		max = dt > max ? dt : max;
		n++;
		assert_int_equal(ksm_stat_yes(t.pid, "ksm_mergeable"), 1);
		usleep(rand_r(&seed) % 3000);
		rc = enroll_retrying(&e, &t.ref, &l, ENROLL_RANGES, false, &res);
		assert_int_equal(rc, 0);
		assert_int_equal(ksm_stat_yes(t.pid, "ksm_mergeable"), 0);
		free(l.v);
	}
	fprintf(stderr, "  madvise injection: %d runs, mean %.0f us, max %.0f us\n", n, sum / n,
		max);
	fprintf(stderr, "  %u \"later\" results retried (a loaded machine)\n", laters);

	if (with_signals) {
		atomic_store(&p.stop, 1);
		pthread_join(th, NULL);
		fprintf(stderr, "  sent %u SIGUSR1 meanwhile\n", p.sent);
	}
	/* 0 = no wrong checksum, no EINTR without a signal, no -512 seen */
	close(t.in_fd);
	t.in_fd = -1;
	print_summary(&t);
	assert_int_equal(stop_ok(&t), 0);
}

static void test_inject_exact(void **state)
{
	(void)state;
	stress(false);
}

static void test_inject_exact_with_signals(void **state)
{
	(void)state;
	stress(true);
}

/* --- 2. real merging ------------------------------------------------------ */

static const char *const knobs[] = { "run", "pages_to_scan", "sleep_millisecs" };
static char saved_knobs[3][32];
static bool knobs_saved;

static int knob_rw(const char *name, char *val, size_t len, bool wr)
{
	char path[128];
	snprintf(path, sizeof(path), "/sys/kernel/mm/ksm/%s", name);
	int fd = open(path, (wr ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n;
	if (wr)
		n = write(fd, val, strlen(val)) == (ssize_t)strlen(val) ? 1 : -1;
	else
		n = read(fd, val, len - 1);
	close(fd);
	if (n <= 0)
		return -1;
	if (!wr) {
		val[n] = '\0';
		val[strcspn(val, "\n")] = '\0';
	}
	return 0;
}

static int save_knobs(void **state)
{
	(void)state;
	knobs_saved = false;
	if (geteuid() != 0)
		return 0;
	for (int i = 0; i < 3; i++)
		if (knob_rw(knobs[i], saved_knobs[i], sizeof(saved_knobs[i]), false) < 0)
			return 0;
	knobs_saved = true;
	return 0;
}

static int restore_knobs(void **state)
{
	kill_live(state);
	if (!knobs_saved)
		return 0;
	/* pages_to_scan and sleep first, run last. */
	for (int i = 2; i >= 0; i--)
		if (knob_rw(knobs[i], saved_knobs[i], 0, true) < 0)
			fprintf(stderr, "could not restore /sys/kernel/mm/ksm/%s to %s\n", knobs[i],
				saved_knobs[i]);
	knobs_saved = false;
	return 0;
}

static void test_real_merging(void **state)
{
	(void)state;
	NEED_ROOT();
	if (!knobs_saved) {
		fprintf(stderr, "SKIPPED: cannot read /sys/kernel/mm/ksm\n");
		skip();
	}
	static struct target a, b;
	struct loop_args args = { "20", "idle" };
	const long pages = (20L << 20) / 4096;
	assert_int_equal(target_start(&a, run_checksum_loop, &args), 0);
	track(&a);
	assert_int_equal(target_start(&b, run_checksum_loop, &args), 0);
	track(&b);

	struct enroller e = { .backend = ENROLL_PTRACE, .has_prctl_merge = has_prctl_merge() };
	struct enroll_result res;
	struct vma_list la = { 0 }, lb = { 0 };
	assert_int_equal(test_anon_ranges(a.pid, &la), 0);
	assert_int_equal(test_anon_ranges(b.pid, &lb), 0);
	assert_int_equal(enroll_retrying(&e, &a.ref, &la, ENROLL_WHOLE, true, &res), 0);
	enum enroll_mode ma = res.mode;
	assert_int_equal(enroll_retrying(&e, &b.ref, &lb, ENROLL_WHOLE, true, &res), 0);
	enum enroll_mode mb = res.mode;

	char v[16];
	snprintf(v, sizeof(v), "5000");
	assert_int_equal(knob_rw("pages_to_scan", v, 0, true), 0);
	snprintf(v, sizeof(v), "20");
	assert_int_equal(knob_rw("sleep_millisecs", v, 0, true), 0);
	snprintf(v, sizeof(v), "1");
	assert_int_equal(knob_rw("run", v, 0, true), 0);

	double t0 = now_us();
	long ga = 0, gb = 0;
	while (now_us() - t0 < 60e6) {
		ga = ksm_stat_num(a.pid, "ksm_merging_pages");
		gb = ksm_stat_num(b.pid, "ksm_merging_pages");
		if (ga >= pages * 95 / 100 && gb >= pages * 95 / 100)
			break;
		usleep(100000);
	}
	fprintf(stderr, "  merged %ld + %ld of %ld + %ld pages in %.1f s\n", ga, gb, pages, pages,
		(now_us() - t0) / 1e6);
	assert_true(ga >= pages * 95 / 100);
	assert_true(gb >= pages * 95 / 100);

	assert_int_equal(enroll_retrying(&e, &a.ref, &la, ma, false, &res), 0);
	assert_int_equal(enroll_retrying(&e, &b.ref, &lb, mb, false, &res), 0);
	/* Unmerging breaks the sharing at once; the per-process count drops
	 * when ksmd next walks its stale rmap_items. */
	t0 = now_us();
	do {
		usleep(50000);
		ga = ksm_stat_num(a.pid, "ksm_merging_pages");
		gb = ksm_stat_num(b.pid, "ksm_merging_pages");
	} while ((ga >= pages / 20 || gb >= pages / 20) && now_us() - t0 < 20e6);
	fprintf(stderr, "  after undo: %ld + %ld merging pages\n", ga, gb);
	assert_true(ga < pages / 20);
	assert_true(gb < pages / 20);
	free(la.v);
	free(lb.v);
	/* idle mode verifies its memory at EOF: status 0 = content unchanged */
	assert_int_equal(stop_ok(&a), 0);
	assert_int_equal(stop_ok(&b), 0);
}

/* Undoing an enrollment while the process receives signals without pause.
 * prctl(PR_SET_MEMORY_MERGE, 0) walks every page of the process and gives up
 * with -ERESTARTSYS at the first signal pending in the thread running it,
 * keeping no progress (it re-enables merging), so an undo run with signals
 * deliverable could fail every retry ("syscall kept being interrupted by
 * signals": test_inject_exact_with_signals on a loaded machine). Injected with
 * every signal blocked in that thread, it succeeds; the target still gets
 * its signals, its mask back, and notices nothing. On an idle 6.18 machine
 * the unmasked injection mostly survives this storm too (the signals land on
 * the target's other threads): what this test holds is the masked path's
 * correctness, the load runs of .ci/run hold the rest. */
static void test_undo_signal_storm(void **state)
{
	(void)state;
	NEED_ROOT();
	if (!has_prctl_merge()) {
		fprintf(stderr, "SKIPPED: no PR_SET_MEMORY_MERGE in this kernel\n");
		skip();
	}
	static struct target a;
	/* 512 MiB: unmerging walks its 131,072 pages for milliseconds, so
	 * signals are sure to arrive meanwhile. */
	struct loop_args busy = { "512", "busy" };
	assert_int_equal(target_start(&a, run_checksum_loop, &busy), 0);
	track(&a);
	struct enroller e = { .backend = ENROLL_PTRACE, .has_prctl_merge = true };
	struct enroll_result res;

	/* Two processes signal it without pause: on two CPUs they also keep
	 * the target's thread from running its syscall in one go, as a loaded
	 * machine does. */
	pid_t storm[2];
	for (int i = 0; i < 2; i++) {
		storm[i] = fork();
		assert_true(storm[i] >= 0);
		if (storm[i] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			for (;;)
				syscall(SYS_pidfd_send_signal, a.ref.pidfd, SIGUSR1, NULL, 0);
		}
	}
	usleep(20000);
	int fails = 0;
	double max = 0;
	unsigned long long mask0 = sig_blocked(a.pid, a.pid);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(enroll_retrying(&e, &a.ref, NULL, ENROLL_WHOLE, true, &res), 0);
		assert_int_equal(ksm_stat_yes(a.pid, "ksm_merge_any"), 1);
		/* What signals must not do is break the undo; a "later" because
		 * the deadline passed while a loaded machine did not run the
		 * target is retried, as the daemon does. */
		double t0 = now_us();
		int rc;
		for (int tries = 0;; tries++) {
			rc = enroll_undo(&e, &a.ref, ENROLL_WHOLE, NULL, &res);
			if (rc == 0 || res.err != -EAGAIN || strstr(res.reason, "signal") ||
			    tries + 1 == LATER_TRIES)
				break;
			fprintf(stderr, "  undo %d: %s; again\n", i, res.reason);
			later_pause();
		}
		double dt = now_us() - t0;
		max = dt > max ? dt : max;
		if (rc) {
			fprintf(stderr, "  undo %d: %s (%d)\n", i, res.reason, res.err);
			fails++;
			break;
		}
		assert_int_equal(ksm_stat_yes(a.pid, "ksm_merge_any"), 0);
		assert_int_equal(ksm_stat_yes(a.pid, "ksm_mergeable"), 0);
		/* The thread's own mask is back: nothing stays blocked. SIGUSR1
		 * is blocked while its handler runs, which it often does here. */
		unsigned long long usr1 = 1ULL << (SIGUSR1 - 1), now = sig_blocked(a.pid, a.pid);
		if ((now & ~usr1) != (mask0 & ~usr1))
			fprintf(stderr, "  SigBlk %llx, was %llx\n", now, mask0);
		assert_true((now & ~usr1) == (mask0 & ~usr1));
	}
	for (int i = 0; i < 2; i++) {
		kill(storm[i], SIGKILL);
		waitpid(storm[i], NULL, 0);
	}
	fprintf(stderr, "  5 undos of 512 MiB under a signal storm: %d failed, max %.1f ms\n",
		fails, max / 1e3);
	assert_int_equal(fails, 0);
	/* busy mode: handlers ran, no EINTR without one, memory intact */
	close(a.in_fd);
	a.in_fd = -1;
	print_summary(&a);
	assert_int_equal(stop_ok(&a), 0);
}

/* --- 3. what must be skipped or refused ------------------------------------ */

static void ready_then_wait(void)
{
	write_all(1, "ready\n", 6);
	char c;
	while (read(0, &c, 1) > 0)
		;
	_exit(0);
}

static void plain_target(void *arg)
{
	(void)arg;
	ready_then_wait();
}

static void traceme_target(void *arg)
{
	(void)arg;
	ptrace(PTRACE_TRACEME, 0, 0, 0);     /* the middle process is its tracer */
	ready_then_wait();
}

static void seccomp_target(void *arg)
{
	(void)arg;
	struct sock_filter allow[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
	struct sock_fprog prog = { .len = 1, .filter = allow };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0))
		_exit(5);
	ready_then_wait();
}

/* A sandbox that kills the process on prctl (any prctl), and with arg
 * non-NULL on madvise too: injecting one would kill it. */
static void kill_prctl_target(void *arg)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_prctl, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arg ? SYS_madvise : 0xffff, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	};
	struct sock_fprog prog = { .len = 5, .filter = f };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
		_exit(5);
	ready_then_wait();
}

static void undumpable_target(void *arg)
{
	(void)arg;
	if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534) ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0))
		_exit(5);
	ready_then_wait();
}

static void expect_skip(target_fn fn, const char *want)
{
	NEED_ROOT();
	static struct target t;
	assert_int_equal(target_start(&t, fn, NULL), 0);
	track(&t);
	struct enroller e = { .backend = ENROLL_PTRACE, .has_prctl_merge = has_prctl_merge() };
	struct enroll_result res;
	assert_int_equal(enroll_process(&e, &t.ref, NULL, &res), -1);
	fprintf(stderr, "  skipped: %s\n", res.reason);
	assert_non_null(strstr(res.reason, want));
	assert_int_equal(ksm_stat_yes(t.pid, "ksm_merge_any"), 0);
	assert_int_equal(stop_ok(&t), 0);
}

static void test_skip_traced(void **state)
{
	(void)state;
	expect_skip(traceme_target, "traced");
	/* And without the check, the kernel refuses the seize: untouched. */
	static struct target t;
	assert_int_equal(target_start(&t, traceme_target, NULL), 0);
	track(&t);
	struct enroll_result res;
	long args[6] = { PR_SET_MEMORY_MERGE, 1, 0, 0, 0, 0 }, ret = 0;
	assert_int_equal(ptrace_inject_syscall(&t.ref, SYS_prctl, args, &ret, 0, &res), -1);
	fprintf(stderr, "  direct injection: %s\n", res.reason);
	assert_int_equal(ksm_stat_yes(t.pid, "ksm_merge_any"), 0);
	assert_int_equal(stop_ok(&t), 0);
}

/* Leaves out ranges over 1 GiB: an ASan-built target's terabytes of shadow,
 * whose unmerge takes many deadlines (test_deadline_hostile covers that). */
static void drop_huge_ranges(struct vma_list *l)
{
	size_t n = 0;
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].end - l->v[i].start <= (1UL << 30))
			l->v[n++] = l->v[i];
	l->n = n;
}

/* Under a filter that allows the call: enrolled (it used to be skipped).
 * By range: this target is a fork of the test, and under ASan a whole
 * process's undo walks terabytes of shadow (see test_undo_timeout). */
static void test_seccomp_allowing(void **state)
{
	(void)state;
	NEED_ROOT();
	static struct target t;
	assert_int_equal(target_start(&t, seccomp_target, NULL), 0);
	track(&t);
	struct enroller e = { .backend = ENROLL_PTRACE, .has_prctl_merge = false };
	struct enroll_result res;
	struct vma_list l;
	assert_int_equal(test_anon_ranges(t.pid, &l), 0);
	drop_huge_ranges(&l);
	int rc = enroll_process(&e, &t.ref, &l, &res);
	if (rc)
		fprintf(stderr, "  enroll: %s\n", res.reason);
	assert_int_equal(rc, 0);
	assert_int_equal(enroll_retrying(&e, &t.ref, &l, res.mode, false, &res), 0);
	free(l.v);
	assert_int_equal(stop_ok(&t), 0);
}

/* Under a filter that kills on prctl but allows madvise: enrolled range by
 * range instead, and alive. */
static void test_seccomp_madvise_only(void **state)
{
	(void)state;
	NEED_ROOT();
	if (!has_prctl_merge())
		skip();
	static struct target t;
	assert_int_equal(target_start(&t, kill_prctl_target, NULL), 0);
	track(&t);
	struct enroller e = { .backend = ENROLL_PTRACE, .has_prctl_merge = true };
	struct enroll_result res;
	struct vma_list l;
	assert_int_equal(test_anon_ranges(t.pid, &l), 0);
	drop_huge_ranges(&l);
	assert_int_equal(enroll_retrying(&e, &t.ref, &l, ENROLL_WHOLE, true, &res), 0);
	assert_int_equal(res.mode, ENROLL_RANGES);
	assert_true(res.bytes > 0);
	assert_int_equal(ksm_stat_yes(t.pid, "ksm_mergeable"), 1);
	assert_int_equal(enroll_retrying(&e, &t.ref, &l, ENROLL_RANGES, false, &res), 0);
	free(l.v);
	assert_int_equal(stop_ok(&t), 0);
}

/* Under a filter that would kill it for prctl and for madvise: skipped,
 * with both verdicts, and alive (stop_ok: it exits 0 at EOF). */
static void test_skip_seccomp_kill(void **state)
{
	(void)state;
	NEED_ROOT();
	static struct target t;
	static int both = 1;
	assert_int_equal(target_start(&t, kill_prctl_target, &both), 0);
	track(&t);
	struct enroller e = { .backend = ENROLL_PTRACE, .has_prctl_merge = has_prctl_merge() };
	struct enroll_result res;
	struct vma_list l;
	assert_int_equal(test_anon_ranges(t.pid, &l), 0);
	assert_int_equal(enroll_process(&e, &t.ref, &l, &res), -1);
	free(l.v);
	fprintf(stderr, "  skipped: %s\n", res.reason);
	assert_non_null(strstr(res.reason, "seccomp: madvise -> KILL_PROCESS"));
	if (e.has_prctl_merge)
		assert_non_null(strstr(res.reason, "seccomp: prctl -> KILL_PROCESS"));
	assert_int_equal(ksm_stat_yes(t.pid, "ksm_mergeable"), 0);
	assert_int_equal(stop_ok(&t), 0);
}

static void test_skip_undumpable(void **state)
{
	(void)state;
	expect_skip(undumpable_target, "dumpable");
}

static void test_reused_start_time(void **state)
{
	(void)state;
	NEED_ROOT();
	static struct target t;
	assert_int_equal(target_start(&t, plain_target, NULL), 0);
	track(&t);
	/* the identity discovery recorded is not this process's */
	struct pidref other;
	assert_int_equal(pidref_open(&other, t.pid, t.ref.start_time + 1), -ESRCH);
	struct pidref bogus = t.ref;
	bogus.start_time = t.ref.start_time + 1;
	struct enroller e = { .backend = ENROLL_PTRACE, .has_prctl_merge = has_prctl_merge() };
	struct enroll_result res;
	assert_int_equal(enroll_process(&e, &bogus, NULL, &res), -1);
	assert_int_equal(res.err, -ESRCH);
	assert_int_equal(enroll_undo(&e, &bogus, ENROLL_WHOLE, NULL, &res), -1);
	assert_int_equal(res.err, -ESRCH);
	assert_int_equal(ksm_stat_yes(t.pid, "ksm_merge_any"), 0);
	assert_int_equal(stop_ok(&t), 0);
}

/* Exits on its own after a short random busy spell, at any point of our
 * injection; we must never leave it stopped (it would never exit) nor
 * kill it (status would not be 7). */
static void short_lived(void *arg)
{
	unsigned us = (unsigned)(uintptr_t)arg;
	write_all(1, "ready\n", 6);
	double t0 = now_us();
	volatile unsigned long x = 0;
	while (now_us() - t0 < us)
		x++;
	_exit(7);
}

static void *leader_exits_thread(void *arg)
{
	(void)arg;
	char c;
	while (read(0, &c, 1) > 0)
		;
	_exit(0);
}

static void leader_exits(void *arg)
{
	(void)arg;
	pthread_t th;
	if (pthread_create(&th, NULL, leader_exits_thread, NULL))
		_exit(5);
	write_all(1, "ready\n", 6);
	pthread_exit(NULL);
}

static void test_exit_mid_enroll(void **state)
{
	(void)state;
	NEED_ROOT();
	struct enroller e = { .backend = ENROLL_PTRACE, .has_prctl_merge = has_prctl_merge() };
	int ok = 0, gone = 0;
	unsigned seed = 7;
	for (int i = 0; i < 150; i++) {
		static struct target t;
		int sr = target_start(&t, short_lived, (void *)(uintptr_t)(rand_r(&seed) % 1500));
		if (sr != -ESRCH)
			assert_int_equal(sr, 0);
		track(&t);
		struct enroll_result res;
		int rc = sr == 0 ? enroll_process(&e, &t.ref, NULL, &res) : -1;
		if (sr)
			res.err = -ESRCH;
		if (rc == 0) {
			ok++;
		} else {
			/* -EAGAIN: caught in uninterruptible sleep while exiting */
			if (res.err != -ESRCH)
				fprintf(stderr, "  iteration %d: %s (%d)\n", i, res.reason, res.err);
			assert_true(res.err == -ESRCH || res.err == -EAGAIN);
			gone++;
		}
		/* The daemon's reaper timer: a thread that did not stop within
		 * the deadline stays attached until its next stop or exit. */
		for (int w = 0; w < 500 && ptrace_reap_pending() > 0; w++)
			usleep(10000);
		int st = -1;
		untrack(&t);
		assert_int_equal(target_stop(&t, &st, 10000), 0);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 7);
	}
	fprintf(stderr, "  150 short-lived targets: %d enrolled, %d gone mid-way\n", ok, gone);

	/* A process whose leader thread has exited: another thread is used. */
	static struct target lt;
	assert_int_equal(target_start(&lt, leader_exits, NULL), 0);
	track(&lt);
	usleep(20000);
	struct enroll_result res;
	int rc = enroll_process(&e, &lt.ref, NULL, &res);
	if (rc)
		fprintf(stderr, "  zombie leader: %s\n", res.reason);
	assert_int_equal(rc, 0);
	assert_int_equal(ksm_stat_yes(lt.pid, "ksm_merge_any"), 1);
	assert_int_equal(stop_ok(&lt), 0);
}

static void huge_target(void *arg)
{
	(void)arg;
	/* 4 TiB reserved, a little used: like an ASan shadow or a JS heap cage */
	char *m = mmap(NULL, 4ULL << 40, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		_exit(5);
	memset(m, 7, 1 << 20);
	ready_then_wait();
}

/* Unmerging a huge sparse address space is interrupted after the timeout,
 * reported, and leaves the target intact (and still enrolled). */
static void test_undo_timeout(void **state)
{
	(void)state;
	NEED_ROOT();
	static struct target t;
	assert_int_equal(target_start(&t, huge_target, NULL), 0);
	track(&t);
	struct enroller e = { .backend = ENROLL_PTRACE, .has_prctl_merge = has_prctl_merge() };
	if (!e.has_prctl_merge) {
		fprintf(stderr, "SKIPPED: no PR_SET_MEMORY_MERGE\n");
		skip();
	}
	struct enroll_result res;
	assert_int_equal(enroll_retrying(&e, &t.ref, NULL, ENROLL_WHOLE, true, &res), 0);
	unsigned old = enroll_ptrace_timeout_ms;
	enroll_ptrace_timeout_ms = 500;
	double t0 = now_us();
	int rc = enroll_undo(&e, &t.ref, ENROLL_WHOLE, NULL, &res);
	double dt = (now_us() - t0) / 1e3;
	enroll_ptrace_timeout_ms = old;
	fprintf(stderr, "  undo on 4 TiB: rc %d after %.0f ms: %s\n", rc, dt, res.reason);
	if (rc == 0) {
		fprintf(stderr, "  (this kernel unmerges sparse ranges fast: nothing to time out)\n");
	} else {
		assert_int_equal(res.err, -EAGAIN);
		assert_true(dt < 1000);
		assert_int_equal(ksm_stat_yes(t.pid, "ksm_merge_any"), 1);
	}
	assert_int_equal(stop_ok(&t), 0);
}

/* --- 4. no spurious EINTR ------------------------------------------------- */


/* Waits (up to ~5 s: the target is starting) until the threads of pid sit in
 * the syscalls of want[] (-1 ends the list), each in a thread of its own;
 * want[0] is the group leader's. A thread that is still running when
 * enrolling begins is fair game for the ptrace backend, and one that enters
 * epoll_wait() just after it was picked sees the EINTR the test counts: the
 * waits must have begun. Returns how many of them were found. */
static int wait_in_syscalls(pid_t pid, const long *want)
{
	int n = 0, found = 0;

	while (want[n] >= 0)
		n++;
	for (int i = 0; i < 5000; i++) {
		bool seen[8] = { false };
		char path[64], buf[64];

		found = 0;
		snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
		DIR *d = opendir(path);
		if (!d)
			return 0;
		struct dirent *de;
		while ((de = readdir(d))) {
			if (!isdigit((unsigned char)de->d_name[0]))
				continue;
			int tid = atoi(de->d_name);
			snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)pid, tid);
			FILE *f = fopen(path, "re");
			long nr = f && fgets(buf, sizeof(buf), f) && isdigit((unsigned char)buf[0]) ?
				  atol(buf) : -1;
			if (f)
				fclose(f);
			bool leader = tid == (int)pid;
			for (int k = 0; k < n && k < 8; k++)
				if (!seen[k] && nr == want[k] && (k == 0) == leader) {
					seen[k] = true;
					found++;
					break;
				}
		}
		closedir(d);
		if (found == n)
			return found;
		usleep(1000);
	}
	return found;
}

/* epoll_wait(-1), recv() under SO_RCVTIMEO and sigtimedwait() fail with EINTR
 * when their thread is merely stopped (signal(7)): no handler runs, the
 * program sees an error it cannot explain. The target's main thread (the
 * one that used to be seized) waits in epoll_wait, two more threads in the
 * other two, one in nanosleep (restarted transparently). 100 enroll+undo
 * cycles: the target must see no EINTR at all. "later" skips are allowed
 * (the nanosleep thread may be between two calls) and retried. */
static void test_no_spurious_eintr(void **state)
{
	(void)state;
	NEED_ROOT();
	if (!has_prctl_merge()) {
		fprintf(stderr, "SKIPPED: no PR_SET_MEMORY_MERGE in this kernel\n");
		skip();
	}
	static struct target t;
	struct loop_args a = { "8", "waiters" };
	assert_int_equal(target_start(&t, run_checksum_loop, &a), 0);
	track(&t);
	/* "ready" comes before the leader's epoll_wait() and the recv() */
	static const long waits[] = { SYS_epoll_wait, SYS_recvfrom, SYS_rt_sigtimedwait, -1 };
	assert_int_equal(wait_in_syscalls(t.pid, waits), 3);
	struct enroller e = { .backend = ENROLL_PTRACE, .has_prctl_merge = true };
	unsigned later = 0;
	for (int i = 0; i < 100; i++) {
		for (int undo = 0; undo < 2; undo++) {
			struct enroll_result res;
			int rc;
			for (int tries = 0;; tries++) {
				rc = undo ? enroll_undo(&e, &t.ref, ENROLL_WHOLE, NULL, &res)
					  : enroll_process(&e, &t.ref, NULL, &res);
				if (rc == 0 || res.err != -EAGAIN || tries >= 200)
					break;
				later++;
				usleep(10000);
			}
			if (rc)
				fprintf(stderr, "cycle %d: %s: %s (%d)\n", i, undo ? "undo" : "enroll",
					res.reason, res.err);
			assert_int_equal(rc, 0);
			assert_int_equal(ksm_stat_yes(t.pid, "ksm_merge_any"), !undo);
		}
	}
	fprintf(stderr, "  100 enroll+undo cycles, %u later-skips retried\n", later);
	close(t.in_fd);
	t.in_fd = -1;
	print_summary(&t);      /* "... eintr 0" */
	assert_int_equal(stop_ok(&t), 0);
}

/* A process whose only thread waits in epoll_wait (a single-threaded event
 * loop server) has no thread a stop leaves undisturbed: "later" — until the
 * daemon's last retry sets the enroller's interrupt_waits, which enrolls it
 * at the cost of one EINTR its loop retries. Never enrolling it at all was
 * what the first version of "later" did. */
static void test_epoll_only_waiter(void **state)
{
	(void)state;
	NEED_ROOT();
	if (!has_prctl_merge()) {
		fprintf(stderr, "SKIPPED: no PR_SET_MEMORY_MERGE in this kernel\n");
		skip();
	}
	static struct target t;
	struct loop_args a = { "8", "epoll" };
	assert_int_equal(target_start(&t, run_checksum_loop, &a), 0);
	track(&t);
	struct enroller e = { .backend = ENROLL_PTRACE, .has_prctl_merge = true };
	struct enroll_result res;
	/* Wait until it sits in epoll_wait (it may still be starting). */
	static const long waits[] = { SYS_epoll_wait, -1 };
	assert_int_equal(wait_in_syscalls(t.pid, waits), 1);
	assert_int_equal(enroll_process(&e, &t.ref, NULL, &res), -1);
	assert_int_equal(res.err, -EAGAIN);
	assert_non_null(strstr(res.reason, "EINTR"));
	assert_int_equal(ksm_stat_yes(t.pid, "ksm_merge_any"), 0);
	e.interrupt_waits = true;
	int rc = enroll_process(&e, &t.ref, NULL, &res);
	int urc = enroll_undo(&e, &t.ref, ENROLL_WHOLE, NULL, &res);
	assert_int_equal(rc, 0);
	assert_int_equal(urc, 0);
	assert_int_equal(ksm_stat_yes(t.pid, "ksm_merge_any"), 0);
	close(t.in_fd);
	t.in_fd = -1;
	print_summary(&t);      /* its EINTRs: retried by its loop, not failures */
	assert_int_equal(stop_ok(&t), 0);
}

/* --- 5. one deadline per enroll or undo ------------------------------------ */

/* A hostile target: unmerging its 4 TiB sparse reservation walks a billion
 * page slots. Every undo attempt must give the daemon back within its one
 * budget (the daemon answers `status` within 1 s), leave the target intact,
 * and keep its progress: each attempt goes on where the last one stopped. */
static void test_deadline_hostile(void **state)
{
	(void)state;
	NEED_ROOT();
	static struct target t;
	assert_int_equal(target_start(&t, huge_target, NULL), 0);
	track(&t);
	struct enroller e = { .backend = ENROLL_PTRACE, .has_prctl_merge = has_prctl_merge() };
	struct enroll_result res;
	struct vma_list l;
	assert_int_equal(test_anon_ranges(t.pid, &l), 0);
	assert_int_equal(enroll_retrying(&e, &t.ref, &l, ENROLL_WHOLE, true, &res), 0);
	enum enroll_mode mode = res.mode;
	double worst = 0;
	int attempts = 0, rc = -1;
	for (; attempts < 5 && rc != 0; attempts++) {
		double t0 = now_us();
		rc = enroll_undo(&e, &t.ref, mode, &l, &res);
		double dt = (now_us() - t0) / 1e3;
		worst = dt > worst ? dt : worst;
		fprintf(stderr, "  undo attempt %d: rc %d after %.0f ms: %s\n", attempts, rc, dt,
			res.reason);
		if (rc) {
			assert_int_equal(res.err, -EAGAIN);     /* "later" */
			assert_true(res.bytes > 0);             /* and progress made */
		}
	}
	fprintf(stderr, "  worst blocking per undo: %.0f ms (budget %u ms)\n", worst,
		enroll_ptrace_timeout_ms);
	assert_true(worst < 1000);
	free(l.v);
	assert_int_equal(stop_ok(&t), 0);
}

/* --- 6. identity re-checked once stopped ----------------------------------- */

static char suid_helper[PATH_MAX];

/* Runs as nobody (dumpable), says ready, and at a byte on stdin exec's
 * suid_helper: a setuid-root copy of checksum_loop, idle mode. */
static void exec_suid_target(void *arg)
{
	(void)arg;
	if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534) ||
	    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0))
		_exit(5);
	write_all(1, "ready\n", 6);
	char c;
	if (read(0, &c, 1) != 1)
		_exit(0);
	char *argv[] = { (char *)"checksum_loop", (char *)"1", (char *)"idle", NULL };
	execv(suid_helper, argv);
	_exit(6);
}

/* A setuid exec between the checks and the seize: the process checked was a
 * dumpable one of nobody's, the one stopped runs setuid root. Once stopped
 * it is checked again and let go untouched, never injected. */
static void test_setuid_exec_mid_enroll(void **state)
{
	(void)state;
	NEED_ROOT();
	if (!has_prctl_merge())
		skip();
	char dir[PATH_MAX - 64], src[PATH_MAX], tmpl[] = "/tmp/ksmplus-suid.XXXXXX";
	self_dir(dir, sizeof(dir));
	snprintf(src, sizeof(src), "%.*s/checksum_loop", (int)(sizeof(dir) - 1), dir);
	assert_non_null(mkdtemp(tmpl));
	assert_int_equal(chmod(tmpl, 0755), 0);
	snprintf(suid_helper, sizeof(suid_helper), "%s/suid_helper", tmpl);
	char cmd[2 * PATH_MAX + 32];
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", src, suid_helper);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(chown(suid_helper, 0, 0), 0);
	assert_int_equal(chmod(suid_helper, 04755), 0);

	static struct target t;
	assert_int_equal(target_start(&t, exec_suid_target, NULL), 0);
	track(&t);
	struct enroll_result res;
	/* Before the exec it passes every check... */
	assert_int_equal(ptrace_check_target(&t.ref, &res), 0);
	/* ...then it exec's the setuid program (which says ready once more). */
	write_all(t.in_fd, "x", 1);
	char line[6];
	assert_int_equal(read_timeout(t.out_fd, line, sizeof(line), 20000), 0);
	assert_memory_equal(line, "ready\n", 6);
	long args[6] = { PR_SET_MEMORY_MERGE, 1, 0, 0, 0, 0 }, ret = 0;
	int rc = ptrace_inject_syscall(&t.ref, SYS_prctl, args, &ret, 0, &res);
	fprintf(stderr, "  injection after the setuid exec: rc %d: %s\n", rc, res.reason);
	assert_int_equal(rc, -1);
	assert_non_null(strstr(res.reason, "dumpable"));
	assert_int_equal(ksm_stat_yes(t.pid, "ksm_merge_any"), 0);
	/* idle mode verifies its memory at EOF and exits 0: alive, untouched */
	assert_int_equal(stop_ok(&t), 0);
	unlink(suid_helper);
	rmdir(tmpl);
}

/* Makes its [vdso] unusable: arg NULL = no longer executable, else unmapped.
 * (Nothing in it is called afterwards: read() only.) */
static void bad_vdso_target(void *arg)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[256];
	unsigned long lo = 0, hi = 0;
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "[vdso]") && sscanf(line, "%lx-%lx", &lo, &hi) == 2)
			break;
	if (f)
		fclose(f);
	if (!lo || (arg ? munmap((void *)lo, hi - lo) : mprotect((void *)lo, hi - lo, PROT_READ)))
		_exit(5);
	ready_then_wait();
}

/* A target whose vDSO cannot serve (not executable, or gone) is skipped with
 * the reason and stays alive: pointed at a non-executable syscall it would
 * die of SIGSEGV. */
static void test_vdso_unusable(void **state)
{
	(void)state;
	NEED_ROOT();
	static int unmap = 1;
	void *how[2] = { NULL, &unmap };
	const char *want[2] = { "not executable", "no [vdso]" };
	for (int i = 0; i < 2; i++) {
		static struct target t;
		assert_int_equal(target_start(&t, bad_vdso_target, how[i]), 0);
		track(&t);
		struct enroller e = { .backend = ENROLL_PTRACE, .has_prctl_merge = has_prctl_merge() };
		struct enroll_result res;
		struct vma_list l;
		assert_int_equal(test_anon_ranges(t.pid, &l), 0);
		int rc = enroll_process(&e, &t.ref, &l, &res);
		free(l.v);
		fprintf(stderr, "  vDSO %s: rc %d: %s\n", i ? "unmapped" : "not executable", rc,
			res.reason);
		assert_int_equal(rc, -1);
		assert_non_null(strstr(res.reason, want[i]));
		assert_int_equal(stop_ok(&t), 0);
	}
}

/* --- 7. a freeze after the checks ------------------------------------------ */

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

static bool file_has_line(const char *path, const char *want)
{
	char line[128];
	bool found = false;
	FILE *f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		found |= strcmp(line, want) == 0;
	if (f)
		fclose(f);
	return found;
}

/* The mount point of the cgroup2 fs (v2) or of the v1 freezer, or "". */
static void freezer_mount(bool v2, char *out, size_t len)
{
	char line[512], dev[64], dir[256], type[32], opts[256];
	FILE *f = fopen("/proc/self/mounts", "re");
	out[0] = '\0';
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %255s %31s %255s", dev, dir, type, opts) == 4 &&
		    (v2 ? strcmp(type, "cgroup2") == 0
			: strcmp(type, "cgroup") == 0 && strstr(opts, "freezer"))) {
			snprintf(out, len, "%s", dir);
			break;
		}
	if (f)
		fclose(f);
}

struct thawer {
	char state[PATH_MAX];
	const char *thawed;
	unsigned after_ms;
};

static void *thaw_later(void *arg)
{
	struct thawer *th = arg;
	usleep(th->after_ms * 1000);
	write_file(th->state, th->thawed);
	return NULL;
}

/* The target passed its checks, then its cgroup froze: the injection must
 * not wait for the thaw (before: it blocked in waitpid until then; here
 * 3 s). It returns "later" within the deadline; the thread left attached
 * is put back in order from the reaper once thawed; the target lives on,
 * not enrolled. Both freezers: v1 tasks do not even stop for ptrace. */
/* The cgroup test_frozen_after_check made, so a failed assert (which
 * longjmps out of the test) does not leave it behind, frozen. */
static char frozen_cg[PATH_MAX - 32], frozen_state[PATH_MAX];

static int kill_live_and_thaw(void **state)
{
	kill_live(state);
	if (frozen_cg[0]) {
		/* A frozen process dies only once thawed. */
		(void)write_file(frozen_state, strstr(frozen_state, "cgroup.freeze") ? "0" : "THAWED");
		for (int i = 0; i < 200 && rmdir(frozen_cg) < 0 && errno == EBUSY; i++)
			usleep(10000);
		frozen_cg[0] = '\0';
	}
	return 0;
}

static void test_frozen_after_check(void **state)
{
	(void)state;
	NEED_ROOT();
	if (!has_prctl_merge())
		skip();
	int cases = 0;
	for (int v2 = 1; v2 >= 0; v2--) {
		char mnt[256], *cg = frozen_cg, *path = frozen_state;
		freezer_mount(v2, mnt, sizeof(mnt));
		if (!mnt[0])
			continue;
		snprintf(cg, sizeof(frozen_cg), "%s/ksmplus-unit-frozen.%d", mnt, (int)getpid());
		snprintf(path, sizeof(frozen_state), "%s/%s", cg, v2 ? "cgroup.freeze" : "freezer.state");
		if (mkdir(cg, 0755) < 0 || access(path, W_OK) < 0) {
			rmdir(cg);
			cg[0] = '\0';
			continue;
		}
		static struct target t;
		assert_int_equal(target_start(&t, plain_target, NULL), 0);
		track(&t);
		struct enroll_result res;
		assert_int_equal(ptrace_check_target(&t.ref, &res), 0);
		char pidbuf[16], procs[PATH_MAX];
		snprintf(pidbuf, sizeof(pidbuf), "%d", (int)t.pid);
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg);
		assert_int_equal(write_file(procs, pidbuf), 0);
		assert_int_equal(write_file(path, v2 ? "1" : "FROZEN"), 0);
		char events[PATH_MAX];
		snprintf(events, sizeof(events), "%s/%s", cg, v2 ? "cgroup.events" : "freezer.state");
		for (int i = 0; i < 100 && !file_has_line(events, v2 ? "frozen 1\n" : "FROZEN\n"); i++)
			usleep(20000);
		assert_true(file_has_line(events, v2 ? "frozen 1\n" : "FROZEN\n"));

		struct thawer th = { .thawed = v2 ? "0" : "THAWED", .after_ms = 3000 };
		snprintf(th.state, sizeof(th.state), "%s", path);
		pthread_t thr;
		assert_int_equal(pthread_create(&thr, NULL, thaw_later, &th), 0);
		long args[6] = { PR_SET_MEMORY_MERGE, 1, 0, 0, 0, 0 }, ret = 0;
		double t0 = now_us();
		int rc = ptrace_inject_syscall(&t.ref, SYS_prctl, args, &ret, 0, &res);
		double dt = (now_us() - t0) / 1e3;
		fprintf(stderr, "  %s freezer: injection returned %d after %.0f ms: %s\n",
			v2 ? "v2" : "v1", rc, dt, res.reason);
		pthread_join(thr, NULL);
		assert_true(dt < 1000);
		assert_int_equal(rc, -1);
		assert_int_equal(res.err, -EAGAIN);
		/* thawed: the reaper puts the parked thread back in order */
		for (int i = 0; i < 200 && ptrace_reap_pending() > 0; i++)
			usleep(10000);
		assert_int_equal(ptrace_reap_pending(), 0);
		assert_int_equal(ksm_stat_yes(t.pid, "ksm_merge_any"), 0);
		/* and it can be enrolled now */
		struct enroller e = { .backend = ENROLL_PTRACE, .has_prctl_merge = true };
		assert_int_equal(enroll_retrying(&e, &t.ref, NULL, ENROLL_WHOLE, true, &res), 0);
		assert_int_equal(stop_ok(&t), 0);
		rmdir(cg);
		cg[0] = '\0';
		cases++;
	}
	if (!cases) {
		fprintf(stderr, "SKIPPED: no writable cgroup freezer\n");
		skip();
	}
}

static void test_probe(void **state)
{
	(void)state;
	char why[160];
	int p = ptrace_probe(why, sizeof(why));
	if (geteuid() == 0)
		assert_int_equal(p, 1);
	else
		fprintf(stderr, "  ptrace_probe as non-root: %d %s\n", p, p ? "" : why);
	struct enroller e;
	char w[512];
	int rc = enroll_probe(BACKEND_PTRACE, &e, w, sizeof(w));
	if (geteuid() == 0) {
		assert_int_equal(rc, 0);
		assert_int_equal(e.backend, ENROLL_PTRACE);
		assert_string_equal(enroll_backend_name(e.backend), "ptrace");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probe),
		cmocka_unit_test_teardown(test_inject_exact, kill_live),
		cmocka_unit_test_teardown(test_inject_exact_with_signals, kill_live),
		cmocka_unit_test_setup_teardown(test_real_merging, save_knobs, restore_knobs),
		cmocka_unit_test_teardown(test_undo_signal_storm, kill_live),
		cmocka_unit_test_teardown(test_skip_traced, kill_live),
		cmocka_unit_test_teardown(test_seccomp_allowing, kill_live),
		cmocka_unit_test_teardown(test_seccomp_madvise_only, kill_live),
		cmocka_unit_test_teardown(test_skip_seccomp_kill, kill_live),
		cmocka_unit_test_teardown(test_skip_undumpable, kill_live),
		cmocka_unit_test_teardown(test_reused_start_time, kill_live),
		cmocka_unit_test_teardown(test_exit_mid_enroll, kill_live),
		cmocka_unit_test_teardown(test_undo_timeout, kill_live),
		cmocka_unit_test_teardown(test_no_spurious_eintr, kill_live),
		cmocka_unit_test_teardown(test_epoll_only_waiter, kill_live),
		cmocka_unit_test_teardown(test_deadline_hostile, kill_live),
		cmocka_unit_test_teardown(test_setuid_exec_mid_enroll, kill_live),
		cmocka_unit_test_teardown(test_vdso_unusable, kill_live),
		cmocka_unit_test_teardown(test_frozen_after_check, kill_live_and_thaw),
	};
	if (getenv("TEST_FILTER"))
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
