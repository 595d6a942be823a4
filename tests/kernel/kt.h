/* kt.h — helpers for the in-guest kernel tests (tests/kernel/test_*.c).
 *
 * A test is one static program that ends by printing exactly one result line
 *     KTEST <name> PASS|FAIL|SKIP <detail>
 * through kt_pass() / kt_fail() / kt_skip(). <name> is KT_NAME, which
 * tests/kernel/run.sh derives from the file name (test_NN_<name>.c) and
 * checks for in the serial log. A failure caused by a system call puts
 * "errno=ENAME" in the detail, so tests/kernel/expect-* can match on it.
 * "# <name>: ..." lines (kt_log) are diagnostics; the host ignores them.
 *
 * Twins: kt_twin_spawn() forks a child that maps `len` bytes of private
 * anonymous memory and fills page i with a pattern that depends on i only,
 * so two twins hold the same pages (they merge pairwise) while no two pages
 * of one twin are equal. The child then obeys one-byte commands sent with
 * kt_twin_cmd() until it is told to quit. setup(), if given, runs in the
 * child first (e.g. to drop privileges).
 */
#ifndef KSMPLUS_KT_H
#define KSMPLUS_KT_H
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef KT_NAME
#error "KT_NAME is defined by tests/kernel/run.sh from the file name"
#endif

#define KT_PAGE 4096UL
#define KT_MIB (1024UL * 1024UL)

static inline const char *kt_errname(int e)
{
	const char *n = strerrorname_np(e);

	return n ? n : "E?";
}

static inline void kt_vresult(const char *status, const char *fmt, va_list ap)
{
	char detail[512];

	vsnprintf(detail, sizeof(detail), fmt, ap);
	for (char *p = detail; *p; p++)
		if (*p == '\n')
			*p = ' ';
	printf("KTEST %s %s %s\n", KT_NAME, status, detail);
	fflush(stdout);
}

__attribute__((format(printf, 1, 2), noreturn))
static inline void kt_pass(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kt_vresult("PASS", fmt, ap);
	va_end(ap);
	exit(0);
}

__attribute__((format(printf, 1, 2), noreturn))
static inline void kt_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kt_vresult("FAIL", fmt, ap);
	va_end(ap);
	exit(1);
}

__attribute__((format(printf, 1, 2), noreturn))
static inline void kt_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kt_vresult("SKIP", fmt, ap);
	va_end(ap);
	exit(0);
}

__attribute__((format(printf, 1, 2)))
static inline void kt_log(const char *fmt, ...)
{
	va_list ap;

	printf("# %s: ", KT_NAME);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static inline double kt_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* "KEY=N" from the guest's kernel command line, the last one (as init.sh
 * reads ksmplus.test_timeout: KSMPLUS_GUEST_APPEND can override); def if
 * absent. */
static inline long kt_cmdline_long(const char *key, long def)
{
	char buf[2048], *p, *last = NULL;
	FILE *f = fopen("/proc/cmdline", "r");

	if (!f)
		return def;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	for (; p && (p = strstr(p, key)); p += strlen(key))
		last = p;
	return last ? strtol(last + strlen(key), NULL, 10) : def;
}

static double kt_t_start;

__attribute__((constructor)) static void kt_start_clock(void)
{
	kt_t_start = kt_now();
}

/* Seconds left before init.sh kills this test (ksmplus.test_timeout, 300 s
 * by default), less 20 s to report. The safety net of a wait whose bound is
 * counted in scans: a slow kernel (KASAN under TCG is 5-20 times slower)
 * then runs into the test's own limit, with a result line, instead of into
 * a number of seconds written for the normal kernel. */
static inline double kt_time_left(void)
{
	return kt_cmdline_long("ksmplus.test_timeout=", 300) - 20 - (kt_now() - kt_t_start);
}

static inline void kt_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* --- system calls --------------------------------------------------------- */

