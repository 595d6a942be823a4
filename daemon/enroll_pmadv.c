/* enroll_pmadv.c — remote MADV_MERGEABLE through process_madvise(2).
 * Stock kernels refuse MADV_MERGEABLE on another process (EINVAL); a kernel
 * with kernel-patch/0001 accepts it. The probe asks the kernel, on a child. */
#include "enroll.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
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

#ifndef IOV_MAX
#define IOV_MAX 1024
#endif

static ssize_t sys_process_madvise(int pidfd, const struct iovec *iov, size_t n,
				   int advice)
{
	return syscall(SYS_process_madvise, pidfd, iov, n, advice, 0U);
}

int pmadv_probe(void)
{
	const size_t len = 4 * 4096;
	void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return -errno;
	memset(mem, 0x5a, len);
	int sync[2];
	if (pipe2(sync, O_CLOEXEC) < 0) {
		int e = errno;
		munmap(mem, len);
		return -e;
	}
	pid_t parent = getpid();
	pid_t child = fork();
	if (child < 0) {
		int e = errno;
		close(sync[0]);
		close(sync[1]);
		munmap(mem, len);
		return -e;
	}
	if (child == 0) {
		/* Inherits mem at the same address. Dies with us, never lingers. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		close(sync[0]);
		char c = 'r';
		if (write(sync[1], &c, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(sync[1]);
	char c;
	ssize_t n;
	do
		n = read(sync[0], &c, 1);
	while (n < 0 && errno == EINTR);
	close(sync[0]);

	int rc;
	int pidfd = (int)syscall(SYS_pidfd_open, child, 0);
	if (n != 1 || pidfd < 0) {
		rc = pidfd < 0 ? -errno : -ECHILD;
	} else {
		struct iovec iov = { .iov_base = mem, .iov_len = len };
		ssize_t r = sys_process_madvise(pidfd, &iov, 1, MADV_MERGEABLE);
		if (r >= 0)
			rc = 1;
		else if (errno == EINVAL || errno == ENOSYS)
			rc = 0;
		else
			rc = -errno;
		log_debug("pmadv probe: process_madvise(MADV_MERGEABLE) on child %d: %s",
			  (int)child, r >= 0 ? "accepted" : strerror(errno));
	}
	if (pidfd >= 0)
		close(pidfd);
	kill(child, SIGKILL);
	while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
		;
	munmap(mem, len);
	return rc;
}

/* Is errno after a failing range one that concerns only that range (skip it
 * and go on), rather than the process or the call as a whole? */
static bool range_error(int e)
{
	return e == ENOMEM || e == EFAULT || e == EACCES || e == EBUSY || e == EAGAIN ||
	       e == EPERM;
}

int pmadv_advise(const struct pidref *r, const struct vma_list *ranges, int advice,
		 double deadline, struct enroll_result *res)
{
	res->mode = ENROLL_RANGES;
	res->bytes = 0;
	res->err = 0;
	res->done_to = 0;
	res->reason[0] = '\0';
	if (!r || r->pidfd < 0) {
		res->err = -ESRCH;
		snprintf(res->reason, sizeof(res->reason), "process gone");
		return -1;
	}
	if (!ranges || ranges->n == 0)
		return 0;

	size_t chunk = ranges->n < IOV_MAX ? ranges->n : IOV_MAX;
	struct iovec *iov = calloc(chunk, sizeof(*iov));
	if (!iov) {
		res->err = -ENOMEM;
		snprintf(res->reason, sizeof(res->reason), "out of memory");
		return -1;
	}
	/* Unmerging walks every page: one call covers at most
	 * ENROLL_UNMERGE_CHUNK bytes, and the deadline is looked at between
	 * calls (a call cannot be interrupted; it runs in the daemon). */
	size_t limit = advice == MADV_UNMERGEABLE ? ENROLL_UNMERGE_CHUNK : SIZE_MAX;
	size_t skipped = 0, ri = 0;
	uintptr_t pos = ranges->v[0].start;
	int first_skip_err = 0;
	int rc = 0;
	while (ri < ranges->n && rc == 0) {
		if (deadline > 0 && enroll_now_ms() > deadline) {
			res->err = -EAGAIN;
			snprintf(res->reason, sizeof(res->reason), "process_madvise(%d) ran over %u ms "
				 "(%zu MiB done); later", advice, enroll_ptrace_timeout_ms,
				 res->bytes >> 20);
			rc = -1;
			break;
		}
		/* The next batch: up to IOV_MAX pieces, up to limit bytes. */
		size_t cnt = 0, sum = 0;
		while (ri < ranges->n && cnt < chunk && sum < limit) {
			size_t len = ranges->v[ri].end - pos;
			if (len > limit - sum)
				len = limit - sum;
			iov[cnt].iov_base = (void *)pos;
			iov[cnt].iov_len = len;
			cnt++;
			sum += len;
			pos += len;
			if (pos >= ranges->v[ri].end && ++ri < ranges->n)
				pos = ranges->v[ri].start;
		}
		uintptr_t batch_end = (uintptr_t)iov[cnt - 1].iov_base + iov[cnt - 1].iov_len;
		size_t i = 0;
		while (i < cnt) {
			ssize_t got = sys_process_madvise(r->pidfd, iov + i, cnt - i, advice);
			if (got < 0) {
				int e = errno;
				if (e == EINTR)
					continue;
				if (e == ESRCH) {
					res->err = -ESRCH;
					snprintf(res->reason, sizeof(res->reason), "process gone");
					rc = -1;
					break;
				}
				if (!range_error(e)) {
					res->err = -e;
					snprintf(res->reason, sizeof(res->reason),
						 "process_madvise(%d): %s", advice, strerror(e));
					rc = -1;
					break;
				}
				/* The first range of this call failed: skip it. */
				if (!first_skip_err)
					first_skip_err = e;
				skipped++;
				log_debug("pid %d: range %p+%zu: %s, skipped", (int)r->pid,
					  iov[i].iov_base, iov[i].iov_len, strerror(e));
				i++;
				continue;
			}
			/* got = bytes of the ranges done before the one that failed,
			 * or all. The kernel caps one call at MAX_RW_COUNT, which can
			 * end inside a range: then that range is only shortened. */
			size_t left = (size_t)got;
			res->bytes += left;
			while (i < cnt && left >= iov[i].iov_len) {
				left -= iov[i].iov_len;
				i++;
			}
			if (i < cnt && left) {
				iov[i].iov_base = (char *)iov[i].iov_base + left;
				iov[i].iov_len -= left;
			}
			/* A short count ending on a range boundary means range i failed:
			 * the next call (starting at i) then fails at once and reports
			 * its errno, which the branch above handles. */
			if (got == 0 && i < cnt) {
				/* Nothing done and no error: do not spin. */
				i++;
				skipped++;
			}
		}
		if (rc == 0)
			res->done_to = batch_end;
	}
	free(iov);
	if (rc == 0 && skipped)
		snprintf(res->reason, sizeof(res->reason), "%zu range(s) skipped (%s)", skipped,
			 first_skip_err ? strerror(first_skip_err) : "no progress");
	return rc;
}
