/* pagemap.h — the kernel's page-table views that savings.c and procmem.c
 * read: /proc/PID/pagemap entries and the PAGEMAP_SCAN ioctl (Linux 6.7,
 * include/uapi/linux/fs.h; Debian 12's headers predate it, and the ABI is
 * fixed, sized by its first field). See
 * Documentation/admin-guide/mm/pagemap.rst. */
#ifndef KSMPLUS_PAGEMAP_H
#define KSMPLUS_PAGEMAP_H
#include <stdint.h>
#include <sys/ioctl.h>
#include <linux/fs.h>

#define PM_PRESENT      (1ULL << 63)
#define PM_FILE         (1ULL << 61)    /* file page or shared anonymous: not KSM's */
#define PM_EXCLUSIVE    (1ULL << 56)    /* PM_MMAP_EXCLUSIVE: mapped by this mm alone */
#define PM_PFN_MASK     ((1ULL << 55) - 1)
#define KPF_KSM         (1ULL << 21)    /* /proc/kpageflags: a KSM page */

#ifndef PAGEMAP_SCAN
#define PAGE_IS_FILE    (1 << 2)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_PFNZERO (1 << 5)
#define PAGE_IS_HUGE    (1 << 6)
struct page_region {
	uint64_t start, end, categories;
};
struct pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#endif
#endif
