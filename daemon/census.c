/* census.c — the duplicate census's tally (census.h): hashes pages as they
 * come, then sorts the 16-byte entries to find groups of equal content. */
#include "census.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "array.h"

void census_init(struct census *c, unsigned sample, size_t page_size)
{
	memset(c, 0, sizeof(*c));
	c->sample = sample ? sample : 1;
	c->page_size = page_size;
	c->proc = UINT32_MAX;           /* the first VMA starts process 0 */
	c->pid = -1;
}

void census_free(struct census *c)
{
	free(c->e);
	free(c->ranges);
	free(c->maps);
	free(c->addr);
	c->addr = NULL;
	c->cap_addr = 0;
	free(c->tags);
	c->tags = NULL;
	c->cap_tags = 0;
	c->e = NULL;
	c->ranges = c->maps = NULL;
	c->n = c->cap = c->n_ranges = c->cap_ranges = c->n_maps = c->cap_maps = 0;
}

/* Not a stride (page number % N): content with a period (allocator
 * headers every 100 pages) aliases with it, measured 20 % off on 10 % zero
 * pages at N = 8. The page number through a Fibonacci hash picks one page
 * in N as evenly, with no period, and as deterministically. */
bool census_sampled(const struct census *c, uintptr_t addr)
{
	uint64_t pn = addr / c->page_size;

	return c->sample == 1 || ((pn * 0x9e3779b97f4a7c15ULL) >> 32) % c->sample == 0;
}

int census_classify(const void *page, size_t page_size)
{
	const unsigned char *p = page;

	/* every byte equals the next: one value throughout */
	if (page_size < 2 || memcmp(p, p + 1, page_size - 1) != 0)
		return 0;
	return p[0] == 0 ? 1 : 2;
}

int census_begin_vma(struct census *c, pid_t pid, uintptr_t start, uintptr_t end)
{
	/* The last VMA had no page hashed: nothing refers to its entry, which
	 * this one takes over. Otherwise a census of processes with many
	 * VMAs and few hashed pages (forked children whose pages are all
	 * shared since fork: 200 x 60,000 VMAs) would keep an entry a VMA. */
	if (c->n_maps && (!c->n_ranges || c->ranges[c->n_ranges - 1].map != c->n_maps - 1))
		c->n_maps--;
	struct census_area *m = array_grow(c->maps, c->n_maps, &c->cap_maps, sizeof(*m), 16);

	if (!m)
		return -ENOMEM;
	c->maps = m;
	if (pid != c->pid || c->proc == UINT32_MAX) {
		uint32_t *t = array_grow(c->tags, (size_t)c->proc + 1, &c->cap_tags, sizeof(*t), 16);

		if (!t)
			return -ENOMEM;
		c->tags = t;
		c->proc++;
		c->pid = pid;
		c->tags[c->proc] = c->tag;
	}
	c->maps[c->n_maps++] = (struct census_area){ .pid = pid, .start = start, .end = end };
	return 0;
}

void census_set_tag(struct census *c, uint32_t tag)
{
	c->tag = tag;
}

void census_count_resident(struct census *c, uint64_t n)
{
	c->resident += n;
}

/* The current 2 MiB range of the current VMA, added when addr leaves the
 * last one (pages come in increasing order). Its index, or -ENOMEM. */
static long range_of(struct census *c, uintptr_t addr)
{
	uintptr_t base = addr >> CENSUS_RANGE_SHIFT << CENSUS_RANGE_SHIFT;
	uint32_t map = (uint32_t)(c->n_maps - 1);
	struct census_area *r;

	if (c->n_ranges && c->ranges[c->n_ranges - 1].map == map &&
	    c->ranges[c->n_ranges - 1].start == base)
		return (long)c->n_ranges - 1;
	r = array_grow(c->ranges, c->n_ranges, &c->cap_ranges, sizeof(*r), 64);
	if (!r)
		return -ENOMEM;
	c->ranges = r;
	c->ranges[c->n_ranges] = (struct census_area){ .pid = c->pid, .start = base,
		.end = base + (1UL << CENSUS_RANGE_SHIFT), .map = map };
	return (long)c->n_ranges++;
}

int census_add_page(struct census *c, uintptr_t addr, const void *page)
{
	struct census_entry *e;
	long range;
	int kind;

	if (!c->n_maps)
		return -EINVAL;
	if (c->max_sampled && c->n >= c->max_sampled)
		return -E2BIG;
	range = range_of(c, addr);
	if (range < 0)
		return (int)range;
	e = array_grow(c->e, c->n, &c->cap, sizeof(*e), 1024);
	if (!e)
		return -ENOMEM;
	c->e = e;
	if (c->keep_addr) {
		uintptr_t *a = array_grow(c->addr, c->n, &c->cap_addr, sizeof(*a), 1024);

		if (!a)
			return -ENOMEM;
		c->addr = a;
		c->addr[c->n] = addr;
	}
	kind = census_classify(page, c->page_size);
	c->zero_pages += kind == 1;
	c->repeated_pages += kind == 2;
	c->e[c->n++] = (struct census_entry){ .hash = XXH3_64bits(page, c->page_size),
		.proc = c->proc, .range = (uint32_t)range };
	c->ranges[range].pages++;
	c->maps[c->ranges[range].map].pages++;
	return 0;
}

