/* governor.c — the state machine of governor.h: from pressure, enrollment
 * and merge progress to ksmd's pace. Pure: no I/O, time comes in the
 * input, so every transition is testable (tests/unit/test_governor.c).
 * The sources that feed it and the knob writes are in governor_io.c. */
#include "governor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Paces. Idle is 50 x slower than the kernel default (100 pages / 20 ms):
 * ~0.02 % of a core on 400 MiB without duplicates, where the default costs
 * 1.2 % forever; it still notices memory that became mergeable. */
#define IDLE_PAGES 100
#define IDLE_SLEEP_MS 1000
#define SETTLE_PAGES 100
#define SETTLE_SLEEP_MS 20
#define BURST_PAGES 1000
#define RAMP_START_PAGES 400
#define RAMP_MAX_PAGES 4000
#define MIN_PAGES 100
#define FAST_SLEEP_MS 20
/* A full scan that merged fewer pages than this gained nothing worth a
 * faster pace (64 pages: 256 KiB). */
#define GAIN_MIN_PAGES 64
/* The advisor's targets for a full scan, seconds: burst and the start of
 * the pressure ramp are short, settle is the kernel's default. Under
 * pressure the target halves down to ADV_MIN_SCAN_SEC, bounded by the CPU
 * cap (advisor_max_cpu = max_cpu_percent) the kernel enforces itself. */
#define ADV_BURST_SCAN_SEC 5
#define ADV_RAMP_START_SEC 20
#define ADV_MIN_SCAN_SEC 2
#define ADV_SETTLE_SCAN_SEC 200
/* GOV_SMART_SCANS (5), from mm/ksm.c's skip schedule: should_skip_rmap_item()
 * never skips a page at ages 0-3, so the kernel itself gives new memory four
 * visits in a row: the first records its checksum, the next three compare
 * it (three chances, in case the app was still writing it); from age 4 on
 * it skips, like the old pages it should meet. Off for those four scans,
 * plus the one in progress at enrollment (a new mm goes in behind ksmd's
 * cursor: its first visit is in the next full scan), every old page is
 * compared in each of the new page's four visits. More buys nothing: after
 * them the new page skips on its own, with smart_scan on or off (its age
 * does not grow while smart_scan is off, so a page left unmerged gets its
 * four visits again afterwards). Fewer risks a scan: with a 2 s tick the
 * window can open a scan late. */

const char *gov_state_name(enum gov_state s)
{
	switch (s) {
	case GOV_IDLE: return "idle";
	case GOV_BURST: return "burst";
	case GOV_SETTLE: return "settle";
	case GOV_PRESSURE: return "pressure";
	}
	return "?";
}

bool gov_mem_low(bool was_low, long long avail_kib, long long total_kib)
{
	if (total_kib <= 0)
		return false;
	return avail_kib * 100 < total_kib * (was_low ? 15 : 10);
}

bool gov_grew(long long *mark, long long now_kib, long long limit_kib, bool bursting)
{
	if (bursting || now_kib < *mark) {
		*mark = now_kib;
		return false;
	}
	if (limit_kib <= 0 || now_kib - *mark <= limit_kib)
		return false;
	*mark = now_kib;
	return true;
}

void gov_memevents_parse(const char *text, long long *high, long long *max)
{
	*high = *max = -1;
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, "high ", 5) == 0)
			*high = strtoll(l + 5, NULL, 10);
		else if (strncmp(l, "max ", 4) == 0)
			*max = strtoll(l + 4, NULL, 10);
	}
}

/* Both sets of knobs for a state: the daemon writes the ones of its
 * policy (pressure: pages and sleep; advisor: scan time, CPU cap, run). */
static void set_knobs(struct gov_machine *m, const struct gov_params *p, long long pages,
		      long long sleep_ms, long long scan_sec, int run)
{
	m->knobs.pages_to_scan = pages;
	m->knobs.sleep_ms = sleep_ms;
	m->knobs.scan_time_sec = scan_sec;
	m->knobs.max_cpu = p->max_cpu_percent;
	m->knobs.run = run;
}

void gov_init(struct gov_machine *m, const struct gov_params *p, const struct gov_input *in)
{
	memset(m, 0, sizeof(*m));
	m->state = GOV_SETTLE;          /* unknown ground: one scan at the default pace */
	snprintf(m->why, sizeof(m->why), "started: one full scan at the default pace");
	set_knobs(m, p, SETTLE_PAGES, SETTLE_SLEEP_MS, ADV_SETTLE_SCAN_SEC, 1);
	m->merging_mark = in->merging;
	m->scans_mark = m->settle_scans = in->full_scans;
	m->last_change = in->now;
}

