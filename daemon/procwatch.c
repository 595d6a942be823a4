/* procwatch.c — process discovery: one libproc2 sweep at start, then the
 * netlink proc connector (exec/comm/fork/exit) so the daemon learns about new
 * processes without polling /proc. If the connector is unavailable (not
 * root, no CONFIG_PROC_EVENTS, other namespace), sweeps every sweep_sec.
 * When the connector socket overruns (ENOBUFS: events lost), a full sweep
 * replaces what was lost; PW_SEEN is idempotent for the caller.
 *
 * Test hooks (environment): KSMPLUS_NO_CONNECTOR=1 forces the fallback;
 * KSMPLUS_PW_RCVBUF=BYTES sets the socket's receive buffer (to provoke
 * overruns). */
#include "procwatch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <libproc2/pids.h>

#include "log.h"

#ifndef PF_KTHREAD
#define PF_KTHREAD 0x00200000
#endif

/* Kernel-side event filtering (Linux 6.6+): the LISTEN message may carry the
 * set of events wanted. Older uapi headers lack it; older kernels ignore a
 * message of this size. */
struct pw_proc_input {
	uint32_t mcast_op;      /* enum proc_cn_mcast_op */
	uint32_t event_type;    /* enum proc_cn_event: PROC_EVENT_* bits */
};

#define PW_WANTED_EVENTS (PROC_EVENT_FORK | PROC_EVENT_EXEC | PROC_EVENT_COMM | PROC_EVENT_EXIT)
#define PW_RCVBUF_DEFAULT (4 * 1024 * 1024)
#define PW_ACK_TIMEOUT_MS 300
#define PW_MAX_DGRAMS_PER_WAKEUP 4096
#define PW_BATCH 256
#define PW_COALESCE_USEC 25000          /* well inside the 50 ms exec->enrolled goal */

struct procwatch {
	sd_event *ev;
	procwatch_cb cb;
	void *userdata;
	unsigned sweep_sec;
	int fd;                         /* connector socket, -1 without */
	sd_event_source *io_src;
	sd_event_source *timer_src;
	sd_event_source *coalesce_src;  /* drains the socket while busy */
	struct pids_info *pids;
	pid_t kthreadd;                 /* parent of kernel threads (2), 0 if unknown */
	bool in_sweep;
	bool overrun_logged;
	uint32_t ack_cookie;
};

enum {
	IT_PID, IT_CMD, IT_BEGAN, IT_EXE, IT_FLAGS, IT_STATE, IT_PPID,
};
static enum pids_item pw_items[] = {
	[IT_PID] = PIDS_ID_PID,
	[IT_CMD] = PIDS_CMD,
	[IT_BEGAN] = PIDS_TICS_BEGAN,  /* == field 22 of /proc/PID/stat */
	[IT_EXE] = PIDS_EXE,
	[IT_FLAGS] = PIDS_FLAGS,
	[IT_STATE] = PIDS_STATE,
	[IT_PPID] = PIDS_ID_PPID,
};

/* The basename of an exe link target, " (deleted)" stripped. "" if the
 * target is not an absolute path (libproc2 gives "-" when unreadable). */
static void set_exe_base(char *dst, size_t size, const char *target)
{
	static const char deleted[] = " (deleted)";
	dst[0] = '\0';
	if (!target || target[0] != '/')
		return;
	const char *base = strrchr(target, '/') + 1;
	size_t len = strlen(base);
	if (len >= sizeof(deleted) - 1 &&
	    strcmp(base + len - (sizeof(deleted) - 1), deleted) == 0)
		len -= sizeof(deleted) - 1;
	if (len >= size)
		len = size - 1;
	memcpy(dst, base, len);
	dst[len] = '\0';
}

