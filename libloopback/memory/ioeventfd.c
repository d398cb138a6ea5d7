// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Event notifiers and ioeventfds.
 *
 * A region's ioeventfds are an immutable sorted array: a change builds a
 * new one under the writers' lock, publishes it with rcu_assign_pointer()
 * and frees the old one after a grace period, so that dispatch threads
 * match writes against it without any lock.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* ---- EventNotifier ---- */

LOOPBACK_API int event_notifier_init(EventNotifier *e, int active)
{
	int fd;

	g_return_val_if_fail(e != NULL, -EINVAL);
	fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	e->rfd = e->wfd = fd;
	e->initialized = true;
	if (active)
		event_notifier_set(e);
	return 0;
}

LOOPBACK_API void event_notifier_init_fd(EventNotifier *e, int fd)
{
	g_return_if_fail(e != NULL);
	e->rfd = e->wfd = fd;
	/* not ours: cleanup leaves it open */
	e->initialized = false;
}

LOOPBACK_API void event_notifier_cleanup(EventNotifier *e)
{
	g_return_if_fail(e != NULL);
	if (!e->initialized)
		return;
	if (e->wfd != e->rfd)
		close(e->wfd);
	close(e->rfd);
	e->rfd = e->wfd = -1;
	e->initialized = false;
}

LOOPBACK_API int event_notifier_get_fd(const EventNotifier *e)
{
	g_return_val_if_fail(e != NULL, -1);
	return e->rfd;
}

