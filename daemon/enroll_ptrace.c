/* enroll_ptrace.c — enrolls a process on a stock kernel by making it call
 * prctl(PR_SET_MEMORY_MERGE, 1) (or madvise(MADV_MERGEABLE) per range) itself.
 *
 * One thread of the target is seized and interrupted; its registers are
 * saved; it is pointed at a `syscall` instruction inside its own [vDSO] with
 * the syscall number and arguments in registers; it runs that one syscall
 * between two syscall stops; its registers are restored and it is let go.
 * Nothing is ever written to the target's memory. x86_64 only.
 *
 * The target must notice nothing. The subtle part is a thread stopped while a
 * syscall of its own was interrupted (blocked in read(), nanosleep(), ...):
 * see finish() for how the kernel's own restart logic is made to run. */
#include "enroll.h"
#include "log.h"
#include "seccomp_eval.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <sys/user.h>
#endif

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#endif
#ifndef PTRACE_EVENT_STOP
#define PTRACE_EVENT_STOP 128
#endif
#ifndef PTRACE_GET_RSEQ_CONFIGURATION
#define PTRACE_GET_RSEQ_CONFIGURATION 0x420f
#endif
#ifndef PTRACE_GETSIGMASK
#define PTRACE_GETSIGMASK 0x420a
#define PTRACE_SETSIGMASK 0x420b
#endif

#define SKIP(res, ...) snprintf((res)->reason, sizeof((res)->reason), __VA_ARGS__)

/* ---- target checks (no ptrace) -------------------------------------------- */

/* Reads "Key:\t<value>" from status text; the value's first number. */
static int status_field(const char *text, const char *key, long *out)
{
	size_t kl = strlen(key);
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, key, kl) == 0 && p[kl] == ':') {
			char *end;
			long v = strtol(p + kl + 1, &end, 10);
			if (end == p + kl + 1)
				return -EINVAL;
			*out = v;
			return 0;
		}
	}
	return -ENOENT;
}

/* Reads dirfd/name into buf; *owner = the file's owner. */
static ssize_t read_at(int dirfd, const char *name, char *buf, size_t len, uid_t *owner)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	ssize_t n = fstat(fd, &st) < 0 ? -1 : read(fd, buf, len - 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return -e;
	buf[n] = '\0';
	*owner = st.st_uid;
	return n;
}

/* The checks /proc/PID/status allows, made before seizing and again once the
 * thread is stopped (a setuid exec may come in between; a stopped thread can
 * no longer exec). tracer: the TracerPid allowed (0 before seizing, ours
 * after). 0, or -1 with res set. */
static int check_status(int dirfd, pid_t pid, pid_t tracer_ok, struct enroll_result *res)
{
	char buf[4096];
	uid_t owner = 0;
	long tracer = 0, seccomp = 0;
	ssize_t n = read_at(dirfd, "status", buf, sizeof(buf), &owner);
	if (n <= 0) {
		res->err = n == 0 || n == -ENOENT || n == -ESRCH ? -ESRCH : (int)n;
		SKIP(res, "cannot read /proc/%d/status", (int)pid);
		return -1;
	}
	if (status_field(buf, "TracerPid", &tracer) == 0 && tracer != 0 && tracer_ok == 0 &&
	    tracer == getpid()) {
		/* Ours: a thread of an earlier attempt that did not stop in time,
		 * put back in order by the reaper timer at its next stop. */
		res->err = -EAGAIN;
		SKIP(res, "an earlier injection is still being wound up; later");
		return -1;
	}
	if (status_field(buf, "TracerPid", &tracer) == 0 && tracer != 0 && tracer != tracer_ok) {
		res->err = -EBUSY;
		SKIP(res, "already traced by pid %ld", tracer);
		return -1;
	}
	if (status_field(buf, "Seccomp", &seccomp) == 0 && seccomp == 1) {
		/* Strict mode kills any syscall but read/write/exit/sigreturn.
		 * Filters (mode 2) are judged per injected call: run_syscall(). */
		res->err = -EPERM;
		SKIP(res, "under seccomp strict mode");
		return -1;
	}
	/* Uid: real effective saved fs */
	unsigned long ruid = 0, euid = 0;
	const char *u = strstr(buf, "\nUid:");
	if (!u || sscanf(u + 5, "%lu %lu", &ruid, &euid) != 2) {
		res->err = -ESRCH;
		SKIP(res, "no Uid in /proc/%d/status", (int)pid);
		return -1;
	}
	/* The kernel shows a non-dumpable process (setuid, setcap, or
	 * PR_SET_DUMPABLE 0) by making root own its /proc/PID files (not the
	 * directory itself, which keeps the effective uid: see
	 * task_dump_owner()). A process running as root is owned by root
	 * anyway; root may trace it. */
	if (owner == 0 && (ruid != 0 || euid != 0)) {
		res->err = -EPERM;
		SKIP(res, "not dumpable (setuid/setcap or PR_SET_DUMPABLE 0)");
		return -1;
	}
	const char *state = strstr(buf, "State:");
	if (state) {
		state += 6;
		while (*state == ' ' || *state == '\t')
			state++;
		/* A zombie leader with live threads is still a live process. */
		if ((*state == 'Z' || *state == 'X') && tracer_ok == 0) {
			res->err = -ESRCH;
			SKIP(res, "process exiting");
			return 1;       /* the caller asks the pidfd */
		}
	}
	return 0;
}

/* Reads the first line of path into buf (newline cut). 0 or -1. */
static int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	char *got = fgets(buf, (int)len, f);
	fclose(f);
	if (!got)
		return -1;
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* Where a cgroup hierarchy is mounted: fstype "cgroup2", or "cgroup" with
 * the given controller among its options. "" if it is not. */
static void cgroup_mount(const char *fstype, const char *controller, char *out, size_t len)
{
	char line[512], dev[64], dir[256], type[32], opts[256];
	FILE *f = fopen("/proc/self/mounts", "re");
	out[0] = '\0';
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %255s %31s %255s", dev, dir, type, opts) != 4 ||
		    strcmp(type, fstype) != 0)
			continue;
		if (controller) {
			bool has = false;
			for (char *sv = NULL, *o = strtok_r(opts, ",", &sv); o; o = strtok_r(NULL, ",", &sv))
				has |= strcmp(o, controller) == 0;
			if (!has)
				continue;
		}
		snprintf(out, len, "%s", dir);
		break;
	}
	if (f)
		fclose(f);
}

/* Is pid in a frozen (or freezing) cgroup? Its threads would not stop for
 * us until thawed: the cgroup v1 freezer keeps them in the refrigerator,
 * deaf to ptrace. cgroup v2: cgroup.events says "frozen 1" (ancestors'
 * freeze included), cgroup.freeze "1" while freezing. v1: freezer.state
 * other than THAWED. 1 frozen (why set), 0 not. */
