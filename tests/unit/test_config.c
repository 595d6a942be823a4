/* test_config.c — config parsing, drop-in order and the ksmplusctl drop-in. */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"

static char dir[256];           /* fresh mkdtemp dir per test (short: no truncation) */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s/ksmplus-test-XXXXXX", P_tmpdir);
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes dir/name and returns its path in a static buffer. */
static const char *write_file(const char *name, const char *text)
{
	static char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	return path;
}

static void make_dir(const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(mkdir(path, 0755), 0);
}

static char *read_text(const char *path)
{
	static char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void assert_list(const struct strlist *l, const char *const *want, size_t n)
{
	assert_int_equal(l->n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(l->v[i], want[i]);
}
#define ASSERT_LIST(l, ...) do { \
	const char *const w_[] = { __VA_ARGS__ }; \
	assert_list((l), w_, sizeof(w_) / sizeof(w_[0])); } while (0)

static const struct ksmd_setting *knob(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->n_knobs; i++)
		if (strcmp(c->knobs[i].knob, name) == 0)
			return &c->knobs[i];
	return NULL;
}

/* ---- single files ------------------------------------------------------ */

static void test_defaults(void **state)
{
	struct config c;

	(void)state;
	config_init(&c);
	assert_int_equal(c.backend, BACKEND_AUTO);
	assert_int_equal(c.rescan_sec, 10);
	assert_int_equal(c.sweep_sec, 30);
	assert_false(c.unmerge_on_stop);
	assert_int_equal(c.apps.n, 0);
	assert_int_equal(c.n_knobs, 0);
	assert_int_equal(c.max_processes, 8192);
	assert_false(c.cross_user);     /* one security domain unless allowed */
	ASSERT_LIST(&c.excludes, "mysqld", "mariadbd");
	assert_string_equal(c.metrics_textfile, "");    /* no textfile unless asked */
	assert_int_equal(c.metrics_interval_sec, 15);
	config_free(&c);
}

static void test_metrics_section(void **state)
{
	const char *p1 = write_file("m1.conf", "[metrics]\ntextfile = /var/lib/prometheus/node-exporter/"
				    "ksmplus.prom\ninterval_sec = 60\n");
	const char *p2;
	struct config c;
	char err[512] = "";

	(void)state;
	config_init(&c);
	assert_int_equal(config_parse_file(p1, &c, err, sizeof(err)), 0);
	assert_string_equal(c.metrics_textfile, "/var/lib/prometheus/node-exporter/ksmplus.prom");
	assert_int_equal(c.metrics_interval_sec, 60);
	/* a later drop-in may turn it off */
	p2 = write_file("m2.conf", "[metrics]\ntextfile =\n");
	assert_int_equal(config_parse_file(p2, &c, err, sizeof(err)), 0);
	assert_string_equal(c.metrics_textfile, "");
	config_free(&c);
}

static void test_cross_user_and_cap(void **state)
{
	const char *p1 = write_file("cu1.conf", "[ksmplusd]\nmax_processes = 50\ncross_user = allow\n");
	const char *p2;
	struct config c;
	char err[512] = "";

	(void)state;
	config_init(&c);
	assert_int_equal(config_parse_file(p1, &c, err, sizeof(err)), 0);
	assert_int_equal(c.max_processes, 50);
	assert_true(c.cross_user);
	p2 = write_file("cu2.conf", "[ksmd]\ncross_user = deny\n");
	assert_int_equal(config_parse_file(p2, &c, err, sizeof(err)), 0);
	assert_false(c.cross_user);
	assert_int_equal(c.n_knobs, 0);         /* not a sysfs knob */
	config_free(&c);
}

