/* log.c — messages go to the journal when systemd started us (it sets
 * JOURNAL_STREAM), else to stderr with a timestamp (the journal has its
 * own; a log file read later needs one to tie events together) and the
 * program name. */
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <systemd/sd-journal.h>

static const char *log_ident = "ksmplusd";
static int log_journal;
static int log_verbose;

void log_init(const char *ident, int use_journal)
{
	log_ident = ident;
	log_journal = use_journal;
}

void log_set_verbose(int verbose)
{
	log_verbose = verbose;
}

void log_msg(int priority, const char *fmt, ...)
{
	va_list ap;

	if (priority == LOG_DEBUG && !log_verbose)
		return;
	va_start(ap, fmt);
	if (log_journal) {
		sd_journal_printv(priority, fmt, ap);
	} else {
		struct timeval tv = { 0, 0 };
		struct tm tm;
		char when[32] = "";

		if (gettimeofday(&tv, NULL) == 0 && localtime_r(&tv.tv_sec, &tm))
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ld %s: ", when, (long)tv.tv_usec / 1000, log_ident);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}

const char *log_escape(const char *in, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (!outlen)
		return out;
	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		bool esc = *p < 0x20 || *p == 0x7f || *p == '\\';

		if (o + (esc ? 4 : 1) >= outlen)
			break;
		if (esc) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		} else {
			out[o++] = (char)*p;
		}
	}
	out[o] = '\0';
	return out;
}

/* ---- rate limit ------------------------------------------------------- */

struct limit_slot {
	const char *site;       /* a string literal: compared by address */
	long id;
	uint64_t since;         /* when the last line of this key was printed */
	unsigned suppressed;
};

static struct limit_slot limit_slots[LOG_LIMIT_SLOTS];

static size_t limit_hash(const char *site, long id)
{
	uint64_t h = (uint64_t)(uintptr_t)site * 0x9e3779b97f4a7c15ULL ^ (uint64_t)id;

	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 32;
	return (size_t)(h % LOG_LIMIT_SLOTS);
}

bool log_limit_check(const char *site, long id, uint64_t now_sec, unsigned *suppressed)
{
	struct limit_slot *s = &limit_slots[limit_hash(site, id)];

	*suppressed = 0;
	if (s->site != site || s->id != id) {
		/* A new key, or a collision: the slot goes to the newcomer. */
		*s = (struct limit_slot){ site, id, now_sec, 0 };
		return true;
	}
	if (now_sec < s->since + LOG_LIMIT_SEC) {
		s->suppressed++;
		return false;
	}
	*suppressed = s->suppressed;
	s->since = now_sec;
	s->suppressed = 0;
	return true;
}

/* The journal entry: MESSAGE, PRIORITY and the fields that are set. */
static void journal_send(int priority, const struct log_fields *f, const char *msg)
{
	char prio[16], pid[32], *s[7];
	struct iovec iov[7];
	int n = 0;

	snprintf(prio, sizeof(prio), "PRIORITY=%d", priority);
	snprintf(pid, sizeof(pid), "PID=%ld", f->pid);
	if (asprintf(&s[n++], "MESSAGE=%s", msg) < 0)
		return;
	s[n++] = prio;
	if (f->pid)
		s[n++] = pid;
	/* asprintf'd from here on: freed below */
	int first_alloc = n;
	if (f->msgid && asprintf(&s[n], "MESSAGE_ID=%s", f->msgid) >= 0)
		n++;
	if (f->app && asprintf(&s[n], "APP=%s", f->app) >= 0)
		n++;
	if (f->backend && asprintf(&s[n], "BACKEND=%s", f->backend) >= 0)
		n++;
	if (f->reason && asprintf(&s[n], "REASON=%s", f->reason) >= 0)
		n++;
	for (int i = 0; i < n; i++)
		iov[i] = (struct iovec){ s[i], strlen(s[i]) };
	sd_journal_sendv(iov, n);
	free(s[0]);
	for (int i = first_alloc; i < n; i++)
		free(s[i]);
}

static void emit(int priority, const struct log_fields *f, const char *line, unsigned suppressed)
{
	char msg[1200];

	if (suppressed)
		snprintf(msg, sizeof(msg), "%s (%u similar lines suppressed in %d s)", line, suppressed,
			 LOG_LIMIT_SEC);
	else
		snprintf(msg, sizeof(msg), "%s", line);
	if (f && log_journal)
		journal_send(priority, f, msg);
	else
		log_msg(priority, "%s", msg);
}

/* The rate limit's verdict; line gets the formatted message if it passes. */
static bool __attribute__((format(printf, 7, 0)))
limited_line(const char *site, long id, int priority, unsigned *suppressed,
			 char *line, size_t len, const char *fmt, va_list ap)
{
	struct timespec ts;

	if (priority == LOG_DEBUG && !log_verbose)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (!log_limit_check(site, id, (uint64_t)ts.tv_sec, suppressed))
		return false;
	vsnprintf(line, len, fmt, ap);
	return true;
}

void log_limited(const char *site, long id, int priority, const char *fmt, ...)
{
	unsigned suppressed;
	char line[1024];
	va_list ap;
	bool pass;

	va_start(ap, fmt);
	pass = limited_line(site, id, priority, &suppressed, line, sizeof(line), fmt, ap);
	va_end(ap);
	if (pass)
		emit(priority, NULL, line, suppressed);
}

void log_event(const struct log_fields *f, const char *site, int priority, const char *fmt, ...)
{
	unsigned suppressed;
	char line[1024];
	va_list ap;
	bool pass;

	va_start(ap, fmt);
	pass = limited_line(site, f->pid, priority, &suppressed, line, sizeof(line), fmt, ap);
	va_end(ap);
	if (pass)
		emit(priority, f, line, suppressed);
}
