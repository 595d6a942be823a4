/* churn — short-lived processes at a steady rate (builds, scripts, shells):
 * every one is a fork, an exec and an exit the daemon hears about.
 *
 *   churn RATE SECONDS
 *
 * Starts RATE processes per second (fork + exec of /bin/true) for SECONDS
 * (wall clock: a machine too slow for RATE gets fewer), paced on absolute
 * deadlines so a slow fork doesn't lower the rate, reaps them as they exit,
 * and prints "spawned N late M" (M: starts more than one period behind
 * schedule). Stops early on SIGTERM/SIGINT. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void reap(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

int main(int argc, char **argv)
{
	if (argc != 3 || atoi(argv[1]) <= 0 || atoi(argv[2]) <= 0) {
		fprintf(stderr, "usage: churn RATE SECONDS\n");
		return 2;
	}
	long rate = atol(argv[1]);
	long seconds = atol(argv[2]);
	long total = rate * seconds;
	long period_ns = 1000000000L / rate;

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	const struct timespec start = next;
	long spawned = 0, late = 0;
	for (long i = 0; i < total && !stop; i++) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) >=
		    seconds * 1000000000L)
			break;
		long behind = (now.tv_sec - next.tv_sec) * 1000000000L + (now.tv_nsec - next.tv_nsec);
		if (behind > period_ns)
			late++;
		pid_t pid = fork();
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		if (pid < 0)
			fprintf(stderr, "churn: fork: %s\n", strerror(errno));
		else
			spawned++;
		reap();
		next.tv_nsec += period_ns;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR && !stop)
			;
	}
	while (waitpid(-1, NULL, 0) > 0)
		;
	printf("spawned %ld late %ld\n", spawned, late);
	return 0;
}
