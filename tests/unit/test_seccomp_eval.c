/* test_seccomp_eval.c — the seccomp evaluator: hand-built programs, the
 * kernel's install-time checks, the kernel itself as the oracle on the same
 * programs and arguments, and live filters read back through ptrace.
 *
 * The live tests (ptrace) need root and skip loudly otherwise, or when
 * KSMPLUS_NO_LIVE is set. They run under valgrind too, but for the
 * strict-mode one, which skips itself there: valgrind's own syscalls get a
 * strict-mode child killed at once. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <cmocka.h>

#include "seccomp_eval.h"

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67     /* Linux 6.4; Debian 12 headers predate it */
#endif

#define N(a)      (sizeof(a) / sizeof((a)[0]))
#define OFF_NR    offsetof(struct seccomp_data, nr)
#define OFF_ARCH  offsetof(struct seccomp_data, arch)
#define OFF_IP    offsetof(struct seccomp_data, instruction_pointer)
#define LO(i)     (offsetof(struct seccomp_data, args) + 8 * (i))
#define HI(i)     (LO(i) + 4)
#define LD(off)   BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define RET(v)    BPF_STMT(BPF_RET | BPF_K, (v))
#define RET_A     BPF_STMT(BPF_RET | BPF_A, 0)
#define TAX       BPF_STMT(BPF_MISC | BPF_TAX, 0)
#define TXA       BPF_STMT(BPF_MISC | BPF_TXA, 0)
#define JEQ(k, t, f) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), (t), (f))
#define ERRNO(e)  (SECCOMP_RET_ERRNO | (e))
#define ALLOW     SECCOMP_RET_ALLOW
#define IP        0x00007f0000001234ull

/* Filter 1 of the live test: x86_64 only, and prctl(PR_SET_MEMORY_MERGE)
 * kills the process. */
static const struct sock_filter kill_merge[] = {
	LD(OFF_ARCH),
	JEQ(AUDIT_ARCH_X86_64, 1, 0),
	RET(SECCOMP_RET_KILL_PROCESS),
	LD(OFF_NR),
	JEQ(SYS_prctl, 0, 2),
	LD(LO(0)),
	JEQ(PR_SET_MEMORY_MERGE, 1, 0),
	RET(ALLOW),
	RET(SECCOMP_RET_KILL_PROCESS),
};

/* Filter 2: madvise(..., MADV_MERGEABLE) fails with EPERM, both halves of
 * the 64-bit argument compared. */
static const struct sock_filter errno_mergeable[] = {
	LD(OFF_NR),
	JEQ(SYS_madvise, 0, 4),
	LD(LO(2)),
	JEQ(MADV_MERGEABLE, 0, 2),
	LD(HI(2)),
	JEQ(0, 1, 0),
	RET(ALLOW),
	RET(ERRNO(EPERM)),
};

static struct seccomp_data sd(int nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
	struct seccomp_data d = {
		.nr = nr, .arch = AUDIT_ARCH_X86_64, .instruction_pointer = IP,
		.args = { a0, a1, a2 },
	};

	return d;
}

static uint32_t run_ok(const struct sock_filter *p, size_t n, struct seccomp_data d)
{
	uint32_t r = 0xdeadbeef;

	assert_int_equal(seccomp_bpf_run(p, n, &d, &r), 0);
	return r;
}
#define RUN(p, d) run_ok((p), N(p), (d))

/* ---- hand-built programs ---------------------------------------------------- */

static void test_allow_all(void **state)
{
	const struct sock_filter p[] = { RET(ALLOW) };

	(void)state;
	assert_int_equal(RUN(p, sd(SYS_prctl, PR_SET_MEMORY_MERGE, 1, 0)), ALLOW);
	assert_int_equal(RUN(p, sd(SYS_madvise, 0x1000, 4096, MADV_MERGEABLE)), ALLOW);
	assert_int_equal(RUN(p, sd(-1, 0, 0, 0)), ALLOW);
}

static void test_kill_prctl(void **state)
{
	(void)state;
	assert_int_equal(RUN(kill_merge, sd(SYS_prctl, PR_SET_MEMORY_MERGE, 1, 0)),
			 SECCOMP_RET_KILL_PROCESS);
	assert_int_equal(RUN(kill_merge, sd(SYS_prctl, PR_SET_MEMORY_MERGE, 0, 0)),
			 SECCOMP_RET_KILL_PROCESS);
	assert_int_equal(RUN(kill_merge, sd(SYS_prctl, PR_SET_NAME, 0, 0)), ALLOW);
	/* Only the low half is compared, as written: 67 + 2^32 matches too. */
	assert_int_equal(RUN(kill_merge, sd(SYS_prctl, PR_SET_MEMORY_MERGE | 1ull << 32, 1, 0)),
			 SECCOMP_RET_KILL_PROCESS);
	assert_int_equal(RUN(kill_merge, sd(SYS_madvise, PR_SET_MEMORY_MERGE, 0, 0)), ALLOW);
}

static void test_errno_madvise_mergeable(void **state)
{
	(void)state;
	assert_int_equal(RUN(errno_mergeable, sd(SYS_madvise, 0x7f0000000000, 1 << 20, MADV_MERGEABLE)),
			 ERRNO(EPERM));
	assert_int_equal(RUN(errno_mergeable, sd(SYS_madvise, 0, 0, MADV_UNMERGEABLE)), ALLOW);
	assert_int_equal(RUN(errno_mergeable, sd(SYS_madvise, 0, 0, MADV_DONTNEED)), ALLOW);
	assert_int_equal(RUN(errno_mergeable, sd(SYS_madvise, 0, 0, MADV_MERGEABLE | 1ull << 32)), ALLOW);
	assert_int_equal(RUN(errno_mergeable, sd(SYS_prctl, 0, 0, MADV_MERGEABLE)), ALLOW);
}

static void test_arch(void **state)
{
	struct seccomp_data d = sd(SYS_getpid, 0, 0, 0);

	(void)state;
	assert_int_equal(RUN(kill_merge, d), ALLOW);
	d.arch = AUDIT_ARCH_I386;
	assert_int_equal(RUN(kill_merge, d), SECCOMP_RET_KILL_PROCESS);
	d.arch = AUDIT_ARCH_AARCH64;
	assert_int_equal(RUN(kill_merge, d), SECCOMP_RET_KILL_PROCESS);
}

