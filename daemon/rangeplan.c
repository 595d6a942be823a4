/* rangeplan.c — policy = census (rangeplan.h): the plan of a process's
 * profitable ranges, the census worker that makes plans, and applying them
 * on the daemon's loop. */
#include "rangeplan.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "array.h"
#include "census.h"
#include "daemon.h"
#include "governor.h"
#include "log.h"
#include "pidref.h"
#include "procmem.h"

/* ---- the plan (pure) ------------------------------------------------------ */

struct extent {
	uintptr_t start, end;
	uint64_t resident;              /* resident pages in [start, end) */
	int64_t saved;                  /* bytes: the share of the saving its pages bring */
};

static int64_t extent_profit(const struct extent *x)
{
	return x->saved - (int64_t)x->resident * CENSUS_RMAP_ITEM_BYTES - RANGEPLAN_VMA_BYTES;
}

/* Runs of duplicate pages joined across at most gap resident unique pages,
 * within one VMA. Writes them to out (room for every duplicate page) unless
 * NULL; returns how many. */
static size_t extents(const struct rangeplan_page *p, size_t n, size_t ps, uint64_t gap,
		      struct extent *out)
{
	struct extent cur = { 0 };
	uintptr_t vma = 0;
	uint64_t unique = 0;            /* resident unique pages since cur's last duplicate */
	size_t k = 0;
	bool open = false;

	for (size_t i = 0; i < n; i++) {
		bool dup = p[i].group >= 2;

		if (open && (p[i].vma != vma || (dup && unique > gap))) {
			if (out)
				out[k] = cur;
			k++;
			open = false;
		}
		if (!dup) {
			unique++;
			continue;
		}
		if (!open) {
			cur = (struct extent){ .start = p[i].addr };
			vma = p[i].vma;
			open = true;
		} else {
			cur.resident += unique;         /* the gap joins the run */
		}
		unique = 0;
		cur.end = p[i].addr + ps;
		cur.resident++;
		cur.saved += (int64_t)(ps * (p[i].group - 1) / p[i].group);
	}
	if (open) {
		if (out)
			out[k] = cur;
		k++;
	}
	return k;
}

static int by_profit(const void *a, const void *b)
{
	int64_t x = extent_profit(a), y = extent_profit(b);

	return x > y ? -1 : x < y;
}