static int cgroup_frozen(pid_t pid, char *why, size_t len)
{
	char path[600], line[512], mnt2[256], mnt1[256], val[64];
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	char v2[300] = "", v1[300] = "";
	bool have2 = false, have1 = false;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = '\0';
		if (strcmp(line, "0") == 0 && c1[1] == '\0') {
			snprintf(v2, sizeof(v2), "%s", c2 + 1);
			have2 = true;
		} else {
			for (char *sv = NULL, *o = strtok_r(c1 + 1, ",", &sv); o;
			     o = strtok_r(NULL, ",", &sv))
				if (strcmp(o, "freezer") == 0) {
					snprintf(v1, sizeof(v1), "%s", c2 + 1);
					have1 = true;
				}
		}
	}
	fclose(f);
	if (have2) {
		cgroup_mount("cgroup2", NULL, mnt2, sizeof(mnt2));
		snprintf(path, sizeof(path), "%s%s/cgroup.events", mnt2, v2);
		FILE *ev = mnt2[0] ? fopen(path, "re") : NULL;
		bool frozen = false;
		while (ev && fgets(line, sizeof(line), ev))
			frozen |= strcmp(line, "frozen 1\n") == 0;
		if (ev)
			fclose(ev);
		snprintf(path, sizeof(path), "%s%s/cgroup.freeze", mnt2, v2);
		if (frozen || (mnt2[0] && read_line(path, val, sizeof(val)) == 0 &&
			       strcmp(val, "1") == 0)) {
			snprintf(why, len, "cgroup %s is frozen", v2);
			return 1;
		}
	}
	if (have1) {
		cgroup_mount("cgroup", "freezer", mnt1, sizeof(mnt1));
		snprintf(path, sizeof(path), "%s%s/freezer.state", mnt1, v1);
		if (mnt1[0] && read_line(path, val, sizeof(val)) == 0 && strcmp(val, "THAWED") != 0) {
			snprintf(why, len, "freezer cgroup %s is %s", v1, val);
			return 1;
		}
	}
	return 0;
}

int ptrace_check_target(const struct pidref *r, struct enroll_result *res)
{
	char path[64];
	res->err = 0;
	res->reason[0] = '\0';
#if !defined(__x86_64__)
	(void)r;
	(void)path;
	(void)check_status;
	(void)cgroup_frozen;
	res->err = -EOPNOTSUPP;
	SKIP(res, "ptrace backend: x86_64 only");
	return -1;
#else
	snprintf(path, sizeof(path), "/proc/%d", (int)r->pid);
	int dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	/* The directory fd is bound to the process it was opened on; checking
	 * the pidref after opening proves it is ours (not a reused PID). */
	if (dirfd < 0 || pidref_verify(r) < 0) {
		if (dirfd >= 0)
			close(dirfd);
		res->err = -ESRCH;
		SKIP(res, "process gone");
		return -1;
	}
	int rc = check_status(dirfd, r->pid, 0, res);
	if (rc == 1)
		rc = pidref_alive(r) ? 0 : -1;
	if (rc == 0)
		res->err = 0, res->reason[0] = '\0';
	if (rc < 0)
		goto out;
	rc = -1;
	char why[sizeof(res->reason) - 16];
	if (cgroup_frozen(r->pid, why, sizeof(why))) {
		res->err = -EAGAIN;
		res->lasting = true;
		SKIP(res, "later: %s", why);
		goto out;
	}
	/* Architecture of the executable (the registers' CS is checked again
	 * once stopped: a 64-bit ELF may still run 32-bit code). */
	int efd = openat(dirfd, "exe", O_RDONLY | O_CLOEXEC);
	if (efd >= 0) {
		unsigned char eh[20];
		ssize_t en = pread(efd, eh, sizeof(eh), 0);
		close(efd);
		if (en == (ssize_t)sizeof(eh) && memcmp(eh, "\177ELF", 4) == 0 &&
		    (eh[4] != 2 /* ELFCLASS64 */ || (eh[18] | eh[19] << 8) != 62 /* EM_X86_64 */)) {
			res->err = -EOPNOTSUPP;
			SKIP(res, "not an x86_64 process");
			goto out;
		}
	}
	rc = 0;
out:
	close(dirfd);
	return rc;
#endif
}

int ptrace_probe(char *why, size_t len)
{
#if !defined(__x86_64__)
	snprintf(why, len, "the ptrace backend exists only for x86_64");
	return 0;
#else
	FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re");
	if (f) {
		int scope = 0;
		if (fscanf(f, "%d", &scope) != 1)
			scope = 0;
		fclose(f);
		if (scope >= 3) {
			snprintf(why, len, "ptrace is disabled (kernel.yama.ptrace_scope = 3; "
				 "only a reboot lowers it)");
			return 0;
		}
	}
	bool cap = false;
	f = fopen("/proc/self/status", "re");
	if (f) {
		char line[256];
		while (fgets(line, sizeof(line), f)) {
			unsigned long long eff;
			if (sscanf(line, "CapEff: %llx", &eff) == 1) {
				cap = eff & (1ULL << 19);    /* CAP_SYS_PTRACE */
				break;
			}
		}
		fclose(f);
	}
	if (!cap && geteuid() != 0) {
		snprintf(why, len, "ptrace of other users' processes needs root or CAP_SYS_PTRACE");
		return 0;
	}
	return 1;
#endif
}

#if defined(__x86_64__)

/* ---- ptrace mechanics ------------------------------------------------------ */

#define X86_64_USER_CS 0x33
#define ERESTARTSYS 512
#define ERESTARTNOINTR 513
#define ERESTARTNOHAND 514
#define ERESTART_RESTARTBLOCK 516
#define MAX_SIGNAL_RETRIES 64

struct tracee {
	const struct pidref *r;
	pid_t pid, tid;
	/* All general registers at the moment we stopped the thread. Only
	 * these are saved: the syscall instruction and the kernel's syscall
	 * path change rax, rcx, r11 (and rip/rflags), never the FPU/SSE/AVX
	 * state, and the syscalls we inject (prctl, madvise) do not touch the
	 * signal mask, alt stack or FS/GS bases. */
	struct user_regs_struct saved;
	uintptr_t insn;              /* address of 0f 05 in the target's vDSO */
	bool at_syscall_exit;        /* stopped at our syscall's exit stop */
	bool attached;
	/* The thread's own signal mask while ours (every signal blocked) is in
	 * place: see block_signals(). */
	uint64_t mask;
	bool masked;
	/* Threads found waiting with a temporary signal mask in this attempt,
	 * passed over by pick_thread; once every thread is, unmasked is set and
	 * the syscall runs without blocking signals (see begin()). */
	pid_t tried[8];
	unsigned ntried;
	bool unmasked;
	double deadline;             /* of the whole operation, enroll_now_ms() */
	struct enroll_result *res;
};

enum stop_kind { ST_GONE, ST_INTERRUPT, ST_GROUP, ST_SIGNAL, ST_SYSCALL, ST_OTHER, ST_TIMEOUT };

/* Once the deadline has passed, how long putting the thread back in order
 * may still wait for its stops (they are due at once, unless it froze). */
#define CLEANUP_GRACE_MS 100

/* TIDs of leaders that became zombies while seized: their exit is reported
 * to us only once the whole thread group is gone, and until we collect it
 * the real parent cannot reap them. Collected on later calls. */
static pid_t pending_reap[256];
#define N_PENDING_REAP (sizeof(pending_reap) / sizeof(pending_reap[0]))

/* Collects the exits that are due; returns how many leaders still wait. */
static size_t collect_exited(void)
{
	size_t left = 0;

	for (size_t i = 0; i < N_PENDING_REAP; i++) {
		if (!pending_reap[i])
			continue;
		int st;
		pid_t w = waitpid(pending_reap[i], &st, __WALL | WNOHANG);
		if (w < 0 || (w > 0 && (WIFEXITED(st) || WIFSIGNALED(st))))
			pending_reap[i] = 0;
		else if (w > 0 && WIFSTOPPED(st))
			ptrace(PTRACE_DETACH, pending_reap[i], 0, 0);
		if (pending_reap[i])
			left++;
	}
	return left;
}