static void set_comm(char *dst, size_t size, const char *src, size_t len)
{
	if (len >= size)
		len = size - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* Reads /proc/PID/stat: comm, state, flags, start time. */
static int read_stat(pid_t pid, struct procwatch_info *info, char *state, unsigned long *flags)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	int err = errno;
	close(fd);
	if (n < 0)
		return err == ESRCH ? -ESRCH : -err;
	buf[n] = '\0';

	char *open_paren = strchr(buf, '(');
	char *close_paren = strrchr(buf, ')');
	if (!open_paren || !close_paren || close_paren < open_paren || close_paren[1] != ' ')
		return -EINVAL;
	set_comm(info->comm, sizeof(info->comm), open_paren + 1,
		 (size_t)(close_paren - open_paren - 1));

	/* Fields after ")": 3 state, 4 ppid, ... 9 flags, ... 22 starttime. */
	char *p = close_paren + 2;
	*state = *p;
	int field = 3;
	while (field < 22) {
		p = strchr(p, ' ');
		if (!p)
			return -EINVAL;
		p++;
		field++;
		if (field == 4)
			info->parent_pid = (pid_t)strtol(p, NULL, 10);
		if (field == 9) {
			errno = 0;
			*flags = strtoul(p, NULL, 10);
			if (errno)
				return -EINVAL;
		}
	}
	errno = 0;
	char *end;
	info->start_time = strtoull(p, &end, 10);
	if (errno || end == p)
		return -EINVAL;
	return 0;
}

/* 0 and *kthread, or -ENOENT/-ESRCH when the process is gone or a zombie. */
static int identify(pid_t pid, struct procwatch_info *info, bool *kthread)
{
	char state = '?';
	unsigned long flags = 0;

	memset(info, 0, sizeof(*info));
	info->pid = pid;
	*kthread = false;
	int r = read_stat(pid, info, &state, &flags);
	if (r < 0)
		return r;
	if (state == 'Z' || state == 'X')
		return -ESRCH;
	if (flags & PF_KTHREAD) {
		*kthread = true;
		return 0;
	}

	char path[64], target[PATH_MAX];
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	if (n < 0) {
		/* ENOENT: exited (or exiting, mm gone) since the stat read.
		 * EACCES and others: alive but unreadable: exe_base stays "". */
		if (errno == ENOENT || errno == ESRCH)
			return -errno;
		return 0;
	}
	target[n] = '\0';
	set_exe_base(info->exe_base, sizeof(info->exe_base), target);
	return 0;
}

int procwatch_identify(pid_t pid, struct procwatch_info *info)
{
	bool kthread;
	return identify(pid, info, &kthread);
}

static void report_seen(struct procwatch *w, pid_t pid)
{
	struct procwatch_info info;
	bool kthread;
	if (identify(pid, &info, &kthread) < 0 || kthread)
		return;         /* gone meanwhile, or a kernel thread */
	w->cb(PW_SEEN, &info, w->userdata);
}

/* One libproc2 reap of pids: visit for each live user process, until it
 * returns non-zero (returned). Kernel threads and zombies are left out. */
static int reap_each(struct pids_info *pids, procwatch_visit visit, void *ud)
{
	struct pids_fetch *f = procps_pids_reap(pids, PIDS_FETCH_TASKS_ONLY);
	if (!f)
		return errno ? -errno : -EIO;

	int total = f->counts->total, rc = 0;
	for (int i = 0; i < total && rc == 0; i++) {
		struct pids_stack *s = f->stacks[i];
		unsigned long flags = PIDS_VAL(IT_FLAGS, ul_int, s, pids);
		char state = PIDS_VAL(IT_STATE, s_ch, s, pids);
		if ((flags & PF_KTHREAD) || state == 'Z' || state == 'X')
			continue;

		struct procwatch_info info;
		memset(&info, 0, sizeof(info));
		info.pid = PIDS_VAL(IT_PID, s_int, s, pids);
		info.start_time = PIDS_VAL(IT_BEGAN, ull_int, s, pids);
		info.parent_pid = PIDS_VAL(IT_PPID, s_int, s, pids);
		const char *cmd = PIDS_VAL(IT_CMD, str, s, pids);
		set_comm(info.comm, sizeof(info.comm), cmd ? cmd : "", cmd ? strlen(cmd) : 0);
		set_exe_base(info.exe_base, sizeof(info.exe_base), PIDS_VAL(IT_EXE, str, s, pids));
		rc = visit(&info, ud);
	}
	return rc;
}

static int sweep_visit(const struct procwatch_info *info, void *ud)
{
	struct procwatch *w = ud;
	w->cb(PW_SEEN, info, w->userdata);
	return 0;
}

