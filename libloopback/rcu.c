// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Read-side protection of flat views.  liburcu's "bulletproof" flavour needs
 * no per-thread registration, so any thread of the application may dispatch.
 */
#include "internal.h"

struct lb_rcu_work {
	struct rcu_head head;
	void (*fn)(void *data);
	void *data;
};

/* Callbacks queued and not yet finished; loopback_memory_drain() waits for 0. */
static gint lb_rcu_pending;

LOOPBACK_API void loopback_rcu_read_lock(void)
{
	lb_rcu_read_lock();
}

LOOPBACK_API void loopback_rcu_read_unlock(void)
{
	lb_rcu_read_unlock();
}

static void lb_rcu_run(struct rcu_head *head)
{
	struct lb_rcu_work *w = caa_container_of(head, struct lb_rcu_work, head);

	w->fn(w->data);
	g_free(w);
	g_atomic_int_dec_and_test(&lb_rcu_pending);
}

void lb_call_rcu(void (*fn)(void *data), void *data)
{
	struct lb_rcu_work *w = g_new0(struct lb_rcu_work, 1);

	w->fn = fn;
	w->data = data;
	g_atomic_int_inc(&lb_rcu_pending);
	urcu_bp_call_rcu(&w->head, lb_rcu_run);
}

LOOPBACK_API void loopback_memory_drain(void)
{
	/* A callback may drop the last reference of a region and queue more. */
	while (g_atomic_int_get(&lb_rcu_pending) > 0)
		urcu_bp_barrier();
}
