/* control.c — the daemon's control socket (server, on sd-event) and the
 * blocking client calls ksmplusctl uses. See control.h and protocol.h.
 *
 * Server: each connection carries one request line and gets one reply
 * message, then is closed. Every socket is non-blocking and every wait is an
 * sd-event source, so no client can stall the daemon: the request is capped
 * at PROTO_LINE_MAX bytes, a client making no progress for the timeout is
 * dropped, and at most CONTROL_MAX_CLIENTS are served at once. */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CONTROL_BACKLOG 64
#define CONTROL_REPLY_MAX_RECORDS 200000
#define EMFILE_RETRY_USEC (500ULL * 1000ULL)

struct client {
	struct control *ctl;
	struct client *prev, *next;
	int fd;
	uid_t uid;
	sd_event_source *io, *timer;
	bool writing;
	size_t inlen;
	char in[PROTO_LINE_MAX];
	struct proto_msg out;
	size_t outpos;
};

struct control {
	sd_event *ev;
	int fd;
	sd_event_source *accept_src, *retry_src;
	control_handler handler;
	void *userdata;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;
	ino_t ino;
	struct client *clients;
	unsigned n_clients;
	uint64_t timeout_usec;
};

static const char *const known_ops[] = { "add", "remove", "list", "status", "reload",
					 "unmerge", "resume" };

bool control_op_known(const char *op)
{
	for (size_t i = 0; i < sizeof(known_ops) / sizeof(known_ops[0]); i++)
		if (strcmp(op, known_ops[i]) == 0)
			return true;
	return false;
}

bool control_op_needs_root(const char *op)
{
	return strcmp(op, "add") == 0 || strcmp(op, "remove") == 0 ||
	       strcmp(op, "reload") == 0 || strcmp(op, "unmerge") == 0 || strcmp(op, "resume") == 0;
}

/* ---- server: clients ---- */

static void client_free(struct client *cl)
{
	struct control *c = cl->ctl;
	sd_event_source_disable_unref(cl->io);
	sd_event_source_disable_unref(cl->timer);
	if (cl->fd >= 0)
		close(cl->fd);
	proto_msg_free(&cl->out);
	if (cl->prev)
		cl->prev->next = cl->next;
	else
		c->clients = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	c->n_clients--;
	free(cl);
}

static void touch(struct client *cl)
{
	sd_event_source_set_time_relative(cl->timer, cl->ctl->timeout_usec);
}

/* Builds "ok=0 error=MSG" + end line into m (replacing what was there). */
static void __attribute__((format(printf, 2, 3)))
error_msg(struct proto_msg *m, const char *fmt, ...)
{
	char text[PROTO_VALUE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	struct proto_record r;
	proto_record_init(&r);
	proto_set(&r, "ok", "0");
	proto_set(&r, "error", "%s", text);
	m->len = 0;
	proto_msg_append(m, &r);
}

/* Writes as much of the reply as the socket takes; frees the client when
 * done or on error. */
static void flush(struct client *cl)
{
	while (cl->outpos < cl->out.len) {
		ssize_t n = send(cl->fd, cl->out.buf + cl->outpos, cl->out.len - cl->outpos,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				sd_event_source_set_io_events(cl->io, EPOLLOUT);
				return;
			}
			break;          /* client went away: nothing more to do */
		}
		cl->outpos += (size_t)n;
		touch(cl);
	}
	client_free(cl);
}

/* True if m already ends with the end-of-message empty line. */
static bool msg_ended(const struct proto_msg *m)
{
	return (m->len == 1 && m->buf[0] == '\n') ||
	       (m->len >= 2 && m->buf[m->len - 1] == '\n' && m->buf[m->len - 2] == '\n');
}

