/* ctl_format.c — ksmplusctl's output: the status table, its JSON form, and
 * the app list (see ctl_format.h). */
#include "ctl_format.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool parse_ll(const char *s, long long *out)
{
	if (!s || !*s)
		return false;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

void ctl_format_mib(char *buf, size_t len, const char *s, long long div)
{
	long long v;
	if (!parse_ll(s, &v) || div <= 0) {
		snprintf(buf, len, "-");
		return;
	}
	/* Integer rounding to tenths, so tiny negatives print "0.0", not "-0.0". */
	unsigned long long a = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	unsigned long long tenths = (a / (unsigned long long)div) * 10 +
		((a % (unsigned long long)div) * 10 + (unsigned long long)div / 2) /
		(unsigned long long)div;
	snprintf(buf, len, "%s%llu.%llu", v < 0 && tenths ? "-" : "", tenths / 10, tenths % 10);
}

/* Copies s into buf with control characters shown as '?', for tables. */
static const char *clean(char *buf, size_t len, const char *s)
{
	size_t i = 0;
	for (; s && s[i] && i + 1 < len; i++) {
		unsigned char c = (unsigned char)s[i];
		buf[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	buf[i] = '\0';
	return buf;
}

static const char *type_of(const struct proto_record *r)
{
	const char *t = proto_get(r, "type");
	return t ? t : "";
}

static const char *get(const struct proto_record *r, const char *key)
{
	const char *v = proto_get(r, key);
	return v ? v : "";
}

/* The governor's lines of status (governor.h). */
static void print_governor(FILE *f, const struct proto_record *g)
{
	char a[PROTO_VALUE_MAX], b[PROTO_VALUE_MAX], c[32], d[32];

	fprintf(f, "governor:        %s", clean(a, sizeof(a), get(g, "governor")));
	if (proto_get(g, "gov_state"))
		fprintf(f, ", %s: %s", clean(a, sizeof(a), get(g, "gov_state")),
			clean(b, sizeof(b), get(g, "gov_why")));
	fprintf(f, "\nksmd pace:       %s pages every %s ms", clean(a, sizeof(a), get(g, "pages_to_scan")),
		clean(b, sizeof(b), get(g, "sleep_millisecs")));
	if (proto_get(g, "ksmd_cpu_pct"))
		fprintf(f, ", ksmd CPU %s %% (last minute)", clean(a, sizeof(a), get(g, "ksmd_cpu_pct")));
	fprintf(f, "\n");
	if (proto_get(g, "advisor_target_scan_time"))
		fprintf(f, "advisor:         full scan in %s s, CPU cap %s %%, run %s\n",
			clean(b, sizeof(b), get(g, "advisor_target_scan_time")),
			clean(c, sizeof(c), get(g, "advisor_max_cpu")), clean(d, sizeof(d), get(g, "run")));
	if (proto_get(g, "gov_smart_scan") && proto_get(g, "smart_scan"))
		fprintf(f, "smart_scan:      %s (now %s)\n", clean(a, sizeof(a), get(g, "gov_smart_scan")),
			clean(c, sizeof(c), get(g, "smart_scan")));
	if (proto_get(g, "gov_note"))
		fprintf(f, "note:            %s\n", clean(a, sizeof(a), get(g, "gov_note")));
	if (proto_get(g, "gov_admin_knobs") && strcmp(get(g, "gov_admin_knobs"), "-") != 0)
		fprintf(f, "not steered:     %s (set by the admin)\n",
			clean(a, sizeof(a), get(g, "gov_admin_knobs")));
}

void ctl_print_list(FILE *f, const struct control_reply *r)
{
	int w = 0;
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(type_of(&r->rec[i]), "app") == 0) {
			int l = (int)strlen(get(&r->rec[i], "name"));
			w = l > w ? l : w;
		}
	for (size_t i = 0; i < r->n; i++) {
		if (strcmp(type_of(&r->rec[i]), "app") != 0)
			continue;
		char name[PROTO_VALUE_MAX], src[PROTO_VALUE_MAX];
		fprintf(f, "%-*s  %s\n", w, clean(name, sizeof(name), get(&r->rec[i], "name")),
			clean(src, sizeof(src), get(&r->rec[i], "source")));
	}
}

/* "N process(es)" from a count field, as sent (cleaned) if not a number. */
static const char *processes(char *buf, size_t len, const struct proto_record *x,
			     const char *key)
{
	char v[32];
	long long n = -1;

	clean(v, sizeof(v), get(x, key));
	parse_ll(v, &n);
	snprintf(buf, len, "%s process%s", v, n == 1 ? "" : "es");
	return buf;
}

/* ", M continue(s) in the background ..." after the unmerged count when the
 * daemon handed undos to its retry timer; nothing when pending= is 0 or
 * absent (a daemon older than the field counted them as unmerged). */
static void print_pending(FILE *f, const struct proto_record *x)
{
	char v[32];
	long long n = 0;

	clean(v, sizeof(v), get(x, "pending"));
	if (!proto_get(x, "pending") || (parse_ll(v, &n) && n == 0))
		return;
	fprintf(f, ", %s continue%s in the background (ksmplusd's log says when %s done)", v,
		n == 1 ? "s" : "", n == 1 ? "it is" : "they are");
}

void ctl_print_change(FILE *f, const char *op, const struct control_reply *r)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct proto_record *x = &r->rec[i];
		if (strcmp(op, "unmerge") == 0 && strcmp(type_of(x), "unmerge") == 0) {
			char a[64], b[32];
			fprintf(f, "unmerged %s", processes(a, sizeof(a), x, "unmerged"));
			print_pending(f, x);
			fprintf(f, "; KSM unmerged every page (pages_sharing now %s); knobs restored; "
				"paused until 'ksmplusctl resume'\n",
				clean(b, sizeof(b), get(x, "pages_sharing")));
			return;
		}
		if (strcmp(type_of(x), "app") != 0)
			continue;
		char name[PROTO_VALUE_MAX], a[32], b[32];
		clean(name, sizeof(name), get(x, "name"));
		if (strcmp(op, "add") == 0 && proto_get(x, "procs"))
			fprintf(f, "%s: added; %s running processes enrolled, %s skipped\n", name,
				clean(a, sizeof(a), get(x, "procs")),
				proto_get(x, "skipped") ? clean(b, sizeof(b), get(x, "skipped")) : "0");
		else if (strcmp(op, "remove") == 0 && proto_get(x, "unmerged")) {
			char p[64];
			fprintf(f, "%s: removed; %s unmerged", name,
				processes(p, sizeof(p), x, "unmerged"));
			print_pending(f, x);
			fprintf(f, "\n");
		}
		return;
	}
}

