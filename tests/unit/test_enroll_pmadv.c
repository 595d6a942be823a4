/* test_enroll_pmadv.c — the process_madvise backend: the probe must say
 * what the kernel really does, partial returns must skip only the failing
 * range, a gone process gives -ESRCH, and the probe leaves no child. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "enroll.h"

#define PG 4096UL

/* What the kernel answers to a remote MADV_MERGEABLE, asked directly. */
static int remote_mergeable_works(void)
{
	size_t len = 2 * PG;
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(m != MAP_FAILED);
	memset(m, 1, len);
	fflush(NULL);
	pid_t c = fork();
	assert_true(c >= 0);
	if (c == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		pause();
		_exit(0);
	}
	int fd = (int)syscall(SYS_pidfd_open, c, 0);
	assert_true(fd >= 0);
	struct iovec iov = { m, len };
	long r = syscall(SYS_process_madvise, fd, &iov, 1, MADV_MERGEABLE, 0);
	int e = errno;
	close(fd);
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	munmap(m, len);
	fprintf(stderr, "  remote process_madvise(MADV_MERGEABLE): %s\n", r >= 0 ? "accepted" :
		strerror(e));
	return r >= 0;
}

static void test_probe_tells_truth(void **state)
{
	(void)state;
	int truth = remote_mergeable_works();
	int p = pmadv_probe();
	assert_int_equal(p, truth);
	/* no child left behind, reaped or not */
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);

	struct enroller e;
	char why[512];
	int rc = enroll_probe(BACKEND_PMADV, &e, why, sizeof(why));
	if (truth) {
		assert_int_equal(rc, 0);
		assert_int_equal(e.backend, ENROLL_PMADV);
	} else {
		assert_int_equal(rc, -1);
		fprintf(stderr, "  forced pmadv: %s\n", why);
		assert_non_null(strstr(why, "kernel-patch/0001"));
	}
	rc = enroll_probe(BACKEND_AUTO, &e, why, sizeof(why));
	if (rc == 0)
		fprintf(stderr, "  auto picks: %s\n", enroll_backend_name(e.backend));
	else
		fprintf(stderr, "  auto: %s\n", why);
	if (truth)
		assert_int_equal(e.backend, ENROLL_PMADV);
	else if (geteuid() == 0)
		assert_int_equal(e.backend, ENROLL_PTRACE);
}

/* VmFlags of the mapping holding addr contain "mg"? */
static int is_mergeable(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	int in = 0, res = -1;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
			continue;
		}
		if (in && strncmp(line, "VmFlags:", 8) == 0) {
			res = strstr(line, " mg") != NULL;
			break;
		}
	}
	fclose(f);
	return res;
}

static bool self_mergeable_accepted(void)
{
	int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	char *m = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct iovec iov = { m, PG };
	long r = syscall(SYS_process_madvise, fd, &iov, 1, MADV_MERGEABLE, 0);
	close(fd);
	munmap(m, PG);
	return r == (long)PG;
}

static void test_partial_return_on_self(void **state)
{
	(void)state;
	if (!self_mergeable_accepted()) {
		fprintf(stderr, "SKIPPED: process_madvise(MADV_MERGEABLE) on self refused here\n");
		skip();
	}
	/* A [page][hole][page] region; three ranges, the middle one unmapped. */
	char *m = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(m != MAP_FAILED);
	assert_int_equal(munmap(m + PG, PG), 0);
	struct vma_range v[3] = {
		{ (uintptr_t)m, (uintptr_t)m + PG },
		{ (uintptr_t)m + PG, (uintptr_t)m + 2 * PG },
		{ (uintptr_t)m + 2 * PG, (uintptr_t)m + 3 * PG },
	};
	struct vma_list l = { v, 3, 3 };
	struct pidref self;
	assert_int_equal(pidref_open(&self, getpid(), 0), 0);
	struct enroll_result res;
	assert_int_equal(pmadv_advise(&self, &l, MADV_MERGEABLE, 0, &res), 0);
	fprintf(stderr, "  bytes %zu, %s\n", res.bytes, res.reason);
	assert_int_equal(res.bytes, 2 * PG);
	assert_non_null(strstr(res.reason, "1 range(s) skipped"));
	assert_int_equal(is_mergeable(m), 1);
	assert_int_equal(is_mergeable(m + 2 * PG), 1);

	assert_int_equal(pmadv_advise(&self, &l, MADV_UNMERGEABLE, 0, &res), 0);
	assert_int_equal(res.bytes, 2 * PG);
	assert_int_equal(is_mergeable(m), 0);
	assert_int_equal(is_mergeable(m + 2 * PG), 0);
	munmap(m, PG);
	munmap(m + 2 * PG, PG);
	pidref_close(&self);
}