static inline int kt_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* process_madvise() on one range. Returns bytes advised or -1 with errno. */
static inline long kt_pmadvise(int pidfd, void *addr, size_t len, int advice)
{
	struct iovec iov = { addr, len };

	return syscall(SYS_process_madvise, pidfd, &iov, 1, advice, 0);
}

static inline long kt_pmadvisev(int pidfd, const struct iovec *iov, size_t n, int advice)
{
	return syscall(SYS_process_madvise, pidfd, iov, n, advice, 0);
}

/* --- files ---------------------------------------------------------------- */

static inline int kt_write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

/* A "key value" line of a file, as a number; -1 if absent. */
static inline long kt_file_field(const char *path, const char *key)
{
	FILE *f = fopen(path, "r");
	char line[256];
	size_t kl = strlen(key);
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && (line[kl] == ' ' || line[kl] == ':')) {
			v = strtol(line + kl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* A /sys/kernel/mm/ksm/ counter; -1 if unreadable. */
static inline long kt_ksm_sys(const char *knob)
{
	char path[128], buf[64];
	FILE *f;
	long v = -1;

	snprintf(path, sizeof(path), "/sys/kernel/mm/ksm/%s", knob);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, 10);
	fclose(f);
	return v;
}

/* A field of /proc/PID/ksm_stat (e.g. "ksm_merging_pages"); -1 if absent. */
static inline long kt_ksm_stat(pid_t pid, const char *key)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ksm_stat", pid);
	return kt_file_field(path, key);
}

/* Starts ksmd, scanning fast: the tests run under TCG. */
static inline void kt_ksm_start(void)
{
	if (kt_write_file("/sys/kernel/mm/ksm/pages_to_scan", "20000") ||
	    kt_write_file("/sys/kernel/mm/ksm/sleep_millisecs", "10") ||
	    kt_write_file("/sys/kernel/mm/ksm/run", "1"))
		kt_fail("cannot start ksmd via /sys/kernel/mm/ksm: errno=%s", kt_errname(errno));
}

/* Whether the VMA of pid containing addr has VmFlags flag ("mg" = VM_MERGEABLE)
 * in /proc/PID/smaps: 1 yes, 0 no, -1 no such VMA or no smaps. */
static inline int kt_vma_has_flag(pid_t pid, unsigned long addr, const char *flag)
{
	char path[64], line[512];
	FILE *f;
	int in = 0, ret = -1;

	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e;

		if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = addr >= s && addr < e;
			continue;
		}
		if (in && !strncmp(line, "VmFlags:", 8)) {
			char *tok, *save = NULL;

			ret = 0;
			for (tok = strtok_r(line + 8, " \n", &save); tok;
			     tok = strtok_r(NULL, " \n", &save))
				if (!strcmp(tok, flag))
					ret = 1;
			break;
		}
	}
	fclose(f);
	return ret;
}

/* --- twins ---------------------------------------------------------------- */

struct kt_twin {
	pid_t pid;
	int pidfd;
	int cmd;                /* write end: commands */
	int reply;              /* read end: replies */
	unsigned long addr;
	size_t len;
};

static inline void kt_fill(unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len / KT_PAGE; i++) {
		uint64_t *w = (uint64_t *)(p + i * KT_PAGE);

		for (size_t j = 0; j < KT_PAGE / 8; j++)
			w[j] = (0x6b736d706c7573ULL << 8) ^ ((uint64_t)i << 20) ^ j;
	}
}

/* Number of pages whose contents differ from kt_fill()'s pattern. */
static inline size_t kt_check(const unsigned char *p, size_t len)
{
	size_t bad = 0;

	for (size_t i = 0; i < len / KT_PAGE; i++) {
		const uint64_t *w = (const uint64_t *)(p + i * KT_PAGE);

		for (size_t j = 0; j < KT_PAGE / 8; j++)
			if (w[j] != ((0x6b736d706c7573ULL << 8) ^ ((uint64_t)i << 20) ^ j)) {
				bad++;
				break;
			}
	}
	return bad;
}

