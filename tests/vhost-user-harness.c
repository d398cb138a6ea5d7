// SPDX-License-Identifier: LGPL-2.1-or-later
/* The vhost-user tests' driver side and backend processes. */

#include "config.h"

#include "vhost-user-harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define VRING_DESC_F_NEXT 1
#define VRING_DESC_F_WRITE 2

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

void vut_window_init(VutWindow *w, uint64_t size, uint64_t fd_offset)
{
	GError *err = NULL;

	memset(w, 0, sizeof(*w));
	w->fd = memfd_create("vut-window", MFD_CLOEXEC);
	g_assert_cmpint(w->fd, >=, 0);
	g_assert_cmpint(ftruncate(w->fd, (off_t)(fd_offset + size)), ==, 0);
	w->size = size;
	w->fd_offset = fd_offset;
	w->root = g_new0(MemoryRegion, 1);
	w->ram = g_new0(MemoryRegion, 1);
	w->as = g_new0(AddressSpace, 1);
	memory_region_init(w->root, NULL, "vut-root", UINT64_MAX);
	loopback_memory_region_set_free_notify(w->root, g_free, w->root);
	/* the region owns its fd: give it a copy */
	g_assert_true(memory_region_init_ram_from_fd(w->ram, NULL, "vut-window",
						     size, RAM_SHARED,
						     dup(w->fd), fd_offset,
						     &err));
	g_assert_no_error(err);
	loopback_memory_region_set_free_notify(w->ram, g_free, w->ram);
	memory_region_add_subregion(w->root, VUT_WINDOW_GPA, w->ram);
	address_space_init(w->as, w->root, "vut");
	w->host = memory_region_get_ram_ptr(w->ram);
	w->next = 0;
}

void vut_window_destroy(VutWindow *w)
{
	address_space_destroy(w->as);
	memory_region_del_subregion(w->root, w->ram);
	memory_region_unref(w->ram);
	memory_region_unref(w->root);
	loopback_memory_drain();
	g_free(w->as);
	close(w->fd);
	memset(w, 0, sizeof(*w));
}

uint64_t vut_alloc(VutWindow *w, uint64_t size, uint64_t align)
{
	uint64_t at = (w->next + align - 1) & ~(align - 1);

	g_assert_cmpuint(at + size, <=, w->size);
	w->next = at + size;
	memset(w->host + at, 0, size);
	return VUT_WINDOW_GPA + at;
}

void *vut_host(VutWindow *w, uint64_t gpa)
{
	g_assert_cmpuint(gpa, >=, VUT_WINDOW_GPA);
	g_assert_cmpuint(gpa - VUT_WINDOW_GPA, <, w->size);
	return w->host + (gpa - VUT_WINDOW_GPA);
}

MemoryRegion *vut_add_ram(VutWindow *w, uint64_t gpa, uint64_t size)
{
	MemoryRegion *mr = g_new0(MemoryRegion, 1);
	GError *err = NULL;

	g_assert_true(memory_region_init_ram(mr, NULL, "vut-extra", size,
					     &err));
	g_assert_no_error(err);
	loopback_memory_region_set_free_notify(mr, g_free, mr);
	memory_region_add_subregion(w->root, gpa, mr);
	return mr;
}

void vut_del_ram(VutWindow *w, MemoryRegion *mr)
{
	memory_region_del_subregion(w->root, mr);
	memory_region_unref(mr);
}

void vut_iterate_until(GMainContext *ctx, const int *counter, int want,
		       unsigned int timeout_ms)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

	while (*counter < want && g_get_monotonic_time() < deadline)
		if (!g_main_context_iteration(ctx, FALSE))
			g_usleep(1000);
}

