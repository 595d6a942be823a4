/* config.c — ksmplusd's settings and app list.
 *
 * File format: INI, read with inih.  /etc/ksmplusd.conf is read first, then
 * every *.conf in /etc/ksmplusd.conf.d/ in strcmp() order (hidden files and
 * other names are ignored; a missing directory is fine).  Later files add
 * apps and override settings.  Comments are lines starting with '#' or ';',
 * or an inline ';' preceded by whitespace.
 *
 *   [ksmplusd]
 *   backend = auto                 ; auto | process_madvise | ptrace
 *   rescan_interval_sec = 10       ; 1..3600, re-read maps of enrolled processes
 *   sweep_interval_sec = 30        ; 1..3600, /proc sweep without proc connector
 *   unmerge_on_stop = no           ; yes/no/true/false/1/0
 *   drop_unprofitable = yes        ; undo enrollments that cost more than they save
 *   profit_min_scans = 3           ; 1..1000 full ksmd scans an app's loss must last
 *   profit_min_sec = 60            ; 1..86400 seconds it must last, too
 *   profit_backoff_sec = 600       ; 1..86400 before a dropped app is tried again
 *   max_processes = 8192           ; 1..1000000 processes tracked at most
 *   cross_user = deny              ; deny | allow (also in [ksmd]): enroll the
 *                                  ; processes of one uid at a time
 *   policy = census                ; census | whole: census enrolls only the ranges
 *                                  ; whose duplicates pay (rangeplan.h); whole all
 *                                  ; of a process, then the profit check
 *   census_interval_sec = 300      ; 1..86400, census again (policy = census)
 *
 *   [apps]
 *   app = gimp                     ; repeatable; "app = a b,c" lists several
 *   exclude = mysqld mariadbd      ; the default.  The first `exclude` read
 *                                  ; replaces it, later ones append, and an
 *                                  ; empty `exclude =` clears the list.
 *
 *   [app gimp]                     ; per-app options (NAME: at most 44
 *                                  ; bytes, inih's section limit)
 *   children = no                  ; the app's processes only, not their trees
 *   policy = census                ; whole | census, for this app
 *
 *   [ksmd]                         ; written to /sys/kernel/mm/ksm/<knob>
 *   run = 1                        ; 0..1 (2, "unmerge all", is an action)
 *   pages_to_scan = 100            ; 0..4294967295
 *   sleep_millisecs = 20           ; 0..4294967295
 *   smart_scan = 1                 ; boolean, stored as 0/1
 *   use_zero_pages = 0             ; boolean
 *   merge_across_nodes = 1         ; boolean
 *   max_page_sharing = 256         ; 2..2147483647
 *   advisor_mode = none            ; none | scan-time
 *   governor = pressure            ; fixed (the knobs above) | pressure | advisor (governor.h);
 *                                  ; unset: pressure, or fixed if the pace knobs are set
 *   max_cpu_percent = 25           ; 1..100, the governor's cap on ksmd's CPU
 *   burst_growth_mib = 64          ; 0..1048576, an app grown by more bursts again (0: never)
 *
 * Names (app, exclude): 1..255 bytes, no '/', ',', whitespace or control
 * characters, not starting with '#'.  A [ksmd] knob set twice keeps the last
 * value; ksmd.c checks later whether the running kernel has the knob, so each
 * knob records the file and line it came from.
 *
 * Any error (unknown section or key, bad value, syntax) fails the whole load
 * with the first error as "FILE:LINE: message". */
#include "config.h"
#include "log.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Stands in for the value of a line too long for inih's fixed line buffer;
 * the handler swaps in the real value (see read_line). */
#define LONG_TOKEN "\x1f"
/* The UTF-8 byte order mark, which inih skips at the start of a file. */
#define BOM "\xEF\xBB\xBF"

struct parse_state {
	struct config *c;
	const char *file;
	FILE *fp;
	char *buf;              /* getline() buffer */
	size_t bufcap;
	int lineno;             /* lines handed to inih so far = inih's lineno */
	char *long_value;       /* real value behind LONG_TOKEN on this line */
	char *err;
	size_t errlen;
	int err_line;           /* line of the recorded error, 0 if none */
	bool prev_key;          /* inih would take an indented line for a continuation */
};

/* inih keeps at most 49 bytes of a section name (its MAX_SECTION is 50) and
 * drops the rest without a word, so "[app NAME]" with a longer NAME would set
 * options for a different name; a name of exactly 49 bytes may be cut. */
#define INIH_SECTION_MAX 49

static const char *const sections[] = { "ksmplusd", "apps", "ksmd", "metrics" };

