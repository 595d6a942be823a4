/* members.c — which processes belong to which app. An app is a process
 * tree: a process matching an app name, and its descendants (found through
 * their parent, kept across exec and re-parenting) unless excluded or
 * matched by another app; or a cgroup (cgroups.h): every process in it.
 * Fed by procwatch events and sweeps, and a timer for cgroups. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroups.h"
#include "daemon.h"
#include "ksmstat.h"
#include "log.h"
#include "match.h"
#include "pidref.h"

/* A process that inherited KSM's merge-any setting (a child of an enrolled
 * process, forked or exec'd) is enrolled already: no injection, which also
 * covers sandboxed children that could not be injected. */
static bool already_merging(struct tracked *t)
{
	struct ksm_stat st = { 0 };

	if (ksmstat_read(t->ref.pid, &st) < 0 || !st.merge_any)
		return false;
	t->state = TRACKED_ENROLLED;
	t->mode = ENROLL_WHOLE;
	t->inherited = true;
	t->reason[0] = '\0';
	vmas_free(&t->advised);         /* merge-any covers all of mm: no ranges */
	/* A process renaming itself in and out of an app repeats this. */
	log_limited("inherited", t->ref.pid, LOG_INFO, "%s[%d] (app %s) is enrolled by inheritance",
		    t->comm, (int)t->ref.pid, t->app);
	return true;
}

/* The effective uid of pid (its security domain: a setuid program holds
 * its owner's data), from /proc/PID/status. 0 or -errno. */
static int proc_euid(pid_t pid, uid_t *uid)
{
	char path[64], line[256];
	unsigned long real, eff;
	int rc = -EINVAL;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Uid: %lu %lu", &real, &eff) == 2) {
			*uid = (uid_t)eff;
			rc = 0;
			break;
		}
	fclose(f);
	return rc;
}

/* Adds ref to the tracker unless max_processes are tracked already: a fork
 * bomb of an enrolled app must not grow the daemon without bound. Said once
 * each time the cap is reached; status counts the processes left out. NULL
 * (ref closed) when not added. */
static struct tracked *track(struct daemon *d, struct pidref *ref, const char *app,
			     const char *comm)
{
	struct tracked *t;

	if (d->tr.n >= d->cfg.max_processes) {
		if (!d->tr.at_cap)
			log_warn("tracking %zu processes, the max_processes cap: PID %d (app %s) "
				 "and later ones are left alone until fewer run", d->tr.n,
				 (int)ref->pid, app);
		d->tr.at_cap = true;
		d->tr.refused++;
		pidref_close(ref);
		return NULL;
	}
	if (d->tr.at_cap && d->tr.n < d->cfg.max_processes * 9 / 10) {
		log_info("tracking %zu processes, below the max_processes cap again (%zu were "
			 "left alone)", d->tr.n, d->tr.refused);
		d->tr.at_cap = false;
	}
	t = tracker_add(&d->tr, ref, app, comm);
	if (!t) {
		log_err("out of memory tracking PID %d", (int)ref->pid);
		pidref_close(ref);
		return NULL;
	}
	if (proc_euid(ref->pid, &t->uid) < 0)
		t->uid = (uid_t)-1;
	return t;
}

/* A process that matches: confirm its identity, then enroll it. */
static void consider(struct daemon *d, const struct procwatch_info *info, const char *app,
		     bool by_tree, bool by_cgroup)
{
	struct pidref ref;
	struct tracked *t;
	int rc;

	rc = pidref_open(&ref, info->pid, info->start_time);
	if (rc < 0) {
		if (rc != -ESRCH)
			log_warn("cannot open pidfd for PID %d: %s", (int)info->pid, strerror(-rc));
		return;
	}
	t = track(d, &ref, app, info->comm);
	if (!t)
		return;
	t->by_tree = by_tree;
	t->by_cgroup = by_cgroup;
	if (!already_merging(t))
		lifecycle_enroll(d, t);
	if (t->state == TRACKED_FAILED && !pidref_alive(&t->ref))
		tracker_remove(&d->tr, info->pid);      /* exited mid-enroll */
}