struct alu_case {
	uint16_t op;
	uint32_t a, v, want;
};

/* Each case as A op K (where the kernel takes that K) and as A op X. */
static void test_alu(void **state)
{
	static const struct alu_case cases[] = {
		{ BPF_ADD, 0xffffffff, 2, 1 },
		{ BPF_ADD, 5, 7, 12 },
		{ BPF_SUB, 1, 2, 0xffffffff },
		{ BPF_MUL, 0x10000, 0x10000, 0 },
		{ BPF_MUL, 0xffffffff, 2, 0xfffffffe },
		{ BPF_DIV, 100, 7, 14 },
		{ BPF_DIV, 0xffffffff, 2, 0x7fffffff },         /* unsigned */
		{ BPF_AND, 0xf0f0, 0xff00, 0xf000 },
		{ BPF_OR, 0xf0f0, 0xff00, 0xfff0 },
		{ BPF_XOR, 0xf0f0, 0xff00, 0x0ff0 },
		{ BPF_LSH, 1, 31, 0x80000000 },
		{ BPF_LSH, 3, 4, 48 },
		{ BPF_RSH, 0x80000000, 31, 1 },                  /* logical */
		{ BPF_LSH, 1, 32, 1 },          /* X only: count mod 32 */
		{ BPF_LSH, 1, 33, 2 },
		{ BPF_LSH, 5, 0xffffffff, 0x80000000 },
		{ BPF_RSH, 0x80000000, 32, 0x80000000 },
		{ BPF_RSH, 0x80000000, 63, 1 },
		{ BPF_NEG, 1, 0, 0xffffffff },
		{ BPF_NEG, 0, 0, 0 },
		{ BPF_NEG, 0x80000000, 0, 0x80000000 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < N(cases); i++) {
		const struct alu_case *c = &cases[i];
		struct sock_filter pk[] = {
			LD(LO(0)), BPF_STMT(BPF_ALU | c->op | BPF_K, c->v), RET_A,
		};
		struct sock_filter px[] = {
			LD(LO(1)), TAX, LD(LO(0)), BPF_STMT(BPF_ALU | c->op | BPF_X, 0), RET_A,
		};
		struct seccomp_data d = sd(0, 0xabcd00000000ull | c->a, c->v, 0);
		uint32_t r;

		if (c->op != BPF_NEG) {
			assert_int_equal(seccomp_bpf_run(px, N(px), &d, &r), 0);
			if (r != c->want)
				fail_msg("case %zu: %#x op(%#x) X=%#x gave %#x, want %#x",
					 i, (unsigned)c->a, (unsigned)c->op, (unsigned)c->v,
					 (unsigned)r, (unsigned)c->want);
		}
		if ((c->op == BPF_LSH || c->op == BPF_RSH) && c->v >= 32)
			continue;       /* the kernel refuses these constants */
		assert_int_equal(seccomp_bpf_run(pk, N(pk), &d, &r), 0);
		if (r != c->want)
			fail_msg("case %zu: %#x op(%#x) K=%#x gave %#x, want %#x",
				 i, (unsigned)c->a, (unsigned)c->op, (unsigned)c->v,
				 (unsigned)r, (unsigned)c->want);
	}
}

/* DIV by X == 0 ends the program with 0 (KILL_THREAD), whatever follows. */
static void test_div_by_x_zero(void **state)
{
	const struct sock_filter p[] = {
		LD(LO(0)), TAX, BPF_STMT(BPF_LD | BPF_IMM, 100),
		BPF_STMT(BPF_ALU | BPF_DIV | BPF_X, 0), RET(ALLOW),
	};
	const struct sock_filter q[] = {
		LD(LO(0)), TAX, BPF_STMT(BPF_LD | BPF_IMM, 100),
		BPF_STMT(BPF_ALU | BPF_DIV | BPF_X, 0), RET_A,
	};

	(void)state;
	assert_int_equal(RUN(p, sd(0, 0, 0, 0)), SECCOMP_RET_KILL_THREAD);
	assert_int_equal(RUN(p, sd(0, 1ull << 32, 0, 0)), SECCOMP_RET_KILL_THREAD);
	assert_int_equal(RUN(p, sd(0, 7, 0, 0)), ALLOW);
	assert_int_equal(RUN(q, sd(0, 7, 0, 0)), 14);
}

struct jmp_case {
	uint16_t op;
	uint32_t a, v;
	bool taken;
};

static void test_jumps(void **state)
{
	static const struct jmp_case cases[] = {
		{ BPF_JEQ, 5, 5, true },
		{ BPF_JEQ, 5, 6, false },
		{ BPF_JEQ, 0xffffffff, 0xffffffff, true },  /* K not sign-extended */
		{ BPF_JGT, 0x80000000, 1, true },           /* unsigned */
		{ BPF_JGT, 1, 0x80000000, false },
		{ BPF_JGT, 5, 5, false },
		{ BPF_JGE, 5, 5, true },
		{ BPF_JGE, 0xfffffffe, 0xffffffff, false },
		{ BPF_JGE, 0xffffffff, 0xfffffffe, true },
		{ BPF_JSET, 6, 2, true },
		{ BPF_JSET, 6, 1, false },
		{ BPF_JSET, 0x80000000, 0x80000000, true },
	};
	const struct sock_filter ja[] = { BPF_JUMP(BPF_JMP | BPF_JA, 1, 0, 0), RET(1), RET(2) };
	const struct sock_filter far[] = { LD(OFF_NR), JEQ(0, 2, 0), RET(3), RET(4), RET(5) };
	size_t i;

	(void)state;
	for (i = 0; i < N(cases); i++) {
		const struct jmp_case *c = &cases[i];
		struct sock_filter pk[] = {
			LD(LO(0)), BPF_JUMP(BPF_JMP | c->op | BPF_K, c->v, 0, 1), RET(1), RET(2),
		};
		struct sock_filter px[] = {
			LD(LO(1)), TAX, LD(LO(0)),
			BPF_JUMP(BPF_JMP | c->op | BPF_X, 0, 0, 1), RET(1), RET(2),
		};
		struct seccomp_data d = sd(0, 0x100000000ull | c->a, c->v, 0);
		uint32_t want = c->taken ? 1 : 2, r;

		assert_int_equal(seccomp_bpf_run(pk, N(pk), &d, &r), 0);
		if (r != want)
			fail_msg("case %zu K: got %u want %u", i, (unsigned)r, (unsigned)want);
		assert_int_equal(seccomp_bpf_run(px, N(px), &d, &r), 0);
		if (r != want)
			fail_msg("case %zu X: got %u want %u", i, (unsigned)r, (unsigned)want);
	}
	assert_int_equal(RUN(ja, sd(0, 0, 0, 0)), 2);
	assert_int_equal(RUN(far, sd(0, 0, 0, 0)), 5);
	assert_int_equal(RUN(far, sd(1, 0, 0, 0)), 3);
}

/* Scratch memory, TAX/TXA, the LEN loads, RET A, and where each field of
 * seccomp_data lies. */
static void test_scratch_and_loads(void **state)
{
	const struct sock_filter p[] = {
		LD(LO(0)),
		BPF_STMT(BPF_ST, 0),
		LD(HI(0)),
		BPF_STMT(BPF_ST, 15),
		BPF_STMT(BPF_LDX | BPF_W | BPF_LEN, 0),
		TXA,
		BPF_STMT(BPF_ST, 7),
		BPF_STMT(BPF_LD | BPF_IMM, 0x1234),
		TAX,
		BPF_STMT(BPF_STX, 3),
		BPF_STMT(BPF_LD | BPF_MEM, 0),
		BPF_STMT(BPF_LDX | BPF_MEM, 15),
		BPF_STMT(BPF_ALU | BPF_ADD | BPF_X, 0),
		BPF_STMT(BPF_LDX | BPF_MEM, 7),
		BPF_STMT(BPF_ALU | BPF_ADD | BPF_X, 0),
		BPF_STMT(BPF_LDX | BPF_MEM, 3),
		BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
		RET_A,
	};
	const struct sock_filter len[] = { BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0), RET_A };
	const struct sock_filter ldx_imm[] = { BPF_STMT(BPF_LDX | BPF_IMM, 9), TXA, RET_A };
	struct seccomp_data d = sd(SYS_madvise, 0x0000000500000010ull, 0, 0);
	size_t off;

	(void)state;
	assert_int_equal(RUN(p, d), ((0x10u + 5u) + 64u) ^ 0x1234u);
	assert_int_equal(RUN(len, d), 64);
	assert_int_equal(RUN(ldx_imm, d), 9);
	/* Every word: nr, arch, ip low/high, then each argument low/high. */
	for (off = 0; off < 6; off++)
		d.args[off] = 0x1111111100000000ull * (off + 1) + 0x10 + off;
	for (off = 0; off < sizeof(d); off += 4) {
		struct sock_filter w[] = { LD(off), RET_A };
		uint32_t want;

		memcpy(&want, (const char *)&d + off, 4);
		assert_int_equal(RUN(w, d), want);
	}
	{
		struct sock_filter w[] = { LD(OFF_IP), RET_A };
		struct sock_filter h[] = { LD(OFF_IP + 4), RET_A };
		struct sock_filter a5[] = { LD(HI(5)), RET_A };

		assert_int_equal(RUN(w, d), 0x00001234);
		assert_int_equal(RUN(h, d), 0x00007f00);
		assert_int_equal(RUN(a5, d), 0x66666666);
	}
}

