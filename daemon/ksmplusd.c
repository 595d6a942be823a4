/* ksmplusd.c — the daemon: wires config, process watch, matching and
 * enrollment into one sd-event loop, answers ksmplusctl, and talks to systemd
 * (READY/STATUS/WATCHDOG, reload on SIGHUP). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "applist.h"
#include "config.h"
#include "control.h"
#include "enroll.h"
#include "ksmd.h"
#include "ksmstat.h"
#include "rlimits.h"
#include "log.h"
#include "match.h"
#include "policy.h"
#include "pidref.h"
#include "procwatch.h"
#include "protocol.h"
#include "tracker.h"
#include "vmas.h"

#define KSMPLUS_VERSION "0.1.0"
#define KIB(bytes) ((long long)(bytes) / 1024)

struct daemon {
	sd_event *ev;
	struct config cfg;
	struct applist apps;
	struct enroller enr;
	struct tracker tr;
	struct procwatch *pw;
	struct control *ctl;
	sd_event_source *rescan;
	sd_event_source *reaper;        /* while a dead tracee awaits collection */
	sd_event_source *retry;         /* while a "later" skip awaits its retry */
	const char *config_path;
	pid_t self;             /* getpid() is a syscall; it runs per exec event */
	bool ready;
};

static void update_status(struct daemon *d);
static void arm_reaper(struct daemon *d);
static void schedule_retry(struct daemon *d, struct tracked *t);

/* ---- enrolling one process ------------------------------------------- */

static void enroll_tracked(struct daemon *d, struct tracked *t)
{
	struct vma_list ranges = { 0 };
	struct enroll_result res = { 0 };
	int rc;

	rc = vmas_read(t->ref.pid, &ranges);
	arm_reaper(d);          /* covers the previous attempt's leftovers too */
	if (rc < 0) {
		t->state = TRACKED_FAILED;
		snprintf(t->reason, sizeof(t->reason), "cannot read maps: %s", strerror(-rc));
		return;
	}
	if (enroll_process(&d->enr, &t->ref, &ranges, &res) == 0) {
		struct ksmd_global g = { 0 };

		ksmd_read_global(&g);
		t->scans_at_enroll = g.full_scans;
		t->state = TRACKED_ENROLLED;
		t->mode = res.mode;
		t->reason[0] = '\0';
		t->retries = 0;
		t->retry_usec = 0;
		vmas_free(&t->advised);
		t->advised = ranges;            /* ownership moves */
		log_info("enrolled %s[%d] (app %s, %s, %s)", t->comm, (int)t->ref.pid, t->app,
			 enroll_backend_name(d->enr.backend),
			 res.mode == ENROLL_WHOLE ? "whole process" : "by range");
		return;
	}
	vmas_free(&ranges);
	t->state = res.err == -ESRCH ? TRACKED_FAILED : TRACKED_SKIPPED;
	/* Said once per process, not at every retry or rescan. */
	if (!t->retries)
		log_warn("not enrolling %s[%d] (app %s): %s", t->comm, (int)t->ref.pid, t->app,
			 res.reason[0] ? res.reason : strerror(res.err < 0 ? -res.err : EIO));
	snprintf(t->reason, sizeof(t->reason), "%s",
		 res.reason[0] ? res.reason : strerror(res.err < 0 ? -res.err : EIO));
	/* Passing states (stopped, uninterruptible sleep, signal storms, an
	 * injection cut short) are worth another try; the rest are final. */
	if (res.err == -EAGAIN || res.err == -ETIMEDOUT ||
	    (res.err == -ESRCH && pidref_alive(&t->ref)))
		schedule_retry(d, t);
}

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
	log_info("%s[%d] (app %s) is enrolled by inheritance", t->comm, (int)t->ref.pid, t->app);
	return true;
}