/* When each FORECAST_MiB was made: a forecast is a census's snapshot. */
static void print_forecast_ages(FILE *f, const struct control_reply *r)
{
	fprintf(f, "FORECAST_MiB: the last 'ksmplusctl analyze' (net of rmap_items, with the apps "
		"enrolled then):");
	for (size_t i = 0; i < r->n; i++) {
		const struct proto_record *x = &r->rec[i];
		char name[PROTO_VALUE_MAX], when[32];
		time_t t;
		struct tm tm;
		long long age = 0;

		if (strcmp(type_of(x), "app") != 0 || !proto_get(x, "forecast_time"))
			continue;
		parse_ll(get(x, "forecast_time"), &age);
		t = (time_t)age;
		if (!gmtime_r(&t, &tm) || !strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm))
			snprintf(when, sizeof(when), "?");
		age = 0;
		parse_ll(get(x, "forecast_age_s"), &age);
		fprintf(f, "\n  %s at %s UTC (%lld min ago)", clean(name, sizeof(name), get(x, "name")),
			when, age / 60);
	}
	fprintf(f, "\n");
}

/* policy = census: one line per such app on where its census stands. */
static void print_census(FILE *f, const struct control_reply *r)
{
	bool any = false;

	for (size_t i = 0; i < r->n; i++) {
		const struct proto_record *x = &r->rec[i];
		char name[PROTO_VALUE_MAX], when[32], adv[PROTO_VALUE_MAX], plan[PROTO_VALUE_MAX];
		char net[PROTO_VALUE_MAX], hashed[PROTO_VALUE_MAX];
		long long v = 0;
		time_t t;
		struct tm tm;

		if (strcmp(type_of(x), "app") != 0 || !proto_get(x, "census_ranges"))
			continue;
		if (!any)
			fprintf(f, "policy = census (ranges advised now; the last census):\n");
		any = true;
		ctl_format_mib(adv, sizeof(adv), get(x, "census_advised_kib"), 1024);
		fprintf(f, "  %s: %s ranges, %s MiB advised; ", clean(name, sizeof(name), get(x, "name")),
			clean(plan, sizeof(plan), get(x, "census_ranges")), adv);
		if (!proto_get(x, "census_time")) {
			fprintf(f, "no census yet");
		} else {
			parse_ll(get(x, "census_time"), &v);
			t = (time_t)v;
			if (!gmtime_r(&t, &tm) || !strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm))
				snprintf(when, sizeof(when), "?");
			ctl_format_mib(plan, sizeof(plan), get(x, "census_planned_kib"), 1024);
			ctl_format_mib(net, sizeof(net), get(x, "census_net_kib"), 1024);
			ctl_format_mib(hashed, sizeof(hashed), get(x, "census_hashed_kib"), 1024);
			fprintf(f, "census at %s UTC%s: %s processes, %s MiB hashed in %s ms CPU, plan "
				"%s MiB, net %s MiB", when,
				strcmp(get(x, "census_saved"), "1") == 0 ? " (before a restart)" : "",
				clean(adv, sizeof(adv), get(x, "census_procs")), hashed,
				clean(name, sizeof(name), get(x, "census_cpu_ms")), plan, net);
		}
		if (strcmp(get(x, "census_running"), "1") == 0)
			fprintf(f, "; census running\n");
		else
			fprintf(f, "; next in %s s\n", clean(name, sizeof(name), get(x, "census_next_s")));
	}
}