struct prog_case {
	const char *what;
	struct sock_filter p[8];
	size_t n;
};

/* Programs the kernel refuses with EINVAL; test_kernel_checks() confirms
 * each against the kernel itself. */
static const struct prog_case bad_progs[] = {
	{ "empty", { RET(ALLOW) }, 0 },
	{ "unaligned load", { LD(2), RET(ALLOW) }, 2 },
	{ "load at 64", { LD(64), RET(ALLOW) }, 2 },
	{ "load at an ancillary offset", { LD(0xfffff000u), RET(ALLOW) }, 2 },
	{ "16-bit load", { BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 0), RET(ALLOW) }, 2 },
	{ "8-bit load", { BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0), RET(ALLOW) }, 2 },
	{ "indirect load", { BPF_STMT(BPF_LD | BPF_W | BPF_IND, 0), RET(ALLOW) }, 2 },
	{ "JA past the end", { BPF_JUMP(BPF_JMP | BPF_JA, 1, 0, 0), RET(ALLOW) }, 2 },
	{ "jt past the end", { LD(OFF_NR), JEQ(0, 1, 0), RET(ALLOW) }, 3 },
	{ "jf past the end", { LD(OFF_NR), JEQ(0, 0, 1), RET(ALLOW) }, 3 },
	{ "no RET at the end", { LD(OFF_NR) }, 1 },
	{ "RET not last", { RET(ALLOW), LD(OFF_NR) }, 2 },
	{ "division by a constant 0", { BPF_STMT(BPF_ALU | BPF_DIV | BPF_K, 0), RET(ALLOW) }, 2 },
	{ "MOD K (not in seccomp)", { BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, 3), RET(ALLOW) }, 2 },
	{ "MOD X (not in seccomp)", { BPF_STMT(BPF_ALU | BPF_MOD | BPF_X, 0), RET(ALLOW) }, 2 },
	{ "shift by constant 32", { BPF_STMT(BPF_ALU | BPF_LSH | BPF_K, 32), RET(ALLOW) }, 2 },
	{ "shift by constant 40", { BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 40), RET(ALLOW) }, 2 },
	{ "scratch word 16", { BPF_STMT(BPF_ST, 16), RET(ALLOW) }, 2 },
	{ "unwritten scratch read", { BPF_STMT(BPF_LD | BPF_MEM, 0), RET(ALLOW) }, 2 },
	{ "scratch written on one path only",
	  { LD(OFF_NR), JEQ(0, 0, 1), BPF_STMT(BPF_ST, 0), BPF_STMT(BPF_LDX | BPF_MEM, 0), RET(ALLOW) }, 5 },
	/* Safe, but the kernel's walk carries what reached a RET into the next
	 * instruction, reached here only by a jump that wrote M[0]. */
	{ "scratch read after a RET",
	  { LD(OFF_NR), JEQ(0, 0, 2), BPF_STMT(BPF_ST, 0), BPF_JUMP(BPF_JMP | BPF_JA, 1, 0, 0),
	    RET(ALLOW), BPF_STMT(BPF_LD | BPF_MEM, 0), RET(ALLOW) }, 7 },
	{ "RET X", { BPF_STMT(BPF_RET | BPF_X, 0) }, 1 },
	{ "NEG X", { BPF_STMT(BPF_ALU | BPF_NEG | BPF_X, 0), RET(ALLOW) }, 2 },
	{ "unknown opcode", { BPF_STMT(0xffff, 0), RET(ALLOW) }, 2 },
};

