/* control.c — the daemon's control socket (server, on sd-event) and the
 * blocking client calls ksmplusctl uses. See control.h and protocol.h.
 *
 * Server: each connection carries one request line and gets one reply
 * message, then is closed. Every socket is non-blocking and every wait is an
 * sd-event source, so no client can stall the daemon: the request is capped
 * at PROTO_LINE_MAX bytes and must arrive whole within a deadline counted
 * from accept (a client trickling a byte at a time is cut off all the
 * same), the reply must be taken within its own deadline, and connections
 * are capped per uid and in total, with slots that only root may take, so
 * that local users cannot lock root out. */
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
#define USEC_PER_SEC 1000000ULL

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
	uint64_t timeout_usec;          /* the request's deadline, from accept */
};

static const char *const known_ops[] = { "add", "remove", "list", "status", "reload",
					 "unmerge", "resume", "metrics", "analyze" };

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
	       strcmp(op, "reload") == 0 || strcmp(op, "unmerge") == 0 || strcmp(op, "resume") == 0 ||
	       strcmp(op, "analyze") == 0;      /* reads other users' memory */
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

/* Re-arms the client's one timer usec from now. Deadlines, not idle
 * timeouts: progress never pushes them back, so trickling bytes buys nothing. */
static void arm_deadline(struct client *cl, uint64_t usec)
{
	sd_event_source_set_time_relative(cl->timer, usec);
	sd_event_source_set_enabled(cl->timer, SD_EVENT_ONESHOT);
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
	arm_deadline(cl, CONTROL_REPLY_USEC);
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
		error_msg(&m, "timed out waiting for the request (it must arrive whole within "
			  "%.3g s of connecting)", (double)cl->ctl->timeout_usec / USEC_PER_SEC);
		if (proto_msg_end(&m) == 0)
			(void)!send(cl->fd, m.buf, m.len, MSG_NOSIGNAL | MSG_DONTWAIT);
		proto_msg_free(&m);
	}
	client_free(cl);
	return 0;
}

/* Answers a connection we will not serve with the reason, one record, and
 * closes it. Best effort: the client may already be gone. */
static void refuse(int fd, const char *why)
{
	struct proto_msg m = { 0 };
	error_msg(&m, "%s", why);
	if (proto_msg_end(&m) == 0)
		(void)!send(fd, m.buf, m.len, MSG_NOSIGNAL | MSG_DONTWAIT);
	proto_msg_free(&m);
	close(fd);
}

static uid_t peer_uid(int fd)
{
	struct ucred uc;
	socklen_t ulen = sizeof(uc);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ulen) == 0 && ulen == sizeof(uc))
		return uc.uid;
	return (uid_t)-1;       /* unknown: treated as not root */
}

static unsigned clients_of(const struct control *c, uid_t uid)
{
	unsigned n = 0;
	for (const struct client *cl = c->clients; cl; cl = cl->next)
		n += cl->uid == uid;
	return n;
}

/* Whether a new connection from uid may be served; if not, why (for the
 * client). Root is capped only by the total; everyone else shares the slots
 * root does not keep, at most CONTROL_MAX_PER_UID each, so that no number
 * of local users' connections keeps root from its daemon. */
static bool admit(const struct control *c, uid_t uid, char *why, size_t len)
{
	if (c->n_clients >= CONTROL_MAX_CLIENTS) {
		snprintf(why, len, "too many clients (%d), try again", CONTROL_MAX_CLIENTS);
		return false;
	}
	if (uid == 0)
		return true;
	if (clients_of(c, uid) >= CONTROL_MAX_PER_UID) {
		snprintf(why, len, "too many connections from uid %ld (at most %d at once), "
			 "try again", uid == (uid_t)-1 ? -1L : (long)uid, CONTROL_MAX_PER_UID);
		return false;
	}
	if (c->n_clients >= CONTROL_MAX_CLIENTS - CONTROL_ROOT_RESERVED) {
		snprintf(why, len, "too many clients (%d, the other %d are kept for root), "
			 "try again", CONTROL_MAX_CLIENTS - CONTROL_ROOT_RESERVED,
			 CONTROL_ROOT_RESERVED);
		return false;
	}
	return true;
}

static int add_client(struct control *c, int fd, uid_t uid)
{
	struct client *cl = calloc(1, sizeof(*cl));
	if (!cl)
		return -ENOMEM;
	cl->ctl = c;
	cl->fd = fd;
	cl->uid = uid;
	/* The deadline runs from accept, whatever the client sends meanwhile. */
	int r = sd_event_add_io(c->ev, &cl->io, fd, EPOLLIN, on_client_io, cl);
	if (r >= 0)
		r = sd_event_add_time_relative(c->ev, &cl->timer, CLOCK_MONOTONIC,
					       c->timeout_usec, c->timeout_usec / 20,
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
				 * and spin the loop; pause accepting for a moment
				 * (the timer exists since control_open). */
				sd_event_source_set_enabled(s, SD_EVENT_OFF);
				sd_event_source_set_time_relative(c->retry_src, EMFILE_RETRY_USEC);
				sd_event_source_set_enabled(c->retry_src, SD_EVENT_ONESHOT);
			}
			return 0;
		}
		uid_t uid = peer_uid(cfd);
		char why[128];
		if (!admit(c, uid, why, sizeof(why)))
			refuse(cfd, why);
		else if (add_client(c, cfd, uid) < 0)
			refuse(cfd, "out of memory, try again");
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

