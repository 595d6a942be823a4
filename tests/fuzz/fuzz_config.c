/* fuzz_config.c — libFuzzer harness for the config parser (daemon/config.c,
 * with inih underneath): a main file and its drop-ins, as an admin may write
 * them.
 *
 * Input: the main file's text, then each drop-in's, separated by a line
 * "%%" ("10-fuzz.conf", "20-fuzz.conf", ... in that order; at most 8).
 *
 * Checks, beyond no crash/leak/UB:
 *  - a refused config says "FILE:LINE: reason" for one of the files, with a
 *    LINE that exists in that file (the user must be able to find it);
 *  - an accepted one holds only valid names that occur in the text as
 *    written (nothing split, truncated or invented), [app NAME] options for
 *    names written that way, and settings within their documented ranges. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "fuzz_tmpdir.h"

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "fuzz_config: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
	abort(); } } while (0)

#define MAX_FILES 9
#define SEP "\n%%\n"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct segment {
	const char *p;
	size_t len;
	char path[PATH_MAX];
};

static size_t split(const uint8_t *data, size_t size, struct segment *seg)
{
	const char *p = (const char *)data, *end = p + size;
	size_t n = 0;

	for (;;) {
		const char *sep = n + 1 < MAX_FILES ? memmem(p, (size_t)(end - p), SEP, 4) : NULL;

		seg[n].p = p;
		/* The '\n' before "%%" ends the previous file's last line. */
		seg[n].len = sep ? (size_t)(sep - p) + 1 : (size_t)(end - p);
		n++;
		if (!sep)
			return n;
		p = sep + 4;
	}
}

/* Lines as getline() counts them: a last line without '\n' counts too. */
static int count_lines(const struct segment *s)
{
	int n = 0;

	for (size_t i = 0; i < s->len; i++)
		n += s->p[i] == '\n';
	return n + (s->len > 0 && s->p[s->len - 1] != '\n');
}

static void check_error(const char *err, const struct segment *seg, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t plen = strlen(seg[i].path);
		char *end;
		long line;

		if (strncmp(err, seg[i].path, plen) != 0 || err[plen] != ':')
			continue;
		if (strcmp(err + plen, ": out of memory") == 0)
			return;
		/* config.c stands LONG_TOKEN (0x1f) in for long lines' values: it
		 * must never reach the user in place of what they wrote. */
		if (strchr(err, '\x1f') && !memchr(seg[i].p, '\x1f', seg[i].len)) {
			fprintf(stderr, "fuzz_config: placeholder in the error: %s\n", err);
			abort();
		}
		line = strtol(err + plen + 1, &end, 10);
		if (end == err + plen + 1 || strncmp(end, ": ", 2) != 0 || end[2] == '\0') {
			fprintf(stderr, "fuzz_config: error without FILE:LINE: reason: %s\n", err);
			abort();
		}
		if (line < 1 || line > count_lines(&seg[i])) {
			fprintf(stderr, "fuzz_config: error names line %ld of %d: %s\n", line,
				count_lines(&seg[i]), err);
			abort();
		}
		return;
	}
	fprintf(stderr, "fuzz_config: error names none of the files: %s\n", err);
	abort();
}

static void check_names(const struct strlist *l, const uint8_t *data, size_t size)
{
	for (size_t i = 0; i < l->n; i++) {
		CHECK(config_name_ok(l->v[i], NULL));
		CHECK(memmem(data, size, l->v[i], strlen(l->v[i])) != NULL);
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(l->v[i], l->v[j]) != 0);
	}
}

/* "[app NAME]" with NAME whole: followed by ']' somewhere in the text. */
static void check_app_sections(const struct strlist *l, const uint8_t *data, size_t size)
{
	char want[CONFIG_NAME_MAX + 2];

	for (size_t i = 0; i < l->n; i++) {
		snprintf(want, sizeof(want), "%s]", l->v[i]);
		if (!memmem(data, size, want, strlen(want))) {
			fprintf(stderr, "fuzz_config: children option for '%s', "
				"which no [app ...] header names whole\n", l->v[i]);
			abort();
		}
	}
}

static void check_config(const struct config *c, const uint8_t *data, size_t size,
			 const struct segment *seg, size_t n)
{
	check_names(&c->apps, data, size);
	if (c->excludes_set)
		check_names(&c->excludes, data, size);
	else
		CHECK(c->excludes.n == 2);      /* the built-in default */
	check_names(&c->no_children, data, size);
	check_app_sections(&c->no_children, data, size);
	CHECK(c->backend == BACKEND_AUTO || c->backend == BACKEND_PMADV ||
	      c->backend == BACKEND_PTRACE);
	CHECK(c->rescan_sec >= 1 && c->rescan_sec <= 3600);
	CHECK(c->sweep_sec >= 1 && c->sweep_sec <= 3600);
	CHECK(c->profit_min_scans >= 1 && c->profit_min_scans <= 1000);
	CHECK(c->profit_min_sec >= 1 && c->profit_min_sec <= 86400);
	CHECK(c->profit_backoff_sec >= 1 && c->profit_backoff_sec <= 86400);
	CHECK(c->metrics_interval_sec >= 1 && c->metrics_interval_sec <= 3600);
	if (c->metrics_textfile[0]) {
		size_t len = strlen(c->metrics_textfile);

		CHECK(c->metrics_textfile[0] == '/' && len > 6 &&
		      strcmp(c->metrics_textfile + len - 5, ".prom") == 0);
		CHECK(memmem(data, size, c->metrics_textfile, len));     /* as written */
	}
	CHECK(c->n_knobs <= CONFIG_MAX_KNOBS);
	for (size_t k = 0; k < c->n_knobs; k++) {
		size_t f;

		CHECK(c->knobs[k].value[0] != '\0');
		for (f = 0; f < n; f++)
			if (strcmp(c->knobs[k].file, seg[f].path) == 0)
				break;
		CHECK(f < n);
		CHECK(c->knobs[k].line >= 1 && c->knobs[k].line <= count_lines(&seg[f]));
	}
}

