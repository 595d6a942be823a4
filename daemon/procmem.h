/* procmem.h — reading a running process's resident anonymous pages for the
 * census (census.h), without stopping it: its eligible VMAs from
 * /proc/PID/maps (vmas.h), which pages are present from /proc/PID/pagemap,
 * and their contents
 * with process_vm_readv in batches of PROCMEM_BATCH pages (pread of
 * /proc/PID/mem where the kernel has no process_vm_readv), each hashed and
 * dropped before the next batch is read.
 *
 * Present pages are found with the PAGEMAP_SCAN ioctl (Linux 6.7+), which
 * walks the page tables and skips what was never touched: a writable sparse
 * reservation (ASan's shadow, terabytes of NORESERVE) costs what it holds,
 * not its size. Older kernels: pagemap read 8 bytes per page, 2 MiB at a
 * time. A PROT_NONE reservation is not an eligible VMA: never walked. */
#ifndef KSMPLUS_PROCMEM_H
#define KSMPLUS_PROCMEM_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "census.h"
#include "vmas.h"

#define PROCMEM_BATCH 64                /* pages per process_vm_readv */
#define PROCMEM_PAGEMAP_CHUNK 512       /* pagemap entries per read: 2 MiB */

struct procmem {
	pid_t pid;
	int pagemap_fd;
	struct vma_list vmas;
	const atomic_bool *cancel;      /* checked every pagemap chunk; NULL: never */
	bool no_scan;                   /* PAGEMAP_SCAN refused: pagemap reads */
	bool no_vm_readv;               /* process_vm_readv ENOSYS: /proc/PID/mem */
	/* Leave out pages shared since fork (procmem_census): set by the
	 * caller after procmem_open; the census's plans want it, analyze's
	 * forecast (measured against savings that count them) does not. */
	bool skip_shared;
	int kpageflags_fd;              /* /proc/kpageflags, opened on first need; -1 */
	bool no_kpageflags;             /* it could not be opened: every page counts */
	int mem_fd;                     /* /proc/PID/mem, opened on first need; -1 */
	struct vma_list *keep;          /* procmem_open_keep's: vmas goes back there */
	void (*pace)(void *ud);         /* called after each batch read; NULL: none */
	void *pace_ud;
};

struct procmem_stats {
	uint64_t vmas;                  /* eligible VMAs walked */
	uint64_t visited;               /* pages looked at: pagemap entries read, or
					 * pages PAGEMAP_SCAN reported */
	uint64_t resident;              /* present, exclusively anonymous */
	uint64_t read_bytes;            /* page contents read */
	uint64_t vanished;              /* present in pagemap, unmapped before the read */
	uint64_t shared;                /* skip_shared: present, left out as shared since fork */
};

/* Reads pid's maps and opens its pagemap. 0, or -ESRCH (no such process,
 * or it exited), -EACCES/-EPERM, -ENOMEM. */
int procmem_open(struct procmem *pm, pid_t pid);
/* The same with its VMA list in keep's storage, handed back to keep (empty,
 * its capacity kept) by procmem_close: a census of many processes of many
 * VMAs each (200 forked children of a 60,000-VMA process: 1-2 MB each)
 * allocates the list once, not once a process. */
int procmem_open_keep(struct procmem *pm, pid_t pid, struct vma_list *keep);
/* Feeds every sampled resident anonymous page to c (census_begin_vma, then
 * census_count_resident and census_add_page) and adds to st. 0, or -ESRCH
 * when the process exited meanwhile (c then holds part of it: see
 * census_rollback), -ECANCELED once *pm->cancel is set, -ENOMEM, or another
 * -errno. */
int procmem_census(struct procmem *pm, struct census *c, struct procmem_stats *st);
void procmem_close(struct procmem *pm);
#endif