static bool pending_slot(pid_t tid)
{
	for (size_t i = 0; i < N_PENDING_REAP; i++)
		if (!pending_reap[i]) {
			pending_reap[i] = tid;
			return true;
		}
	return false;
}

/* Full: collect what is due first (a leader whose threads all died). A
 * leader that cannot be recorded stays traced until the daemon exits and
 * its parent's wait() blocks that long: said once per leader. */
static void add_pending_reap(pid_t tid)
{
	if (pending_slot(tid))
		return;
	collect_exited();
	if (!pending_slot(tid))
		log_limited("pending reap", tid, LOG_WARNING,
			    "ptrace: %zu exited leaders await collection; tid %d stays traced "
			    "until ksmplusd exits", N_PENDING_REAP, (int)tid);
}

static char thread_state(pid_t pid, pid_t tid)
{
	char path[96], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 'X';
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 'X';
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	return p && p[1] && p[2] ? p[2] : 'X';
}

static enum stop_kind decode(int st, int *sig)
{
	*sig = 0;
	if (WIFEXITED(st) || WIFSIGNALED(st))
		return ST_GONE;
	int s = WSTOPSIG(st), ev = (st >> 16) & 0xff;
	if (s == (SIGTRAP | 0x80))
		return ST_SYSCALL;
	if (ev == PTRACE_EVENT_STOP) {
		if (s == SIGTRAP)
			return ST_INTERRUPT;
		*sig = s;
		return ST_GROUP;
	}
	if (ev)
		return ST_OTHER;
	*sig = s;
	return ST_SIGNAL;
}

/* Waits for the next stop of tid until deadline (enroll_now_ms() based):
 * ST_TIMEOUT then. Never blocks in waitpid: a thread that froze, or a
 * leader that called pthread_exit() (its exit is only reported when the
 * whole process ends), must not hang the daemon. *zombie: the thread is a
 * zombie whose exit we will only see later. */
static enum stop_kind wait_poll(pid_t pid, pid_t tid, int *sig, bool *zombie, double deadline)
{
	int st;
	*zombie = false;
	*sig = 0;
	for (unsigned i = 0;; i++) {
		pid_t w = waitpid(tid, &st, __WALL | WNOHANG);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return ST_GONE;     /* ECHILD: reaped or never ours */
		}
		if (w > 0 && (WIFSTOPPED(st) || WIFEXITED(st) || WIFSIGNALED(st)))
			return decode(st, sig);
		if (i < 50) {
			sched_yield();
			continue;
		}
		if (i % 16 == 0) {
			char s = thread_state(pid, tid);
			if (s == 'Z' || s == 'X') {
				*zombie = true;
				return ST_GONE;
			}
		}
		if (enroll_now_ms() > deadline)
			return ST_TIMEOUT;
		struct timespec ts = { 0, i < 200 ? 50000 : 1000000 };
		nanosleep(&ts, NULL);
	}
}

/* Waits for t's next stop within the operation's deadline (cleanup: with
 * the grace for putting things back). */
static enum stop_kind wait_for(struct tracee *t, int *sig, bool *zombie, bool cleanup)
{
	double dl = t->deadline;
	if (cleanup && dl < enroll_now_ms())
		dl = enroll_now_ms();
	return wait_poll(t->pid, t->tid, sig, zombie, dl + (cleanup ? CLEANUP_GRACE_MS : 0));
}

/* Puts the thread's own signal mask back. Signals that came meanwhile are
 * still pending (a blocked signal is never dropped): the kernel re-evaluates
 * them when the thread resumes from this stop and delivers them then. */
static int unblock_signals(struct tracee *t)
{
	if (!t->masked)
		return 0;
	if (ptrace(PTRACE_SETSIGMASK, t->tid, (void *)sizeof(t->mask), &t->mask) < 0)
		return -1;
	t->masked = false;
	return 0;
}

static void detach(struct tracee *t, int sig)
{
	if (!t->attached)
		return;
	/* Fails only if the thread is dying: then its mask no longer matters. */
	unblock_signals(t);
	if (ptrace(PTRACE_DETACH, t->tid, 0, (void *)(long)sig) == 0)
		t->attached = false;
}

static bool restart_pending(const struct user_regs_struct *r);

/* ---- parked tracees ------------------------------------------------------ *
 * A thread that does not stop when the deadline has passed (its cgroup froze
 * under us) cannot be given its registers back yet: ptrace changes a tracee
 * only while it is stopped. The daemon must not wait for it, so it is parked
 * here, still ours, and put in order from its next stop, which the reaper
 * timer polls for (ptrace_reap_pending). What is left to do depends on how
 * far we had got:
 *   PK_RESTORED      nothing of ours is in it: detach at the next stop
 *   PK_BEFORE_ENTRY  our registers are in, our syscall not entered: at its
 *                    entry stop the syscall is cancelled (orig_rax = -1),
 *                    at any other stop its registers go back
 *   PK_IN_SYSCALL    in our syscall (interrupted): at its exit stop its
 *                    registers go back, as finish() does */
enum park_state { PK_RESTORED, PK_BEFORE_ENTRY, PK_IN_SYSCALL };

static struct parked {
	bool used;
	enum park_state st;
	struct tracee t;
} parked[16];

static void park(struct tracee *t, enum park_state st)
{
	for (size_t i = 0; i < sizeof(parked) / sizeof(parked[0]); i++)
		if (!parked[i].used) {
			parked[i] = (struct parked){ .used = true, .st = st, .t = *t };
			parked[i].t.r = NULL;       /* the caller's; gone after we return */
			parked[i].t.res = NULL;
			t->attached = false;        /* the parked copy holds it now */
			log_debug("pid %d: tid %d did not stop in time (frozen?); parked",
				  (int)t->pid, (int)t->tid);
			return;
		}
	log_warn("ptrace: too many parked threads; tid %d of pid %d stays traced",
		 (int)t->tid, (int)t->pid);
	t->attached = false;
}

static bool is_parked(pid_t pid)
{
	for (size_t i = 0; i < sizeof(parked) / sizeof(parked[0]); i++)
		if (parked[i].used && parked[i].t.pid == pid)
			return true;
	return false;
}

/* One stop of a tracee being put back in order (kind, sig from decode()).
 * Returns true when it is let go (or gone), false when more stops are due. */
static bool settle_step(struct tracee *t, enum park_state *st, enum stop_kind kind, int sig)
{
	struct user_regs_struct regs;

	if (kind == ST_GONE) {
		t->attached = false;
		return true;
	}
	switch (*st) {
	case PK_RESTORED:
		break;
	case PK_BEFORE_ENTRY:
		if (kind == ST_SYSCALL) {
			/* Entry stop of our syscall: cancel it, go to its exit stop. */
			if (ptrace(PTRACE_GETREGS, t->tid, 0, &regs) < 0)
				return true;
			regs.orig_rax = (unsigned long long)-1;
			if (ptrace(PTRACE_SETREGS, t->tid, 0, &regs) < 0 ||
			    ptrace(PTRACE_SYSCALL, t->tid, 0, 0) < 0)
				return true;
			*st = PK_IN_SYSCALL;
			return false;
		}
		/* A signal, group or interrupt stop before our syscall. */
		if (ptrace(PTRACE_SETREGS, t->tid, 0, &t->saved) < 0)
			return true;
		break;
	case PK_IN_SYSCALL:
		if (kind != ST_SYSCALL) {
			/* Not the exit stop yet (cannot be: nothing stops a thread
			 * inside a syscall); go on to it. */
			return ptrace(PTRACE_SYSCALL, t->tid, 0, 0) < 0;
		}
		if (ptrace(PTRACE_SETREGS, t->tid, 0, &t->saved) < 0 || unblock_signals(t) < 0)
			return true;
		if (restart_pending(&t->saved)) {
			/* finish()'s extra stop: the kernel's restart rules run */
			if (ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) < 0 ||
			    ptrace(PTRACE_CONT, t->tid, 0, 0) < 0)
				return true;
			*st = PK_RESTORED;
			return false;
		}
		sig = 0;
		break;
	}
	detach(t, kind == ST_SIGNAL ? sig : 0);
	return true;
}