/* Edge cases the kernel takes; each allows everything the child does next. */
static const struct prog_case good_progs[] = {
	{ "last word", { LD(60), RET(ALLOW) }, 2 },
	{ "JA 0", { BPF_JUMP(BPF_JMP | BPF_JA, 0, 0, 0), RET(ALLOW) }, 2 },
	{ "jumps to the last", { LD(OFF_NR), JEQ(0, 1, 1), RET(ALLOW), RET(ALLOW) }, 4 },
	{ "scratch written on both paths",
	  { LD(OFF_NR), JEQ(0, 0, 2), BPF_STMT(BPF_ST, 0), BPF_JUMP(BPF_JMP | BPF_JA, 1, 0, 0),
	    BPF_STMT(BPF_STX, 0), BPF_STMT(BPF_LD | BPF_MEM, 0), RET(ALLOW) }, 7 },
	/* Instruction 5 follows a jump that has not written M[0], but only the
	 * path that has reaches it. */
	{ "scratch read on a written path only",
	  { LD(OFF_NR), JEQ(0, 2, 0), BPF_STMT(BPF_ST, 0), BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 2, 1),
	    BPF_JUMP(BPF_JMP | BPF_JA, 2, 0, 0), BPF_STMT(BPF_LD | BPF_MEM, 0), RET(ALLOW), RET(ALLOW) }, 8 },
	{ "shift by constant 31", { BPF_STMT(BPF_ALU | BPF_LSH | BPF_K, 31), RET(ALLOW) }, 2 },
	{ "LEN loads", { BPF_STMT(BPF_LDX | BPF_W | BPF_LEN, 0), BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
			  RET(ALLOW) }, 3 },
	{ "RET A of ALLOW", { BPF_STMT(BPF_LD | BPF_IMM, ALLOW), RET_A }, 2 },
};

static void test_malformed(void **state)
{
	struct seccomp_data d = sd(SYS_prctl, 0, 0, 0);
	struct sock_filter *big;
	uint32_t r = 0x5a5a;
	size_t i;

	(void)state;
	for (i = 0; i < N(bad_progs); i++)
		if (seccomp_bpf_run(bad_progs[i].p, bad_progs[i].n, &d, &r) != -EINVAL)
			fail_msg("accepted: %s", bad_progs[i].what);
	assert_int_equal(r, 0x5a5a);    /* untouched on error */
	for (i = 0; i < N(good_progs); i++)
		if (seccomp_bpf_run(good_progs[i].p, good_progs[i].n, &d, &r) != 0)
			fail_msg("refused: %s", good_progs[i].what);
	assert_int_equal(seccomp_bpf_run(NULL, 1, &d, &r), -EINVAL);

	big = calloc(BPF_MAXINSNS + 1, sizeof(*big));
	assert_non_null(big);
	for (i = 0; i <= BPF_MAXINSNS; i++)
		big[i] = (struct sock_filter)RET(ALLOW);
	assert_int_equal(seccomp_bpf_run(big, BPF_MAXINSNS, &d, &r), 0);
	assert_int_equal(seccomp_bpf_run(big, BPF_MAXINSNS + 1, &d, &r), -EINVAL);
	free(big);
}

static void test_combine(void **state)
{
	/* From most to least restrictive, as the kernel ranks them. */
	static const uint32_t order[] = {
		SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_TRAP,
		SECCOMP_RET_ERRNO, SECCOMP_RET_USER_NOTIF, SECCOMP_RET_TRACE,
		SECCOMP_RET_LOG, SECCOMP_RET_ALLOW,
	};
	static const char *const names[] = {
		"KILL_PROCESS", "KILL_THREAD", "TRAP", "ERRNO", "USER_NOTIF", "TRACE", "LOG", "ALLOW",
	};
	size_t i, j;

	(void)state;
	for (i = 0; i < N(order); i++) {
		assert_string_equal(seccomp_action_name(order[i] | 0x42), names[i]);
		assert_int_equal(seccomp_allows(order[i] | 0x42), order[i] == ALLOW ||
				 order[i] == SECCOMP_RET_LOG);
		for (j = i + 1; j < N(order); j++) {
			/* Data never weighs: the stronger action wins with its data. */
			assert_int_equal(seccomp_combine(order[i] | 1, order[j] | 0xffff), order[i] | 1);
			assert_int_equal(seccomp_combine(order[j] | 0xffff, order[i] | 1), order[i] | 1);
		}
	}
	assert_int_equal(seccomp_combine(ALLOW, SECCOMP_RET_KILL_PROCESS), SECCOMP_RET_KILL_PROCESS);
	assert_int_equal(seccomp_combine(SECCOMP_RET_TRACE, ERRNO(1)), ERRNO(1));
	assert_int_equal(seccomp_combine(ALLOW, SECCOMP_RET_LOG), SECCOMP_RET_LOG);
	/* Equal actions: the first argument (the newer filter) is kept. */
	assert_int_equal(seccomp_combine(ERRNO(2), ERRNO(1)), ERRNO(2));
	assert_int_equal(seccomp_combine(ERRNO(1), ERRNO(2)), ERRNO(1));
	/* An action the kernel does not know kills the process; it ranks by value. */
	assert_string_equal(seccomp_action_name(0x00010000), "UNKNOWN");
	assert_false(seccomp_allows(0x00010000));
	assert_int_equal(seccomp_combine(SECCOMP_RET_TRAP, 0x00010000), 0x00010000);
	assert_int_equal(seccomp_combine(SECCOMP_RET_KILL_THREAD, 0x00010000), SECCOMP_RET_KILL_THREAD);
}

/* ---- the kernel as the oracle (no privilege needed) --------------------------- */

/* 0 when the kernel installs p in a child, else the errno it refused it
 * with. p must allow everything the child does after installing it. */
static int kernel_installs(const struct sock_filter *p, size_t n)
{
	struct sock_fprog fp = { .len = (unsigned short)n, .filter = (struct sock_filter *)p };
	pid_t pid;
	int st;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
			_exit(100);
		if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp, 0, 0) != 0)
			_exit(errno > 0 && errno < 100 ? errno : 101);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st))
		fail_msg("child ended by signal %d", WTERMSIG(st));
	return WEXITSTATUS(st);
}

