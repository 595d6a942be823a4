/* lifecycle.c — an enrolled process's life: enrolling it (or saying why
 * not), retrying "later" skips with back-off, collecting targets that died
 * while seized, picking up new memory of range-enrolled processes, the
 * profit check, and undoing enrollment when an app is removed. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "array.h"
#include "daemon.h"
#include "governor.h"
#include "ksmd.h"
#include "ksmstat.h"
#include "log.h"
#include "pidref.h"
#include "policy.h"
#include "rangeplan.h"
#include "vmas.h"

/* KSM merges pages across every enrolled process, and whether a page was
 * merged shows in the time a write to it takes: a side channel (Flip Feng
 * Shui, Dedup Est Machina) between whoever is enrolled. Unless cross_user =
 * allow, only one uid's processes are enrolled at a time; the first to be
 * enrolled sets it. Writes the refusal into reason. */
static bool other_domain(const struct daemon *d, const struct tracked *t, char *reason,
			 size_t len)
{
	if (d->cfg.cross_user)
		return false;
	for (size_t i = 0; i < d->tr.n; i++) {
		const struct tracked *o = &d->tr.v[i];

		if (o != t && o->state == TRACKED_ENROLLED && o->uid != t->uid) {
			snprintf(reason, len, "cross-user: uid %ld while uid %ld is enrolled; "
				 "cross_user = allow to permit", (long)(int)t->uid, (long)(int)o->uid);
			return true;
		}
	}
	return false;
}

#define RETRY_FIRST_USEC 50000ULL      /* then doubling, up to ~50 s */
#define RETRY_MAX 10

static void schedule_retry(struct daemon *d, struct tracked *t, bool lasting);

void lifecycle_enroll(struct daemon *d, struct tracked *t)
{
	t->cross_user = other_domain(d, t, t->reason, sizeof(t->reason));
	if (t->cross_user) {
		/* Tried again at each rescan: the other uid's processes may be
		 * gone by then. Logged once a process, not once a rescan. */
		if (t->state != TRACKED_SKIPPED)
			log_warn("not enrolling %s[%d] (app %s): %s", t->comm, (int)t->ref.pid,
				 t->app, t->reason);
		t->state = TRACKED_SKIPPED;
		vmas_free(&t->advised);
		return;
	}
	if (rangeplan_app_census(&d->cfg, t->app)) {
		rangeplan_enroll(d, t);         /* its ranges once censused */
		return;
	}
	lifecycle_enroll_whole(d, t);
}