/* More ranges than fit in one call (IOV_MAX), half of them holes. */
static void test_many_ranges_on_self(void **state)
{
	(void)state;
	if (!self_mergeable_accepted()) {
		fprintf(stderr, "SKIPPED: process_madvise(MADV_MERGEABLE) on self refused here\n");
		skip();
	}
	const size_t n = 3000;
	char *m = mmap(NULL, n * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(m != MAP_FAILED);
	for (size_t i = 1; i < n; i += 2)
		assert_int_equal(munmap(m + i * PG, PG), 0);
	struct vma_range *v = calloc(n, sizeof(*v));
	assert_non_null(v);
	for (size_t i = 0; i < n; i++) {
		v[i].start = (uintptr_t)m + i * PG;
		v[i].end = v[i].start + PG;
	}
	struct vma_list l = { v, n, n };
	struct pidref self;
	assert_int_equal(pidref_open(&self, getpid(), 0), 0);
	struct enroll_result res;
	assert_int_equal(pmadv_advise(&self, &l, MADV_MERGEABLE, 0, &res), 0);
	assert_int_equal(res.bytes, (n / 2) * PG);
	assert_non_null(strstr(res.reason, "1500 range(s) skipped"));
	assert_int_equal(is_mergeable(m + (n - 2) * PG), 1);
	assert_int_equal(pmadv_advise(&self, &l, MADV_UNMERGEABLE, 0, &res), 0);
	assert_int_equal(is_mergeable(m + (n - 2) * PG), 0);
	for (size_t i = 0; i < n; i += 2)
		munmap(m + i * PG, PG);
	free(v);
	pidref_close(&self);
}

static void test_gone_process(void **state)
{
	(void)state;
	fflush(NULL);
	pid_t c = fork();
	assert_true(c >= 0);
	if (c == 0)
		_exit(0);
	struct pidref r;
	int rc = pidref_open(&r, c, 0);
	/* it may be a zombie already: open the pidfd by hand then */
	if (rc < 0) {
		r.pid = c;
		r.pidfd = (int)syscall(SYS_pidfd_open, c, 0);
		r.start_time = 1;
	}
	assert_true(r.pidfd >= 0);
	while (pidref_alive(&r))
		usleep(1000);
	struct vma_range v = { 0x10000, 0x11000 };
	struct vma_list l = { &v, 1, 1 };
	struct enroll_result res;
	assert_int_equal(pmadv_advise(&r, &l, MADV_MERGEABLE, 0, &res), -1);
	assert_int_equal(res.err, -ESRCH);               /* zombie: no mm */
	/* and through the front door: refused before any syscall */
	struct enroller e = { .backend = ENROLL_PMADV };
	assert_int_equal(enroll_process(&e, &r, &l, &res), -1);
	assert_int_equal(res.err, -ESRCH);
	waitpid(c, NULL, 0);
	assert_int_equal(pmadv_advise(&r, &l, MADV_MERGEABLE, 0, &res), -1);
	assert_int_equal(res.err, -ESRCH);               /* reaped */
	pidref_close(&r);
	assert_int_equal(pmadv_advise(&r, &l, MADV_MERGEABLE, 0, &res), -1);
	assert_int_equal(res.err, -ESRCH);               /* closed ref */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probe_tells_truth),
		cmocka_unit_test(test_partial_return_on_self),
		cmocka_unit_test(test_many_ranges_on_self),
		cmocka_unit_test(test_gone_process),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