static void test_kernel_checks(void **state)
{
	struct sock_filter *big;
	size_t i;

	(void)state;
	for (i = 0; i < N(bad_progs); i++)
		if (kernel_installs(bad_progs[i].p, bad_progs[i].n) != EINVAL)
			fail_msg("kernel did not refuse: %s", bad_progs[i].what);
	for (i = 0; i < N(good_progs); i++)
		if (kernel_installs(good_progs[i].p, good_progs[i].n) != 0)
			fail_msg("kernel refused: %s", good_progs[i].what);
	big = calloc(BPF_MAXINSNS + 1, sizeof(*big));
	assert_non_null(big);
	for (i = 0; i <= BPF_MAXINSNS; i++)
		big[i] = (struct sock_filter)RET(ALLOW);
	assert_int_equal(kernel_installs(big, BPF_MAXINSNS), 0);
	assert_int_equal(kernel_installs(big, BPF_MAXINSNS + 1), EINVAL);
	free(big);
}

/* On getppid: ALLOW when args[2] is odd, ERRNO(0) (the call returns 0)
 * when args[4] is 0 in its low half, else ERRNO(data) with data a mix of
 * the arguments through shifts by X (counts >= 32 included), DIV, MUL, NEG,
 * scratch memory and every kind of jump; data up to 0x1fff, so that the
 * kernel's cap at MAX_ERRNO (4095) occurs. */
static const struct sock_filter mix[] = {
	/*  0 */ LD(OFF_NR),
	/*  1 */ JEQ(SYS_getppid, 0, 41),
	/*  2 */ LD(LO(2)),
	/*  3 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 1, 39, 0),
	/*  4 */ LD(LO(4)),
	/*  5 */ JEQ(0, 38, 0),
	/*  6 */ LD(LO(0)),
	/*  7 */ BPF_STMT(BPF_ST, 0),
	/*  8 */ LD(LO(1)),
	/*  9 */ TAX,
	/* 10 */ BPF_STMT(BPF_LD | BPF_MEM, 0),
	/* 11 */ BPF_STMT(BPF_ALU | BPF_LSH | BPF_X, 0),
	/* 12 */ BPF_STMT(BPF_ST, 1),
	/* 13 */ LD(HI(0)),
	/* 14 */ BPF_STMT(BPF_ALU | BPF_OR | BPF_K, 1),
	/* 15 */ TAX,
	/* 16 */ LD(HI(1)),
	/* 17 */ BPF_STMT(BPF_ALU | BPF_DIV | BPF_X, 0),
	/* 18 */ BPF_STMT(BPF_LDX | BPF_MEM, 1),
	/* 19 */ BPF_STMT(BPF_ALU | BPF_ADD | BPF_X, 0),
	/* 20 */ BPF_STMT(BPF_ALU | BPF_XOR | BPF_K, 0x5a5a5a5a),
	/* 21 */ BPF_STMT(BPF_ST, 2),
	/* 22 */ LD(LO(3)),
	/* 23 */ TAX,
	/* 24 */ LD(HI(2)),
	/* 25 */ BPF_STMT(BPF_ALU | BPF_RSH | BPF_X, 0),
	/* 26 */ BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, 2654435761u),
	/* 27 */ BPF_STMT(BPF_ALU | BPF_SUB | BPF_K, 12345),
	/* 28 */ BPF_STMT(BPF_ALU | BPF_NEG, 0),
	/* 29 */ TAX,
	/* 30 */ BPF_STMT(BPF_LD | BPF_MEM, 2),
	/* 31 */ BPF_JUMP(BPF_JMP | BPF_JGT | BPF_X, 0, 0, 2),
	/* 32 */ BPF_STMT(BPF_ALU | BPF_ADD | BPF_K, 0x100),
	/* 33 */ BPF_JUMP(BPF_JMP | BPF_JA, 1, 0, 0),
	/* 34 */ BPF_STMT(BPF_ALU | BPF_SUB | BPF_X, 0),
	/* 35 */ BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x80000000u, 0, 1),
	/* 36 */ BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 7),
	/* 37 */ BPF_STMT(BPF_LDX | BPF_W | BPF_LEN, 0),
	/* 38 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_X, 0, 0, 1),
	/* 39 */ BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xff0f),
	/* 40 */ BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0x1fff),
	/* 41 */ BPF_STMT(BPF_ALU | BPF_OR | BPF_K, SECCOMP_RET_ERRNO),
	/* 42 */ RET_A,
	/* 43 */ RET(ALLOW),
	/* 44 */ RET(ERRNO(0)),
};

#define MIX_CALLS 48

struct outcome {
	long ret;
	int err;
};

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Fixed-seed arguments; the shift counts in args[1] and args[3] often sit
 * at the edges (0, 31, 32, 33, 63, ~0) where interpreters tend to differ. */
static void mix_args(uint64_t args[MIX_CALLS][6])
{
	static const uint32_t edges[] = { 0, 31, 32, 33, 63, 0xffffffff };
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	size_t i, j;

	for (i = 0; i < MIX_CALLS; i++) {
		for (j = 0; j < 6; j++)
			args[i][j] = xorshift(&seed);
		if (i % 2 == 0) {
			args[i][1] = (args[i][1] & ~0xffffffffull) | edges[i / 2 % N(edges)];
			args[i][3] = (args[i][3] & ~0xffffffffull) | edges[(i / 2 + 3) % N(edges)];
		}
		if (i % 3 != 0)
			args[i][2] &= ~1ull;    /* mostly the computed ERRNO path */
		if (i % 8 == 1)
			args[i][4] &= ~0xffffffffull;
	}
	memset(args[0], 0, sizeof(args[0]));
}

/* Runs the calls in a child under mix and sends back what each returned. */
static void mix_child(int wfd, uint64_t args[MIX_CALLS][6])
{
	struct sock_fprog fp = { .len = N(mix), .filter = (struct sock_filter *)mix };
	struct outcome out[MIX_CALLS];
	size_t i;

	memset(out, 0, sizeof(out));    /* padding included: it is written out */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp, 0, 0) != 0)
		_exit(5);
	for (i = 0; i < MIX_CALLS; i++) {
		errno = 0;
		out[i].ret = syscall(SYS_getppid, args[i][0], args[i][1], args[i][2],
				     args[i][3], args[i][4], args[i][5]);
		out[i].err = errno;
	}
	_exit(write(wfd, out, sizeof(out)) == (ssize_t)sizeof(out) ? 0 : 6);
}

