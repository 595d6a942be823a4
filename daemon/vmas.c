/* vmas.c — find the memory KSM could merge in a process, from /proc/PID/maps.
 *
 * Line format (proc(5)):  start-end perms offset dev inode [path]
 *   7f0c1c000000-7f0c1c021000 rw-p 00000000 00:00 0          [anon:glibc]
 * KSM only merges anonymous private pages, so a range is eligible when it
 * is private ('p') and writable ('w') — read-only private memory is never
 * duplicated by the app writing into it — has no backing inode, and its path
 * is empty, [heap], [stack] or a named anonymous region [anon:...].  The
 * special mappings [vdso], [vvar], [vsyscall], [uprobes] ... fall out of the
 * same rule because they are not in that list. */
#include "vmas.h"
#include "array.h"

#define VMAS_LINE_MAX (4096 + 256)	/* PATH_MAX path plus the fixed fields */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int vmas_push(struct vma_list *l, uintptr_t start, uintptr_t end)
{
	void *grown = array_grow(l->v, l->n, &l->cap, sizeof(*l->v), 32);

	if (!grown)
		return -ENOMEM;
	l->v = grown;
	l->v[l->n].start = start;
	l->v[l->n].end = end;
	l->n++;
	return 0;
}

/* Parses one hex or decimal unsigned field ending at a delimiter; advances *p. */
static bool parse_num(const char **p, int base, char delim, uintmax_t *out)
{
	char *end;

	/* strtoumax would accept a sign or leading space; /proc never emits them. */
	if (!isxdigit((unsigned char)**p))
		return false;
	errno = 0;
	*out = strtoumax(*p, &end, base);
	if (errno || *end != delim)
		return false;
	*p = end + 1;
	return true;
}

static bool path_is_anon(const char *path)
{
	return path[0] == '\0' || strcmp(path, "[heap]") == 0 ||
	       strcmp(path, "[stack]") == 0 ||
	       /* [stack:TID] is how kernels before 4.5 named thread stacks. */
	       strncmp(path, "[stack:", 7) == 0 ||
	       strncmp(path, "[anon:", 6) == 0;
}

/* Parses one maps line (NUL-terminated, no newline). Returns 1 if the range is
 * eligible (start/end set), 0 if not, -EINVAL if malformed. */
static int parse_line(const char *p, uintptr_t *start, uintptr_t *end)
{
	uintmax_t s, e, off, maj, min, inode;
	char perms[4], *tail;

	if (!parse_num(&p, 16, '-', &s) || !parse_num(&p, 16, ' ', &e) ||
	    s >= e || e > UINTPTR_MAX)
		return -EINVAL;
	if (strnlen(p, 5) < 5 || p[4] != ' ')
		return -EINVAL;
	memcpy(perms, p, sizeof(perms));
	/* strchr also finds the NUL, but the length check above excludes it. */
	if (!strchr("r-", perms[0]) || !strchr("w-", perms[1]) ||
	    !strchr("x-", perms[2]) || !strchr("ps", perms[3]))
		return -EINVAL;
	p += 5;
	if (!parse_num(&p, 16, ' ', &off) || !parse_num(&p, 16, ':', &maj) ||
	    !parse_num(&p, 16, ' ', &min))
		return -EINVAL;
	/* The inode is the last fixed field; the line may end right after it. */
	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	errno = 0;
	inode = strtoumax(p, &tail, 10);
	if (errno || (*tail != '\0' && *tail != ' '))
		return -EINVAL;
	p = tail + strspn(tail, " ");
	*start = (uintptr_t)s;
	*end = (uintptr_t)e;
	return perms[1] == 'w' && perms[3] == 'p' && inode == 0 && path_is_anon(p);
}