LOOPBACK_API int event_notifier_set(EventNotifier *e)
{
	static const uint64_t one = 1;
	ssize_t n;

	g_return_val_if_fail(e != NULL, -EINVAL);
	do {
		n = write(e->wfd, &one, sizeof(one));
	} while (n < 0 && errno == EINTR);
	/* EAGAIN: the counter is saturated, so it is signalled already */
	if (n < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

LOOPBACK_API int event_notifier_test_and_clear(EventNotifier *e)
{
	uint64_t value;
	ssize_t n;

	g_return_val_if_fail(e != NULL, 0);
	do {
		n = read(e->rfd, &value, sizeof(value));
	} while (n < 0 && errno == EINTR);
	return n == sizeof(value) && value != 0;
}

gint lb_ioeventfd_regions;

/* ---- ordering and matching ---- */

int lb_ioeventfd_cmp(const struct lb_ioeventfd *a,
		     const struct lb_ioeventfd *b)
{
	if (a->addr != b->addr)
		return a->addr < b->addr ? -1 : 1;
	if (a->size != b->size)
		return a->size < b->size ? -1 : 1;
	if (a->match_data != b->match_data)
		return a->match_data < b->match_data ? -1 : 1;
	/* data only counts when it is matched */
	if (a->match_data && a->data != b->data)
		return a->data < b->data ? -1 : 1;
	if (a->e != b->e)
		return (uintptr_t)a->e < (uintptr_t)b->e ? -1 : 1;
	return 0;
}

static bool lb_ioeventfd_matches(const struct lb_ioeventfd *fd, hwaddr addr,
				 uint64_t data, unsigned int size)
{
	if (fd->addr != addr)
		return false;
	if (!fd->size)
		return true;
	return fd->size == size && (!fd->match_data || fd->data == data);
}

bool lb_ioeventfd_signal(MemoryRegion *mr, hwaddr addr, uint64_t data,
			 unsigned int size)
{
	const struct lb_ioeventfd_set *set;
	bool hit = false;

	/*
	 * The common case, no ioeventfds, costs one load and no RCU section.
	 * An atomic load, relaxed: the pointer is only tested here, and a
	 * plain (volatile) read racing with the publish is a data race.
	 */
	if (G_LIKELY(!__atomic_load_n(&mr->ioeventfds, __ATOMIC_RELAXED)))
		return false;
	lb_rcu_read_lock();
	set = rcu_dereference(mr->ioeventfds);
	for (unsigned int i = 0; set && i < set->nr; i++) {
		const struct lb_ioeventfd *fd = &set->fd[i];

		/* sorted by address: nothing further on can match */
		if (fd->addr > addr)
			break;
		if (lb_ioeventfd_matches(fd, addr, data, size)) {
			event_notifier_set(fd->e);
			hit = true;
			break;
		}
	}
	lb_rcu_read_unlock();
	return hit;
}

/* ---- adding and deleting ---- */

static void lb_ioeventfd_set_free(void *data)
{
	g_free(data);
}

/* Publishes @set (NULL when empty) as @mr's, the old one after a grace period. */
static void lb_ioeventfd_publish(MemoryRegion *mr, struct lb_ioeventfd_set *set)
{
	struct lb_ioeventfd_set *old = mr->ioeventfds;

	if (!old != !set)
		g_atomic_int_add(&lb_ioeventfd_regions, set ? 1 : -1);
	rcu_assign_pointer(mr->ioeventfds, set);
	if (old)
		lb_call_rcu(lb_ioeventfd_set_free, old);
	/* QEMU: only an enabled region's change reaches the listeners */
	if (mr->enabled)
		lb_memory_ioeventfd_update_pending();
}

/*
 * Checks the arguments of add/del_eventfd and fills @fd; false (with a
 * critical) when they are wrong.
 */
static bool lb_ioeventfd_prepare(MemoryRegion *mr, hwaddr addr,
				 unsigned int size, bool match_data,
				 uint64_t data, EventNotifier *e,
				 struct lb_ioeventfd *fd, const char *func)
{
	if (!lb_region_check(mr, func))
		return false;
	if (!e) {
		g_critical("%s: %s: NULL EventNotifier", func, mr->name);
		return false;
	}
	if (size != 0 && size != 1 && size != 2 && size != 4 && size != 8) {
		g_critical("%s: %s: size %u is not 0, 1, 2, 4 or 8", func,
			   mr->name, size);
		return false;
	}
	if (mr->alias) {
		/* dispatch follows the alias: it would never be matched */
		g_critical("%s: %s is an alias; use its target", func,
			   mr->name);
		return false;
	}
	if ((u128)addr + MAX(size, 1u) > (u128)mr->size) {
		g_critical("%s: %s: %u bytes at 0x%" HWADDR_PRIx
			   " run past the region's end", func, mr->name,
			   size, addr);
		return false;
	}
	*fd = (struct lb_ioeventfd) {
		.addr = addr,
		.size = size,
		.match_data = match_data,
		.data = data,
		.e = e,
	};
	/* QEMU stores the data as the device sees it after the fix-up. */
	if (size)
		fd->data = lb_adjust_endianness(mr, data, size_memop(size));
	return true;
}

static struct lb_ioeventfd_set *lb_ioeventfd_set_new(unsigned int nr)
{
	struct lb_ioeventfd_set *set;

	set = g_malloc(sizeof(*set) + nr * sizeof(set->fd[0]));
	set->nr = nr;
	return set;
}

LOOPBACK_API void memory_region_add_eventfd(MemoryRegion *mr, hwaddr addr,
					    unsigned size, bool match_data,
					    uint64_t data, EventNotifier *e)
{
	const struct lb_ioeventfd_set *old;
	struct lb_ioeventfd_set *set;
	struct lb_ioeventfd fd;
	unsigned int nr, pos = 0;

	if (!lb_ioeventfd_prepare(mr, addr, size, match_data, data, e, &fd,
				  __func__))
		return;
	memory_region_transaction_begin();
	if (mr->enabled && !lb_memory_change_allowed(__func__))
		goto out;
	old = mr->ioeventfds;
	nr = old ? old->nr : 0;
	while (pos < nr && lb_ioeventfd_cmp(&old->fd[pos], &fd) < 0)
		pos++;
	if (pos < nr && lb_ioeventfd_cmp(&old->fd[pos], &fd) == 0) {
		/* a second eventfd_add of the same one would confuse KVM */
		g_critical("%s: %s: this ioeventfd (0x%" HWADDR_PRIx
			   ", size %u) is already registered", __func__,
			   mr->name, addr, size);
		goto out;
	}
	set = lb_ioeventfd_set_new(nr + 1);
	if (pos)
		memcpy(set->fd, old->fd, pos * sizeof(fd));
	set->fd[pos] = fd;
	if (nr > pos)
		memcpy(&set->fd[pos + 1], &old->fd[pos],
		       (nr - pos) * sizeof(fd));
	lb_ioeventfd_publish(mr, set);
out:
	memory_region_transaction_commit();
}

LOOPBACK_API void memory_region_del_eventfd(MemoryRegion *mr, hwaddr addr,
					    unsigned size, bool match_data,
					    uint64_t data, EventNotifier *e)
{
	const struct lb_ioeventfd_set *old;
	struct lb_ioeventfd_set *set = NULL;
	struct lb_ioeventfd fd;
	unsigned int nr, pos = 0;

	if (!lb_ioeventfd_prepare(mr, addr, size, match_data, data, e, &fd,
				  __func__))
		return;
	memory_region_transaction_begin();
	if (mr->enabled && !lb_memory_change_allowed(__func__))
		goto out;
	old = mr->ioeventfds;
	nr = old ? old->nr : 0;
	while (pos < nr && lb_ioeventfd_cmp(&old->fd[pos], &fd) != 0)
		pos++;
	if (pos == nr) {
		g_critical("%s: %s: no such ioeventfd (0x%" HWADDR_PRIx
			   ", size %u)", __func__, mr->name, addr, size);
		goto out;
	}
	if (nr > 1) {
		set = lb_ioeventfd_set_new(nr - 1);
		memcpy(set->fd, old->fd, pos * sizeof(fd));
		memcpy(&set->fd[pos], &old->fd[pos + 1],
		       (nr - pos - 1) * sizeof(fd));
	}
	lb_ioeventfd_publish(mr, set);
out:
	memory_region_transaction_commit();
}

void lb_ioeventfd_free_all(MemoryRegion *mr)
{
	/* Finalised: no view shows the region, so no dispatcher can see it. */
	if (mr->ioeventfds)
		g_atomic_int_add(&lb_ioeventfd_regions, -1);
	g_free(mr->ioeventfds);
	mr->ioeventfds = NULL;
}