static int by_start(const void *a, const void *b)
{
	const struct extent *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* The extents joined across gap, the profitable ones, at most max of them
 * (the most profitable), in address order, into x. Returns how many; *net
 * their forecast profit. */
static size_t choose(const struct rangeplan_page *p, size_t n, size_t ps, uint64_t gap,
		     size_t max, struct extent *x, int64_t *net)
{
	size_t k = extents(p, n, ps, gap, x), kept = 0;

	for (size_t i = 0; i < k; i++)
		if (extent_profit(&x[i]) > 0)
			x[kept++] = x[i];
	if (kept > max) {
		qsort(x, kept, sizeof(*x), by_profit);
		kept = max;
		qsort(x, kept, sizeof(*x), by_start);
	}
	*net = 0;
	for (size_t i = 0; i < kept; i++)
		*net += extent_profit(&x[i]);
	return kept;
}

int rangeplan_plan(const struct rangeplan_page *p, size_t n, size_t page_size,
		   size_t max_ranges, struct vma_list *out, struct rangeplan_stats *st)
{
	/* a gap is worth joining while its rmap_items cost less than a split */
	uint64_t gap = RANGEPLAN_VMA_BYTES / CENSUS_RMAP_ITEM_BYTES;
	struct extent *x, *y = NULL;
	size_t kept;
	int64_t net;

	memset(st, 0, sizeof(*st));
	vmas_clear(out);
	st->pages = n;
	for (size_t i = 0; i < n; i++)
		st->dup_pages += p[i].group >= 2;
	if (!st->dup_pages)
		return 0;
	x = malloc(st->dup_pages * sizeof(*x));
	if (!x)
		return -ENOMEM;
	kept = choose(p, n, page_size, gap, max_ranges, x, &net);
	/* Too many runs for the cap: the best max_ranges of them, or wider
	 * gaps (more rmap_items, fewer splits), whichever nets more. */
	if (extents(p, n, page_size, gap, NULL) > max_ranges) {
		size_t kept2;
		int64_t net2;

		while (extents(p, n, page_size, gap, NULL) > max_ranges && gap < n)
			gap *= 2;
		if (!(y = malloc(st->dup_pages * sizeof(*y)))) {
			free(x);
			return -ENOMEM;
		}
		kept2 = choose(p, n, page_size, gap, max_ranges, y, &net2);
		if (net2 > net) {
			struct extent *t = x;

			x = y;
			y = t;
			kept = kept2;
			net = net2;
		}
	}
	for (size_t i = 0; i < kept; i++) {
		struct vma_range *v;

		st->planned_pages += x[i].resident;
		/* coalesced across a VMA boundary, as vmas_subtract wants them */
		if (out->n && out->v[out->n - 1].end == x[i].start) {
			out->v[out->n - 1].end = x[i].end;
			continue;
		}
		v = array_grow(out->v, out->n, &out->cap, sizeof(*v), 16);

		if (!v) {
			free(x);
			free(y);
			vmas_clear(out);
			return -ENOMEM;
		}
		out->v = v;
		out->v[out->n++] = (struct vma_range){ x[i].start, x[i].end };
	}
	st->ranges = out->n;
	st->net_bytes = net;
	free(x);
	free(y);
	return 0;
}

/* ---- the census worker ---------------------------------------------------- */

/* Pages hashed at most per census: 16 GiB, 384 MiB of entries and
 * addresses. A bigger app is left enrolled as planned so far. */
#define RP_MAX_SAMPLED (1UL << 22)
/* Like ksmplusctl analyze: at most this share of one core (percent). */
#define RP_CPU_PCT 50
/* Growth that makes a census due (grown_due): a process's anonymous memory
 * by a quarter and by RP_GROWTH_MIN_KIB, or the app's by RP_GROWTH_APP_KIB
 * (8 MiB of duplicates net ~8 MiB; distinct, the census costs ~8 ms of CPU
 * and advises none of it). At most one such census every
 * RP_GROWTH_GAP_USEC, nor sooner than RP_GROWTH_CPU_X times its CPU. */
#define RP_GROWTH_MIN_KIB 4096
#define RP_GROWTH_APP_KIB 8192
#define RP_GROWTH_GAP_USEC 5000000ULL
#define RP_GROWTH_CPU_X 50
/* New processes of an app are censused together: the first waits this long. */
#define RP_KICK_USEC 200000ULL
/* A plan that could not be applied (a "later") is tried again after this. */
#define RP_RETRY_USEC 2000000ULL
/* The loop applies plans for at most this long a turn (each injection is
 * bounded by enroll.h's deadline, a row of them is not). */
#define RP_APPLY_BATCH_USEC 400000ULL

struct rp_proc {
	pid_t pid;
	unsigned long long start_time;
	size_t first, end;              /* its entries in the census */
	bool read;                      /* censused whole (not exited meanwhile) */
	int census_err;                 /* -errno: could not be read; enrolled whole */
	struct vma_list plan;
	struct rangeplan_stats st;
};

struct rp_job {
	char app[256];
	struct rp_proc *procs;
	size_t n;
	const atomic_bool *cancel;
	struct vma_list vmas;           /* procmem's VMA list, one for every process */
	int rc;
	char err[200];
	uint64_t started_usec, cpu0_usec, cpu_usec, wall_usec;
	struct procmem_stats pst;
	struct rangeplan_faults faults;         /* the test hook's, read at its start */
};

/* Per app: when it was last censused, and what censuses cost it. */
struct rp_app {
	char name[256];
	uint64_t due_usec;              /* 0: not due until the interval passes */
	uint64_t last_usec;
	uint64_t cpu_usec;              /* every census of it so far */
	uint64_t last_cpu_usec;         /* its last census's (growth's rate limit) */
	unsigned censuses;
	size_t members;                 /* processes in its last census */
	struct statefile_census last;   /* its last census (when = 0: none yet) */
};

struct rangeplan {
	int efd;
	sd_event_source *src, *kick;
	pthread_t thread;
	struct rp_job *running;         /* the thread's until it signals */
	atomic_bool cancel;
	struct rp_app *apps;
	size_t n_apps, cap_apps;
	size_t rr;              /* the app (index in the app list) looked at first
				 * next tick: one after the last censused */
};

static uint64_t clock_usec(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

static void job_free(struct rp_job *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < j->n; i++)
		vmas_free(&j->procs[i].plan);
	free(j->procs);
	free(j);
}

/* Holds the thread to RP_CPU_PCT of a core (see analysis.c's pace). */
static void pace(void *ud)
{
	struct rp_job *j = ud;
	uint64_t cpu = clock_usec(CLOCK_THREAD_CPUTIME_ID) - j->cpu0_usec;
	uint64_t wall = clock_usec(CLOCK_MONOTONIC) - j->started_usec;
	uint64_t due = cpu * 100 / RP_CPU_PCT;

	if (due > wall + 1000)
		usleep((useconds_t)(due - wall));
}

bool rangeplan_falls_back(int err)
{
	return err < 0 && err != -ESRCH && err != -ECANCELED && err != -ENOMEM &&
	       err != -E2BIG && err != -ENOSYS;
}

int rangeplan_faults_load(struct rangeplan_faults *f, const char *path)
{
	FILE *in = path ? fopen(path, "re") : NULL;
	int p, e, rc = 0;

	*f = (struct rangeplan_faults){ 0 };
	if (!in)
		return 0;
	while (fscanf(in, "%d %d", &p, &e) == 2) {
		struct rangeplan_fault *v = array_grow(f->v, f->n, &f->cap, sizeof(*v), 4);

		if (!v) {
			rangeplan_faults_free(f);
			rc = -ENOMEM;
			break;
		}
		f->v = v;
		f->v[f->n++] = (struct rangeplan_fault){ p, e };
	}
	fclose(in);
	return rc;
}

int rangeplan_fault_of(const struct rangeplan_faults *f, int pid)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->v[i].pid == pid && f->v[i].err > 0)
			return -f->v[i].err;
	return 0;
}

