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

int ptrace_check_target(const struct pidref *r, struct enroll_result *res)
{
	char path[64], buf[4096];
	res->err = 0;
	res->reason[0] = '\0';
#if !defined(__x86_64__)
	(void)r;
	(void)path;
	(void)buf;
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
	int rc = -1;
	uid_t owner = 0;
	long tracer = 0, seccomp = 0;
	ssize_t n = read_at(dirfd, "status", buf, sizeof(buf), &owner);
	if (n <= 0) {
		res->err = n == 0 || n == -ENOENT || n == -ESRCH ? -ESRCH : (int)n;
		SKIP(res, "cannot read /proc/%d/status", (int)r->pid);
		goto out;
	}
	if (status_field(buf, "TracerPid", &tracer) == 0 && tracer != 0) {
		res->err = -EBUSY;
		SKIP(res, "already traced by pid %ld", tracer);
		goto out;
	}
	if (status_field(buf, "Seccomp", &seccomp) == 0 && seccomp == 1) {
		/* Strict mode kills any syscall but read/write/exit/sigreturn.
		 * Filters (mode 2) are judged per injected call: run_syscall(). */
		res->err = -EPERM;
		SKIP(res, "under seccomp strict mode");
		goto out;
	}
	/* Uid: real effective saved fs */
	unsigned long ruid = 0, euid = 0;
	const char *u = strstr(buf, "\nUid:");
	if (!u || sscanf(u + 5, "%lu %lu", &ruid, &euid) != 2) {
		res->err = -ESRCH;
		SKIP(res, "no Uid in /proc/%d/status", (int)r->pid);
		goto out;
	}
	/* The kernel shows a non-dumpable process (setuid, setcap, or
	 * PR_SET_DUMPABLE 0) by making root own its /proc/PID files (not the
	 * directory itself, which keeps the effective uid: see
	 * task_dump_owner()). A process running as root is owned by root
	 * anyway; root may trace it. */
	if (owner == 0 && (ruid != 0 || euid != 0)) {
		res->err = -EPERM;
		SKIP(res, "not dumpable (setuid/setcap or PR_SET_DUMPABLE 0)");
		goto out;
	}
	const char *state = strstr(buf, "State:");
	if (state) {
		state += 6;
		while (*state == ' ' || *state == '\t')
			state++;
		/* A zombie leader with live threads is still a live process. */
		if ((*state == 'Z' || *state == 'X') && !pidref_alive(r)) {
			res->err = -ESRCH;
			SKIP(res, "process exiting");
			goto out;
		}
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
	pid_t tid;
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
	struct enroll_result *res;
};

enum stop_kind { ST_GONE, ST_INTERRUPT, ST_GROUP, ST_SIGNAL, ST_SYSCALL, ST_OTHER, ST_TIMEOUT };

unsigned enroll_ptrace_timeout_ms = 5000;

/* TIDs of leaders that became zombies while seized: their exit is reported
 * to us only once the whole thread group is gone, and until we collect it
 * the real parent cannot reap them. Collected on later calls. */
static pid_t pending_reap[32];

static size_t reap_pending(void)
{
	size_t left = 0;

	for (size_t i = 0; i < sizeof(pending_reap) / sizeof(pending_reap[0]); i++) {
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

/* The daemon calls this on a short timer while anything is pending: with no
 * further enrollment to piggy-back on, the real parent's wait() would block
 * until we collect the exit. */
size_t ptrace_reap_pending(void)
{
	return reap_pending();
}

static void add_pending_reap(pid_t tid)
{
	for (size_t i = 0; i < sizeof(pending_reap) / sizeof(pending_reap[0]); i++)
		if (!pending_reap[i]) {
			pending_reap[i] = tid;
			return;
		}
	log_warn("ptrace: too many exited leaders to collect; tid %d stays traced", (int)tid);
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

/* Waits for the next stop of tid. *sig: the signal of a signal-delivery-stop
 * (or of a group stop). Blocking: use where a stop is due promptly (the
 * thread is running our syscall or is already in the kernel's exit path). */
static enum stop_kind wait_stop(pid_t tid, int *sig)
{
	int st;
	for (;;) {
		pid_t w = waitpid(tid, &st, __WALL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			*sig = 0;
			return ST_GONE;     /* ECHILD: reaped or never ours */
		}
		if (WIFSTOPPED(st) || WIFEXITED(st) || WIFSIGNALED(st))
			return decode(st, sig);
	}
}

/* Like wait_stop, for the first stop after PTRACE_INTERRUPT, when the thread
 * may be running user code: if it is the leader and calls pthread_exit()
 * meanwhile, its exit would only be reported when the whole process ends, so
 * a blocking wait could hang the daemon. Polls and notices that instead. */
static double mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Polling wait. timeout_ms 0 = none; ST_TIMEOUT when it passes. */
static enum stop_kind wait_poll(pid_t pid, pid_t tid, int *sig, bool *zombie, unsigned timeout_ms)
{
	int st;
	double deadline = timeout_ms ? mono_ms() + timeout_ms : 0;
	*zombie = false;
	*sig = 0;
	for (unsigned i = 0;; i++) {
		pid_t w = waitpid(tid, &st, __WALL | WNOHANG);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return ST_GONE;
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
			if (deadline && mono_ms() > deadline)
				return ST_TIMEOUT;
		}
		struct timespec ts = { 0, i < 200 ? 50000 : 1000000 };
		nanosleep(&ts, NULL);
	}
}

/* Like wait_stop, for the first stop after PTRACE_INTERRUPT, when the thread
 * may be running user code: if it is the leader and calls pthread_exit()
 * meanwhile, its exit would only be reported when the whole process ends, so
 * a blocking wait could hang the daemon. Polls and notices that instead. */
static enum stop_kind wait_interrupt(pid_t pid, pid_t tid, int *sig, bool *zombie)
{
	return wait_poll(pid, tid, sig, zombie, 0);
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
	int sig;
	bool zombie;
	enum stop_kind k = wait_interrupt(t->r->pid, t->tid, &sig, &zombie);
	if (zombie)
		add_pending_reap(t->tid);
	else if (k != ST_GONE)
		detach(t, k == ST_SIGNAL ? sig : 0);
	t->attached = false;
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

/* Picks the thread to seize: the group leader unless it has exited (then
 * another thread). Skips threads that would not stop promptly. */
static int pick_thread(struct tracee *t)
{
	char path[96], buf[512];
	pid_t pid = t->r->pid;
	pid_t found = 0;
	char fstate = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return gone(t);
	/* leader first */
	for (int pass = 0; pass < 2 && !found; pass++) {
		struct dirent *de;
		rewinddir(d);
		while ((de = readdir(d))) {
			if (!isdigit((unsigned char)de->d_name[0]))
				continue;
			pid_t tid = (pid_t)atoi(de->d_name);
			if ((pass == 0) != (tid == pid))
				continue;
			bool tried = false;
			for (unsigned i = 0; i < t->ntried; i++)
				tried |= t->tried[i] == tid;
			if (tried)
				continue;
			snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			ssize_t n = read(fd, buf, sizeof(buf) - 1);
			close(fd);
			if (n <= 0)
				continue;
			buf[n] = '\0';
			const char *p = strrchr(buf, ')');
			if (!p || !p[1] || !p[2])
				continue;
			char state = p[2];
			if (state == 'Z' || state == 'X')
				continue;
			found = tid;
			fstate = state;
			break;
		}
	}
	closedir(d);
	if (!found && t->ntried) {
		/* Every live thread waits with a temporary mask (a single-threaded
		 * program idling in sigsuspend(), say): use the leader unmasked. */
		t->ntried = 0;
		t->unmasked = true;
		return pick_thread(t);
	}
	if (!found)
		return gone(t);
	if (fstate == 'D') {
		t->res->err = -EAGAIN;
		SKIP(t->res, "thread %d in uninterruptible sleep; later", (int)found);
		return -1;
	}
	if (fstate == 'T' || fstate == 't') {
		t->res->err = -EAGAIN;
		SKIP(t->res, "process is stopped; later");
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
 * there, executable in every process, never written by us. */
static int find_syscall_insn(struct tracee *t)
{
	char path[96], line[512];
	/* via the seized thread: a zombie leader's own maps are empty */
	snprintf(path, sizeof(path), "/proc/%d/task/%d/maps", (int)t->r->pid, (int)t->tid);
	FILE *f = fopen(path, "re");
	if (!f)
		return gone(t);
	unsigned long lo = 0, hi = 0;
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "[vdso]") && sscanf(line, "%lx-%lx", &lo, &hi) == 2)
			break;
		lo = hi = 0;
	}
	fclose(f);
	if (!lo || hi <= lo || hi - lo > (1UL << 20)) {
		t->res->err = -ENOENT;
		SKIP(t->res, "no [vdso] mapping in the target");
		return -1;
	}
	size_t len = hi - lo;
	unsigned char *code = malloc(len);
	if (!code) {
		t->res->err = -ENOMEM;
		return -1;
	}
	int rc = read_mem(t->tid, lo, code, len);
	const unsigned char *p = rc == 0 ? memmem(code, len, "\x0f\x05", 2) : NULL;
	if (p)
		t->insn = lo + (uintptr_t)(p - code);
	free(code);
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
		enum stop_kind k = wait_interrupt(t->r->pid, t->tid, &sig, &zombie);
		switch (k) {
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
	/* A signal storm: give up for now, leave it running. */
	detach(t, 0);
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
static int begin(struct tracee *t, const struct pidref *r, struct enroll_result *res)
{
	memset(t, 0, sizeof(*t));
	t->r = r;
	t->res = res;
	reap_pending();
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
	for (int tries = 0; tries < MAX_SIGNAL_RETRIES; tries++) {
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
		enum stop_kind k = wait_stop(t->tid, &sig);
		/* A PTRACE_INTERRUPT that a signal-delivery-stop satisfied leaves a
		 * JOBCTL_TRAP_NOTIFY behind: one more PTRACE_EVENT_STOP, still in
		 * the kernel before returning to user space. Just go on. */
		for (int extra = 0; k == ST_INTERRUPT && extra < 4; extra++) {
			if (ptrace(PTRACE_SYSCALL, t->tid, 0, 0) < 0)
				return gone(t);
			k = wait_stop(t->tid, &sig);
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
		if (k == ST_GONE)
			return lost(t);
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
		/* Bounded: prctl(PR_SET_MEMORY_MERGE, 0) and MADV_UNMERGEABLE walk
		 * every page of the mergeable VMAs, which takes minutes for
		 * terabyte-sized sparse reservations (ASan shadow, JS engines).
		 * PTRACE_INTERRUPT makes signal_pending() true in the target, and
		 * the unmerge loop then gives up with -ERESTARTSYS. */
		bool zombie, timed_out = false;
		k = wait_poll(t->r->pid, t->tid, &sig, &zombie, enroll_ptrace_timeout_ms);
		if (k == ST_TIMEOUT) {
			timed_out = true;
			if (ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) < 0)
				return gone(t);
			k = wait_stop(t->tid, &sig);
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
	t->res->err = -EAGAIN;
	SKIP(t->res, "signals kept arriving; later");
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
	int sig;
	enum stop_kind k = wait_stop(t->tid, &sig);
	if (k == ST_GONE) {
		t->attached = false;
		return -ESRCH;
	}
	/* ST_INTERRUPT normally. A signal-delivery-stop is passed on as is. */
	detach(t, k == ST_SIGNAL ? sig : 0);
	return 0;
}

static bool is_restart(long ret)
{
	return ret == -ERESTARTSYS || ret == -ERESTARTNOINTR || ret == -ERESTARTNOHAND ||
	       ret == -ERESTART_RESTARTBLOCK;
}

/* Our syscall was cut short by a signal for the target (e.g. unmerging
 * checks signal_pending()): it must first get that signal, so we let it go
 * (finish() delivers it with the original registers) and start over. */
#define MAX_RESTARTS 32

int ptrace_inject_syscall(const struct pidref *r, long nr, const long args[6], long *ret,
			  struct enroll_result *res)
{
	for (int attempt = 0; attempt < MAX_RESTARTS; attempt++) {
		struct tracee t;
		if (begin(&t, r, res) < 0)
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
	SKIP(res, "syscall kept being interrupted by signals; later");
	return -1;
}

int ptrace_inject_ranges(const struct pidref *r, const struct vma_list *ranges, int advice,
			 struct enroll_result *res)
{
	res->mode = ENROLL_RANGES;
	res->bytes = 0;
	if (!ranges || !ranges->n)
		return 0;
	size_t skipped = 0, i = 0;
	long first_err = 0;
	int rc = 0;
	for (int attempt = 0; attempt < MAX_RESTARTS && i < ranges->n && rc == 0; attempt++) {
		struct tracee t;
		if (begin(&t, r, res) < 0)
			return -1;
		bool interrupted = false;
		for (; i < ranges->n; i++) {
			long a[6] = { (long)ranges->v[i].start,
				      (long)(ranges->v[i].end - ranges->v[i].start), advice, 0, 0, 0 };
			long ret;
			if (run_syscall(&t, SYS_madvise, a, &ret) < 0) {
				rc = -1;
				break;
			}
			if (is_restart(ret)) {
				interrupted = true;     /* redo range i after the signal */
				break;
			}
			if (ret == 0) {
				res->bytes += (size_t)a[1];
			} else {
				/* e.g. -ENOMEM: unmapped since discovery. Skip it. */
				if (!first_err)
					first_err = ret;
				skipped++;
			}
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
		SKIP(res, "madvise kept being interrupted by signals; later");
		return -1;
	}
	if (rc == 0 && skipped)
		SKIP(res, "%zu range(s) skipped (%s)", skipped, strerror((int)-first_err));
	return rc;
}

#else /* !__x86_64__ */

int ptrace_inject_syscall(const struct pidref *r, long nr, const long args[6], long *ret,
			  struct enroll_result *res)
{
	(void)r, (void)nr, (void)args, (void)ret;
	res->err = -EOPNOTSUPP;
	SKIP(res, "ptrace backend: x86_64 only");
	return -1;
}

int ptrace_inject_ranges(const struct pidref *r, const struct vma_list *ranges, int advice,
			 struct enroll_result *res)
{
	(void)r, (void)ranges, (void)advice;
	res->err = -EOPNOTSUPP;
	SKIP(res, "ptrace backend: x86_64 only");
	return -1;
}
#endif