/* Inline comments change nothing, however long (inih reads "key = ;x" as
 * an empty value, too): each line of text with " ;xxx..." appended, past
 * inih's 200-byte line buffer, into out.  That sends every line through
 * config.c's long-line path, which must read it as inih reads the short one. */
#define PAD_LEN 210
static size_t pad_lines(const char *p, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i == len || p[i] == '\n') {
			if (i == len && (len == 0 || p[len - 1] == '\n'))
				break;          /* no last line without '\n' */
			out[o++] = ' ';
			out[o++] = ';';
			memset(out + o, 'x', PAD_LEN);
			o += PAD_LEN;
		}
		if (i < len)
			out[o++] = p[i];
	}
	return o;
}

struct result {
	int rc;
	char err[1024];
	struct config c;
};

static void load(const char *main_path, struct result *r)
{
	r->err[0] = '\0';
	config_init(&r->c);
	r->rc = config_load(main_path, &r->c, r->err, sizeof(r->err));
}

static bool same_strlist(const struct strlist *a, const struct strlist *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return false;
	return true;
}

static void check_same(const struct result *a, const struct result *b)
{
	const struct config *x = &a->c, *y = &b->c;
	bool same = a->rc == b->rc && strcmp(a->err, b->err) == 0;

	/* A key too long for inih's buffer is refused as such once its line is
	 * long; no valid key is anywhere near that long, so it was an error
	 * anyway, only another one. */
	if (a->rc == -1 && b->rc == -1 && strstr(b->err, ": key '") &&
	    strstr(b->err, "...' is too long"))
		return;

	if (same && a->rc == 0) {
		same = same_strlist(&x->apps, &y->apps) && same_strlist(&x->excludes, &y->excludes) &&
		       same_strlist(&x->no_children, &y->no_children) &&
		       x->n_knobs == y->n_knobs && x->backend == y->backend &&
		       x->rescan_sec == y->rescan_sec && x->sweep_sec == y->sweep_sec &&
		       x->unmerge_on_stop == y->unmerge_on_stop &&
		       x->drop_unprofitable == y->drop_unprofitable &&
		       x->profit_min_scans == y->profit_min_scans &&
		       x->profit_min_sec == y->profit_min_sec &&
		       x->profit_backoff_sec == y->profit_backoff_sec &&
		       strcmp(x->metrics_textfile, y->metrics_textfile) == 0 &&
		       x->metrics_interval_sec == y->metrics_interval_sec;
		for (size_t k = 0; same && k < x->n_knobs; k++)
			same = strcmp(x->knobs[k].knob, y->knobs[k].knob) == 0 &&
			       strcmp(x->knobs[k].value, y->knobs[k].value) == 0 &&
			       x->knobs[k].line == y->knobs[k].line;
	}
	if (!same) {
		fprintf(stderr, "fuzz_config: a long inline comment changed the result:\n"
			"  short lines: rc %d %s (%zu apps)\n  padded:      rc %d %s (%zu apps)\n",
			a->rc, a->err, x->apps.n, b->rc, b->err, y->apps.n);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct segment seg[MAX_FILES];
	static size_t last_n;
	const char *dir = fuzz_tmpdir();
	static struct result plain, padded;
	char main_path[PATH_MAX], dropins[PATH_MAX];
	size_t n = split(data, size, seg);

	snprintf(main_path, sizeof(main_path), "%s/ksmplusd.conf", dir);
	snprintf(dropins, sizeof(dropins), "%s.d", main_path);
	(void)mkdir(dropins, 0755);
	for (size_t i = n; i < last_n; i++) {           /* last input's extra files */
		snprintf(seg[i].path, sizeof(seg[i].path), "%s/%zu0-fuzz.conf", dropins, i);
		(void)unlink(seg[i].path);
	}
	last_n = n;
	for (size_t i = 0; i < n; i++) {
		if (i == 0)
			snprintf(seg[i].path, sizeof(seg[i].path), "%s", main_path);
		else
			snprintf(seg[i].path, sizeof(seg[i].path), "%s/%zu0-fuzz.conf", dropins, i);
		fuzz_write_file(seg[i].path, seg[i].p, seg[i].len);
	}

	load(main_path, &plain);
	CHECK(plain.rc == 0 || plain.rc == -1);
	if (plain.rc < 0) {
		CHECK(plain.err[0] != '\0');
		check_error(plain.err, seg, n);
	} else {
		check_config(&plain.c, data, size, seg, n);
	}

	/* The same files with every line padded by a long comment. */
	for (size_t i = 0; i < n; i++) {
		size_t lines = (size_t)count_lines(&seg[i]);
		char *buf = malloc(seg[i].len + lines * (PAD_LEN + 2) + 1);

		CHECK(buf);
		fuzz_write_file(seg[i].path, buf, pad_lines(seg[i].p, seg[i].len, buf));
		free(buf);
	}
	load(main_path, &padded);
	check_same(&plain, &padded);
	config_free(&plain.c);
	config_free(&padded.c);
	return 0;
}