void lifecycle_enroll_whole(struct daemon *d, struct tracked *t)
{
	struct vma_list ranges = { 0 };
	struct enroll_result res = { 0 };
	int rc;

	t->census = false;
	rc = vmas_read(t->ref.pid, &ranges);
	lifecycle_arm_reaper(d);          /* covers the previous attempt's leftovers too */
	if (rc < 0) {
		t->state = TRACKED_FAILED;
		snprintf(t->reason, sizeof(t->reason), "cannot read maps: %s", strerror(-rc));
		return;
	}
	/* children = no: by range, not prctl, whose merge-any setting every
	 * child would inherit through fork and exec. */
	struct enroller e = d->enr;

	if (strlist_contains(&d->cfg.no_children, t->app))
		e.has_prctl_merge = false;
	/* The last retry may cost a waiting thread an EINTR rather than never
	 * enroll a process that only ever waits (enroll.h). */
	bool last_try = t->retries >= RETRY_MAX;

	e.interrupt_waits = last_try;
	rc = enroll_process(&e, &t->ref, &ranges, &res);
	if (rc == 0 && last_try && d->enr.backend == ENROLL_PTRACE)
		log_warn("%s[%d] (app %s) enrolled on its last try: a thread waiting in a call "
			 "that a stop interrupts may have seen EINTR", t->comm, (int)t->ref.pid, t->app);
	if (rc == 0) {
		d->count.enrolled++;
		t->state = TRACKED_ENROLLED;
		t->mode = res.mode;
		t->reason[0] = '\0';
		t->retries = 0;
		t->retry_usec = 0;
		vmas_free(&t->advised);
		/* Kept only where rescans need them: merge-any covers all of mm. */
		if (res.mode == ENROLL_RANGES)
			t->advised = ranges;    /* ownership moves */
		else
			vmas_free(&ranges);
		/* A process that renames itself out of its app and back in a
		 * loop is enrolled anew each time: the log must not pay for it. */
		log_event(&(struct log_fields){ LOG_MSGID_ENROLLED, t->app, t->ref.pid,
						enroll_backend_name(d->enr.backend), NULL },
			  "enrolled", LOG_INFO, "enrolled %s[%d] (app %s, %s, %s)",
			  t->comm, (int)t->ref.pid, t->app, enroll_backend_name(d->enr.backend),
			  res.mode == ENROLL_WHOLE ? "whole process" : "by range");
		governor_on_enrolled(d, t);
		return;
	}
	vmas_free(&ranges);
	t->state = res.err == -ESRCH ? TRACKED_FAILED : TRACKED_SKIPPED;
	if (res.err == -ESRCH)
		d->count.gone++;
	else if (res.err == -EAGAIN || res.err == -ETIMEDOUT)
		d->count.later++;
	else
		d->count.skipped++;
	/* Said once per process, not at every retry or rescan, nor at every
	 * rename of a process renaming itself in a loop. */
	snprintf(t->reason, sizeof(t->reason), "%s",
		 res.reason[0] ? res.reason : strerror(res.err < 0 ? -res.err : EIO));
	if (!t->retries)
		log_event(&(struct log_fields){ LOG_MSGID_SKIPPED, t->app, t->ref.pid,
						enroll_backend_name(d->enr.backend), t->reason },
			  "not enrolling", LOG_WARNING, "not enrolling %s[%d] (app %s): %s", t->comm,
			  (int)t->ref.pid, t->app, t->reason);
	/* Passing states (stopped, uninterruptible sleep, signal storms, an
	 * injection cut short) are worth another try; the rest are final. */
	if (res.err == -EAGAIN || res.err == -ETIMEDOUT ||
	    (res.err == -ESRCH && pidref_alive(&t->ref)))
		schedule_retry(d, t, res.lasting);
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
void lifecycle_arm_reaper(struct daemon *d)
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

/* One retry callback enrolls or unmerges for at most this long, then lets
 * the event loop run (status, events) and goes on at its next turn: each
 * operation is bounded (enroll.h), a queue of hostile targets is not. */
#define RETRY_BATCH_USEC LIFECYCLE_BATCH_USEC

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- undos cut short by their deadline ----------------------------------
 * Unmerging a big process can take longer than one operation's deadline; it
 * keeps its progress (enroll.c) and is retried here with the same back-off,
 * by its own pidref: the process may no longer be tracked (its app removed
 * with --unmerge). Retried while it makes progress. */
struct undo_later {
	struct pidref ref;
	enum enroll_mode mode;
	char comm[sizeof(((struct tracked *)0)->comm)];   /* escaped, as in tracker.h */
	uint64_t retry_usec;
	unsigned retries;
};
static struct undo_later undos[64];
static size_t n_undos;

static void undo_drop(size_t i)
{
	pidref_close(&undos[i].ref);
	undos[i] = undos[--n_undos];
}

/* Takes over t's pidref (t is about to be forgotten). false when the queue
 * is full: that undo is given up on (and logged), so it is not pending. */
static bool undo_later(struct tracked *t)
{
	if (n_undos == sizeof(undos) / sizeof(undos[0])) {
		log_warn("cannot unmerge %s[%d]: too many unmerges pending", t->comm, (int)t->ref.pid);
		return false;
	}
	struct undo_later *u = &undos[n_undos++];
	u->ref = t->ref;
	t->ref.pidfd = -1;
	u->mode = t->mode;
	snprintf(u->comm, sizeof(u->comm), "%s", t->comm);
	u->retries = 0;
	u->retry_usec = now_usec() + RETRY_FIRST_USEC;
	return true;
}

size_t lifecycle_undos_pending(void)
{
	return n_undos;
}

/* 1 when done (or gone), 0 when to be retried. */
static int undo_retry(struct daemon *d, struct undo_later *u)
{
	struct vma_list cur = { 0 };
	struct enroll_result res = { 0 };

	vmas_read(u->ref.pid, &cur);
	int rc = enroll_undo(&d->enr, &u->ref, u->mode, &cur, &res);
	vmas_free(&cur);
	lifecycle_arm_reaper(d);
	if (rc == 0 || res.err == -ESRCH) {
		log_info("unmerged %s[%d] after %u more tries", u->comm, (int)u->ref.pid, u->retries + 1);
		return 1;
	}
	/* Progress made: start the back-off over. */
	u->retries = res.bytes ? 0 : u->retries + 1;
	if (res.err != -EAGAIN || u->retries >= RETRY_MAX) {
		log_warn("giving up unmerging %s[%d]: %s", u->comm, (int)u->ref.pid,
			 res.reason[0] ? res.reason : strerror(-res.err));
		return 1;
	}
	u->retry_usec = now_usec() + (RETRY_FIRST_USEC << u->retries);
	return 0;
}

size_t lifecycle_finish_undos(struct daemon *d, uint64_t within_usec)
{
	uint64_t deadline = now_usec() + within_usec;

	/* Ends: each pass either progresses (up to the deadline) or counts a
	 * try towards RETRY_MAX, after which undo_retry() gives up (logged). */
	while (n_undos && now_usec() < deadline)
		for (size_t i = n_undos; i-- > 0;)
			if (undo_retry(d, &undos[i]))
				undo_drop(i);
	return n_undos;
}

/* Arms the retry timer for the earliest due retry, or turns it off. */
static void arm_retry(struct daemon *d)
{
	uint64_t next = 0;

	for (size_t i = 0; i < d->tr.n; i++)
		if (d->tr.v[i].retry_usec && (!next || d->tr.v[i].retry_usec < next))
			next = d->tr.v[i].retry_usec;
	for (size_t i = 0; i < n_undos; i++)
		if (!next || undos[i].retry_usec < next)
			next = undos[i].retry_usec;
	if (!d->retry)
		return;
	if (!next) {
		sd_event_source_set_enabled(d->retry, SD_EVENT_OFF);
		return;
	}
	sd_event_source_set_time(d->retry, next);
	sd_event_source_set_enabled(d->retry, SD_EVENT_ONESHOT);
}

/* A lasting "later" (a frozen cgroup: thawed in minutes or days) is not
 * given up on: past RETRY_MAX it is tried at the longest interval. */
static void schedule_retry(struct daemon *d, struct tracked *t, bool lasting)
{
	unsigned shift = t->retries < RETRY_MAX ? t->retries : RETRY_MAX - 1;

	if (t->retries >= RETRY_MAX && !lasting) {
		t->retry_usec = 0;
		log_warn("giving up on %s[%d] (app %s) after %u tries: %s", t->comm,
			 (int)t->ref.pid, t->app, t->retries + 1, t->reason);
		return;
	}
	t->retry_usec = now_usec() + (RETRY_FIRST_USEC << shift);
	if (t->retries < RETRY_MAX)
		t->retries++;
	arm_retry(d);
}

void lifecycle_schedule_retry(struct daemon *d, struct tracked *t, bool lasting)
{
	schedule_retry(d, t, lasting);
}

int lifecycle_on_retry(sd_event_source *s, uint64_t usec, void *ud)
{
	struct daemon *d = ud;
	uint64_t start = now_usec();

	(void)s;
	for (size_t i = d->tr.n; i-- > 0;) {
		struct tracked *t = &d->tr.v[i];

		if (!t->retry_usec || t->retry_usec > usec)
			continue;
		if (now_usec() - start > RETRY_BATCH_USEC)
			break;          /* the rest at the loop's next turn */
		t->retry_usec = 0;
		if (!pidref_alive(&t->ref)) {
			tracker_remove(&d->tr, t->ref.pid);
			continue;
		}
		if (t->state == TRACKED_SKIPPED || t->state == TRACKED_FAILED) {
			/* A census process's advised ranges stay: what the kernel
			 * holds advised from an earlier plan, for the next plan's
			 * difference. */
			if (!t->census)
				vmas_clear(&t->advised);
			lifecycle_enroll(d, t);
		}
	}
	for (size_t i = n_undos; i-- > 0;) {
		if (undos[i].retry_usec > usec || now_usec() - start > RETRY_BATCH_USEC)
			continue;
		if (undo_retry(d, &undos[i]))
			undo_drop(i);
	}
	arm_retry(d);
	daemon_update_status(d);
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
		/* By range again: this process was enrolled so on purpose
		 * (children = no, or prctl refused by its sandbox); prctl now
		 * would give it and its future children merge-any. */
		struct enroller e = d->enr;
		int rc;

		e.has_prctl_merge = false;
		rc = enroll_process(&e, &t->ref, &fresh, &res);

		lifecycle_arm_reaper(d);
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

/* ---- the profit check, per app ------------------------------------------ */

static struct app_state *app_state(struct daemon *d, const char *app)
{
	struct app_state *st;
	void *grown;

	for (size_t i = 0; i < d->n_appst; i++)
		if (strcmp(d->appst[i].name, app) == 0)
			return &d->appst[i];
	grown = array_grow(d->appst, d->n_appst, &d->cap_appst, sizeof(*d->appst), 8);
	if (!grown)
		return NULL;
	d->appst = grown;
	st = &d->appst[d->n_appst++];
	memset(st, 0, sizeof(*st));
	snprintf(st->name, sizeof(st->name), "%s", app);
	return st;
}

/* Sums the app's enrolled processes. The saving is the exact one
 * (savings.h) where page frames can be read; else the kernel's per-process
 * profit summed, which counts the one copy every merged group keeps: it
 * overstates, so it never drops an app that saves memory. */
static size_t app_totals(struct daemon *d, const char *app, struct policy_app *a)
{
	size_t n = 0;

	memset(a, 0, sizeof(*a));
	for (size_t i = 0; i < d->tr.n; i++) {
		const struct tracked *t = &d->tr.v[i];
		struct ksm_stat st = { 0 };

		if (t->state != TRACKED_ENROLLED || strcmp(t->app, app) != 0 ||
		    ksmstat_read(t->ref.pid, &st) < 0)
			continue;
		a->merging_pages += st.merging_pages;
		a->rmap_items += st.rmap_items;
		a->saved_bytes += st.process_profit;
		n++;
	}
	if (n)
		figures_app_saved(d, app, &a->saved_bytes);
	return n;
}

/* Undoes the enrollment of every enrolled process of app (inherited ones
 * too: nothing stays merging behind a dropped parent). */
static void drop_app(struct daemon *d, const char *app, const char *why)
{
	uint64_t start = now_usec();

	for (size_t i = 0; i < d->tr.n; i++) {
		struct tracked *t = &d->tr.v[i];
		struct enroll_result res = { 0 };
		struct vma_list cur = { 0 };

		if (t->state != TRACKED_ENROLLED || strcmp(t->app, app) != 0)
			continue;
		/* Each undo is bounded, a row of hostile ones is not: the rest
		 * stay enrolled and the app's next judgement drops them. */
		if (now_usec() - start > RETRY_BATCH_USEC)
			break;
		if (t->mode == ENROLL_RANGES)
			vmas_read(t->ref.pid, &cur);
		if (enroll_undo(&d->enr, &t->ref, t->mode, &cur, &res) == 0 || res.err == -ESRCH) {
			d->count.dropped++;
			t->state = TRACKED_DROPPED;
			snprintf(t->reason, sizeof(t->reason), "%s", why);
			log_event(&(struct log_fields){ LOG_MSGID_DROPPED, t->app, t->ref.pid,
							enroll_backend_name(d->enr.backend), why },
				  "dropped", LOG_INFO, "dropped %s[%d] (app %s): %s", t->comm,
				  (int)t->ref.pid, t->app, why);
		} else {
			/* e.g. unmerge timed out on a huge address space: it stays
			 * enrolled; the app's next judgement tries again. */
			log_warn("cannot drop %s[%d]: %s", t->comm, (int)t->ref.pid,
				 res.reason[0] ? res.reason : strerror(-res.err));
		}
		vmas_free(&cur);
	}
	lifecycle_arm_reaper(d);
}

/* A dropped app's memory changes: after its back-off it is enrolled again
 * and judged afresh. */
static void retry_dropped_app(struct daemon *d, const char *app)
{
	log_info("app %s: enrolling again after its back-off", app);
	for (size_t i = 0; i < d->tr.n; i++) {
		struct tracked *t = &d->tr.v[i];

		if (t->state == TRACKED_DROPPED && strcmp(t->app, app) == 0) {
			t->reason[0] = '\0';
			vmas_clear(&t->advised);
			lifecycle_enroll(d, t);
		}
	}
}

static void judge_app(struct daemon *d, const char *app, long long full_scans, uint64_t now)
{
	struct app_state *st = app_state(d, app);
	struct policy_app a;
	char why[160];

	if (!st)
		return;
	if (st->retry_usec) {
		if (now < st->retry_usec)
			return;
		st->retry_usec = 0;
		memset(&st->loss, 0, sizeof(st->loss));
		retry_dropped_app(d, app);
		return;
	}
	if (app_totals(d, app, &a) == 0 ||
	    policy_judge_app(&a, &st->loss, full_scans, now, d->cfg.profit_min_scans,
			     d->cfg.profit_min_sec) != POLICY_DROP)
		return;
	policy_explain(&a, why, sizeof(why));
	st->drops++;
	st->retry_usec = now + policy_backoff_usec(d->cfg.profit_backoff_sec, st->drops);
	memset(&st->loss, 0, sizeof(st->loss));
	drop_app(d, app, why);
}

int lifecycle_on_rescan(sd_event_source *s, uint64_t usec, void *ud)
{
	struct daemon *d = ud;
	struct ksmd_global g = { 0 };

	members_rescan_cgroups(d);
	ksmd_read_global(&g);

	for (size_t i = d->tr.n; i-- > 0;) {
		struct tracked *t = &d->tr.v[i];

		if (!pidref_alive(&t->ref)) {
			tracker_remove(&d->tr, t->ref.pid);
			continue;
		}
		if (t->state == TRACKED_ENROLLED && t->mode == ENROLL_RANGES && !t->census)
			rescan_one(d, t);       /* census: new memory waits for the census */
		else if (t->state == TRACKED_SKIPPED && t->cross_user && !d->paused)
			lifecycle_enroll(d, t);     /* the other uid may be gone */
	}
	rangeplan_tick(d);
	/* A census app's plan is its profit check, range by range. */
	if (d->cfg.drop_unprofitable)
		for (size_t i = 0; i < d->apps.effective.n; i++)
			if (!rangeplan_app_census(&d->cfg, d->apps.effective.v[i]))
				judge_app(d, d->apps.effective.v[i], g.full_scans, now_usec());
	/* The next judgement uses exact figures computed meanwhile, off the loop. */
	if (d->cfg.drop_unprofitable)
		figures_refresh(d, 0);
	daemon_update_status(d);
	sd_event_source_set_time(s, usec + (uint64_t)d->cfg.rescan_sec * 1000000ULL);
	return 0;
}

uint64_t lifecycle_deadline(void)
{
	return now_usec() + LIFECYCLE_BATCH_USEC;
}

/* Stops treating app's processes as ours; with unmerge, undoes enrollment
 * (which also breaks the sharing: the kernel copies merged pages back).
 * Undos handed to the retry timer are counted apart from those done: the
 * command's reply must not call a process unmerged while it still merges. */
struct forget_result lifecycle_forget_app(struct daemon *d, const char *app, bool unmerge,
					  uint64_t deadline_usec)
{
	struct forget_result out = { 0 };

	for (size_t i = d->tr.n; i-- > 0;) {
		struct tracked *t = &d->tr.v[i];
		struct enroll_result res = { 0 };

		if (strcmp(t->app, app) != 0)
			continue;
		if (unmerge && t->state == TRACKED_ENROLLED && now_usec() >= deadline_usec) {
			/* Each undo is bounded, a row of them is not: the loop
			 * must answer status meanwhile. The rest go on from the
			 * retry timer, and the log says so, as for one that ran
			 * over its own deadline. */
			if (undo_later(t)) {
				log_info("unmerging %s[%d]: goes on in the background (this "
					 "command's time is up)", t->comm, (int)t->ref.pid);
				out.pending++;
			}
		} else if (unmerge && t->state == TRACKED_ENROLLED) {
			struct vma_list cur = { 0 };

			vmas_read(t->ref.pid, &cur);
			int rc = enroll_undo(&d->enr, &t->ref, t->mode, &cur, &res);

			lifecycle_arm_reaper(d);
			if (rc < 0 && res.err == -EAGAIN) {
				/* Ran over its deadline: goes on from the retry timer. */
				if (undo_later(t)) {
					log_info("unmerging %s[%d]: %s; goes on in the background",
						 t->comm, (int)t->ref.pid, res.reason);
					out.pending++;
				}
			} else if (rc < 0 && res.err != -ESRCH) {
				log_warn("cannot unmerge %s[%d]: %s", t->comm, (int)t->ref.pid,
					 res.reason[0] ? res.reason : strerror(-res.err));
			} else {
				out.unmerged++;         /* or gone: nothing left merging */
			}
			vmas_free(&cur);
		}
		tracker_remove(&d->tr, t->ref.pid);
	}
	arm_retry(d);
	return out;
}

struct forget_result lifecycle_forget_all(struct daemon *d)
{
	uint64_t deadline = lifecycle_deadline();	/* one for all apps, not one each */
	struct forget_result sum = { 0 };

	for (size_t i = 0; i < d->apps.effective.n; i++) {
		struct forget_result fr = lifecycle_forget_app(d, d->apps.effective.v[i], true,
							       deadline);

		sum.unmerged += fr.unmerged;
		sum.pending += fr.pending;
	}
	return sum;
}
