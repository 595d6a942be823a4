/* enroll.c — picks a backend at start and dispatches enroll/undo to it. */
#include "enroll.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#endif
#ifndef PR_GET_MEMORY_MERGE
#define PR_GET_MEMORY_MERGE 68
#endif

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

static void reset(struct enroll_result *res)
{
	memset(res, 0, sizeof(*res));
}

static int not_ours(struct enroll_result *res)
{
	res->err = -ESRCH;
	snprintf(res->reason, sizeof(res->reason), "process gone (or its PID reused)");
	return -1;
}

static int inject_prctl(const struct pidref *r, long on, struct enroll_result *res)
{
	long args[6] = { PR_SET_MEMORY_MERGE, on, 0, 0, 0, 0 };
	long ret = 0;
	if (ptrace_inject_syscall(r, SYS_prctl, args, &ret, res) < 0)
		return -1;
	if (ret < 0) {
		res->err = (int)ret;
		if (ret == -ETIMEDOUT)
			snprintf(res->reason, sizeof(res->reason), "prctl(PR_SET_MEMORY_MERGE, %ld) "
				 "in the target ran over %u ms (huge address space?); interrupted",
				 on, enroll_ptrace_timeout_ms);
		else
			snprintf(res->reason, sizeof(res->reason), "prctl(PR_SET_MEMORY_MERGE, %ld) "
				 "in the target: %s", on, strerror((int)-ret));
		return -1;
	}
	res->mode = ENROLL_WHOLE;
	return 0;
}

/* Enrolling and undoing share every check; they differ in the advice, and in
 * whether prctl is the tool: enrolling prefers it where the kernel has it
 * (falling back to ranges on EINVAL), undoing mirrors how it was enrolled. */
static int apply(const struct enroller *e, const struct pidref *r, bool on, bool whole,
		 const struct vma_list *ranges, struct enroll_result *res)
{
	int advice = on ? MADV_MERGEABLE : MADV_UNMERGEABLE;

	reset(res);
	if (pidref_verify(r) < 0)
		return not_ours(res);
	switch (e->backend) {
	case ENROLL_PMADV:
		return pmadv_advise(r, ranges, advice, res);
	case ENROLL_PTRACE:
		if (ptrace_check_target(r, res) < 0)
			return -1;
		if (whole) {
			char first[sizeof(res->reason)];
			bool sandboxed;

			/* prctl(PR_SET_MEMORY_MERGE, 0) also unmerges its pages */
			if (inject_prctl(r, on, res) == 0)
				return 0;
			/* A sandbox may refuse prctl but allow madvise. */
			sandboxed = res->err == -EPERM && strncmp(res->reason, "seccomp:", 8) == 0;
			if (!on || (res->err != -EINVAL && !sandboxed))
				return -1;
			snprintf(first, sizeof(first), "%s", res->reason);
			reset(res);
			if (ptrace_inject_ranges(r, ranges, advice, res) == 0)
				return 0;
			if (sandboxed && res->err == -EPERM) {
				char second[sizeof(res->reason)];

				snprintf(second, sizeof(second), "%s", res->reason);
				snprintf(res->reason, sizeof(res->reason), "%.90s; %.60s", first, second);
			}
			return -1;
		}
		return ptrace_inject_ranges(r, ranges, advice, res);
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
