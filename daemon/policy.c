/* policy.c — the profit check (see policy.h). */
#include "policy.h"

#include <stdio.h>

enum policy_verdict policy_judge(const struct ksm_stat *st, long long scans,
				 unsigned min_scans)
{
	/* Merging needs two sightings of a page (unstable tree, then stable);
	 * judge only after ksmd has had several full passes over it. */
	if (scans < (long long)min_scans || st->rmap_items == 0)
		return POLICY_WAIT;
	if (st->process_profit < 0)
		return POLICY_DROP;
	return POLICY_KEEP;
}

void policy_explain(const struct ksm_stat *st, char *buf, size_t len)
{
	snprintf(buf, len, "unprofitable: %lld rmap_items for %lld merging pages (profit %lld KiB)",
		 st->rmap_items, st->merging_pages, st->process_profit / 1024);
}
