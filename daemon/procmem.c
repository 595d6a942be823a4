/* procmem.c — a process's resident anonymous pages, read for the census
 * without stopping the process (procmem.h). */
#include "procmem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "pagemap.h"

#define SCAN_REGIONS 256

/* Gives the VMA list back to keep, or frees it. */
static void vmas_release(struct procmem *pm)
{
	if (pm->keep) {
		*pm->keep = pm->vmas;
		vmas_clear(pm->keep);
		pm->vmas = (struct vma_list){ 0 };
		pm->keep = NULL;
	} else {
		vmas_free(&pm->vmas);
	}
}

int procmem_open_keep(struct procmem *pm, pid_t pid, struct vma_list *keep)
{
	char path[64];
	int rc;

	memset(pm, 0, sizeof(*pm));
	pm->pid = pid;
	pm->pagemap_fd = -1;
	pm->mem_fd = -1;
	pm->kpageflags_fd = -1;
	if (keep) {
		pm->keep = keep;
		pm->vmas = *keep;
		vmas_clear(&pm->vmas);
		*keep = (struct vma_list){ 0 };
	}
	rc = vmas_read(pid, &pm->vmas);
	if (rc < 0) {
		vmas_release(pm);
		return rc == -ENOENT ? -ESRCH : rc;
	}
	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	pm->pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (pm->pagemap_fd < 0) {
		rc = errno == ENOENT ? -ESRCH : -errno;
		vmas_release(pm);
		return rc;
	}
	return 0;
}

int procmem_open(struct procmem *pm, pid_t pid)
{
	return procmem_open_keep(pm, pid, NULL);
}

void procmem_close(struct procmem *pm)
{
	if (pm->pagemap_fd >= 0)
		close(pm->pagemap_fd);
	pm->pagemap_fd = -1;
	if (pm->mem_fd >= 0)
		close(pm->mem_fd);
	pm->mem_fd = -1;
	if (pm->kpageflags_fd >= 0)
		close(pm->kpageflags_fd);
	pm->kpageflags_fd = -1;
	vmas_release(pm);
}

/* skip_shared: is the present anonymous page of pagemap entry e worth the
 * census? One this process maps alone (PM_MMAP_EXCLUSIVE), yes, and a KSM
 * page, mapped by all it was merged from: the census must see it to keep
 * its range advised. A page shared with a parent or child since fork, no:
 * it is already one frame for all of them (merging it saves nothing until
 * a write gives a process its own copy, exclusive then), and a fork-heavy
 * app would have every child's copy of its parent read again (201 forks
 * of a 236 MiB process: +102 MiB of census in the daemon). Without page
 * frame numbers (no CAP_SYS_ADMIN) or /proc/kpageflags the two cannot be
 * told apart: the page counts, as without skip_shared. */
static bool worth_census(struct procmem *pm, uint64_t e, struct procmem_stats *st)
{
	uint64_t pfn = e & PM_PFN_MASK, flags;

	if (!pm->skip_shared || (e & PM_EXCLUSIVE) || !pfn || pm->no_kpageflags)
		return true;
	if (pm->kpageflags_fd < 0) {
		pm->kpageflags_fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
		if (pm->kpageflags_fd < 0) {
			pm->no_kpageflags = true;
			return true;
		}
	}
	if (pread(pm->kpageflags_fd, &flags, sizeof(flags), (off_t)(pfn * sizeof(flags))) !=
	    (ssize_t)sizeof(flags))
		return true;            /* the page is what it is: counted */
	if (flags & KPF_KSM)
		return true;
	st->shared++;
	return false;
}

/* Pages waiting to be read: their addresses, in increasing order. */
struct batch {
	uintptr_t addr[PROCMEM_BATCH];
	size_t n;
	unsigned char *buf;             /* PROCMEM_BATCH pages */
};

/* Kernels built without CONFIG_CROSS_MEMORY_ATTACH (minimal and embedded
 * configs, our own test kernels) have no process_vm_readv: ENOSYS. The
 * same bytes, under the same ptrace-read check, come from /proc/PID/mem, a
 * page per pread. A page unmapped meanwhile (EIO) is skipped; a read of 0
 * bytes means the process's memory is gone: it exited. */
