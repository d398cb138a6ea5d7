// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Read-side protection of flat views.  liburcu's "bulletproof" flavour needs
 * no per-thread registration, so any thread of the application may dispatch.
 */
#include "internal.h"

#include <pthread.h>

struct lb_rcu_work {
	struct rcu_head head;
	void (*fn)(void *data);
	void *data;
};

/*
 * Callbacks queued and not yet finished; loopback_memory_drain() waits for
 * 0.  Sequentially consistent GLib atomics: the decrement after a callback
 * is a release that the drain's load of 0 acquires, so what the callbacks
 * did (finalising regions, free notifies) happens-before drain returns.
 * Every change is a read-modify-write, so a load that sees 0 synchronises
 * with all of them, not just the last.
 */
static gint lb_rcu_pending;
/*
 * Where drain sleeps until lb_rcu_pending is 0.  Not urcu_bp_barrier():
 * besides waiting for callbacks that are not ours, it hands memory between
 * threads inside liburcu, which ThreadSanitizer cannot follow.
 */
static GMutex lb_drain_lock;
static GCond lb_drain_cond;
/* Set on liburcu's callback thread while one of ours runs. */
static __thread bool lb_in_rcu_callback;

#ifdef LB_TSAN
/* Released by every read unlock, acquired by every callback: internal.h. */
int lb_rcu_gp_token;
#endif

/*
 * fork(): liburcu leaves its handlers to the application, which need not
 * know that the library uses it.  Without them, a child forked during a
 * grace period inherits liburcu's locks held by the callback thread,
 * which the child does not have: the child's first new thread to read,
 * or its first drain, waits for ever.  The callback thread pauses first,
 * between two batches, so that no callback of ours is cut in half.
 */
static void lb_rcu_before_fork(void)
{
	urcu_bp_call_rcu_before_fork();
	urcu_bp_before_fork();
}

static void lb_rcu_after_fork_parent(void)
{
	urcu_bp_after_fork_parent();
	urcu_bp_call_rcu_after_fork_parent();
}

/* The parent's pending callbacks move to the child's new thread. */
static void lb_rcu_after_fork_child(void)
{
	urcu_bp_after_fork_child();
	urcu_bp_call_rcu_after_fork_child();
}

/* glibc drops the handlers again if the library is unloaded. */
__attribute__((constructor)) static void lb_rcu_init(void)
{
	if (pthread_atfork(lb_rcu_before_fork, lb_rcu_after_fork_parent,
			   lb_rcu_after_fork_child))
		g_warning("libloopback: no fork handlers (out of memory): a "
			  "child may hang in its first grace period");
}

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

#ifdef LB_TSAN
	/* the queuing thread's writes, then the grace period's readers */
	__tsan_acquire(w);
	__tsan_acquire(&lb_rcu_gp_token);
#endif
	lb_in_rcu_callback = true;
	w->fn(w->data);
	lb_in_rcu_callback = false;
	g_free(w);
	/* the waiter checks under the lock, so the wakeup cannot be lost */
	if (g_atomic_int_dec_and_test(&lb_rcu_pending)) {
		g_mutex_lock(&lb_drain_lock);
		g_cond_broadcast(&lb_drain_cond);
		g_mutex_unlock(&lb_drain_lock);
	}
}

void lb_call_rcu(void (*fn)(void *data), void *data)
{
	struct lb_rcu_work *w = g_new0(struct lb_rcu_work, 1);

	w->fn = fn;
	w->data = data;
	g_atomic_int_inc(&lb_rcu_pending);
#ifdef LB_TSAN
	__tsan_release(w);
#endif
	urcu_bp_call_rcu(&w->head, lb_rcu_run);
}

LOOPBACK_API void loopback_memory_drain(void)
{
	/*
	 * Each would wait for itself: the grace period for this thread's
	 * read section, the callbacks for the lock this thread holds or for
	 * the callback it is running (a free notify, say).
	 */
	if (lb_in_rcu_callback) {
		g_critical("%s: called from an RCU callback (a free notify?)",
			   __func__);
		return;
	}
	if (urcu_bp_read_ongoing()) {
		g_critical("%s: called inside an RCU read-side section",
			   __func__);
		return;
	}
	if (lb_memory_locked()) {
		g_critical("%s: called inside a transaction or with the "
			   "memory lock held", __func__);
		return;
	}
	/*
	 * liburcu's thread runs the callbacks after their grace periods; a
	 * callback may drop the last reference of a region and queue more.
	 */
	g_mutex_lock(&lb_drain_lock);
	while (g_atomic_int_get(&lb_rcu_pending) > 0)
		g_cond_wait(&lb_drain_cond, &lb_drain_lock);
	g_mutex_unlock(&lb_drain_lock);
}