static void send_reply(struct client *cl)
{
	cl->writing = true;
	if (cl->out.len == 1 && msg_ended(&cl->out))
		cl->out.len = 0;        /* only an end line: as empty */
	if (cl->out.len == 0)
		error_msg(&cl->out, "internal error: empty reply");
	if (!msg_ended(&cl->out) && proto_msg_end(&cl->out) < 0) {
		client_free(cl);
		return;
	}
	sd_event_source_set_io_events(cl->io, EPOLLOUT);
	flush(cl);
}

static void handle_request(struct client *cl, const char *line, size_t len)
{
	struct control *c = cl->ctl;
	struct proto_record req;
	int err = proto_decode(line, len, &req);
	const char *op = err ? NULL : proto_get(&req, "op");
	if (err)
		error_msg(&cl->out, "malformed request: %s", proto_strerror(err));
	else if (!op)
		error_msg(&cl->out, "malformed request: no op= field");
	else if (!control_op_known(op))
		error_msg(&cl->out, "unknown op '%.64s'", op);
	else if (control_op_needs_root(op) && cl->uid != 0)
		error_msg(&cl->out, "permission denied: %s needs root (you are uid %ld)", op,
			  cl->uid == (uid_t)-1 ? -1L : (long)cl->uid);
	else
		c->handler(&req, cl->uid, &cl->out, c->userdata);
	send_reply(cl);
}

static int on_client_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct client *cl = userdata;
	(void)s;
	if (cl->writing) {
		if (revents & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			flush(cl);
		return 0;
	}
	for (;;) {
		ssize_t n = read(fd, cl->in + cl->inlen, sizeof(cl->in) - cl->inlen);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				client_free(cl);
			return 0;
		}
		if (n == 0) {
			if (cl->inlen == 0) {
				client_free(cl);        /* connected and left: a probe */
				return 0;
			}
			error_msg(&cl->out, "malformed request: not terminated by a newline");
			send_reply(cl);
			return 0;
		}
		char *nl = memchr(cl->in + cl->inlen, '\n', (size_t)n);
		cl->inlen += (size_t)n;
		if (nl) {
			handle_request(cl, cl->in, (size_t)(nl - cl->in) + 1);
			return 0;
		}
		if (cl->inlen == sizeof(cl->in)) {
			error_msg(&cl->out, "request too long (more than %d bytes)", PROTO_LINE_MAX);
			send_reply(cl);
			return 0;
		}
		touch(cl);
	}
}

static int on_client_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct client *cl = userdata;
	(void)s;
	(void)usec;
	if (!cl->writing) {
		/* Best effort: tell the client why before hanging up. */
		struct proto_msg m = { 0 };
		error_msg(&m, "timed out waiting for the request");
		if (proto_msg_end(&m) == 0)
			(void)!send(cl->fd, m.buf, m.len, MSG_NOSIGNAL | MSG_DONTWAIT);
		proto_msg_free(&m);
	}
	client_free(cl);
	return 0;
}

static void refuse_busy(int fd)
{
	struct proto_msg m = { 0 };
	error_msg(&m, "too many clients (%d), try again", CONTROL_MAX_CLIENTS);
	if (proto_msg_end(&m) == 0)
		(void)!send(fd, m.buf, m.len, MSG_NOSIGNAL | MSG_DONTWAIT);
	proto_msg_free(&m);
	close(fd);
}

