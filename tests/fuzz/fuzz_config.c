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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct segment seg[MAX_FILES];
	static size_t last_n;
	const char *dir = fuzz_tmpdir();
	char main_path[PATH_MAX], dropins[PATH_MAX], err[1024] = "";
	struct config c;
	size_t n = split(data, size, seg);
	int r;

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

	config_init(&c);
	r = config_load(main_path, &c, err, sizeof(err));
	CHECK(r == 0 || r == -1);
	if (r < 0) {
		CHECK(err[0] != '\0');
		check_error(err, seg, n);
	} else {
		check_config(&c, data, size, seg, n);
	}
	config_free(&c);
	return 0;
}