int procwatch_sweep(struct procwatch *w)
{
	if (w->in_sweep)
		return -EBUSY;
	w->in_sweep = true;
	int rc = reap_each(w->pids, sweep_visit, w);
	if (rc == 0) {
		struct procwatch_info done;
		memset(&done, 0, sizeof(done));
		w->cb(PW_SWEEP_DONE, &done, w->userdata);
	}
	w->in_sweep = false;
	return rc;
}

/* Not libproc2, though it is the sweep's: 4.0.2 keeps two 128 KiB read
 * buffers per thread (__thread) and never frees them, and the census runs
 * each job in a new thread: ~158 KiB of RSS lost per `ksmplusctl analyze`
 * (measured: 2.3 -> 18.1 MiB after 100 threads walking once). */
int procwatch_each(procwatch_visit visit, void *ud)
{
	DIR *dir = opendir("/proc");
	struct dirent *de;
	int rc = 0;

	if (!dir)
		return -errno;
	while (rc == 0 && (de = readdir(dir))) {
		struct procwatch_info info;
		bool kthread;
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0)
			continue;
		if (identify((pid_t)pid, &info, &kthread) < 0 || kthread)
			continue;       /* gone meanwhile, a zombie, or a kernel thread */
		rc = visit(&info, ud);
	}
	closedir(dir);
	return rc;
}

/* ---- netlink proc connector ---- */

static int send_listen(int fd, uint32_t cookie, const void *data, uint16_t len)
{
	union {
		struct nlmsghdr hdr;    /* for alignment */
		char buf[NLMSG_SPACE(sizeof(struct cn_msg) + sizeof(struct pw_proc_input))];
	} u;
	memset(&u, 0, sizeof(u));
	struct nlmsghdr *nlh = &u.hdr;
	nlh->nlmsg_len = NLMSG_LENGTH(sizeof(struct cn_msg) + len);
	nlh->nlmsg_type = NLMSG_DONE;
	nlh->nlmsg_pid = 0;
	struct cn_msg *cn = NLMSG_DATA(nlh);
	cn->id.idx = CN_IDX_PROC;
	cn->id.val = CN_VAL_PROC;
	cn->seq = 0;
	cn->ack = cookie;
	cn->len = len;
	memcpy(cn->data, data, len);

	struct sockaddr_nl to = { .nl_family = AF_NETLINK };
	if (sendto(fd, nlh, nlh->nlmsg_len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return -errno;
	return 0;
}

/* Copies the proc_event of one netlink message from the kernel into *pe
 * (the payload is only 4-byte aligned; proc_event wants 8). false if the
 * message is not one. */
static bool msg_event(const struct nlmsghdr *nlh, struct proc_event *pe)
{
	if (nlh->nlmsg_type == NLMSG_ERROR || nlh->nlmsg_type == NLMSG_NOOP)
		return false;
	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct cn_msg)))
		return false;
	struct cn_msg cn;
	memcpy(&cn, NLMSG_DATA(nlh), sizeof(cn));
	if (cn.id.idx != CN_IDX_PROC || cn.id.val != CN_VAL_PROC)
		return false;
	size_t min = offsetof(struct proc_event, event_data) + sizeof(struct fork_proc_event);
	if (cn.len < min || nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct cn_msg) + min))
		return false;
	size_t len = cn.len < sizeof(*pe) ? cn.len : sizeof(*pe);
	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct cn_msg) + len))
		return false;
	memset(pe, 0, sizeof(*pe));
	memcpy(pe, (const char *)NLMSG_DATA(nlh) + sizeof(struct cn_msg), len);
	return true;
}

/* Waits for the kernel's ACK of our LISTEN: 0, the kernel's -err, or
 * -ETIMEDOUT (requests from other namespaces are ignored silently). Events
 * before it are dropped: the first sweep follows. */
