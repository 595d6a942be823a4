/* array.h — the one growth rule for the daemon's plain arrays (app names,
 * VMA ranges, tracked processes): double, starting at first. */
#ifndef KSMPLUS_ARRAY_H
#define KSMPLUS_ARRAY_H
#include <stdint.h>
#include <stdlib.h>

/* Makes room for one more element in v (n used of *cap): returns the array
 * to use from now on, or NULL (v and *cap unchanged, still valid). Returning
 * the pointer, rather than taking void **, keeps callers' types honest. */
static inline void *array_grow(void *v, size_t n, size_t *cap, size_t elem, size_t first)
{
	size_t ncap;
	void *nv;

	if (n < *cap)
		return v;
	ncap = *cap ? *cap * 2 : first;
	if (ncap < *cap || ncap > SIZE_MAX / elem)
		return NULL;
	nv = realloc(v, ncap * elem);
	if (nv)
		*cap = ncap;
	return nv;
}
#endif
