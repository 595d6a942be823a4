/* policy.c — the profit check (see policy.h). */
#include "policy.h"

#include <stdio.h>

#define MIB (1024LL * 1024)
#define PAGE_BYTES 4096LL
#define DAY_USEC (86400ULL * 1000000ULL)

long long policy_margin_bytes(const struct policy_app *a)
{
	long long five_percent = a->merging_pages * PAGE_BYTES / 20;

	return five_percent > MIB ? five_percent : MIB;
}

enum policy_verdict policy_judge_app(const struct policy_app *a, struct policy_loss *l,
				     long long full_scans, uint64_t now_usec,
				     unsigned min_scans, unsigned min_sec)
{
	/* Not scanned yet: nothing to judge. */
	if (a->rmap_items == 0)
		return POLICY_WAIT;
	if (a->saved_bytes >= -policy_margin_bytes(a)) {
		l->losing = false;
		return POLICY_KEEP;
	}
	if (!l->losing) {
		l->losing = true;
		l->since_scans = full_scans;
		l->since_usec = now_usec;
		return POLICY_WAIT;
	}
	/* Merging needs two sightings of a page (unstable tree, then stable):
	 * a loss counts once it outlived several full passes, and a minimum
	 * time, since at a high scan rate passes take well under a second. */
	if (full_scans - l->since_scans < (long long)min_scans ||
	    now_usec - l->since_usec < (uint64_t)min_sec * 1000000ULL)
		return POLICY_WAIT;
	return POLICY_DROP;
}

void policy_explain(const struct policy_app *a, char *buf, size_t len)
{
	snprintf(buf, len, "unprofitable: app loses %lld KiB (%lld rmap_items for %lld merging pages)",
		 -a->saved_bytes / 1024, a->rmap_items, a->merging_pages);
}

uint64_t policy_backoff_usec(unsigned base_sec, unsigned drops)
{
	uint64_t usec = (uint64_t)base_sec * 1000000ULL;

	for (unsigned i = 1; i < drops && usec < DAY_USEC; i++)
		usec *= 2;
	return usec < DAY_USEC ? usec : DAY_USEC;
}