void vut_ring_init(VutRing *r, VutWindow *w, unsigned int num)
{
	struct vring_desc *d;

	memset(r, 0, sizeof(*r));
	r->w = w;
	r->num = num;
	r->desc = vut_alloc(w, 16 * num, 4096);
	r->avail = vut_alloc(w, 6 + 2 * num, 2);
	r->used = vut_alloc(w, 6 + 8 * num, 4096);
	d = vut_host(w, r->desc);
	for (unsigned int i = 0; i < num; i++)
		d[i].next = (uint16_t)(i + 1);
	r->free_count = num;
	r->chain_len = g_new0(uint16_t, num);
	r->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	r->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	g_assert_cmpint(r->kick_fd, >=, 0);
	g_assert_cmpint(r->call_fd, >=, 0);
}

void vut_ring_destroy(VutRing *r)
{
	close(r->kick_fd);
	close(r->call_fd);
	g_free(r->chain_len);
}

loopback_vhost_user_vring vut_ring_config(VutRing *r)
{
	return (loopback_vhost_user_vring){
		.num = r->num,
		.base = r->avail_idx,
		.desc = r->desc,
		.avail = r->avail,
		.used = r->used,
		.kick_fd = r->kick_fd,
		.call_fd = r->call_fd,
	};
}

uint16_t vut_ring_add(VutRing *r, const VutBuf *bufs, unsigned int n)
{
	struct vring_desc *d = vut_host(r->w, r->desc);
	uint16_t *avail = vut_host(r->w, r->avail);
	uint16_t head = r->free_head, i = head;

	g_assert_cmpuint(n, <=, r->free_count);
	for (unsigned int k = 0; k < n; k++) {
		d[i].addr = bufs[k].gpa;
		d[i].len = bufs[k].len;
		d[i].flags = (bufs[k].write ? VRING_DESC_F_WRITE : 0) |
			(k + 1 < n ? VRING_DESC_F_NEXT : 0);
		if (k + 1 < n)
			i = d[i].next;
	}
	r->free_head = d[i].next;
	r->free_count -= n;
	r->chain_len[head] = (uint16_t)n;
	avail[2 + r->avail_idx % r->num] = head;
	r->avail_idx++;
	/* the ring entry before the index that publishes it */
	__atomic_store_n(&avail[1], r->avail_idx, __ATOMIC_RELEASE);
	return head;
}

void vut_ring_kick(VutRing *r)
{
	uint64_t one = 1;

	g_assert_cmpint(write(r->kick_fd, &one, sizeof(one)), ==, sizeof(one));
}

uint16_t vut_ring_used_idx(VutRing *r)
{
	uint16_t *used = vut_host(r->w, r->used);

	return __atomic_load_n(&used[1], __ATOMIC_ACQUIRE);
}

bool vut_ring_get_used(VutRing *r, unsigned int timeout_ms, uint16_t *id,
		       uint32_t *len)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	uint8_t *used = vut_host(r->w, r->used);
	struct vring_desc *d = vut_host(r->w, r->desc);

	while (vut_ring_used_idx(r) == r->used_seen) {
		struct pollfd pfd = { .fd = r->call_fd, .events = POLLIN };
		gint64 left = deadline - g_get_monotonic_time();
		uint64_t v;

		if (left <= 0)
			return false;
		/* the call fd, with a short poll in case a signal was eaten */
		if (poll(&pfd, 1, (int)MIN(left / 1000 + 1, 10)) > 0 &&
		    read(r->call_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			g_error("reading the call eventfd: %s", g_strerror(errno));
	}
	{
		uint32_t *elem = (uint32_t *)(used + 4 +
					      8 * (r->used_seen % r->num));
		uint16_t head = (uint16_t)elem[0], i = head;

		*id = head;
		*len = elem[1];
		g_assert_cmpuint(head, <, r->num);
		g_assert_cmpuint(r->chain_len[head], >, 0);
		/* give the chain back to the free list */
		for (unsigned int k = 1; k < r->chain_len[head]; k++)
			i = d[i].next;
		d[i].next = r->free_head;
		r->free_head = head;
		r->free_count += r->chain_len[head];
		r->chain_len[head] = 0;
		r->used_seen++;
	}
	return true;
}

/* ---- backends ---- */

loopback_vhost_user *vut_connect(const char *path, unsigned int timeout_ms)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

	for (;;) {
		GError *err = NULL;
		loopback_vhost_user *vu = loopback_vhost_user_connect(path,
								      &err);

		if (vu) {
			loopback_vhost_user_set_timeout(vu, timeout_ms);
			return vu;
		}
		if (!g_error_matches(err, LOOPBACK_VHOST_USER_ERROR,
				     LOOPBACK_VHOST_USER_ERROR_DISCONNECTED) ||
		    g_get_monotonic_time() > deadline)
			g_error("%s", err->message);
		g_error_free(err);
		g_usleep(10000);
	}
}

