/* fuzz_protocol.c — libFuzzer harness for the control-protocol decoder
 * (daemon/protocol.c), the daemon's first contact with any local client.
 *
 * Besides "no crash, no leak, no undefined behaviour", it checks what
 * protocol.h promises, so a wrong answer fails as loudly as a crash:
 *  - a refused line leaves an empty record and a known error code;
 *  - an accepted line has valid, unique keys, and encoding the record gives
 *    back exactly that line (escapes are canonical, so decode and encode are
 *    inverses) within PROTO_LINE_MAX;
 *  - any key/value proto_set() accepts survives encode -> decode unchanged. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"

/* abort(), not assert(): the check must hold in every build. */
#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "fuzz_protocol: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
	abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int known_error(int err)
{
	return err == -EINVAL || err == -ENAMETOOLONG || err == -E2BIG || err == -EMSGSIZE;
}

static void check_key_ok(const char *key)
{
	size_t len = strlen(key);

	CHECK(len > 0 && len < PROTO_KEY_MAX);
	CHECK(strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == len);
}

/* The input as a line read off the socket. */
static void decode_line(const uint8_t *data, size_t size)
{
	static struct proto_record r;
	static char out[PROTO_LINE_MAX + 2];
	/* An exact-size copy, so ASan sees any read past len. */
	char *line = malloc(size ? size : 1);
	size_t body = size;
	int err, n;

	CHECK(line);
	memcpy(line, data, size);
	err = proto_decode(line, size, &r);
	if (err) {
		CHECK(known_error(err));
		CHECK(r.n == 0);
		CHECK(strcmp(proto_strerror(err), "invalid record") != 0);
		free(line);
		return;
	}
	if (body > 0 && line[body - 1] == '\n')
		body--;
	CHECK(body + 1 <= PROTO_LINE_MAX);      /* the line with its '\n' */
	if (r.n == 0) {
		CHECK(body == 0);
		free(line);
		return;
	}
	CHECK(r.n <= PROTO_MAX_FIELDS);
	for (size_t i = 0; i < r.n; i++) {
		check_key_ok(r.f[i].key);
		CHECK(proto_get(&r, r.f[i].key) == r.f[i].value);
		CHECK(strlen(r.f[i].value) < PROTO_VALUE_MAX);
	}
	n = proto_encode(&r, out, sizeof(out));
	CHECK(n > 0);
	CHECK((size_t)n == body + 1);
	CHECK(memcmp(out, line, body) == 0 && out[body] == '\n' && out[body + 1] == '\0');

	struct proto_msg m = { 0 };
	CHECK(proto_msg_append(&m, &r) == 0 && proto_msg_end(&m) == 0);
	CHECK(m.len == body + 2 && memcmp(m.buf, out, body + 1) == 0);
	proto_msg_free(&m);
	free(line);
}

/* The input as "key\0value": what the daemon puts into its replies. */
static void set_field(const uint8_t *data, size_t size)
{
	static struct proto_record r, d;
	static char out[PROTO_LINE_MAX + 2];
	char *s = malloc(size + 2);
	const char *key, *value;
	int err, n;

	CHECK(s);
	memcpy(s, data, size);
	s[size] = s[size + 1] = '\0';
	key = s;
	value = s + strlen(s) + (strlen(s) < size ? 1 : 0);
	proto_record_init(&r);
	err = proto_set(&r, key, "%s", value);
	if (err) {
		CHECK(err == -EINVAL || err == -ENAMETOOLONG);
		CHECK(r.n == 0);
		free(s);
		return;
	}
	check_key_ok(key);
	CHECK(strcmp(proto_get(&r, key), value) == 0);
	n = proto_encode(&r, out, sizeof(out));
	CHECK(n > 0);
	CHECK(proto_decode(out, (size_t)n, &d) == 0);
	CHECK(d.n == 1 && strcmp(d.f[0].key, key) == 0 && strcmp(d.f[0].value, value) == 0);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	decode_line(data, size);
	set_field(data, size);
	return 0;
}
