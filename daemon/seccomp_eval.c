/* seccomp_eval.c — evaluates a thread's seccomp filters on a syscall we
 * intend to inject, the way the kernel will when the thread makes it.
 *
 * The checks and semantics follow the kernel (Linux 6.12 sources, behaviour
 * confirmed on 6.18 by tests/unit/test_seccomp_eval.c):
 *  - seccomp_prepare_filter(): 1 to BPF_MAXINSNS instructions.
 *  - bpf_check_classic() (net/core/filter.c): jump targets inside the
 *    program, no DIV/MOD by a constant 0, no shift by a constant >= 32,
 *    scratch index < BPF_MEMWORDS, a RET last, and check_load_and_stores():
 *    no scratch word read unless every path to the read wrote it.
 *  - seccomp_check_filter() (kernel/seccomp.c): only the opcodes listed in
 *    insn_ok(); 32-bit loads at 4-aligned offsets inside seccomp_data. No
 *    BPF_MOD, no 8/16-bit loads.
 *  - bpf_convert_filter(): A and X start at 0; DIV by X == 0 returns 0 from
 *    the program (which is SECCOMP_RET_KILL_THREAD); jump constants compare
 *    as unsigned 32-bit values.
 *  - The converted program runs as eBPF ALU32, whose shifts by a register
 *    take the count modulo 32 (interpreter: "SRC & 31"; x86 JIT: shl/shlx on
 *    32-bit registers), so A << X with X = 33 is A << 1, not 0.
 *  - seccomp_run_filters(): every filter runs, newest first; the result with
 *    the lowest signed action wins, the first of equals is kept. */
#include "seccomp_eval.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <linux/audit.h>

#ifndef SYS_process_madvise
#define SYS_process_madvise 440
#endif

#define DATA_LEN ((uint32_t)sizeof(struct seccomp_data))

/* ---- checking a program as the kernel does at install time ---------------- */

/* Is prog[pc] an instruction seccomp accepts, with operands in range? */
static bool insn_ok(const struct sock_filter *prog, size_t len, size_t pc)
{
	const struct sock_filter *f = &prog[pc];
	size_t after = len - pc - 1;    /* instructions a jump may skip */

	switch (f->code) {
	case BPF_LD | BPF_W | BPF_ABS:
		return f->k < DATA_LEN && (f->k & 3) == 0;
	case BPF_LD | BPF_MEM:
	case BPF_LDX | BPF_MEM:
	case BPF_ST:
	case BPF_STX:
		return f->k < BPF_MEMWORDS;
	case BPF_ALU | BPF_DIV | BPF_K:
		return f->k != 0;
	case BPF_ALU | BPF_LSH | BPF_K:
	case BPF_ALU | BPF_RSH | BPF_K:
		return f->k < 32;
	case BPF_JMP | BPF_JA:
		return f->k < after;
	case BPF_JMP | BPF_JEQ | BPF_K:
	case BPF_JMP | BPF_JEQ | BPF_X:
	case BPF_JMP | BPF_JGE | BPF_K:
	case BPF_JMP | BPF_JGE | BPF_X:
	case BPF_JMP | BPF_JGT | BPF_K:
	case BPF_JMP | BPF_JGT | BPF_X:
	case BPF_JMP | BPF_JSET | BPF_K:
	case BPF_JMP | BPF_JSET | BPF_X:
		return f->jt < after && f->jf < after;
	case BPF_LD | BPF_W | BPF_LEN:
	case BPF_LDX | BPF_W | BPF_LEN:
	case BPF_LD | BPF_IMM:
	case BPF_LDX | BPF_IMM:
	case BPF_ALU | BPF_ADD | BPF_K:
	case BPF_ALU | BPF_ADD | BPF_X:
	case BPF_ALU | BPF_SUB | BPF_K:
	case BPF_ALU | BPF_SUB | BPF_X:
	case BPF_ALU | BPF_MUL | BPF_K:
	case BPF_ALU | BPF_MUL | BPF_X:
	case BPF_ALU | BPF_DIV | BPF_X:
	case BPF_ALU | BPF_AND | BPF_K:
	case BPF_ALU | BPF_AND | BPF_X:
	case BPF_ALU | BPF_OR | BPF_K:
	case BPF_ALU | BPF_OR | BPF_X:
	case BPF_ALU | BPF_XOR | BPF_K:
	case BPF_ALU | BPF_XOR | BPF_X:
	case BPF_ALU | BPF_LSH | BPF_X:
	case BPF_ALU | BPF_RSH | BPF_X:
	case BPF_ALU | BPF_NEG:
	case BPF_MISC | BPF_TAX:
	case BPF_MISC | BPF_TXA:
	case BPF_RET | BPF_K:
	case BPF_RET | BPF_A:
		return true;
	default:
		return false;
	}
}