/* mkdir -p of path's parent; directories we create get mode 0755 through
 * the umask (a chmod by path could follow a symlink swapped in meanwhile). */
static int make_parent(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	mode_t old = umask(022);
	int rc = 0;
	for (char *p = dir + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			rc = fail(err, errlen, "cannot create %s: %s", dir, strerror(errno));
			break;
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
	umask(old);
	return rc;
}

/* One entry on the way to the socket: only root (or we) may be able to
 * replace what follows it. last: the socket's own directory. */
static int check_entry(const char *p, bool last, const char *sock, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(p, &st) < 0)
		return fail(err, errlen, "cannot check %s (for the socket %s): %s", p, sock,
			    strerror(errno));
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return fail(err, errlen, "refusing the socket %s: %s is owned by uid %ld, not root, "
			    "who could replace the socket (use a root-owned directory such as "
			    "/run/ksmplusd)", sock, p, (long)st.st_uid);
	if (S_ISLNK(st.st_mode) || !(st.st_mode & (S_IWGRP | S_IWOTH)))
		return 0;
	if (!last && (st.st_mode & S_ISVTX))
		return 0;       /* sticky (/tmp): others cannot rename what is root's */
	return fail(err, errlen, "refusing the socket %s: %s is writable by %s (mode %04o), who "
		    "could replace the socket (use a directory only root can write, such as "
		    "/run/ksmplusd)", sock, p, (st.st_mode & S_IWOTH) ? "others" : "its group",
		    (unsigned)(st.st_mode & 07777));
}

/* Every prefix of the absolute dir ("/", "/run", "/run/ksmplusd"), checked. */
static int check_chain(const char *dir, const char *sock, char *err, size_t errlen)
{
	char p[PATH_MAX];
	size_t len = strlen(dir);
	if (len >= sizeof(p))
		return fail(err, errlen, "socket directory path too long: %s", dir);
	memcpy(p, dir, len + 1);
	if (check_entry("/", len <= 1, sock, err, errlen) < 0)
		return -1;
	for (size_t i = 1; i <= len; i++) {
		if (i < len && p[i] != '/')
			continue;
		char saved = p[i];
		p[i] = '\0';
		int r = check_entry(p, i == len, sock, err, errlen);
		p[i] = saved;
		if (r < 0)
			return r;
	}
	return 0;
}

/* The socket's directory, as given (its symlinks included) and resolved:
 * both must be beyond the reach of anyone but root. */
static int check_socket_dir(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX], given[PATH_MAX], real[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (dir[0] == '/') {
		snprintf(given, sizeof(given), "%s", dir);
	} else {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd)))
			return fail(err, errlen, "getcwd: %s", strerror(errno));
		if ((size_t)snprintf(given, sizeof(given), "%s/%s", cwd, dir) >= sizeof(given))
			return fail(err, errlen, "socket path too long: %s", path);
	}
	if (!realpath(dir, real))
		return fail(err, errlen, "cannot resolve %s (for the socket %s): %s", dir, path,
			    strerror(errno));
	if (check_chain(given, path, err, errlen) < 0)
		return -1;
	return check_chain(real, path, err, errlen);
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
	if (make_parent(path, err, errlen) < 0 || check_socket_dir(path, err, errlen) < 0)
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
	/* Mode 0666 (anyone may ask for status) from the start, through the
	 * umask: no chmod by path afterwards. */
	mode_t old = umask(0111);
	int br = bind(c->fd, (struct sockaddr *)&sa, sizeof(sa));
	int berr = errno;
	umask(old);
	if (br < 0) {
		fail(err, errlen, "cannot bind %s: %s", path, strerror(berr));
		goto err_close;
	}
	struct stat st;
	if (lstat(path, &st) < 0) {
		fail(err, errlen, "cannot stat %s: %s", path, strerror(errno));
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
	/* The out-of-fds retry timer, made now and off: made when accept fails
	 * with EMFILE, it could find no fd for sd-event's timerfd either, and
	 * accepting would stay paused for good. */
	r = sd_event_add_time_relative(ev, &c->retry_src, CLOCK_MONOTONIC, EMFILE_RETRY_USEC, 0,
				       on_retry, c);
	if (r >= 0)
		r = sd_event_source_set_enabled(c->retry_src, SD_EVENT_OFF);
	if (r < 0) {
		fail(err, errlen, "sd_event_add_time: %s", strerror(-r));
		goto err_unlink;
	}
	*out = c;
	return 0;

err_unlink:
	c->retry_src = sd_event_source_disable_unref(c->retry_src);
	c->accept_src = sd_event_source_disable_unref(c->accept_src);
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
			/* A server that refused us (too many clients) has said why
			 * and closed: its reason is still there to read. */
			if (errno == EPIPE || errno == ECONNRESET)
				break;
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