void ctl_print_status(FILE *f, const struct control_reply *r)
{
	const struct proto_record *g = NULL;
	int wname = 3, wapp = 3;
	size_t n_apps = 0;
	for (size_t i = 0; i < r->n; i++) {
		const struct proto_record *x = &r->rec[i];
		const char *t = type_of(x);
		if (strcmp(t, "global") == 0 && !g) {
			g = x;
		} else if (strcmp(t, "app") == 0) {
			int l = (int)strlen(get(x, "name"));
			wname = l > wname ? l : wname;
			n_apps++;
		} else if (strcmp(t, "proc") == 0) {
			int l = (int)strlen(get(x, "app"));
			wapp = l > wapp ? l : wapp;
		}
	}
	char a[PROTO_VALUE_MAX], b[PROTO_VALUE_MAX], c[PROTO_VALUE_MAX], d[PROTO_VALUE_MAX];
	if (g) {
		ctl_format_mib(a, sizeof(a), get(g, "general_profit"), 1024LL * 1024);
		fprintf(f, "backend:         %s\n", clean(b, sizeof(b), get(g, "backend")));
		fprintf(f, "ksmd run:        %s\n", clean(b, sizeof(b), get(g, "run")));
		if (proto_get(g, "governor"))
			print_governor(f, g);
		fprintf(f, "pages_sharing:   %s\n", clean(b, sizeof(b), get(g, "pages_sharing")));
		fprintf(f, "pages_shared:    %s\n", clean(b, sizeof(b), get(g, "pages_shared")));
		fprintf(f, "general_profit:  %s MiB\n", a);
		fprintf(f, "full_scans:      %s\n", clean(b, sizeof(b), get(g, "full_scans")));
		if (proto_get(g, "connector"))
			fprintf(f, "proc connector:  %s\n",
				strcmp(get(g, "connector"), "1") == 0 ? "yes" : "no");
		if (strcmp(get(g, "paused"), "1") == 0)
			fprintf(f, "enrollment:      paused by 'unmerge --all' (ksmplusctl resume)\n");
		if (strcmp(get(g, "at_cap"), "1") == 0)
			fprintf(f, "processes:       at the max_processes cap (%s): %s left alone\n",
				clean(b, sizeof(b), get(g, "max_processes")),
				clean(c, sizeof(c), get(g, "untracked")));
	}

	fprintf(f, "\n");
	if (n_apps == 0) {
		fprintf(f, "no apps configured\n");
	} else {
		bool estimated = false, forecasts = false;
		fprintf(f, "%-*s  %5s  %12s  %11s  %9s  %8s  %12s\n", wname, "APP", "PROCS",
			"ENROLLED_MiB", "MERGING_MiB", "SAVED_MiB", "PSS_MiB", "FORECAST_MiB");
		for (size_t i = 0; i < r->n; i++) {
			const struct proto_record *x = &r->rec[i];
			if (strcmp(type_of(x), "app") != 0)
				continue;
			char saved[PROTO_VALUE_MAX + 2], pss[PROTO_VALUE_MAX];
			bool exact = strcmp(get(x, "saved_exact"), "0") != 0;
			ctl_format_mib(a, sizeof(a), get(x, "enrolled_kib"), 1024);
			ctl_format_mib(b, sizeof(b), get(x, "merging_kib"), 1024);
			/* older daemons sent profit_kib only */
			ctl_format_mib(c, sizeof(c), proto_get(x, "saved_kib") ? get(x, "saved_kib") :
				       get(x, "profit_kib"), 1024);
			snprintf(saved, sizeof(saved), "%s%s", c, exact ? "" : "*");
			estimated |= !exact;
			if (proto_get(x, "pss_kib"))
				ctl_format_mib(pss, sizeof(pss), get(x, "pss_kib"), 1024);
			else
				snprintf(pss, sizeof(pss), "-");
			char procs[32], fc[PROTO_VALUE_MAX];
			clean(procs, sizeof(procs), get(x, "procs"));
			/* the last `analyze` forecast, net as SAVED_MiB is */
			if (proto_get(x, "forecast_kib"))
				ctl_format_mib(fc, sizeof(fc), get(x, "forecast_kib"), 1024);
			else
				snprintf(fc, sizeof(fc), "-");
			forecasts |= proto_get(x, "forecast_kib") != NULL;
			fprintf(f, "%-*s  %5s  %12s  %11s  %9s  %8s  %12s\n", wname,
				clean(d, sizeof(d), get(x, "name")), procs, a, b, saved, pss, fc);
		}
		if (forecasts)
			print_forecast_ages(f, r);
		print_census(f, r);
		if (estimated)
			fprintf(f, "* estimate (sum of ksm_process_profit, which overstates): exact "
				"figures need the daemon to read page frames (root with CAP_SYS_ADMIN)\n");
	}

	if (n_apps)
		fprintf(f, "\nKSM does not shrink RSS in top/ps: merged pages still count for every\n"
			"process mapping them. PSS (smaps_rollup) and general_profit show the saving.\n");
	size_t n_procs = 0;
	for (size_t i = 0; i < r->n; i++)
		n_procs += strcmp(type_of(&r->rec[i]), "proc") == 0;
	/* The daemon lists only the caller's own processes to non-root. */
	if (g && strcmp(get(g, "processes"), "own") == 0)
		fprintf(f, "\nProcesses: yours only (%zu); other users' are not shown "
			"(root sees all).\n", n_procs);
	if (n_procs == 0)
		return;
	/* Every process of every app: how it belongs (own name or its process
	 * tree), how it is enrolled (by us or inherited from its parent). */
	fprintf(f, "\n%7s  %-*s  %-15s  %-6s  %-9s  %11s  %s\n", "PID", wapp, "APP", "COMM", "MEMBER",
		"STATE", "MERGING_MiB", "REASON");
	for (size_t i = 0; i < r->n; i++) {
		const struct proto_record *x = &r->rec[i];
		if (strcmp(type_of(x), "proc") != 0)
			continue;
		char pid[32], comm[64], state[32];
		bool enrolled = strcmp(get(x, "state"), "enrolled") == 0;
		clean(state, sizeof(state), get(x, "state"));
		/* enrolled with a reason: not as its policy says (the census
		 * could not read it: whole process) */
		bool why = !enrolled || *get(x, "reason");
		if (enrolled && strcmp(get(x, "inherited"), "1") == 0)
			snprintf(state, sizeof(state), "inherited");
		else if (enrolled && why)
			snprintf(state, sizeof(state), "whole");
		ctl_format_mib(b, sizeof(b), get(x, "merging_kib"), 1024);
		fprintf(f, "%7s  %-*s  %-15s  %-6s  %-9s  %11s%s%s\n", clean(pid, sizeof(pid), get(x, "pid")),
			wapp, clean(a, sizeof(a), get(x, "app")), clean(comm, sizeof(comm), get(x, "comm")),
			clean(d, sizeof(d), get(x, "member")), state, enrolled ? b : "-",
			why ? "  " : "", why ? clean(c, sizeof(c), get(x, "reason")) : "");
	}
}

