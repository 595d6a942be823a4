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
#include <stdint.h>
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
	/* ptrace: false, a process whose every thread waits in a call that a
	 * stop makes fail with EINTR (epoll_wait, sigtimedwait, a socket recv
	 * with a timeout) is "later"; true (lifecycle.c sets it for a
	 * process's last retry), one such thread is used, and its call may
	 * return EINTR. */
	bool interrupt_waits;
};

struct enroll_result {
	enum enroll_mode mode;
	size_t bytes;           /* bytes advised (ENROLL_RANGES) */
	int err;                /* 0, or -errno; -ESRCH = process gone;
				 * -EAGAIN = "later": a passing state or the
				 * operation's deadline; worth a retry */
	char reason[160];       /* human reason when skipped/failed */
	/* Unmerging range by range, cut short by the deadline: every range
	 * below this address is done (the next attempt starts there). */
	uintptr_t done_to;
	/* A "later" that can last (a frozen cgroup): worth retrying past the
	 * usual number of tries, at the longest interval. */
	bool lasting;
	/* In, not out: the enroller's interrupt_waits, for the ptrace code,
	 * which sees the operation's result but not the enroller. */
	bool interrupt_waits;
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
/* MADV_UNMERGEABLE goes by chunks of ENROLL_UNMERGE_CHUNK, the deadline
 * checked between them (res->err = -EAGAIN and res->done_to when it passes);
 * deadline 0: none. */
int pmadv_advise(const struct pidref *r, const struct vma_list *ranges, int advice,
		 double deadline, struct enroll_result *res);
int ptrace_probe(char *why, size_t len);   /* 1 usable, 0 not (why set) */
/* Collects the exits of targets that died while seized (their parents cannot
 * reap them before we do). Returns how many are still pending. */
size_t ptrace_reap_pending(void);
/* Checks the target can be injected: not traced, no seccomp strict mode,
 * dumpable, x86_64, cgroup not frozen. 0 ok, -1 with res->reason. */
int ptrace_check_target(const struct pidref *r, struct enroll_result *res);

/* One deadline covers a whole enroll or undo: every wait on the target ends
 * by it, restarts after signals included. It runs inside the daemon's event
 * loop, which must answer `ksmplusctl status` within 1 s whatever a target
 * does: the budget is well under that, and what does not fit is given up
 * cleanly ("later", registers and signal mask put back) and retried with
 * back-off. Long unmerges progress across attempts (res->done_to). */
extern unsigned enroll_ptrace_timeout_ms;       /* the budget; default 300 */
/* CLOCK_MONOTONIC milliseconds, the clock deadlines are expressed in. */
double enroll_now_ms(void);

/* Injects syscall nr(args) into r; *ret gets the syscall's return value
 * (-ETIMEDOUT when the deadline cut it short). deadline: enroll_now_ms()
 * based, 0 = now + enroll_ptrace_timeout_ms. */
int ptrace_inject_syscall(const struct pidref *r, long nr, const long args[6], long *ret,
			  double deadline, struct enroll_result *res);
/* Injects madvise(start, len, advice) for each range, in one stop of the
 * target. Ranges the kernel refuses (e.g. unmapped since) are skipped and
 * counted in res->reason; res->bytes = bytes advised. MADV_UNMERGEABLE goes
 * in chunks, so that the deadline loses little work; when it passes, -1 with
 * res->err = -EAGAIN and res->done_to. */
int ptrace_inject_ranges(const struct pidref *r, const struct vma_list *ranges, int advice,
			 double deadline, struct enroll_result *res);
/* Bytes one injected or remote MADV_UNMERGEABLE covers at most. */
#define ENROLL_UNMERGE_CHUNK (1UL << 30)
#endif
