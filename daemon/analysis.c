/* analysis.c — `ksmplusctl analyze`: a duplicate census of one app's or one
 * process's resident anonymous pages (census.h, procmem.h), run in a worker
 * thread so that the event loop goes on answering while it hashes.
 *
 * The request is answered at once with the census's id; the client asks
 * again with that id until the census is done (op=analyze id=N), so no
 * connection is held open for the seconds a large app takes. One census runs
 * at a time; the latest result is kept (a few hundred bytes: the page
 * hashes are freed by the thread as soon as the forecast is made).
 *
 * Against other enrolled apps: the daemon's tracked, enrolled processes of
 * other apps are hashed too, with the same sampling, into a second census,
 * and the report says which of the app's pages they hold too and which part
 * of the saving depends on them (census_report_against).
 *
 * The last forecast of each app (by name, or cgroup:GLOB) is kept, so
 * status can show it next to the measured saving (analysis_forecast).
 *
 * The thread runs at nice 19, uses at most half a core (pace), reads each
 * target in bounded batches (procmem.h) and never stops it. Shutdown cancels it between two pagemap
 * chunks.
 *
 * Test hook (environment): KSMPLUS_CENSUS_HOLD=PATH — while PATH exists the
 * thread waits after reading a process's maps and before its pages, so a
 * test can make the process exit mid-census without racing it. */
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
#include "cgroups.h"
#include "daemon.h"
#include "log.h"
#include "match.h"
#include "procmem.h"

/* 2^24 pages = 64 GiB hashed, 256 MiB of entries: past that, --sample. */
#define ANALYSIS_MAX_SAMPLED (1UL << 24)
#define ANALYSIS_MAX_SAMPLE 65536
#define ANALYSIS_HOLD_MAX_SEC 120
/* The census may use this share of one core (percent): at most, the thread
 * sleeps as long as it has worked. */
#define ANALYSIS_CPU_PCT 50
/* Forecasts kept for status, one per app: the oldest goes beyond this. */
#define ANALYSIS_FORECASTS 64

/* A process of another enrolled app, hashed to find what both hold. */
struct other_proc {
	pid_t pid;
	uint32_t app;                   /* index into analysis_job.other_apps */
};

struct analysis_job {
	unsigned id;
	char name[256];                 /* the app; "" with pid */
	pid_t pid;                      /* --pid; 0 with name */
	char glob[256];                 /* --cgroup: "" otherwise */
	pid_t *pids;                    /* the app's tracked processes, then all */
	size_t npids, cap_pids;
	unsigned sample;
	const atomic_bool *cancel;
	/* other enrolled apps: names, and their processes (copied by the loop) */
	char (*other_apps)[256];
	size_t n_other_apps, cap_other_apps;
	struct other_proc *others;
	size_t n_others, cap_others;
	/* results, written by the thread */
	size_t others_read;             /* other apps' processes hashed */
	int rc;
	char err[PROTO_VALUE_MAX];
	struct census_report rep;
	struct procmem_stats st;
	size_t procs, exited;
	char exited_pids[64];
	uint64_t started_usec, wall_usec, cpu_usec;
	uint64_t cpu0_usec, slept_usec;
};

struct analysis {
	struct daemon *d;               /* its state file keeps the forecasts */
	struct analysis_forecast fc[ANALYSIS_FORECASTS];
	size_t n_fc;
	int efd;
	sd_event_source *src;
	pthread_t thread;
	struct analysis_job *running;   /* owned by the thread until it signals */
	struct analysis_job *done;
	unsigned next_id;
	atomic_bool cancel;
};