/* Length of the valid UTF-8 sequence at s, or 0 if invalid. */
static size_t utf8_len(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	size_t n;
	unsigned min;
	unsigned cp;
	if ((s[0] & 0xe0) == 0xc0) { n = 2; cp = s[0] & 0x1f; min = 0x80; }
	else if ((s[0] & 0xf0) == 0xe0) { n = 3; cp = s[0] & 0x0f; min = 0x800; }
	else if ((s[0] & 0xf8) == 0xf0) { n = 4; cp = s[0] & 0x07; min = 0x10000; }
	else return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;               /* also stops at the NUL */
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void ctl_json_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	fputc('"', f);
	while (*p) {
		unsigned char c = *p;
		if (c == '"' || c == '\\') {
			fputc('\\', f);
			fputc(c, f);
			p++;
		} else if (c == '\n') {
			fputs("\\n", f); p++;
		} else if (c == '\t') {
			fputs("\\t", f); p++;
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\u%04x", c);
			p++;
		} else {
			size_t n = utf8_len(p);
			if (n == 0) {
				fputs("\\ufffd", f);
				p++;
			} else {
				fwrite(p, 1, n, f);
				p += n;
			}
		}
	}
	fputc('"', f);
}

static bool json_int(const char *s)
{
	const char *p = s;
	if (*p == '-')
		p++;
	if (*p == '0')
		return p[1] == '\0';
	if (*p < '1' || *p > '9')
		return false;
	size_t digits = 0;
	for (; *p; p++, digits++)
		if (*p < '0' || *p > '9')
			return false;
	return digits <= 18;
}

