/* control.h — the control socket ksmplusctl talks to (AF_UNIX stream, under
 * /run/ksmplusd/). Anyone may read; changing requests need uid 0, checked
 * with SO_PEERCRED. Driven by sd-event; never blocks the daemon: requests are
 * capped at PROTO_LINE_MAX bytes, clients time out (CONTROL_TIMEOUT_USEC
 * without progress), at most CONTROL_MAX_CLIENTS at once (more are answered
 * "ok=0 error=too many clients" and closed). */
#ifndef KSMPLUS_CONTROL_H
#define KSMPLUS_CONTROL_H
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>
#include "protocol.h"

#define CONTROL_MAX_CLIENTS 32
#define CONTROL_TIMEOUT_USEC (5ULL * 1000000ULL)

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
 * 0, or -1 with err set. */
int control_open(sd_event *ev, const char *path, control_handler h, void *userdata,
		 struct control **out, char *err, size_t errlen);
void control_close(struct control *c);       /* closes and unlinks; NULL ok */
/* Changes the per-client timeout (tests). */
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
