/* strlist.c — a growable list of owned strings (app names, excludes).
 * Lists stay short (a handful of app names), so linear search is the right
 * trade: no hashing, order preserved, which keeps "first match wins" stable. */
#include "strlist.h"
#include "array.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int strlist_add(struct strlist *l, const char *s)
{
	char *dup;

	if (!s)
		return -EINVAL;
	/* Silently ignoring duplicates lets config files repeat a name. */
	if (strlist_contains(l, s))
		return 0;
	void *grown = array_grow(l->v, l->n, &l->cap, sizeof(*l->v), 8);

	if (!grown)
		return -ENOMEM;
	l->v = grown;
	dup = strdup(s);
	if (!dup)
		return -ENOMEM;
	l->v[l->n++] = dup;
	return 0;
}

bool strlist_contains(const struct strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return true;
	return false;
}

bool strlist_remove(struct strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++) {
		if (strcmp(l->v[i], s) != 0)
			continue;
		free(l->v[i]);
		/* memmove, not swap-with-last: callers rely on list order. */
		memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(*l->v));
		l->n--;
		return true;
	}
	return false;
}

void strlist_clear(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

int strlist_copy(struct strlist *dst, const struct strlist *src)
{
	if (dst == src)
		return 0;
	strlist_clear(dst);
	for (size_t i = 0; i < src->n; i++) {
		if (strlist_add(dst, src->v[i]) < 0) {
			/* Never leave a half copy behind. */
			strlist_clear(dst);
			return -ENOMEM;
		}
	}
	return 0;
}
