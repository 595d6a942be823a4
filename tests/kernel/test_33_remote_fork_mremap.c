/* Remote process_madvise(MADV_MERGEABLE / MADV_UNMERGEABLE) racing fork()
 * and mremap() in the target, with ksmd merging. The target holds the twin
 * pattern (4 MiB) and, until told to stop, moves it back and forth between
 * two fixed places with mremap(MREMAP_FIXED) and forks children that check
 * the pattern in their copy and exit (they inherit VM_MERGEABLE and KSM
 * pages). A twin outside gives ksmd something to merge the target with.
 * The caller advises both places in turn, at least ROUNDS times and until
 * the target has moved the region MOVES times: each call must
 * return the whole length or fail with ENOMEM (the region is not there at
 * that moment: an unmapped range, as for madvise()). At the end the target
 * checks its own pattern, every child found its pattern intact, and the
 * region merges once left alone (the advice still works). */
#include "kt.h"

#define LEN (4 * KT_MIB)
#define PAGES (LEN / KT_PAGE)
#define ROUNDS 1000
#define MOVES 300

/* The target's move count, in shared memory: the caller keeps calling until
 * the target has moved enough (it gets less CPU than the caller's loop). */
static unsigned long *moves;

struct report {
	unsigned long moves, forks, bad_children, bad;
};

/* The target: region at places[0], moves it, forks, until stop is readable. */
static void target(unsigned long places[2], int stop, int out)
{
	unsigned char *p = (unsigned char *)places[0];
	struct report rep = { 0 };
	int at = 0;
	char c;

	kt_fill(p, LEN);
	if (write(out, &rep, sizeof(rep)) != sizeof(rep))
		_exit(2);
	while (read(stop, &c, 1) < 0 && errno == EAGAIN) {
		void *q = mremap(p, LEN, LEN, MREMAP_MAYMOVE | MREMAP_FIXED,
				 (void *)places[!at]);
		pid_t pid;
		int status;

		if (q == MAP_FAILED)
			_exit(3);
		p = q;
		at = !at;
		rep.moves++;
		__atomic_store_n(moves, rep.moves, __ATOMIC_RELAXED);
		if (rep.moves % 4)
			continue;
		pid = fork();
		if (pid < 0)
			_exit(4);
		if (pid == 0)
			_exit(kt_check(p, LEN) ? 1 : 0);
		waitpid(pid, &status, 0);
		rep.forks++;
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			rep.bad_children++;
	}
	/* Back at places[0] for the final merge check. */
	if (at && mremap(p, LEN, LEN, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)places[0]) == MAP_FAILED)
		_exit(3);
	rep.bad = kt_check((unsigned char *)places[0], LEN);
	if (write(out, &rep, sizeof(rep)) != sizeof(rep))
		_exit(2);
	pause();
	_exit(0);
}

/* ksm_merging_pages of pid once it reaches 95% of the region, or after secs. */
static long wait_merged(pid_t pid, double secs)
{
	double t0 = kt_now();
	long merged;

	while ((merged = kt_ksm_stat(pid, "ksm_merging_pages")) < (long)PAGES * 95 / 100 &&
	       kt_now() - t0 < secs)
		kt_sleep_ms(200);
	return merged;
}