static bool is_ret(uint16_t code)
{
	return code == (BPF_RET | BPF_K) || code == (BPF_RET | BPF_A);
}

/* The kernel's check_load_and_stores(), step for step, so that we refuse
 * exactly what it refuses: valid = scratch words written on every path seen
 * so far into pc; a jump hands its set to its targets and resets it. */
static bool mem_ok(const struct sock_filter *prog, size_t len)
{
	uint16_t into[BPF_MAXINSNS];
	uint16_t valid = 0;
	size_t pc;

	memset(into, 0xff, len * sizeof(into[0]));
	for (pc = 0; pc < len; pc++) {
		const struct sock_filter *f = &prog[pc];

		valid &= into[pc];
		switch (f->code) {
		case BPF_ST:
		case BPF_STX:
			valid |= (uint16_t)(1u << f->k);
			break;
		case BPF_LD | BPF_MEM:
		case BPF_LDX | BPF_MEM:
			if (!(valid & (1u << f->k)))
				return false;
			break;
		case BPF_JMP | BPF_JA:
			into[pc + 1 + f->k] &= valid;
			valid = 0xffff;
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
		case BPF_JMP | BPF_JEQ | BPF_X:
		case BPF_JMP | BPF_JGE | BPF_K:
		case BPF_JMP | BPF_JGE | BPF_X:
		case BPF_JMP | BPF_JGT | BPF_K:
		case BPF_JMP | BPF_JGT | BPF_X:
		case BPF_JMP | BPF_JSET | BPF_K:
		case BPF_JMP | BPF_JSET | BPF_X:
			into[pc + 1 + f->jt] &= valid;
			into[pc + 1 + f->jf] &= valid;
			valid = 0xffff;
			break;
		}
	}
	return true;
}

static int check_prog(const struct sock_filter *prog, size_t len)
{
	size_t pc;

	if (prog == NULL || len == 0 || len > BPF_MAXINSNS)
		return -EINVAL;
	for (pc = 0; pc < len; pc++)
		if (!insn_ok(prog, len, pc))
			return -EINVAL;
	/* mem_ok() relies on the jump targets checked above. */
	if (!is_ret(prog[len - 1].code) || !mem_ok(prog, len))
		return -EINVAL;
	return 0;
}

/* ---- running a checked program ------------------------------------------- */

/* A 32-bit load from d, in host order as the kernel's BPF_W load. */
static uint32_t load_word(const struct seccomp_data *d, uint32_t off)
{
	uint32_t w;

	memcpy(&w, (const unsigned char *)d + off, sizeof(w));
	return w;
}

/* A = A op v. false for a division by zero, which ends the program. */
static bool alu(uint16_t code, uint32_t *a, uint32_t v)
{
	switch (BPF_OP(code)) {
	case BPF_ADD: *a += v; break;
	case BPF_SUB: *a -= v; break;
	case BPF_MUL: *a *= v; break;
	case BPF_DIV:
		if (v == 0)
			return false;
		*a /= v;
		break;
	case BPF_AND: *a &= v; break;
	case BPF_OR:  *a |= v; break;
	case BPF_XOR: *a ^= v; break;
	case BPF_LSH: *a <<= v & 31; break;    /* eBPF ALU32: count mod 32 */
	case BPF_RSH: *a >>= v & 31; break;
	case BPF_NEG: *a = 0u - *a; break;
	}
	return true;
}

static bool jump_taken(uint16_t code, uint32_t a, uint32_t v)
{
	switch (BPF_OP(code)) {
	case BPF_JEQ: return a == v;
	case BPF_JGT: return a > v;
	case BPF_JGE: return a >= v;
	default:      return (a & v) != 0;      /* BPF_JSET: check_prog() let no other by */
	}
}