static void test_good_file(void **state)
{
	const char *path = write_file("good.conf",
		"# ksmplusd test\n"
		"[ksmplusd]\n"
		"backend = ptrace\n"
		"rescan_interval_sec = 3600\n"
		"sweep_interval_sec = 1   ; inline comment\n"
		"unmerge_on_stop = Yes\n"
		"\n"
		"[apps]\n"
		"app = gimp\n"
		"app = evince, okular  firefox,,zathura\n"
		"app = gimp\n"
		"exclude = postgres\n"
		"[ksmd]\n"
		"run = 1\n"
		"pages_to_scan = 0100\n"
		"sleep_millisecs = 4294967295\n"
		"smart_scan = true\n"
		"advisor_mode = scan-time\n"
		"use_zero_pages = 0\n"
		"max_page_sharing = 2\n"
		"merge_across_nodes = no\n");
	struct config c;
	char err[512] = "";
	const struct ksmd_setting *k;

	(void)state;
	config_init(&c);
	assert_int_equal(config_parse_file(path, &c, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(c.backend, BACKEND_PTRACE);
	assert_int_equal(c.rescan_sec, 3600);
	assert_int_equal(c.sweep_sec, 1);
	assert_true(c.unmerge_on_stop);
	ASSERT_LIST(&c.apps, "gimp", "evince", "okular", "firefox", "zathura");
	ASSERT_LIST(&c.excludes, "postgres");
	assert_int_equal(c.n_knobs, 8);
	k = knob(&c, "pages_to_scan");
	assert_non_null(k);
	assert_string_equal(k->value, "100");   /* normalised for sysfs */
	assert_string_equal(k->file, path);
	assert_int_equal(k->line, 15);
	assert_string_equal(knob(&c, "smart_scan")->value, "1");
	assert_string_equal(knob(&c, "merge_across_nodes")->value, "0");
	assert_string_equal(knob(&c, "sleep_millisecs")->value, "4294967295");
	assert_string_equal(knob(&c, "advisor_mode")->value, "scan-time");
	assert_int_equal(knob(&c, "run")->line, 14);
	assert_int_equal(knob(&c, "merge_across_nodes")->line, 21);
	config_free(&c);
}

static void test_backend_names(void **state)
{
	(void)state;
	assert_string_equal(config_backend_name(BACKEND_AUTO), "auto");
	assert_string_equal(config_backend_name(BACKEND_PMADV), "process_madvise");
	assert_string_equal(config_backend_name(BACKEND_PTRACE), "ptrace");
	assert_string_equal(config_backend_name((enum backend_pref)42), "unknown");
}

static void test_duplicate_knob_last_wins(void **state)
{
	const char *path = write_file("dup.conf",
		"[ksmd]\n"
		"pages_to_scan = 100\n"
		"sleep_millisecs = 20\n"
		"pages_to_scan = 300\n");
	struct config c;
	char err[512] = "";

	(void)state;
	config_init(&c);
	assert_int_equal(config_parse_file(path, &c, err, sizeof(err)), 0);
	assert_int_equal(c.n_knobs, 2);
	assert_string_equal(c.knobs[0].knob, "pages_to_scan");
	assert_string_equal(c.knobs[0].value, "300");
	assert_int_equal(c.knobs[0].line, 4);
	config_free(&c);
}

static void test_exclude_rules(void **state)
{
	const char *path = write_file("ex.conf",
		"[apps]\n"
		"exclude = a b\n"           /* first: replaces the default */
		"exclude = c\n"             /* later: appends */
		"exclude = b\n");           /* duplicate: ignored */
	struct config c;
	char err[512] = "";

	(void)state;
	config_init(&c);
	assert_int_equal(config_parse_file(path, &c, err, sizeof(err)), 0);
	ASSERT_LIST(&c.excludes, "a", "b", "c");
	/* Still the same load: the next file appends rather than replaces. */
	path = write_file("ex2.conf", "[apps]\nexclude = d\n");
	assert_int_equal(config_parse_file(path, &c, err, sizeof(err)), 0);
	ASSERT_LIST(&c.excludes, "a", "b", "c", "d");
	path = write_file("ex3.conf", "[apps]\nexclude =\nexclude = e\n");
	assert_int_equal(config_parse_file(path, &c, err, sizeof(err)), 0);
	ASSERT_LIST(&c.excludes, "e");
	config_free(&c);

	/* An empty first exclude leaves no excludes at all. */
	config_init(&c);
	path = write_file("ex4.conf", "[apps]\nexclude =\n");
	assert_int_equal(config_parse_file(path, &c, err, sizeof(err)), 0);
	assert_int_equal(c.excludes.n, 0);
	config_free(&c);
}

static void test_multiline_and_comments(void **state)
{
	const char *path = write_file("ml.conf",
		"\xEF\xBB\xBF; BOM then comment\n"
		"[apps]\n"
		"app = a\n"
		"   b, c ; on a continuation line too\n"   /* inih continuation line */
		"# full-line comment\n"
		"app = d ; e f\n"
		"app = g;h\n");             /* ';' not after a space: part of the name */
	struct config c;
	char err[512] = "";

	(void)state;
	config_init(&c);
	assert_int_equal(config_parse_file(path, &c, err, sizeof(err)), 0);
	ASSERT_LIST(&c.apps, "a", "b", "c", "d", "g;h");
	config_free(&c);
}

struct bad_case {
	const char *text;
	int line;
	const char *msg;
};

/* Every error must carry FILE:LINE of the first offending line. */
static void test_bad_files(void **state)
{
	static const struct bad_case cases[] = {
		{ "[ksmplusd]\nbackend = auto\n\n[apps]\napp = gimp\n[ksmd]\npages = 5\n",
		  7, "unknown key 'pages' in [ksmd]" },
		{ "[ksmplusd]\nbackend = fast\n", 2,
		  "invalid value 'fast' for backend (expected auto, process_madvise or ptrace)" },
		{ "[ksmplusd]\nfoo = 1\n", 2, "unknown key 'foo' in [ksmplusd]" },
		{ "[apps]\napps = gimp\n", 2, "unknown key 'apps' in [apps]" },
		{ "[ksmplusd]\nrescan_interval_sec = 0\n", 2,
		  "invalid value '0' for rescan_interval_sec (expected seconds, 1..3600)" },
		{ "[ksmplusd]\nrescan_interval_sec = 3601\n", 2,
		  "invalid value '3601' for rescan_interval_sec (expected seconds, 1..3600)" },
		{ "[ksmplusd]\n\nsweep_interval_sec = -1\n", 3,
		  "invalid value '-1' for sweep_interval_sec (expected seconds, 1..3600)" },
		{ "[ksmplusd]\nsweep_interval_sec = 10s\n", 2,
		  "invalid value '10s' for sweep_interval_sec (expected seconds, 1..3600)" },
		{ "[ksmplusd]\nsweep_interval_sec = 99999999999999999999999\n", 2,
		  "invalid value '99999999999999999999999' for sweep_interval_sec (expected seconds, 1..3600)" },
		{ "[ksmplusd]\nunmerge_on_stop = maybe\n", 2,
		  "invalid value 'maybe' for unmerge_on_stop (expected yes or no)" },
		{ "[ksmplusd]\ndrop_unprofitable = maybe\n", 2,
		  "invalid value 'maybe' for drop_unprofitable (expected yes or no)" },
		{ "[ksmplusd]\nprofit_min_scans = 0\n", 2,
		  "invalid value '0' for profit_min_scans (expected 1..1000)" },
		{ "[ksmplusd]\nprofit_backoff_sec = 86401\n", 2,
		  "invalid value '86401' for profit_backoff_sec (expected seconds, 1..86400)" },
		{ "[ksmd]\nrun = 2\n", 2, "invalid value '2' for run (expected 0..1)" },
		{ "[ksmd]\nmax_page_sharing = 1\n", 2,
		  "invalid value '1' for max_page_sharing (expected 2..2147483647)" },
		{ "[ksmd]\npages_to_scan = 4294967296\n", 2,
		  "invalid value '4294967296' for pages_to_scan (expected 0..4294967295)" },
		{ "[ksmd]\nsmart_scan = 2\n", 2, "invalid value '2' for smart_scan (expected 0 or 1)" },
		{ "[ksmd]\nadvisor_mode = fast\n", 2,
		  "invalid value 'fast' for advisor_mode (expected none or scan-time)" },
		{ "[ksmd]\nsleep_millisecs =\n", 2,
		  "invalid value '' for sleep_millisecs (expected 0..4294967295)" },
		{ "[apps]\napp = gimp\n[extra]\n", 3,
		  "unknown section [extra] (expected [ksmplusd], [apps], [ksmd], [metrics] or [app NAME])" },
		{ "[Apps]\napp = gimp\n", 1,
		  "unknown section [Apps] (expected [ksmplusd], [apps], [ksmd], [metrics] or [app NAME])" },
		{ "app = gimp\n", 1,
		  "'app' outside any section (start with [ksmplusd], [apps] or [ksmd])" },
		{ "[apps]\napp = gimp\njust words\n", 3,
		  "syntax error (expected [section] or key = value)" },
		{ "[apps\napp = gimp\n", 1, "syntax error (expected [section] or key = value)" },
		{ "[apps]\napp = /usr/bin/gimp\n", 2,
		  "invalid app name '/usr/bin/gimp': contains '/' (give the program name, not a path; for a cgroup: cgroup:GLOB)" },
		{ "[apps]\napp = gimp # the editor\n", 2,
		  "invalid app name '#': starts with '#' (inline comments start with ' ;')" },
		{ "[app gimp]\nkids = no\n", 2, "unknown key 'kids' in [app gimp] (expected children or policy)" },
		{ "[app gimp]\nchildren = some\n", 2,
		  "invalid value 'some' for children (expected yes or no)" },
		/* inih cuts section names at 49 bytes: without a check, the option
		 * went silently to "cgroup:app-flatpak-org.gnome.Evolution-*.scop"
		 * (found by tests/fuzz/fuzz_config). */
		{ "[app cgroup:app-flatpak-org.gnome.Evolution-*.scope]\nchildren = no\n", 2,
		  "[app cgroup:app-flatpak-org.gnome.Evolution-*.sco...] is too long: "
		  "options take names of at most 44 characters" },
		{ "[app a/b]\nchildren = no\n", 2,
		  "invalid app name 'a/b' in [app a/b]: contains '/' (give the program name, not a path; for a cgroup: cgroup:GLOB)" },
		{ "[apps]\napp = a=b\n", 2,
		  "invalid app name 'a=b': contains '=' or '[' (the config could not carry it)" },
		{ "[apps]\napp = x[1\n", 2,
		  "invalid app name 'x[1': contains '=' or '[' (the config could not carry it)" },
		{ "[apps]\napp = cgroup:\n", 2, "invalid app name 'cgroup:': empty cgroup glob after 'cgroup:'" },
		{ "[apps]\napp =\n", 2, "'app' needs at least one name" },
		{ "[apps]\napp = , ,\n", 2, "'app' needs at least one name" },
		{ "[ksmplusd]\nmax_processes = 0\n", 2,
		  "invalid value '0' for max_processes (expected 1..1000000)" },
		{ "[ksmplusd]\ncross_user = yes\n", 2,
		  "invalid value 'yes' for cross_user (expected deny or allow)" },
		{ "[ksmd]\ncross_user = 1\n", 2,
		  "invalid value '1' for cross_user (expected deny or allow)" },
		{ "[apps]\napp = \x1b[31m\n", 2,
		  "invalid app name '\\x1b[31m': contains a control character" },
		{ "[apps]\nexclude = a\x01z\n", 2, "invalid exclude name 'a\\x01z': contains a control character" },
		{ "[metrics]\ntextfile = ksmplus.prom\n", 2,
		  "invalid value 'ksmplus.prom' for textfile (expected an absolute path ending in .prom, "
		  "which node_exporter's textfile collector reads)" },
		{ "[metrics]\ntextfile = /var/lib/node/ksmplus.txt\n", 2,
		  "invalid value '/var/lib/node/ksmplus.txt' for textfile (expected an absolute path "
		  "ending in .prom, which node_exporter's textfile collector reads)" },
		{ "[metrics]\ntextfile = /var/lib/node/.prom\n", 2,
		  "invalid value '/var/lib/node/.prom' for textfile (expected an absolute path "
		  "ending in .prom, which node_exporter's textfile collector reads)" },
		{ "[metrics]\ninterval_sec = 0\n", 2,
		  "invalid value '0' for interval_sec (expected seconds, 1..3600)" },
		{ "[metrics]\nport = 9100\n", 2,
		  "unknown key 'port' in [metrics] (expected textfile or interval_sec)" },
		/* the first error wins, whichever kind comes first */
		{ "[apps]\napp = gimp\nbogus = 1\nno equals here\n", 3, "unknown key 'bogus' in [apps]" },
		{ "[apps]\nno equals here\nbogus = 1\n", 2, "syntax error (expected [section] or key = value)" },
		{ "[x]\n[apps]\nno equals here\n", 1,
		  "unknown section [x] (expected [ksmplusd], [apps], [ksmd], [metrics] or [app NAME])" },
	};
	char err[512], want[1024];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *path = write_file("bad.conf", cases[i].text);
		struct config c;

		config_init(&c);
		err[0] = '\0';
		snprintf(want, sizeof(want), "%s:%d: %s", path, cases[i].line, cases[i].msg);
		if (config_parse_file(path, &c, err, sizeof(err)) != -1 || strcmp(err, want) != 0)
			fail_msg("case %zu: got '%s', want '%s'", i, err, want);
		config_free(&c);
	}
}

/* The longest [app NAME] that inih carries whole still works. */
static void test_app_option_longest_name(void **state)
{
	const char *name = "cgroup:app-flatpak-org.gnome.Evoluti-*.scope";    /* 44 */
	char text[128], err[512] = "";
	struct config c;

	(void)state;
	assert_int_equal(strlen(name), 44);
	snprintf(text, sizeof(text), "[app %s]\nchildren = no\n", name);
	config_init(&c);
	assert_int_equal(config_parse_file(write_file("long-app.conf", text), &c, err, sizeof(err)), 0);
	ASSERT_LIST(&c.no_children, name);
	config_free(&c);
}

static void test_cannot_open(void **state)
{
	char path[PATH_MAX], want[PATH_MAX + 64], err[PATH_MAX + 64];
	struct config c;

	(void)state;
	snprintf(path, sizeof(path), "%s/missing.conf", dir);
	snprintf(want, sizeof(want), "%s: cannot open: %s", path, strerror(ENOENT));
	config_init(&c);
	assert_int_equal(config_parse_file(path, &c, err, sizeof(err)), -1);
	assert_string_equal(err, want);
	assert_int_equal(config_load(path, &c, err, sizeof(err)), -1);
	assert_string_equal(err, want);
	config_free(&c);
}

/* inih reads lines into a 200-byte buffer; longer lines must still parse
 * whole and keep the line count right. */
static void test_long_lines(void **state)
{
	char name255[256], name256[257], text[4096], want[1024], err[512];
	const char *path;
	struct config c;

	(void)state;
	memset(name255, 'n', 255);
	name255[255] = '\0';
	memset(name256, 'm', 256);
	name256[256] = '\0';
	snprintf(text, sizeof(text),
		 "[apps]\n"
		 "app = %s   ; trailing comment\n"
		 "app = short\n"
		 "  %s\n"                   /* long continuation line */
		 "# %s\n"                   /* long comment */
		 "app = x\n",
		 name255, name255 + 1, name255);
	path = write_file("long.conf", text);
	config_init(&c);
	assert_int_equal(config_parse_file(path, &c, err, sizeof(err)), 0);
	ASSERT_LIST(&c.apps, name255, "short", name255 + 1, "x");
	config_free(&c);

	/* an error after long lines still names the right line */
	snprintf(text, sizeof(text), "[apps]\napp = %s\n# %s\napp = a/b\n", name255, name256);
	path = write_file("long.conf", text);
	config_init(&c);
	snprintf(want, sizeof(want), "%s:4: invalid app name 'a/b': contains '/' (give the program name, not a path; for a cgroup: cgroup:GLOB)", path);
	assert_int_equal(config_parse_file(path, &c, err, sizeof(err)), -1);
	assert_string_equal(err, want);
	config_free(&c);

	/* a 256-char name is too long */
	snprintf(text, sizeof(text), "[apps]\n\napp = %s\n", name256);
	path = write_file("long.conf", text);
	config_init(&c);
	snprintf(want, sizeof(want), "%s:3: invalid app name '%.40s...': longer than 255 characters",
		 path, name256);
	assert_int_equal(config_parse_file(path, &c, err, sizeof(err)), -1);
	assert_string_equal(err, want);
	config_free(&c);

	/* a long line with no '=' is a syntax error on its own line */
	snprintf(text, sizeof(text), "[apps]\n%s\napp = b\n", name256);
	path = write_file("long.conf", text);
	config_init(&c);
	snprintf(want, sizeof(want), "%s:2: syntax error (expected [section] or key = value)", path);
	assert_int_equal(config_parse_file(path, &c, err, sizeof(err)), -1);
	assert_string_equal(err, want);
	config_free(&c);

	/* a long unknown section header */
	snprintf(text, sizeof(text), "[apps]\n[%s]\n", name256);
	path = write_file("long.conf", text);
	config_init(&c);
	snprintf(want, sizeof(want),
		 "%s:2: unknown section [%.60s] (expected [ksmplusd], [apps], [ksmd], [metrics] or [app NAME])", path, name256);
	assert_int_equal(config_parse_file(path, &c, err, sizeof(err)), -1);
	assert_string_equal(err, want);
	config_free(&c);

	/* a known header made long by its comment is still that header, and a
	 * long header without ']' a syntax error, as short ones are */
	snprintf(text, sizeof(text), "[apps]\n[ksmd] ; %s\nrun = 1\n", name256);
	path = write_file("long.conf", text);
	config_init(&c);
	assert_int_equal(config_parse_file(path, &c, err, sizeof(err)), 0);
	assert_string_equal(knob(&c, "run")->value, "1");
	config_free(&c);
	snprintf(text, sizeof(text), "[apps]\napp = gimp\n[ksmd ; %s\n", name256);
	path = write_file("long.conf", text);
	config_init(&c);
	snprintf(want, sizeof(want), "%s:3: syntax error (expected [section] or key = value)", path);
	assert_int_equal(config_parse_file(path, &c, err, sizeof(err)), -1);
	assert_string_equal(err, want);
	config_free(&c);

	/* "exclude = ;comment" is an empty value to inih, long or short */
	snprintf(text, sizeof(text), "[apps]\nexclude = ;%s\n", name256);
	path = write_file("long.conf", text);
	config_init(&c);
	assert_int_equal(config_parse_file(path, &c, err, sizeof(err)), 0);
	assert_int_equal(c.excludes.n, 0);
	config_free(&c);

	/* inih skips one BOM, long line or not */
	snprintf(text, sizeof(text), "\xEF\xBB\xBF\xEF\xBB\xBFx = y ; %s\n", name256);
	path = write_file("long.conf", text);
	config_init(&c);
	snprintf(want, sizeof(want), "%s:1: '\xEF\xBB\xBFx' outside any section (start with "
		 "[ksmplusd], [apps] or [ksmd])", path);
	assert_int_equal(config_parse_file(path, &c, err, sizeof(err)), -1);
	assert_string_equal(err, want);
	config_free(&c);

	/* an indented long line with no key before it is a key line, as for inih */
	snprintf(text, sizeof(text), "[apps]\n    app = %s\n", name255);
	path = write_file("long.conf", text);
	config_init(&c);
	assert_int_equal(config_parse_file(path, &c, err, sizeof(err)), 0);
	ASSERT_LIST(&c.apps, name255);
	config_free(&c);

	/* a long line without a key is still no continuation line */
	snprintf(text, sizeof(text), "[ksmd]\nrun = 1\n= %s\n", name256);
	path = write_file("long.conf", text);
	config_init(&c);
	snprintf(want, sizeof(want), "%s:3: unknown key '' in [ksmd]", path);
	assert_int_equal(config_parse_file(path, &c, err, sizeof(err)), -1);
	assert_string_equal(err, want);
	config_free(&c);

	/* a long [app NAME] header: named, not "unknown section [\x1f]" */
	snprintf(text, sizeof(text), "[apps]\n[app %s]\nchildren = no\n", name255);
	path = write_file("long.conf", text);
	config_init(&c);
	snprintf(want, sizeof(want), "%s:2: [app %.44s...] is too long: options take names of at "
		 "most 44 characters", path, name255);
	assert_int_equal(config_parse_file(path, &c, err, sizeof(err)), -1);
	assert_string_equal(err, want);
	config_free(&c);
}

static void test_name_ok(void **state)
{
	char long_name[300];
	const char *why = NULL;

	(void)state;
	assert_true(config_name_ok("gimp-2.10", &why));
	assert_null(why);
	assert_true(config_name_ok("n\xc3\xa4me", NULL));   /* UTF-8 */
	assert_false(config_name_ok("", &why));
	assert_string_equal(why, "empty name");
	assert_false(config_name_ok("a b", NULL));
	assert_false(config_name_ok("a,b", NULL));
	assert_false(config_name_ok("a\tb", NULL));
	assert_false(config_name_ok("bin/gimp", NULL));
	assert_false(config_name_ok("a\x7f", NULL));
	/* what inih would read as a comment or could not carry */
	assert_false(config_name_ok(";foo", &why));
	assert_string_equal(why, "starts with ';' (a comment in the config)");
	assert_false(config_name_ok("a=b", NULL));
	/* cgroup apps: paths and globs are fine, an empty glob is not */
	assert_true(config_name_ok("cgroup:app-gnome-org.gnome.Epiphany-*.scope", NULL));
	assert_true(config_name_ok("cgroup:/user.slice/*/app.slice/app-[a-z]*.scope", NULL));
	assert_false(config_name_ok("cgroup:", NULL));
	assert_false(config_name_ok("cgroup:a b", NULL));
	memset(long_name, 'x', 255);
	long_name[255] = '\0';
	assert_true(config_name_ok(long_name, NULL));
	long_name[255] = 'x';
	long_name[256] = '\0';
	assert_false(config_name_ok(long_name, &why));
	assert_string_equal(why, "longer than 255 characters");
}

/* ---- config_load and drop-ins ------------------------------------------ */

static void test_load_dropins_in_order(void **state)
{
	char main_path[PATH_MAX], want[PATH_MAX + 16], err[1024] = "";
	struct config c;
	const struct ksmd_setting *k;

	(void)state;
	snprintf(main_path, sizeof(main_path), "%s", write_file("k.conf",
		"[apps]\napp = main\n[ksmd]\npages_to_scan = 1\nrun = 1\n"));
	make_dir("k.conf.d");
	write_file("k.conf.d/20-b.conf", "[apps]\napp = b\n[ksmd]\n\npages_to_scan = 20\n");
	write_file("k.conf.d/10-a.conf", "[apps]\napp = a\nexclude = ex-a\n[ksmd]\npages_to_scan = 10\n");
	write_file("k.conf.d/Z.conf", "[apps]\napp = Z\n");   /* strcmp: "20-b" < "Z" < "a" */
	write_file("k.conf.d/a.conf", "[apps]\napp = lower-a\nexclude = ex-lower\n");
	/* none of these may be read: each would fail the load */
	write_file("k.conf.d/.hidden.conf", "garbage\n");
	write_file("k.conf.d/notes.txt", "garbage\n");
	write_file("k.conf.d/30-c.conf~", "garbage\n");
	write_file("k.conf.d/30-c.conf.bak", "garbage\n");
	make_dir("k.conf.d/dir.conf");

	config_init(&c);
	assert_int_equal(config_load(main_path, &c, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_string_equal(c.path, main_path);
	snprintf(want, sizeof(want), "%s.d", main_path);
	assert_string_equal(c.dropin_dir, want);
	ASSERT_LIST(&c.apps, "main", "a", "b", "Z", "lower-a");
	ASSERT_LIST(&c.excludes, "ex-a", "ex-lower");
	k = knob(&c, "pages_to_scan");
	assert_non_null(k);
	assert_string_equal(k->value, "20");
	snprintf(want, sizeof(want), "%s/k.conf.d/20-b.conf", dir);
	assert_string_equal(k->file, want);
	assert_int_equal(k->line, 5);
	assert_string_equal(knob(&c, "run")->file, main_path);
	config_free(&c);
}

static void test_load_no_dropin_dir(void **state)
{
	const char *path = write_file("solo.conf", "[apps]\napp = solo\n");
	char err[512] = "";
	struct config c;

	(void)state;
	config_init(&c);
	assert_int_equal(config_load(path, &c, err, sizeof(err)), 0);
	ASSERT_LIST(&c.apps, "solo");
	ASSERT_LIST(&c.excludes, "mysqld", "mariadbd");
	config_free(&c);
}

static void test_load_dropin_error(void **state)
{
	char main_path[PATH_MAX], want[PATH_MAX + 128], err[1024];
	struct config c;

	(void)state;
	snprintf(main_path, sizeof(main_path), "%s", write_file("e.conf", "[apps]\napp = x\n"));
	make_dir("e.conf.d");
	write_file("e.conf.d/10-ok.conf", "[apps]\napp = y\n");
	write_file("e.conf.d/50-bad.conf", "[apps]\napp = y\n\n[ksmd]\nbogus = 1\n");
	config_init(&c);
	assert_int_equal(config_load(main_path, &c, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s/e.conf.d/50-bad.conf:5: unknown key 'bogus' in [ksmd]", dir);
	assert_string_equal(err, want);
	config_free(&c);
}

/* A drop-in "directory" that is a file is an error that names it, not an
 * empty directory. */
static void test_load_dropin_dir_not_a_dir(void **state)
{
	char main_path[PATH_MAX], want[PATH_MAX + 128], err[PATH_MAX + 128];
	struct config c;

	(void)state;
	snprintf(main_path, sizeof(main_path), "%s", write_file("f.conf", "[apps]\napp = x\n"));
	write_file("f.conf.d", "[apps]\napp = y\n");
	config_init(&c);
	assert_int_equal(config_load(main_path, &c, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s/f.conf.d: cannot open: %s", dir, strerror(ENOTDIR));
	assert_string_equal(err, want);
	config_free(&c);
}

/* Paths past PATH_MAX are refused with their name, never cut short. */
static void test_paths_too_long(void **state)
{
	char path[PATH_MAX + 16], err[2 * PATH_MAX], want[2 * PATH_MAX];
	struct strlist names = { 0 };
	struct config c;

	(void)state;
	memset(path, 'a', PATH_MAX - 2);
	path[0] = '/';
	path[PATH_MAX - 2] = '\0';             /* fits; its ".d" does not */
	snprintf(want, sizeof(want), "%s: path too long", path);
	config_init(&c);
	assert_int_equal(config_load(path, &c, err, sizeof(err)), -1);
	assert_string_equal(err, want);
	config_free(&c);
	assert_int_equal(config_write_ctl_dropin(path, &names, err, sizeof(err)), -1);
	assert_string_equal(err, want);
	assert_int_equal(config_read_ctl_dropin(path, &names, err, sizeof(err)), -1);
	assert_string_equal(err, want);
}

/* ---- the ksmplusctl drop-in -------------------------------------------- */

static void test_ctl_dropin_roundtrip(void **state)
{
	char d[PATH_MAX], file[PATH_MAX + 32], main_path[PATH_MAX], err[512] = "";
	char long_name[256];
	struct strlist names = { 0 }, back = { 0 };
	struct config c;
	struct stat sb;
	const char *text;

	(void)state;
	memset(long_name, 'L', 255);
	long_name[255] = '\0';
	snprintf(main_path, sizeof(main_path), "%s", write_file("r.conf", "[apps]\napp = base\n"));
	snprintf(d, sizeof(d), "%s/r.conf.d", dir);
	snprintf(file, sizeof(file), "%s/%s", d, CONFIG_CTL_DROPIN);

	/* absent drop-in (and absent dir): empty list, no error */
	assert_int_equal(strlist_add(&back, "stale"), 0);
	assert_int_equal(config_read_ctl_dropin(d, &back, err, sizeof(err)), 0);
	assert_int_equal(back.n, 0);

	assert_int_equal(strlist_add(&names, "gimp"), 0);
	assert_int_equal(strlist_add(&names, "evince"), 0);
	assert_int_equal(strlist_add(&names, long_name), 0);
	umask(077);     /* modes must not depend on the caller's umask */
	assert_int_equal(config_write_ctl_dropin(d, &names, err, sizeof(err)), 0);
	umask(022);
	assert_int_equal(stat(d, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0755);
	assert_int_equal(stat(file, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0644);
	text = read_text(file);
	assert_true(strncmp(text, "# Managed by ksmplusctl; edits are overwritten.\n", 48) == 0);
	assert_non_null(strstr(text, "\n[apps]\napp = gimp\napp = evince\napp = LLL"));

	assert_int_equal(config_read_ctl_dropin(d, &back, err, sizeof(err)), 0);
	ASSERT_LIST(&back, "gimp", "evince", long_name);

	/* the daemon's loader sees the same apps after the main file's */
	config_init(&c);
	assert_int_equal(config_load(main_path, &c, err, sizeof(err)), 0);
	ASSERT_LIST(&c.apps, "base", "gimp", "evince", long_name);
	config_free(&c);

	/* overwrite with fewer names; no temp files are left behind */
	assert_true(strlist_remove(&names, "gimp"));
	assert_int_equal(config_write_ctl_dropin(d, &names, err, sizeof(err)), 0);
	assert_int_equal(config_read_ctl_dropin(d, &back, err, sizeof(err)), 0);
	ASSERT_LIST(&back, "evince", long_name);
	strlist_clear(&names);
	assert_int_equal(config_write_ctl_dropin(d, &names, err, sizeof(err)), 0);
	assert_int_equal(config_read_ctl_dropin(d, &back, err, sizeof(err)), 0);
	assert_int_equal(back.n, 0);
	{
		char cmd[PATH_MAX + 64];

		snprintf(cmd, sizeof(cmd), "test $(ls -A '%s' | wc -l) -eq 1", d);
		assert_int_equal(system(cmd), 0);
	}

	/* an invalid name is refused and the file is left as it was */
	assert_int_equal(strlist_add(&names, "ok"), 0);
	assert_int_equal(strlist_add(&names, "bad name"), 0);
	assert_int_equal(config_write_ctl_dropin(d, &names, err, sizeof(err)), -1);
	assert_string_equal(err, "invalid app name 'bad name': contains a separator (',' or whitespace)");
	assert_int_equal(config_read_ctl_dropin(d, &back, err, sizeof(err)), 0);
	assert_int_equal(back.n, 0);

	/* a hand-broken drop-in is reported with file:line */
	{
		char want[PATH_MAX + 128];

		write_file("r.conf.d/" CONFIG_CTL_DROPIN, "[apps]\napp = a\nfoo = b\n");
		assert_int_equal(strlist_add(&back, "stale"), 0);
		assert_int_equal(config_read_ctl_dropin(d, &back, err, sizeof(err)), -1);
		snprintf(want, sizeof(want), "%s:3: unknown key 'foo' in [apps]", file);
		assert_string_equal(err, want);
		assert_int_equal(back.n, 0);
	}
	strlist_clear(&names);
	strlist_clear(&back);
}

static void test_ctl_dropin_unwritable(void **state)
{
	char d[PATH_MAX], err[PATH_MAX + 64], want[PATH_MAX + 64];
	struct strlist names = { 0 };

	(void)state;
	/* the parent does not exist: only one level is created */
	snprintf(d, sizeof(d), "%s/no/such", dir);
	snprintf(want, sizeof(want), "%s: cannot create: %s", d, strerror(ENOENT));
	assert_int_equal(config_write_ctl_dropin(d, &names, err, sizeof(err)), -1);
	assert_string_equal(err, want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_metrics_section),
		cmocka_unit_test(test_backend_names),
		cmocka_unit_test(test_name_ok),
		cmocka_unit_test_setup_teardown(test_good_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cross_user_and_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_knob_last_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exclude_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_multiline_and_comments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cannot_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_app_option_longest_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_dropins_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_no_dropin_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_dropin_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_dropin_dir_not_a_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_paths_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ctl_dropin_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ctl_dropin_unwritable, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