/* The app a process belongs to through its tree: its own tracked entry's
 * (membership sticks across exec and re-parenting), else its parent's.
 * Copied into buf: the tracker may move before the caller is done. */
static const char *tree_app(struct daemon *d, const struct procwatch_info *info,
			    const struct tracked *t, char *buf, size_t len)
{
	const struct tracked *parent;

	if (match_any(&d->cfg.excludes, info->comm, info->exe_base))
		return NULL;
	if (t && t->by_tree && (!info->start_time || info->start_time == t->ref.start_time)) {
		snprintf(buf, len, "%s", t->app);
		return buf;
	}
	parent = info->parent_pid > 1 ? tracker_find(&d->tr, info->parent_pid) : NULL;
	/* A dropped parent lost memory by merging: its children are not
	 * enrolled behind its back. children = no: the app is not a tree. */
	if (!parent || parent->state == TRACKED_DROPPED ||
	    strlist_contains(&d->cfg.no_children, parent->app))
		return NULL;
	snprintf(buf, len, "%s", parent->app);
	return buf;
}

static void on_seen(struct daemon *d, const struct procwatch_info *info)
{
	const char *app;
	char tree[sizeof(((struct tracked *)0)->app)];
	bool by_tree = false, by_cgroup = false;
	struct tracked *t;

	if (info->pid == d->self || !info->exe_base[0])
		return;
	/* Its own name first, then its cgroup, then its ancestors'. */
	app = match_app(&d->apps.effective, &d->cfg.excludes, info->comm, info->exe_base);
	t = tracker_find(&d->tr, info->pid);
	if (!app && !match_any(&d->cfg.excludes, info->comm, info->exe_base)) {
		app = cgroup_match_app(&d->apps.effective, info->pid);
		by_cgroup = app != NULL;
	}
	if (!app) {
		app = tree_app(d, info, t, tree, sizeof(tree));
		by_tree = app != NULL;
	}
	if (t && (!app || (info->start_time && info->start_time != t->ref.start_time) ||
		  strcmp(t->app, app) != 0)) {
		/* Reused PID, or exec'd into something else: forget it. Its pages
		 * stay as they are; nobody asked to unmerge them. */
		tracker_remove(&d->tr, info->pid);
		t = NULL;
	}
	if (!app)
		return;
	if (t)
		tracker_set_comm(t, info->comm);     /* exec'd or renamed */
	if (!t) {
		consider(d, info, app, by_tree, by_cgroup);
	} else if (t->state == TRACKED_SKIPPED || t->state == TRACKED_FAILED ||
		   (t->state == TRACKED_ENROLLED && t->mode == ENROLL_RANGES)) {
		/* exec replaced the mm, or a retry: advise everything again
		 * (merge-any survives exec: nothing to do then). Dropped ones
		 * stay dropped: they were judged to lose memory. A forked
		 * child inherited its parent's ranges; after exec it holds
		 * only what we advise now (merge-any says so again). */
		vmas_clear(&t->advised);
		t->inherited = false;
		if (!already_merging(t))
			lifecycle_enroll(d, t);
	}
	daemon_update_status(d);
}

/* Reads the children of every thread of pid into kids (at most max). */
static size_t children_of(pid_t pid, pid_t *kids, size_t max)
{
	char path[64], buf[4096];
	size_t n = 0;
	DIR *dir;
	struct dirent *de;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return 0;
	while ((de = readdir(dir)) && n < max) {
		ssize_t len;
		int fd;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.12s/children", (int)pid, de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		for (char *p = buf, *end; n < max; p = end) {
			long k = strtol(p, &end, 10);

			if (end == p)
				break;
			kids[n++] = (pid_t)k;
		}
	}
	closedir(dir);
	return n;
}

/* After a sweep: descendants of tracked processes that the sweep met before
 * their parent (PIDs wrap) or that run under another name join the app now.
 * New entries are appended, so the loop reaches grandchildren too. */
static void walk_trees(struct daemon *d)
{
	pid_t kids[256];

	for (size_t i = 0; i < d->tr.n; i++) {
		pid_t pid = d->tr.v[i].ref.pid;
		size_t n;

		if (d->tr.v[i].state == TRACKED_DROPPED)
			continue;
		n = children_of(pid, kids, sizeof(kids) / sizeof(kids[0]));
		for (size_t k = 0; k < n; k++) {
			struct procwatch_info info;

			if (tracker_find(&d->tr, kids[k]) ||
			    procwatch_identify(kids[k], &info) < 0 || info.parent_pid != pid)
				continue;
			on_seen(d, &info);
		}
	}
}

