/* strlist.h — a growable list of owned strings (app names, excludes). */
#ifndef KSMPLUS_STRLIST_H
#define KSMPLUS_STRLIST_H
#include <stdbool.h>
#include <stddef.h>

struct strlist {
	char **v;
	size_t n, cap;
};

int strlist_add(struct strlist *l, const char *s);      /* 0 or -ENOMEM; no duplicates added */
bool strlist_contains(const struct strlist *l, const char *s);
bool strlist_remove(struct strlist *l, const char *s);            /* true if it was there */
void strlist_clear(struct strlist *l);
int strlist_copy(struct strlist *dst, const struct strlist *src);
#endif
