/* figures.c — per-process and per-app memory figures for status: resident
 * anonymous memory enrolled, pages merging, the kernel's profit figure, and
 * what each app really saves and its PSS (savings.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "ksmstat.h"
#include "log.h"
#include "savings.h"

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

/* The enrolled processes of app (every app if NULL; group = its index in
 * d->apps.effective, or 0 for a single app). */
static size_t collect(const struct daemon *d, const char *app, struct savings_proc **out)
{
	struct savings_proc *p = calloc(d->tr.n ? d->tr.n : 1, sizeof(*p));
	size_t n = 0;

	*out = p;
	if (!p)
		return 0;
	for (size_t i = 0; i < d->tr.n; i++) {
		const struct tracked *t = &d->tr.v[i];

		if (t->state != TRACKED_ENROLLED || (app && strcmp(t->app, app) != 0))
			continue;
		for (size_t a = 0; !app && a < d->apps.effective.n; a++)
			if (strcmp(d->apps.effective.v[a], t->app) == 0)
				p[n].group = (unsigned)a;
		p[n++].pid = t->ref.pid;
	}
	return n;
}

void figures_apps(const struct daemon *d, struct app_figures *f)
{
	size_t napps = d->apps.effective.n, n;
	struct savings_group *g = calloc(napps ? napps : 1, sizeof(*g));
	struct savings_proc *procs = NULL;
	char err[256];
	int rc = -ENOMEM;

	memset(f, 0, napps * sizeof(*f));
	for (size_t i = 0; i < d->tr.n; i++)
		for (size_t a = 0; a < napps; a++)
			if (strcmp(d->tr.v[i].app, d->apps.effective.v[a]) == 0)
				figures_tracked(&d->tr.v[i], &f[a]);
	n = collect(d, NULL, &procs);
	if (g && procs)
		rc = savings_compute(procs, n, g, napps, err, sizeof(err));
	if (rc < 0 && rc != -ENOMEM)
		log_debug("exact savings unavailable: %s", err);
	for (size_t a = 0; a < napps; a++) {
		f[a].exact = rc == 0;
		f[a].saved_kib = rc == 0 ? g[a].saved_kib : f[a].profit_kib;
		f[a].pss_kib = rc == 0 ? g[a].pss_kib : 0;
	}
	free(procs);
	free(g);
}

int figures_app_saved(const struct daemon *d, const char *app, long long *saved_bytes)
{
	struct savings_proc *procs = NULL;
	struct savings_group g;
	char err[256];
	size_t n = collect(d, app, &procs);
	int rc = procs ? savings_compute(procs, n, &g, 1, err, sizeof(err)) : -ENOMEM;

	free(procs);
	if (rc == 0)
		*saved_bytes = g.saved_kib * 1024;
	return rc;
}