static int read_batch_mem(struct procmem *pm, struct batch *b, struct census *c,
			  struct procmem_stats *st)
{
	size_t ps = c->page_size;

	if (pm->mem_fd < 0) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/mem", (int)pm->pid);
		pm->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (pm->mem_fd < 0)
			return errno == ENOENT ? -ESRCH : -errno;
	}
	for (size_t i = 0; i < b->n; i++) {
		ssize_t got = pread(pm->mem_fd, b->buf, ps, (off_t)b->addr[i]);
		int rc;

		if (got == 0)
			return -ESRCH;
		if (got < 0 && errno != EIO && errno != EFAULT)
			return errno == ESRCH ? -ESRCH : -errno;
		if (got != (ssize_t)ps) {
			st->vanished++;
			continue;
		}
		st->read_bytes += ps;
		rc = census_add_page(c, b->addr[i], b->buf);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Reads and hashes the batch's pages with process_vm_readv. A page unmapped
 * since pagemap said it was there ends a read early: it is skipped and the
 * read goes on after it. 0, or -ESRCH, -ENOMEM, another -errno. */
static int read_batch(struct procmem *pm, struct batch *b, struct census *c,
		      struct procmem_stats *st)
{
	size_t ps = c->page_size;
	struct iovec remote[PROCMEM_BATCH];
	size_t done = 0;

	if (pm->no_vm_readv)
		return read_batch_mem(pm, b, c, st);
	while (done < b->n) {
		size_t nr = 0;
		struct iovec local = { b->buf, (b->n - done) * ps };
		ssize_t got;

		/* neighbouring pages in one remote iovec */
		for (size_t i = done; i < b->n; i++) {
			if (nr && (uintptr_t)remote[nr - 1].iov_base + remote[nr - 1].iov_len == b->addr[i])
				remote[nr - 1].iov_len += ps;
			else
				remote[nr++] = (struct iovec){ (void *)b->addr[i], ps };
		}
		got = process_vm_readv(pm->pid, &local, 1, remote, nr, 0);
		if (got < 0 && errno == ENOSYS && done == 0) {
			pm->no_vm_readv = true;
			return read_batch_mem(pm, b, c, st);
		}
		if (got < 0 && errno != EFAULT)
			return errno == ESRCH ? -ESRCH : -errno;
		size_t pages = got < 0 ? 0 : (size_t)got / ps;

		st->read_bytes += pages * ps;
		for (size_t i = 0; i < pages; i++) {
			int rc = census_add_page(c, b->addr[done + i], b->buf + i * ps);

			if (rc < 0)
				return rc;
		}
		done += pages;
		if (done < b->n) {      /* the next page faulted: gone meanwhile */
			st->vanished++;
			done++;
		}
	}
	return 0;
}

/* Reads and hashes the batch's pages, empties it, and paces. */
static int batch_flush(struct procmem *pm, struct batch *b, struct census *c,
		       struct procmem_stats *st)
{
	int rc = read_batch(pm, b, c, st);

	if (rc < 0)
		return rc;
	b->n = 0;
	if (pm->pace)
		pm->pace(pm->pace_ud);
	return 0;
}

/* One resident anonymous page: counted, and queued if sampled. */
static int resident_page(struct procmem *pm, uintptr_t a, struct census *c,
			 struct procmem_stats *st, struct batch *b)
{
	st->resident++;
	census_count_resident(c, 1);
	if (!census_sampled(c, a))
		return 0;
	b->addr[b->n++] = a;
	return b->n == PROCMEM_BATCH ? batch_flush(pm, b, c, st) : 0;
}

/* The present anonymous pages of [start, end) from their pagemap entries
 * (2 MiB of them a read), those worth_census. 0 or -errno. */
static int entries(struct procmem *pm, uintptr_t start, uintptr_t end, struct census *c,
		   struct procmem_stats *st, struct batch *b)
{
	size_t ps = c->page_size;
	uint64_t ent[PROCMEM_PAGEMAP_CHUNK];
	int rc;

	for (uintptr_t a = start; a < end;) {
		size_t want = (end - a) / ps;
		ssize_t got;

		if (pm->cancel && atomic_load(pm->cancel))
			return -ECANCELED;
		if (want > PROCMEM_PAGEMAP_CHUNK)
			want = PROCMEM_PAGEMAP_CHUNK;
		got = pread(pm->pagemap_fd, ent, want * sizeof(ent[0]), (off_t)(a / ps * sizeof(ent[0])));
		if (got < 0)
			return errno == ESRCH ? -ESRCH : -errno;
		if (got == 0)
			return -ESRCH;  /* the mm is gone: the process exited */
		size_t n = (size_t)got / sizeof(ent[0]);

		for (size_t i = 0; i < n; i++, a += ps) {
			if (!(ent[i] & PM_PRESENT) || (ent[i] & PM_FILE) || !worth_census(pm, ent[i], st))
				continue;
			if ((rc = resident_page(pm, a, c, st, b)) < 0)
				return rc;
		}
	}
	return 0;
}

/* The VMA's present, exclusively anonymous pages (not the shared zero
 * page) through PAGEMAP_SCAN. -ENOTTY (or -EINVAL) when the kernel has no
 * such ioctl: nothing was fed to c then. */
static int scan_vma(struct procmem *pm, const struct vma_range *v, struct census *c,
		    struct procmem_stats *st, struct batch *b)
{
	struct page_region reg[SCAN_REGIONS];
	size_t ps = c->page_size;

	/* valgrind cannot know the ioctl fills reg: defined from the start */
	memset(reg, 0, sizeof(reg));
	for (uintptr_t a = v->start; a < v->end;) {
		struct pm_scan_arg arg = {
			.size = sizeof(arg), .start = a, .end = v->end,
			.vec = (uintptr_t)reg, .vec_len = SCAN_REGIONS,
			.category_mask = PAGE_IS_PRESENT | PAGE_IS_FILE | PAGE_IS_PFNZERO,
			.category_inverted = PAGE_IS_FILE | PAGE_IS_PFNZERO,
			.return_mask = PAGE_IS_PRESENT,
		};
		int n, rc = 0;

		if (pm->cancel && atomic_load(pm->cancel))
			return -ECANCELED;
		n = ioctl(pm->pagemap_fd, PAGEMAP_SCAN, &arg);
		if (n < 0 && (errno == ENOTTY || errno == EINVAL) && a != v->start)
			return -EIO;    /* refused halfway: falling back would count twice */
		if (n < 0)
			return errno == ESRCH ? -ESRCH : -errno;
		for (int i = 0; i < n; i++) {
			st->visited += (reg[i].end - reg[i].start) / ps;
			if (pm->skip_shared)
				rc = entries(pm, reg[i].start, reg[i].end, c, st, b);
			else
				for (uintptr_t p = reg[i].start; p < reg[i].end && rc >= 0; p += ps)
					rc = resident_page(pm, p, c, st, b);
			if (rc < 0)
				return rc;
		}
		if (arg.walk_end <= a)
			return -ESRCH;  /* no progress: the mm is gone */
		a = arg.walk_end;
	}
	return 0;
}

static int census_vma(struct procmem *pm, const struct vma_range *v, struct census *c,
		      struct procmem_stats *st, struct batch *b)
{
	size_t ps = c->page_size;
	int rc = census_begin_vma(c, pm->pid, v->start, v->end);

	if (rc < 0)
		return rc;
	st->vmas++;
	if (!pm->no_scan) {
		rc = scan_vma(pm, v, c, st, b);
		if (rc != -ENOTTY && rc != -EINVAL)
			return rc < 0 ? rc : batch_flush(pm, b, c, st);
		pm->no_scan = true;     /* before 6.7: read pagemap */
	}
	st->visited += (v->end - v->start) / ps;
	rc = entries(pm, v->start, v->end, c, st, b);
	return rc < 0 ? rc : batch_flush(pm, b, c, st);
}

int procmem_census(struct procmem *pm, struct census *c, struct procmem_stats *st)
{
	struct batch b = { .n = 0 };
	int rc = 0;

	b.buf = malloc(PROCMEM_BATCH * c->page_size);
	if (!b.buf)
		return -ENOMEM;
	for (size_t i = 0; i < pm->vmas.n && rc == 0; i++)
		rc = census_vma(pm, &pm->vmas.v[i], c, st, &b);
	/* contents are never kept: wipe the last batch before freeing it */
	explicit_bzero(b.buf, PROCMEM_BATCH * c->page_size);
	free(b.buf);
	return rc;
}