static int cmp_range(const void *a, const void *b)
{
	const struct vma_range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* Sorts and merges overlapping or adjacent ranges.  Reading maps of a live
 * process can restart mid-file after the process changed its mappings, so
 * a range may legitimately repeat or overlap the one before it. */
static void vmas_normalize(struct vma_list *l)
{
	size_t w = 0;

	if (l->n < 2)
		return;
	qsort(l->v, l->n, sizeof(*l->v), cmp_range);
	for (size_t r = 1; r < l->n; r++) {
		if (l->v[r].start <= l->v[w].end) {
			if (l->v[r].end > l->v[w].end)
				l->v[w].end = l->v[r].end;
		} else {
			l->v[++w] = l->v[r];
		}
	}
	l->n = w + 1;
}

/* Appends the eligible ranges of text's lines (no sorting, no undo on
 * error: the callers do both); *lineno counts lines across calls. */
static int parse_text(const char *text, struct vma_list *out, int *lineno)
{
	char line[VMAS_LINE_MAX];

	while (*text) {
		const char *nl = strchr(text, '\n');
		size_t len = nl ? (size_t)(nl - text) : strlen(text);
		uintptr_t s, e;
		int r;

		++*lineno;
		r = len < sizeof(line) ? 1 : -EINVAL;
		if (r > 0) {
			memcpy(line, text, len);
			line[len] = '\0';
			r = parse_line(line, &s, &e);
		}
		if (r < 0)
			return -EINVAL;
		if (r > 0 && vmas_push(out, s, e) < 0)
			return -ENOMEM;
		text += len + (nl != NULL);
	}
	return 0;
}

int vmas_parse(const char *text, struct vma_list *out, int *bad_line)
{
	size_t orig_n = out->n;
	int lineno = 0, r = parse_text(text, out, &lineno);

	if (r < 0) {
		if (bad_line && r == -EINVAL)
			*bad_line = lineno;
		out->n = orig_n;	/* all or nothing */
		return r;
	}
	vmas_normalize(out);
	return 0;
}

/* Reads maps a buffer at a time, parsing the whole lines of each: a process
 * with 60,000 VMAs has 4 MB of maps text, which the daemon need not hold
 * (only the ranges it keeps cost memory, and only where it keeps them). */
int vmas_read(pid_t pid, struct vma_list *out)
{
	char path[64], buf[65536];
	size_t len = 0, orig_n = out->n;
	int fd, r = 0, lineno = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
		char *last_nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		len += (size_t)n;
		buf[len] = '\0';
		last_nl = n == 0 ? buf + len : strrchr(buf, '\n');
		if (!last_nl) {
			r = len == sizeof(buf) - 1 ? -EINVAL : 0;  /* a line longer than buf */
			if (r < 0)
				break;
			continue;
		}
		char keep = *last_nl;

		*last_nl = '\0';
		r = parse_text(buf, out, &lineno);
		if (r < 0 || n == 0)
			break;
		*last_nl = keep;
		len -= (size_t)(last_nl + 1 - buf);
		memmove(buf, last_nl + 1, len);
	}
	close(fd);
	if (r < 0) {
		out->n = orig_n;
		return r;
	}
	vmas_normalize(out);
	return 0;
}

int vmas_subtract(const struct vma_list *cur, const struct vma_list *prev, struct vma_list *out)
{
	size_t j = 0;

	out->n = 0;
	for (size_t i = 0; i < cur->n; i++) {
		uintptr_t s = cur->v[i].start, e = cur->v[i].end;

		/* prev ranges wholly below this one can never cover later ones. */
		while (j < prev->n && prev->v[j].end <= s)
			j++;
		for (size_t k = j; k < prev->n && prev->v[k].start < e && s < e; k++) {
			if (prev->v[k].start > s && vmas_push(out, s, prev->v[k].start) < 0)
				return -ENOMEM;
			if (prev->v[k].end > s)
				s = prev->v[k].end;
		}
		if (s < e && vmas_push(out, s, e) < 0)
			return -ENOMEM;
	}
	return 0;
}

size_t vmas_bytes(const struct vma_list *l)
{
	size_t sum = 0;

	for (size_t i = 0; i < l->n; i++)
		sum += l->v[i].end - l->v[i].start;
	return sum;
}

void vmas_clear(struct vma_list *l)
{
	l->n = 0;
}

void vmas_free(struct vma_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}
