/* figures.c — per-process and per-app memory figures for status: resident
 * anonymous memory enrolled, pages merging, the kernel's profit figure, and
 * what each app really saves and its PSS (savings.c). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "ksmstat.h"
#include "log.h"
#include "savings.h"

/* Resident anonymous memory (RssAnon) is what KSM can act on; virtual sizes
 * would count reservations that hold no pages (ASan shadow, JVM heaps).
 * statm's resident minus shared (file + shmem pages) is RssAnon, at a
 * fraction of the cost of formatting all of /proc/PID/status: status reads
 * it for every process of a thousand-process app. */
long long figures_rss_anon_kib(pid_t pid)
{
	char path[64], buf[128];
	long long size, resident, shared;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	if (sscanf(buf, "%lld %lld %lld", &size, &resident, &shared) != 3 || resident < shared)
		return 0;
	return (resident - shared) * (sysconf(_SC_PAGESIZE) / 1024);
}

static long long tracked_enrolled_kib(const struct tracked *t)
{
	long long rss = figures_rss_anon_kib(t->ref.pid);

	if (t->mode == ENROLL_RANGES && KIB(vmas_bytes(&t->advised)) < rss)
		return KIB(vmas_bytes(&t->advised));
	return rss;     /* merge-any covers all anonymous memory */
}

void figures_tracked(const struct tracked *t, struct app_figures *f)
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

/* --- exact savings, computed off the main loop ----------------------------
 *
 * Walking the page tables of every enrolled process takes ~0.5 ms each: a
 * browser pool of a thousand processes would stall the loop for half a
 * second per status request, during which fork events and other clients
 * wait. A worker thread computes the figures of all apps at once from a copy
 * of the process list; the loop publishes the result when the thread says it
 * is done (an eventfd) and answers from that. savings_compute reads /proc
 * only and touches no daemon state, so the thread shares nothing else. */
struct figures_job {
	struct savings_proc *procs;
	size_t nprocs;
	char **apps;                    /* copies: the app list may change */
	size_t napps;
	struct savings_group *groups;
	int rc;
	char err[256];
	uint64_t started_usec;          /* CLOCK_MONOTONIC */
	uint64_t took_usec;
};

struct figures_worker {
	int efd;
	sd_event_source *src;
	pthread_t thread;
	struct figures_job *running;    /* owned by the thread until it signals */
	struct figures_job *done;       /* the published figures */
};

static void job_free(struct figures_job *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < j->napps; i++)
		free(j->apps[i]);
	free(j->apps);
	free(j->procs);
	free(j->groups);
	free(j);
}

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

/* Every enrolled process, with its app's index in d->apps.effective. */
static struct figures_job *job_new(const struct daemon *d)
{
	struct figures_job *j = calloc(1, sizeof(*j));
	size_t napps = d->apps.effective.n;

	if (!j)
		return NULL;
	j->procs = calloc(d->tr.n ? d->tr.n : 1, sizeof(*j->procs));
	j->apps = calloc(napps ? napps : 1, sizeof(*j->apps));
	j->groups = calloc(napps ? napps : 1, sizeof(*j->groups));
	if (!j->procs || !j->apps || !j->groups)
		goto fail;
	for (; j->napps < napps; j->napps++)
		if (!(j->apps[j->napps] = strdup(d->apps.effective.v[j->napps])))
			goto fail;
	for (size_t i = 0; i < d->tr.n; i++) {
		const struct tracked *t = &d->tr.v[i];

		if (t->state != TRACKED_ENROLLED)
			continue;
		for (size_t a = 0; a < napps; a++)
			if (strcmp(j->apps[a], t->app) == 0) {
				j->procs[j->nprocs].pid = t->ref.pid;
				j->procs[j->nprocs++].group = (unsigned)a;
				break;
			}
	}
	j->started_usec = now_usec();
	return j;
fail:
	job_free(j);
	return NULL;
}

static void *job_run(void *arg)
{
	struct figures_worker *w = arg;
	struct figures_job *j = w->running;
	uint64_t one = 1;

	j->rc = savings_compute(j->procs, j->nprocs, j->groups, j->napps, j->err, sizeof(j->err));
	j->took_usec = now_usec() - j->started_usec;
	if (write(w->efd, &one, sizeof(one)) < 0)
		abort();        /* an eventfd write of 1 cannot fail: the loop would wait forever */
	return NULL;
}

static int on_job_done(sd_event_source *s, int fd, uint32_t revents, void *ud)
{
	struct daemon *d = ud;
	struct figures_worker *w = d->fig;
	uint64_t n;

	(void)s; (void)revents;
	if (read(fd, &n, sizeof(n)) < 0 || !w->running)
		return 0;
	pthread_join(w->thread, NULL);
	if (w->running->rc < 0 && w->running->rc != -ENOMEM)
		log_debug("exact savings unavailable: %s", w->running->err);
	job_free(w->done);
	w->done = w->running;
	w->running = NULL;
	return 0;
}

