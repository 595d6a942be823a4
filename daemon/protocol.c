/* protocol.c — encode/decode of the control socket's records (protocol.h).
 * Decoding is strict: anything not exactly as specified is an error, so a
 * confused or hostile client gets a clear refusal instead of a guess. */
#include "protocol.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void proto_record_init(struct proto_record *r)
{
	r->n = 0;
}

static bool key_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

static int check_key(const char *key, size_t len)
{
	if (len == 0)
		return -EINVAL;
	if (len >= PROTO_KEY_MAX)
		return -ENAMETOOLONG;
	for (size_t i = 0; i < len; i++)
		if (!key_char_ok((unsigned char)key[i]))
			return -EINVAL;
	return 0;
}

static struct proto_field *find(const struct proto_record *r, const char *key, size_t klen)
{
	for (size_t i = 0; i < r->n; i++)
		if (strncmp(r->f[i].key, key, klen) == 0 && r->f[i].key[klen] == '\0')
			return (struct proto_field *)&r->f[i];
	return NULL;
}

int proto_set(struct proto_record *r, const char *key, const char *fmt, ...)
{
	size_t klen = strlen(key);
	int err = check_key(key, klen);
	if (err)
		return err;

	char value[PROTO_VALUE_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= sizeof(value))
		return -ENAMETOOLONG;

	struct proto_field *f = find(r, key, klen);
	if (!f) {
		if (r->n >= PROTO_MAX_FIELDS)
			return -E2BIG;
		f = &r->f[r->n++];
		memcpy(f->key, key, klen + 1);
	}
	memcpy(f->value, value, (size_t)n + 1);
	return 0;
}

const char *proto_get(const struct proto_record *r, const char *key)
{
	const struct proto_field *f = find(r, key, strlen(key));
	return f ? f->value : NULL;
}

int proto_encode(const struct proto_record *r, char *buf, size_t len)
{
	size_t pos = 0;
	bool too_small = false;
#define PUT(ch) do { if (pos + 1 < len) buf[pos] = (ch); else too_small = true; pos++; } while (0)
	if (r->n == 0)
		return -EINVAL;
	for (size_t i = 0; i < r->n; i++) {
		if (i > 0)
			PUT('\t');
		for (const char *k = r->f[i].key; *k; k++)
			PUT(*k);
		PUT('=');
		for (const char *v = r->f[i].value; *v; v++) {
			switch (*v) {
			case '\\': PUT('\\'); PUT('\\'); break;
			case '\t': PUT('\\'); PUT('t'); break;
			case '\n': PUT('\\'); PUT('n'); break;
			default: PUT(*v);
			}
		}
	}
	PUT('\n');
#undef PUT
	if (pos > PROTO_LINE_MAX)
		return -EMSGSIZE;
	if (too_small)
		return -ENOSPC;
	buf[pos] = '\0';
	return (int)pos;
}

/* Decodes one field "key=value" of len bytes (no TAB inside) into f. */
static int decode_field(const char *s, size_t len, struct proto_field *f)
{
	const char *eq = memchr(s, '=', len);
	if (!eq)
		return -EINVAL;
	size_t klen = (size_t)(eq - s);
	int err = check_key(s, klen);
	if (err)
		return err;
	memcpy(f->key, s, klen);
	f->key[klen] = '\0';

	size_t out = 0;
	for (size_t i = klen + 1; i < len; i++) {
		char c = s[i];
		if (c == '\0' || c == '\n')
			return -EINVAL;
		if (c == '\\') {
			if (++i >= len)
				return -EINVAL;         /* lone trailing backslash */
			switch (s[i]) {
			case '\\': c = '\\'; break;
			case 't': c = '\t'; break;
			case 'n': c = '\n'; break;
			default: return -EINVAL;
			}
		}
		if (out + 1 >= PROTO_VALUE_MAX)
			return -ENAMETOOLONG;
		f->value[out++] = c;
	}
	f->value[out] = '\0';
	return 0;
}

int proto_decode(const char *line, size_t len, struct proto_record *r)
{
	r->n = 0;
	if (len > PROTO_LINE_MAX)
		return -EMSGSIZE;
	if (len > 0 && line[len - 1] == '\n')
		len--;
	else if (len == PROTO_LINE_MAX)
		return -EMSGSIZE;       /* its '\n' would make it one byte too long */
	if (len == 0)
		return 0;
	size_t start = 0;
	for (;;) {
		const char *tab = memchr(line + start, '\t', len - start);
		size_t end = tab ? (size_t)(tab - line) : len;
		if (end == start)
			goto invalid;                   /* empty field */
		if (r->n >= PROTO_MAX_FIELDS) {
			r->n = 0;
			return -E2BIG;
		}
		struct proto_field *f = &r->f[r->n];
		int err = decode_field(line + start, end - start, f);
		if (err) {
			r->n = 0;
			return err;
		}
		if (find(r, f->key, strlen(f->key)))
			goto invalid;                   /* duplicate key */
		r->n++;
		if (!tab)
			return 0;
		start = end + 1;
	}
invalid:
	r->n = 0;
	return -EINVAL;
}

const char *proto_strerror(int err)
{
	switch (err) {
	case 0: return "success";
	case -EINVAL: return "malformed record (fields must be key=value separated by TAB, "
			     "keys [A-Za-z0-9_.-] and unique, escapes only \\\\ \\t \\n)";
	case -ENAMETOOLONG: return "key or value too long";
	case -E2BIG: return "too many fields";
	case -EMSGSIZE: return "line too long";
	case -ENOSPC: return "buffer too small";
	case -ENOMEM: return "out of memory";
	default: return "invalid record";
	}
}

static int msg_reserve(struct proto_msg *m, size_t extra)
{
	if (m->len + extra <= m->cap)
		return 0;
	size_t cap = m->cap ? m->cap : 4096;
	while (cap < m->len + extra)
		cap *= 2;
	char *nb = realloc(m->buf, cap);
	if (!nb)
		return -ENOMEM;
	m->buf = nb;
	m->cap = cap;
	return 0;
}

int proto_msg_append(struct proto_msg *m, const struct proto_record *r)
{
	char line[PROTO_LINE_MAX + 1];
	int n = proto_encode(r, line, sizeof(line));
	if (n < 0)
		return n;
	if (msg_reserve(m, (size_t)n) < 0)
		return -ENOMEM;
	memcpy(m->buf + m->len, line, (size_t)n);
	m->len += (size_t)n;
	return 0;
}

int proto_msg_end(struct proto_msg *m)
{
	if (msg_reserve(m, 1) < 0)
		return -ENOMEM;
	m->buf[m->len++] = '\n';
	return 0;
}

void proto_msg_free(struct proto_msg *m)
{
	free(m->buf);
	m->buf = NULL;
	m->len = m->cap = 0;
}

void proto_reply_ok(struct proto_msg *m)
{
	struct proto_record r;

	proto_record_init(&r);
	proto_set(&r, "ok", "1");
	proto_msg_append(m, &r);
}

void proto_reply_error(struct proto_msg *m, const char *fmt, ...)
{
	struct proto_record r;
	char msg[PROTO_VALUE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	proto_record_init(&r);
	proto_set(&r, "ok", "0");
	proto_set(&r, "error", "%s", msg);
	proto_msg_append(m, &r);
}