static void json_object(FILE *f, const struct proto_record *x)
{
	bool first = true;
	fputc('{', f);
	for (size_t i = 0; i < x->n; i++) {
		if (strcmp(x->f[i].key, "type") == 0)
			continue;
		fputs(first ? "" : ", ", f);
		first = false;
		ctl_json_string(f, x->f[i].key);
		fputs(": ", f);
		if (json_int(x->f[i].value))
			fputs(x->f[i].value, f);
		else
			ctl_json_string(f, x->f[i].value);
	}
	fputc('}', f);
}

static void json_array(FILE *f, const struct control_reply *r, const char *type)
{
	bool first = true;
	fputc('[', f);
	for (size_t i = 0; i < r->n; i++) {
		if (strcmp(type_of(&r->rec[i]), type) != 0)
			continue;
		fputs(first ? "\n    " : ",\n    ", f);
		first = false;
		json_object(f, &r->rec[i]);
	}
	fputs(first ? "]" : "\n  ]", f);
}

void ctl_print_status_json(FILE *f, const struct control_reply *r)
{
	const struct proto_record *g = NULL;
	for (size_t i = 0; i < r->n && !g; i++)
		if (strcmp(type_of(&r->rec[i]), "global") == 0)
			g = &r->rec[i];
	fputs("{\n  \"global\": ", f);
	if (g)
		json_object(f, g);
	else
		fputs("null", f);
	fputs(",\n  \"apps\": ", f);
	json_array(f, r, "app");
	fputs(",\n  \"processes\": ", f);
	json_array(f, r, "proc");
	fputs("\n}\n", f);
}