/* Puts t in order within the cleanup grace (PTRACE_INTERRUPT already sent,
 * or a stop due); parks it if it does not stop. */
static void settle(struct tracee *t, enum park_state st)
{
	for (int n = 0; n < 8 && t->attached; n++) {
		int sig;
		bool zombie;
		enum stop_kind k = wait_for(t, &sig, &zombie, true);
		if (k == ST_TIMEOUT) {
			park(t, st);
			return;
		}
		if (k == ST_GONE) {
			if (zombie)
				add_pending_reap(t->tid);
			t->attached = false;
			return;
		}
		/* Done, unless the detach failed: it is dying, and its exit is
		 * ours to collect (its parent cannot before we do). */
		if (settle_step(t, &st, k, sig) && t->attached)
			st = PK_RESTORED;
		else if (!t->attached)
			return;
	}
	if (t->attached) {
		add_pending_reap(t->tid);
		t->attached = false;
	}
}

static size_t reap_pending(void)
{
	size_t left = collect_exited();

	for (size_t i = 0; i < sizeof(parked) / sizeof(parked[0]); i++) {
		struct parked *p = &parked[i];
		if (!p->used)
			continue;
		int st = 0, sig = 0;
		pid_t w = waitpid(p->t.tid, &st, __WALL | WNOHANG);
		if (w < 0 && errno != EINTR) {
			p->used = false;        /* reaped: gone */
			continue;
		}
		if (w > 0 && (WIFSTOPPED(st) || WIFEXITED(st) || WIFSIGNALED(st)) &&
		    settle_step(&p->t, &p->st, decode(st, &sig), sig)) {
			if (p->t.attached)      /* dying: collect its exit */
				add_pending_reap(p->t.tid);
			p->used = false;
			log_debug("pid %d: parked tid %d put back in order", (int)p->t.pid,
				  (int)p->t.tid);
			continue;
		}
		left++;
	}
	return left;
}

/* The daemon calls this on a short timer while anything is pending: with no
 * further enrollment to piggy-back on, the real parent's wait() would block
 * until we collect the exit, and a parked thread would stay ours. */
size_t ptrace_reap_pending(void)
{
	return reap_pending();
}

/* A ptrace request failed or the thread is gone. If it is still traced by us
 * (dying, or not stopped after all), make sure it is let go or collected:
 * a tracee left behind would hang at its next stop. */
static void abandon(struct tracee *t)
{
	if (!t->attached)
		return;
	detach(t, 0);
	if (!t->attached)
		return;
	ptrace(PTRACE_INTERRUPT, t->tid, 0, 0);
	settle(t, PK_RESTORED);
}

/* The thread's exit was collected by a wait: nothing to let go of. */
static int lost(struct tracee *t)
{
	t->attached = false;
	t->res->err = -ESRCH;
	snprintf(t->res->reason, sizeof(t->res->reason), "process exited during injection");
	return -1;
}

/* A request failed (the thread is dying, most likely). */
#define gone(t) gone_at(t, __LINE__)
static int gone_at(struct tracee *t, int line)
{
	int e = errno;
	abandon(t);
	t->res->err = -ESRCH;
	SKIP(t->res, "process exited during injection (step %d: %s)", line, strerror(e));
	return -1;
}

/* Syscalls that a stop of their thread interrupts invisibly: the kernel
 * restarts them (-ERESTARTSYS with no handler to run, -ERESTARTNOHAND,
 * restart_syscall) and the program never sees EINTR. Others fail with EINTR
 * on a mere stop, handler or not (signal(7): epoll_wait, sigtimedwait,
 * semop, recv/send on a socket with a timeout, ...): a thread waiting in one
 * of those is never seized. */
static bool restarts_invisibly(long nr)
{
	switch (nr) {
	case SYS_read: case SYS_write: case SYS_readv: case SYS_writev:
	case SYS_pread64: case SYS_pwrite64: case SYS_preadv: case SYS_pwritev:
	case SYS_nanosleep: case SYS_clock_nanosleep: case SYS_futex:
	case SYS_poll: case SYS_select: case SYS_wait4: case SYS_waitid: case SYS_pause:
	case SYS_flock: case SYS_open: case SYS_openat:
		return true;
	}
	return false;
}

static bool fd_io(long nr)
{
	return nr == SYS_read || nr == SYS_write || nr == SYS_readv || nr == SYS_writev ||
	       nr == SYS_pread64 || nr == SYS_pwrite64 || nr == SYS_preadv || nr == SYS_pwritev;
}

/* read()/write() on a socket honour SO_RCVTIMEO/SO_SNDTIMEO, and then a stop
 * makes them fail with EINTR (sock_intr_errno()). */
static bool fd_is_socket(pid_t pid, long fd)
{
	char path[64], target[32];
	snprintf(path, sizeof(path), "/proc/%d/fd/%ld", (int)pid, fd);
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	return strncmp(target, "socket:", 7) == 0;
}

/* Syscalls that wait with a temporary signal mask and are restarted when
 * no handler runs: usable, but only unmasked (see swaps_mask()). */
static bool restarts_with_temp_mask(long nr)
{
	return nr == SYS_ppoll || nr == SYS_pselect6 || nr == SYS_rt_sigsuspend;
}

/* How good a thread is to seize: 3 running, 2 sleeping in a syscall that a
 * stop interrupts invisibly, 1 the same with a temporary mask, 0 not to be
 * interrupted (*nr: its syscall), -1 unusable (exiting), -2 in D state, -3
 * stopped. A snapshot: a thread seen running can enter epoll_wait() in the
 * microseconds before our stop reaches it, and then sees the EINTR a signal
 * would have caused (event loops retry it); a thread seen waiting is never
 * disturbed. */
static int thread_score(pid_t pid, pid_t tid, long *nr)
{
	char path[96], buf[256];
	char state = thread_state(pid, tid);
	*nr = -1;
	switch (state) {
	case 'Z': case 'X': return -1;
	case 'D': return -2;
	case 'T': case 't': return -3;
	case 'R': return 3;
	}
	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
	if (read_line(path, buf, sizeof(buf)) < 0)
		return -1;
	if (strncmp(buf, "running", 7) == 0)
		return 3;
	long fd = -1;
	if (sscanf(buf, "%ld %lx", nr, &fd) < 1 || *nr < 0)
		return 0;       /* asleep outside a syscall (a fault): leave it */
	if (restarts_invisibly(*nr))
		return fd_io(*nr) && fd_is_socket(pid, fd) ? 0 : 2;
	return restarts_with_temp_mask(*nr) ? 1 : 0;
}

/* Picks the thread to seize: the best by thread_score, the group leader
 * among equals. None usable now: "later" (the waiting calls will end, the
 * threads run again, a retry finds one). */