static int run(const struct sock_filter *prog, size_t len,
	       const struct seccomp_data *d, uint32_t *ret)
{
	/* mem zeroed only for tidiness: check_prog() refused reads before writes. */
	uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = { 0 };
	size_t pc = 0, steps;

	/* Every instruction moves pc forward, so a checked program reaches its
	 * RET within len steps; the bound holds even if it did not. */
	for (steps = 0; steps < len && pc < len; steps++) {
		const struct sock_filter *f = &prog[pc++];

		switch (f->code) {
		case BPF_LD | BPF_W | BPF_ABS:  a = load_word(d, f->k); break;
		case BPF_LD | BPF_W | BPF_LEN:  a = DATA_LEN; break;
		case BPF_LDX | BPF_W | BPF_LEN: x = DATA_LEN; break;
		case BPF_LD | BPF_IMM:          a = f->k; break;
		case BPF_LDX | BPF_IMM:         x = f->k; break;
		case BPF_LD | BPF_MEM:          a = mem[f->k]; break;
		case BPF_LDX | BPF_MEM:         x = mem[f->k]; break;
		case BPF_ST:                    mem[f->k] = a; break;
		case BPF_STX:                   mem[f->k] = x; break;
		case BPF_MISC | BPF_TAX:        x = a; break;
		case BPF_MISC | BPF_TXA:        a = x; break;
		case BPF_JMP | BPF_JA:          pc += f->k; break;
		case BPF_RET | BPF_K:
			*ret = f->k;
			return 0;
		case BPF_RET | BPF_A:
			*ret = a;
			return 0;
		default:
			if (BPF_CLASS(f->code) == BPF_JMP) {
				uint32_t v = BPF_SRC(f->code) == BPF_X ? x : f->k;

				pc += jump_taken(f->code, a, v) ? f->jt : f->jf;
			} else if (!alu(f->code, &a, BPF_SRC(f->code) == BPF_X ? x : f->k)) {
				*ret = 0;       /* as bpf_convert_filter()'s div guard */
				return 0;
			}
		}
	}
	return -EINVAL;
}

int seccomp_bpf_run(const struct sock_filter *prog, size_t len,
		    const struct seccomp_data *d, uint32_t *ret)
{
	int r = check_prog(prog, len);

	if (r < 0)
		return r;
	return run(prog, len, d, ret);
}

/* ---- results --------------------------------------------------------------- */

static int32_t action_rank(uint32_t ret)
{
	return (int32_t)(ret & SECCOMP_RET_ACTION_FULL);
}

uint32_t seccomp_combine(uint32_t a, uint32_t b)
{
	return action_rank(b) < action_rank(a) ? b : a;
}

const char *seccomp_action_name(uint32_t ret)
{
	switch (ret & SECCOMP_RET_ACTION_FULL) {
	case SECCOMP_RET_KILL_PROCESS: return "KILL_PROCESS";
	case SECCOMP_RET_KILL_THREAD:  return "KILL_THREAD";
	case SECCOMP_RET_TRAP:         return "TRAP";
	case SECCOMP_RET_ERRNO:        return "ERRNO";
	case SECCOMP_RET_USER_NOTIF:   return "USER_NOTIF";
	case SECCOMP_RET_TRACE:        return "TRACE";
	case SECCOMP_RET_LOG:          return "LOG";
	case SECCOMP_RET_ALLOW:        return "ALLOW";
	default:                       return "UNKNOWN";
	}
}

bool seccomp_allows(uint32_t ret)
{
	uint32_t action = ret & SECCOMP_RET_ACTION_FULL;

	return action == SECCOMP_RET_ALLOW || action == SECCOMP_RET_LOG;
}

/* ---- a live thread ---------------------------------------------------------- */

/* The thread's seccomp mode, the "Seccomp:" line of /proc/TID/status.
 * Kernels built without CONFIG_SECCOMP print no such line. */
static int thread_mode(pid_t tid)
{
	char path[40], *line = NULL, *end;
	size_t cap = 0;
	int mode = SECCOMP_MODE_DISABLED;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	f = fopen(path, "re");
	if (f == NULL)
		return errno == ENOENT ? -ESRCH : -errno;       /* ENOENT: gone */
	while (getline(&line, &cap, f) > 0) {
		if (strncmp(line, "Seccomp:", 8) == 0) {
			long v = strtol(line + 8, &end, 10);

			mode = end == line + 8 ? -EINVAL : (int)v;
			break;
		}
	}
	free(line);
	fclose(f);
	return mode;
}

/* Strict mode (SECCOMP_MODE_STRICT) allows these and kills the thread with
 * SIGKILL on anything else. */