/* A process that matches: confirm its identity, then enroll it. */
static void consider(struct daemon *d, const struct procwatch_info *info, const char *app,
		     bool by_tree)
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
	t = tracker_add(&d->tr, &ref, app, info->comm);
	if (!t) {
		pidref_close(&ref);
		log_err("out of memory tracking PID %d", (int)info->pid);
		return;
	}
	t->by_tree = by_tree;
	if (!already_merging(t))
		enroll_tracked(d, t);
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
	 * enrolled behind its back. */
	if (!parent || parent->state == TRACKED_DROPPED)
		return NULL;
	snprintf(buf, len, "%s", parent->app);
	return buf;
}

static void on_seen(struct daemon *d, const struct procwatch_info *info)
{
	const char *app;
	char tree[sizeof(((struct tracked *)0)->app)];
	bool by_tree = false;
	struct tracked *t;

	if (info->pid == d->self || !info->exe_base[0])
		return;
	app = match_app(&d->apps.effective, &d->cfg.excludes, info->comm, info->exe_base);
	t = tracker_find(&d->tr, info->pid);
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
		snprintf(t->comm, sizeof(t->comm), "%s", info->comm);     /* exec'd */
	if (!t) {
		consider(d, info, app, by_tree);
	} else if (t->state == TRACKED_SKIPPED || t->state == TRACKED_FAILED ||
		   (t->state == TRACKED_ENROLLED && t->mode == ENROLL_RANGES)) {
		/* exec replaced the mm, or a retry: advise everything again
		 * (merge-any survives exec: nothing to do then). Dropped ones
		 * stay dropped: they were judged to lose memory. */
		vmas_clear(&t->advised);
		if (!already_merging(t))
			enroll_tracked(d, t);
	}
	update_status(d);
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

/* A child of an enrolled process inherits VM_MERGEABLE VMAs and the
 * merge-any flag through fork, so it is enrolled already: just track it. */
static void on_fork(struct daemon *d, const struct procwatch_info *info)
{
	static const struct vma_list none;
	struct tracked *parent = tracker_find(&d->tr, info->parent_pid);
	struct pidref ref;
	struct tracked *t;

	if (!parent || parent->state != TRACKED_ENROLLED || tracker_find(&d->tr, info->pid))
		return;
	if (pidref_open(&ref, info->pid, 0) < 0)
		return;
	t = tracker_add(&d->tr, &ref, parent->app, parent->comm);
	if (!t) {
		pidref_close(&ref);
		log_err("out of memory tracking PID %d", (int)info->pid);
		return;
	}
	/* The add may have moved the array: parent is stale, look it up again. */
	parent = tracker_find(&d->tr, info->parent_pid);
	t->by_tree = true;
	t->inherited = true;
	t->state = TRACKED_ENROLLED;
	t->mode = parent->mode;
	t->scans_at_enroll = parent->scans_at_enroll;
	/* The child's advised ranges are its parent's (a copy: cur minus nothing). */
	vmas_subtract(&parent->advised, &none, &t->advised);
}

static void on_procwatch(enum procwatch_event ev, const struct procwatch_info *info, void *ud)
{
	struct daemon *d = ud;

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
			update_status(d);
		}
		break;
	case PW_SWEEP_DONE:
		for (size_t i = d->tr.n; i-- > 0;)
			if (!pidref_alive(&d->tr.v[i].ref))
				tracker_remove(&d->tr, d->tr.v[i].ref.pid);
		walk_trees(d);
		update_status(d);
		break;
	}
}

/* ---- collecting targets that died while seized --------------------------- */

static int on_reaper(sd_event_source *s, uint64_t usec, void *ud)
{
	(void)ud;
	if (ptrace_reap_pending() > 0) {
		sd_event_source_set_time(s, usec + 20000);
		sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	}
	return 0;
}

/* A target killed in the middle of an injection stays a traced zombie until
 * we wait for it; poll every 20 ms until it is collected. */
static void arm_reaper(struct daemon *d)
{
	int rc;

	if (d->enr.backend != ENROLL_PTRACE || !d->ev)
		return;
	if (!d->reaper) {
		rc = sd_event_add_time_relative(d->ev, &d->reaper, CLOCK_MONOTONIC, 20000, 0,
						on_reaper, d);
		if (rc < 0)
			log_warn("cannot set up the tracee reaper: %s", strerror(-rc));
		return;
	}
	sd_event_source_set_time_relative(d->reaper, 20000);
	sd_event_source_set_enabled(d->reaper, SD_EVENT_ONESHOT);
}