static void test_kernel_agrees(void **state)
{
	uint64_t args[MIX_CALLS][6];
	struct outcome out[MIX_CALLS];
	int fds[2], st, allowed = 0, errnos = 0, capped = 0, zero = 0;
	pid_t pid;
	size_t i;

	(void)state;
	mix_args(args);
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		mix_child(fds[1], args);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], out, sizeof(out)), sizeof(out));
	close(fds[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	for (i = 0; i < MIX_CALLS; i++) {
		struct seccomp_data d = sd(SYS_getppid, 0, 0, 0);
		uint32_t r, data;

		memcpy(d.args, args[i], sizeof(d.args));
		assert_int_equal(seccomp_bpf_run(mix, N(mix), &d, &r), 0);
		data = r & SECCOMP_RET_DATA;
		if (r == ALLOW) {
			allowed++;
			if (out[i].ret != getpid())
				fail_msg("call %zu: we said ALLOW, kernel returned %ld errno %d",
					 i, out[i].ret, out[i].err);
		} else if ((r & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ERRNO) {
			long want_ret = data == 0 ? 0 : -1;
			int want_err = data == 0 ? 0 : data > 4095 ? 4095 : (int)data;

			errnos++;
			capped += data > 4095;
			zero += data == 0;
			if (out[i].ret != want_ret || out[i].err != want_err)
				fail_msg("call %zu: we said ERRNO(%u), kernel returned %ld errno %d",
					 i, (unsigned)data, out[i].ret, out[i].err);
		} else {
			fail_msg("call %zu: mix returned %#x", i, (unsigned)r);
		}
	}
	fprintf(stderr, "  %d calls: %d allowed, %d ERRNO (%d capped at 4095, %d of 0), "
		"all as the kernel did\n", MIX_CALLS, allowed, errnos, capped, zero);
	assert_true(allowed > 0 && errnos > 0 && capped > 0 && zero > 0);
}

/* DIV by X == 0: the kernel ends the program with 0, KILL_THREAD, and the
 * only thread of the child dies of SIGSYS, as seccomp_bpf_run() says. */
static void test_kernel_div_zero(void **state)
{
	static const struct sock_filter p[] = {
		LD(OFF_NR),
		JEQ(SYS_getppid, 0, 6),
		LD(LO(0)),
		TAX,
		BPF_STMT(BPF_LD | BPF_IMM, 1000),
		BPF_STMT(BPF_ALU | BPF_DIV | BPF_X, 0),
		BPF_STMT(BPF_ALU | BPF_OR | BPF_K, SECCOMP_RET_ERRNO),
		RET_A,
		RET(ALLOW),
	};
	struct sock_fprog fp = { .len = N(p), .filter = (struct sock_filter *)p };
	struct seccomp_data d = sd(SYS_getppid, 10, 0, 0);
	int fds[2], st, err = -1;
	uint32_t r;
	pid_t pid;

	(void)state;
	assert_int_equal(seccomp_bpf_run(p, N(p), &d, &r), 0);
	assert_int_equal(r, ERRNO(100));
	d.args[0] = 0;
	assert_int_equal(seccomp_bpf_run(p, N(p), &d, &r), 0);
	assert_int_equal(r, SECCOMP_RET_KILL_THREAD);

	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		/* Not dumpable: the kill must leave no core behind. */
		if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 ||
		    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp, 0, 0) != 0)
			_exit(5);
		syscall(SYS_getppid, 10L);
		err = errno;
		if (write(fds[1], &err, sizeof(err)) != sizeof(err))
			_exit(6);
		syscall(SYS_getppid, 0L);
		_exit(7);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &err, sizeof(err)), sizeof(err));
	close(fds[0]);
	assert_int_equal(err, 100);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
}

/* A thread that no longer exists is not safe, and says so as -ESRCH. */
static void test_gone_thread(void **state)
{
	const uint64_t args[6] = { PR_SET_MEMORY_MERGE, 1 };
	uint32_t a = 0x5a5a;
	char why[128];
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_int_equal(seccomp_check_thread(pid, SYS_prctl, args, IP, &a, why, sizeof(why)), -ESRCH);
	assert_int_equal(a, 0x5a5a);
	fprintf(stderr, "  gone: %s\n", why);
}

/* ---- live threads through ptrace ------------------------------------------- */

struct kid {
	pid_t pid;      /* 0 once reaped */
	int hold;       /* write end of the pipe it waits on; -1 once closed */
};

struct kids {
	struct kid k[4];
	int n;
};

static int kids_setup(void **state)
{
	struct kids *ks = calloc(1, sizeof(*ks));

	if (ks == NULL)
		return -1;
	*state = ks;
	return 0;
}

/* Whatever a failed test left behind: children are killed and reaped. */
static int kids_teardown(void **state)
{
	struct kids *ks = *state;
	int i;

	for (i = 0; i < ks->n; i++) {
		if (ks->k[i].pid > 0) {
			kill(ks->k[i].pid, SIGKILL);
			waitpid(ks->k[i].pid, NULL, __WALL);
		}
		if (ks->k[i].hold >= 0)
			close(ks->k[i].hold);
	}
	free(ks);
	return 0;
}

static bool self_under_seccomp(void)
{
	char *line = NULL;
	size_t cap = 0;
	bool on = false;
	FILE *f = fopen("/proc/self/status", "re");

	if (f == NULL)
		return false;
	while (getline(&line, &cap, f) > 0)
		if (strncmp(line, "Seccomp:", 8) == 0)
			on = atoi(line + 8) != 0;
	free(line);
	fclose(f);
	return on;
}

#define NEED_LIVE()                                                                   \
	do {                                                                          \
		if (getenv("KSMPLUS_NO_LIVE") != NULL) {                              \
			fprintf(stderr, "SKIPPED %s: KSMPLUS_NO_LIVE is set\n", __func__); \
			skip();                                                       \
		}                                                                     \
		if (geteuid() != 0) {                                                 \
			fprintf(stderr, "SKIPPED %s: needs root (ptrace, and "         \
				"CAP_SYS_ADMIN for PTRACE_SECCOMP_GET_FILTER)\n", __func__); \
			skip();                                                       \
		}                                                                     \
		if (self_under_seccomp()) {                                           \
			fprintf(stderr, "SKIPPED %s: this test runs under seccomp, "  \
				"which PTRACE_SECCOMP_GET_FILTER refuses\n", __func__); \
			skip();                                                       \
		}                                                                     \
	} while (0)

