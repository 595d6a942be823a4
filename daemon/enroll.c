/* enroll.c — picks a backend at start and dispatches enroll/undo to it. */
#include "enroll.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#endif
#ifndef PR_GET_MEMORY_MERGE
#define PR_GET_MEMORY_MERGE 68
#endif

/* 300 ms: the daemon must answer `status` within 1 s while a target
 * misbehaves. A healthy injection takes well under 1 ms (prctl on a
 * multi-GiB process a few ms), so 300 ms cuts short only hostile cases; with
 * the cleanup grace of enroll_ptrace.c on top, one enroll or undo blocks the
 * event loop for at most 0.4 s, leaving room for the rest of that loop
 * iteration. */
unsigned enroll_ptrace_timeout_ms = 300;

double enroll_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static const char WAYS_OUT[] =
	"either run a kernel with ksmplus kernel-patch/0001 (remote MADV_MERGEABLE "
	"through process_madvise), or allow ptrace: run as root or with "
	"CAP_SYS_PTRACE, and kernel.yama.ptrace_scope < 3";

int enroll_probe(enum backend_pref pref, struct enroller *e, char *why, size_t len)
{
	e->backend = ENROLL_NONE;
	/* PR_GET_MEMORY_MERGE exists exactly when PR_SET_MEMORY_MERGE does. */
	e->has_prctl_merge = prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0) >= 0;
	if (why && len)
		why[0] = '\0';

	int pm = 0;
	if (pref != BACKEND_PTRACE) {
		pm = pmadv_probe();
		if (pm == 1) {
			e->backend = ENROLL_PMADV;
			return 0;
		}
		if (pref == BACKEND_PMADV) {
			if (pm == 0)
				snprintf(why, len, "backend process_madvise: this kernel refuses "
					 "MADV_MERGEABLE on another process (EINVAL); it needs "
					 "ksmplus kernel-patch/0001, or use backend ptrace");
			else
				snprintf(why, len, "backend process_madvise: probe failed: %s",
					 strerror(-pm));
			return -1;
		}
	}
	char ptwhy[160] = "";
	if (ptrace_probe(ptwhy, sizeof(ptwhy)) == 1) {
		e->backend = ENROLL_PTRACE;
		if (!e->has_prctl_merge)
			log_info("kernel lacks PR_SET_MEMORY_MERGE: enrolling range by range");
		return 0;
	}
	if (pref == BACKEND_PTRACE)
		snprintf(why, len, "backend ptrace unusable: %s", ptwhy);
	else
		snprintf(why, len, "this kernel cannot enroll another process's memory: "
			 "process_madvise(MADV_MERGEABLE) on another process is refused%s, "
			 "and ptrace is not usable (%s); %s",
			 pm < 0 ? " (probe failed)" : "", ptwhy, WAYS_OUT);
	return -1;
}

const char *enroll_backend_name(enum enroll_backend b)
{
	switch (b) {
	case ENROLL_PMADV: return "process_madvise";
	case ENROLL_PTRACE: return "ptrace";
	case ENROLL_NONE: break;
	}
	return "none";
}

/* Clears what an attempt reports; keeps what the caller asked for. */
static void reset(struct enroll_result *res)
{
	bool interrupt_waits = res->interrupt_waits;

	memset(res, 0, sizeof(*res));
	res->interrupt_waits = interrupt_waits;
}

static int not_ours(struct enroll_result *res)
{
	res->err = -ESRCH;
	snprintf(res->reason, sizeof(res->reason), "process gone (or its PID reused)");
	return -1;
}

static int inject_prctl(const struct pidref *r, long on, double deadline,
			struct enroll_result *res)
{
	long args[6] = { PR_SET_MEMORY_MERGE, on, 0, 0, 0, 0 };
	long ret = 0;
	if (ptrace_inject_syscall(r, SYS_prctl, args, &ret, deadline, res) < 0)
		return -1;
	if (ret < 0) {
		res->err = (int)ret;
		if (ret == -ETIMEDOUT) {
			res->err = -EAGAIN;
			snprintf(res->reason, sizeof(res->reason), "prctl(PR_SET_MEMORY_MERGE, %ld) "
				 "in the target ran over %u ms (huge address space?); "
				 "interrupted, later", on, enroll_ptrace_timeout_ms);
		} else {
			snprintf(res->reason, sizeof(res->reason), "prctl(PR_SET_MEMORY_MERGE, %ld) "
				 "in the target: %s", on, strerror((int)-ret));
		}
		return -1;
	}
	res->mode = ENROLL_WHOLE;
	return 0;
}

/* ---- unmerging: progress kept across attempts ----------------------------
 * Unmerging walks every page of the ranges; one attempt may not get through
 * a huge address space within its deadline. Where the last attempt stopped
 * is kept per process (pid + start time: never applied to a reused PID), and
 * the next one starts there. */
static struct undo_progress {
	pid_t pid;
	unsigned long long start_time;
	uintptr_t done_to;
} progress[32];
static unsigned progress_next;

static struct undo_progress *progress_of(const struct pidref *r)
{
	for (size_t i = 0; i < sizeof(progress) / sizeof(progress[0]); i++)
		if (progress[i].pid == r->pid && progress[i].start_time == r->start_time)
			return &progress[i];
	return NULL;
}

static void progress_keep(const struct pidref *r, uintptr_t done_to)
{
	struct undo_progress *p = progress_of(r);
	if (!p) {
		p = &progress[progress_next++ % (sizeof(progress) / sizeof(progress[0]))];
		p->pid = r->pid;
		p->start_time = r->start_time;
	}
	p->done_to = done_to;
}