static int wait_ack(int fd, uint32_t cookie)
{
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long elapsed = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
		if (elapsed >= PW_ACK_TIMEOUT_MS)
			return -ETIMEDOUT;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int r = poll(&pfd, 1, (int)(PW_ACK_TIMEOUT_MS - elapsed));
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0)
			continue;

		union {
			struct nlmsghdr hdr;
			char buf[8192];
		} u;
		struct sockaddr_nl from;
		socklen_t fromlen = sizeof(from);
		ssize_t n = recvfrom(fd, u.buf, sizeof(u.buf), MSG_DONTWAIT,
				     (struct sockaddr *)&from, &fromlen);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ENOBUFS)
				continue;
			return -errno;
		}
		if (from.nl_pid != 0)
			continue;
		size_t len = (size_t)n;
		for (struct nlmsghdr *nlh = &u.hdr; NLMSG_OK(nlh, len); nlh = NLMSG_NEXT(nlh, len)) {
			struct proc_event pe;
			struct cn_msg cn;
			if (!msg_event(nlh, &pe))
				continue;
			memcpy(&cn, NLMSG_DATA(nlh), sizeof(cn));
			if (pe.what == PROC_EVENT_NONE && cn.ack == cookie + 1)
				return -(int)pe.event_data.ack.err;
		}
	}
}

static int connector_open(struct procwatch *w)
{
	int r;
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_CONNECTOR);
	if (fd < 0)
		return -errno;

	int rcvbuf = PW_RCVBUF_DEFAULT;
	const char *env = getenv("KSMPLUS_PW_RCVBUF");
	if (env && *env)
		rcvbuf = atoi(env);
	/* FORCE exceeds net.core.rmem_max but needs CAP_NET_ADMIN. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));

	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC, .nl_pid = 0 };
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail;

	/* The plain LISTEN is understood by every kernel and ACKed. */
	w->ack_cookie = (uint32_t)getpid() << 8;
	uint32_t op = PROC_CN_MCAST_LISTEN;
	if (send_listen(fd, w->ack_cookie, &op, sizeof(op)) < 0)
		goto fail;
	r = wait_ack(fd, w->ack_cookie);
	if (r == 0) {
		/* Then narrow it to the events used (6.6+; older kernels ignore
		 * a message of this size). No ACK to wait for: the kernel's
		 * filter drops ACKs (PROC_EVENT_NONE) to filtered listeners. */
		struct pw_proc_input in = { .mcast_op = PROC_CN_MCAST_LISTEN,
					    .event_type = PW_WANTED_EVENTS };
		(void)send_listen(fd, w->ack_cookie + 2, &in, sizeof(in));
	}
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
fail:
	r = -errno;
	close(fd);
	return r;
}

static void handle_event(struct procwatch *w, const struct proc_event *pe)
{
	struct procwatch_info info;

	switch (pe->what) {
	case PROC_EVENT_EXEC:
		report_seen(w, pe->event_data.exec.process_tgid);
		break;
	case PROC_EVENT_COMM:
		/* Threads naming themselves don't rename the process. */
		if (pe->event_data.comm.process_pid == pe->event_data.comm.process_tgid)
			report_seen(w, pe->event_data.comm.process_tgid);
		break;
	case PROC_EVENT_FORK:
		if (pe->event_data.fork.child_pid != pe->event_data.fork.child_tgid)
			break;  /* a new thread */
		if (w->kthreadd && pe->event_data.fork.parent_tgid == w->kthreadd)
			break;  /* a new kernel thread */
		memset(&info, 0, sizeof(info));
		info.pid = pe->event_data.fork.child_tgid;
		info.parent_pid = pe->event_data.fork.parent_tgid;
		w->cb(PW_FORK, &info, w->userdata);
		break;
	case PROC_EVENT_EXIT:
		if (pe->event_data.exit.process_pid != pe->event_data.exit.process_tgid)
			break;  /* a thread */
		memset(&info, 0, sizeof(info));
		info.pid = pe->event_data.exit.process_tgid;
		w->cb(PW_EXIT, &info, w->userdata);
		break;
	default:
		break;
	}
}

/* Does e, later in a batch, make an earlier exec or rename of tgid moot?
 * A later exec or rename of it is looked up in /proc afresh, which is all
 * the earlier one would do: a process renaming itself in a loop costs one
 * lookup a batch, not one a rename. */
static bool superseded_by(const struct proc_event *e, pid_t tgid)
{
	if (e->what == PROC_EVENT_EXEC)
		return e->event_data.exec.process_tgid == tgid;
	return e->what == PROC_EVENT_COMM && e->event_data.comm.process_tgid == tgid &&
	       e->event_data.comm.process_pid == tgid;
}

/* Handles a batch in order. An exec or rename followed by the exit of the
 * same process in the batch needs no /proc lookup: it is gone (short-lived
 * processes, the bulk of all execs, mostly end this way). */
