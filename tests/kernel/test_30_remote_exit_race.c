/* Remote process_madvise(MADV_MERGEABLE / MADV_UNMERGEABLE) on targets that
 * exit between pidfd_open() and the call, with ksmd scanning (so the mm may
 * be registered with ksmd, scanned and torn down in any order):
 *   a) the target has exited and been reaped before the call: ESRCH, always;
 *   b) the target exits by itself after a random 0-3 ms delay: the call
 *      advises it (returns the length) or finds it gone (ESRCH);
 *   c) the target is SIGKILLed just before the call, not yet reaped: the
 *      same two outcomes.
 * Any other result fails; a crash, a KASAN report or a leaked mm_slot
 * (kmemleak, in the debug flavour) fails the run. The counts of each outcome
 * are logged: which one a race takes is up to the scheduler, so they are not
 * asserted, but a) proves the ESRCH path is reached. */
#include "kt.h"

#define LEN (64 * KT_PAGE)
#define ROUNDS 150

/* Forks a target that maps and fills LEN, says so on the pipe, then sleeps
 * delay_us (forever if < 0) and exits. Returns its PID; *addr is its region. */
static pid_t target(long delay_us, unsigned long *addr)
{
	int p[2];
	pid_t pid;

	if (pipe(p))
		kt_fail("pipe: errno=%s", kt_errname(errno));
	pid = fork();
	if (pid < 0)
		kt_fail("fork: errno=%s", kt_errname(errno));
	if (pid == 0) {
		unsigned char *m = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		unsigned long a = (unsigned long)m;

		if (m == MAP_FAILED)
			_exit(2);
		kt_fill(m, LEN);
		if (write(p[1], &a, sizeof(a)) != sizeof(a))
			_exit(2);
		if (delay_us < 0)
			pause();
		else if (delay_us > 0)
			usleep(delay_us);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], addr, sizeof(*addr)) != sizeof(*addr))
		kt_fail("target %d did not start", pid);
	close(p[0]);
	return pid;
}

/* One remote call; counts the outcome into ok / gone, fails on others. */
static void advise(int pidfd, unsigned long addr, int advice, const char *mode,
		   int *ok, int *gone)
{
	long r = kt_pmadvise(pidfd, (void *)addr, LEN, advice);

	if (r == (long)LEN)
		(*ok)++;
	else if (r < 0 && errno == ESRCH)
		(*gone)++;
	else if (r < 0)
		kt_fail("%s: process_madvise(%s): errno=%s", mode,
			advice == MADV_MERGEABLE ? "MERGEABLE" : "UNMERGEABLE",
			kt_errname(errno));
	else
		kt_fail("%s: process_madvise returned %ld, want %lu or ESRCH", mode, r, LEN);
}

int main(void)
{
	int ok[3] = { 0 }, gone[3] = { 0 };
	unsigned long addr;
	pid_t pid;
	int fd;

	kt_ksm_start();
	srand(0x6b736d);
	/* Unpatched kernels refuse KSM advice before looking at the target:
	 * a live one tells EINVAL apart from ESRCH. */
	pid = target(-1, &addr);
	fd = kt_pidfd_open(pid);
	if (fd < 0)
		kt_fail("pidfd_open: errno=%s", kt_errname(errno));
	if (kt_pmadvise(fd, (void *)addr, LEN, MADV_MERGEABLE) < 0)
		kt_fail("process_madvise(MADV_MERGEABLE) on a live target: errno=%s",
			kt_errname(errno));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(fd);

	for (int i = 0; i < ROUNDS; i++) {
		int advice = i % 2 ? MADV_UNMERGEABLE : MADV_MERGEABLE;

		/* a) reaped before the call */
		pid = target(0, &addr);
		fd = kt_pidfd_open(pid);
		if (fd < 0)
			kt_fail("pidfd_open: errno=%s", kt_errname(errno));
		waitpid(pid, NULL, 0);
		advise(fd, addr, advice, "reaped", &ok[0], &gone[0]);
		close(fd);
		if (ok[0])
			kt_fail("reaped target: process_madvise succeeded, want ESRCH");

		/* b) exits on its own, racing the call */
		pid = target(rand() % 3000, &addr);
		fd = kt_pidfd_open(pid);
		if (fd < 0)
			kt_fail("pidfd_open: errno=%s", kt_errname(errno));
		advise(fd, addr, advice, "exiting", &ok[1], &gone[1]);
		advise(fd, addr, advice, "exiting", &ok[1], &gone[1]);
		waitpid(pid, NULL, 0);
		close(fd);

		/* c) killed just before the call */
		pid = target(-1, &addr);
		fd = kt_pidfd_open(pid);
		if (fd < 0)
			kt_fail("pidfd_open: errno=%s", kt_errname(errno));
		if (i % 3)
			advise(fd, addr, MADV_MERGEABLE, "killed", &ok[2], &gone[2]);
		kill(pid, SIGKILL);
		advise(fd, addr, advice, "killed", &ok[2], &gone[2]);
		waitpid(pid, NULL, 0);
		close(fd);
	}
	kt_log("outcomes (advised/ESRCH): reaped %d/%d, exiting %d/%d, killed %d/%d",
	       ok[0], gone[0], ok[1], gone[1], ok[2], gone[2]);
	kt_pass("%d rounds: reaped ESRCH %d/%d; exiting advised %d ESRCH %d; killed advised %d ESRCH %d",
		ROUNDS, gone[0], ROUNDS, ok[1], gone[1], ok[2], gone[2]);
}