char *vut_find_program(const char *prog)
{
	return g_find_program_in_path(prog);
}

char *vut_tmpdir(void)
{
	GError *err = NULL;
	char *dir = g_dir_make_tmp("loopback-vu-XXXXXX", &err);

	g_assert_no_error(err);
	return dir;
}

/* a test that aborts must not leave its backend running */
static void die_with_parent(gpointer data)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

bool vut_process_start(VutProcess *p, char **argv, const char *wait_path,
		       unsigned int timeout_ms, char **why)
{
	GError *err = NULL;
	int out;
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	int sv[2];

	g_assert_nonnull(p->dir);
	p->log = g_build_filename(p->dir, "backend.log", NULL);
	out = open(p->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	g_assert_cmpint(out, >=, 0);
	/* a pipe as stdin, held open until the stop */
	g_assert_cmpint(pipe2(sv, O_CLOEXEC), ==, 0);
	if (!g_spawn_async_with_fds(p->dir, argv, NULL,
				    G_SPAWN_DO_NOT_REAP_CHILD, die_with_parent, NULL,
				    &p->pid, sv[0], out, out, &err)) {
		*why = g_strdup_printf("cannot start %s: %s", argv[0],
				       err->message);
		g_error_free(err);
		close(out);
		close(sv[0]);
		close(sv[1]);
		return false;
	}
	close(out);
	close(sv[0]);
	p->stdin_fd = sv[1];
	while (!g_file_test(wait_path, G_FILE_TEST_EXISTS)) {
		int status;

		if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
			g_autofree char *tail = vut_process_log_tail(p, 2000);

			p->pid = 0;
			*why = g_strdup_printf("%s exited (status 0x%x) before creating %s; its output ends with:\n%s",
					       argv[0], status, wait_path,
					       tail);
			return false;
		}
		if (g_get_monotonic_time() > deadline) {
			*why = g_strdup_printf("%s did not create %s in %u ms",
					       argv[0], wait_path, timeout_ms);
			vut_process_stop(p);
			return false;
		}
		g_usleep(10000);
	}
	return true;
}

void vut_process_stop(VutProcess *p)
{
	if (p->pid > 0) {
		int status;
		gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

		kill(p->pid, SIGTERM);
		while (waitpid(p->pid, &status, WNOHANG) == 0) {
			if (g_get_monotonic_time() > deadline) {
				kill(p->pid, SIGKILL);
				waitpid(p->pid, &status, 0);
				break;
			}
			g_usleep(10000);
		}
		g_spawn_close_pid(p->pid);
		p->pid = 0;
	}
	if (p->stdin_fd > 0)
		close(p->stdin_fd);
	p->stdin_fd = -1;
}

void vut_process_kill(VutProcess *p)
{
	int status;

	g_assert_cmpint(p->pid, >, 0);
	kill(p->pid, SIGKILL);
	waitpid(p->pid, &status, 0);
	g_spawn_close_pid(p->pid);
	p->pid = 0;
	if (p->stdin_fd > 0)
		close(p->stdin_fd);
	p->stdin_fd = -1;
}

char *vut_process_log_tail(VutProcess *p, size_t max)
{
	char *text = NULL;
	size_t len = 0;

	if (!p->log || !g_file_get_contents(p->log, &text, &len, NULL))
		return g_strdup("(no log)");
	if (len > max) {
		char *tail = g_strdup(text + len - max);

		g_free(text);
		return tail;
	}
	return text;
}