static int add_client(struct control *c, int fd)
{
	struct client *cl = calloc(1, sizeof(*cl));
	if (!cl)
		return -ENOMEM;
	cl->ctl = c;
	cl->fd = fd;
	struct ucred uc;
	socklen_t ulen = sizeof(uc);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ulen) == 0 && ulen == sizeof(uc))
		cl->uid = uc.uid;
	else
		cl->uid = (uid_t)-1;    /* unknown: treated as not root */
	int r = sd_event_add_io(c->ev, &cl->io, fd, EPOLLIN, on_client_io, cl);
	if (r >= 0)
		r = sd_event_add_time_relative(c->ev, &cl->timer, CLOCK_MONOTONIC,
					       c->timeout_usec, c->timeout_usec / 10,
					       on_client_timeout, cl);
	if (r < 0) {
		sd_event_source_disable_unref(cl->io);
		free(cl);
		return r;
	}
	cl->next = c->clients;
	if (c->clients)
		c->clients->prev = cl;
	c->clients = cl;
	c->n_clients++;
	return 0;
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct control *c = userdata;
	(void)usec;
	sd_event_source_set_enabled(s, SD_EVENT_OFF);
	sd_event_source_set_enabled(c->accept_src, SD_EVENT_ON);
	return 0;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct control *c = userdata;
	(void)revents;
	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* Out of fds: the listening socket would stay readable
				 * and spin the loop; pause accepting for a moment. */
				sd_event_source_set_enabled(s, SD_EVENT_OFF);
				if (!c->retry_src)
					sd_event_add_time_relative(c->ev, &c->retry_src,
								   CLOCK_MONOTONIC,
								   EMFILE_RETRY_USEC, 0,
								   on_retry, c);
				else {
					sd_event_source_set_time_relative(c->retry_src,
									  EMFILE_RETRY_USEC);
					sd_event_source_set_enabled(c->retry_src,
								    SD_EVENT_ONESHOT);
				}
			}
			return 0;
		}
		if (c->n_clients >= CONTROL_MAX_CLIENTS || add_client(c, cfd) < 0)
			refuse_busy(cfd);
	}
}

/* ---- server: socket set-up ---- */

static int __attribute__((format(printf, 3, 4)))
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* mkdir -p of path's parent; directories we create get mode 0755. */
static int make_parent(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(dir, 0755) == 0) {
			if (chmod(dir, 0755) < 0)
				return fail(err, errlen, "cannot chmod %s: %s", dir, strerror(errno));
		} else if (errno != EEXIST) {
			return fail(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		}
		*p = saved;
		if (saved == '\0')
			return 0;
	}
}

static int fill_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memcpy(sa->sun_path, path, strlen(path) + 1);
	return 0;
}

/* 1: a live server answers on path; 0: nobody (stale socket removed or no
 * file); -1: error (in err). */
static int probe_existing(const char *path, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return fail(err, errlen, "cannot stat %s: %s", path, strerror(errno));
	}
	if (!S_ISSOCK(st.st_mode))
		return fail(err, errlen, "%s exists and is not a socket; not touching it", path);
	int fd = control_connect(path);
	if (fd >= 0) {
		close(fd);
		return fail(err, errlen, "another ksmplusd is running on %s", path);
	}
	if (fd == -EAGAIN)          /* backlog full: alive, just busy */
		return fail(err, errlen, "another ksmplusd is running on %s", path);
	if (fd != -ECONNREFUSED && fd != -ENOENT)
		return fail(err, errlen, "cannot check %s: %s", path, strerror(-fd));
	if (unlink(path) < 0 && errno != ENOENT)
		return fail(err, errlen, "cannot remove stale socket %s: %s", path,
			    strerror(errno));
	return 0;
}

int control_open(sd_event *ev, const char *path, control_handler h, void *userdata,
		 struct control **out, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	*out = NULL;
	if (!h)
		return fail(err, errlen, "control_open: no handler");
	if (fill_addr(&sa, path) < 0)
		return fail(err, errlen, "socket path too long (max %zu bytes): %s",
			    sizeof(sa.sun_path) - 1, path);
	if (make_parent(path, err, errlen) < 0)
		return -1;
	if (probe_existing(path, err, errlen) < 0)
		return -1;

	struct control *c = calloc(1, sizeof(*c));
	if (!c)
		return fail(err, errlen, "out of memory");
	c->ev = ev;
	c->handler = h;
	c->userdata = userdata;
	c->timeout_usec = CONTROL_TIMEOUT_USEC;
	memcpy(c->path, sa.sun_path, sizeof(c->path));
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		fail(err, errlen, "socket: %s", strerror(errno));
		goto err_free;
	}
	if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fail(err, errlen, "cannot bind %s: %s", path, strerror(errno));
		goto err_close;
	}
	struct stat st;
	if (chmod(path, 0666) < 0 || stat(path, &st) < 0) {
		fail(err, errlen, "cannot set mode of %s: %s", path, strerror(errno));
		goto err_unlink;
	}
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	if (listen(c->fd, CONTROL_BACKLOG) < 0) {
		fail(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
		goto err_unlink;
	}
	int r = sd_event_add_io(ev, &c->accept_src, c->fd, EPOLLIN, on_accept, c);
	if (r < 0) {
		fail(err, errlen, "sd_event_add_io: %s", strerror(-r));
		goto err_unlink;
	}
	*out = c;
	return 0;

err_unlink:
	unlink(path);
err_close:
	close(c->fd);
err_free:
	free(c);
	return -1;
}