/* ---- errors ------------------------------------------------------------ */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int fail(struct parse_state *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Records "FILE:LINE: message" for the current line unless an error is
 * already recorded: the first error is the one worth fixing first, later
 * ones are often its consequences. Returns -1. */
static int fail(struct parse_state *st, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (st->err_line)
		return -1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	st->err_line = st->lineno;
	set_err(st->err, st->errlen, "%s:%d: %s", st->file, st->lineno, msg);
	return -1;
}

/* ---- values ------------------------------------------------------------ */

/* Strict unsigned decimal: digits only, so "-1", " 5" or "5s" are rejected
 * rather than silently wrapped or truncated as strtoul would. */
static bool parse_uint(const char *v, unsigned long long min, unsigned long long max,
		       unsigned long long *out)
{
	char *end;

	if (!isdigit((unsigned char)*v))
		return false;
	errno = 0;
	*out = strtoull(v, &end, 10);
	return !errno && *end == '\0' && *out >= min && *out <= max;
}

static bool parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "yes", "true", "1" }, *const no[] = { "no", "false", "0" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(v, yes[i]) == 0 || strcasecmp(v, no[i]) == 0) {
			*out = strcasecmp(v, yes[i]) == 0;
			return true;
		}
	}
	return false;
}

static const char *name_problem(const char *name)
{
	size_t len = strlen(name);
	/* "cgroup:GLOB" names a cgroup (cgroups.h): paths and globs allowed. */
	bool cgroup = strncmp(name, "cgroup:", 7) == 0;

	if (len == 0)
		return "empty name";
	if (len > CONFIG_NAME_MAX)
		return "longer than 255 characters";
	if (cgroup && len == 7)
		return "empty cgroup glob after 'cgroup:'";
	/* A '#' start is almost always a comment the user thought was inline;
	 * inih would read "app = ;x" as an empty value. */
	if (name[0] == '#')
		return "starts with '#' (inline comments start with ' ;')";
	if (name[0] == ';')
		return "starts with ';' (a comment in the config)";
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (*p == '/' && !cgroup)
			return "contains '/' (give the program name, not a path; "
			       "for a cgroup: cgroup:GLOB)";
		if ((*p == '=' || *p == '[') && !cgroup)
			return "contains '=' or '[' (the config could not carry it)";
		if (*p == ',' || isspace(*p))
			return "contains a separator (',' or whitespace)";
		/* Bytes >= 0x80 are allowed: UTF-8 program names are printable. */
		if (*p < 0x20 || *p == 0x7f)
			return "contains a control character";
	}
	return NULL;
}

bool config_name_ok(const char *name, const char **why)
{
	const char *problem = name_problem(name);

	if (why)
		*why = problem;
	return problem == NULL;
}

/* ---- [ksmplusd] -------------------------------------------------------- */

static int set_interval(struct parse_state *st, const char *key, const char *v, unsigned *out)
{
	unsigned long long n;

	if (!parse_uint(v, 1, 3600, &n))
		return fail(st, "invalid value '%s' for %s (expected seconds, 1..3600)", v, key);
	*out = (unsigned)n;
	return 0;
}

/* KSM merges across every enrolled process: a side channel between users
 * unless the site says it is one security domain. */
static int set_cross_user(struct parse_state *st, const char *v)
{
	if (strcmp(v, "allow") == 0)
		st->c->cross_user = true;
	else if (strcmp(v, "deny") == 0)
		st->c->cross_user = false;
	else
		return fail(st, "invalid value '%s' for cross_user (expected deny or allow)", v);
	return 0;
}

/* policy = whole (prctl or every anonymous range, then the profit check)
 * or census (rangeplan.h: only the ranges whose duplicates pay). */
static int parse_policy(struct parse_state *st, const char *v, bool *census)
{
	if (strcmp(v, "census") == 0)
		*census = true;
	else if (strcmp(v, "whole") == 0)
		*census = false;
	else
		return fail(st, "invalid value '%s' for policy (expected whole or census)", v);
	return 0;
}