void rangeplan_faults_free(struct rangeplan_faults *f)
{
	free(f->v);
	*f = (struct rangeplan_faults){ 0 };
}

/* One process into c; one that exits half-read is left out, one that
 * cannot be read (rangeplan_falls_back) too, with p->census_err set. 0 or
 * a fatal -errno. */
static int census_proc(struct rp_job *j, struct census *c, struct rp_proc *p)
{
	struct procmem pm;
	struct census_mark mark;
	int rc = rangeplan_fault_of(&j->faults, (int)p->pid);

	p->first = p->end = c->n;
	if (rc == 0)
		rc = procmem_open_keep(&pm, p->pid, &j->vmas);
	else
		memset(&pm, 0, sizeof(pm));
	if (rc == -ESRCH)
		return 0;               /* gone: the exit event removes it */
	if (rc < 0) {
		if (!rangeplan_falls_back(rc))
			return rc;
		p->census_err = rc;
		return 0;
	}
	pm.cancel = j->cancel;
	pm.pace = pace;
	pm.pace_ud = j;
	pm.skip_shared = true;          /* shared since fork: nothing to merge */
	census_mark(c, &mark);
	rc = procmem_census(&pm, c, &j->pst);
	procmem_close(&pm);
	if (rc == -ESRCH || rangeplan_falls_back(rc)) {
		census_rollback(c, &mark);
		p->census_err = rc == -ESRCH ? 0 : rc;
		return 0;
	}
	if (rc < 0)
		return rc;
	p->end = c->n;
	p->read = true;
	return 0;
}

/* The plan of p from its entries of c (m: group sizes in entry order). */
static int plan_proc(const struct census *c, const uint32_t *m, struct rp_proc *p)
{
	size_t n = p->end - p->first;
	struct rangeplan_page *pg = malloc((n ? n : 1) * sizeof(*pg));
	int rc;

	if (!pg)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		size_t e = p->first + i;

		pg[i] = (struct rangeplan_page){ .addr = c->addr[e],
			.vma = c->maps[c->ranges[c->e[e].range].map].start, .group = m[e] };
	}
	rc = rangeplan_plan(pg, n, c->page_size, RANGEPLAN_MAX_RANGES, &p->plan, &p->st);
	free(pg);
	return rc;
}

static void job_census(struct rp_job *j)
{
	struct census c;
	uint32_t *m = NULL;

	census_init(&c, 1, (size_t)sysconf(_SC_PAGESIZE));
	census_keep_addresses(&c);
	c.max_sampled = RP_MAX_SAMPLED;
	/* the test hook's file: read once a census, not once per process */
	j->rc = rangeplan_faults_load(&j->faults, getenv("KSMPLUS_CENSUS_FAIL"));
	for (size_t i = 0; i < j->n && j->rc == 0; i++)
		j->rc = census_proc(j, &c, &j->procs[i]);
	if (j->rc == 0 && c.n && !(m = malloc(c.n * sizeof(*m))))
		j->rc = -ENOMEM;
	if (j->rc == 0 && c.n)
		j->rc = census_group_sizes(&c, m);
	for (size_t i = 0; i < j->n && j->rc == 0; i++)
		if (j->procs[i].read)
			j->rc = plan_proc(&c, m, &j->procs[i]);
	free(m);
	census_free(&c);        /* the hashes go now */
	vmas_free(&j->vmas);
	rangeplan_faults_free(&j->faults);
	if (j->rc == -E2BIG)
		snprintf(j->err, sizeof(j->err), "more than %lu resident pages: too big to census",
			 RP_MAX_SAMPLED);
	else if (j->rc < 0)
		snprintf(j->err, sizeof(j->err), "%s", strerror(-j->rc));
}

static void *job_run(void *arg)
{
	struct rangeplan *rp = arg;
	struct rp_job *j = rp->running;
	uint64_t one = 1;

	j->cpu0_usec = clock_usec(CLOCK_THREAD_CPUTIME_ID);
	/* like analyze: yields to everything else where allowed */
	setpriority(PRIO_PROCESS, (id_t)gettid(), 19);
	job_census(j);
	pace(j);
	j->cpu_usec = clock_usec(CLOCK_THREAD_CPUTIME_ID) - j->cpu0_usec;
	j->wall_usec = clock_usec(CLOCK_MONOTONIC) - j->started_usec;
	if (write(rp->efd, &one, sizeof(one)) < 0)
		abort();        /* an eventfd write of 1 cannot fail: the loop would wait forever */
	return NULL;
}

