/* test_protocol.c — the control socket's record encoding (protocol.h):
 * round-trips of awkward values, and strict refusal of malformed lines. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "protocol.h"

static int decode_str(const char *s, struct proto_record *r)
{
	return proto_decode(s, strlen(s), r);
}

static void roundtrip(const char *value)
{
	struct proto_record r, d;
	char buf[PROTO_LINE_MAX + 1];
	proto_record_init(&r);
	assert_int_equal(proto_set(&r, "k", "%s", value), 0);
	assert_int_equal(proto_set(&r, "op", "status"), 0);
	int n = proto_encode(&r, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	assert_int_equal(buf[n - 1], '\n');
	/* Exactly one newline, at the end, and the fields split by one TAB. */
	assert_ptr_equal(strchr(buf, '\n'), buf + n - 1);
	assert_int_equal(proto_decode(buf, (size_t)n, &d), 0);
	assert_int_equal(d.n, 2);
	assert_string_equal(proto_get(&d, "k"), value);
	assert_string_equal(proto_get(&d, "op"), "status");
}

static void test_roundtrip_plain(void **state)
{
	(void)state;
	roundtrip("gimp");
	roundtrip("");
	roundtrip("a=b=c");                 /* '=' in values is fine */
	roundtrip("with space and ünïcödé");
}

static void test_roundtrip_escapes(void **state)
{
	(void)state;
	roundtrip("tab\there");
	roundtrip("new\nline");
	roundtrip("back\\slash");
	roundtrip("\\t literal backslash-t");
	roundtrip("\\");
	roundtrip("\t\n\\\\\n\t");
	roundtrip("trailing\\");
}

static void test_encode_exact(void **state)
{
	(void)state;
	struct proto_record r;
	char buf[128];
	proto_record_init(&r);
	assert_int_equal(proto_set(&r, "ok", "0"), 0);
	assert_int_equal(proto_set(&r, "error", "a\tb\nc\\d"), 0);
	static const char want[] = "ok=0\terror=a\\tb\\nc\\\\d\n";
	assert_int_equal(proto_encode(&r, buf, sizeof(buf)), (int)strlen(want));
	assert_string_equal(buf, want);
}

