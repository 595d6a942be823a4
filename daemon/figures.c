/* figures.c — per-process and per-app memory figures for status: resident
 * anonymous memory enrolled, pages merging, the kernel's profit figure. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "ksmstat.h"

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

void figures_app(const struct daemon *d, const char *app, struct app_figures *f)
{
	memset(f, 0, sizeof(*f));
	for (size_t i = 0; i < d->tr.n; i++)
		if (!app || strcmp(d->tr.v[i].app, app) == 0)
			figures_tracked(&d->tr.v[i], f);
}