/* ---- per app bookkeeping -------------------------------------------------- */

bool rangeplan_app_census(const struct config *c, const char *app)
{
	if (strlist_contains(&c->census_apps, app))
		return true;
	if (strlist_contains(&c->whole_apps, app))
		return false;
	return c->policy_census;
}

static struct rp_app *app_of(struct rangeplan *rp, const char *name)
{
	struct rp_app *a;

	for (size_t i = 0; i < rp->n_apps; i++)
		if (strcmp(rp->apps[i].name, name) == 0)
			return &rp->apps[i];
	a = array_grow(rp->apps, rp->n_apps, &rp->cap_apps, sizeof(*a), 4);
	if (!a)
		return NULL;
	rp->apps = a;
	a = &rp->apps[rp->n_apps++];
	memset(a, 0, sizeof(*a));
	snprintf(a->name, sizeof(a->name), "%s", name);
	return a;
}

static void kick(struct rangeplan *rp, uint64_t usec)
{
	if (!rp->kick)
		return;
	sd_event_source_set_time_relative(rp->kick, usec);
	sd_event_source_set_enabled(rp->kick, SD_EVENT_ONESHOT);
}

static bool is_census_member(const struct tracked *t, const char *app)
{
	return t->census && t->state == TRACKED_ENROLLED && strcmp(t->app, app) == 0;
}

/* Memory mapped after a census is merged only from the next one: growth
 * brings it soon (the rescan timer looks, every rescan_interval_sec), when
 * one process grew by a quarter (and RP_GROWTH_MIN_KIB) or the app's
 * processes by RP_GROWTH_APP_KIB in all since they were censused: a
 * renderer that grows in small steps adds up to it, as do many renderers
 * growing a little each. Rate-limited: at most one such census every
 * RP_GROWTH_GAP_USEC, nor sooner after the last than RP_GROWTH_CPU_X times
 * the CPU it took, so an app that grows without pause spends at most
 * 1/RP_GROWTH_CPU_X of a core on them. A growth held back makes the app due
 * at the end of the gap (due_usec: the kick timer or the rescan looks). */
static bool grown_due(struct rp_app *a, uint64_t now, bool grown)
{
	uint64_t gap = a->last_cpu_usec * RP_GROWTH_CPU_X, ok_at;

	if (!grown)
		return false;
	if (gap < RP_GROWTH_GAP_USEC)
		gap = RP_GROWTH_GAP_USEC;
	ok_at = a->last_usec + gap;
	if (now >= ok_at)
		return true;
	if (!a->due_usec || ok_at < a->due_usec)
		a->due_usec = ok_at;
	return false;
}

/* Due: a process is new, or one left (its pages were the duplicates of
 * others': their ranges may no longer pay), a retry, the interval, or
 * growth (grown_due). */
static bool app_due(struct daemon *d, struct rp_app *a, uint64_t now)
{
	size_t members = 0;
	uint64_t grown_kib = 0;
	bool quarter = false;

	for (size_t i = 0; i < d->tr.n; i++) {
		const struct tracked *t = &d->tr.v[i];
		uint64_t kib;

		if (!is_census_member(t, a->name))
			continue;
		members++;
		if (!t->census_anon_kib)
			return true;    /* never censused: it joins at once */
		kib = (uint64_t)figures_rss_anon_kib(t->ref.pid);
		if (kib <= t->census_anon_kib)
			continue;
		grown_kib += kib - t->census_anon_kib;
		quarter |= kib > t->census_anon_kib + t->census_anon_kib / 4 &&
			   kib > t->census_anon_kib + RP_GROWTH_MIN_KIB;
	}
	if (!members) {
		a->members = 0;         /* a process that joins later is news */
		return false;
	}
	if (members != a->members)
		return true;
	if ((a->due_usec && now >= a->due_usec) ||
	    now >= a->last_usec + (uint64_t)d->cfg.census_interval_sec * 1000000ULL)
		return true;
	return grown_due(a, now, quarter || grown_kib >= RP_GROWTH_APP_KIB);
}

/* Starts the census of app: its enrolled processes as they are now. */
static int start_job(struct daemon *d, struct rp_app *a)
{
	struct rangeplan *rp = d->rp;
	struct rp_job *j = calloc(1, sizeof(*j));
	size_t cap = 0;

	if (!j)
		return -ENOMEM;
	snprintf(j->app, sizeof(j->app), "%s", a->name);
	j->cancel = &rp->cancel;
	for (size_t i = 0; i < d->tr.n; i++) {
		struct tracked *t = &d->tr.v[i];
		struct rp_proc *p;

		if (!is_census_member(t, a->name))
			continue;
		p = array_grow(j->procs, j->n, &cap, sizeof(*p), 8);
		if (!p) {
			job_free(j);
			return -ENOMEM;
		}
		j->procs = p;
		j->procs[j->n++] = (struct rp_proc){ .pid = t->ref.pid, .start_time = t->ref.start_time };
		t->census_anon_kib = (uint64_t)figures_rss_anon_kib(t->ref.pid);
		if (!t->census_anon_kib)
			t->census_anon_kib = 1;         /* censused: not "never" */
	}
	j->started_usec = clock_usec(CLOCK_MONOTONIC);
	a->members = j->n;
	a->last_usec = j->started_usec;
	a->due_usec = 0;
	rp->running = j;
	if (pthread_create(&rp->thread, NULL, job_run, rp) != 0) {
		rp->running = NULL;
		job_free(j);
		return -EAGAIN;
	}
	return 0;
}

