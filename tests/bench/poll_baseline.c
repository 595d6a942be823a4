/* poll_baseline — what a /proc-polling daemon costs (uksmd style): every
 * INTERVAL_MS, a libproc2 sweep of all processes reading comm, exe and start
 * time, each compared with an app list (here one name that matches nothing).
 * Run beside ksmplusd under the same load to compare CPU and RSS.
 *
 *   poll_baseline INTERVAL_MS [APP]
 *
 * Runs until SIGTERM/SIGINT, then prints "sweeps N processes_last M
 * matched K". */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libproc2/pids.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3 || atoi(argv[1]) <= 0) {
		fprintf(stderr, "usage: poll_baseline INTERVAL_MS [APP]\n");
		return 2;
	}
	long interval_ms = atol(argv[1]);
	const char *app = argc == 3 ? argv[2] : "ksmpb-nomatch";

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	enum pids_item items[] = { PIDS_ID_PID, PIDS_CMD, PIDS_EXE, PIDS_TICS_BEGAN };
	struct pids_info *info = NULL;
	int r = procps_pids_new(&info, items, 4);
	if (r < 0) {
		fprintf(stderr, "poll_baseline: procps_pids_new: %s\n", strerror(-r));
		return 1;
	}

	long sweeps = 0, matched = 0;
	int last = 0;
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!stop) {
		struct pids_fetch *f = procps_pids_reap(info, PIDS_FETCH_TASKS_ONLY);
		if (!f) {
			fprintf(stderr, "poll_baseline: reap: %s\n", strerror(errno));
			break;
		}
		last = f->counts->total;
		for (int i = 0; i < last; i++) {
			const char *cmd = PIDS_VAL(1, str, f->stacks[i], info);
			const char *exe = PIDS_VAL(2, str, f->stacks[i], info);
			const char *base = exe ? strrchr(exe, '/') : NULL;
			if ((cmd && strcmp(cmd, app) == 0) || (base && strcmp(base + 1, app) == 0))
				matched++;
		}
		sweeps++;
		next.tv_sec += interval_ms / 1000;
		next.tv_nsec += (interval_ms % 1000) * 1000000L;
		if (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		while (!stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
	}
	printf("sweeps %ld processes_last %d matched %ld\n", sweeps, last, matched);
	procps_pids_unref(&info);
	return 0;
}
