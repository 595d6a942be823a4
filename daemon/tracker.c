/* tracker.c — the set of matched processes (see tracker.h). */
#include "tracker.h"
#include "array.h"
#include "log.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

struct tracked *tracker_find(struct tracker *t, pid_t pid)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].ref.pid == pid)
			return &t->v[i];
	return NULL;
}

struct tracked *tracker_add(struct tracker *t, const struct pidref *ref, const char *app,
			    const char *comm)
{
	struct tracked *e, fresh;
	void *grown;

	/* Fill the entry before growing: app may point into this very array (a
	 * forked child takes its parent's), which the growth frees. */
	memset(&fresh, 0, sizeof(fresh));
	fresh.ref = *ref;
	fresh.uid = (uid_t)-1;
	snprintf(fresh.app, sizeof(fresh.app), "%s", app);
	tracker_set_comm(&fresh, comm);
	grown = array_grow(t->v, t->n, &t->cap, sizeof(*t->v), 16);
	if (!grown)
		return NULL;
	t->v = grown;
	e = &t->v[t->n++];
	*e = fresh;
	return e;
}

void tracker_set_comm(struct tracked *t, const char *raw)
{
	log_escape(raw, t->comm, sizeof(t->comm));
}

static void tracked_release(struct tracker *t, struct tracked *e)
{
	if (t->on_release)
		t->on_release(e, t->release_ud);
	pidref_close(&e->ref);
	vmas_free(&e->advised);
	vmas_free(&e->pending);
}

void tracker_remove(struct tracker *t, pid_t pid)
{
	struct tracked *e = tracker_find(t, pid);

	if (!e)
		return;
	tracked_release(t, e);
	*e = t->v[--t->n];   /* order does not matter */
}

void tracker_clear(struct tracker *t)
{
	void (*on_release)(const struct tracked *, void *) = t->on_release;
	void *ud = t->release_ud;

	for (size_t i = 0; i < t->n; i++)
		tracked_release(t, &t->v[i]);
	free(t->v);
	memset(t, 0, sizeof(*t));
	t->on_release = on_release;     /* the set is empty, not its owner gone */
	t->release_ud = ud;
}

size_t tracker_count(const struct tracker *t, const char *app, enum tracked_state state)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].state == state && (!app || strcmp(t->v[i].app, app) == 0))
			n++;
	return n;
}

const char *tracker_state_name(enum tracked_state s)
{
	switch (s) {
	case TRACKED_ENROLLED: return "enrolled";
	case TRACKED_SKIPPED:  return "skipped";
	case TRACKED_FAILED:   return "failed";
	case TRACKED_DROPPED:  return "dropped";
	}
	return "?";
}