static void test_encode_limits(void **state)
{
	(void)state;
	struct proto_record r;
	char buf[PROTO_LINE_MAX * 2];
	proto_record_init(&r);
	assert_int_equal(proto_encode(&r, buf, sizeof(buf)), -EINVAL);    /* empty */
	assert_int_equal(proto_set(&r, "op", "status"), 0);
	assert_int_equal(proto_encode(&r, buf, 11), 10);    /* "op=status\n" + NUL */
	assert_int_equal(proto_encode(&r, buf, 10), -ENOSPC);
	assert_int_equal(proto_encode(&r, buf, 0), -ENOSPC);

	/* 24 values of 255 backslashes escape to ~12 KiB: over the line cap. */
	char big[PROTO_VALUE_MAX];
	memset(big, '\\', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	proto_record_init(&r);
	for (int i = 0; i < PROTO_MAX_FIELDS; i++) {
		char key[8];
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(proto_set(&r, key, "%s", big), 0);
	}
	assert_int_equal(proto_encode(&r, buf, sizeof(buf)), -EMSGSIZE);
}

static void test_set_get(void **state)
{
	(void)state;
	struct proto_record r;
	proto_record_init(&r);
	assert_null(proto_get(&r, "op"));
	assert_int_equal(proto_set(&r, "pid", "%d", 42), 0);
	assert_int_equal(proto_set(&r, "pid", "%d", 43), 0);      /* replaces */
	assert_int_equal(r.n, 1);
	assert_string_equal(proto_get(&r, "pid"), "43");
	assert_null(proto_get(&r, "pi"));
	assert_null(proto_get(&r, "pidx"));

	assert_int_equal(proto_set(&r, "", "x"), -EINVAL);
	assert_int_equal(proto_set(&r, "a=b", "x"), -EINVAL);
	assert_int_equal(proto_set(&r, "a\tb", "x"), -EINVAL);
	assert_int_equal(proto_set(&r, "a b", "x"), -EINVAL);
	assert_int_equal(proto_set(&r, "0123456789012345678901234567890", "x"), 0); /* 31 */
	assert_int_equal(proto_set(&r, "01234567890123456789012345678901", "x"), /* 32 */
			 -ENAMETOOLONG);

	char v[PROTO_VALUE_MAX + 1];
	memset(v, 'v', sizeof(v) - 1);
	v[sizeof(v) - 1] = '\0';
	assert_int_equal(proto_set(&r, "v", "%s", v), -ENAMETOOLONG);      /* 256 */
	v[PROTO_VALUE_MAX - 1] = '\0';
	assert_int_equal(proto_set(&r, "v", "%s", v), 0);                  /* 255 */

	proto_record_init(&r);
	for (int i = 0; i < PROTO_MAX_FIELDS; i++) {
		char key[8];
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(proto_set(&r, key, "%d", i), 0);
	}
	assert_int_equal(proto_set(&r, "one_more", "x"), -E2BIG);
	assert_int_equal(proto_set(&r, "k3", "replaced"), 0);     /* replacing still ok */
	assert_string_equal(proto_get(&r, "k3"), "replaced");
}

static void test_decode_ok(void **state)
{
	(void)state;
	struct proto_record r;
	assert_int_equal(decode_str("op=add\tname=gimp\truntime=1\n", &r), 0);
	assert_int_equal(r.n, 3);
	assert_string_equal(r.f[0].key, "op");
	assert_string_equal(r.f[1].value, "gimp");
	assert_string_equal(proto_get(&r, "runtime"), "1");
	/* Without the newline, and with an empty value. */
	assert_int_equal(decode_str("error=", &r), 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(proto_get(&r, "error"), "");
	/* An empty line is the end of a message. */
	assert_int_equal(decode_str("\n", &r), 0);
	assert_int_equal(r.n, 0);
	assert_int_equal(decode_str("", &r), 0);
	assert_int_equal(r.n, 0);
	/* Escapes. */
	assert_int_equal(decode_str("r=a\\tb\\nc\\\\", &r), 0);
	assert_string_equal(proto_get(&r, "r"), "a\tb\nc\\");
}

static void test_decode_malformed(void **state)
{
	(void)state;
	struct proto_record r;
	static const char *const bad[] = {
		"op",                   /* missing '=' */
		"op=add\tname",         /* second field missing '=' */
		"=value",               /* empty key */
		"op=add\t\tname=x",     /* empty field */
		"op=add\t",             /* trailing TAB */
		"\top=add",             /* leading TAB */
		"o p=add",              /* bad key char */
		"op=add\top=remove",    /* duplicate key */
		"v=a\\x",               /* unknown escape */
		"v=a\\",                /* lone trailing backslash */
		"v=a\nb=c",             /* raw newline inside */
		"\n\n",                 /* two newlines */
		"op=add\r",             /* CR is not allowed in keys... */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r.n = 99;
		int err = decode_str(bad[i], &r);
		if (i == sizeof(bad) / sizeof(bad[0]) - 1) {
			/* ...but it is an ordinary byte in a value. */
			assert_int_equal(err, 0);
			assert_string_equal(proto_get(&r, "op"), "add\r");
			continue;
		}
		if (err != -EINVAL)
			fail_msg("line %zu (%s): got %d, want -EINVAL", i, bad[i], err);
		assert_int_equal(r.n, 0);
	}
	/* A NUL byte inside the given length. */
	assert_int_equal(proto_decode("v=a\0b", 5, &r), -EINVAL);
}

static void test_decode_limits(void **state)
{
	(void)state;
	struct proto_record r;
	char line[PROTO_LINE_MAX * 2];

	/* Key of 31 chars ok, 32 too long. */
	assert_int_equal(decode_str("0123456789012345678901234567890=x", &r), 0);
	assert_int_equal(decode_str("01234567890123456789012345678901=x", &r), -ENAMETOOLONG);

	/* Value of 255 bytes ok, 256 too long; escapes count once decoded. */
	strcpy(line, "v=");
	memset(line + 2, 'a', PROTO_VALUE_MAX - 1);
	line[2 + PROTO_VALUE_MAX - 1] = '\0';
	assert_int_equal(decode_str(line, &r), 0);
	assert_int_equal(strlen(proto_get(&r, "v")), PROTO_VALUE_MAX - 1);
	strcat(line, "a");
	assert_int_equal(decode_str(line, &r), -ENAMETOOLONG);
	strcpy(line, "v=");
	for (int i = 0; i < PROTO_VALUE_MAX - 1; i++)
		strcat(line, "\\n");
	assert_int_equal(decode_str(line, &r), 0);
	strcat(line, "\\n");
	assert_int_equal(decode_str(line, &r), -ENAMETOOLONG);

	/* PROTO_MAX_FIELDS fields ok, one more is too many. */
	line[0] = '\0';
	for (int i = 0; i < PROTO_MAX_FIELDS; i++) {
		char f[16];
		snprintf(f, sizeof(f), "%sk%d=%d", i ? "\t" : "", i, i);
		strcat(line, f);
	}
	assert_int_equal(decode_str(line, &r), 0);
	assert_int_equal(r.n, PROTO_MAX_FIELDS);
	strcat(line, "\textra=1");
	assert_int_equal(decode_str(line, &r), -E2BIG);
	assert_int_equal(r.n, 0);

	/* Lines: PROTO_LINE_MAX with newline ok as far as length goes. */
	memset(line, 'x', sizeof(line));
	line[0] = 'v';
	line[1] = '=';
	line[PROTO_LINE_MAX] = '\n';
	assert_int_equal(proto_decode(line, PROTO_LINE_MAX + 1, &r), -EMSGSIZE);
	/* A valid record exactly PROTO_LINE_MAX long with its '\n' (15 values of
	 * 255 escaped backslashes and a shorter one) is fine; the same bytes with
	 * the '\n' turned into a value byte are one over, whether or not the
	 * caller passes a '\n' (found by tests/fuzz/fuzz_protocol). */
	line[0] = '\0';
	for (int i = 0; i < 15; i++) {
		sprintf(line + strlen(line), "%sk%02d=", i ? "\t" : "", i);
		for (int j = 0; j < PROTO_VALUE_MAX - 1; j++)
			strcat(line, "\\\\");
	}
	strcat(line, "\tz=");
	while (strlen(line) + 2 <= PROTO_LINE_MAX - 1)
		strcat(line, "\\\\");
	strcat(line, "\n");
	assert_int_equal(strlen(line), PROTO_LINE_MAX);
	assert_int_equal(proto_decode(line, PROTO_LINE_MAX, &r), 0);
	assert_int_equal(r.n, 16);
	line[PROTO_LINE_MAX - 1] = 'y';
	assert_int_equal(proto_decode(line, PROTO_LINE_MAX, &r), -EMSGSIZE);
	assert_int_equal(r.n, 0);

	assert_string_equal(proto_strerror(-E2BIG), "too many fields");
	assert_non_null(proto_strerror(-12345));
}

static void test_msg(void **state)
{
	(void)state;
	struct proto_msg m = { 0 };
	struct proto_record r;
	for (int i = 0; i < 1000; i++) {
		proto_record_init(&r);
		assert_int_equal(proto_set(&r, "type", "proc"), 0);
		assert_int_equal(proto_set(&r, "pid", "%d", i), 0);
		assert_int_equal(proto_msg_append(&m, &r), 0);
	}
	proto_record_init(&r);
	assert_int_equal(proto_msg_append(&m, &r), -EINVAL);
	assert_int_equal(proto_msg_end(&m), 0);
	assert_true(m.len > 2);
	assert_int_equal(m.buf[m.len - 1], '\n');
	assert_int_equal(m.buf[m.len - 2], '\n');

	/* Walk it back line by line. */
	size_t pos = 0;
	int i = 0;
	for (;;) {
		char *nl = memchr(m.buf + pos, '\n', m.len - pos);
		assert_non_null(nl);
		size_t len = (size_t)(nl - (m.buf + pos)) + 1;
		assert_int_equal(proto_decode(m.buf + pos, len, &r), 0);
		pos += len;
		if (r.n == 0)
			break;
		char want[16];
		snprintf(want, sizeof(want), "%d", i++);
		assert_string_equal(proto_get(&r, "pid"), want);
	}
	assert_int_equal(i, 1000);
	assert_int_equal(pos, m.len);
	proto_msg_free(&m);
	assert_null(m.buf);
	proto_msg_free(&m);             /* twice is fine */
}

/* Every byte value but NUL survives encode + decode. */
static void test_roundtrip_all_bytes(void **state)
{
	(void)state;
	char v[PROTO_VALUE_MAX];
	for (int start = 1; start < 256; start += 128) {
		size_t n = 0;
		for (int b = start; b < 256 && n + 1 < sizeof(v); b++)
			v[n++] = (char)b;
		v[n] = '\0';
		roundtrip(v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_plain),
		cmocka_unit_test(test_roundtrip_escapes),
		cmocka_unit_test(test_roundtrip_all_bytes),
		cmocka_unit_test(test_encode_exact),
		cmocka_unit_test(test_encode_limits),
		cmocka_unit_test(test_set_get),
		cmocka_unit_test(test_decode_ok),
		cmocka_unit_test(test_decode_malformed),
		cmocka_unit_test(test_decode_limits),
		cmocka_unit_test(test_msg),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
