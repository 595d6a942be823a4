/* ksmd.h — control of the ksmd thread through /sys/kernel/mm/ksm/. Every
 * knob the daemon writes is remembered with its old value and restored by
 * ksmd_restore(). The sysfs root is a parameter so tests can use a fake. */
#ifndef KSMPLUS_KSMD_H
#define KSMPLUS_KSMD_H
#include <stddef.h>
#include <sys/types.h>
#include "config.h"

#define KSMD_SYSFS "/sys/kernel/mm/ksm"

struct ksmd_global {
	long long pages_shared, pages_sharing, pages_unshared, pages_volatile;
	long long full_scans, general_profit, ksm_zero_pages;
	int run;
};

void ksmd_set_root(const char *sysfs_root);        /* default KSMD_SYSFS */
int ksmd_available(void);                          /* 1 if KSM sysfs exists */
/* Applies settings (plus run=1 unless set). Unknown knob on this kernel or a
 * rejected value -> -1 with "file:line: reason" in err; nothing half-applied
 * is left (already written knobs are restored). */
int ksmd_apply(const struct ksmd_setting *s, size_t n, char *err, size_t errlen);
void ksmd_restore(void);                           /* put back every knob changed */
/* The governor's writes: like [ksmd] settings, restored at stop. */
int ksmd_steer(const char *knob, const char *value);
/* Remembers knob's current value to restore at stop, without writing it:
 * for a knob the kernel itself changes as a side effect of another write
 * (advisor_mode resets pages_to_scan). */
int ksmd_remember(const char *knob);
/* Someone else set knob: it is theirs now, not restored at stop. */
void ksmd_forget(const char *knob);
/* Counts ksmd_restore() calls: after one, the knobs are back to what they
 * were, which is no one else's doing. */
unsigned ksmd_restores(void);
/* run = 2: the kernel unmerges every KSM page and frees its rmap_items;
 * blocks until it is done. run's old value is remembered like any knob's. */
int ksmd_unmerge_all(void);
int ksmd_read_global(struct ksmd_global *g);
int ksmd_read_knob(const char *knob, char *buf, size_t len);
/* The ksmd kernel thread: its PID (0 if none), and the CPU time it used
 * (utime + stime, clock ticks); -1 if pid is not ksmd (any more). */
pid_t ksmd_thread_pid(void);
int ksmd_thread_ticks(pid_t pid, unsigned long long *ticks);
#endif