static int set_daemon(struct parse_state *st, const char *key, const char *v)
{
	struct config *c = st->c;

	if (strcmp(key, "backend") == 0) {
		if (strcmp(v, "auto") == 0)
			c->backend = BACKEND_AUTO;
		else if (strcmp(v, "process_madvise") == 0)
			c->backend = BACKEND_PMADV;
		else if (strcmp(v, "ptrace") == 0)
			c->backend = BACKEND_PTRACE;
		else
			return fail(st, "invalid value '%s' for backend (expected auto, process_madvise or ptrace)", v);
		return 0;
	}
	if (strcmp(key, "rescan_interval_sec") == 0)
		return set_interval(st, key, v, &c->rescan_sec);
	if (strcmp(key, "sweep_interval_sec") == 0)
		return set_interval(st, key, v, &c->sweep_sec);
	if (strcmp(key, "unmerge_on_stop") == 0) {
		if (!parse_bool(v, &c->unmerge_on_stop))
			return fail(st, "invalid value '%s' for unmerge_on_stop (expected yes or no)", v);
		return 0;
	}
	if (strcmp(key, "drop_unprofitable") == 0) {
		if (!parse_bool(v, &c->drop_unprofitable))
			return fail(st, "invalid value '%s' for drop_unprofitable (expected yes or no)", v);
		return 0;
	}
	if (strcmp(key, "profit_min_scans") == 0) {
		unsigned long long n;

		if (!parse_uint(v, 1, 1000, &n))
			return fail(st, "invalid value '%s' for profit_min_scans (expected 1..1000)", v);
		c->profit_min_scans = (unsigned)n;
		return 0;
	}
	if (strcmp(key, "profit_min_sec") == 0 || strcmp(key, "profit_backoff_sec") == 0) {
		unsigned long long n;

		if (!parse_uint(v, 1, 86400, &n))
			return fail(st, "invalid value '%s' for %s (expected seconds, 1..86400)", v, key);
		*(strcmp(key, "profit_min_sec") == 0 ? &c->profit_min_sec : &c->profit_backoff_sec) =
			(unsigned)n;
		return 0;
	}
	if (strcmp(key, "max_processes") == 0) {
		unsigned long long n;

		if (!parse_uint(v, 1, 1000000, &n))
			return fail(st, "invalid value '%s' for max_processes (expected 1..1000000)", v);
		c->max_processes = (size_t)n;
		return 0;
	}
	if (strcmp(key, "cross_user") == 0)
		return set_cross_user(st, v);
	if (strcmp(key, "policy") == 0)
		return parse_policy(st, v, &c->policy_census);
	if (strcmp(key, "census_interval_sec") == 0) {
		unsigned long long n;

		if (!parse_uint(v, 1, 86400, &n))
			return fail(st, "invalid value '%s' for census_interval_sec (expected seconds, "
				    "1..86400)", v);
		c->census_interval_sec = (unsigned)n;
		return 0;
	}
	return fail(st, "unknown key '%s' in [ksmplusd]", key);
}

/* ---- [metrics] ---------------------------------------------------------- */

/* node_exporter's textfile collector reads *.prom files of one directory;
 * another name would be written and never read. */
static int set_metrics(struct parse_state *st, const char *key, const char *v)
{
	struct config *c = st->c;
	size_t len = strlen(v);

	if (strcmp(key, "textfile") == 0) {
		if (len == 0) {
			c->metrics_textfile[0] = '\0';        /* "textfile =": off */
			return 0;
		}
		if (v[0] != '/' || len < 6 || strcmp(v + len - 5, ".prom") != 0 || v[len - 6] == '/')
			return fail(st, "invalid value '%.200s' for textfile (expected an absolute path "
				    "ending in .prom, which node_exporter's textfile collector reads)", v);
		if (len >= sizeof(c->metrics_textfile))
			return fail(st, "textfile path too long (at most %zu bytes)",
				    sizeof(c->metrics_textfile) - 1);
		memcpy(c->metrics_textfile, v, len + 1);
		return 0;
	}
	if (strcmp(key, "interval_sec") == 0)
		return set_interval(st, key, v, &c->metrics_interval_sec);
	return fail(st, "unknown key '%s' in [metrics] (expected textfile or interval_sec)", key);
}

/* ---- [apps] ------------------------------------------------------------ */

#define NAME_SEPS " \t\r\n\v\f,"

/* Adds every name in a "a b,c" list to l; an empty list adds nothing. */
static int add_names(struct parse_state *st, const char *key, const char *v, struct strlist *l)
{
	char name[CONFIG_NAME_MAX + 2], shown[4 * CONFIG_NAME_MAX + 8];
	const char *why;

	for (v += strspn(v, NAME_SEPS); *v; v += strspn(v, NAME_SEPS)) {
		size_t len = strcspn(v, NAME_SEPS);

		if (len > CONFIG_NAME_MAX)
			return fail(st, "invalid %s name '%.40s...': longer than 255 characters", key, v);
		memcpy(name, v, len);
		name[len] = '\0';
		v += len;
		if (!config_name_ok(name, &why))
			return fail(st, "invalid %s name '%s': %s", key,
				    log_escape(name, shown, sizeof(shown)), why);
		if (strlist_add(l, name) < 0)
			return fail(st, "out of memory");
	}
	return 0;
}

static int set_apps(struct parse_state *st, const char *key, const char *v)
{
	struct config *c = st->c;

	if (strcmp(key, "app") == 0) {
		/* An empty `app =` is most likely a half-finished edit. */
		if (v[strspn(v, NAME_SEPS)] == '\0')
			return fail(st, "'app' needs at least one name");
		return add_names(st, key, v, &c->apps);
	}
	if (strcmp(key, "exclude") == 0) {
		/* The first exclude replaces the built-in default so that a site
		 * can drop it; `exclude =` clears whatever came before. */
		if (!c->excludes_set || v[strspn(v, NAME_SEPS)] == '\0')
			strlist_clear(&c->excludes);
		c->excludes_set = true;
		return add_names(st, key, v, &c->excludes);
	}
	return fail(st, "unknown key '%s' in [apps]", key);
}