void census_mark(const struct census *c, struct census_mark *m)
{
	*m = (struct census_mark){ .n = c->n, .n_ranges = c->n_ranges, .n_maps = c->n_maps,
		.zero = c->zero_pages, .repeated = c->repeated_pages, .resident = c->resident,
		.proc = c->proc, .pid = c->pid };
}

void census_rollback(struct census *c, const struct census_mark *m)
{
	c->n = m->n;
	c->n_ranges = m->n_ranges;
	c->n_maps = m->n_maps;
	c->zero_pages = m->zero;
	c->repeated_pages = m->repeated;
	c->resident = m->resident;
	c->proc = m->proc;
	c->pid = m->pid;
	/* areas before the mark are another process's: untouched since */
}

void census_keep_addresses(struct census *c)
{
	c->keep_addr = true;
}

/* census_group_sizes' scratch: a hash and where its entry is. */
struct hash_at {
	uint64_t hash;
	size_t i;
};

static int hash_at_cmp(const void *a, const void *b)
{
	const struct hash_at *x = a, *y = b;

	return x->hash < y->hash ? -1 : x->hash > y->hash;
}

/* Sorting a copy leaves the entries in page order, which range enrollment
 * walks; the copy lives only as long as this call. */
int census_group_sizes(const struct census *c, uint32_t *m)
{
	struct hash_at *h = c->n ? malloc(c->n * sizeof(*h)) : NULL;

	if (c->n && !h)
		return -ENOMEM;
	for (size_t i = 0; i < c->n; i++)
		h[i] = (struct hash_at){ c->e[i].hash, i };
	if (c->n > 1)
		qsort(h, c->n, sizeof(*h), hash_at_cmp);
	for (size_t i = 0, j; i < c->n; i = j) {
		for (j = i + 1; j < c->n && h[j].hash == h[i].hash; j++)
			;
		for (size_t k = i; k < j; k++)
			m[h[k].i] = (uint32_t)(j - i > UINT32_MAX ? UINT32_MAX : j - i);
	}
	free(h);
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct census_entry *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->proc < y->proc ? -1 : x->proc > y->proc;
}

/* What a group of m sampled pages of equal content stands for: with every
 * page hashed, m pages, of which m - 1 are saved; sampled one in N, a group
 * seen m >= 2 times holds about m * N pages. A content seen once in the
 * sample is counted as unique: groups smaller than N mostly go unseen. */
static uint64_t group_saved(uint64_t m, unsigned n)
{
	if (m < 2)
		return 0;
	return m * n - 1;
}

/* Keeps the CENSUS_TOP areas with the most duplicate pages, best first. */
static size_t top_areas(const struct census_area *a, size_t n, struct census_area *top)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		size_t at;

		if (!a[i].dup_pages)
			continue;
		for (at = k; at > 0 && top[at - 1].dup_pages < a[i].dup_pages; at--)
			;
		if (at >= CENSUS_TOP)
			continue;
		if (k < CENSUS_TOP)
			k++;
		memmove(&top[at + 1], &top[at], (k - 1 - at) * sizeof(*top));
		top[at] = a[i];
	}
	return k;
}

void census_sort(struct census *c)
{
	if (c->n > 1)
		qsort(c->e, c->n, sizeof(*c->e), entry_cmp);
}

