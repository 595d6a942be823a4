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
	int mem_fd;                     /* /proc/PID/mem, opened on first need; -1 */
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
};

/* Reads pid's maps and opens its pagemap. 0, or -ESRCH (no such process,
 * or it exited), -EACCES/-EPERM, -ENOMEM. */
int procmem_open(struct procmem *pm, pid_t pid);
/* Feeds every sampled resident anonymous page to c (census_begin_vma, then
 * census_count_resident and census_add_page) and adds to st. 0, or -ESRCH
 * when the process exited meanwhile (c then holds part of it: see
 * census_rollback), -ECANCELED once *pm->cancel is set, -ENOMEM, or another
 * -errno. */
int procmem_census(struct procmem *pm, struct census *c, struct procmem_stats *st);
void procmem_close(struct procmem *pm);
#endif
