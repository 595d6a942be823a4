/* enroll.h — putting a process's memory under KSM. Two backends:
 *  - process_madvise: remote MADV_MERGEABLE on its anonymous ranges (needs
 *    kernel-patch/0001); probed on a child at start, never guessed.
 *  - ptrace: inject prctl(PR_SET_MEMORY_MERGE, 1) into the target (or madvise
 *    on its ranges where prctl lacks it) through a syscall instruction in the
 *    target's own vDSO. x86_64 only. */
#ifndef KSMPLUS_ENROLL_H
#define KSMPLUS_ENROLL_H
#include <stdbool.h>
#include <stddef.h>
#include "config.h"
#include "pidref.h"
#include "vmas.h"

enum enroll_backend { ENROLL_NONE, ENROLL_PMADV, ENROLL_PTRACE };

enum enroll_mode {
	ENROLL_RANGES,      /* VMA by VMA: new VMAs need rescans */
	ENROLL_WHOLE,       /* prctl(PR_SET_MEMORY_MERGE): all of mm, now and later */
};

struct enroller {
	enum enroll_backend backend;
	bool has_prctl_merge;   /* kernel supports PR_SET_MEMORY_MERGE */
};

struct enroll_result {
	enum enroll_mode mode;
	size_t bytes;           /* bytes advised (ENROLL_RANGES) */
	int err;                /* 0, or -errno; -ESRCH = process gone */
	char reason[160];       /* human reason when skipped/failed */
};

/* Chooses a backend for pref. On failure returns -1 and writes into why what
 * the kernel lacks and the two ways out (patched kernel, or ptrace allowed). */
int enroll_probe(enum backend_pref pref, struct enroller *e, char *why, size_t len);
const char *enroll_backend_name(enum enroll_backend b);
/* Enrolls the process r. ranges: its current anonymous ranges (may be used
 * or ignored by the backend). 0 on success (res->mode says how), -1 with
 * res->err / res->reason when skipped or failed. Never touches a process
 * whose pidref no longer matches. */
int enroll_process(const struct enroller *e, const struct pidref *r,
		   const struct vma_list *ranges, struct enroll_result *res);
/* Undoes enrollment (MADV_UNMERGEABLE / PR_SET_MEMORY_MERGE 0): unmerges. */
int enroll_undo(const struct enroller *e, const struct pidref *r, enum enroll_mode mode,
		const struct vma_list *ranges, struct enroll_result *res);

/* Backend entry points (enroll_pmadv.c, enroll_ptrace.c). */
int pmadv_probe(void);     /* 1 usable, 0 refused by kernel, -errno */
int pmadv_advise(const struct pidref *r, const struct vma_list *ranges, int advice,
		 struct enroll_result *res);
int ptrace_probe(char *why, size_t len);   /* 1 usable, 0 not (why set) */
/* Collects the exits of targets that died while seized (their parents cannot
 * reap them before we do). Returns how many are still pending. */
size_t ptrace_reap_pending(void);
/* Checks the target can be injected: not traced, no seccomp filter,
 * dumpable, x86_64. 0 ok, -1 with res->reason. */
int ptrace_check_target(const struct pidref *r, struct enroll_result *res);
/* Injects syscall nr(args) into r; *ret gets the syscall's return value. */
int ptrace_inject_syscall(const struct pidref *r, long nr, const long args[6], long *ret,
			  struct enroll_result *res);
/* Injects madvise(start, len, advice) for each range, in one stop of the
 * target. Ranges the kernel refuses (e.g. unmapped since) are skipped and
 * counted in res->reason; res->bytes = bytes advised. */
/* How long an injected syscall may run before it is interrupted (then it
 * reports -ETIMEDOUT). Unmerging walks every page of the mergeable VMAs:
 * minutes for terabyte-sized sparse reservations. Default 5000. */
extern unsigned enroll_ptrace_timeout_ms;
int ptrace_inject_ranges(const struct pidref *r, const struct vma_list *ranges, int advice,
			 struct enroll_result *res);
#endif