/* ---- retrying "later" skips ---------------------------------------------- */

#define RETRY_FIRST_USEC 50000ULL      /* then doubling, up to ~50 s */
#define RETRY_MAX 10

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

/* Arms the retry timer for the earliest due retry, or turns it off. */
static void arm_retry(struct daemon *d)
{
	uint64_t next = 0;

	for (size_t i = 0; i < d->tr.n; i++)
		if (d->tr.v[i].retry_usec && (!next || d->tr.v[i].retry_usec < next))
			next = d->tr.v[i].retry_usec;
	if (!d->retry)
		return;
	if (!next) {
		sd_event_source_set_enabled(d->retry, SD_EVENT_OFF);
		return;
	}
	sd_event_source_set_time(d->retry, next);
	sd_event_source_set_enabled(d->retry, SD_EVENT_ONESHOT);
}

static void schedule_retry(struct daemon *d, struct tracked *t)
{
	if (t->retries >= RETRY_MAX) {
		t->retry_usec = 0;
		log_warn("giving up on %s[%d] (app %s) after %u tries: %s", t->comm,
			 (int)t->ref.pid, t->app, t->retries + 1, t->reason);
		return;
	}
	t->retry_usec = now_usec() + (RETRY_FIRST_USEC << t->retries);
	t->retries++;
	arm_retry(d);
}

static int on_retry(sd_event_source *s, uint64_t usec, void *ud)
{
	struct daemon *d = ud;

	(void)s;
	for (size_t i = d->tr.n; i-- > 0;) {
		struct tracked *t = &d->tr.v[i];

		if (!t->retry_usec || t->retry_usec > usec)
			continue;
		t->retry_usec = 0;
		if (!pidref_alive(&t->ref)) {
			tracker_remove(&d->tr, t->ref.pid);
			continue;
		}
		if (t->state == TRACKED_SKIPPED || t->state == TRACKED_FAILED) {
			vmas_clear(&t->advised);
			enroll_tracked(d, t);
		}
	}
	arm_retry(d);
	update_status(d);
	return 0;
}

/* ---- rescans: new anonymous VMAs of range-enrolled processes ---------- */

static void rescan_one(struct daemon *d, struct tracked *t)
{
	struct vma_list cur = { 0 }, fresh = { 0 };
	struct enroll_result res = { 0 };

	if (vmas_read(t->ref.pid, &cur) < 0)
		return;
	if (vmas_subtract(&cur, &t->advised, &fresh) == 0 && fresh.n > 0) {
		int rc = enroll_process(&d->enr, &t->ref, &fresh, &res);

		arm_reaper(d);
		if (rc == 0) {
			log_debug("rescan: %s[%d] +%zu KiB", t->comm, (int)t->ref.pid,
				  vmas_bytes(&fresh) / 1024);
			vmas_free(&t->advised);
			t->advised = cur;
			cur = (struct vma_list){ 0 };
		}
	}
	vmas_free(&fresh);
	vmas_free(&cur);
}

/* Undoes an enrollment that costs more rmap_items than merging saves. */
static void judge(struct daemon *d, struct tracked *t, long long full_scans)
{
	struct ksm_stat st = { 0 };
	struct enroll_result res = { 0 };
	struct vma_list cur = { 0 };
	int rc;

	if (ksmstat_read(t->ref.pid, &st) < 0 ||
	    policy_judge(&st, full_scans - t->scans_at_enroll, d->cfg.profit_min_scans) != POLICY_DROP)
		return;
	if (t->mode == ENROLL_RANGES)
		vmas_read(t->ref.pid, &cur);
	rc = enroll_undo(&d->enr, &t->ref, t->mode, &cur, &res);
	arm_reaper(d);
	if (rc == 0) {
		t->state = TRACKED_DROPPED;
		policy_explain(&st, t->reason, sizeof(t->reason));
		log_info("dropped %s[%d] (app %s): %s", t->comm, (int)t->ref.pid, t->app, t->reason);
	} else if (res.err != -ESRCH) {
		/* e.g. unmerge timed out on a huge address space: stopping the
		 * process again every rescan would hurt it more; judge later. */
		t->scans_at_enroll = full_scans + 100LL * d->cfg.profit_min_scans;
		log_warn("cannot drop %s[%d]: %s; retrying much later", t->comm, (int)t->ref.pid,
			 res.reason[0] ? res.reason : strerror(-res.err));
	}
	vmas_free(&cur);
}