int figures_init(struct daemon *d)
{
	struct figures_worker *w = calloc(1, sizeof(*w));
	int rc;

	if (!w)
		return -ENOMEM;
	w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->efd < 0) {
		rc = -errno;
		free(w);
		return rc;
	}
	rc = sd_event_add_io(d->ev, &w->src, w->efd, EPOLLIN, on_job_done, d);
	if (rc < 0) {
		close(w->efd);
		free(w);
		return rc;
	}
	d->fig = w;
	return 0;
}

void figures_free(struct daemon *d)
{
	struct figures_worker *w = d->fig;

	if (!w)
		return;
	if (w->running)
		pthread_join(w->thread, NULL);
	job_free(w->running);
	job_free(w->done);
	sd_event_source_unref(w->src);
	close(w->efd);
	free(w);
	d->fig = NULL;
}

/* Starts a computation unless one runs or the published one is younger than
 * max_age_usec — or than ten times what it took: 200 processes of 60,000
 * VMAs each take ~30 s to walk, and the walk must not keep a core busy. */
void figures_refresh(struct daemon *d, uint64_t max_age_usec)
{
	struct figures_worker *w = d->fig;

	if (w && w->done && max_age_usec < 10 * w->done->took_usec)
		max_age_usec = 10 * w->done->took_usec;
	if (!w || w->running || (w->done && now_usec() - w->done->started_usec < max_age_usec))
		return;
	w->running = job_new(d);
	if (w->running && pthread_create(&w->thread, NULL, job_run, w) != 0) {
		job_free(w->running);
		w->running = NULL;
	}
	if (!w->running)
		log_warn("cannot start computing the exact savings: %s", strerror(ENOMEM));
}

/* The published figures of app, or NULL (none yet, app new since, or page
 * frames unreadable). */
static const struct savings_group *published(const struct daemon *d, const char *app)
{
	const struct figures_job *j = d->fig ? d->fig->done : NULL;

	if (!j || j->rc < 0)
		return NULL;
	for (size_t a = 0; a < j->napps; a++)
		if (strcmp(j->apps[a], app) == 0)
			return &j->groups[a];
	return NULL;
}

long long figures_age_ms(const struct daemon *d)
{
	const struct figures_job *j = d->fig ? d->fig->done : NULL;

	return j ? (long long)((now_usec() - j->started_usec) / 1000) : -1;
}

static void add_figures(struct app_figures *sum, const struct app_figures *p)
{
	sum->procs += p->procs;
	sum->enrolled_kib += p->enrolled_kib;
	sum->merging_kib += p->merging_kib;
	sum->profit_kib += p->profit_kib;
}

void figures_apps(struct daemon *d, struct app_figures *f, struct app_figures *per_proc)
{
	size_t napps = d->apps.effective.n;

	memset(f, 0, napps * sizeof(*f));
	for (size_t i = 0; i < d->tr.n; i++) {
		struct app_figures one = { 0 };

		figures_tracked(&d->tr.v[i], &one);
		if (per_proc)
			per_proc[i] = one;
		for (size_t a = 0; a < napps; a++)
			if (strcmp(d->tr.v[i].app, d->apps.effective.v[a]) == 0)
				add_figures(&f[a], &one);
	}
	for (size_t a = 0; a < napps; a++) {
		const struct savings_group *g = published(d, d->apps.effective.v[a]);

		f[a].exact = g != NULL;
		f[a].saved_kib = g ? g->saved_kib : f[a].profit_kib;
		f[a].pss_kib = g ? g->pss_kib : 0;
	}
	/* Whoever asks for figures wants the next ones fresh. */
	figures_refresh(d, FIGURES_FRESH_USEC);
}

int figures_app_saved(const struct daemon *d, const char *app, long long *saved_bytes)
{
	const struct savings_group *g = published(d, app);

	if (!g)
		return -EAGAIN;
	*saved_bytes = g->saved_kib * 1024;
	return 0;
}

int figures_app_recent(const struct daemon *d, const char *app, uint64_t max_age_usec,
		       long long *merging_pages, long long *anon_kib)
{
	const struct figures_job *j = d->fig ? d->fig->done : NULL;
	const struct savings_group *g = published(d, app);
	long page_kib = sysconf(_SC_PAGESIZE) / 1024;

	/* The job counted the processes enrolled when it started: one enrolled
	 * since (or gone) would make the figures another app's. */
	if (!g || !g->procs || now_usec() - j->started_usec > max_age_usec ||
	    g->procs != tracker_count(&d->tr, app, TRACKED_ENROLLED))
		return -EAGAIN;
	*merging_pages = g->merging_kib / page_kib + g->zero_pages;
	*anon_kib = g->anon_kib;
	return 0;
}
