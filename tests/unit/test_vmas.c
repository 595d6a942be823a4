/* test_vmas.c — /proc/PID/maps parsing, eligibility and range arithmetic. */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmas.h"

/* A trimmed real maps file (Linux 6.18, x86_64) plus the rarer kinds. */
static const char sample[] =
	"55d7fc0fc000-55d7fc0fe000 r--p 00000000 fe:00 247134                     /usr/bin/gimp-2.10\n"
	"55d7fc107000-55d7fc108000 rw-p 0000a000 fe:00 247134                     /usr/bin/gimp-2.10\n"
	"55d823838000-55d823859000 rw-p 00000000 00:00 0                          [heap]\n"
	"7ff05a49e000-7ff05a4c0000 rw-p 00000000 00:00 0 \n"
	"7ff05a4c0000-7ff05a517000 r--p 00000000 fe:00 320475                     /usr/lib/locale/C.utf8/LC_CTYPE\n"
	"7ff05a51b000-7ff05a51e000 rw-p 00000000 00:00 0 \n"
	"7ff05a51e000-7ff05a520000 rw-p 00000000 00:00 0                          [anon:glibc malloc]\n"
	"7ff05a520000-7ff05a530000 ---p 00000000 00:00 0 \n"
	"7ff05a530000-7ff05a540000 r--p 00000000 00:00 0 \n"
	"7ff05a540000-7ff05a550000 rw-s 00000000 00:01 1234                       /dev/zero (deleted)\n"
	"7ff05a550000-7ff05a560000 rw-s 00000000 00:01 5678                       /memfd:pool (deleted)\n"
	"7ff05a560000-7ff05a570000 rw-p 00000000 00:05 99                         /memfd:priv (deleted)\n"
	"7ff05a570000-7ff05a580000 rw-s 00000000 00:00 0                          [anon_shmem:x]\n"
	"7ff05a6f1000-7ff05a6f3000 rw-p 001d3000 fe:00 332835                     /usr/lib/x86_64-linux-gnu/libc.so.6\n"
	"7ff05a6f3000-7ff05a700000 rw-p 00000000 00:00 0 \n"
	"7ff05a710000-7ff05a714000 r--p 00000000 00:00 0                          [vvar]\n"
	"7ff05a714000-7ff05a716000 r--p 00000000 00:00 0                          [vvar_vclock]\n"
	"7ff05a716000-7ff05a718000 r-xp 00000000 00:00 0                          [vdso]\n"
	"7ff05a718000-7ff05a719000 rw-p 00000000 00:00 0                          [uprobes]\n"
	"7ffc7678e000-7ffc767af000 rw-p 00000000 00:00 0                          [stack]\n"
	"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n";

static void assert_range(const struct vma_list *l, size_t i, uintptr_t s, uintptr_t e)
{
	assert_true(i < l->n);
	assert_int_equal(l->v[i].start, s);
	assert_int_equal(l->v[i].end, e);
}

static void test_parse_sample(void **state)
{
	struct vma_list l = { 0 };
	int bad = -1;

	(void)state;
	assert_int_equal(vmas_parse(sample, &l, &bad), 0);
	assert_int_equal(bad, -1);      /* untouched on success */
	assert_int_equal(l.n, 5);
	assert_range(&l, 0, 0x55d823838000, 0x55d823859000);       /* [heap] */
	assert_range(&l, 1, 0x7ff05a49e000, 0x7ff05a4c0000);       /* anon */
	assert_range(&l, 2, 0x7ff05a51b000, 0x7ff05a520000);       /* anon + [anon:] coalesced */
	assert_range(&l, 3, 0x7ff05a6f3000, 0x7ff05a700000);
	assert_range(&l, 4, 0x7ffc7678e000, 0x7ffc767af000);       /* [stack] */
	assert_int_equal(vmas_bytes(&l), 0x21000 + 0x22000 + 0x5000 + 0xd000 + 0x21000);
	vmas_clear(&l);
	assert_int_equal(l.n, 0);
	vmas_free(&l);
	assert_null(l.v);
}