/* ---- [ksmd] ------------------------------------------------------------ */

enum knob_kind { K_UINT, K_BOOL, K_ADVISOR };

struct knob_def {
	const char *name;
	enum knob_kind kind;
	unsigned long long min, max;
};

/* Ranges are what the kernel's sysfs store functions accept, except run=2
 * (unmerge everything), which would undo all merging on every start. */
static const struct knob_def knob_defs[] = {
	{ "run", K_UINT, 0, 1 },
	{ "pages_to_scan", K_UINT, 0, 4294967295ULL },
	{ "sleep_millisecs", K_UINT, 0, 4294967295ULL },
	{ "smart_scan", K_BOOL, 0, 1 },
	{ "use_zero_pages", K_BOOL, 0, 1 },
	{ "merge_across_nodes", K_BOOL, 0, 1 },
	{ "max_page_sharing", K_UINT, 2, 2147483647ULL },
	{ "advisor_mode", K_ADVISOR, 0, 0 },
};

/* Checks v for knob d and writes the form sysfs takes into out. */
static int knob_value(struct parse_state *st, const struct knob_def *d, const char *v,
		      char *out, size_t outlen)
{
	unsigned long long n;
	bool b;

	switch (d->kind) {
	case K_UINT:
		if (!parse_uint(v, d->min, d->max, &n))
			return fail(st, "invalid value '%s' for %s (expected %llu..%llu)",
				    v, d->name, d->min, d->max);
		snprintf(out, outlen, "%llu", n);
		return 0;
	case K_BOOL:
		if (!parse_bool(v, &b))
			return fail(st, "invalid value '%s' for %s (expected 0 or 1)", v, d->name);
		snprintf(out, outlen, "%d", b);
		return 0;
	case K_ADVISOR:
		if (strcmp(v, "none") != 0 && strcmp(v, "scan-time") != 0)
			return fail(st, "invalid value '%s' for advisor_mode (expected none or scan-time)", v);
		snprintf(out, outlen, "%s", v);
		return 0;
	}
	return fail(st, "internal error: knob kind");
}

/* Not knobs but how the daemon paces ksmd (governor.h). */
static int set_governor(struct parse_state *st, const char *key, const char *v)
{
	unsigned long long n;

	if (strcmp(key, "governor") == 0) {
		st->c->governor_set = true;
		if (strcmp(v, "fixed") == 0)
			st->c->governor = GOVERNOR_FIXED;
		else if (strcmp(v, "pressure") == 0)
			st->c->governor = GOVERNOR_PRESSURE;
		else if (strcmp(v, "advisor") == 0)
			st->c->governor = GOVERNOR_ADVISOR;
		else
			return fail(st, "invalid value '%s' for governor (expected fixed, pressure or advisor)", v);
		return 0;
	}
	if (strcmp(key, "burst_growth_mib") == 0) {
		if (!parse_uint(v, 0, 1048576, &n))
			return fail(st, "invalid value '%s' for burst_growth_mib (expected 0..1048576)", v);
		st->c->burst_growth_mib = (unsigned)n;
		return 0;
	}
	if (!parse_uint(v, 1, 100, &n))
		return fail(st, "invalid value '%s' for max_cpu_percent (expected 1..100)", v);
	st->c->max_cpu_percent = (unsigned)n;
	return 0;
}

static int set_knob(struct parse_state *st, const char *key, const char *v)
{
	struct config *c = st->c;
	const struct knob_def *d = NULL;
	struct ksmd_setting *k = NULL;
	char value[sizeof(k->value)];

	/* Not a sysfs knob, but about what ksmd may merge: accepted here too. */
	if (strcmp(key, "cross_user") == 0)
		return set_cross_user(st, v);
	if (strcmp(key, "governor") == 0 || strcmp(key, "max_cpu_percent") == 0 ||
	    strcmp(key, "burst_growth_mib") == 0)
		return set_governor(st, key, v);

	for (size_t i = 0; i < sizeof(knob_defs) / sizeof(knob_defs[0]); i++)
		if (strcmp(key, knob_defs[i].name) == 0)
			d = &knob_defs[i];
	if (!d)
		return fail(st, "unknown key '%s' in [ksmd]", key);
	if (knob_value(st, d, v, value, sizeof(value)) < 0)
		return -1;
	/* Set again (same or later file): the last one wins, in place. */
	for (size_t i = 0; i < c->n_knobs; i++)
		if (strcmp(c->knobs[i].knob, key) == 0)
			k = &c->knobs[i];
	if (!k) {
		if (c->n_knobs == CONFIG_MAX_KNOBS)
			return fail(st, "too many [ksmd] settings");
		k = &c->knobs[c->n_knobs++];
		snprintf(k->knob, sizeof(k->knob), "%s", key);
	}
	snprintf(k->value, sizeof(k->value), "%s", value);
	snprintf(k->file, sizeof(k->file), "%s", st->file);
	k->line = st->lineno;
	return 0;
}