void control_set_timeout(struct control *c, uint64_t usec)
{
	c->timeout_usec = usec;
}

void control_close(struct control *c)
{
	if (!c)
		return;
	while (c->clients)
		client_free(c->clients);
	sd_event_source_disable_unref(c->accept_src);
	sd_event_source_disable_unref(c->retry_src);
	close(c->fd);
	/* Unlink only our own socket, not one a newer daemon put there. */
	struct stat st;
	if (stat(c->path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
		unlink(c->path);
	free(c);
}

/* ---- client ---- */

int control_connect(const char *path)
{
	struct sockaddr_un sa;
	if (fill_addr(&sa, path) < 0)
		return -ENAMETOOLONG;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

static int wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	for (;;) {
		int r = poll(&p, 1, timeout_ms);
		if (r > 0)
			return 0;
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

static int reply_add(struct control_reply *out, const char *line, size_t len)
{
	if (out->n == out->cap) {
		if (out->cap >= CONTROL_REPLY_MAX_RECORDS)
			return -EMSGSIZE;
		size_t cap = out->cap ? out->cap * 2 : 16;
		struct proto_record *nr = realloc(out->rec, cap * sizeof(*nr));
		if (!nr)
			return -ENOMEM;
		out->rec = nr;
		out->cap = cap;
	}
	if (proto_decode(line, len, &out->rec[out->n]) < 0)
		return -EPROTO;
	out->n++;
	return 0;
}

int control_call(int fd, const struct proto_record *req, int timeout_ms,
		 struct control_reply *out)
{
	char line[PROTO_LINE_MAX + 1];
	int len = proto_encode(req, line, sizeof(line));
	if (len < 0)
		return len;
	for (size_t pos = 0; pos < (size_t)len;) {
		int r = wait_fd(fd, POLLOUT, timeout_ms);
		if (r < 0)
			return r;
		ssize_t n = send(fd, line + pos, (size_t)len - pos, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			return -errno;
		}
		pos += (size_t)n;
	}

	char buf[2 * PROTO_LINE_MAX];
	size_t have = 0;
	for (;;) {
		int r = wait_fd(fd, POLLIN, timeout_ms);
		if (r < 0)
			return r;
		ssize_t n = recv(fd, buf + have, sizeof(buf) - have, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ECONNRESET;
		have += (size_t)n;
		size_t start = 0;
		char *nl;
		while ((nl = memchr(buf + start, '\n', have - start))) {
			size_t llen = (size_t)(nl - (buf + start)) + 1;
			if (llen > PROTO_LINE_MAX)
				return -EPROTO;
			if (llen == 1) {                 /* end of message */
				if (out->n == 0 || !proto_get(&out->rec[0], "ok"))
					return -EPROTO;
				return 0;
			}
			r = reply_add(out, buf + start, llen);
			if (r < 0)
				return r;
			start += llen;
		}
		memmove(buf, buf + start, have - start);
		have -= start;
		if (have >= PROTO_LINE_MAX)
			return -EPROTO;
	}
}

void control_reply_free(struct control_reply *r)
{
	free(r->rec);
	r->rec = NULL;
	r->n = r->cap = 0;
}
