/* ctl_format.h — how ksmplusctl prints the daemon's replies. Kept apart from
 * ksmplusctl's main() so unit tests can check the exact output. The reply
 * record fields are described in protocol.h. */
#ifndef KSMPLUS_CTL_FORMAT_H
#define KSMPLUS_CTL_FORMAT_H
#include <stdio.h>
#include "control.h"

/* list: "NAME  SOURCE" per app, names padded to one column. */
void ctl_print_list(FILE *f, const struct control_reply *r);
/* status: global KSM figures, a table of apps (sizes in MiB, one decimal),
 * then processes that are skipped or failed, with the reason. */
void ctl_print_status(FILE *f, const struct control_reply *r);
/* status --json: {"global": {...}|null, "apps": [...], "processes": [...]};
 * each object holds the record's fields but type=, integers as numbers. */
void ctl_print_status_json(FILE *f, const struct control_reply *r);
/* add/remove/unmerge: one line about the change, from the reply's type=app
 * record (procs=/skipped= after add, unmerged=/pending= after remove) or
 * type=unmerge record; nothing if absent. */
void ctl_print_change(FILE *f, const char *op, const struct control_reply *r);
/* metrics: the exposition text, each type=metric record's l0, l1, ...
 * chunks joined into one line. */
void ctl_print_metrics(FILE *f, const struct control_reply *r);
/* top: one frame — a header (when, KSM's system-wide saving, the governor,
 * ksmd's CPU) and a row per app: processes, PSS, merging and saved MiB, and
 * the saving's trend in MiB per minute since prev (dt_sec earlier; prev NULL
 * for the first frame: "-"). */
void ctl_print_top(FILE *f, const char *when, const struct control_reply *now,
		   const struct control_reply *prev, double dt_sec);
/* analyze: the census's figures (pages and MiB), its cost, then the best
 * mappings and 2 MiB ranges by duplicate pages. */
void ctl_print_analysis(FILE *f, const struct control_reply *r);
/* analyze --json: {"census": {...}, "areas": [...]} (fields as in the reply;
 * areas have kind map or range). */
void ctl_print_analysis_json(FILE *f, const struct control_reply *r);
/* s as a JSON string literal, quotes included; invalid UTF-8 becomes U+FFFD. */
void ctl_json_string(FILE *f, const char *s);
/* A KiB (div = 1024) or byte (div = 1048576) count as MiB with one decimal,
 * rounded; "-" when s is not an integer. */
void ctl_format_mib(char *buf, size_t len, const char *s, long long div);
#endif
