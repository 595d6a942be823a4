/* ksmstat.c — a process's KSM accounting from /proc/PID/ksm_stat.
 *
 * Linux 6.18 prints:
 *   ksm_rmap_items 0
 *   ksm_zero_pages 0
 *   ksm_merging_pages 0
 *   ksm_process_profit 0
 *   ksm_merge_any: no
 *   ksm_mergeable: no
 * The file appeared in 6.1 with ksm_rmap_items only and gained the other
 * fields over later releases, so each is optional, and unknown lines are
 * skipped so that kernels yet to come do not break us. */
#include "ksmstat.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum field_kind { F_LL, F_BOOL };

struct field {
	const char *key;
	enum field_kind kind;
	size_t off;
};

static const struct field fields[] = {
	{ "ksm_rmap_items", F_LL, offsetof(struct ksm_stat, rmap_items) },
	{ "ksm_zero_pages", F_LL, offsetof(struct ksm_stat, zero_pages) },
	{ "ksm_merging_pages", F_LL, offsetof(struct ksm_stat, merging_pages) },
	{ "ksm_process_profit", F_LL, offsetof(struct ksm_stat, process_profit) },
	{ "ksm_merge_any", F_BOOL, offsetof(struct ksm_stat, merge_any) },
	{ "ksm_mergeable", F_BOOL, offsetof(struct ksm_stat, mergeable) },
};

static int parse_value(const struct field *f, const char *v, struct ksm_stat *out)
{
	void *dst = (char *)out + f->off;

	if (f->kind == F_BOOL) {
		bool b;

		if (strcmp(v, "yes") == 0)
			b = true;
		else if (strcmp(v, "no") == 0)
			b = false;
		else
			return -EINVAL;
		memcpy(dst, &b, sizeof(b));
	} else {
		char *end;
		long long n;

		errno = 0;
		n = strtoll(v, &end, 10);
		if (errno || end == v || *end != '\0')
			return -EINVAL;
		memcpy(dst, &n, sizeof(n));
	}
	return 0;
}

/* Splits "key value" or "key: value" (the kernel uses both forms). */
static int parse_line(char *line, struct ksm_stat *out)
{
	char *key = line, *val = line + strcspn(line, " \t:");
	char *end;

	if (*val == '\0')
		return 0;	/* not a key/value line: ignore */
	*val++ = '\0';
	val += strspn(val, " \t:");
	end = val + strlen(val);
	while (end > val && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strcmp(key, fields[i].key) == 0)
			return parse_value(&fields[i], val, out) < 0 ? -EINVAL : 1;
	return 0;
}

int ksmstat_parse(const char *text, struct ksm_stat *out)
{
	int known = 0;

	memset(out, 0, sizeof(*out));
	while (*text) {
		size_t len = strcspn(text, "\n");
		char line[128];
		int r = 0;

		/* Known lines are short; a longer one cannot be ours. */
		if (len < sizeof(line)) {
			memcpy(line, text, len);
			line[len] = '\0';
			r = parse_line(line, out);
		}
		if (r < 0)
			return -EINVAL;
		known += r;
		text += len + (text[len] == '\n');
	}
	return known ? 0 : -EINVAL;
}

int ksmstat_read(pid_t pid, struct ksm_stat *out)
{
	char path[64], buf[4096];
	size_t len = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/ksm_stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* The file is a few hundred bytes; loop only because read may be short. */
	while (len < sizeof(buf) - 1) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = -errno;

			close(fd);
			return err;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return ksmstat_parse(buf, out);
}

int ksmstat_read_merging(pid_t pid, long long *pages)
{
	char path[64], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/ksm_merging_pages", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	close(fd);
	buf[n] = '\0';
	return sscanf(buf, "%lld", pages) == 1 ? 0 : -EINVAL;
}