static int pick_thread(struct tracee *t)
{
	char path[96];
	pid_t pid = t->r->pid;
	pid_t found = 0, waiting = 0;
	int best = 0, worst = 0;
	long blocked_in = -1;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return gone(t);
	struct dirent *de;
	bool any = false;
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid_t tid = (pid_t)atoi(de->d_name);
		bool tried = false;
		for (unsigned i = 0; i < t->ntried; i++)
			tried |= t->tried[i] == tid;
		long nr;
		int sc = thread_score(pid, tid, &nr);
		if (sc == -1)
			continue;
		any = true;
		if (tried)
			continue;
		worst = sc < worst ? sc : worst;
		if (sc == 0 && blocked_in < 0)
			blocked_in = nr;
		if (sc == 0 && nr >= 0 && (!waiting || tid == pid))
			waiting = tid;
		if (sc > best || (sc == best && sc > 0 && tid == pid)) {
			best = sc;
			found = tid;
		}
	}
	closedir(d);
	if (!any)
		return gone(t);
	if (worst == -3) {
		t->res->err = -EAGAIN;
		SKIP(t->res, "process is stopped; later");
		return -1;
	}
	if (!found && t->ntried && !t->unmasked) {
		/* Every usable thread waits with a temporary mask (a program
		 * idling in sigsuspend(), say): take one unmasked. */
		t->ntried = 0;
		t->unmasked = true;
		return pick_thread(t);
	}
	if (!found && waiting && t->res->interrupt_waits) {
		/* The last try for a process that only ever waits so (a
		 * single-threaded epoll server): its wait may return EINTR,
		 * which event loops retry; never enrolling it is worse. */
		t->tid = waiting;
		return 0;
	}
	if (!found) {
		t->res->err = -EAGAIN;
		if (worst == -2)
			SKIP(t->res, "threads in uninterruptible sleep; later");
		else
			SKIP(t->res, "every thread waits in a call that a stop would fail with "
			     "EINTR (syscall %ld); later", blocked_in);
		return -1;
	}
	t->tid = found;
	return 0;
}

static int read_mem(pid_t pid, uintptr_t addr, void *buf, size_t len)
{
	struct iovec l = { .iov_base = buf, .iov_len = len };
	struct iovec rem = { .iov_base = (void *)addr, .iov_len = len };
	ssize_t n = process_vm_readv(pid, &l, 1, &rem, 1, 0);
	if (n == (ssize_t)len)
		return 0;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, buf, len, (off_t)addr);
	close(fd);
	return n == (ssize_t)len ? 0 : -EIO;
}

/* Finds a `syscall` (0f 05) in the target's own vDSO: code the kernel put
 * there, executable in every process, never written by us. Only the mapping
 * named exactly [vdso], executable; the bytes at the address found are read
 * again and must be 0f 05. A target whose vDSO is unusable (none, not
 * executable, replaced) is skipped with the reason: never pointed at
 * something else. */
static int find_syscall_insn(struct tracee *t)
{
	char path[96], line[512];
	/* via the seized thread: a zombie leader's own maps are empty */
	snprintf(path, sizeof(path), "/proc/%d/task/%d/maps", (int)t->pid, (int)t->tid);
	FILE *f = fopen(path, "re");
	if (!f)
		return gone(t);
	unsigned long lo = 0, hi = 0;
	char perms[8] = "";
	while (fgets(line, sizeof(line), f)) {
		int name = 0;
		unsigned long a, b;
		char pm[8];
		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &a, &b, pm, &name) < 3 || !name)
			continue;
		if (strcmp(line + name, "[vdso]\n") == 0) {
			lo = a, hi = b;
			snprintf(perms, sizeof(perms), "%s", pm);
			break;
		}
	}
	fclose(f);
	if (!lo || hi <= lo || hi - lo > (1UL << 20)) {
		t->res->err = -ENOENT;
		SKIP(t->res, "no [vdso] mapping in the target");
		return -1;
	}
	if (perms[2] != 'x') {
		t->res->err = -ENOEXEC;
		SKIP(t->res, "the target's [vdso] is not executable (%s)", perms);
		return -1;
	}
	size_t len = hi - lo;
	unsigned char *code = malloc(len);
	if (!code) {
		t->res->err = -ENOMEM;
		SKIP(t->res, "out of memory");
		return -1;
	}
	int rc = read_mem(t->tid, lo, code, len);
	const unsigned char *p = rc == 0 ? memmem(code, len, "\x0f\x05", 2) : NULL;
	if (p)
		t->insn = lo + (uintptr_t)(p - code);
	free(code);
	unsigned char again[2] = { 0, 0 };
	if (p && (read_mem(t->tid, t->insn, again, 2) < 0 || again[0] != 0x0f || again[1] != 0x05))
		p = NULL;
	if (!p) {
		t->res->err = rc ? rc : -ENOENT;
		SKIP(t->res, "no syscall instruction found in the target's vDSO");
		return -1;
	}
	return 0;
}

/* Is the thread inside an rseq critical section? Then the kernel will move
 * it to the abort handler on its next return to user space; if we pointed
 * its rip at the vDSO meanwhile, that fixup would be lost. */
static bool in_rseq_cs(struct tracee *t)
{
	struct {
		uint64_t ptr;
		uint32_t size, sig, flags, pad;
	} conf;
	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, t->tid, (void *)sizeof(conf), &conf) !=
		    (long)sizeof(conf) || !conf.ptr)
		return false;
	uint64_t cs_ptr;
	if (read_mem(t->tid, (uintptr_t)conf.ptr + 8, &cs_ptr, sizeof(cs_ptr)) < 0 || !cs_ptr)
		return false;
	struct {
		uint32_t version, flags;
		uint64_t start_ip, post_commit_offset, abort_ip;
	} cs;
	if (read_mem(t->tid, (uintptr_t)cs_ptr, &cs, sizeof(cs)) < 0)
		return false;
	return t->saved.rip - cs.start_ip < cs.post_commit_offset;
}

/* Waits for the PTRACE_INTERRUPT stop. A signal-delivery-stop coming first
 * is let through (PTRACE_CONT with the signal: the target gets it exactly as
 * without us) and the thread interrupted again. 0 when stopped and the saved
 * registers taken; -1 otherwise (tracee detached or gone). */
static int stop_and_save(struct tracee *t)
{
	for (int tries = 0; tries < MAX_SIGNAL_RETRIES; tries++) {
		int sig;
		bool zombie;
		enum stop_kind k = wait_for(t, &sig, &zombie, false);
		switch (k) {
		case ST_TIMEOUT:
			/* Nothing of ours is in it. Frozen after our check, most
			 * likely: it stops (and is let go) once thawed. */
			settle(t, PK_RESTORED);
			t->res->err = -EAGAIN;
			SKIP(t->res, "thread %d did not stop within %u ms (frozen?); later",
			     (int)t->tid, enroll_ptrace_timeout_ms);
			return -1;
		case ST_GONE:
			if (zombie)
				add_pending_reap(t->tid);
			return lost(t);
		case ST_INTERRUPT:
			break;
		case ST_SIGNAL:
			if (ptrace(PTRACE_CONT, t->tid, 0, (void *)(long)sig) < 0 ||
			    ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) < 0)
				return gone(t);
			continue;
		case ST_GROUP:
			/* Job-control stopped: detaching leaves it stopped. */
			detach(t, 0);
			t->res->err = -EAGAIN;
			SKIP(t->res, "process is stopped (job control); later");
			return -1;
		default:
			detach(t, 0);
			t->res->err = -EAGAIN;
			SKIP(t->res, "unexpected ptrace stop");
			return -1;
		}
		if (ptrace(PTRACE_GETREGS, t->tid, 0, &t->saved) < 0)
			return gone(t);
		if (t->saved.cs != X86_64_USER_CS) {
			detach(t, 0);
			t->res->err = -EOPNOTSUPP;
			SKIP(t->res, "not an x86_64 process (cs=%#llx)",
			     (unsigned long long)t->saved.cs);
			return -1;
		}
		if (in_rseq_cs(t)) {
			/* Let the kernel abort the critical section, stop again. */
			if (ptrace(PTRACE_CONT, t->tid, 0, 0) < 0 ||
			    ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) < 0)
				return gone(t);
			continue;
		}
		t->at_syscall_exit = false;
		return 0;
	}
	/* A signal storm: give up for now, leave it running (it has an
	 * interrupt pending: let go at that stop). */
	settle(t, PK_RESTORED);
	t->res->err = -EAGAIN;
	SKIP(t->res, "signals kept arriving; later");
	return -1;
}