void ctl_print_metrics(FILE *f, const struct control_reply *r)
{
	for (size_t i = 0; i < r->n; i++) {
		const char *type = proto_get(&r->rec[i], "type"), *chunk;
		char key[8];

		if (!type || strcmp(type, "metric") != 0)
			continue;
		for (unsigned k = 0; k < PROTO_MAX_FIELDS; k++) {
			snprintf(key, sizeof(key), "l%u", k);
			if (!(chunk = proto_get(&r->rec[i], key)))
				break;
			fputs(chunk, f);
		}
		fputc('\n', f);
	}
}

/* The app record named name in r, or NULL. */
static const struct proto_record *app_in(const struct control_reply *r, const char *name)
{
	for (size_t i = 0; r && i < r->n; i++)
		if (strcmp(type_of(&r->rec[i]), "app") == 0 && strcmp(get(&r->rec[i], "name"), name) == 0)
			return &r->rec[i];
	return NULL;
}

/* saved_kib, or the profit_kib older daemons sent. */
static const char *saved_of(const struct proto_record *x)
{
	return proto_get(x, "saved_kib") ? get(x, "saved_kib") : get(x, "profit_kib");
}

void ctl_print_top(FILE *f, const char *when, const struct control_reply *now,
		   const struct control_reply *prev, double dt_sec)
{
	const struct proto_record *g = NULL;
	char a[PROTO_VALUE_MAX], b[PROTO_VALUE_MAX], c[PROTO_VALUE_MAX], d[PROTO_VALUE_MAX];
	int wname = 3;

	for (size_t i = 0; i < now->n; i++) {
		const struct proto_record *x = &now->rec[i];

		if (strcmp(type_of(x), "global") == 0 && !g)
			g = x;
		else if (strcmp(type_of(x), "app") == 0 && (int)strlen(get(x, "name")) > wname)
			wname = (int)strlen(get(x, "name"));
	}
	fprintf(f, "ksmplus %s", when);
	if (g) {
		ctl_format_mib(a, sizeof(a), get(g, "general_profit"), 1024LL * 1024);
		fprintf(f, "  KSM saves %s MiB system-wide", a);
		if (proto_get(g, "gov_state"))
			fprintf(f, "  governor %s", clean(b, sizeof(b), get(g, "gov_state")));
		if (proto_get(g, "ksmd_cpu_pct"))
			fprintf(f, "  ksmd %s %% CPU", clean(b, sizeof(b), get(g, "ksmd_cpu_pct")));
	}
	fprintf(f, "\n%-*s  %5s  %8s  %11s  %9s  %s\n", wname, "APP", "PROCS", "PSS_MiB",
		"MERGING_MiB", "SAVED_MiB", "TREND_MiB/min");
	for (size_t i = 0; i < now->n; i++) {
		const struct proto_record *x = &now->rec[i], *was;
		long long s1, s0;
		char trend[64] = "-";

		if (strcmp(type_of(x), "app") != 0)
			continue;
		was = app_in(prev, get(x, "name"));
		/* the saving's change since the last frame, per minute */
		if (was && dt_sec > 0 && parse_ll(saved_of(x), &s1) && parse_ll(saved_of(was), &s0))
			snprintf(trend, sizeof(trend), "%+.1f", (double)(s1 - s0) / 1024 * 60 / dt_sec);
		if (proto_get(x, "pss_kib"))
			ctl_format_mib(a, sizeof(a), get(x, "pss_kib"), 1024);
		else
			snprintf(a, sizeof(a), "-");
		ctl_format_mib(b, sizeof(b), get(x, "merging_kib"), 1024);
		ctl_format_mib(c, sizeof(c), saved_of(x), 1024);
		fprintf(f, "%-*s  %5s  %8s  %11s  %9s%s  %s\n", wname, clean(d, sizeof(d), get(x, "name")),
			get(x, "procs"), a, b, c, strcmp(get(x, "saved_exact"), "0") != 0 ? " " : "*",
			trend);
	}
}