/* The first entry of sorted o with hash h or above. */
static size_t lower_bound(const struct census *o, uint64_t h)
{
	size_t lo = 0, hi = o->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (o->e[mid].hash < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Pages a group of m sampled pages stands for: as group_saved, a content
 * seen once in the sample is one page. */
static double group_pages(uint64_t m, unsigned n)
{
	return m < 2 ? (double)m : (double)(m * n);
}

/* Per other app (indexed by tag): pages of ours it holds too, and the part
 * of our saving owed to it. */
struct other_tally {
	double *pages, *depends;
	size_t n;
};

/* The group e[0..m) of c against o: what merging it with the other apps'
 * equal pages adds to this app's saving (see census_report). */
static double group_against(const struct census *o, const struct census_entry *e, uint64_t m,
			    unsigned n, struct other_tally *t)
{
	size_t lo = lower_bound(o, e->hash), hi;
	double mm, kk, dep;

	for (hi = lo; hi < o->n && o->e[hi].hash == e->hash; hi++)
		;
	if (hi == lo)
		return 0;
	mm = group_pages(m, n);
	kk = group_pages(hi - lo, n);
	/* shared: (M + K - 1) * M / (M + K); alone: M - 1 (0 for a unique) */
	dep = (mm + kk - 1) * mm / (mm + kk) - (m < 2 ? 0 : mm - 1);
	for (size_t k = lo; k < hi; k++) {
		uint32_t tag = o->tags[o->e[k].proc];
		bool first = true;

		if (tag >= t->n)
			continue;
		for (size_t x = lo; x < k && first; x++)
			first = o->tags[o->e[x].proc] != tag;
		if (first)
			t->pages[tag] += mm;
		t->depends[tag] += dep / (double)(hi - lo);
	}
	return dep;
}

/* Keeps the CENSUS_TOP other apps owed the most, best first. */
static void top_others(const struct other_tally *t, struct census_report *r)
{
	for (size_t i = 0; i < t->n; i++) {
		struct census_other x = { .tag = (uint32_t)i, .pages = (uint64_t)llround(t->pages[i]),
			.depends = (uint64_t)llround(t->depends[i]) };
		size_t at;

		if (!x.pages)
			continue;
		for (at = r->n_others; at > 0 && r->others[at - 1].depends < x.depends; at--)
			;
		if (at >= CENSUS_TOP)
			continue;
		if (r->n_others < CENSUS_TOP)
			r->n_others++;
		memmove(&r->others[at + 1], &r->others[at], (r->n_others - 1 - at) * sizeof(*r->others));
		r->others[at] = x;
	}
}

/* The number of tags o's processes use. */
static size_t tag_count(const struct census *o)
{
	size_t n = 0;

	if (!o->n || o->proc == UINT32_MAX)
		return 0;
	for (uint32_t p = 0; p <= o->proc; p++)
		n = o->tags[p] + 1 > n ? o->tags[p] + 1 : n;
	return n;
}

void census_report(struct census *c, struct census_report *r)
{
	census_report_against(c, NULL, r);
}

void census_report_against(struct census *c, const struct census *o, struct census_report *r)
{
	uint64_t dup_sampled = 0;
	unsigned n = c->sample;
	struct other_tally t = { 0 };
	double depends = 0, dup_other = 0;

	memset(r, 0, sizeof(*r));
	if (o && o->n) {
		t.n = tag_count(o);
		t.pages = calloc(t.n ? t.n : 1, sizeof(double));
		t.depends = calloc(t.n ? t.n : 1, sizeof(double));
		if (!t.pages || !t.depends)
			t.n = 0;        /* the figures, without the per-app split */
	}
	r->sample = n;
	r->sampled = c->n;
	r->resident = c->resident;
	r->zero = c->zero_pages * n;
	r->repeated = c->repeated_pages * n;
	census_sort(c);
	for (size_t i = 0, j; i < c->n; i = j) {
		for (j = i + 1; j < c->n && c->e[j].hash == c->e[i].hash; j++)
			;
		uint64_t m = j - i;

		r->saved += group_saved(m, n);
		if (o && o->n) {
			double dep = group_against(o, &c->e[i], m, n, &t);

			depends += dep;
			dup_other += dep > 0 ? group_pages(m, n) : 0;
		}
		if (m < 2)
			continue;
		dup_sampled += m;
		/* within: each process's run of this content, merged alone */
		for (size_t a = i, b; a < j; a = b) {
			for (b = a + 1; b < j && c->e[b].proc == c->e[a].proc; b++)
				;
			r->dup_within += group_saved(b - a, n);
		}
		for (size_t k = i; k < j; k++) {
			struct census_area *rg = &c->ranges[c->e[k].range];

			rg->dup_pages += n;
			c->maps[rg->map].dup_pages += n;
		}
	}
	r->dup_across = r->saved - r->dup_within;
	/* Each sampled duplicate stands for N pages: the binomial spread of
	 * N * D is N * sqrt(D * (1 - 1/N)) pages; two of those are ~95 %. */
	if (n > 1)
		r->error = (uint64_t)ceil(2.0 * n * sqrt((double)dup_sampled * (1.0 - 1.0 / n)));
	r->rmap_bytes = r->resident * CENSUS_RMAP_ITEM_BYTES;
	r->net_bytes = (int64_t)(r->saved * c->page_size) - (int64_t)r->rmap_bytes;
	r->n_top_maps = top_areas(c->maps, c->n_maps, r->top_maps);
	r->n_top_ranges = top_areas(c->ranges, c->n_ranges, r->top_ranges);
	for (size_t i = 0; i < r->n_top_maps; i++)
		r->top_maps[i].pages *= n;      /* estimated, like dup_pages */
	for (size_t i = 0; i < r->n_top_ranges; i++)
		r->top_ranges[i].pages *= n;
	r->dup_other = (uint64_t)llround(dup_other);
	r->depends = (uint64_t)llround(depends);
	r->saved_shared = r->saved + r->depends;
	top_others(&t, r);
	free(t.pages);
	free(t.depends);
}