/* Syscalls that run with a temporary signal mask and put the thread's own
 * back on the way out (TIF_RESTORE_SIGMASK; sigtimedwait's real_blocked).
 * PTRACE_SETSIGMASK cancels that restore: changing the mask of a thread
 * stopped in one of them would make the temporary mask its mask for good. */
static bool swaps_mask(long nr)
{
	switch (nr) {
	case SYS_ppoll:
	case SYS_pselect6:
	case SYS_epoll_pwait:
#ifdef SYS_epoll_pwait2
	case SYS_epoll_pwait2:
#endif
	case SYS_rt_sigsuspend:
	case SYS_rt_sigtimedwait:
	case SYS_io_pgetevents:
#ifdef SYS_io_uring_enter
	case SYS_io_uring_enter:
#endif
		return true;
	}
	return false;
}

/* Blocks every signal in the stopped thread while it runs our syscall.
 *
 * Why: a signal pending in the thread makes the kernel abandon long syscalls
 * half done, and prctl(PR_SET_MEMORY_MERGE, 0) then even re-enables what it
 * had undone (-ERESTARTSYS after ksm_disable_merge_any() gave up), so a
 * target that receives signals often could defeat every retry. Blocked
 * signals are not lost: thread-directed ones stay pending, process-wide ones
 * go to a thread that does not block them (or stay pending), and the kernel
 * delivers them once unblock_signals() has put the mask back. SIGKILL and
 * SIGSTOP cannot be blocked, and PTRACE_INTERRUPT (our timeout) still makes
 * the syscall give up. 1: the thread cannot be masked (see swaps_mask). */
static int block_signals(struct tracee *t)
{
	uint64_t all = ~0ULL;

	if (swaps_mask((long)t->saved.orig_rax))
		return 1;
	if (ptrace(PTRACE_GETSIGMASK, t->tid, (void *)sizeof(t->mask), &t->mask) < 0 ||
	    ptrace(PTRACE_SETSIGMASK, t->tid, (void *)sizeof(all), &all) < 0)
		return -1;
	t->masked = true;
	return 0;
}

static int seize(struct tracee *t);

/* Seizes and stops one thread of the target with every signal blocked in
 * it; a thread waiting with a temporary mask is let go and another taken. */
static int begin(struct tracee *t, const struct pidref *r, double deadline,
		 struct enroll_result *res)
{
	memset(t, 0, sizeof(*t));
	t->r = r;
	t->pid = r->pid;
	t->res = res;
	t->deadline = deadline;
	reap_pending();
	if (is_parked(r->pid)) {
		res->err = -EAGAIN;
		SKIP(res, "an earlier injection is still being wound up (frozen?); later");
		return -1;
	}
	for (;;) {
		if (seize(t) < 0)
			return -1;
		int b = t->unmasked ? 0 : block_signals(t);
		if (b < 0)
			return gone(t);
		if (b == 0)
			return 0;
		detach(t, 0);   /* nothing changed in it yet */
		if (t->attached)
			return gone(t); /* dying: gone() collects it */
		if (t->ntried < sizeof(t->tried) / sizeof(t->tried[0]))
			t->tried[t->ntried++] = t->tid;
		else
			t->unmasked = true;
	}
}

/* Once the thread is stopped it can no longer exec: what was checked before
 * seizing (ptrace_check_target) is checked again, for the program it runs
 * now. A setuid program exec'd in between is let go untouched. */
static int recheck_stopped(struct tracee *t)
{
	char path[96];
	/* The seized thread's own view: its TracerPid is ours. */
	snprintf(path, sizeof(path), "/proc/%d/task/%d", (int)t->pid, (int)t->tid);
	int dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return gone(t);
	int rc = check_status(dirfd, t->pid, getpid(), t->res);
	close(dirfd);
	if (rc < 0) {
		detach(t, 0);
		if (t->attached)
			abandon(t);
		log_debug("pid %d: %s, seen once stopped: let go", (int)t->pid, t->res->reason);
		return -1;
	}
	return 0;
}

static int seize(struct tracee *t)
{
	const struct pidref *r = t->r;
	struct enroll_result *res = t->res;

	if (pidref_verify(r) < 0)
		return gone(t);
	if (pick_thread(t) < 0)
		return -1;
	if (ptrace(PTRACE_SEIZE, t->tid, 0, (void *)(long)PTRACE_O_TRACESYSGOOD) < 0) {
		int e = errno;
		/* EPERM also comes from a thread that is already exiting. */
		if (e == ESRCH || (e == EPERM && (!pidref_alive(r) ||
						  strchr("ZX", thread_state(r->pid, t->tid)))))
			return gone(t);
		res->err = -e;
		SKIP(res, "PTRACE_SEIZE: %s", strerror(e));
		return -1;
	}
	t->attached = true;
	/* Seized, so the thread cannot be reaped (and its TID reused) behind our
	 * back. The pidfd still alive now means the PID is still the process
	 * discovery matched; the thread still listed under it means the TID is
	 * one of its threads. Only if that fails do we stop and let go of a
	 * task we have changed nothing in. */
	char path[96];
	snprintf(path, sizeof(path), "/proc/%d/task/%d", (int)r->pid, (int)t->tid);
	bool ours = pidref_alive(r) && access(path, F_OK) == 0;
	if (ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) < 0)
		return gone(t);
	if (stop_and_save(t) < 0)
		return -1;
	if (!ours || !pidref_alive(r)) {
		detach(t, 0);
		return gone(t);
	}
	if (recheck_stopped(t) < 0)
		return -1;
	if (find_syscall_insn(t) < 0) {
		detach(t, 0);
		return -1;
	}
	return 0;
}

/* Runs nr(args) in the stopped thread; *ret = its return value. On a
 * signal-delivery-stop before our syscall starts, the original registers go
 * back, the signal is delivered as it would have been, and we retry from a
 * fresh stop. */
static int finish(struct tracee *t);