static uint32_t strict_result(int nr)
{
	switch (nr) {
	case SYS_read:
	case SYS_write:
	case SYS_exit:
	case SYS_rt_sigreturn:
		return SECCOMP_RET_ALLOW;
	default:
		return SECCOMP_RET_KILL_THREAD;
	}
}

/* Filter idx of the stopped thread tid, 0 the oldest, into *prog (to free).
 * 0, -ENOENT past the newest, or -errno. */
static int get_filter(pid_t tid, unsigned long idx, struct sock_filter **prog, size_t *len)
{
	struct sock_filter *p;
	long n, got;

	/* A NULL buffer asks for the length only. */
	n = ptrace(PTRACE_SECCOMP_GET_FILTER, tid, (void *)idx, NULL);
	if (n < 0)
		return -errno;
	if (n == 0 || n > BPF_MAXINSNS)
		return -EINVAL;
	/* Zeroed: valgrind does not know this request fills the buffer. */
	p = calloc((size_t)n, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	/* Filters never change once attached: the same length comes back. */
	got = ptrace(PTRACE_SECCOMP_GET_FILTER, tid, (void *)idx, p);
	if (got != n) {
		int err = got < 0 ? -errno : -EINVAL;

		free(p);
		return err;
	}
	*prog = p;
	*len = (size_t)n;
	return 0;
}

/* Runs every filter of tid on d, oldest first; *res = their combined result. */
static int run_filters(pid_t tid, const struct seccomp_data *d, uint32_t *res)
{
	uint32_t acc = SECCOMP_RET_ALLOW;
	unsigned long idx;

	for (idx = 0;; idx++) {
		struct sock_filter *prog = NULL;
		size_t len = 0;
		uint32_t ret;
		int r;

		r = get_filter(tid, idx, &prog, &len);
		if (r == -ENOENT && idx > 0)
			break;
		if (r < 0)
			return r;
		r = seccomp_bpf_run(prog, len, d, &ret);
		free(prog);
		if (r < 0)
			return r;
		/* This filter is newer than all of acc's: it goes first. */
		acc = seccomp_combine(ret, acc);
	}
	*res = acc;
	return 0;
}

static const char *syscall_name(int nr, char *buf, size_t len)
{
	switch (nr) {
	case SYS_prctl:           return "prctl";
	case SYS_madvise:         return "madvise";
	case SYS_process_madvise: return "process_madvise";
	default:
		snprintf(buf, len, "syscall %d", nr);
		return buf;
	}
}

static void explain(char *why, size_t whylen, int nr, uint32_t action, int mode)
{
	char nbuf[24];
	const char *name = syscall_name(nr, nbuf, sizeof(nbuf));
	const char *strict = mode == SECCOMP_MODE_STRICT ? " (strict mode)" : "";

	if ((action & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ERRNO)
		snprintf(why, whylen, "seccomp: %s -> ERRNO(%u)", name,
			 (unsigned)(action & SECCOMP_RET_DATA));
	else
		snprintf(why, whylen, "seccomp: %s -> %s%s", name,
			 seccomp_action_name(action), strict);
}

int seccomp_check_thread(pid_t tid, int nr, const uint64_t args[6], uint64_t ip,
			 uint32_t *action, char *why, size_t whylen)
{
	struct seccomp_data d = {
		.nr = nr, .arch = AUDIT_ARCH_X86_64, .instruction_pointer = ip,
	};
	uint32_t res = SECCOMP_RET_ALLOW;
	int mode, r = 0;

	memcpy(d.args, args, sizeof(d.args));
	mode = thread_mode(tid);
	if (mode == SECCOMP_MODE_STRICT)
		res = strict_result(nr);
	else if (mode == SECCOMP_MODE_FILTER)
		r = run_filters(tid, &d, &res);
	else if (mode != SECCOMP_MODE_DISABLED)
		r = mode < 0 ? mode : -EINVAL;  /* unreadable, or the thread is dying */

	if (r < 0) {
		if (why != NULL)
			snprintf(why, whylen, "seccomp: cannot check the filters: %s%s",
				 strerror(-r), r == -EACCES ?
				 " (needs CAP_SYS_ADMIN and no seccomp of our own)" : "");
		return r;
	}
	*action = res;
	if (why != NULL)
		explain(why, whylen, nr, res, mode);
	return 0;
}
