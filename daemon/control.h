/* control.h — the control socket ksmplusctl talks to (AF_UNIX stream, under
 * /run/ksmplusd/). Anyone may read; changing requests need uid 0, checked
 * with SO_PEERCRED. Driven by sd-event; never blocks the daemon, and local
 * users cannot lock root out of it: requests are capped at PROTO_LINE_MAX
 * bytes and must arrive whole within CONTROL_TIMEOUT_USEC of the accept (a
 * deadline, not an idle timeout), replies must be taken within
 * CONTROL_REPLY_USEC; at most CONTROL_MAX_CLIENTS at once, of which a
 * non-root uid may hold CONTROL_MAX_PER_UID and all non-root uids together
 * all but CONTROL_ROOT_RESERVED. A connection over a cap, or past its
 * deadline, is answered "ok=0 error=REASON" and closed. */
#ifndef KSMPLUS_CONTROL_H
#define KSMPLUS_CONTROL_H
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>
#include "protocol.h"

#define CONTROL_MAX_CLIENTS 32
#define CONTROL_MAX_PER_UID 4
#define CONTROL_ROOT_RESERVED 4
#define CONTROL_TIMEOUT_USEC (2ULL * 1000000ULL)
#define CONTROL_REPLY_USEC (10ULL * 1000000ULL)

struct control;

/* Called once per well-formed request whose op is known (add, remove, list,
 * status, reload) and, for ops that need root, whose peer is uid 0. Fill
 * reply, starting with ok=1 or ok=0 error=...; the server adds the final
 * empty line unless the handler already called proto_msg_end().
 * peer_uid is the client's uid from SO_PEERCRED. The reply is sent and the
 * connection closed after the client reads it. An empty reply is sent as
 * ok=0 error="internal error". */
typedef void (*control_handler)(const struct proto_record *req, uid_t peer_uid,
				struct proto_msg *reply, void *userdata);

/* Creates the socket (and its directory, mode 0755), mode 0666. Removes a
 * stale socket left by a dead daemon, refuses if a live one answers
 * ("another ksmplusd is running on PATH") or if path is not a socket.
 * Refuses a directory that someone else could swap the socket in: every
 * directory on the way (and symlink) must belong to root (or to us), the
 * socket's own directory must not be writable by group or others, and an
 * ancestor only if sticky (/tmp). The mode is set through the umask at
 * bind, never by a chmod that could follow a symlink.
 * 0, or -1 with err set. */
int control_open(sd_event *ev, const char *path, control_handler h, void *userdata,
		 struct control **out, char *err, size_t errlen);
void control_close(struct control *c);       /* closes and unlinks; NULL ok */
/* Changes the request deadline (tests). */
void control_set_timeout(struct control *c, uint64_t usec);
/* True for ops that change state (need root). */
bool control_op_needs_root(const char *op);
/* True for the ops the server passes to the handler. */
bool control_op_known(const char *op);

/* Client side (ksmplusctl, tests). A reply: its records without the final
 * empty line; rec[0] is the ok= record. */
struct control_reply {
	struct proto_record *rec;
	size_t n, cap;
};
/* Connects to the daemon's socket. A blocking fd, or -errno. */
int control_connect(const char *path);
/* Sends req on fd and reads the whole reply into out (initially zeroed).
 * 0, or -ETIMEDOUT (no progress for timeout_ms), -ECONNRESET (closed before
 * the end of the reply), -EPROTO (malformed reply, or no ok= first), -ENOMEM,
 * or another -errno. Does not close fd. */
int control_call(int fd, const struct proto_record *req, int timeout_ms,
		 struct control_reply *out);
void control_reply_free(struct control_reply *r);
#endif