static int run_syscall(struct tracee *t, long nr, const long a[6], long *ret)
{
	/* A sandboxed thread's seccomp filters see our syscall as its own: it
	 * runs only if every filter allows exactly this call. A sibling could
	 * add a filter meanwhile (TSYNC); filters only ever get stricter, and
	 * the common sandboxes install theirs before the process starts. */
	uint64_t args[6] = { (uint64_t)a[0], (uint64_t)a[1], (uint64_t)a[2],
			     (uint64_t)a[3], (uint64_t)a[4], (uint64_t)a[5] };
	uint32_t action = SECCOMP_RET_ALLOW;
	char why[sizeof(t->res->reason)];
	int sc = seccomp_check_thread(t->tid, (int)nr, args, t->insn + 2, &action, why, sizeof(why));
	if (sc < 0 || !seccomp_allows(action)) {
		/* After an earlier range the thread sits at our syscall's exit
		 * with our registers: put its own back on the way out. */
		if (t->at_syscall_exit)
			finish(t);
		else
			detach(t, 0);
		if (t->attached)
			abandon(t);     /* dying: collect it, or its parent cannot */
		t->res->err = sc == -ESRCH ? -ESRCH : -EPERM;
		SKIP(t->res, "%s", why);
		return -1;
	}
	int tries;

	for (tries = 0; tries < MAX_SIGNAL_RETRIES; tries++) {
		/* Its own registers are in place here (first try, or put back
		 * after a signal): a passed deadline lets it go as it was. */
		if (enroll_now_ms() > t->deadline)
			break;
		struct user_regs_struct regs = t->saved;
		regs.rip = t->insn;
		regs.rax = (unsigned long long)nr;
		regs.orig_rax = (unsigned long long)-1;   /* no syscall to restart */
		regs.rdi = (unsigned long long)a[0];
		regs.rsi = (unsigned long long)a[1];
		regs.rdx = (unsigned long long)a[2];
		regs.r10 = (unsigned long long)a[3];
		regs.r8 = (unsigned long long)a[4];
		regs.r9 = (unsigned long long)a[5];
		if (ptrace(PTRACE_SETREGS, t->tid, 0, &regs) < 0 ||
		    ptrace(PTRACE_SYSCALL, t->tid, 0, 0) < 0)
			return gone(t);
		int sig;
		bool zombie;
		enum stop_kind k = wait_for(t, &sig, &zombie, false);
		/* A PTRACE_INTERRUPT that a signal-delivery-stop satisfied leaves a
		 * JOBCTL_TRAP_NOTIFY behind: one more PTRACE_EVENT_STOP, still in
		 * the kernel before returning to user space. Just go on. */
		for (int extra = 0; k == ST_INTERRUPT && extra < 4; extra++) {
			if (ptrace(PTRACE_SYSCALL, t->tid, 0, 0) < 0)
				return gone(t);
			k = wait_for(t, &sig, &zombie, false);
		}
		if (k == ST_TIMEOUT) {
			/* Our registers are in but the syscall not entered: it froze
			 * on its way (or the machine is that slow). Stop it, cancel
			 * our syscall, put its registers back. */
			ptrace(PTRACE_INTERRUPT, t->tid, 0, 0);
			t->at_syscall_exit = false;
			settle(t, PK_BEFORE_ENTRY);
			t->res->err = -EAGAIN;
			SKIP(t->res, "the target did not enter the syscall within %u ms (frozen?); "
			     "later", enroll_ptrace_timeout_ms);
			return -1;
		}
		if (k == ST_SIGNAL || k == ST_GROUP) {
			/* Still before our syscall: put everything back and let the
			 * signal (or stop) happen exactly as without us. */
			if (ptrace(PTRACE_SETREGS, t->tid, 0, &t->saved) < 0)
				return gone(t);
			t->at_syscall_exit = false;
			if (k == ST_GROUP) {
				detach(t, 0);
				t->res->err = -EAGAIN;
				SKIP(t->res, "process got stopped (job control); later");
				return -1;
			}
			if (unblock_signals(t) < 0 ||
			    ptrace(PTRACE_CONT, t->tid, 0, (void *)(long)sig) < 0 ||
			    ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) < 0)
				return gone(t);
			if (stop_and_save(t) < 0)
				return -1;
			int b = t->unmasked ? 0 : block_signals(t);
			if (b < 0)
				return gone(t);
			if (b > 0) {
				detach(t, 0);
				t->res->err = -EAGAIN;
				SKIP(t->res, "thread began waiting with a temporary signal mask; later");
				return -1;
			}
			continue;
		}
		if (k == ST_GONE) {
			if (zombie)
				add_pending_reap(t->tid);
			return lost(t);
		}
		if (k != ST_SYSCALL) {
			ptrace(PTRACE_SETREGS, t->tid, 0, &t->saved);
			detach(t, 0);
			t->res->err = -EAGAIN;
			SKIP(t->res, "unexpected ptrace stop before syscall entry");
			return -1;
		}
		/* syscall-enter stop; nothing can come between it and the exit stop
		 * but death. */
		if (ptrace(PTRACE_SYSCALL, t->tid, 0, 0) < 0)
			return gone(t);
		/* Bounded by the operation's deadline: prctl(PR_SET_MEMORY_MERGE,
		 * 0) and MADV_UNMERGEABLE walk every page of the mergeable VMAs,
		 * which takes minutes for terabyte-sized sparse reservations (ASan
		 * shadow, JS engines). PTRACE_INTERRUPT makes signal_pending() true
		 * in the target, and the unmerge loop then gives up with
		 * -ERESTARTSYS. */
		bool timed_out = false;
		k = wait_for(t, &sig, &zombie, false);
		if (k == ST_TIMEOUT) {
			timed_out = true;
			if (ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) < 0)
				return gone(t);
			k = wait_for(t, &sig, &zombie, true);
			if (k == ST_TIMEOUT) {
				park(t, PK_IN_SYSCALL);
				t->res->err = -EAGAIN;
				SKIP(t->res, "the injected syscall did not return (frozen?); later");
				return -1;
			}
		}
		if (k == ST_GONE) {
			if (zombie)
				add_pending_reap(t->tid);
			return lost(t);
		}
		if (k != ST_SYSCALL)
			return gone(t);
		t->at_syscall_exit = true;
		if (ptrace(PTRACE_GETREGS, t->tid, 0, &regs) < 0)
			return gone(t);
		*ret = (long)regs.rax;
		if (timed_out && (*ret == -ERESTARTSYS || *ret == -ERESTARTNOINTR ||
				  *ret == -ERESTARTNOHAND || *ret == -ERESTART_RESTARTBLOCK || *ret == -EINTR))
			*ret = -ETIMEDOUT;
		return 0;
	}
	/* Which bound ended it, said apart: a busy machine runs out of time
	 * (the seize alone may take it), a signal storm out of tries. */
	t->res->err = -EAGAIN;
	if (tries == 0)
		SKIP(t->res, "its %u ms ran out before the syscall could start; later",
		     enroll_ptrace_timeout_ms);
	else if (tries < MAX_SIGNAL_RETRIES)
		SKIP(t->res, "signals kept arriving until its %u ms ran out (%d signal stops); later",
		     enroll_ptrace_timeout_ms, tries);
	else
		SKIP(t->res, "signals kept arriving (%d signal stops); later", tries);
	/* Registers are the saved ones again (set before each PTRACE_CONT). */
	if (!t->at_syscall_exit)
		detach(t, 0);
	return -1;
}

static bool restart_pending(const struct user_regs_struct *r)
{
	long ax = (long)r->rax;
	return (long)r->orig_rax >= 0 &&
	       (ax == -ERESTARTSYS || ax == -ERESTARTNOINTR || ax == -ERESTARTNOHAND ||
		ax == -ERESTART_RESTARTBLOCK);
}