/* ---- [app NAME] --------------------------------------------------------- */

/* children = no: the app is its matching processes only, not their trees
 * (for a launcher or a shell whose children are other apps). */
static int set_app_option(struct parse_state *st, const char *name, const char *key,
			  const char *v)
{
	struct config *c = st->c;
	char shown[4 * CONFIG_NAME_MAX + 8];
	const char *why;
	bool yes;

	name += strspn(name, " \t");
	if (!config_name_ok(name, &why))
		return fail(st, "invalid app name '%s' in [app %s]: %s", log_escape(name, shown, sizeof(shown)),
			    shown, why);
	if (strcmp(key, "policy") == 0) {
		bool census;

		if (parse_policy(st, v, &census) < 0)
			return -1;
		strlist_remove(census ? &c->whole_apps : &c->census_apps, name);
		if (strlist_add(census ? &c->census_apps : &c->whole_apps, name) < 0)
			return fail(st, "out of memory");
		return 0;
	}
	if (strcmp(key, "children") != 0)
		return fail(st, "unknown key '%s' in [app %s] (expected children or policy)", key, name);
	if (!parse_bool(v, &yes))
		return fail(st, "invalid value '%s' for children (expected yes or no)", v);
	if (yes)
		strlist_remove(&c->no_children, name);
	else if (strlist_add(&c->no_children, name) < 0)
		return fail(st, "out of memory");
	return 0;
}

/* ---- inih glue --------------------------------------------------------- */

static int on_entry(void *user, const char *section, const char *key, const char *value)
{
	struct parse_state *st = user;
	int r;

	if (st->long_value && strcmp(value, LONG_TOKEN) == 0)
		value = st->long_value;
	if (strcmp(section, "ksmplusd") == 0)
		r = set_daemon(st, key, value);
	else if (strcmp(section, "apps") == 0)
		r = set_apps(st, key, value);
	else if (strcmp(section, "metrics") == 0)
		r = set_metrics(st, key, value);
	else if (strcmp(section, "ksmd") == 0)
		r = set_knob(st, key, value);
	else if (strncmp(section, "app ", 4) == 0 && strlen(section) >= INIH_SECTION_MAX)
		r = fail(st, "[%.48s...] is too long: options take names of at most %d characters",
			 section, INIH_SECTION_MAX - 5);
	else if (strncmp(section, "app ", 4) == 0)
		r = set_app_option(st, section + 4, key, value);
	else if (*section == '\0')
		r = fail(st, "'%s' outside any section (start with [ksmplusd], [apps] or [ksmd])", key);
	else            /* normally read_line has reported it already */
		r = fail(st, "unknown section [%.60s]", section);
	return r == 0;
}

/* inih's idea of a comment start inside a line: ';' after whitespace. */
static char *find_chars_or_comment(char *s, const char *chars)
{
	bool was_space = false;

	while (*s && !(chars && strchr(chars, *s)) && !(was_space && *s == ';')) {
		was_space = isspace((unsigned char)*s);
		s++;
	}
	return s;
}