static uint64_t clock_usec(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

static void job_free(struct analysis_job *j)
{
	if (!j)
		return;
	free(j->pids);
	free(j->other_apps);
	free(j->others);
	free(j);
}

static int add_pid(struct analysis_job *j, pid_t pid)
{
	for (size_t i = 0; i < j->npids; i++)
		if (j->pids[i] == pid)
			return 0;
	pid_t *v = array_grow(j->pids, j->npids, &j->cap_pids, sizeof(*v), 16);

	if (!v)
		return -ENOMEM;
	j->pids = v;
	j->pids[j->npids++] = pid;
	return 0;
}

/* Which processes a census is of (besides those the daemon tracks for the
 * app, children included): enrolled or not, every one whose name matches,
 * or with --cgroup every one whose v2 or v1 memory cgroup path matches. */
typedef bool (*pid_match)(const struct analysis_job *j, const struct procwatch_info *info);

static bool by_name(const struct analysis_job *j, const struct procwatch_info *info)
{
	return match_name(j->name, info->comm, info->exe_base);
}

static bool by_cgroup(const struct analysis_job *j, const struct procwatch_info *info)
{
	return cgroup_mem_match(j->glob, info->pid) == 1;
}

struct pid_walk {
	struct analysis_job *j;
	pid_match match;
	pid_t self;
};

static int walk_one(const struct procwatch_info *info, void *ud)
{
	struct pid_walk *w = ud;

	/* no exe: unreadable to us, and so is its memory */
	if (info->pid == w->self || !info->exe_base[0] || !w->match(w->j, info))
		return 0;
	return add_pid(w->j, info->pid);
}

/* Adds every live process that match picks to j->pids. 0 or -errno. */
static int find_pids(struct analysis_job *j, pid_match match)
{
	struct pid_walk w = { j, match, getpid() };

	return procwatch_each(walk_one, &w);
}

/* Holds the thread to ANALYSIS_CPU_PCT of a core. Nice 19 alone is not
 * enough: under the shipped unit setpriority is filtered (@resources), and
 * a niced thread still takes a whole idle core from a desktop's bursts. */
static void pace(void *ud)
{
	struct analysis_job *j = ud;
	uint64_t cpu = clock_usec(CLOCK_THREAD_CPUTIME_ID) - j->cpu0_usec;
	uint64_t wall = clock_usec(CLOCK_MONOTONIC) - j->started_usec;
	uint64_t due = cpu * 100 / ANALYSIS_CPU_PCT;

	if (due > wall + 1000) {
		usleep((useconds_t)(due - wall));
		j->slept_usec += due - wall;
	}
}

/* KSMPLUS_CENSUS_HOLD: see the top of this file. */
static void test_hold(const struct analysis_job *j, pid_t pid)
{
	const char *path = getenv("KSMPLUS_CENSUS_HOLD");

	if (!path || access(path, F_OK) != 0)
		return;
	log_info("census %u: holding before reading the pages of %d (%s exists)", j->id, (int)pid,
		 path);
	for (int i = 0; i < ANALYSIS_HOLD_MAX_SEC * 100 && access(path, F_OK) == 0 &&
	     !atomic_load(j->cancel); i++)
		usleep(10000);
}

static void note_exited(struct analysis_job *j, pid_t pid)
{
	size_t len = strlen(j->exited_pids);

	j->exited++;
	if (len + 12 < sizeof(j->exited_pids))
		snprintf(j->exited_pids + len, sizeof(j->exited_pids) - len, "%s%d", len ? "," : "",
			 (int)pid);
}

/* One process into c. A process that exits half-read is left out whole:
 * part of one would skew the forecast. 0, or a fatal -errno. */
static int census_one(struct analysis_job *j, struct census *c, pid_t pid)
{
	struct procmem pm;
	struct census_mark mark;
	int rc = procmem_open(&pm, pid);

	if (rc == -ESRCH) {
		note_exited(j, pid);
		return 0;
	}
	if (rc < 0) {
		snprintf(j->err, sizeof(j->err), "cannot read the memory of process %d: %s", (int)pid,
			 strerror(-rc));
		return rc;
	}
	pm.cancel = j->cancel;
	pm.pace = pace;
	pm.pace_ud = j;
	test_hold(j, pid);
	census_mark(c, &mark);
	rc = procmem_census(&pm, c, &j->st);
	procmem_close(&pm);
	if (rc == -ESRCH) {
		census_rollback(c, &mark);
		note_exited(j, pid);
		return 0;
	}
	if (rc == -E2BIG)
		snprintf(j->err, sizeof(j->err), "more than %lu pages to hash: use --sample N",
			 ANALYSIS_MAX_SAMPLED);
	else if (rc < 0)
		snprintf(j->err, sizeof(j->err), "reading the memory of process %d: %s", (int)pid,
			 strerror(-rc));
	else
		j->procs++;
	return rc;
}

/* The other enrolled apps' processes into o, each tagged with its app. One
 * that exits or cannot be read is left out: they are the background of the
 * forecast, not its subject. 0, or -ECANCELED, -ENOMEM. */
static int census_others(struct analysis_job *j, struct census *o)
{
	for (size_t i = 0; i < j->n_others; i++) {
		struct other_proc *x = &j->others[i];
		struct procmem pm;
		struct census_mark mark;
		bool ours = false;
		int rc;

		for (size_t k = 0; k < j->npids && !ours; k++)
			ours = j->pids[k] == x->pid;
		if (ours || procmem_open(&pm, x->pid) < 0)
			continue;
		pm.cancel = j->cancel;
		pm.pace = pace;
		pm.pace_ud = j;
		census_set_tag(o, x->app);
		census_mark(o, &mark);
		rc = procmem_census(&pm, o, &j->st);
		procmem_close(&pm);
		if (rc == -ECANCELED || rc == -ENOMEM)
			return rc;
		if (rc < 0)
			census_rollback(o, &mark);
		else
			j->others_read++;
	}
	census_sort(o);
	return 0;
}

static void job_census(struct analysis_job *j)
{
	struct census c, o;

	if (j->pid) {
		if (add_pid(j, j->pid) < 0) {
			j->rc = -ENOMEM;
			return;
		}
	} else if ((j->rc = find_pids(j, j->glob[0] ? by_cgroup : by_name)) < 0) {
		snprintf(j->err, sizeof(j->err), "listing processes: %s", strerror(-j->rc));
		return;
	}
	if (!j->npids) {
		j->rc = -ESRCH;
		if (j->glob[0])
			snprintf(j->err, sizeof(j->err), "no process is in a cgroup matching %.150s "
				 "(v2 path or v1 memory cgroup)", j->glob);
		else
			snprintf(j->err, sizeof(j->err), "no running process is named %.200s", j->name);
		return;
	}
	census_init(&c, j->sample, (size_t)sysconf(_SC_PAGESIZE));
	census_init(&o, j->sample, (size_t)sysconf(_SC_PAGESIZE));
	c.max_sampled = o.max_sampled = ANALYSIS_MAX_SAMPLED;
	for (size_t i = 0; i < j->npids && j->rc == 0; i++)
		j->rc = census_one(j, &c, j->pids[i]);
	if (j->rc == 0 && !j->procs) {
		j->rc = -ESRCH;
		if (j->pid)
			snprintf(j->err, sizeof(j->err), "process %d exited during the census, or "
				 "there is none: nothing to report", (int)j->pid);
		else
			snprintf(j->err, sizeof(j->err), "every process of %.100s (%s) exited during "
				 "the census: nothing to report", j->name, j->exited_pids);
	}
	if (j->rc == 0)
		j->rc = census_others(j, &o);
	if (j->rc == 0)
		census_report_against(&c, &o, &j->rep);
	census_free(&c);        /* the hashes go now, not with the report */
	census_free(&o);
}

static void *job_run(void *arg)
{
	struct analysis *a = arg;
	struct analysis_job *j = a->running;
	uint64_t one = 1;

	j->cpu0_usec = clock_usec(CLOCK_THREAD_CPUTIME_ID);
	/* the census is a question, not a need: it yields to everything else
	 * (where allowed: the unit's filter refuses it, pace() still holds) */
	setpriority(PRIO_PROCESS, (id_t)gettid(), 19);
	job_census(j);
	pace(j);        /* the listing and the sort come after the last batch's */
	if (j->rc == -ECANCELED)
		snprintf(j->err, sizeof(j->err), "the census was cancelled: ksmplusd is stopping");
	else if (j->rc == -ENOMEM && !j->err[0])
		snprintf(j->err, sizeof(j->err), "out of memory");
	j->cpu_usec = clock_usec(CLOCK_THREAD_CPUTIME_ID) - j->cpu0_usec;
	j->wall_usec = clock_usec(CLOCK_MONOTONIC) - j->started_usec;
	if (write(a->efd, &one, sizeof(one)) < 0)
		abort();        /* an eventfd write of 1 cannot fail: the loop would wait forever */
	return NULL;
}

/* A forecast into the state file, so status shows it after a restart. */
static void persist_forecast(struct daemon *d, const struct analysis_forecast *fc)
{
	struct statefile_forecast x = { .when = fc->when, .sample = fc->sample,
		.saved_kib = fc->saved_kib, .shared_kib = fc->shared_kib,
		.depends_kib = fc->depends_kib, .net_kib = fc->net_kib };

	snprintf(x.app, sizeof(x.app), "%s", fc->app);
	statefile_put_forecast(&d->state, &x);
	daemon_save_state(d);
}

/* The saved forecasts (statefile.h) as if just made, the newest kept when
 * there are more than fit. */
static void restore_forecasts(struct analysis *a, const struct statefile *s)
{
	for (size_t i = 0; i < s->n_fc; i++) {
		const struct statefile_forecast *x = &s->fc[i];
		size_t at = a->n_fc;

		if (at == ANALYSIS_FORECASTS) {
			at = 0;
			for (size_t k = 1; k < a->n_fc; k++)
				if (a->fc[k].when < a->fc[at].when)
					at = k;
			if (a->fc[at].when > x->when)
				continue;
		} else {
			a->n_fc++;
		}
		a->fc[at] = (struct analysis_forecast){ .when = x->when, .sample = x->sample,
			.saved_kib = x->saved_kib, .shared_kib = x->shared_kib,
			.depends_kib = x->depends_kib, .net_kib = x->net_kib };
		snprintf(a->fc[at].app, sizeof(a->fc[at].app), "%s", x->app);
	}
}

/* The job's forecast, as status shows it (kept under the app's name). */
static void keep_forecast(struct analysis *a, const struct analysis_job *j)
{
	const struct census_report *p = &j->rep;
	long long page_kib = sysconf(_SC_PAGESIZE) / 1024;
	size_t at = 0;

	while (at < a->n_fc && strcmp(a->fc[at].app, j->name) != 0)
		at++;
	if (at == ANALYSIS_FORECASTS) {         /* full: the oldest goes */
		at = 0;
		for (size_t i = 1; i < a->n_fc; i++)
			if (a->fc[i].when < a->fc[at].when)
				at = i;
	} else if (at == a->n_fc) {
		a->n_fc++;
	}
	a->fc[at] = (struct analysis_forecast){ .when = (int64_t)time(NULL), .sample = p->sample,
		.saved_kib = (long long)p->saved * page_kib,
		.shared_kib = (long long)p->saved_shared * page_kib,
		.depends_kib = (long long)p->depends * page_kib,
		.net_kib = ((long long)p->saved_shared * page_kib * 1024 -
			    (long long)p->rmap_bytes) / 1024 };
	snprintf(a->fc[at].app, sizeof(a->fc[at].app), "%s", j->name);
	persist_forecast(a->d, &a->fc[at]);
}

bool analysis_forecast(const struct daemon *d, const char *app, struct analysis_forecast *out)
{
	const struct analysis *a = d->ana;

	for (size_t i = 0; a && i < a->n_fc; i++)
		if (strcmp(a->fc[i].app, app) == 0) {
			*out = a->fc[i];
			return true;
		}
	return false;
}

static int on_job_done(sd_event_source *s, int fd, uint32_t revents, void *ud)
{
	struct analysis *a = ud;
	struct analysis_job *j;
	uint64_t n;

	(void)s; (void)revents;
	if (read(fd, &n, sizeof(n)) < 0 || !a->running)
		return 0;
	pthread_join(a->thread, NULL);
	j = a->running;
	a->running = NULL;
	if (j->rc < 0)
		log_info("census %u failed: %s", j->id, j->err);
	else
		log_info("census %u of %s: %zu processes, %llu resident pages, forecast %llu pages "
			 "saved, %.2f s CPU", j->id, j->pid ? "a pid" : j->name, j->procs, (unsigned long long)j->rep.resident,
			 (unsigned long long)j->rep.saved, j->cpu_usec / 1e6);
	if (j->rc == 0 && !j->pid)
		keep_forecast(a, j);
	job_free(a->done);
	a->done = j;
	return 0;
}

int analysis_init(struct daemon *d)
{
	struct analysis *a = calloc(1, sizeof(*a));
	int rc;

	if (!a)
		return -ENOMEM;
	a->next_id = 1;
	a->d = d;
	restore_forecasts(a, &d->state);
	a->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (a->efd < 0) {
		rc = -errno;
		free(a);
		return rc;
	}
	rc = sd_event_add_io(d->ev, &a->src, a->efd, EPOLLIN, on_job_done, a);
	if (rc < 0) {
		close(a->efd);
		free(a);
		return rc;
	}
	d->ana = a;
	return 0;
}

void analysis_free(struct daemon *d)
{
	struct analysis *a = d->ana;

	if (!a)
		return;
	if (a->running) {
		atomic_store(&a->cancel, true);
		pthread_join(a->thread, NULL);
	}
	job_free(a->running);
	job_free(a->done);
	sd_event_source_unref(a->src);
	close(a->efd);
	free(a);
	d->ana = NULL;
}

/* "ok=1", then r started as the census record of j in state (not appended:
 * a finished census adds its figures to it). */
static void census_record(struct proto_msg *reply, struct proto_record *r,
			  const struct analysis_job *j, const char *state)
{
	proto_reply_ok(reply);
	proto_record_init(r);
	proto_set(r, "type", "census");
	proto_set(r, "id", "%u", j->id);
	proto_set(r, "state", "%s", state);
}

static void reply_state(struct proto_msg *reply, const struct analysis_job *j, const char *state)
{
	struct proto_record r;

	census_record(reply, &r, j, state);
	proto_msg_append(reply, &r);
}

static void append_area(struct proto_msg *reply, const char *kind, const struct census_area *x)
{
	struct proto_record r;

	proto_record_init(&r);
	proto_set(&r, "type", "census_area");
	proto_set(&r, "kind", "%s", kind);
	proto_set(&r, "pid", "%d", (int)x->pid);
	proto_set(&r, "start", "%#lx", (unsigned long)x->start);
	proto_set(&r, "end", "%#lx", (unsigned long)x->end);
	proto_set(&r, "pages", "%llu", (unsigned long long)x->pages);
	proto_set(&r, "dup_pages", "%llu", (unsigned long long)x->dup_pages);
	proto_msg_append(reply, &r);
}

static void reply_done(struct proto_msg *reply, const struct analysis_job *j)
{
	const struct census_report *p = &j->rep;
	struct proto_record r;
#define U(x) (unsigned long long)(x)

	if (j->rc < 0) {
		proto_reply_error(reply, "%s", j->err);
		return;
	}
	census_record(reply, &r, j, "done");
	proto_set(&r, "what", "%s", j->pid ? "pid" : j->glob[0] ? "cgroup" : "app");
	if (j->pid)
		proto_set(&r, "pid", "%d", (int)j->pid);
	else
		proto_set(&r, "name", "%s", j->name);
	if (j->glob[0])
		proto_set(&r, "cgroup", "%s", j->glob);
	proto_set(&r, "procs", "%zu", j->procs);
	proto_set(&r, "exited", "%zu", j->exited);
	if (j->exited)
		proto_set(&r, "exited_pids", "%s", j->exited_pids);
	proto_set(&r, "sample", "%u", p->sample);
	proto_set(&r, "sampled", "%llu", U(p->sampled));
	proto_set(&r, "resident", "%llu", U(p->resident));
	proto_set(&r, "zero", "%llu", U(p->zero));
	proto_set(&r, "repeated", "%llu", U(p->repeated));
	proto_set(&r, "dup_within", "%llu", U(p->dup_within));
	proto_set(&r, "dup_across", "%llu", U(p->dup_across));
	proto_set(&r, "saved", "%llu", U(p->saved));
	proto_set(&r, "error", "%llu", U(p->error));
	proto_set(&r, "page_size", "%ld", sysconf(_SC_PAGESIZE));
	proto_set(&r, "rmap_bytes", "%llu", U(p->rmap_bytes));
	proto_set(&r, "net_bytes", "%lld", (long long)p->net_bytes);
	proto_set(&r, "other_apps", "%zu", j->n_other_apps);
	proto_set(&r, "other_procs", "%zu", j->others_read);
	proto_set(&r, "dup_other", "%llu", U(p->dup_other));
	proto_set(&r, "saved_shared", "%llu", U(p->saved_shared));
	proto_set(&r, "depends", "%llu", U(p->depends));
	proto_set(&r, "net_shared_bytes", "%lld", (long long)(p->saved_shared *
		  (uint64_t)sysconf(_SC_PAGESIZE)) - (long long)p->rmap_bytes);
	proto_set(&r, "visited", "%llu", U(j->st.visited));
	proto_set(&r, "read_bytes", "%llu", U(j->st.read_bytes));
	proto_set(&r, "cpu_ms", "%llu", U(j->cpu_usec / 1000));
	proto_set(&r, "wall_ms", "%llu", U(j->wall_usec / 1000));
	proto_set(&r, "paced_ms", "%llu", U(j->slept_usec / 1000));
	proto_set(&r, "mib_s", "%.0f", j->wall_usec ?
		  j->st.read_bytes / 1048576.0 / (j->wall_usec / 1e6) : 0.0);
	proto_msg_append(reply, &r);
	for (size_t i = 0; i < p->n_others; i++) {
		proto_record_init(&r);
		proto_set(&r, "type", "census_other");
		proto_set(&r, "app", "%s", p->others[i].tag < j->n_other_apps ?
			  j->other_apps[p->others[i].tag] : "?");
		proto_set(&r, "pages", "%llu", U(p->others[i].pages));
		proto_set(&r, "depends", "%llu", U(p->others[i].depends));
		proto_msg_append(reply, &r);
	}
	for (size_t i = 0; i < p->n_top_maps; i++)
		append_area(reply, "map", &p->top_maps[i]);
	for (size_t i = 0; i < p->n_top_ranges; i++)
		append_area(reply, "range", &p->top_ranges[i]);
#undef U
}

/* op=analyze id=N: how census N is going, or its result. */
static void poll_census(struct analysis *a, const char *id_s, struct proto_msg *reply)
{
	char *end;
	unsigned long id = strtoul(id_s, &end, 10);
	char msg[128];

	if (*end || !*id_s) {
		proto_reply_error(reply, "analyze: id must be a number");
		return;
	}
	if (a->running && a->running->id == id)
		reply_state(reply, a->running, "running");
	else if (a->done && a->done->id == id)
		reply_done(reply, a->done);
	else {
		snprintf(msg, sizeof(msg), "analyze: no census %lu (only the latest is kept)", id);
		proto_reply_error(reply, "%s", msg);
	}
}

/* The other app's index in j->other_apps, added if new; -ENOMEM. */
static long other_app(struct analysis_job *j, const char *app)
{
	char (*v)[256];

	for (size_t i = 0; i < j->n_other_apps; i++)
		if (strcmp(j->other_apps[i], app) == 0)
			return (long)i;
	v = array_grow(j->other_apps, j->n_other_apps, &j->cap_other_apps, sizeof(*v), 4);
	if (!v)
		return -ENOMEM;
	j->other_apps = v;
	snprintf(v[j->n_other_apps], sizeof(*v), "%s", app);
	return (long)j->n_other_apps++;
}

/* The tracker is the loop's: what the thread needs of it is copied now —
 * the app's own processes (children included), and the enrolled processes
 * of every other app, the background its duplicates are counted against. */
static int copy_tracked(const struct daemon *d, struct analysis_job *j)
{
	for (size_t i = 0; i < d->tr.n; i++) {
		const struct tracked *t = &d->tr.v[i];
		struct other_proc *v;
		long app;

		if (!j->pid && strcmp(t->app, j->name) == 0) {
			if (!j->glob[0] && add_pid(j, t->ref.pid) < 0)
				return -ENOMEM;
			continue;
		}
		if (t->state != TRACKED_ENROLLED || t->ref.pid == j->pid)
			continue;
		if ((app = other_app(j, t->app)) < 0)
			return -ENOMEM;
		v = array_grow(j->others, j->n_others, &j->cap_others, sizeof(*v), 16);
		if (!v)
			return -ENOMEM;
		j->others = v;
		j->others[j->n_others++] = (struct other_proc){ .pid = t->ref.pid, .app = (uint32_t)app };
	}
	return 0;
}

/* op=analyze name=APP|pid=PID|cgroup=GLOB [sample=N]: starts a census. */
static void start_census(struct daemon *d, const struct proto_record *req, struct proto_msg *reply)
{
	struct analysis *a = d->ana;
	const char *name = proto_get(req, "name"), *pid_s = proto_get(req, "pid");
	const char *glob = proto_get(req, "cgroup");
	const char *sample_s = proto_get(req, "sample");
	struct analysis_job *j;
	unsigned long sample = 1;
	long pid = 0;
	char *end, msg[PROTO_VALUE_MAX];

	if ((name != NULL) + (pid_s != NULL) + (glob != NULL) != 1) {
		proto_reply_error(reply, "analyze: give one of an app name, a pid or a cgroup");
		return;
	}
	if (glob && (!*glob || strlen(glob) > 200)) {
		proto_reply_error(reply, "analyze: the cgroup glob must be 1..200 characters");
		return;
	}
	if (pid_s && ((pid = strtol(pid_s, &end, 10)) <= 0 || *end || pid > 0x3fffffff)) {
		proto_reply_error(reply, "analyze: pid must be a positive number");
		return;
	}
	if (sample_s && ((sample = strtoul(sample_s, &end, 10)) < 1 || *end ||
			 sample > ANALYSIS_MAX_SAMPLE)) {
		snprintf(msg, sizeof(msg), "analyze: --sample must be 1..%d", ANALYSIS_MAX_SAMPLE);
		proto_reply_error(reply, "%s", msg);
		return;
	}
	if (pid && kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
		snprintf(msg, sizeof(msg), "analyze: no process %ld", pid);
		proto_reply_error(reply, "%s", msg);
		return;
	}
	if (a->running) {
		snprintf(msg, sizeof(msg), "analyze: census %u is still running; try again when it "
			 "is done", a->running->id);
		proto_reply_error(reply, "%s", msg);
		return;
	}
	if (!(j = calloc(1, sizeof(*j)))) {
		proto_reply_error(reply, "analyze: out of memory");
		return;
	}
	j->id = a->next_id++;
	j->pid = (pid_t)pid;
	j->sample = (unsigned)sample;
	j->cancel = &a->cancel;
	if (name)
		snprintf(j->name, sizeof(j->name), "%s", name);
	if (glob) {
		snprintf(j->glob, sizeof(j->glob), "%s", glob);
		/* the key status knows a cgroup app by (cgroups.h) */
		snprintf(j->name, sizeof(j->name), "%s%s", CGROUP_APP_PREFIX, glob);
	}
	if (copy_tracked(d, j) < 0) {
		job_free(j);
		proto_reply_error(reply, "analyze: out of memory");
		return;
	}
	j->started_usec = clock_usec(CLOCK_MONOTONIC);
	a->running = j;
	if (pthread_create(&a->thread, NULL, job_run, a) != 0) {
		a->running = NULL;
		job_free(j);
		proto_reply_error(reply, "analyze: cannot start the census thread");
		return;
	}
	reply_state(reply, j, "running");
}

void analysis_command(struct daemon *d, const struct proto_record *req, struct proto_msg *reply)
{
	const char *id = proto_get(req, "id");

	if (id)
		poll_census(d->ana, id, reply);
	else
		start_census(d, req, reply);
}