static void handle_batch(struct procwatch *w, const struct proc_event *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		pid_t tgid = 0;
		if (b[i].what == PROC_EVENT_EXEC)
			tgid = b[i].event_data.exec.process_tgid;
		else if (b[i].what == PROC_EVENT_COMM)
			tgid = b[i].event_data.comm.process_tgid;
		bool gone = false;
		for (size_t j = i + 1; tgid && j < n && !gone; j++)
			gone = (b[j].what == PROC_EVENT_EXIT &&
				b[j].event_data.exit.process_tgid == tgid &&
				b[j].event_data.exit.process_pid == tgid) ||
			       superseded_by(&b[j], tgid);
		if (!gone)
			handle_event(w, &b[i]);
	}
}

/* Datagrams fetched per recvmmsg(): at 200 execs/s a burst holds hundreds
 * of ~100-byte events, and one syscall per event was the daemon's largest
 * cost. */
#define PW_MMSG 32
#define PW_DGRAM_MAX 256       /* a proc_event datagram is under 128 bytes */

/* Reads every pending datagram (up to a bound); the number of events. */
static size_t drain(struct procwatch *w)
{
	static char bufs[PW_MMSG][PW_DGRAM_MAX] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct proc_event batch[PW_BATCH];
	struct mmsghdr msgs[PW_MMSG];
	struct iovec iov[PW_MMSG];
	struct sockaddr_nl from[PW_MMSG];
	size_t nb = 0, total = 0;
	bool overrun = false;

	for (int got = 0; got < PW_MAX_DGRAMS_PER_WAKEUP;) {
		memset(msgs, 0, sizeof(msgs));
		for (int i = 0; i < PW_MMSG; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = sizeof(bufs[i]);
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_name = &from[i];
			msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
		}
		int n = recvmmsg(w->fd, msgs, PW_MMSG, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				overrun = true;
				got++;
				continue;
			}
			if (errno != EAGAIN)
				log_warn("procwatch: connector recv: %s", strerror(errno));
			break;
		}
		got += n;
		for (int i = 0; i < n; i++) {
			size_t len = msgs[i].msg_len;

			if (from[i].nl_pid != 0)
				continue;       /* only the kernel speaks here */
			for (struct nlmsghdr *nlh = (struct nlmsghdr *)bufs[i]; NLMSG_OK(nlh, len);
			     nlh = NLMSG_NEXT(nlh, len)) {
				if (!msg_event(nlh, &batch[nb]))
					continue;
				total++;
				if (++nb == PW_BATCH) {
					handle_batch(w, batch, nb);
					nb = 0;
				}
			}
		}
		if (n < PW_MMSG)
			break;
	}
	handle_batch(w, batch, nb);

	if (overrun) {
		if (!w->overrun_logged) {
			log_warn("procwatch: proc connector overrun, events lost; sweeping /proc "
				 "(logged once)");
			w->overrun_logged = true;
		}
		int r = procwatch_sweep(w);
		if (r < 0)
			log_warn("procwatch: sweep: %s", strerror(-r));
		total++;
	}
	return total;
}

/* Idle: the socket wakes us. Busy (events were read): stop listening on the
 * socket and drain it every PW_COALESCE_USEC instead, so a burst costs one
 * wakeup per window rather than one per event, and exec+exit pairs of
 * short-lived processes fall into one batch. Back to the socket once a
 * window brings nothing. */
static void coalesce(struct procwatch *w, bool busy)
{
	int r;
	if (busy) {
		r = sd_event_source_set_enabled(w->io_src, SD_EVENT_OFF);
		if (r >= 0)
			r = sd_event_source_set_time_relative(w->coalesce_src, PW_COALESCE_USEC);
		if (r >= 0)
			r = sd_event_source_set_enabled(w->coalesce_src, SD_EVENT_ONESHOT);
	} else {
		r = sd_event_source_set_enabled(w->io_src, SD_EVENT_ON);
	}
	if (r < 0) {
		log_warn("procwatch: switching event batching: %s", strerror(-r));
		(void)sd_event_source_set_enabled(w->io_src, SD_EVENT_ON);
	}
}

static int on_connector(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct procwatch *w = userdata;
	(void)s;
	(void)fd;
	(void)revents;
	coalesce(w, drain(w) > 0);
	return 0;
}