static int on_rescan(sd_event_source *s, uint64_t usec, void *ud)
{
	struct daemon *d = ud;
	struct ksmd_global g = { 0 };

	ksmd_read_global(&g);

	for (size_t i = d->tr.n; i-- > 0;) {
		struct tracked *t = &d->tr.v[i];

		if (!pidref_alive(&t->ref)) {
			tracker_remove(&d->tr, t->ref.pid);
			continue;
		}
		if (t->state == TRACKED_ENROLLED && t->mode == ENROLL_RANGES)
			rescan_one(d, t);
		if (t->state == TRACKED_ENROLLED && d->cfg.drop_unprofitable)
			judge(d, t, g.full_scans);
	}
	update_status(d);
	sd_event_source_set_time(s, usec + (uint64_t)d->cfg.rescan_sec * 1000000ULL);
	return 0;
}

/* ---- figures ----------------------------------------------------------- */

struct app_figures {
	size_t procs;
	long long enrolled_kib, merging_kib, profit_kib;
};

/* Resident anonymous memory (RssAnon) is what KSM can act on; virtual sizes
 * would count reservations that hold no pages (ASan shadow, JVM heaps). */
static long long rss_anon_kib(pid_t pid)
{
	char path[64], line[256];
	long long kib = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %lld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static long long tracked_enrolled_kib(const struct tracked *t)
{
	long long rss = rss_anon_kib(t->ref.pid);

	if (t->mode == ENROLL_RANGES && KIB(vmas_bytes(&t->advised)) < rss)
		return KIB(vmas_bytes(&t->advised));
	return rss;     /* merge-any covers all anonymous memory */
}

static void tracked_figures(const struct tracked *t, struct app_figures *f)
{
	struct ksm_stat st = { 0 };
	long page_kib = sysconf(_SC_PAGESIZE) / 1024;

	if (t->state != TRACKED_ENROLLED)
		return;
	f->procs++;
	f->enrolled_kib += tracked_enrolled_kib(t);
	if (ksmstat_read(t->ref.pid, &st) == 0) {
		f->merging_kib += st.merging_pages * page_kib;
		f->profit_kib += st.process_profit / 1024;
	}
}

static void app_figures(const struct daemon *d, const char *app, struct app_figures *f)
{
	memset(f, 0, sizeof(*f));
	for (size_t i = 0; i < d->tr.n; i++)
		if (!app || strcmp(d->tr.v[i].app, app) == 0)
			tracked_figures(&d->tr.v[i], f);
}

static void update_status(struct daemon *d)
{
	struct ksmd_global g = { 0 };
	size_t enrolled = tracker_count(&d->tr, NULL, TRACKED_ENROLLED);

	if (!d->ready)
		return;
	ksmd_read_global(&g);
	sd_notifyf(0, "STATUS=backend %s, %zu apps, %zu processes enrolled, %.1f MiB saved",
		   enroll_backend_name(d->enr.backend), d->apps.effective.n, enrolled,
		   (double)g.general_profit / (1024.0 * 1024.0));
}

/* ---- control requests -------------------------------------------------- */

static void reply_error(struct proto_msg *reply, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void reply_error(struct proto_msg *reply, const char *fmt, ...)
{
	struct proto_record r;
	char msg[PROTO_VALUE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	proto_record_init(&r);
	proto_set(&r, "ok", "0");
	proto_set(&r, "error", "%s", msg);
	proto_msg_append(reply, &r);
}

static void reply_ok(struct proto_msg *reply)
{
	struct proto_record r;

	proto_record_init(&r);
	proto_set(&r, "ok", "1");
	proto_msg_append(reply, &r);
}

static void append_app(const struct daemon *d, struct proto_msg *reply, const char *name,
		       bool figures)
{
	struct proto_record r;
	struct app_figures f;

	proto_record_init(&r);
	proto_set(&r, "type", "app");
	proto_set(&r, "name", "%s", name);
	proto_set(&r, "source", "%s", applist_source(&d->apps, name));
	if (figures) {
		app_figures(d, name, &f);
		proto_set(&r, "procs", "%zu", f.procs);
		proto_set(&r, "enrolled_kib", "%lld", f.enrolled_kib);
		proto_set(&r, "merging_kib", "%lld", f.merging_kib);
		proto_set(&r, "profit_kib", "%lld", f.profit_kib);
	}
	proto_msg_append(reply, &r);
}

static void append_proc(const struct tracked *t, struct proto_msg *reply)
{
	struct proto_record r;
	struct app_figures f = { 0 };

	tracked_figures(t, &f);
	proto_record_init(&r);
	proto_set(&r, "type", "proc");
	proto_set(&r, "pid", "%d", (int)t->ref.pid);
	proto_set(&r, "app", "%s", t->app);
	proto_set(&r, "comm", "%s", t->comm);
	proto_set(&r, "state", "%s", tracker_state_name(t->state));
	proto_set(&r, "member", "%s", t->by_tree ? "tree" : "name");
	proto_set(&r, "inherited", "%d", t->inherited ? 1 : 0);
	if (t->state == TRACKED_ENROLLED) {
		proto_set(&r, "mode", "%s", t->mode == ENROLL_WHOLE ? "whole" : "ranges");
		proto_set(&r, "enrolled_kib", "%lld", f.enrolled_kib);
		proto_set(&r, "merging_kib", "%lld", f.merging_kib);
		proto_set(&r, "profit_kib", "%lld", f.profit_kib);
	} else {
		proto_set(&r, "reason", "%s", t->reason);
	}
	proto_msg_append(reply, &r);
}

static void do_status(struct daemon *d, struct proto_msg *reply, bool figures)
{
	struct ksmd_global g = { 0 };
	struct proto_record r;

	reply_ok(reply);
	if (figures) {
		ksmd_read_global(&g);
		proto_record_init(&r);
		proto_set(&r, "type", "global");
		proto_set(&r, "backend", "%s", enroll_backend_name(d->enr.backend));
		proto_set(&r, "run", "%d", g.run);
		proto_set(&r, "pages_sharing", "%lld", g.pages_sharing);
		proto_set(&r, "pages_shared", "%lld", g.pages_shared);
		proto_set(&r, "general_profit", "%lld", g.general_profit);
		proto_set(&r, "full_scans", "%lld", g.full_scans);
		proto_set(&r, "connector", "%d", procwatch_has_connector(d->pw) ? 1 : 0);
		proto_msg_append(reply, &r);
	}
	for (size_t i = 0; i < d->apps.effective.n; i++)
		append_app(d, reply, d->apps.effective.v[i], figures);
	if (figures)
		for (size_t i = 0; i < d->tr.n; i++)
			append_proc(&d->tr.v[i], reply);
}

/* Stops treating app's processes as ours; with unmerge, undoes enrollment
 * (which also breaks the sharing: the kernel copies merged pages back). */
static size_t forget_app(struct daemon *d, const char *app, bool unmerge)
{
	size_t n = 0;

	for (size_t i = d->tr.n; i-- > 0;) {
		struct tracked *t = &d->tr.v[i];
		struct enroll_result res = { 0 };

		if (strcmp(t->app, app) != 0)
			continue;
		if (unmerge && t->state == TRACKED_ENROLLED) {
			struct vma_list cur = { 0 };

			vmas_read(t->ref.pid, &cur);
			int rc = enroll_undo(&d->enr, &t->ref, t->mode, &cur, &res);

			arm_reaper(d);
			if (rc < 0 && res.err != -ESRCH)
				log_warn("cannot unmerge %s[%d]: %s", t->comm, (int)t->ref.pid,
					 res.reason[0] ? res.reason : strerror(-res.err));
			else
				n++;
			vmas_free(&cur);
		}
		tracker_remove(&d->tr, t->ref.pid);
	}
	return n;
}

static void do_add(struct daemon *d, const struct proto_record *req, struct proto_msg *reply)
{
	const char *name = proto_get(req, "name");
	const char *runtime = proto_get(req, "runtime");
	char err[512];
	struct proto_record r;

	if (!name) {
		reply_error(reply, "add: missing app name");
		return;
	}
	if (applist_add(&d->apps, name, runtime && strcmp(runtime, "1") == 0, err, sizeof(err)) < 0) {
		reply_error(reply, "add %s: %s", name, err);
		return;
	}
	log_info("app %s added%s", name, runtime && strcmp(runtime, "1") == 0 ? " (runtime)" : "");
	/* Running processes are enrolled at once: a sweep matches them now. */
	procwatch_sweep(d->pw);
	reply_ok(reply);
	proto_record_init(&r);
	proto_set(&r, "type", "app");
	proto_set(&r, "name", "%s", name);
	proto_set(&r, "procs", "%zu", tracker_count(&d->tr, name, TRACKED_ENROLLED));
	proto_set(&r, "skipped", "%zu", tracker_count(&d->tr, name, TRACKED_SKIPPED));
	proto_msg_append(reply, &r);
}

static void do_remove(struct daemon *d, const struct proto_record *req, struct proto_msg *reply)
{
	const char *name = proto_get(req, "name");
	const char *runtime = proto_get(req, "runtime");
	const char *unmerge = proto_get(req, "unmerge");
	char err[512];
	size_t n;
	struct proto_record r;

	if (!name) {
		reply_error(reply, "remove: missing app name");
		return;
	}
	if (applist_remove(&d->apps, name, runtime && strcmp(runtime, "1") == 0, d->config_path,
			   err, sizeof(err)) < 0) {
		reply_error(reply, "remove %s: %s", name, err);
		return;
	}
	n = forget_app(d, name, unmerge && strcmp(unmerge, "1") == 0);
	log_info("app %s removed%s", name, unmerge && strcmp(unmerge, "1") == 0 ? ", unmerged" : "");
	update_status(d);
	reply_ok(reply);
	proto_record_init(&r);
	proto_set(&r, "type", "app");
	proto_set(&r, "name", "%s", name);
	proto_set(&r, "unmerged", "%zu", n);
	proto_msg_append(reply, &r);
}

static int reload(struct daemon *d, char *err, size_t errlen);

static void on_control(const struct proto_record *req, uid_t peer_uid, struct proto_msg *reply,
		       void *ud)
{
	struct daemon *d = ud;
	const char *op = proto_get(req, "op");
	char err[512];

	(void)peer_uid;   /* control.c refuses changing ops from non-root */
	if (!op)
		reply_error(reply, "request without op");
	else if (strcmp(op, "status") == 0)
		do_status(d, reply, true);
	else if (strcmp(op, "list") == 0)
		do_status(d, reply, false);
	else if (strcmp(op, "add") == 0)
		do_add(d, req, reply);
	else if (strcmp(op, "remove") == 0)
		do_remove(d, req, reply);
	else if (strcmp(op, "reload") == 0) {
		if (reload(d, err, sizeof(err)) < 0)
			reply_error(reply, "reload failed, keeping the running config: %s", err);
		else
			reply_ok(reply);
	} else
		reply_error(reply, "unknown op '%s'", op);
	proto_msg_end(reply);
}

/* ---- config and signals ------------------------------------------------ */

static int reload(struct daemon *d, char *err, size_t errlen)
{
	struct config fresh;

	config_init(&fresh);
	if (config_load(d->config_path, &fresh, err, errlen) < 0) {
		config_free(&fresh);
		return -1;
	}
	ksmd_restore();
	if (ksmd_apply(fresh.knobs, fresh.n_knobs, err, errlen) < 0) {
		/* put the running settings back */
		char ignore[256];

		ksmd_apply(d->cfg.knobs, d->cfg.n_knobs, ignore, sizeof(ignore));
		config_free(&fresh);
		return -1;
	}
	config_free(&d->cfg);
	d->cfg = fresh;
	if (applist_load(&d->apps, &d->cfg, err, errlen) < 0)
		return -1;
	procwatch_sweep(d->pw);
	log_info("configuration reloaded from %s: %zu apps", d->config_path, d->apps.effective.n);
	return 0;
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *ud)
{
	struct daemon *d = ud;
	char err[512];

	(void)s;
	(void)si;
	sd_notify(0, "RELOADING=1");
	if (reload(d, err, sizeof(err)) < 0)
		log_err("reload failed, keeping the running config: %s", err);
	sd_notify(0, "READY=1");
	update_status(d);
	return 0;
}

static int on_stop_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *ud)
{
	struct daemon *d = ud;

	(void)s;
	log_info("signal %u: stopping", si->ssi_signo);
	sd_notify(0, "STOPPING=1");
	return sd_event_exit(d->ev, 0);
}

/* ---- main ---------------------------------------------------------------- */

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: ksmplusd [OPTIONS]\n"
		"Enroll the anonymous memory of named apps with Linux KSM.\n\n"
		"  -c, --config PATH    config file (default %s; drop-ins in PATH.d/)\n"
		"  -s, --socket PATH    control socket (default %s)\n"
		"      --check-config   validate the config and exit\n"
		"  -f, --foreground     accepted; ksmplusd never forks into the background\n"
		"  -v, --verbose        log debug messages\n"
		"  -h, --help           show this help\n"
		"  -V, --version        show the version\n\n"
		"Runs in the foreground; under systemd it logs to the journal.\n"
		"SIGHUP reloads the config, SIGTERM stops. See ksmplusd(8).\n",
		CONFIG_DEFAULT_PATH, PROTO_DEFAULT_SOCKET);
}

