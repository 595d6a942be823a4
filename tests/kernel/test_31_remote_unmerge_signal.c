/* Signals interrupting a remote process_madvise(MADV_UNMERGEABLE) of a big
 * merged region (2 twins x 32 MiB, merged by ksmd). What happens, from
 * mm/ksm.c's unmerge_ksm_pages(): it checks signal_pending(current) -- the
 * caller, not the target -- before each page and returns -ERESTARTSYS; the
 * pages copied so far stay copied, VM_MERGEABLE stays set (ksmd may merge
 * them again), and the call returns:
 *   a) with a handler without SA_RESTART: -1, errno EINTR. Calling again
 *      goes on; the test doubles the timer's interval at each EINTR (a
 *      retry re-walks the copied pages, quickly), so it must end with the
 *      whole length. Asserted: at least one EINTR was seen, then success;
 *   b) with SA_RESTART: the kernel restarts the call by itself, and each
 *      restart walks the range from its start again; the caller sees one
 *      call returning the whole length. A periodic signal more frequent
 *      than one walk restarts it for ever (seen on the debug kernel with a
 *      50 ms timer: the test hit its 400 s limit), so a helper sends a
 *      bounded burst (SIGNALS, every 20 ms) and the call must then finish;
 *   c) a fatal signal (SIGKILL) kills the caller (a child here) during the
 *      call; the target is unharmed.
 * After each: the target is alive, its contents intact, and after a) and b)
 * its ksm_merging_pages falls to 0 and its VMA is no longer mergeable. */
#include <sys/time.h>
#include "kt.h"

#define LEN (32 * KT_MIB)
#define PAGES (2 * LEN / KT_PAGE)

static volatile sig_atomic_t ticks;

static void on_alarm(int sig)
{
	(void)sig;
	ticks++;
}

static void timer_us(long us)
{
	struct itimerval it = { { us / 1000000, us % 1000000 }, { us / 1000000, us % 1000000 } };

	setitimer(ITIMER_REAL, &it, NULL);
}

static void handler(int flags)
{
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = flags };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
}

/* A child that sends pid SIGNALS SIGALRMs, 20 ms apart, and exits. */
#define SIGNALS 5
static pid_t signal_burst(pid_t pid)
{
	pid_t c = fork();

	if (c < 0)
		kt_fail("fork: errno=%s", kt_errname(errno));
	if (c == 0) {
		for (int i = 0; i < SIGNALS; i++) {
			kt_sleep_ms(20);
			kill(pid, SIGALRM);
		}
		_exit(0);
	}
	return c;
}

/* Merges the twins (they opt in themselves); fails if ksmd does not. */
static void merge(struct kt_twin *a, struct kt_twin *b)
{
	long want = PAGES * 95 / 100, got;
	double took;

	if (kt_pmadvise(a->pidfd, (void *)a->addr, LEN, MADV_MERGEABLE) < 0)
		kt_fail("process_madvise(MADV_MERGEABLE): errno=%s", kt_errname(errno));
	if (kt_pmadvise(b->pidfd, (void *)b->addr, LEN, MADV_MERGEABLE) < 0)
		kt_fail("process_madvise(MADV_MERGEABLE): errno=%s", kt_errname(errno));
	got = kt_wait_merged(a, b, want, 300, &took);
	if (got < want)
		kt_fail("setup: only %ld of %lu pages merged after %.0fs", got, PAGES, took);
	/* Stop ksmd (merged pages stay): while VM_MERGEABLE is still set after
	 * an interrupted call, it would merge again what the call unmerged. */
	if (kt_write_file("/sys/kernel/mm/ksm/run", "0"))
		kt_fail("cannot stop ksmd: errno=%s", kt_errname(errno));
}