/* Is ref (just opened) the child of parent? A fork event can arrive late
 * (events are batched, a sweep may run first): by then the child may have
 * exited and its PID gone to an unrelated process, which must not be taken
 * for an enrolled one (its ranges were once advised as if inherited). The
 * parent must still be the process we verified, and the process the pidfd
 * pins must have it as parent and be younger than it. */
static bool is_child_of(const struct pidref *ref, const struct pidref *parent)
{
	struct procwatch_info now;

	if (pidref_verify(parent) < 0 || procwatch_identify(ref->pid, &now) < 0)
		return false;
	/* The start time read after the pidfd was opened: the same process. */
	return now.start_time == ref->start_time && now.parent_pid == parent->pid &&
	       ref->start_time >= parent->start_time;
}

/* A child of an enrolled process inherits VM_MERGEABLE VMAs and the
 * merge-any flag through fork, so it is enrolled already: just track it. */
static void on_fork(struct daemon *d, const struct procwatch_info *info)
{
	static const struct vma_list none;
	struct tracked *parent = tracker_find(&d->tr, info->parent_pid);
	struct pidref ref;
	struct tracked *t;

	if (!parent || parent->state != TRACKED_ENROLLED || tracker_find(&d->tr, info->pid) ||
	    strlist_contains(&d->cfg.no_children, parent->app))
		return;
	if (pidref_open(&ref, info->pid, 0) < 0)
		return;
	if (!is_child_of(&ref, &parent->ref)) {
		log_debug("fork event: PID %d is no longer the child of %s[%d]; ignored",
			  (int)info->pid, parent->comm, (int)parent->ref.pid);
		pidref_close(&ref);
		return;
	}
	t = track(d, &ref, parent->app, "");
	if (!t)
		return;
	/* The add may have moved the array: parent is stale, look it up again. */
	parent = tracker_find(&d->tr, info->parent_pid);
	memcpy(t->comm, parent->comm, sizeof(t->comm));     /* escaped already */
	t->by_tree = true;
	t->inherited = true;
	t->state = TRACKED_ENROLLED;
	t->mode = parent->mode;
	t->census = parent->census;     /* censused with its app, as a new process */
	/* Enrolled by range: the child's advised ranges are its parent's (a
	 * copy: cur minus nothing). Whole-process: none to keep. */
	if (parent->mode == ENROLL_RANGES)
		vmas_subtract(&parent->advised, &none, &t->advised);
}

static void on_cgroup_member(pid_t pid, void *ud)
{
	struct daemon *d = ud;
	struct procwatch_info info;

	if (tracker_find(&d->tr, pid) || procwatch_identify(pid, &info) < 0)
		return;
	on_seen(d, &info);
}

void members_rescan_cgroups(struct daemon *d)
{
	if (!d->paused)
		cgroup_each_member(&d->apps.effective, on_cgroup_member, d);
}

void members_on_procwatch(enum procwatch_event ev, const struct procwatch_info *info, void *ud)
{
	struct daemon *d = ud;

	/* Paused by the kill switch: nothing joins an app until resumed. */
	if (d->paused && (ev == PW_SEEN || ev == PW_FORK || ev == PW_SWEEP_DONE))
		return;
	switch (ev) {
	case PW_SEEN:
		on_seen(d, info);
		break;
	case PW_FORK:
		on_fork(d, info);
		break;
	case PW_EXIT:
		if (tracker_find(&d->tr, info->pid)) {
			tracker_remove(&d->tr, info->pid);
			daemon_update_status(d);
		}
		break;
	case PW_SWEEP_DONE:
		for (size_t i = d->tr.n; i-- > 0;)
			if (!pidref_alive(&d->tr.v[i].ref))
				tracker_remove(&d->tr, d->tr.v[i].ref.pid);
		walk_trees(d);
		daemon_update_status(d);
		break;
	}
}