/* --- analyze ------------------------------------------------------------ */

static long long field_ll(const struct proto_record *x, const char *key)
{
	long long v = 0;

	parse_ll(proto_get(x, key), &v);
	return v;
}

static void print_pages(FILE *f, const char *label, const struct proto_record *c, const char *key,
			long long page)
{
	char mib[32], s[32];

	snprintf(s, sizeof(s), "%lld", field_ll(c, key) * page);
	ctl_format_mib(mib, sizeof(mib), s, 1048576);
	fprintf(f, "%-22s %lld pages (%s MiB)\n", label, field_ll(c, key), mib);
}

/* Against the other enrolled apps: what they hold too, and the part of the
 * saving that lasts only while they stay enrolled. */
static void print_others(FILE *f, const struct control_reply *r, const struct proto_record *c,
			 long long page)
{
	char a[PROTO_VALUE_MAX], mib[32];

	if (!proto_get(c, "other_apps"))
		return;         /* an older daemon */
	if (field_ll(c, "other_apps") == 0) {
		fprintf(f, "%-22s none enrolled: the forecast is the app alone\n", "other apps:");
		return;
	}
	fprintf(f, "%-22s %lld enrolled (%lld processes hashed)\n", "other apps:",
		field_ll(c, "other_apps"), field_ll(c, "other_procs"));
	print_pages(f, "dups in other apps:", c, "dup_other", page);
	print_pages(f, "saving with them:", c, "saved_shared", page);
	print_pages(f, "  of which theirs:", c, "depends", page);
	ctl_format_mib(mib, sizeof(mib), get(c, "net_shared_bytes"), 1048576);
	fprintf(f, "%-22s %s MiB (the part above goes if they go)\n", "net with them:", mib);
	for (size_t i = 0; i < r->n; i++) {
		const struct proto_record *x = &r->rec[i];

		if (strcmp(type_of(x), "census_other") != 0)
			continue;
		fprintf(f, "  with %-16s %lld pages alike, %lld pages of the saving owed to it\n",
			clean(a, sizeof(a), get(x, "app")), field_ll(x, "pages"), field_ll(x, "depends"));
	}
}