/* Twin commands (kt_twin_cmd(t, c, arg)); each gets one size_t reply:
 *   'v'  verify the contents: the number of pages that changed
 *   'm'  madvise(MADV_MERGEABLE) on its own memory: 0 or errno
 *   'u'  munmap page arg of its memory (to make a hole): 0 or errno
 *   'q'  exit (no reply)
 */
struct kt_cmd {
	char c;
	unsigned long arg;
};

static inline void kt_twin_child(size_t len, int cmd, int reply)
{
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned long addr = (unsigned long)p;
	struct kt_cmd m;

	if (p == MAP_FAILED)
		_exit(2);
	kt_fill(p, len);
	if (write(reply, &addr, sizeof(addr)) != sizeof(addr))
		_exit(2);
	while (read(cmd, &m, sizeof(m)) == sizeof(m)) {
		size_t r = 0;

		switch (m.c) {
		case 'v':
			r = kt_check(p, len);
			break;
		case 'm':
			r = madvise(p, len, MADV_MERGEABLE) ? (size_t)errno : 0;
			break;
		case 'u':
			r = munmap(p + m.arg * KT_PAGE, KT_PAGE) ? (size_t)errno : 0;
			break;
		case 'q':
			_exit(0);
		}
		if (write(reply, &r, sizeof(r)) != sizeof(r))
			_exit(2);
	}
	_exit(0);
}

static inline void kt_twin_spawn(struct kt_twin *t, size_t len, void (*setup)(void))
{
	int c[2], r[2];

	if (pipe(c) || pipe(r))
		kt_fail("pipe: errno=%s", kt_errname(errno));
	t->len = len;
	t->pid = fork();
	if (t->pid < 0)
		kt_fail("fork: errno=%s", kt_errname(errno));
	if (t->pid == 0) {
		close(c[1]);
		close(r[0]);
		if (setup)
			setup();
		/* After setup(): a credential change clears it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		kt_twin_child(len, c[0], r[1]);
	}
	close(c[0]);
	close(r[1]);
	t->cmd = c[1];
	t->reply = r[0];
	if (read(t->reply, &t->addr, sizeof(t->addr)) != sizeof(t->addr))
		kt_fail("twin %d did not start", t->pid);
	t->pidfd = kt_pidfd_open(t->pid);
	if (t->pidfd < 0)
		kt_fail("pidfd_open(%d): errno=%s", t->pid, kt_errname(errno));
}

static inline size_t kt_twin_cmd(struct kt_twin *t, char c, unsigned long arg)
{
	struct kt_cmd m = { c, arg };
	size_t r;

	if (write(t->cmd, &m, sizeof(m)) != sizeof(m) ||
	    read(t->reply, &r, sizeof(r)) != sizeof(r))
		kt_fail("twin %d died (command %c)", t->pid, c);
	return r;
}

static inline void kt_twin_stop(struct kt_twin *t)
{
	struct kt_cmd m = { 'q', 0 };

	if (write(t->cmd, &m, sizeof(m)) != sizeof(m))
		kill(t->pid, SIGKILL);
	waitpid(t->pid, NULL, 0);
	close(t->cmd);
	close(t->reply);
	close(t->pidfd);
}

/* Waits until ksm_merging_pages of a and b together reach want, or timeout_s
 * passes. Returns the last sum seen. */
static inline long kt_wait_merged(const struct kt_twin *a, const struct kt_twin *b,
				  long want, double timeout_s, double *took)
{
	double t0 = kt_now();
	long sum = 0;

	for (;;) {
		sum = kt_ksm_stat(a->pid, "ksm_merging_pages") +
		      kt_ksm_stat(b->pid, "ksm_merging_pages");
		*took = kt_now() - t0;
		if (sum >= want || *took > timeout_s)
			return sum;
		kt_sleep_ms(200);
	}
}
#endif
