/* protocol.h — the control socket's wire format, shared by ksmplusd and
 * ksmplusctl.
 *
 * A record is one line of TAB-separated key=value fields ending in '\n'.
 * Keys are 1..PROTO_KEY_MAX-1 characters of [A-Za-z0-9_.-]; a key appears
 * at most once per record.  In values, backslash, TAB and newline are
 * escaped as \\, \t, \n (no other escapes exist); a value is at most
 * PROTO_VALUE_MAX-1 bytes once unescaped, and a whole line (with its '\n')
 * at most PROTO_LINE_MAX bytes.
 *
 * A request is exactly one record (one line); the daemon reads only that line.
 *                         op=add name=gimp [runtime=1]
 *                         op=remove name=gimp [unmerge=1] [runtime=1]
 *                         op=list | op=status | op=reload
 * A reply is a message: records, then an empty line.  The first record is
 *          ok=1    or    ok=0 error=<message>
 * then, by op (every further record has a type= field; numbers are decimal):
 *
 *   op=list:
 *     type=app name=gimp source=config|ctl|runtime
 *         source: config = ksmplusd.conf or an admin's drop-in,
 *                 ctl = the ksmplusctl drop-in (90-ksmplusctl.conf),
 *                 runtime = added with --runtime (not persisted)
 *   op=status:
 *     type=global backend=process_madvise|ptrace run=0|1 pages_sharing=N
 *                 pages_shared=N general_profit=BYTES full_scans=N connector=0|1
 *                 processes=all|own
 *         (run, pages_*, full_scans as in /sys/kernel/mm/ksm; general_profit
 *          in bytes, may be negative; connector=1: proc connector in use;
 *          processes=own: a non-root caller, to whom only the type=proc
 *          records of its own processes are sent)
 *     type=app name=gimp source=config|ctl|runtime procs=N enrolled_kib=N
 *              merging_kib=N profit_kib=N          (profit_kib may be negative)
 *     type=proc pid=N app=gimp state=enrolled|skipped|failed mode=whole|ranges
 *               enrolled_kib=N merging_kib=N profit_kib=N reason=TEXT
 *         (reason: why skipped/failed; may be empty for enrolled ones)
 *   op=analyze name=APP | pid=N [sample=N]   (root; analysis.c)
 *     starts a census: type=census id=N state=running
 *   op=analyze id=N
 *     type=census id=N state=running            (ask again), or once done:
 *     type=census id=N state=done what=app|pid name=|pid= procs=N exited=N
 *                 [exited_pids=P,P] sample=N sampled=N resident=N zero=N
 *                 repeated=N dup_within=N dup_across=N saved=N error=N
 *                 page_size=B rmap_bytes=B net_bytes=B visited=N read_bytes=B
 *                 cpu_ms=N wall_ms=N mib_s=N          (counts in pages)
 *     type=census_area kind=map|range pid=N start=0xADDR end=0xADDR pages=N
 *                 dup_pages=N                 (best first, 5 of each kind)
 *     or ok=0 error=... (no such app/PID, every process exited, ...)
 *   op=add:
 *     type=app name=gimp procs=N skipped=N   (its running processes enrolled/not)
 *   op=remove:
 *     type=app name=gimp unmerged=N pending=N
 *         (with unmerge=1: unmerged = undone now, or gone; pending = still
 *          merging, undone in the background by the retry timer, each logged
 *          when done. pending is absent from daemons older than it: read 0)
 *   op=unmerge all=1:
 *     type=unmerge unmerged=N pending=N pages_sharing=N   (pending as above)
 *   op=reload, op=resume: just the ok record.
 *
 * Consumers ignore fields they do not know, so fields may be added. */
#ifndef KSMPLUS_PROTOCOL_H
#define KSMPLUS_PROTOCOL_H
#include <stddef.h>

/* status's global record carries 23 (KSM, caps, governor): room to grow. */
#define PROTO_MAX_FIELDS 32
#define PROTO_KEY_MAX 32
#define PROTO_VALUE_MAX 256
#define PROTO_LINE_MAX 8192
#define PROTO_DEFAULT_SOCKET "/run/ksmplusd/ksmplusd.sock"

struct proto_field {
	char key[PROTO_KEY_MAX];
	char value[PROTO_VALUE_MAX];
};

struct proto_record {
	struct proto_field f[PROTO_MAX_FIELDS];
	size_t n;
};

/* A reply under construction: records appended to a growable buffer. */
struct proto_msg {
	char *buf;
	size_t len, cap;
};

void proto_record_init(struct proto_record *r);
/* Adds key=value (printf-style value); replaces the value if key is already
 * set. 0, or -E2BIG (too many fields), -ENAMETOOLONG (key or value too long),
 * -EINVAL (key empty or with a character outside [A-Za-z0-9_.-]). */
int proto_set(struct proto_record *r, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
const char *proto_get(const struct proto_record *r, const char *key);
/* Encodes r as one line (with trailing '\n', NUL-terminated) into buf.
 * Bytes written (without the NUL), or -ENOSPC (buf too small), -EMSGSIZE
 * (line longer than PROTO_LINE_MAX), -EINVAL (empty record: that would be
 * the end-of-message line). */
int proto_encode(const struct proto_record *r, char *buf, size_t len);
/* Decodes one line (without or with its '\n'). An empty line gives an empty
 * record (n == 0: the end of a message). 0, or -EINVAL (field without '=',
 * empty field, bad key, duplicate key, bad escape, NUL or raw newline inside),
 * -ENAMETOOLONG (key or value too long), -E2BIG (too many fields),
 * -EMSGSIZE (line longer than PROTO_LINE_MAX). */
int proto_decode(const char *line, size_t len, struct proto_record *r);
/* A short English text for a proto_decode() error, for error replies. */
const char *proto_strerror(int err);

/* 0, or an error of proto_encode(), or -ENOMEM. */
int proto_msg_append(struct proto_msg *m, const struct proto_record *r);
/* A reply's first record: "ok=1", or "ok=0 error=MESSAGE" (cut to a value). */
void proto_reply_ok(struct proto_msg *m);
void proto_reply_error(struct proto_msg *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int proto_msg_end(struct proto_msg *m);    /* the terminating empty line */
void proto_msg_free(struct proto_msg *m);
#endif
