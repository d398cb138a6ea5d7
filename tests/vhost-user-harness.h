/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The vhost-user tests' driver side: a memfd window mapped as RAM in an
 * AddressSpace at 0x100000000, split rings laid out in it, eventfds for
 * kick and call, and the backends as child processes.
 */
#ifndef LOOPBACK_VHOST_USER_HARNESS_H
#define LOOPBACK_VHOST_USER_HARNESS_H

#include <loopback/memory.h>
#include <loopback/vhost-user.h>

/* the tests' GMutex, visible to ThreadSanitizer like the library's */
#include "../libloopback/tsan.h"

#define VUT_WINDOW_GPA 0x100000000ULL

typedef struct {
	int fd;			/* the memfd */
	uint64_t size;
	uint64_t fd_offset;	/* where the RAM starts in the memfd */
	uint64_t next;		/* bump allocator, offset in the window */
	/* heap storage: the memory API frees regions after a grace period */
	MemoryRegion *root;
	MemoryRegion *ram;
	AddressSpace *as;
	uint8_t *host;
} VutWindow;

/* A window of @size bytes, starting @fd_offset bytes into its memfd. */
void vut_window_init(VutWindow *w, uint64_t size, uint64_t fd_offset);
void vut_window_destroy(VutWindow *w);
/* @size bytes of the window aligned to @align; returns the GPA. */
uint64_t vut_alloc(VutWindow *w, uint64_t size, uint64_t align);
void *vut_host(VutWindow *w, uint64_t gpa);
/* More RAM (a memfd) at @gpa beside the window; vut_del_ram removes it. */
MemoryRegion *vut_add_ram(VutWindow *w, uint64_t gpa, uint64_t size);
void vut_del_ram(VutWindow *w, MemoryRegion *mr);
/* Runs @ctx until *@counter reaches @want or @timeout_ms pass. */
void vut_iterate_until(GMainContext *ctx, const int *counter, int want,
		       unsigned int timeout_ms);

typedef struct {
	uint64_t gpa;
	uint32_t len;
	bool write;		/* device-writable */
} VutBuf;

typedef struct {
	VutWindow *w;
	unsigned int num;
	uint64_t desc, avail, used;	/* GPAs */
	uint16_t avail_idx;		/* next avail index to publish */
	uint16_t used_seen;		/* used entries consumed */
	uint16_t free_head;
	unsigned int free_count;
	uint16_t *chain_len;		/* per head: descriptors in the chain */
	int kick_fd;
	int call_fd;
} VutRing;

void vut_ring_init(VutRing *r, VutWindow *w, unsigned int num);
void vut_ring_destroy(VutRing *r);
/* The ring for loopback_vhost_user_vring_start. */
loopback_vhost_user_vring vut_ring_config(VutRing *r);
/* Publishes a chain of @n buffers; returns its head. */
uint16_t vut_ring_add(VutRing *r, const VutBuf *bufs, unsigned int n);
void vut_ring_kick(VutRing *r);
/* Waits (up to @timeout_ms) for the next used entry; false on timeout. */
bool vut_ring_get_used(VutRing *r, unsigned int timeout_ms, uint16_t *id,
		       uint32_t *len);
uint16_t vut_ring_used_idx(VutRing *r);

/* ---- backends ---- */

typedef struct {
	GPid pid;
	char *dir;		/* a temporary folder for sockets and images */
	char *log;		/* its stdout and stderr */
	int stdin_fd;		/* kept open: testpmd exits at EOF */
} VutProcess;

/*
 * Starts @argv with stdout/stderr to dir/log and waits for @wait_path to
 * appear.  false with a message when it exits or the path never comes.
 */
bool vut_process_start(VutProcess *p, char **argv, const char *wait_path,
		       unsigned int timeout_ms, char **why);
void vut_process_stop(VutProcess *p);
/* SIGKILL, and the process reaped: a crash. */
void vut_process_kill(VutProcess *p);
/* The last @max bytes of the log. */
char *vut_process_log_tail(VutProcess *p, size_t max);
/*
 * Connects to a backend that may have bound its socket but not be
 * listening yet (a refused connect is retried for @timeout_ms).
 */
loopback_vhost_user *vut_connect(const char *path, unsigned int timeout_ms);
/* Full path of @prog on PATH, or NULL. */
char *vut_find_program(const char *prog);
char *vut_tmpdir(void);

#endif /* LOOPBACK_VHOST_USER_HARNESS_H */
