/* policy.h — should an enrolled process stay enrolled?  KSM keeps an
 * rmap_item (64 bytes) for every page it scans, merged or not, so enrolling
 * memory with few duplicates costs memory.  The kernel's own yardstick
 * (Documentation/admin-guide/mm/ksm.rst): ksm_process_profit < 0, i.e.
 * ksm_rmap_items / ksm_merging_pages > 64 on 64-bit — then the enrollment
 * loses memory and should be dropped. */
#ifndef KSMPLUS_POLICY_H
#define KSMPLUS_POLICY_H
#include <stddef.h>
#include "ksmstat.h"

enum policy_verdict {
	POLICY_WAIT,    /* too early: ksmd has not scanned it enough */
	POLICY_KEEP,
	POLICY_DROP,    /* costs more than it saves */
};

/* scans: full ksmd scans completed since the process was enrolled. */
enum policy_verdict policy_judge(const struct ksm_stat *st, long long scans,
				 unsigned min_scans);
/* One line saying why (for status and the log). */
void policy_explain(const struct ksm_stat *st, char *buf, size_t len);
#endif