static void test_parse_edge_lines(void **state)
{
	struct vma_list l = { 0 };

	(void)state;
	assert_int_equal(vmas_parse("", &l, NULL), 0);
	assert_int_equal(l.n, 0);
	/* no trailing newline, no padding after the inode */
	assert_int_equal(vmas_parse("1000-2000 rw-p 00000000 00:00 0", &l, NULL), 0);
	assert_int_equal(l.n, 1);
	/* appends; adjacent to what is there: coalesced; overlap (a maps read
	 * that restarted after the process grew a mapping) is merged too */
	assert_int_equal(vmas_parse("2000-3000 rw-p 00000000 00:00 0 [stack:123]\n"
				    "2800-4000 rw-p 00000000 00:00 0 [heap]\n"
				    "8000-9000 rw-p 00000000 00:00 0\n", &l, NULL), 0);
	assert_int_equal(l.n, 2);
	assert_range(&l, 0, 0x1000, 0x4000);
	assert_range(&l, 1, 0x8000, 0x9000);
	vmas_free(&l);
}

static void test_parse_malformed(void **state)
{
	static const char *const bad_lines[] = {
		"zzzz-2000 rw-p 00000000 00:00 0\n",
		"1000 rw-p 00000000 00:00 0\n",
		"2000-1000 rw-p 00000000 00:00 0\n",        /* end before start */
		"1000-1000 rw-p 00000000 00:00 0\n",        /* empty */
		"1000-2000 rw-q 00000000 00:00 0\n",
		"1000-2000 rwp 00000000 00:00 0\n",
		"1000-2000 rw-p\n",
		"1000-2000 rw-p 00000000 00-00 0\n",
		"1000-2000 rw-p 00000000 00:00\n",
		"1000-2000 rw-p 00000000 00:00 x\n",
		"1000-2000 rw-p 00000000 00:00 12abc /x\n",
		"-1000-2000 rw-p 00000000 00:00 0\n",
		"1000-2000  rw-p 00000000 00:00 0\n",
		"1000-10000000000000000 rw-p 00000000 00:00 0\n",  /* overflow */
		"\n",
	};
	struct vma_list l = { 0 };
	char text[512];
	int bad;

	(void)state;
	for (size_t i = 0; i < sizeof(bad_lines) / sizeof(bad_lines[0]); i++) {
		/* two good lines first: the bad one is line 3, and nothing of
		 * the good ones may stay in the list */
		snprintf(text, sizeof(text), "a000-b000 rw-p 00000000 00:00 0\n"
			 "c000-d000 r--p 00000000 fe:00 1 /lib/x.so\n%s"
			 "e000-f000 rw-p 00000000 00:00 0\n", bad_lines[i]);
		bad = 0;
		if (vmas_parse(text, &l, &bad) != -EINVAL || bad != 3 || l.n != 0)
			fail_msg("case %zu (%s): bad=%d n=%zu", i, bad_lines[i], bad, l.n);
	}
	/* bad_line may be NULL */
	assert_int_equal(vmas_parse("junk", &l, NULL), -EINVAL);
	vmas_free(&l);
}

static struct vma_list list_of(const uintptr_t *pairs, size_t n)
{
	struct vma_list l = { 0 };

	l.v = calloc(n ? n : 1, sizeof(*l.v));
	assert_non_null(l.v);
	for (size_t i = 0; i < n; i++) {
		l.v[i].start = pairs[2 * i];
		l.v[i].end = pairs[2 * i + 1];
	}
	l.n = l.cap = n;
	return l;
}

static void test_subtract(void **state)
{
	static const uintptr_t cur_r[] = { 0x1000, 0x5000, 0x8000, 0x9000, 0x10000, 0x20000, 0x30000, 0x31000 };
	static const uintptr_t prev_r[] = { 0x0, 0x2000, 0x3000, 0x4000, 0x4800, 0x8800,
					    0x12000, 0x13000, 0x14000, 0x15000, 0x30000, 0x31000 };
	struct vma_list cur = list_of(cur_r, 4), prev = list_of(prev_r, 6), out = { 0 }, empty = { 0 };

	(void)state;
	assert_int_equal(vmas_subtract(&cur, &prev, &out), 0);
	assert_int_equal(out.n, 6);
	assert_range(&out, 0, 0x2000, 0x3000);    /* hole between prev ranges */
	assert_range(&out, 1, 0x4000, 0x4800);
	assert_range(&out, 2, 0x8800, 0x9000);    /* prev spans two cur ranges */
	assert_range(&out, 3, 0x10000, 0x12000);
	assert_range(&out, 4, 0x13000, 0x14000);
	assert_range(&out, 5, 0x15000, 0x20000);  /* 0x30000 fully covered: gone */

	/* nothing before: everything is new; out is overwritten, not appended */
	assert_int_equal(vmas_subtract(&cur, &empty, &out), 0);
	assert_int_equal(out.n, 4);
	assert_int_equal(vmas_bytes(&out), vmas_bytes(&cur));
	/* all covered */
	assert_int_equal(vmas_subtract(&cur, &cur, &out), 0);
	assert_int_equal(out.n, 0);
	assert_int_equal(vmas_subtract(&empty, &prev, &out), 0);
	assert_int_equal(out.n, 0);
	vmas_free(&cur);
	vmas_free(&prev);
	vmas_free(&out);
}

