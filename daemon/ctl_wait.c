/* ctl_wait.c — ksmplusctl add --wait's test of "merged" (ctl_wait.h). */
#include "ctl_wait.h"

#include <stdlib.h>
#include <string.h>

#include "protocol.h"

int ctl_app_now(const struct control_reply *r, const char *app, struct ctl_app_now *a)
{
	bool found = false;

	memset(a, 0, sizeof(*a));
	a->run = -1;
	a->smart_scan = -1;
	for (size_t i = 0; i < r->n; i++) {
		const struct proto_record *x = &r->rec[i];
		const char *type = proto_get(x, "type"), *v;

		if (!type)
			continue;
		if (strcmp(type, "global") == 0) {
			a->full_scans = (v = proto_get(x, "full_scans")) ? atoll(v) : 0;
			a->run = (v = proto_get(x, "run")) ? atoi(v) : -1;
			a->paused = (v = proto_get(x, "paused")) && strcmp(v, "1") == 0;
			a->smart_scan = (v = proto_get(x, "smart_scan")) ? atoi(v) : -1;
		} else if (strcmp(type, "app") == 0 && (v = proto_get(x, "name")) && strcmp(v, app) == 0) {
			a->merging_kib = (v = proto_get(x, "merging_kib")) ? atoll(v) : 0;
			a->enrolled_kib = (v = proto_get(x, "enrolled_kib")) ? atoll(v) : 0;
			a->saved_kib = (v = proto_get(x, "saved_kib")) ? atoll(v) : 0;
			a->procs = (v = proto_get(x, "procs")) ? atoll(v) : 0;
			found = true;
		}
	}
	return found ? 0 : -1;
}

int ctl_wait_quiet_scans(int smart_scan)
{
	return smart_scan == 1 ? CTL_WAIT_QUIET_SCANS_SMART : CTL_WAIT_QUIET_SCANS;
}

void ctl_wait_init(struct ctl_wait *w)
{
	*w = (struct ctl_wait){ .scans0 = -1, .best = -1 };
}

bool ctl_wait_merged(struct ctl_wait *w, const struct ctl_app_now *a)
{
	long long quiet = ctl_wait_quiet_scans(a->smart_scan);

	if (w->scans0 < 0)
		w->scans0 = a->full_scans;
	if (a->merging_kib > w->best) {
		w->best = a->merging_kib;
		w->scans_at_best = a->full_scans;
	}
	return a->full_scans >= w->scans0 + quiet && a->full_scans >= w->scans_at_best + quiet;
}