static void install(const struct sock_filter *p, size_t n)
{
	struct sock_fprog fp = { .len = (unsigned short)n, .filter = (struct sock_filter *)p };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp, 0, 0) != 0)
		_exit(5);
}

/* Child setups; each returns the byte the child reports when ready. */
static char no_filter(void)
{
	return 'r';
}

static char two_filters(void)
{
	install(kill_merge, N(kill_merge));
	install(errno_mergeable, N(errno_mergeable));
	return 'r';
}

static char strict_mode(void)
{
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0) != 0)
		_exit(5);
	return 'r';
}

/* Two filters giving ERRNO(1), then ERRNO(2), on getppid; reports the errno
 * the kernel picked. */
static char errno_tie(void)
{
	const struct sock_filter e1[] = { LD(OFF_NR), JEQ(SYS_getppid, 0, 1), RET(ERRNO(1)), RET(ALLOW) };
	const struct sock_filter e2[] = { LD(OFF_NR), JEQ(SYS_getppid, 0, 1), RET(ERRNO(2)), RET(ALLOW) };

	install(e1, N(e1));
	install(e2, N(e2));
	return syscall(SYS_getppid) == -1 ? (char)errno : 'x';
}

/* Forks a child that runs setup, reports, and waits until its pipe's write
 * end is closed, then exits 0 -- with exit, not exit_group, which strict
 * mode allows. *ready = its report. If it dies before reporting, that
 * fails the test, or with died given, sets *died to its wait status and
 * returns NULL. */
static struct kid *spawn(struct kids *ks, char (*setup)(void), char *ready, int *died)
{
	struct kid *k;
	int hold[2], rdy[2], i, st;
	char c;

	assert_true(ks->n < (int)N(ks->k));
	k = &ks->k[ks->n];
	assert_int_equal(pipe2(hold, O_CLOEXEC), 0);
	assert_int_equal(pipe2(rdy, O_CLOEXEC), 0);
	k->pid = fork();
	assert_true(k->pid >= 0);
	if (k->pid == 0) {
		/* Other kids' pipes too, or they would never see EOF. */
		for (i = 0; i < ks->n; i++)
			close(ks->k[i].hold);
		close(hold[1]);
		close(rdy[0]);
		c = setup();
		if (write(rdy[1], &c, 1) != 1)
			syscall(SYS_exit, 3);
		while (read(hold[0], &c, 1) < 0 && errno == EINTR)
			;
		syscall(SYS_exit, 0);
	}
	ks->n++;
	k->hold = hold[1];
	close(hold[0]);
	close(rdy[1]);
	if (read(rdy[0], ready, 1) != 1) {
		close(rdy[0]);
		assert_int_equal(waitpid(k->pid, &st, 0), k->pid);
		k->pid = 0;
		if (died == NULL)
			fail_msg("child died before it was ready: status %#x", st);
		*died = st;
		return NULL;
	}
	close(rdy[0]);
	return k;
}

static void interrupt_stop(pid_t pid)
{
	int st;

	assert_int_equal(ptrace(PTRACE_INTERRUPT, pid, 0, 0), 0);
	assert_int_equal(waitpid(pid, &st, __WALL), pid);
	assert_true(WIFSTOPPED(st));
	assert_int_equal(st >> 16, PTRACE_EVENT_STOP);
}

static void seize_stop(pid_t pid)
{
	assert_int_equal(ptrace(PTRACE_SEIZE, pid, 0, 0), 0);
	interrupt_stop(pid);
}

/* Lets the child go and checks it ends as if nothing had happened. */
static void release(struct kid *k, bool traced)
{
	pid_t pid = k->pid;
	int st;

	if (traced)
		assert_int_equal(ptrace(PTRACE_DETACH, pid, 0, 0), 0);
	close(k->hold);
	k->hold = -1;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	k->pid = 0;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("child %d ended with status %#x", (int)pid, st);
}

static uint32_t check(pid_t pid, int nr, uint64_t a0, uint64_t a1, uint64_t a2, const char *want)
{
	const uint64_t args[6] = { a0, a1, a2 };
	uint32_t act = 0xdeadbeef;
	char why[128];

	assert_int_equal(seccomp_check_thread(pid, nr, args, IP, &act, why, sizeof(why)), 0);
	fprintf(stderr, "  %s\n", why);
	assert_string_equal(why, want);
	return act;
}

static void test_live_two_filters(void **state)
{
	struct kids *ks = *state;
	struct kid *k;
	uint32_t a;
	char c;

	NEED_LIVE();
	k = spawn(ks, two_filters, &c, NULL);
	assert_int_equal(c, 'r');
	seize_stop(k->pid);
	a = check(k->pid, SYS_prctl, PR_SET_MEMORY_MERGE, 1, 0, "seccomp: prctl -> KILL_PROCESS");
	assert_int_equal(a, SECCOMP_RET_KILL_PROCESS);
	assert_false(seccomp_allows(a));
	a = check(k->pid, SYS_prctl, PR_SET_MEMORY_MERGE, 0, 0, "seccomp: prctl -> KILL_PROCESS");
	assert_false(seccomp_allows(a));
	a = check(k->pid, SYS_madvise, 0x7f0000000000, 1 << 20, MADV_MERGEABLE,
		  "seccomp: madvise -> ERRNO(1)");
	assert_int_equal(a, ERRNO(EPERM));
	assert_false(seccomp_allows(a));
	a = check(k->pid, SYS_madvise, 0x7f0000000000, 1 << 20, MADV_DONTNEED,
		  "seccomp: madvise -> ALLOW");
	assert_true(seccomp_allows(a));
	a = check(k->pid, SYS_getpid, 0, 0, 0, "seccomp: syscall 39 -> ALLOW");
	assert_true(seccomp_allows(a));
	a = check(k->pid, SYS_process_madvise, 0, 0, 0, "seccomp: process_madvise -> ALLOW");
	assert_true(seccomp_allows(a));
	release(k, true);
}

