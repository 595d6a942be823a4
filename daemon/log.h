/* log.h — one place that decides where messages go: stderr, or the journal
 * when ksmplusd runs under systemd (JOURNAL_STREAM set). */
#ifndef KSMPLUS_LOG_H
#define KSMPLUS_LOG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <syslog.h>

void log_init(const char *ident, int use_journal);
void log_set_verbose(int verbose);
void log_msg(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)   log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* A name from outside (a process's comm holds any byte but NUL; a rejected
 * app name) made safe for a terminal and a one-line log: control bytes,
 * DEL and '\\' become \xNN. Always NUL-terminated; cut short (never mid
 * escape) when out is too small. Returns out. 4*len+1 bytes always fit. */
const char *log_escape(const char *in, char *out, size_t outlen);

/* Rate limit for lines that something outside can repeat at will (a process
 * renaming itself in a loop, a retry storm): at most one line per key
 * (site, id) per LOG_LIMIT_SEC; the next one printed says how many were
 * suppressed meanwhile. Keys live in a fixed table (memory stays bounded
 * whatever the number of keys); a key evicted early may print once more. */
#define LOG_LIMIT_SEC 30
#define LOG_LIMIT_SLOTS 256
void log_limited(const char *site, long id, int priority, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* A line about one process of an app, with journal fields beside MESSAGE
 * (`journalctl -u ksmplusd APP=gimp`, `MESSAGE_ID=...`); on stderr only
 * the message. NULL or 0 fields are left out. Rate-limited as log_limited,
 * by (site, pid). */
struct log_fields {
	const char *msgid;      /* LOG_MSGID_*: what kind of event */
	const char *app;
	long pid;
	const char *backend;
	const char *reason;
};
#define LOG_MSGID_ENROLLED "a1713412788545768c4eae8e1ed5b136"
#define LOG_MSGID_SKIPPED  "09fdb51ce61c47a5872c774f52abf0d4"
#define LOG_MSGID_DROPPED  "54e6fd81349d450093f26ba1484dec85"
void log_event(const struct log_fields *f, const char *site, int priority, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The decision alone, at time now_sec (for tests): true if the line is to be
 * printed; *suppressed = lines of this key dropped since the last one. */
bool log_limit_check(const char *site, long id, uint64_t now_sec, unsigned *suppressed);
#endif
