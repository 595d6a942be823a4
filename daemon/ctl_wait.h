/* ctl_wait.h — ksmplusctl add --wait: when an app's memory has merged, told
 * from the daemon's status replies (fields in protocol.h). Kept apart from
 * ksmplusctl's main() so unit tests can drive it with replies: its
 * smart_scan branch needs a kernel with smart_scan on and a workload that
 * merges slowly to run otherwise. */
#ifndef KSMPLUS_CTL_WAIT_H
#define KSMPLUS_CTL_WAIT_H
#include <stdbool.h>
#include "control.h"

/* Quiet full scans that mean merged: KSM merges a new page in the scan after
 * the one that saw it unchanged (2); with smart_scan on, a page that has not
 * merged yet is compared once in up to 9 scans (skipped 1, 2, 4, then 8). */
#define CTL_WAIT_QUIET_SCANS 2
#define CTL_WAIT_QUIET_SCANS_SMART 10

/* An app's figures in a status reply: the global record's and its own. */
struct ctl_app_now {
	long long merging_kib, enrolled_kib, saved_kib, full_scans, procs;
	int run, smart_scan;    /* -1: not known */
	bool paused;
};
/* 0, or -1 if the reply has no record of app. */
int ctl_app_now(const struct control_reply *r, const char *app, struct ctl_app_now *a);

/* The quiet full scans to wait for: smart_scan 1 (on), else 0 or -1 (off,
 * or a kernel before 6.7 that has none). */
int ctl_wait_quiet_scans(int smart_scan);

struct ctl_wait {
	long long scans0;               /* full scans when the wait began; -1: not yet */
	long long best, scans_at_best;  /* most merging seen, and at which scan */
};
void ctl_wait_init(struct ctl_wait *w);
/* One status reply's figures of the app: true once ctl_wait_quiet_scans()
 * full scans passed since the wait began and since its merging last grew. */
bool ctl_wait_merged(struct ctl_wait *w, const struct ctl_app_now *a);
#endif