void rangeplan_tick(struct daemon *d)
{
	struct rangeplan *rp = d->rp;
	uint64_t now = clock_usec(CLOCK_MONOTONIC);

	uint64_t next = 0;

	if (!rp || rp->running || d->paused)
		return;
	/* Round robin: an app always due (growing fast, a short interval)
	 * must not starve the apps after it in the list. */
	for (size_t k = 0, n = d->apps.effective.n; k < n; k++) {
		size_t i = (rp->rr + k) % n;
		const char *name = d->apps.effective.v[i];
		struct rp_app *a;
		int rc;

		if (!rangeplan_app_census(&d->cfg, name) || !(a = app_of(rp, name)))
			continue;
		if (!app_due(d, a, now)) {
			if (a->due_usec > now && (!next || a->due_usec < next))
				next = a->due_usec;
			continue;
		}
		if ((rc = start_job(d, a)) < 0)
			log_warn("app %s: cannot start its census: %s", name, strerror(-rc));
		rp->rr = i + 1;
		return;         /* one census at a time; the next when it is done */
	}
	/* a retry sooner than the rescan timer's next turn */
	if (next)
		kick(rp, next - now);
}

static int on_kick(sd_event_source *s, uint64_t usec, void *ud)
{
	(void)s; (void)usec;
	rangeplan_tick(ud);
	return 0;
}

static bool apply_plan(struct daemon *d, struct tracked *t, const struct vma_list *plan);

/* A retry of t, whose plan a passing state kept from being advised: the
 * plan is advised now, as it was made. Censusing the app again instead, at
 * every retry, re-censused it every second or so for as long as t stayed
 * stopped or frozen, and showed t enrolled while each census ran. Still
 * not possible: skipped again, with its next retry (plan_not_applied). */
static void retry_pending(struct daemon *d, struct tracked *t)
{
	struct vma_list plan = t->pending;

	t->pending = (struct vma_list){ 0 };
	t->state = TRACKED_ENROLLED;
	t->mode = ENROLL_RANGES;
	t->retry_usec = 0;
	if (apply_plan(d, t, &plan) && t->state == TRACKED_ENROLLED) {
		d->count.enrolled++;
		t->reason[0] = '\0';
		t->census_anon_kib = (uint64_t)figures_rss_anon_kib(t->ref.pid);
		if (!t->census_anon_kib)
			t->census_anon_kib = 1;
		log_event(&(struct log_fields){ LOG_MSGID_ENROLLED, t->app, t->ref.pid,
						enroll_backend_name(d->enr.backend), NULL },
			  "enrolled", LOG_INFO, "enrolled %s[%d] (app %s, %s, census: its plan advised "
			  "on a retry)", t->comm, (int)t->ref.pid, t->app,
			  enroll_backend_name(d->enr.backend));
	}
	vmas_free(&plan);
}

void rangeplan_enroll(struct daemon *d, struct tracked *t)
{
	struct rp_app *a = d->rp ? app_of(d->rp, t->app) : NULL;

	if (t->census && t->pending.n && t->state == TRACKED_SKIPPED) {
		retry_pending(d, t);
		return;
	}

	d->count.enrolled++;
	t->state = TRACKED_ENROLLED;
	t->mode = ENROLL_RANGES;
	/* A process enrolled again after a "later" (lifecycle's retry) keeps
	 * its back-off count, reset once a plan is applied, and the ranges
	 * the kernel still holds advised from an earlier plan. */
	if (!t->census)
		vmas_free(&t->advised);
	t->census = true;
	t->census_anon_kib = 0;         /* never censused: due */
	t->reason[0] = '\0';
	t->retry_usec = 0;
	log_event(&(struct log_fields){ LOG_MSGID_ENROLLED, t->app, t->ref.pid,
					enroll_backend_name(d->enr.backend), NULL },
		  "enrolled", LOG_INFO, "enrolled %s[%d] (app %s, %s, census: profitable ranges only)",
		  t->comm, (int)t->ref.pid, t->app, enroll_backend_name(d->enr.backend));
	if (a && !a->due_usec)
		a->due_usec = clock_usec(CLOCK_MONOTONIC) + RP_KICK_USEC;
	if (d->rp)
		kick(d->rp, RP_KICK_USEC);
}

/* ---- applying plans, on the loop ------------------------------------------ */