/* Puts the saved registers back and lets the thread go.
 *
 * If the thread had been stopped in the middle of returning from one of its
 * own syscalls that was interrupted (saved orig_rax >= 0 and rax one of
 * -ERESTARTSYS/-ERESTARTNOINTR/-ERESTARTNOHAND/-ERESTART_RESTARTBLOCK), the
 * kernel had not yet decided between restarting it and returning -EINTR: that
 * happens in arch_do_signal_or_restart(), after get_signal() — where our
 * PTRACE_INTERRUPT stop sat. That code ran once already, on the registers we
 * had swapped in, and it does not run again when we resume from our
 * syscall's exit stop (only if a signal is pending then). Left like that the
 * thread would see -512 in rax.
 *
 * The textbook fix is to restart by hand: rax = orig_rax (or
 * __NR_restart_syscall for -ERESTART_RESTARTBLOCK), rip -= 2. That is only
 * right when no signal is delivered: if a signal with a handler arrives at
 * the same moment, the kernel would return -EINTR (ERESTARTNOHAND, or
 * ERESTARTSYS without SA_RESTART) — a hand-made restart would restart
 * instead, and e.g. an alarm()-guarded read() would never time out. So we do
 * not guess: with the saved registers back in place we interrupt the thread
 * once more and resume it. Leaving the syscall-exit stop it goes through
 * exit_to_user_mode_loop() with TIF_SIGPENDING set (the pending trap stop
 * sets it), so get_signal() runs — stopping it again in exactly the state we
 * first found it — and when we detach from that stop, arch_do_signal_or_restart
 * applies the kernel's own restart rules to the original registers, signals
 * included. Costs one more stop, only when a restart is pending. */
static int finish(struct tracee *t)
{
	if (!t->at_syscall_exit) {
		detach(t, 0);
		return 0;
	}
	if (ptrace(PTRACE_SETREGS, t->tid, 0, &t->saved) < 0 || unblock_signals(t) < 0)
		return -ESRCH;
	t->at_syscall_exit = false;
	if (!restart_pending(&t->saved)) {
		/* Signals that arrived meanwhile are still queued and get
		 * delivered on the way out, with the original registers. */
		detach(t, 0);
		return 0;
	}
	if (ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) < 0 ||
	    ptrace(PTRACE_CONT, t->tid, 0, 0) < 0) {
		/* Cannot happen while it is stopped, except when it is dying. */
		detach(t, 0);
		return -ESRCH;
	}
	/* ST_INTERRUPT normally. A signal-delivery-stop is passed on as is.
	 * Bounded like every wait; a thread that froze right now is let go
	 * from the reaper timer (nothing of ours is left in it). */
	settle(t, PK_RESTORED);
	return 0;
}

static bool is_restart(long ret)
{
	return ret == -ERESTARTSYS || ret == -ERESTARTNOINTR || ret == -ERESTARTNOHAND ||
	       ret == -ERESTART_RESTARTBLOCK;
}

static double deadline_or_default(double deadline)
{
	return deadline > 0 ? deadline : enroll_now_ms() + enroll_ptrace_timeout_ms;
}

/* Our syscall was cut short by a signal for the target (e.g. unmerging
 * checks signal_pending()): it must first get that signal, so we let it go
 * (finish() delivers it with the original registers) and start over, for
 * as long as the operation's deadline allows. */
int ptrace_inject_syscall(const struct pidref *r, long nr, const long args[6], long *ret,
			  double deadline, struct enroll_result *res)
{
	deadline = deadline_or_default(deadline);
	while (enroll_now_ms() < deadline) {
		struct tracee t;
		if (begin(&t, r, deadline, res) < 0)
			return -1;
		int rc = run_syscall(&t, nr, args, ret);
		if (rc < 0 && res->err == -ESRCH)
			return -1;
		if (finish(&t) < 0 && rc == 0)
			log_debug("pid %d: exited right after injection", (int)r->pid);
		/* Killed between our syscall and the detach: still traced, and
		 * its parent cannot reap it until we collect it. */
		if (t.attached)
			abandon(&t);
		if (rc < 0 || !is_restart(*ret))
			return rc;
	}
	res->err = -EAGAIN;
	SKIP(res, "syscall kept being interrupted by signals for %u ms; later",
	     enroll_ptrace_timeout_ms);
	return -1;
}

/* How much of range v from pos one madvise covers: all of it, except for
 * MADV_UNMERGEABLE, which walks every page and goes by chunks so that an
 * interruption by the deadline loses little. */
static size_t advise_len(const struct vma_range *v, uintptr_t pos, int advice)
{
	size_t len = v->end - pos;
	return advice == MADV_UNMERGEABLE && len > ENROLL_UNMERGE_CHUNK ? ENROLL_UNMERGE_CHUNK : len;
}

int ptrace_inject_ranges(const struct pidref *r, const struct vma_list *ranges, int advice,
			 double deadline, struct enroll_result *res)
{
	res->mode = ENROLL_RANGES;
	res->bytes = 0;
	res->done_to = 0;
	if (!ranges || !ranges->n)
		return 0;
	deadline = deadline_or_default(deadline);
	size_t skipped = 0, i = 0;
	uintptr_t pos = ranges->v[0].start;
	long first_err = 0;
	int rc = 0;
	bool late = false;
	while (i < ranges->n && rc == 0 && !late) {
		struct tracee t;
		if (enroll_now_ms() >= deadline) {
			late = true;
			break;
		}
		if (begin(&t, r, deadline, res) < 0)
			return -1;
		bool interrupted = false;
		while (i < ranges->n) {
			if (enroll_now_ms() >= deadline) {
				late = true;
				break;
			}
			size_t len = advise_len(&ranges->v[i], pos, advice);
			long a[6] = { (long)pos, (long)len, advice, 0, 0, 0 };
			long ret;
			if (run_syscall(&t, SYS_madvise, a, &ret) < 0) {
				rc = -1;
				break;
			}
			if (ret == -ETIMEDOUT) {
				late = true;            /* this chunk is redone next time */
				break;
			}
			if (is_restart(ret)) {
				interrupted = true;     /* redo it after the signal */
				break;
			}
			if (ret == 0) {
				res->bytes += len;
			} else {
				/* e.g. -ENOMEM: unmapped since discovery. Skip it. */
				if (!first_err)
					first_err = ret;
				skipped++;
				len = ranges->v[i].end - pos;
			}
			pos += len;
			res->done_to = pos;
			if (pos >= ranges->v[i].end && ++i < ranges->n)
				pos = ranges->v[i].start;
		}
		if (rc < 0 && res->err == -ESRCH)
			return -1;
		finish(&t);
		if (t.attached)
			abandon(&t);    /* killed before the detach: collect it */
		if (!interrupted)
			break;
	}
	if (rc == 0 && i < ranges->n) {
		res->err = -EAGAIN;
		SKIP(res, "madvise over the ranges ran over %u ms (%zu MiB done); later",
		     enroll_ptrace_timeout_ms, res->bytes >> 20);
		return -1;
	}
	if (rc == 0 && skipped)
		SKIP(res, "%zu range(s) skipped (%s)", skipped, strerror((int)-first_err));
	return rc;
}

#else /* !__x86_64__ */

int ptrace_inject_syscall(const struct pidref *r, long nr, const long args[6], long *ret,
			  double deadline, struct enroll_result *res)
{
	(void)r, (void)nr, (void)args, (void)ret, (void)deadline;
	res->err = -EOPNOTSUPP;
	SKIP(res, "ptrace backend: x86_64 only");
	return -1;
}

int ptrace_inject_ranges(const struct pidref *r, const struct vma_list *ranges, int advice,
			 double deadline, struct enroll_result *res)
{
	(void)r, (void)ranges, (void)advice, (void)deadline;
	res->err = -EOPNOTSUPP;
	SKIP(res, "ptrace backend: x86_64 only");
	return -1;
}
#endif