static int on_coalesce(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct procwatch *w = userdata;
	(void)s;
	(void)usec;
	coalesce(w, drain(w) > 0);
	return 0;
}

/* ---- fallback: periodic sweep ---- */

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct procwatch *w = userdata;
	(void)usec;
	int r = procwatch_sweep(w);
	if (r < 0)
		log_warn("procwatch: sweep: %s", strerror(-r));
	r = sd_event_source_set_time_relative(s, (uint64_t)w->sweep_sec * 1000000ULL);
	if (r >= 0)
		r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	if (r < 0)
		log_warn("procwatch: rearming sweep timer: %s", strerror(-r));
	return 0;
}

static bool env_true(const char *name)
{
	const char *v = getenv(name);
	return v && *v && strcmp(v, "0") != 0;
}

/* kthreadd's pid (2 in the initial pid namespace), 0 if it isn't there. */
static pid_t find_kthreadd(void)
{
	struct procwatch_info info;
	bool kthread;
	if (identify(2, &info, &kthread) == 0 && kthread && strcmp(info.comm, "kthreadd") == 0)
		return 2;
	return 0;
}

int procwatch_start(sd_event *ev, procwatch_cb cb, void *userdata, unsigned sweep_sec,
		    struct procwatch **out)
{
	if (!ev || !cb || !out)
		return -EINVAL;
	struct procwatch *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->ev = sd_event_ref(ev);
	w->cb = cb;
	w->userdata = userdata;
	w->sweep_sec = sweep_sec ? sweep_sec : 1;
	w->fd = -1;
	w->kthreadd = find_kthreadd();

	int r = procps_pids_new(&w->pids, pw_items, (int)(sizeof(pw_items) / sizeof(pw_items[0])));
	if (r < 0) {
		w->pids = NULL;
		goto fail;
	}

	int fd = env_true("KSMPLUS_NO_CONNECTOR") ? -EPERM : connector_open(w);
	if (fd >= 0) {
		w->fd = fd;
		r = sd_event_add_io(ev, &w->io_src, fd, EPOLLIN, on_connector, w);
		if (r < 0)
			goto fail;
		(void)sd_event_source_set_description(w->io_src, "procwatch-connector");
		r = sd_event_add_time_relative(ev, &w->coalesce_src, CLOCK_MONOTONIC,
					       PW_COALESCE_USEC, 1000, on_coalesce, w);
		if (r < 0)
			goto fail;
		(void)sd_event_source_set_enabled(w->coalesce_src, SD_EVENT_OFF);
		(void)sd_event_source_set_description(w->coalesce_src, "procwatch-batch");
	} else {
		log_warn("procwatch: proc connector unavailable (%s)%s; sweeping /proc every %u s",
			 strerror(-fd), env_true("KSMPLUS_NO_CONNECTOR") ? " [KSMPLUS_NO_CONNECTOR]" : "",
			 w->sweep_sec);
		r = sd_event_add_time_relative(ev, &w->timer_src, CLOCK_MONOTONIC,
					       (uint64_t)w->sweep_sec * 1000000ULL, 100000,
					       on_timer, w);
		if (r < 0)
			goto fail;
		(void)sd_event_source_set_description(w->timer_src, "procwatch-sweep");
	}

	r = procwatch_sweep(w);
	if (r < 0)
		goto fail;
	*out = w;
	return 0;
fail:
	procwatch_stop(w);
	return r;
}

bool procwatch_has_connector(const struct procwatch *w)
{
	return w && w->fd >= 0;
}

void procwatch_stop(struct procwatch *w)
{
	if (!w)
		return;
	w->io_src = sd_event_source_disable_unref(w->io_src);
	w->timer_src = sd_event_source_disable_unref(w->timer_src);
	w->coalesce_src = sd_event_source_disable_unref(w->coalesce_src);
	if (w->fd >= 0) {
		/* Before 6.6 closing did not drop the kernel's listener count. */
		uint32_t op = PROC_CN_MCAST_IGNORE;
		(void)send_listen(w->fd, w->ack_cookie + 4, &op, sizeof(op));
		close(w->fd);
	}
	if (w->pids)
		procps_pids_unref(&w->pids);
	sd_event_unref(w->ev);
	free(w);
}