struct options {
	const char *config;
	const char *socket;
	bool check_only;
	bool verbose;
};

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "foreground", no_argument, NULL, 'f' },   /* always: accepted for habit */
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->config = CONFIG_DEFAULT_PATH;
	o->socket = PROTO_DEFAULT_SOCKET;
	while ((c = getopt_long(argc, argv, "c:s:fvhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': o->config = optarg; break;
		case 's': o->socket = optarg; break;
		case 'C': o->check_only = true; break;
		case 'v': o->verbose = true; break;
		case 'f': break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("ksmplusd %s\n", KSMPLUS_VERSION); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ksmplusd: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	return 0;
}

static int setup_loop(struct daemon *d, const struct options *o)
{
	char err[512];
	sigset_t ss;
	int rc;

	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGHUP);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((rc = sd_event_default(&d->ev)) < 0 ||
	    (rc = sd_event_add_signal(d->ev, NULL, SIGTERM, on_stop_signal, d)) < 0 ||
	    (rc = sd_event_add_signal(d->ev, NULL, SIGINT, on_stop_signal, d)) < 0 ||
	    (rc = sd_event_add_signal(d->ev, NULL, SIGHUP, on_sighup, d)) < 0 ||
	    (rc = sd_event_set_watchdog(d->ev, true)) < 0) {
		log_err("cannot set up the event loop: %s", strerror(-rc));
		return -1;
	}
	if (control_open(d->ev, o->socket, on_control, d, &d->ctl, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return -1;
	}
	rc = sd_event_add_time(d->ev, &d->retry, CLOCK_MONOTONIC, UINT64_MAX, 0, on_retry, d);
	if (rc < 0 || (rc = sd_event_source_set_enabled(d->retry, SD_EVENT_OFF)) < 0) {
		log_err("cannot set up the retry timer: %s", strerror(-rc));
		return -1;
	}
	rc = sd_event_add_time_relative(d->ev, &d->rescan, CLOCK_MONOTONIC,
					(uint64_t)d->cfg.rescan_sec * 1000000ULL, 0, on_rescan, d);
	if (rc < 0 || (rc = sd_event_source_set_enabled(d->rescan, SD_EVENT_ON)) < 0) {
		log_err("cannot set up the rescan timer: %s", strerror(-rc));
		return -1;
	}
	return 0;
}

static void shutdown_daemon(struct daemon *d)
{
	if (d->cfg.unmerge_on_stop) {
		for (size_t i = 0; i < d->apps.effective.n; i++)
			forget_app(d, d->apps.effective.v[i], true);
	}
	ksmd_restore();
	if (d->ctl)
		control_close(d->ctl);
	if (d->pw)
		procwatch_stop(d->pw);
	sd_event_source_unref(d->rescan);
	sd_event_source_unref(d->reaper);
	sd_event_source_unref(d->retry);
	if (d->enr.backend == ENROLL_PTRACE)
		ptrace_reap_pending();
	tracker_clear(&d->tr);
	applist_free(&d->apps);
	config_free(&d->cfg);
	sd_event_unref(d->ev);
}

int main(int argc, char **argv)
{
	struct daemon d = { 0 };
	struct options o = { 0 };
	char err[1024];
	int rc = 1;

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	log_init("ksmplusd", getenv("JOURNAL_STREAM") != NULL);
	log_set_verbose(o.verbose);
	d.config_path = o.config;
	d.self = getpid();
	config_init(&d.cfg);
	if (config_load(o.config, &d.cfg, err, sizeof(err)) < 0 ||
	    applist_load(&d.apps, &d.cfg, err, sizeof(err)) < 0) {
		log_err("%s", err);
		config_free(&d.cfg);
		applist_free(&d.apps);
		return 1;
	}
	if (o.check_only) {
		printf("%s: ok (%zu apps, %zu excluded, %zu ksmd settings)\n", o.config,
		       d.apps.effective.n, d.cfg.excludes.n, d.cfg.n_knobs);
		applist_free(&d.apps);
		config_free(&d.cfg);
		return 0;
	}
	log_debug("open-file limit: %llu", (unsigned long long)rlimits_raise_nofile());
	if (!ksmd_available()) {
		log_err("this kernel has no KSM (%s missing): build it with CONFIG_KSM=y", KSMD_SYSFS);
		goto out;
	}
	if (enroll_probe(d.cfg.backend, &d.enr, err, sizeof(err)) < 0) {
		log_err("%s", err);
		goto out;
	}
	log_info("backend: %s%s", enroll_backend_name(d.enr.backend),
		 d.enr.backend == ENROLL_PTRACE && d.enr.has_prctl_merge ?
		 " (injecting prctl(PR_SET_MEMORY_MERGE))" : "");
	if (ksmd_apply(d.cfg.knobs, d.cfg.n_knobs, err, sizeof(err)) < 0) {
		log_err("%s", err);
		goto out;
	}
	if (setup_loop(&d, &o) < 0)
		goto out;
	rc = procwatch_start(d.ev, on_procwatch, &d, d.cfg.sweep_sec, &d.pw);
	if (rc < 0) {
		log_err("cannot watch processes: %s", strerror(-rc));
		rc = 1;
		goto out;
	}
	d.ready = true;
	update_status(&d);
	sd_notify(0, "READY=1");
	log_info("ready: %zu apps, %zu processes enrolled, control socket %s",
		 d.apps.effective.n, tracker_count(&d.tr, NULL, TRACKED_ENROLLED), o.socket);
	rc = sd_event_loop(d.ev);
	if (rc < 0)
		log_err("event loop failed: %s", strerror(-rc));
	rc = rc < 0 ? 1 : 0;
out:
	shutdown_daemon(&d);
	return rc;
}
