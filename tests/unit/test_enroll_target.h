/* test_enroll_target.h — test helper: start a target process that is NOT our child (a
 * middle process forks it and reports its exit status to us through a pipe),
 * like the processes ksmplusd handles, so the code under test cannot reap it
 * and the test can see how it ended. Header-only, for tests/unit/test_enroll*.c. */
#ifndef KSMPLUS_TEST_ENROLL_TARGET_H
#define KSMPLUS_TEST_ENROLL_TARGET_H
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pidref.h"
#include "vmas.h"

struct target {
	pid_t pid, middle;
	int in_fd;       /* target's stdin (close = EOF) */
	int out_fd;      /* target's stdout */
	int st_fd;       /* middle process: pid, then wait status */
	struct pidref ref;
};

typedef void (*target_fn)(void *arg);

static inline void write_all(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			_exit(3);
		p = (const char *)p + w;
		n -= (size_t)w;
	}
}

/* Reads exactly n bytes within timeout_ms. 0 or -1. */
static inline int read_timeout(int fd, void *p, size_t n, int timeout_ms)
{
	while (n) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int r = poll(&pfd, 1, timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		ssize_t got = read(fd, p, n);
		if (got <= 0)
			return -1;
		p = (char *)p + got;
		n -= (size_t)got;
	}
	return 0;
}

/* Starts fn(arg) in a grandchild. fn must write "ready\n" to stdout when
 * set up. Returns 0 with t filled (pidref open) or -1. */
static inline int target_start(struct target *t, target_fn fn, void *arg)
{
	int in[2], out[2], st[2];
	memset(t, 0, sizeof(*t));
	t->ref.pidfd = -1;
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(st, O_CLOEXEC))
		return -1;
	pid_t me = getpid();
	fflush(NULL);   /* or the children would flush our buffered output */
	pid_t middle = fork();
	if (middle < 0)
		return -1;
	if (middle == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != me)
			_exit(1);
		pid_t mid = getpid();
		pid_t c = fork();
		if (c == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != mid)
				_exit(1);
			dup2(in[0], 0);
			dup2(out[1], 1);
			/* no other pipe ends: other targets must see their EOF */
			close_range(3, ~0U, 0);
			fn(arg);
			_exit(0);
		}
		/* keep only st[1]: other pipes' ends would keep EOFs away */
		if (st[1] > 3)
			close_range(3, (unsigned)st[1] - 1, 0);
		close_range((unsigned)st[1] + 1, ~0U, 0);
		write_all(st[1], &c, sizeof(c));
		int status = -1;
		while (c > 0 && waitpid(c, &status, 0) < 0 && errno == EINTR)
			;
		write_all(st[1], &status, sizeof(status));
		_exit(0);
	}
	close(in[0]);
	close(out[1]);
	close(st[1]);
	t->middle = middle;
	t->in_fd = in[1];
	t->out_fd = out[0];
	t->st_fd = st[0];
	if (read_timeout(t->st_fd, &t->pid, sizeof(t->pid), 5000) < 0 || t->pid <= 0) {
		fprintf(stderr, "target_start: no pid from the middle process\n");
		return -1;
	}
	char line[6];
	if (read_timeout(t->out_fd, line, sizeof(line), 20000) < 0 || memcmp(line, "ready\n", 6)) {
		fprintf(stderr, "target_start: target %d never said ready\n", (int)t->pid);
		return -1;
	}
	/* -ESRCH: it already exited (short-lived targets do) */
	return pidref_open(&t->ref, t->pid, 0);
}

/* Closes its stdin and waits up to timeout_ms for the wait status. On
 * timeout kills it (through the pidfd) and returns -1. */