/* a ∪ b, both sorted and coalesced, into out (sorted, coalesced). */
static int ranges_union(const struct vma_list *a, const struct vma_list *b, struct vma_list *out)
{
	size_t i = 0, k = 0;

	vmas_clear(out);
	while (i < a->n || k < b->n) {
		struct vma_range r = (k >= b->n || (i < a->n && a->v[i].start < b->v[k].start)) ?
				     a->v[i++] : b->v[k++];
		struct vma_range *v;

		if (out->n && r.start <= out->v[out->n - 1].end) {
			if (r.end > out->v[out->n - 1].end)
				out->v[out->n - 1].end = r.end;
			continue;
		}
		if (!(v = array_grow(out->v, out->n, &out->cap, sizeof(*v), 16)))
			return -ENOMEM;
		out->v = v;
		out->v[out->n++] = r;
	}
	return 0;
}

/* t's plan could not be advised (res: why). As lifecycle_enroll does for a
 * whole process: said once a process, shown in status; a passing state
 * (stopped, in D state, a signal storm) is tried again with back-off, by
 * lifecycle's retry, which enrolls t again (its census comes shortly), the
 * rest (sandboxed, traced...) is final. Retrying the app's census every
 * RP_RETRY_USEC instead would census a big app every 2 s for as long as
 * one of its processes stays stopped, and status would show it enrolled. */
static int ranges_union(const struct vma_list *a, const struct vma_list *b, struct vma_list *out);

static void plan_not_applied(struct daemon *d, struct tracked *t, const struct enroll_result *res,
			     const struct vma_list *plan)
{
	static const struct vma_list none;

	bool passing = res->err == -EAGAIN || res->err == -ETIMEDOUT ||
		       (res->err == -ESRCH && pidref_alive(&t->ref));

	if (res->err == -ESRCH && !passing)
		return;                 /* gone: the exit event removes it */
	t->state = TRACKED_SKIPPED;
	snprintf(t->reason, sizeof(t->reason), "%s",
		 res->reason[0] ? res->reason : strerror(res->err < 0 ? -res->err : EIO));
	if (passing)
		d->count.later++;
	else
		d->count.skipped++;
	if (!t->retries)
		log_event(&(struct log_fields){ LOG_MSGID_SKIPPED, t->app, t->ref.pid,
						enroll_backend_name(d->enr.backend), t->reason },
			  "not enrolling", LOG_WARNING, "not enrolling %s[%d] (app %s): %s", t->comm,
			  (int)t->ref.pid, t->app, t->reason);
	if (passing) {
		/* the retry advises this plan (retry_pending); without it
		 * (ENOMEM), it enrolls t again and the app's census comes */
		if (ranges_union(plan, &none, &t->pending) < 0)
			vmas_free(&t->pending);
		lifecycle_schedule_retry(d, t, res->lasting);
	}
}

/* Makes t's advised ranges its plan: the ranges that stopped paying are
 * unmerged, the new ones advised. false when a step must be tried again. */
static bool apply_plan(struct daemon *d, struct tracked *t, const struct vma_list *plan)
{
	struct vma_list add = { 0 }, drop = { 0 }, next = { 0 };
	struct enroll_result res = { 0 };
	struct enroller e = d->enr;
	bool ok = true;

	e.has_prctl_merge = false;      /* by range, never merge-any */
	if (vmas_subtract(plan, &t->advised, &add) < 0 ||
	    vmas_subtract(&t->advised, plan, &drop) < 0) {
		ok = false;
		goto out;
	}
	/* never an empty list: enroll_undo would take it for "all of it" */
	if (drop.n && enroll_undo(&e, &t->ref, ENROLL_RANGES, &drop, &res) == 0) {
		if (vmas_subtract(&t->advised, &drop, &next) == 0) {
			vmas_free(&t->advised);
			t->advised = next;
			next = (struct vma_list){ 0 };
		}
		log_info("census: %s[%d] (app %s): %zu KiB no longer pay, unmerged", t->comm,
			 (int)t->ref.pid, t->app, vmas_bytes(&drop) / 1024);
	} else if (drop.n) {
		ok = false;
		log_warn("census: cannot unmerge %s[%d]'s ranges that no longer pay: %s", t->comm,
			 (int)t->ref.pid, res.reason[0] ? res.reason : strerror(-res.err));
	}
	memset(&res, 0, sizeof(res));
	if (add.n && enroll_process(&e, &t->ref, &add, &res) == 0) {
		if (ranges_union(&t->advised, &add, &next) == 0) {
			vmas_free(&t->advised);
			t->advised = next;
			next = (struct vma_list){ 0 };
		}
		log_info("census: %s[%d] (app %s): +%zu KiB in %zu ranges advised", t->comm,
			 (int)t->ref.pid, t->app, vmas_bytes(&add) / 1024, add.n);
		governor_on_enrolled(d, t);
	} else if (add.n) {
		plan_not_applied(d, t, &res, plan);
		/* skipped: its own retry, not the app's census; gone: none */
		ok = t->state != TRACKED_ENROLLED || res.err == -ESRCH;
	} else if (ok) {
		t->retries = 0;                 /* applied: a later "later" starts over */
	}
	lifecycle_arm_reaper(d);
out:
	vmas_free(&add);
	vmas_free(&drop);
	vmas_free(&next);
	return ok;
}