int main(void)
{
	unsigned long places[2];
	struct kt_twin b;
	struct report rep;
	int stop[2], out[2], fd, ok = 0, gone = 0, calls = 0;
	long merged = 0, skipped = -1;
	double t0;
	pid_t pid;
	void *m;

	kt_ksm_start();
	moves = mmap(NULL, KT_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (moves == MAP_FAILED)
		kt_fail("mmap: errno=%s", kt_errname(errno));
	kt_twin_spawn(&b, LEN, NULL);
	if (kt_twin_cmd(&b, 'm', 0))
		kt_fail("madvise(MADV_MERGEABLE) in the twin failed");
	/* Two places, reserved here so that the child inherits them mapped. */
	m = mmap(NULL, 2 * LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		kt_fail("mmap: errno=%s", kt_errname(errno));
	places[0] = (unsigned long)m;
	places[1] = places[0] + LEN;
	if (pipe(stop) || pipe(out))
		kt_fail("pipe: errno=%s", kt_errname(errno));
	pid = fork();
	if (pid < 0)
		kt_fail("fork: errno=%s", kt_errname(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fcntl(stop[0], F_SETFL, O_NONBLOCK);
		/* The second place starts unmapped: mremap fills it. */
		munmap((void *)places[1], LEN);
		target(places, stop[0], out[1]);
	}
	munmap(m, 2 * LEN);
	if (read(out[0], &rep, sizeof(rep)) != sizeof(rep))
		kt_fail("target did not start");
	fd = kt_pidfd_open(pid);
	if (fd < 0)
		kt_fail("pidfd_open: errno=%s", kt_errname(errno));

	t0 = kt_now();
	for (int i = 0; i < ROUNDS || __atomic_load_n(moves, __ATOMIC_RELAXED) < MOVES; i++) {
		if (kt_now() - t0 > 240)
			kt_fail("the target moved its region only %lu times in 240 s", *moves);
		int advice = (i / 2) % 5 == 4 ? MADV_UNMERGEABLE : MADV_MERGEABLE;
		long r = kt_pmadvise(fd, (void *)places[i % 2], LEN, advice);

		calls++;
		if (r == (long)LEN)
			ok++;
		else if (r < 0 && errno == ENOMEM)
			gone++;
		else
			kt_fail("round %d: process_madvise(%s) returned %ld errno=%s", i,
				advice == MADV_MERGEABLE ? "MERGEABLE" : "UNMERGEABLE", r,
				r < 0 ? kt_errname(errno) : "-");
	}
	if (write(stop[1], "q", 1) != 1 || read(out[0], &rep, sizeof(rep)) != sizeof(rep))
		kt_fail("target died (status of pid %d lost)", pid);
	kt_log("%d calls advised, %d found no region (ENOMEM); target: %lu moves, %lu forks",
	       ok, gone, rep.moves, rep.forks);
	if (rep.bad || rep.bad_children)
		kt_fail("%lu pages changed in the target, %lu children saw changed pages",
			rep.bad, rep.bad_children);
	if (ok == 0)
		kt_fail("no call found the region: the race was not tested");

	/* Left alone and advised once more, it merges with the twin. With
	 * smart_scan (on by default since 6.7) it may not: rmap_items that
	 * aged while no duplicate was there are skipped in up to 8 of 9 scans,
	 * and the unstable tree is rebuilt at each scan, so two copies checked
	 * in different scans never meet (seen here after test 32, 3 runs of 3:
	 * nothing merged in 60 s, 4.4 M pages_skipped; with smart_scan=0 all in
	 * 0.2 s). The advice is what is under test: if smart_scan keeps them
	 * apart for 30 s, the check goes on with it off, and says so. */
	if (kt_pmadvise(fd, (void *)places[0], LEN, MADV_MERGEABLE) != (long)LEN)
		kt_fail("final MADV_MERGEABLE: errno=%s", kt_errname(errno));
	merged = wait_merged(pid, 30);
	if (merged < (long)PAGES * 95 / 100) {
		skipped = kt_ksm_sys("pages_skipped");
		kt_log("smart_scan kept the copies apart (%ld merged after 30 s, pages_skipped %ld): "
		       "smart_scan=0", merged, skipped);
		kt_write_file("/sys/kernel/mm/ksm/smart_scan", "0");
		merged = wait_merged(pid, 60);
		kt_write_file("/sys/kernel/mm/ksm/smart_scan", "1");
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	kt_twin_stop(&b);
	if (merged < (long)PAGES * 95 / 100)
		kt_fail("after the race the region merged only %ld of %lu pages", merged, PAGES);
	kt_pass("%d calls: %d advised, %d ENOMEM (moved away); %lu moves, %lu forks, "
		"contents intact; merges afterwards (%ld pages%s)", calls, ok, gone,
		rep.moves, rep.forks, merged, skipped >= 0 ? ", with smart_scan=0" : "");
}