static inline int target_stop(struct target *t, int *status, int timeout_ms)
{
	int rc = 0;
	if (t->in_fd >= 0) {
		close(t->in_fd);
		t->in_fd = -1;
	}
	if (read_timeout(t->st_fd, status, sizeof(*status), timeout_ms) < 0) {
		fprintf(stderr, "target %d did not end in time; killing it\n", (int)t->pid);
		syscall(SYS_pidfd_send_signal, t->ref.pidfd, SIGKILL, NULL, 0);
		read_timeout(t->st_fd, status, sizeof(*status), 5000);
		rc = -1;
	}
	/* Bounded: a target that died traced by a test (not yet collected)
	 * keeps the middle process waiting; the test must not hang on it. */
	for (int i = 0; t->middle > 0; i++) {
		pid_t w = waitpid(t->middle, NULL, i < 1000 ? WNOHANG : 0);

		if (w == t->middle || (w < 0 && errno != EINTR))
			break;
		if (i == 1000 - 1) {
			fprintf(stderr, "target %d: its parent did not end in 10 s (the target "
				"still traced?); killing it\n", (int)t->pid);
			kill(t->middle, SIGKILL);
			rc = -1;
		} else if (i < 1000) {
			usleep(10000);
		}
	}
	t->middle = 0;
	close(t->st_fd);
	close(t->out_fd);
	pidref_close(&t->ref);
	return rc;
}

static inline void target_kill(struct target *t)
{
	if (t->ref.pidfd >= 0)
		syscall(SYS_pidfd_send_signal, t->ref.pidfd, SIGKILL, NULL, 0);
	int st;
	target_stop(t, &st, 5000);
}

/* Value of "key value" in /proc/PID/ksm_stat, or -1 / NULL copy in val. */
static inline long ksm_stat_num(pid_t pid, const char *key)
{
	char path[64], line[128];
	snprintf(path, sizeof(path), "/proc/%d/ksm_stat", (int)pid);
	FILE *f = fopen(path, "re");
	long v = -1;
	if (!f)
		return -1;
	size_t kl = strlen(key);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ' ')
			v = strtol(line + kl + 1, NULL, 10);
	fclose(f);
	return v;
}

static inline int ksm_stat_yes_in(const char *path, const char *key)
{
	char line[128];
	FILE *f = fopen(path, "re");
	int v = -1;
	if (!f)
		return -1;
	size_t kl = strlen(key);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ':')
			v = strstr(line + kl, "yes") != NULL;
	fclose(f);
	return v;
}

/* 1 if "key yes", 0 if "key no", -1 if absent. Falls back to the threads'
 * view: a zombie leader's own /proc/PID/ksm_stat is empty. */
static inline int ksm_stat_yes(pid_t pid, const char *key)
{
	char path[96];
	snprintf(path, sizeof(path), "/proc/%d/ksm_stat", (int)pid);
	int v = ksm_stat_yes_in(path, key);
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = v < 0 ? opendir(path) : NULL;
	struct dirent *de;
	while (d && v < 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/ksm_stat", (int)pid, de->d_name);
		v = ksm_stat_yes_in(path, key);
	}
	if (d)
		closedir(d);
	return v;
}

/* The anonymous private writable ranges of pid, parsed here so the tests do
 * not depend on vmas.c. Caller frees l->v. */
static inline int test_anon_ranges(pid_t pid, struct vma_list *l)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	memset(l, 0, sizeof(*l));
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi, off, ino;
		char perms[8], dev[16];
		int name = 0;
		if (sscanf(line, "%lx-%lx %7s %lx %15s %lu %n", &lo, &hi, perms, &off, dev, &ino,
			   &name) < 6)
			continue;
		const char *nm = line + name;
		if (perms[1] != 'w' || perms[3] != 'p' || ino != 0)
			continue;
		if (*nm && *nm != '\n' && strncmp(nm, "[heap]", 6) && strncmp(nm, "[stack]", 7) &&
		    strncmp(nm, "[anon:", 6))
			continue;
		if (l->n == l->cap) {
			size_t cap = l->cap ? l->cap * 2 : 32;
			struct vma_range *v = realloc(l->v, cap * sizeof(*v));
			if (!v) {
				fclose(f);
				return -1;
			}
			l->v = v;
			l->cap = cap;
		}
		l->v[l->n].start = lo;
		l->v[l->n].end = hi;
		l->n++;
	}
	fclose(f);
	return 0;
}

/* The directory the test binary is in (for build/tests/checksum_loop). */
static inline void self_dir(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	char *slash = strrchr(buf, '/');
	if (slash)
		*slash = '\0';
}
#endif
