/* ksmstat.h — KSM's per-process accounting (/proc/PID/ksm_stat) and its
 * global figures (/sys/kernel/mm/ksm/). */
#ifndef KSMPLUS_KSMSTAT_H
#define KSMPLUS_KSMSTAT_H
#include <stdbool.h>
#include <sys/types.h>

struct ksm_stat {
	long long rmap_items;
	long long merging_pages;
	long long zero_pages;
	long long process_profit;   /* bytes, may be negative */
	bool merge_any;
	bool mergeable;
};

/* Parses ksm_stat text; unknown lines are ignored, missing fields stay 0.
 * 0 or -EINVAL if no known field was found. */
int ksmstat_parse(const char *text, struct ksm_stat *out);
int ksmstat_read(pid_t pid, struct ksm_stat *out);   /* 0 or -errno */
/* /proc/PID/ksm_merging_pages alone: 0 or -errno. ksm_stat's last line
 * (ksm_mergeable) walks every VMA under the mmap lock — 22 ms for a process
 * of 60,000 VMAs, and it waits behind a fork of that process — while this
 * file is one counter: what a per-tick reader of many processes wants. */
int ksmstat_read_merging(pid_t pid, long long *pages);
#endif