static void progress_drop(const struct pidref *r)
{
	struct undo_progress *p = progress_of(r);
	if (p)
		memset(p, 0, sizeof(*p));
}

/* The part of ranges at or above from. 0 or -ENOMEM. */
static int ranges_from(const struct vma_list *ranges, uintptr_t from, struct vma_list *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < ranges->n; i++) {
		struct vma_range v = ranges->v[i];
		if (v.end <= from)
			continue;
		if (v.start < from)
			v.start = from;
		if (out->n == out->cap) {
			size_t cap = out->cap ? out->cap * 2 : 16;
			struct vma_range *g = realloc(out->v, cap * sizeof(*g));
			if (!g) {
				vmas_free(out);
				return -ENOMEM;
			}
			out->v = g;
			out->cap = cap;
		}
		out->v[out->n++] = v;
	}
	return 0;
}

/* MADV_UNMERGEABLE over ranges (the process's own if none are given) from
 * where the last attempt stopped, within the deadline. 0 when done; -1 with
 * res set otherwise (-EAGAIN: progress kept, later). */
static int unmerge_ranges(const struct enroller *e, const struct pidref *r,
			  const struct vma_list *ranges, double deadline, struct enroll_result *res)
{
	struct vma_list own = { 0 }, rest = { 0 };
	struct undo_progress *p = progress_of(r);
	int rc;

	if (!ranges || !ranges->n) {
		if (vmas_read(r->pid, &own) < 0)
			return 0;       /* gone, or no maps: the prctl says */
		ranges = &own;
	}
	if (ranges_from(ranges, p ? p->done_to : 0, &rest) < 0) {
		vmas_free(&own);
		res->err = -ENOMEM;
		snprintf(res->reason, sizeof(res->reason), "out of memory");
		return -1;
	}
	if (e->backend == ENROLL_PMADV)
		rc = pmadv_advise(r, &rest, MADV_UNMERGEABLE, deadline, res);
	else
		rc = ptrace_inject_ranges(r, &rest, MADV_UNMERGEABLE, deadline, res);
	if (rc < 0 && res->err == -EAGAIN && res->done_to)
		progress_keep(r, res->done_to);
	else if (rc == 0)
		progress_drop(r);
	vmas_free(&rest);
	vmas_free(&own);
	return rc;
}

/* Enrolling and undoing share every check; they differ in the advice, and in
 * whether prctl is the tool: enrolling prefers it where the kernel has it
 * (falling back to ranges on EINVAL), undoing mirrors how it was enrolled.
 * One deadline covers the whole of it (enroll.h). */
static int apply(const struct enroller *e, const struct pidref *r, bool on, bool whole,
		 const struct vma_list *ranges, struct enroll_result *res)
{
	int advice = on ? MADV_MERGEABLE : MADV_UNMERGEABLE;
	double deadline = enroll_now_ms() + enroll_ptrace_timeout_ms;

	res->interrupt_waits = e->interrupt_waits;
	reset(res);
	if (pidref_verify(r) < 0)
		return not_ours(res);
	switch (e->backend) {
	case ENROLL_PMADV:
		if (!on)
			return unmerge_ranges(e, r, ranges, deadline, res);
		return pmadv_advise(r, ranges, advice, deadline, res);
	case ENROLL_PTRACE:
		if (ptrace_check_target(r, res) < 0)
			return -1;
		if (!on) {
			/* Unmerge range by range first, progress kept, then (whole)
			 * the prctl, which is left little to do. A sandbox refusing
			 * madvise leaves it all to the prctl. */
			int rc = unmerge_ranges(e, r, ranges, deadline, res);
			if (rc < 0 && (res->err == -EAGAIN || res->err == -ESRCH || !whole))
				return -1;
			reset(res);
			return whole ? inject_prctl(r, 0, deadline, res) : 0;
		}
		if (whole) {
			char first[sizeof(res->reason)];
			bool sandboxed;

			if (inject_prctl(r, on, deadline, res) == 0)
				return 0;
			/* A sandbox may refuse prctl but allow madvise. */
			sandboxed = res->err == -EPERM && strncmp(res->reason, "seccomp:", 8) == 0;
			if (res->err != -EINVAL && !sandboxed)
				return -1;
			snprintf(first, sizeof(first), "%s", res->reason);
			reset(res);
			if (ptrace_inject_ranges(r, ranges, advice, deadline, res) == 0)
				return 0;
			if (sandboxed && res->err == -EPERM) {
				char second[sizeof(res->reason)];

				snprintf(second, sizeof(second), "%s", res->reason);
				snprintf(res->reason, sizeof(res->reason), "%.90s; %.60s", first, second);
			}
			return -1;
		}
		return ptrace_inject_ranges(r, ranges, advice, deadline, res);
	case ENROLL_NONE:
		break;
	}
	res->err = -ENOSYS;
	snprintf(res->reason, sizeof(res->reason), "no enrollment backend");
	return -1;
}

int enroll_process(const struct enroller *e, const struct pidref *r,
		   const struct vma_list *ranges, struct enroll_result *res)
{
	return apply(e, r, true, e->has_prctl_merge, ranges, res);
}

int enroll_undo(const struct enroller *e, const struct pidref *r, enum enroll_mode mode,
		const struct vma_list *ranges, struct enroll_result *res)
{
	return apply(e, r, false, mode == ENROLL_WHOLE, ranges, res);
}