static void test_live_no_filter(void **state)
{
	struct kids *ks = *state;
	struct kid *k;
	char c;

	NEED_LIVE();
	k = spawn(ks, no_filter, &c, NULL);
	seize_stop(k->pid);
	assert_int_equal(check(k->pid, SYS_prctl, PR_SET_MEMORY_MERGE, 1, 0,
			       "seccomp: prctl -> ALLOW"), ALLOW);
	assert_int_equal(check(k->pid, SYS_madvise, 0, 4096, MADV_MERGEABLE,
			       "seccomp: madvise -> ALLOW"), ALLOW);
	release(k, true);
}

static void test_live_strict(void **state)
{
	struct kids *ks = *state;
	struct kid *k;
	char c;
	int st;

	NEED_LIVE();
	k = spawn(ks, strict_mode, &c, &st);
	if (k == NULL) {
		/* SIGKILL right away: its runtime makes syscalls strict mode
		 * forbids, as valgrind's does. */
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
			fail_msg("strict-mode child ended with status %#x", st);
		fprintf(stderr, "SKIPPED %s: no process survives strict mode here\n", __func__);
		skip();
	}
	seize_stop(k->pid);
	assert_int_equal(check(k->pid, SYS_prctl, PR_SET_MEMORY_MERGE, 1, 0,
			       "seccomp: prctl -> KILL_THREAD (strict mode)"),
			 SECCOMP_RET_KILL_THREAD);
	assert_int_equal(check(k->pid, SYS_read, 0, 0, 0, "seccomp: syscall 0 -> ALLOW (strict mode)"),
			 ALLOW);
	release(k, true);
}

/* Of two filters with the same action, the newer one's data is what the
 * thread gets: the kernel's choice, and ours. */
static void test_live_errno_tie(void **state)
{
	struct kids *ks = *state;
	struct kid *k;
	char c;

	NEED_LIVE();
	k = spawn(ks, errno_tie, &c, NULL);
	assert_int_equal(c, 2);
	seize_stop(k->pid);
	assert_int_equal(check(k->pid, SYS_getppid, 0, 0, 0, "seccomp: syscall 110 -> ERRNO(2)"),
			 ERRNO(2));
	release(k, true);
}

/* Without a ptrace-stop of ours the kernel lets us read nothing. */
static void test_live_not_stopped(void **state)
{
	struct kids *ks = *state;
	const uint64_t args[6] = { PR_SET_MEMORY_MERGE, 1 };
	uint32_t a = 0x5a5a;
	struct kid *k;
	char why[128], c;

	NEED_LIVE();
	k = spawn(ks, two_filters, &c, NULL);
	assert_int_equal(seccomp_check_thread(k->pid, SYS_prctl, args, IP, &a, why, sizeof(why)),
			 -ESRCH);
	fprintf(stderr, "  not traced: %s\n", why);
	assert_int_equal(ptrace(PTRACE_SEIZE, k->pid, 0, 0), 0);
	assert_int_equal(seccomp_check_thread(k->pid, SYS_prctl, args, IP, &a, NULL, 0), -ESRCH);
	assert_int_equal(a, 0x5a5a);
	interrupt_stop(k->pid);
	release(k, true);
}

static int drop_sys_admin(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) != 0)
		return -1;
	d[CAP_SYS_ADMIN / 32].effective &= ~(1u << (CAP_SYS_ADMIN % 32));
	return (int)syscall(SYS_capset, &h, d);
}

/* A helper process that makes itself unfit, seizes target and checks
 * prctl(PR_SET_MEMORY_MERGE, 1) there: 0 if allowed, the errno if it could
 * not tell. */
static int check_from_helper(pid_t target, bool own_seccomp)
{
	static const struct sock_filter allow[] = { RET(ALLOW) };
	const uint64_t args[6] = { PR_SET_MEMORY_MERGE, 1 };
	uint32_t a;
	pid_t pid;
	int st, r;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (own_seccomp)
			install(allow, N(allow));
		else if (drop_sys_admin() != 0)
			_exit(100);
		if (ptrace(PTRACE_SEIZE, target, 0, 0) != 0 ||
		    ptrace(PTRACE_INTERRUPT, target, 0, 0) != 0 ||
		    waitpid(target, &st, __WALL) != target)
			_exit(101);
		r = seccomp_check_thread(target, SYS_prctl, args, IP, &a, NULL, 0);
		if (r == 0)
			_exit(seccomp_allows(a) ? 0 : 102);
		_exit(r > -100 ? -r : 103);
	}
	/* Its exit detaches it from target, which carries on. */
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* A caller without CAP_SYS_ADMIN, or under seccomp itself (as systemd's
 * SystemCallFilter= puts it), cannot read filters: such targets are not
 * safe. A target without seccomp needs no reading and stays allowed. */
static void test_live_unfit_caller(void **state)
{
	struct kids *ks = *state;
	struct kid *k, *free_one;
	char c;

	NEED_LIVE();
	k = spawn(ks, two_filters, &c, NULL);
	free_one = spawn(ks, no_filter, &c, NULL);
	assert_int_equal(check_from_helper(k->pid, true), EACCES);
	assert_int_equal(check_from_helper(k->pid, false), EACCES);
	assert_int_equal(check_from_helper(free_one->pid, true), 0);
	assert_int_equal(check_from_helper(free_one->pid, false), 0);
	release(k, false);
	release(free_one, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allow_all),
		cmocka_unit_test(test_kill_prctl),
		cmocka_unit_test(test_errno_madvise_mergeable),
		cmocka_unit_test(test_arch),
		cmocka_unit_test(test_alu),
		cmocka_unit_test(test_div_by_x_zero),
		cmocka_unit_test(test_jumps),
		cmocka_unit_test(test_scratch_and_loads),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_combine),
		cmocka_unit_test(test_kernel_checks),
		cmocka_unit_test(test_kernel_agrees),
		cmocka_unit_test(test_kernel_div_zero),
		cmocka_unit_test(test_gone_thread),
		cmocka_unit_test_setup_teardown(test_live_two_filters, kids_setup, kids_teardown),
		cmocka_unit_test_setup_teardown(test_live_no_filter, kids_setup, kids_teardown),
		cmocka_unit_test_setup_teardown(test_live_strict, kids_setup, kids_teardown),
		cmocka_unit_test_setup_teardown(test_live_errno_tie, kids_setup, kids_teardown),
		cmocka_unit_test_setup_teardown(test_live_not_stopped, kids_setup, kids_teardown),
		cmocka_unit_test_setup_teardown(test_live_unfit_caller, kids_setup, kids_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