/* t's census could not read it (err): enrolled whole instead, as
 * policy = whole would, and no longer censused (its memory is all
 * advised). Said once, and shown in status as its reason. */
static void fall_back_whole(struct daemon *d, struct tracked *t, int err)
{
	char why[sizeof(t->reason)];

	snprintf(why, sizeof(why), "census cannot read it (%s): whole process", strerror(-err));
	lifecycle_enroll_whole(d, t);
	if (t->state != TRACKED_ENROLLED)
		return;                 /* said by lifecycle, with its own reason */
	snprintf(t->reason, sizeof(t->reason), "%s", why);
	log_event(&(struct log_fields){ LOG_MSGID_ENROLLED, t->app, t->ref.pid,
					enroll_backend_name(d->enr.backend), why },
		  "census fallback", LOG_WARNING,
		  "census of %s[%d] (app %s) failed: %s; enrolled the whole process instead",
		  t->comm, (int)t->ref.pid, t->app, strerror(-err));
}

/* The job's plans summed; *procs: the processes it read whole. */
static void job_totals(const struct rp_job *j, struct rangeplan_stats *sum, size_t *procs)
{
	struct rangeplan_stats s = { 0 };

	*procs = 0;
	for (size_t i = 0; i < j->n; i++) {
		const struct rangeplan_stats *x = &j->procs[i].st;

		*procs += j->procs[i].read;
		s.pages += x->pages;
		s.dup_pages += x->dup_pages;
		s.planned_pages += x->planned_pages;
		s.ranges += x->ranges;
		s.net_bytes += x->net_bytes;
	}
	*sum = s;
}

static void log_job(const struct rp_job *j, const struct rp_app *a)
{
	struct rangeplan_stats s;
	size_t procs;

	job_totals(j, &s, &procs);
	log_info("census of app %s: %zu processes, %llu resident pages, %llu duplicate; plan: "
		 "%llu ranges, %llu pages, forecast net %lld KiB; %.3f s CPU (%.3f s in %u censuses); "
		 "%llu pages shared since fork left out",
		 j->app, procs, (unsigned long long)s.pages, (unsigned long long)s.dup_pages,
		 (unsigned long long)s.ranges, (unsigned long long)s.planned_pages,
		 (long long)(s.net_bytes / 1024), j->cpu_usec / 1e6, a ? a->cpu_usec / 1e6 : 0.0,
		 a ? a->censuses : 0, (unsigned long long)j->pst.shared);
}

/* The census's figures for status, here and in the state file (a
 * restarted daemon shows them until its own first census). */
static void keep_summary(struct daemon *d, const struct rp_job *j, struct rp_app *a)
{
	long long page_kib = sysconf(_SC_PAGESIZE) / 1024;
	struct rangeplan_stats s;
	size_t procs;

	job_totals(j, &s, &procs);
	a->last = (struct statefile_census){ .when = (int64_t)time(NULL), .procs = procs,
		.ranges = s.ranges, .planned_kib = s.planned_pages * (unsigned long long)page_kib,
		.hashed_kib = j->pst.read_bytes / 1024, .cpu_ms = j->cpu_usec / 1000,
		.censuses = a->censuses, .net_kib = (long long)(s.net_bytes / 1024) };
	snprintf(a->last.app, sizeof(a->last.app), "%s", a->name);
	statefile_put_census(&d->state, &a->last);
	daemon_save_state(d);
}

static void apply_job(struct daemon *d, struct rp_job *j, struct rp_app *a)
{
	uint64_t start = clock_usec(CLOCK_MONOTONIC);
	bool again = false;

	for (size_t i = 0; i < j->n; i++) {
		const struct rp_proc *p = &j->procs[i];
		struct tracked *t = tracker_find(&d->tr, p->pid);

		if ((!p->read && !p->census_err) || !t || t->ref.start_time != p->start_time ||
		    !is_census_member(t, j->app))
			continue;       /* gone, reused, removed or dropped meanwhile */
		if (p->census_err) {
			fall_back_whole(d, t, p->census_err);
			if (a && a->members)
				a->members--;   /* no longer a census member: no news */
			continue;
		}
		if (clock_usec(CLOCK_MONOTONIC) - start > RP_APPLY_BATCH_USEC) {
			again = true;   /* the rest at the next census, soon */
			t->census_anon_kib = 0;
			continue;
		}
		if (!apply_plan(d, t, &p->plan))
			again = true;
	}
	if (again && a)
		a->due_usec = clock_usec(CLOCK_MONOTONIC) + RP_RETRY_USEC;
}

