/* seccomp_eval.h — would a seccomp-filtered thread be allowed the syscall we
 * are about to inject into it?
 *
 * Sandboxed processes (browser renderers, ...) run under seccomp filters that
 * kill or fail syscalls they do not expect. Before the ptrace backend makes a
 * stopped thread call prctl(PR_SET_MEMORY_MERGE) or madvise(MADV_MERGEABLE),
 * it evaluates that thread's filters on exactly that call, here, with a
 * classic-BPF interpreter that behaves as the kernel's seccomp does, and
 * injects only when every filter allows it. x86_64 (native syscalls) only. */
#ifndef KSMPLUS_SECCOMP_EVAL_H
#define KSMPLUS_SECCOMP_EVAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

/* Runs one classic-BPF seccomp program on d, as the kernel would. 0 and
 * *ret = the program's return value, or -EINVAL if the program is malformed
 * or does something the kernel's seccomp checker would refuse (bad load
 * offset, jump out of range, division by a constant zero, no RET at the
 * end, a scratch word read before every path has written it, an opcode
 * seccomp does not take -- BPF_MOD among them...). A division by X == 0 at
 * run time returns 0 from the program, as the kernel's BPF does.
 * Shifts by X use the count modulo 32 (A << 33 == A << 1), as the kernel's
 * BPF interpreter and x86 JIT do; shifts by a constant >= 32 are refused.
 * Loads read seccomp_data in host byte order (args[i] low half at 16 + 8i on
 * x86_64), as the kernel's loads do. */
int seccomp_bpf_run(const struct sock_filter *prog, size_t len,
		    const struct seccomp_data *d, uint32_t *ret);

/* The more restrictive of two filter results, as the kernel combines them:
 * the one with the lowest (int32_t)(ret & SECCOMP_RET_ACTION_FULL), data
 * included. On equal actions a is kept: pass the newer filter's result as a,
 * because the kernel runs the newest filter first and keeps the first of
 * equals (which ERRNO value the caller sees depends on it). */
uint32_t seccomp_combine(uint32_t a, uint32_t b);

/* "ALLOW", "LOG", "ERRNO", "TRACE", "USER_NOTIF", "TRAP", "KILL_THREAD",
 * "KILL_PROCESS" for the action of ret; "UNKNOWN" for any other action,
 * which the kernel treats as KILL_PROCESS. */
const char *seccomp_action_name(uint32_t ret);

/* Is injecting safe under this combined result? Only ALLOW and LOG are:
 * TRACE fails with ENOSYS unless the tracer asked for seccomp stops, and
 * USER_NOTIF would park the thread on the sandbox's supervisor. */
bool seccomp_allows(uint32_t ret);

/* For a thread that the caller has ptrace-stopped (PTRACE_SEIZE +
 * PTRACE_INTERRUPT), evaluates syscall nr with args as the thread would run
 * it: seccomp_data {nr, AUDIT_ARCH_X86_64, ip, args}. ip is what the kernel
 * reports, the address just after the syscall instruction (its rip + 2).
 *
 * The thread's mode comes from /proc/TID/status: no seccomp gives ALLOW
 * without ptrace (so no privilege is needed); strict mode gives ALLOW for
 * read, write, exit and rt_sigreturn and KILL_THREAD otherwise; filter mode
 * fetches the filters with PTRACE_SECCOMP_GET_FILTER (index 0, the oldest,
 * 1, ... until ENOENT) and runs each. *action = the combined result.
 *
 * why (may be NULL) gets a short text for logs and status, e.g.
 * "seccomp: prctl -> KILL_PROCESS" or "seccomp: madvise -> ERRNO(1)", or
 * on failure why the filters could not be judged.
 *
 * Returns 0, or -errno when the filters cannot be read, and then the target
 * must be treated as NOT safe: -EACCES when the caller lacks CAP_SYS_ADMIN
 * or is itself under seccomp (systemd's SystemCallFilter= does that), -ESRCH
 * when the thread is not ptrace-stopped by the caller, -EMEDIUMTYPE for a
 * filter not expressible as classic BPF, -EINVAL for a malformed one or on a
 * kernel built without CONFIG_CHECKPOINT_RESTORE (no filter can be read).
 *
 * Filters are only ever added, never removed; but a sibling thread can add
 * one (SECCOMP_FILTER_FLAG_TSYNC) after this check unless it is stopped too. */
int seccomp_check_thread(pid_t tid, int nr, const uint64_t args[6], uint64_t ip,
			 uint32_t *action, char *why, size_t whylen);
#endif
