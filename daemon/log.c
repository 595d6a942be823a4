/* log.c — messages go to the journal when systemd started us (it sets
 * JOURNAL_STREAM), else to stderr with a timestamp (the journal has its
 * own; a log file read later needs one to tie events together) and the
 * program name. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>
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
