/* policy.h — should an app stay enrolled?  KSM keeps an rmap_item (64 bytes)
 * for every page it scans, merged or not, so enrolling memory with few
 * duplicates costs memory.  The kernel's own yardstick
 * (Documentation/admin-guide/mm/ksm.rst) is per process: profit < 0.  Users
 * think in apps, and a browser's UI process may lose while the browser as a
 * whole wins, so an app is judged as a whole: its processes' savings summed,
 * dropped only on a clear loss (beyond a margin) that lasts several full
 * scans and a minimum time — at a high scan rate three scans pass in
 * seconds, and memory that is still being filled looks like a loss. */
#ifndef KSMPLUS_POLICY_H
#define KSMPLUS_POLICY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum policy_verdict {
	POLICY_WAIT,    /* too early, or the loss has not lasted long enough */
	POLICY_KEEP,
	POLICY_DROP,    /* costs more than it saves, clearly and for long */
};

/* An app's figures, summed over its enrolled processes. */
struct policy_app {
	long long merging_pages;
	long long rmap_items;
	long long saved_bytes;          /* merging's saving minus KSM's bookkeeping */
};

/* Since when an app loses memory; kept per app by the caller, zeroed at
 * enrollment. */
struct policy_loss {
	bool losing;
	long long since_scans;          /* ksmd full_scans when the loss was first seen */
	uint64_t since_usec;            /* CLOCK_MONOTONIC */
};

/* A loss counts only beyond max(1 MiB, 5 % of the app's merging memory). */
long long policy_margin_bytes(const struct policy_app *a);
enum policy_verdict policy_judge_app(const struct policy_app *a, struct policy_loss *l,
				     long long full_scans, uint64_t now_usec,
				     unsigned min_scans, unsigned min_sec);
/* One line saying why (for status and the log). */
void policy_explain(const struct policy_app *a, char *buf, size_t len);
/* How long a dropped app waits before it is enrolled and judged again: its
 * memory changes. base_sec doubled per earlier drop, at most a day. */
uint64_t policy_backoff_usec(unsigned base_sec, unsigned drops);
#endif