void ctl_print_analysis(FILE *f, const struct control_reply *r)
{
	const struct proto_record *c = NULL;
	char a[PROTO_VALUE_MAX], mib[32];
	long long page;

	for (size_t i = 0; i < r->n && !c; i++)
		if (strcmp(type_of(&r->rec[i]), "census") == 0)
			c = &r->rec[i];
	if (!c)
		return;
	page = field_ll(c, "page_size");
	if (proto_get(c, "pid"))
		fprintf(f, "census of process %s", clean(a, sizeof(a), get(c, "pid")));
	else if (proto_get(c, "cgroup"))
		fprintf(f, "census of cgroups matching %s: %lld processes",
			clean(a, sizeof(a), get(c, "cgroup")), field_ll(c, "procs"));
	else
		fprintf(f, "census of %s: %lld processes", clean(a, sizeof(a), get(c, "name")),
			field_ll(c, "procs"));
	if (field_ll(c, "sample") > 1)
		fprintf(f, ", one page in %lld hashed (%lld pages)\n", field_ll(c, "sample"),
			field_ll(c, "sampled"));
	else
		fprintf(f, ", every resident page hashed\n");
	if (field_ll(c, "exited"))
		fprintf(f, "left out:              %lld processes exited during the census (%s)\n",
			field_ll(c, "exited"), clean(a, sizeof(a), get(c, "exited_pids")));
	print_pages(f, "resident anonymous:", c, "resident", page);
	print_pages(f, "zero pages:", c, "zero", page);
	print_pages(f, "one-byte pages:", c, "repeated", page);
	print_pages(f, "dups within a process:", c, "dup_within", page);
	print_pages(f, "dups across processes:", c, "dup_across", page);
	print_pages(f, "forecast saving:", c, "saved", page);
	if (field_ll(c, "error"))
		fprintf(f, "%-22s +- %lld pages (sampling, about 95 %%)\n", "", field_ll(c, "error"));
	ctl_format_mib(mib, sizeof(mib), get(c, "rmap_bytes"), 1048576);
	fprintf(f, "%-22s %s MiB (KSM's rmap_item, 64 bytes per scanned page)\n", "cost:", mib);
	ctl_format_mib(mib, sizeof(mib), get(c, "net_bytes"), 1048576);
	fprintf(f, "%-22s %s MiB%s\n", "net forecast:", mib,
		field_ll(c, "net_bytes") <= 0 ? " (enrolling the whole app would lose memory)" : "");
	print_others(f, r, c, page);
	ctl_format_mib(a, sizeof(a), get(c, "read_bytes"), 1048576);
	fprintf(f, "%-22s %lld.%03lld s CPU, %s MiB read, %lld MiB/s, %lld pages looked at\n",
		"census cost:", field_ll(c, "cpu_ms") / 1000, field_ll(c, "cpu_ms") % 1000, a,
		field_ll(c, "mib_s"), field_ll(c, "visited"));
	for (int pass = 0; pass < 2; pass++) {
		bool head = false;

		for (size_t i = 0; i < r->n; i++) {
			const struct proto_record *x = &r->rec[i];

			if (strcmp(type_of(x), "census_area") != 0 ||
			    strcmp(get(x, "kind"), pass ? "range" : "map") != 0)
				continue;
			if (!head)
				fprintf(f, "%s\n", pass ? "best 2 MiB ranges (duplicate pages):" :
					"best mappings (duplicate pages):");
			head = true;
			char pid[32], st[32], en[32];
			fprintf(f, "  pid %-8s %s-%s  %lld of %lld pages\n", clean(pid, sizeof(pid), get(x, "pid")),
				clean(st, sizeof(st), get(x, "start")), clean(en, sizeof(en), get(x, "end")),
				field_ll(x, "dup_pages"), field_ll(x, "pages"));
		}
	}
}

void ctl_print_analysis_json(FILE *f, const struct control_reply *r)
{
	const struct proto_record *c = NULL;

	for (size_t i = 0; i < r->n && !c; i++)
		if (strcmp(type_of(&r->rec[i]), "census") == 0)
			c = &r->rec[i];
	fputs("{\n  \"census\": ", f);
	if (c)
		json_object(f, c);
	else
		fputs("null", f);
	fputs(",\n  \"others\": ", f);
	json_array(f, r, "census_other");
	fputs(",\n  \"areas\": ", f);
	json_array(f, r, "census_area");
	fputs("\n}\n", f);
}