/* The target after a completed unmerge: nothing merged, not mergeable, intact. */
static void check_unmerged(struct kt_twin *a, struct kt_twin *b, const char *what)
{
	double t0 = kt_now();
	long merging;
	size_t bad;

	kt_ksm_start();    /* ksmd updates the counters when it drops rmap_items */

	while ((merging = kt_ksm_stat(a->pid, "ksm_merging_pages")) > 0 && kt_now() - t0 < 60)
		kt_sleep_ms(200);
	if (merging != 0)
		kt_fail("%s: target still has %ld merged pages after 60s", what, merging);
	if (kt_vma_has_flag(a->pid, a->addr, "mg") != 0)
		kt_fail("%s: target's VMA still mergeable", what);
	if ((bad = kt_twin_cmd(a, 'v', 0)) || (bad = kt_twin_cmd(b, 'v', 0)))
		kt_fail("%s: %zu pages changed", what, bad);
}

int main(void)
{
	struct kt_twin a, b;
	long r, us = 500;
	int eintr = 0, calls = 0, status;
	sig_atomic_t restarted_ticks;
	size_t bad;
	pid_t pid, burst;

	kt_ksm_start();
	kt_twin_spawn(&a, LEN, NULL);
	kt_twin_spawn(&b, LEN, NULL);

	/* a) no SA_RESTART: EINTR, then done by retrying */
	merge(&a, &b);
	handler(0);
	for (;;) {
		ticks = 0;
		timer_us(us);
		r = kt_pmadvise(a.pidfd, (void *)a.addr, LEN, MADV_UNMERGEABLE);
		timer_us(0);
		calls++;
		if (r == (long)LEN)
			break;
		if (r >= 0)
			kt_fail("EINTR case: process_madvise returned %ld, want %lu or EINTR", r, LEN);
		if (errno != EINTR)
			kt_fail("EINTR case: process_madvise(MADV_UNMERGEABLE): errno=%s",
				kt_errname(errno));
		eintr++;
		us *= 2;
	}
	kt_log("no SA_RESTART: %d EINTR before success (last timer %ld us)", eintr, us);
	if (eintr == 0)
		kt_fail("no EINTR with a %ld us timer: the signal path was not tested", us);
	check_unmerged(&a, &b, "after EINTR retries");

	/* b) SA_RESTART: one call, restarted by the kernel (see above). */
	merge(&a, &b);
	handler(SA_RESTART);
	ticks = 0;
	burst = signal_burst(getpid());
	r = kt_pmadvise(a.pidfd, (void *)a.addr, LEN, MADV_UNMERGEABLE);
	restarted_ticks = ticks;
	waitpid(burst, NULL, 0);
	if (r != (long)LEN)
		kt_fail("SA_RESTART case: process_madvise returned %ld errno=%s, want %lu",
			r, r < 0 ? kt_errname(errno) : "-", LEN);
	kt_log("SA_RESTART: one call, %d of %d signals came during it", (int)restarted_ticks,
	       SIGNALS);
	check_unmerged(&a, &b, "after SA_RESTART");

	/* c) the caller killed in the middle */
	merge(&a, &b);
	pid = fork();
	if (pid < 0)
		kt_fail("fork: errno=%s", kt_errname(errno));
	if (pid == 0) {
		kt_pmadvise(a.pidfd, (void *)a.addr, LEN, MADV_UNMERGEABLE);
		_exit(0);
	}
	kt_sleep_ms(20);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	kt_ksm_start();
	if ((bad = kt_twin_cmd(&a, 'v', 0)) || (bad = kt_twin_cmd(&b, 'v', 0)))
		kt_fail("caller killed: %zu pages changed", bad);
	kt_log("caller killed: %s, target has %ld merged pages left, intact",
	       WIFSIGNALED(status) ? "died of SIGKILL" : "finished first",
	       kt_ksm_stat(a.pid, "ksm_merging_pages"));

	kt_twin_stop(&a);
	kt_twin_stop(&b);
	kt_pass("no SA_RESTART: %d EINTR then done in %d calls; SA_RESTART: 1 call, %d signals; "
		"SIGKILLed caller: target intact", eintr, calls, (int)restarted_ticks);
}