void gov_window_note(struct gov_window *w, const char *what)
{
	w->pending = true;
	snprintf(w->pending_why, sizeof(w->pending_why), "%s", what);
}

/* Not rate-limited: it changes which pages are compared, not the pace, and
 * the window opens and closes once per enrollment at most. Its end counts
 * from the step that sees the new memory (the tick after the enrollment). */
bool gov_window_step(struct gov_window *w, long long full_scans)
{
	bool before = w->off;

	if (w->pending) {
		long long until = full_scans + GOV_SMART_SCANS;

		if (until > w->until)
			w->until = until;
		snprintf(w->why, sizeof(w->why), "%s", w->pending_why);
		w->pending = false;
	}
	w->off = full_scans < w->until;
	return w->off != before;
}

void gov_note_enrolled(struct gov_machine *m, const char *what)
{
	m->enroll_pending = true;
	snprintf(m->enroll_why, sizeof(m->enroll_why), "enrolled %s", what);
	gov_window_note(&m->smart, m->enroll_why);
}

void gov_note_grew(struct gov_machine *m, const char *app, long long grown_kib)
{
	m->enroll_pending = true;
	snprintf(m->enroll_why, sizeof(m->enroll_why), "%.32s grew by %lld MiB", app,
		 grown_kib / 1024);
	gov_window_note(&m->smart, m->enroll_why);
}

void gov_note_pressure(struct gov_machine *m, const char *source)
{
	m->pressure_pending = true;
	snprintf(m->pressure_why, sizeof(m->pressure_why), "%s", source);
}

/* At each full-scan boundary: did that scan merge anything worth it? */
static void track_progress(struct gov_machine *m, const struct gov_input *in)
{
	if (in->full_scans == m->scans_mark)
		return;
	m->gaining = in->merging >= m->merging_mark + GAIN_MIN_PAGES;
	m->merging_mark = in->merging;
	m->scans_mark = in->full_scans;
}

static bool under_pressure(struct gov_machine *m, const struct gov_params *p,
			   const struct gov_input *in)
{
	if (m->pressure_pending || in->mem_low) {
		m->last_pressure = in->now ? in->now : 1;
		if (in->mem_low && !m->pressure_pending)
			snprintf(m->pressure_why, sizeof(m->pressure_why), "MemAvailable under 10 %%");
		m->pressure_pending = false;
	}
	if (!m->hold)
		m->hold = p->pressure_hold_usec;
	return m->last_pressure && in->now - m->last_pressure < m->hold;
}

/* The state the inputs call for, before rate limits. */
static enum gov_state wanted_state(struct gov_machine *m, bool pressure, const struct gov_input *in)
{
	if (pressure)
		return GOV_PRESSURE;
	if (in->full_scans < m->scans_target || (m->state == GOV_BURST && m->gaining))
		return GOV_BURST;
	if (m->state == GOV_BURST || m->state == GOV_PRESSURE)
		return GOV_SETTLE;
	if (m->state == GOV_SETTLE && in->full_scans > m->settle_scans && !m->gaining)
		return GOV_IDLE;
	if (m->state == GOV_IDLE && m->gaining)
		return GOV_SETTLE;      /* the trickle found memory worth merging */
	return m->state;
}

/* Faster is immediate (an app just started, memory is short); slower, and
 * every step within a state, waits min_change_usec since the last change:
 * that bounds knob writes under oscillating pressure. */
static bool upward(enum gov_state from, enum gov_state to)
{
	return (to == GOV_PRESSURE && from != GOV_PRESSURE) ||
	       (to == GOV_BURST && (from == GOV_IDLE || from == GOV_SETTLE)) ||
	       (to == GOV_SETTLE && from == GOV_IDLE);
}

/* Pressure that comes back soon after it ended holds twice as long (up to
 * 8 x): pressure that comes and goes keeps the governor in one state
 * instead of flipping the knobs at every swing. */
static void next_hold(struct gov_machine *m, const struct gov_params *p, uint64_t now)
{
	bool recurs = m->left_pressure && now - m->left_pressure < 6 * p->pressure_hold_usec;

	m->hold = !recurs ? p->pressure_hold_usec :
		  m->hold * 2 < 8 * p->pressure_hold_usec ? m->hold * 2 : 8 * p->pressure_hold_usec;
}