static char *trim(char *s)
{
	char *end;

	s += strspn(s, " \t\r\n\v\f");
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* inih never calls the handler for a section line, so an unknown but empty
 * section would go unnoticed; check every header here instead. */
static void check_section(struct parse_state *st, char *s)
{
	char *end;

	if (*s != '[')
		return;
	end = find_chars_or_comment(s + 1, "]");
	if (*end != ']')
		return;         /* inih reports the syntax error */
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if ((size_t)(end - s - 1) == strlen(sections[i]) &&
		    strncmp(s + 1, sections[i], strlen(sections[i])) == 0)
			return;
	if (strncmp(s + 1, "app ", 4) == 0)
		return;         /* per-app options: on_entry checks the name */
	*end = '\0';
	fail(st, "unknown section [%.60s] (expected [ksmplusd], [apps], [ksmd], [metrics] or [app NAME])",
	     s + 1);
	*end = ']';
}

/* inih reads into a fixed buffer (200 bytes in Debian's build) and would split
 * a longer line in two, yet "app = <255-char name>" is legal.  So a long line
 * is handed to inih as "key = LONG_TOKEN" (or an indented LONG_TOKEN, which
 * inih treats as a continuation line just as it would the original) and the
 * handler substitutes the real value, split the way inih would split it. */
static char *long_line(struct parse_state *st, char *s, char *str, int num)
{
	bool continuation = st->prev_key && isspace((unsigned char)*s);
	char *eq, *v;

	/* inih looks for a comment after the indentation, as here: an indented
	 * long comment is no continuation line. */
	if (strchr(";#", *trim(s)))
		return strcpy(str, "\n");
	/* Otherwise indentation means nothing to inih. */
	if (!continuation)
		s += strspn(s, " \t\r\n\v\f");
	if (*s == '[') {
		char *end = find_chars_or_comment(s + 1, "]");

		if (*end != ']')
			return strcpy(str, "[\n");     /* inih: syntax error, as it was */
		/* Long only for what follows ']' (say, a comment), which inih
		 * ignores: the header itself, whole. */
		if (end - s + 2 < num) {
			end[1] = '\0';
			snprintf(str, (size_t)num, "%s\n", s);
			return str;
		}
		/* Too long for a known name: check_section reported it, or here. */
		if (strncmp(s + 1, "app ", 4) == 0)
			fail(st, "[%.48s...] is too long: options take names of at most %d characters",
			     s + 1, INIH_SECTION_MAX - 5);
		return strcpy(str, "[" LONG_TOKEN "]\n");
	}
	eq = continuation ? s : find_chars_or_comment(s, "=:");
	if (*eq == '\0' || *eq == ';')
		return strcpy(str, LONG_TOKEN "\n");    /* inih: syntax error */
	v = continuation ? s : eq + 1;
	/* Before skipping blanks: "key = ;x" is an empty value to inih. */
	*find_chars_or_comment(v, NULL) = '\0';
	v += strspn(v, " \t");
	st->long_value = strdup(trim(v));
	if (!st->long_value) {
		fail(st, "out of memory");
		return strcpy(str, "\n");
	}
	if (continuation)
		return strcpy(str, " " LONG_TOKEN "\n");
	*eq = '\0';
	s = trim(s);
	if ((int)strlen(s) + 6 >= num) {
		fail(st, "key '%.40s...' is too long", s);
		return strcpy(str, "\n");
	}
	/* No blank before '=': with an empty key it would be an indented
	 * line, which inih takes for a continuation.  But a first line's key
	 * that starts with a byte order mark came after blanks (a leading one
	 * was skipped by read_line): keep one blank before it, or inih would
	 * take it for the file's BOM and drop it from the key. */
	snprintf(str, (size_t)num, "%s%s=" LONG_TOKEN "\n",
		 st->lineno == 1 && strncmp(s, BOM, 3) == 0 ? " " : "", s);
	return str;
}

/* Follows inih through the line it is handed, for long_line: after a
 * "key = value" line, until the next header, inih takes an indented line for
 * a continuation of that key (of a non-empty one only). */
static void track_key(struct parse_state *st, char *line)
{
	char *p = line, *eq, *end;

	if (st->lineno == 1 && strncmp(p, BOM, 3) == 0)
		p += 3;
	p += strspn(p, " \t\r\n\v\f");
	if (*p == '\0' || *p == ';' || *p == '#' || (st->prev_key && p > line))
		return;                 /* blank, comment, continuation */
	if (*p == '[') {
		if (*find_chars_or_comment(p + 1, "]") == ']')
			st->prev_key = false;
		return;
	}
	eq = find_chars_or_comment(p, "=:");
	if (*eq != '=' && *eq != ':')
		return;                 /* syntax error: inih changes nothing */
	for (end = eq; end > p && isspace((unsigned char)end[-1]); end--)
		;
	st->prev_key = end > p;
}

/* inih's reader: one line per call, like fgets. Counting lines here gives
 * every handler call its exact line number. */
static char *read_line(char *str, int num, void *stream)
{
	struct parse_state *st = stream;
	ssize_t len;
	char *s;

	free(st->long_value);
	st->long_value = NULL;
	len = getline(&st->buf, &st->bufcap, st->fp);
	if (len < 0)
		return NULL;
	st->lineno++;
	s = st->buf;
	if (st->lineno == 1 && strncmp(s, BOM, 3) == 0)
		s += 3;         /* UTF-8 BOM, which inih also skips */
	/* inih treats an indented line after a key as a continuation, so only
	 * a header at the start of a line is certainly a header; the handler
	 * catches keys in any other unknown section. */
	check_section(st, s);
	/* inih (r55) keeps " ; comment" in the value of a continuation line,
	 * unlike everywhere else, and a long line's handling here drops it:
	 * cut it off every indented line, so a comment is one everywhere. */
	if (isspace((unsigned char)*s)) {
		char *c = find_chars_or_comment(s, NULL);

		if (*c) {
			c[0] = '\n';
			c[1] = '\0';
			len = c + 1 - st->buf;
		}
	}
	if (len < num) {
		memcpy(str, st->buf, (size_t)len + 1);
	} else {
		str = long_line(st, s, str, num);
		/* Hand back the BOM skipped above, or inih skips what follows
		 * it if that is another one. */
		if (s != st->buf && strlen(str) + 3 < (size_t)num) {
			memmove(str + 3, str, strlen(str) + 1);
			memcpy(str, BOM, 3);
		} else if (s != st->buf) {
			fail(st, "line too long after the byte order mark");
		}
	}
	track_key(st, str);
	return str;
}

int config_parse_file(const char *file, struct config *c, char *err, size_t errlen)
{
	struct parse_state st = { .c = c, .file = file, .err = err, .errlen = errlen };
	int rc;

	st.fp = fopen(file, "re");
	if (!st.fp) {
		set_err(err, errlen, "%s: cannot open: %s", file, strerror(errno));
		return -1;
	}
	rc = ini_parse_stream(read_line, &st, on_entry, &st);
	if (rc == 0 && ferror(st.fp)) {
		set_err(err, errlen, "%s: read error: %s", file, strerror(errno));
		st.err_line = -1;
	}
	fclose(st.fp);
	free(st.buf);
	free(st.long_value);
	if (rc == -2) {
		set_err(err, errlen, "%s: out of memory", file);
		return -1;
	}
	/* inih returns the first line it found wrong, including lines our
	 * handler rejected; an earlier one than ours is a syntax error. */
	if (rc > 0 && (st.err_line == 0 || rc < st.err_line)) {
		set_err(err, errlen, "%s:%d: syntax error (expected [section] or key = value)",
			file, rc);
		return -1;
	}
	return st.err_line ? -1 : 0;
}

/* ---- whole configuration ----------------------------------------------- */

void config_init(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->backend = BACKEND_AUTO;
	c->rescan_sec = 10;
	c->sweep_sec = 30;
	c->unmerge_on_stop = false;
	c->drop_unprofitable = true;
	c->profit_min_scans = 3;
	c->profit_min_sec = 60;
	c->profit_backoff_sec = 600;
	/* policy = census: on the benchmark (README) it nets more than whole
	 * on sparse memory (+2.0 MB against 0, the app dropped) and as much
	 * on dense twins; memory mapped late waits for the census growth
	 * brings (rangeplan.c: seconds). A census costs ~0.1 s of CPU per
	 * 100 MiB; growth and new processes bring one sooner. */
	c->policy_census = true;
	c->census_interval_sec = 300;
	/* ~600 bytes and a pidfd each: 8192 is 5 MB, and more processes of
	 * named apps than a desktop or a worker-pool server runs. */
	c->max_processes = 8192;
	c->cross_user = false;
	c->governor = GOVERNOR_FIXED;
	c->max_cpu_percent = 25;
	c->burst_growth_mib = 64;
	/* node_exporter's default scrape interval. */
	c->metrics_interval_sec = 15;
	/* Databases manage their own memory and their buffer pools are
	 * write-hot: merging them costs CPU and latency for nothing.  (If
	 * these two strdup()s fail, the process is already doomed.) */
	(void)strlist_add(&c->excludes, "mysqld");
	(void)strlist_add(&c->excludes, "mariadbd");
}

void config_free(struct config *c)
{
	strlist_clear(&c->apps);
	strlist_clear(&c->excludes);
	strlist_clear(&c->no_children);
	strlist_clear(&c->census_apps);
	strlist_clear(&c->whole_apps);
	c->n_knobs = 0;
}

static int is_dropin_name(const struct dirent *d)
{
	size_t len = strlen(d->d_name);

	/* "*.conf" as the shell means it: hidden files (editor and ksmplusctl
	 * temporaries) never match. */
	return d->d_name[0] != '.' && len > 5 && strcmp(d->d_name + len - 5, ".conf") == 0;
}

/* strcmp, not alphasort's strcoll: the order must not depend on locale. */
static int cmp_names(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int load_dropins(struct config *c, char *err, size_t errlen)
{
	struct dirent **ents;
	int n, r = 0;

	n = scandir(c->dropin_dir, &ents, is_dropin_name, cmp_names);
	if (n < 0) {
		if (errno == ENOENT)
			return 0;
		set_err(err, errlen, "%s: cannot open: %s", c->dropin_dir, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char file[PATH_MAX];
		struct stat sb;

		if (r == 0 && snprintf(file, sizeof(file), "%s/%s", c->dropin_dir,
				       ents[i]->d_name) >= (int)sizeof(file)) {
			set_err(err, errlen, "%s/%s: path too long", c->dropin_dir, ents[i]->d_name);
			r = -1;
		}
		/* A directory or device named x.conf is not a drop-in. */
		if (r == 0 && stat(file, &sb) == 0 && S_ISREG(sb.st_mode))
			r = config_parse_file(file, c, err, errlen);
		free(ents[i]);
	}
	free(ents);
	return r;
}

int config_load(const char *path, struct config *c, char *err, size_t errlen)
{
	if (snprintf(c->path, sizeof(c->path), "%s", path) >= (int)sizeof(c->path) ||
	    snprintf(c->dropin_dir, sizeof(c->dropin_dir), "%s.d", path) >= (int)sizeof(c->dropin_dir)) {
		set_err(err, errlen, "%s: path too long", path);
		return -1;
	}
	if (config_parse_file(path, c, err, errlen) < 0 || load_dropins(c, err, errlen) < 0)
		return -1;
	config_settle_governor(c);
	return 0;
}

/* The benchmark of issue 10 (README, "ksmd pace policies") chose the
 * default: the pressure governor merged a new app 9x faster than the kernel
 * defaults and cost 350x less ksmd CPU once idle. */
void config_settle_governor(struct config *c)
{
	static const char *const pace[] = {
		"pages_to_scan", "sleep_millisecs", "run", "advisor_mode",
		"advisor_max_cpu", "advisor_target_scan_time",
	};

	if (c->governor_set)
		return;
	c->governor = GOVERNOR_PRESSURE;
	for (size_t i = 0; i < c->n_knobs; i++)
		for (size_t j = 0; j < sizeof(pace) / sizeof(pace[0]); j++)
			if (strcmp(c->knobs[i].knob, pace[j]) == 0)
				c->governor = GOVERNOR_FIXED;
}

const char *config_backend_name(enum backend_pref b)
{
	switch (b) {
	case BACKEND_AUTO:
		return "auto";
	case BACKEND_PMADV:
		return "process_madvise";
	case BACKEND_PTRACE:
		return "ptrace";
	}
	return "unknown";
}

/* ---- the ksmplusctl drop-in -------------------------------------------- */

static int write_names(FILE *f, const struct strlist *names)
{
	fputs("# Managed by ksmplusctl; edits are overwritten.\n"
	      "# Apps added with `ksmplusctl add NAME`; see ksmplusd.conf(5).\n"
	      "[apps]\n", f);
	for (size_t i = 0; i < names->n; i++)
		fprintf(f, "app = %s\n", names->v[i]);
	if (fflush(f) != 0 || ferror(f))
		return -1;
	/* fsync before rename: otherwise a crash can leave an empty file
	 * under the final name on some filesystems. */
	return fsync(fileno(f));
}

static int ensure_dir(const char *dir, char *err, size_t errlen)
{
	if (mkdir(dir, 0755) == 0) {
		/* mkdir honours the umask; the drop-in dir must be world-readable
		 * like /etc itself. */
		if (chmod(dir, 0755) == 0)
			return 0;
	} else if (errno == EEXIST) {
		return 0;
	}
	set_err(err, errlen, "%s: cannot create: %s", dir, strerror(errno));
	return -1;
}

/* Makes the rename itself durable. Failure is not fatal: the file is
 * complete either way, only its name may revert after a crash. */
static void sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

int config_write_ctl_dropin(const char *dropin_dir, const struct strlist *names,
			    char *err, size_t errlen)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	const char *why;
	FILE *f;
	int fd;

	/* Never write what the daemon would then refuse to load. */
	for (size_t i = 0; i < names->n; i++) {
		if (!config_name_ok(names->v[i], &why)) {
			char shown[4 * CONFIG_NAME_MAX + 8];

			set_err(err, errlen, "invalid app name '%s': %s",
				log_escape(names->v[i], shown, sizeof(shown)), why);
			return -1;
		}
	}
	if (snprintf(path, sizeof(path), "%s/%s", dropin_dir, CONFIG_CTL_DROPIN) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dropin_dir, CONFIG_CTL_DROPIN) >= (int)sizeof(tmp)) {
		set_err(err, errlen, "%s: path too long", dropin_dir);
		return -1;
	}
	if (ensure_dir(dropin_dir, err, errlen) < 0)
		return -1;
	/* A hidden temp name: a daemon loading drop-ins meanwhile skips it. */
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		set_err(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
		return -1;
	}
	f = fdopen(fd, "w");
	if (!f) {
		set_err(err, errlen, "%s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	/* mkostemp creates 0600; the config is public like the main file. */
	if (fchmod(fd, 0644) < 0 || write_names(f, names) < 0) {
		set_err(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
		fclose(f);
		unlink(tmp);
		return -1;
	}
	if (fclose(f) != 0 || rename(tmp, path) < 0) {
		set_err(err, errlen, "%s: cannot write: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	sync_dir(dropin_dir);
	return 0;
}

int config_read_ctl_dropin(const char *dropin_dir, struct strlist *names,
			   char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct config scratch;
	int r;

	if (snprintf(path, sizeof(path), "%s/%s", dropin_dir, CONFIG_CTL_DROPIN) >= (int)sizeof(path)) {
		set_err(err, errlen, "%s: path too long", dropin_dir);
		return -1;
	}
	strlist_clear(names);
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return 0;       /* nothing added with ksmplusctl yet */
	/* A scratch config keeps a hand-edited file's other sections (or
	 * errors) from touching anything but the result. */
	config_init(&scratch);
	r = config_parse_file(path, &scratch, err, errlen);
	if (r == 0 && strlist_copy(names, &scratch.apps) < 0) {
		set_err(err, errlen, "out of memory");
		r = -1;
	}
	config_free(&scratch);
	return r;
}
