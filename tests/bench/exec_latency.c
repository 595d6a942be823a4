/* exec_latency — how long from exec of a matching program until KSM shows it
 * enrolled (/proc/PID/ksm_stat: ksm_merge_any or ksm_mergeable "yes").
 *
 *   exec_latency PROGRAM COUNT SPREAD_MS TIMEOUT_MS
 *
 * Starts COUNT copies of PROGRAM (args "--mib 1"), the i-th at a random
 * offset within SPREAD_MS (0: one after another, each waited for), polls
 * every 1 ms, kills each copy once seen. Prints "p50_ms p99_ms max_ms
 * timeouts". */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct launch {
	pid_t pid;
	double start_ms, at_ms;
	double latency_ms;      /* <0: not yet */
	int done;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int enrolled(pid_t pid)
{
	char path[64], buf[512];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/ksm_stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, "ksm_merge_any: yes") || strstr(buf, "ksm_mergeable: yes");
}

static pid_t spawn(const char *prog)
{
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0)
			dup2(null, STDOUT_FILENO);   /* the workload says "ready" */
		prctl(PR_SET_PDEATHSIG, SIGKILL);   /* none outlives the launcher */
		execl(prog, prog, "--mib", "1", (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void finish(struct launch *l, double latency)
{
	l->latency_ms = latency;
	l->done = 1;
	kill(l->pid, SIGKILL);
	waitpid(l->pid, NULL, 0);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct launch *l;
	double *lat, t0, timeout;
	int count, spread, left, timeouts = 0, nlat = 0;

	if (argc != 5) {
		fprintf(stderr, "usage: exec_latency PROGRAM COUNT SPREAD_MS TIMEOUT_MS\n");
		return 2;
	}
	count = atoi(argv[2]);
	spread = atoi(argv[3]);
	timeout = atof(argv[4]);
	if (count <= 0 || spread < 0 || timeout <= 0) {
		fprintf(stderr, "exec_latency: bad numbers\n");
		return 2;
	}
	l = calloc((size_t)count, sizeof(*l));
	lat = calloc((size_t)count, sizeof(*lat));
	if (!l || !lat)
		return 1;
	srand(42);
	for (int i = 0; i < count; i++)
		lat[i] = spread ? (double)(rand() % spread) : 0;
	/* launches go out in index order: sorted offsets, or one late launch
	 * would hold back the rest and release them as one burst */
	qsort(lat, (size_t)count, sizeof(*lat), cmp_double);
	for (int i = 0; i < count; i++)
		l[i].at_ms = lat[i];
	t0 = now_ms();
	left = count;
	for (int next = 0; left > 0;) {
		double t = now_ms() - t0;

		/* start the launches that are due (sequential mode: one at a time) */
		for (; next < count && (spread ? l[next].at_ms <= t : next == count - left); next++) {
			l[next].start_ms = now_ms();
			l[next].pid = spawn(argv[1]);
			if (l[next].pid < 0) {
				perror("exec_latency: fork");
				return 1;
			}
		}
		for (int i = 0; i < next; i++) {
			if (l[i].done)
				continue;
			if (enrolled(l[i].pid)) {
				finish(&l[i], now_ms() - l[i].start_ms);
				lat[nlat++] = l[i].latency_ms;
				left--;
			} else if (now_ms() - l[i].start_ms > timeout) {
				finish(&l[i], -1);
				timeouts++;
				left--;
			}
		}
		usleep(1000);
	}
	qsort(lat, (size_t)nlat, sizeof(*lat), cmp_double);
	if (nlat == 0)
		printf("nan nan nan %d\n", timeouts);
	else
		printf("%.1f %.1f %.1f %d\n", lat[(nlat - 1) / 2], lat[(int)((nlat - 1) * 0.99)],
		       lat[nlat - 1], timeouts);
	free(l);
	free(lat);
	return 0;
}