static bool covered(const struct vma_list *l, uintptr_t s, uintptr_t e)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].start <= s && e <= l->v[i].end)
			return true;
	return false;
}

static bool overlaps(const struct vma_list *l, uintptr_t s, uintptr_t e)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].start < e && s < l->v[i].end)
			return true;
	return false;
}

/* Our own maps, made long (well over the first read buffer) by many
 * mappings of alternating kinds so that the kernel cannot merge them. */
static void test_read_self(void **state)
{
	enum { N = 600 };
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	char *base;
	struct vma_list l = { 0 };

	(void)state;
	/* Reserve one region, then carve it so the pieces stay together. */
	base = mmap(NULL, 2 * N * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(base != MAP_FAILED);
	for (size_t i = 0; i < N; i++) {
		char *p = base + 2 * i * pg;

		/* even: private rw (eligible); odd: shared rw (never) */
		assert_true(mmap(p, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == p);
		assert_true(mmap(p + pg, pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == p + pg);
	}
	assert_int_equal(vmas_read(getpid(), &l), 0);
	for (size_t i = 0; i < N; i++) {
		uintptr_t p = (uintptr_t)(base + 2 * i * pg);

		if (!covered(&l, p, p + pg) || overlaps(&l, p + pg, p + 2 * pg))
			fail_msg("mapping %zu misclassified", i);
	}
	/* the read-only sample string lives in a file mapping: not eligible */
	assert_false(overlaps(&l, (uintptr_t)sample, (uintptr_t)sample + 1));
	/* sorted and coalesced */
	for (size_t i = 1; i < l.n; i++)
		assert_true(l.v[i - 1].end < l.v[i].start);
	vmas_free(&l);
	munmap(base, 2 * N * pg);

	assert_int_equal(vmas_read(-5, &l), -ENOENT);
	assert_int_equal(l.n, 0);
}

/* maps text far longer than vmas_read's buffer: read a buffer at a time, the
 * result is the one parsing the whole text gives, every VMA there. */
static void test_read_many(void **state)
{
	enum { N = 8000 };
	size_t page = (size_t)sysconf(_SC_PAGESIZE), cap = 1 << 20, len = 0;
	struct vma_list streamed = { 0 }, whole = { 0 };
	char *text = malloc(cap);
	unsigned char *base;
	size_t found = 0;
	FILE *f;

	(void)state;
	base = mmap(NULL, 2 * N * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_non_null(text);
	assert_true(base != MAP_FAILED);
	for (size_t i = 0; i < N; i++)
		assert_int_equal(munmap(base + (2 * i + 1) * page, page), 0);
	assert_int_equal(vmas_read(getpid(), &streamed), 0);
	f = fopen("/proc/self/maps", "r");
	assert_non_null(f);
	while (len < cap - 1 && fgets(text + len, (int)(cap - len), f))
		len += strlen(text + len);
	fclose(f);
	assert_true(len > 4 * 65536);   /* many buffers */
	assert_int_equal(vmas_parse(text, &whole, NULL), 0);
	/* stdio's buffers were mapped meanwhile, maybe next to the test's
	 * VMAs (then coalesced with them): every test VMA read a buffer at a
	 * time must lie in a range of the whole text. */
	for (size_t i = 0, j = 0; i < streamed.n; i++) {
		/* (the first may be coalesced with a mapping just below) */
		if (streamed.v[i].end <= (uintptr_t)base ||
		    streamed.v[i].start >= (uintptr_t)(base + 2 * N * page))
			continue;
		while (j < whole.n && whole.v[j].end < streamed.v[i].end)
			j++;
		assert_true(j < whole.n);
		assert_true(whole.v[j].start <= streamed.v[i].start);
		found++;
	}
	assert_int_equal(found, N);
	munmap(base, 2 * N * page);
	vmas_free(&streamed);
	vmas_free(&whole);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_sample),
		cmocka_unit_test(test_parse_edge_lines),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_subtract),
		cmocka_unit_test(test_read_self),
		cmocka_unit_test(test_read_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
