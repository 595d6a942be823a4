/* forker — a test workload shaped like a worker pool (a multiprocessing
 * pool, a browser spawning helpers): fills N MiB with identical pages, then on
 * SIGUSR1 forks --children copies of itself that stay alive, each holding the
 * inherited memory. Children die with the parent (PR_SET_PDEATHSIG) or on
 * SIGTERM. Status file: "ready PID" once filled, "forked N" once every child
 * runs. SIGUSR2: kill every child and wait for them ("reaped N").
 * --vmas N: also maps N separate one-page anonymous VMAs (every other page
 * of a reservation, the pages between left unmapped so the kernel cannot
 * merge neighbours), the shape of a JIT or a malloc with many arenas. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t want_fork, want_reap, want_exit;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		want_fork = 1;
	else if (sig == SIGUSR2)
		want_reap = 1;
	else
		want_exit = 1;
}

static void status(const char *path, const char *word, long a)
{
	FILE *f = path ? fopen(path, "w") : stdout;
	if (!f)
		return;
	fprintf(f, "%s %ld\n", word, a);
	if (path)
		fclose(f);
	else
		fflush(f);
}

/* n one-page VMAs, each touched (KSM has something to scan), with a hole
 * between neighbours: one reservation, every other page unmapped again. */
static int map_vmas(size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	unsigned char *base = mmap(NULL, 2 * n * page, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (base == MAP_FAILED)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (munmap(base + (2 * i + 1) * page, page) < 0)
			return -1;
		base[2 * i * page] = 1;
	}
	return 0;
}

/* A child: sleeps until told to go or its parent dies. */
static void child(pid_t parent, const sigset_t *old)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	while (!want_exit)
		sigsuspend(old);
	_exit(0);
}

int main(int argc, char **argv)
{
	size_t mib = 4;
	long nchildren = 100;
	const char *st = NULL;
	size_t nvmas = 0;
	int c;

	static const struct option opts[] = {
		{ "mib", required_argument, NULL, 'm' },
		{ "children", required_argument, NULL, 'n' },
		{ "status", required_argument, NULL, 's' },
		{ "vmas", required_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm': mib = strtoul(optarg, NULL, 10); break;
		case 'n': nchildren = strtol(optarg, NULL, 10); break;
		case 's': st = optarg; break;
		case 'v': nvmas = strtoul(optarg, NULL, 10); break;
		default:
			fprintf(stderr, "usage: forker [--mib N] [--children N] [--vmas N] "
				"[--status FILE]\n");
			return 2;
		}
	}
	pid_t *kids = calloc((size_t)(nchildren > 0 ? nchildren : 1), sizeof(*kids));
	size_t len = mib << 20;
	unsigned char *mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!kids || mem == MAP_FAILED) {
		perror("forker");
		return 1;
	}
	for (size_t i = 0; i < len; i++)
		mem[i] = (unsigned char)(i * 7 + 1);
	if (nvmas && map_vmas(nvmas) < 0) {
		perror("forker: --vmas");
		return 1;
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGUSR2);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &old);

	pid_t self = getpid();
	long forked = 0;
	status(st, "ready", (long)self);
	while (!want_exit) {
		sigsuspend(&old);
		if (want_fork) {
			want_fork = 0;
			for (; forked < nchildren; forked++) {
				pid_t p = fork();
				if (p == 0)
					child(self, &old);
				if (p < 0) {
					fprintf(stderr, "forker: fork %ld: %s\n", forked, strerror(errno));
					break;
				}
				kids[forked] = p;
			}
			status(st, "forked", forked);
		}
		if (want_reap) {
			want_reap = 0;
			for (long i = 0; i < forked; i++)
				kill(kids[i], SIGTERM);
			long reaped = 0;
			while (reaped < forked) {
				if (wait(NULL) > 0)
					reaped++;
				else if (errno != EINTR)
					break;
			}
			status(st, "reaped", reaped);
			forked = 0;
		}
	}
	for (long i = 0; i < forked; i++)
		kill(kids[i], SIGTERM);
	while (wait(NULL) > 0 || errno == EINTR)
		;
	free(kids);
	return 0;
}