static void enter(struct gov_machine *m, const struct gov_params *p, enum gov_state s,
		  const struct gov_input *in)
{
	if (m->state == GOV_PRESSURE && s != GOV_PRESSURE)
		m->left_pressure = in->now;
	if (s == GOV_PRESSURE)
		next_hold(m, p, in->now);
	m->state = s;
	switch (s) {
	case GOV_PRESSURE:
		snprintf(m->why, sizeof(m->why), "memory pressure (%s)", m->pressure_why);
		set_knobs(m, p, RAMP_START_PAGES, FAST_SLEEP_MS, ADV_RAMP_START_SEC, 1);
		break;
	case GOV_BURST:
		snprintf(m->why, sizeof(m->why), "%s: until 2 full scans and no growth",
			 m->enroll_why);
		set_knobs(m, p, BURST_PAGES, FAST_SLEEP_MS, ADV_BURST_SCAN_SEC, 1);
		break;
	case GOV_SETTLE:
		snprintf(m->why, sizeof(m->why), "%s", m->gaining ?
			 "merging still gains: default pace until a full scan gains nothing" :
			 "pressure or burst over: default pace for one full scan");
		set_knobs(m, p, SETTLE_PAGES, SETTLE_SLEEP_MS, ADV_SETTLE_SCAN_SEC, 1);
		m->settle_scans = in->full_scans;
		break;
	case GOV_IDLE:
		snprintf(m->why, sizeof(m->why), "nothing left to gain, no pressure: %s",
			 p->advisor ? "ksmd stopped" : "trickle");
		set_knobs(m, p, IDLE_PAGES, IDLE_SLEEP_MS, ADV_SETTLE_SCAN_SEC, 0);
		break;
	}
}

/* Within burst or pressure: keep ksmd under its CPU cap; under pressure,
 * ramp up while there is room. */
static void pace(struct gov_machine *m, const struct gov_params *p, const struct gov_input *in)
{
	long long pages = m->knobs.pages_to_scan, scan = m->knobs.scan_time_sec;

	if (m->state != GOV_BURST && m->state != GOV_PRESSURE)
		return;
	if (in->cpu_percent > p->max_cpu_percent) {
		pages = pages / 2 > MIN_PAGES ? pages / 2 : MIN_PAGES;
		scan = scan * 2 < ADV_SETTLE_SCAN_SEC ? scan * 2 : ADV_SETTLE_SCAN_SEC;
	} else if (m->state == GOV_PRESSURE && m->last_pressure != m->ramped &&
		 in->cpu_percent >= 0 && in->cpu_percent * 2 < p->max_cpu_percent) {
		/* only while pressure is still signalled, not on its echo */
		pages = pages * 2 < RAMP_MAX_PAGES ? pages * 2 : RAMP_MAX_PAGES;
		scan = scan / 2 > ADV_MIN_SCAN_SEC ? scan / 2 : ADV_MIN_SCAN_SEC;
		m->ramped = m->last_pressure;
	}
	m->knobs.pages_to_scan = pages;
	m->knobs.scan_time_sec = scan;
}

static bool same_knobs(const struct gov_knobs *a, const struct gov_knobs *b)
{
	return a->pages_to_scan == b->pages_to_scan && a->sleep_ms == b->sleep_ms &&
	       a->scan_time_sec == b->scan_time_sec && a->max_cpu == b->max_cpu && a->run == b->run;
}

bool gov_step(struct gov_machine *m, const struct gov_params *p, const struct gov_input *in)
{
	struct gov_knobs before = m->knobs;
	bool pressure = under_pressure(m, p, in);
	bool may_change = in->now - m->last_change >= p->min_change_usec;

	track_progress(m, in);
	if (m->enroll_pending) {
		/* two full scans from now: the first records, the second merges */
		m->scans_target = in->full_scans + 2;
		m->enroll_pending = false;
		if (m->state == GOV_BURST)
			snprintf(m->why, sizeof(m->why), "%s: until 2 full scans and no growth",
				 m->enroll_why);
	}
	enum gov_state to = wanted_state(m, pressure, in);
	bool smart_changed = gov_window_step(&m->smart, in->full_scans);

	if (to != m->state && (upward(m->state, to) || may_change))
		enter(m, p, to, in);
	else if (to == m->state && may_change)
		pace(m, p, in);
	if (same_knobs(&before, &m->knobs)) {
		if (smart_changed)
			m->changes++;
		return smart_changed;
	}
	m->last_change = in->now;
	m->changes++;
	return true;
}
