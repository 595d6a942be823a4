/* idle_procs — N idle processes that match no app, as on a busy desktop or
 * server: the daemon's process discovery must not get more expensive with
 * them.
 *
 *   idle_procs N
 *
 * Forks N children that sleep in pause() (small: they share the parent's
 * pages), prints "ready N" once all exist, and holds them until SIGTERM or
 * SIGINT; then kills and reaps them. Children die with the parent
 * (PR_SET_PDEATHSIG) even if it is killed. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	if (argc != 2 || atoi(argv[1]) <= 0) {
		fprintf(stderr, "usage: idle_procs N\n");
		return 2;
	}
	int n = atoi(argv[1]);
	pid_t *pids = calloc((size_t)n, sizeof(*pids));
	if (!pids)
		return 1;

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &old);

	pid_t parent = getpid();
	int made = 0;
	for (; made < n; made++) {
		pid_t pid = fork();
		if (pid < 0) {
			fprintf(stderr, "idle_procs: fork %d: %s\n", made, strerror(errno));
			break;
		}
		if (pid == 0) {
			signal(SIGTERM, SIG_DFL);
			signal(SIGINT, SIG_DFL);
			sigprocmask(SIG_SETMASK, &old, NULL);
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(0);
			for (;;)
				pause();
		}
		pids[made] = pid;
	}
	printf("ready %d\n", made);
	fflush(stdout);

	while (!stop && made == n)
		sigsuspend(&old);

	for (int i = 0; i < made; i++)
		kill(pids[i], SIGKILL);
	for (int i = 0; i < made; i++)
		waitpid(pids[i], NULL, 0);
	free(pids);
	return made == n ? 0 : 1;
}