static int on_job_done(sd_event_source *s, int fd, uint32_t revents, void *ud)
{
	struct daemon *d = ud;
	struct rangeplan *rp = d->rp;
	struct rp_job *j;
	struct rp_app *a;
	uint64_t n;

	(void)s; (void)revents;
	if (read(fd, &n, sizeof(n)) < 0 || !rp->running)
		return 0;
	pthread_join(rp->thread, NULL);
	j = rp->running;
	rp->running = NULL;
	a = app_of(rp, j->app);
	if (a) {
		a->cpu_usec += j->cpu_usec;
		a->last_cpu_usec = j->cpu_usec;
		a->censuses++;
	}
	if (j->rc < 0)
		log_warn("census of app %s failed: %s", j->app, j->err);
	else if (!d->paused) {
		log_job(j, a);
		apply_job(d, j, a);
		if (a)
			keep_summary(d, j, a);
	}
	job_free(j);
	daemon_update_status(d);
	kick(rp, 0);            /* another app may be due */
	return 0;
}

/* The app's census figures, from this run or, before its first census,
 * from the state file. */
static const struct statefile_census *last_census(const struct daemon *d, const struct rp_app *a,
						  bool *saved)
{
	*saved = false;
	if (a->last.when)
		return &a->last;
	for (size_t i = 0; i < d->state.n_cs; i++)
		if (strcmp(d->state.cs[i].app, a->name) == 0) {
			*saved = true;
			return &d->state.cs[i];
		}
	return NULL;
}

/* Seconds until app's census is due on time (growth or a new process may
 * bring it sooner); 0: due now, or running. */
static long long next_due_s(const struct daemon *d, const struct rp_app *a, uint64_t now)
{
	uint64_t due = a->last_usec + (uint64_t)d->cfg.census_interval_sec * 1000000ULL;

	if (!a->last_usec)
		due = now;      /* never censused in this run: at its first process */
	if (a->due_usec && a->due_usec < due)
		due = a->due_usec;
	return due > now ? (long long)((due - now + 999999) / 1000000) : 0;
}

bool rangeplan_status(const struct daemon *d, const char *app, struct rangeplan_status *out)
{
	const struct statefile_census *l;
	const struct rp_app *a = NULL;
	struct rp_app none = { 0 };     /* not censused yet in this run */

	memset(out, 0, sizeof(*out));
	if (!d->rp || !rangeplan_app_census(&d->cfg, app))
		return false;
	for (size_t i = 0; i < d->rp->n_apps && !a; i++)
		if (strcmp(d->rp->apps[i].name, app) == 0)
			a = &d->rp->apps[i];
	if (!a) {
		snprintf(none.name, sizeof(none.name), "%s", app);
		a = &none;
	}
	if ((l = last_census(d, a, &out->saved))) {
		out->censused = true;
		out->when = l->when;
		out->procs = l->procs;
		out->planned_kib = l->planned_kib;
		out->net_kib = l->net_kib;
		out->hashed_kib = l->hashed_kib;
		out->cpu_ms = l->cpu_ms;
	}
	out->cpu_total_ms = a->cpu_usec / 1000;
	out->censuses = a->censuses;
	out->running = d->rp->running && strcmp(d->rp->running->app, app) == 0;
	out->next_s = out->running ? 0 : next_due_s(d, a, clock_usec(CLOCK_MONOTONIC));
	for (size_t i = 0; i < d->tr.n; i++) {
		const struct tracked *t = &d->tr.v[i];

		if (!is_census_member(t, app))
			continue;
		out->ranges += t->advised.n;
		out->advised_kib += vmas_bytes(&t->advised) / 1024;
	}
	return true;
}

int rangeplan_init(struct daemon *d)
{
	struct rangeplan *rp = calloc(1, sizeof(*rp));
	int rc;

	if (!rp)
		return -ENOMEM;
	rp->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (rp->efd < 0) {
		rc = -errno;
		free(rp);
		return rc;
	}
	rc = sd_event_add_io(d->ev, &rp->src, rp->efd, EPOLLIN, on_job_done, d);
	if (rc >= 0)
		rc = sd_event_add_time_relative(d->ev, &rp->kick, CLOCK_MONOTONIC, RP_KICK_USEC, 0,
						on_kick, d);
	if (rc >= 0)
		rc = sd_event_source_set_enabled(rp->kick, SD_EVENT_OFF);
	if (rc < 0) {
		sd_event_source_unref(rp->kick);
		sd_event_source_unref(rp->src);
		close(rp->efd);
		free(rp);
		return rc;
	}
	d->rp = rp;
	return 0;
}

void rangeplan_free(struct daemon *d)
{
	struct rangeplan *rp = d->rp;

	if (!rp)
		return;
	if (rp->running) {
		atomic_store(&rp->cancel, true);
		pthread_join(rp->thread, NULL);
	}
	job_free(rp->running);
	free(rp->apps);
	sd_event_source_unref(rp->kick);
	sd_event_source_unref(rp->src);
	close(rp->efd);
	free(rp);
	d->rp = NULL;
}
