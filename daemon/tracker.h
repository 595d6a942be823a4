/* tracker.h — the processes ksmplusd has matched: which app, how they were
 * enrolled (or why not), and the ranges advised so rescans add only new ones.
 * Only matching processes live here, so a plain array is enough. */
#ifndef KSMPLUS_TRACKER_H
#define KSMPLUS_TRACKER_H
#include <stddef.h>
#include <stdint.h>
#include "enroll.h"
#include "pidref.h"
#include "vmas.h"

enum tracked_state {
	TRACKED_ENROLLED,
	TRACKED_SKIPPED,        /* cannot be enrolled (traced, seccomp, ...) */
	TRACKED_FAILED,
	TRACKED_DROPPED,        /* enrolled, then undone by policy: it lost memory */
};

struct tracked {
	struct pidref ref;
	char app[256];
	char comm[16];
	enum tracked_state state;
	enum enroll_mode mode;
	struct vma_list advised;        /* ENROLL_RANGES: what was advised */
	/* An app is a process tree: by_tree when the process belongs to the
	 * app through an ancestor, not by its own name; inherited when it was
	 * enrolled by fork/exec from an enrolled parent (KSM keeps the merge
	 * setting), not by us. */
	bool by_tree;
	bool by_cgroup;                 /* a cgroup app's member (cgroups.h) */
	bool inherited;
	char reason[160];               /* why skipped or failed */
	/* A "later" skip (stopped, in D state, interrupted...) is retried with
	 * exponential back-off: when (CLOCK_MONOTONIC usec, 0 = not due) and
	 * how many times so far. */
	uint64_t retry_usec;
	unsigned retries;
};

struct tracker {
	struct tracked *v;
	size_t n, cap;
};

struct tracked *tracker_find(struct tracker *t, pid_t pid);
/* Adds an entry (takes ownership of ref's pidfd). NULL on ENOMEM. app and
 * comm may point into the tracker itself. The add may move every entry:
 * pointers to entries taken before it are stale after it. */
struct tracked *tracker_add(struct tracker *t, const struct pidref *ref, const char *app,
			    const char *comm);
void tracker_remove(struct tracker *t, pid_t pid);
void tracker_clear(struct tracker *t);
size_t tracker_count(const struct tracker *t, const char *app, enum tracked_state state);
const char *tracker_state_name(enum tracked_state s);
#endif
