/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fork() in a process that uses libloopback, the child going on with it
 * (a device process that forks a worker, a test that forks the server it
 * kills).  liburcu runs the library's deferred frees on a thread of its
 * own, which takes liburcu's locks for each grace period: a fork during
 * one used to leave the child with those locks held and no thread to
 * release them, so the child's first new thread to enter a read section,
 * or its first drain, waited for ever.
 *
 * Each round drops a region (which wakes the callback thread for a grace
 * period) and forks at once; the child then enters a read section from a
 * new thread, drops a region of its own and drains.  A child stuck for 20
 * seconds is killed by its alarm, which fails the round.
 */
#include "config.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <loopback/memory.h>

#include "testutil.h"

#define ROUNDS	50

/* Address spaces stay valid until their deferred destruction has run. */
static AddressSpace parent_as[ROUNDS];
static AddressSpace child_as;

struct dropped {
	MemoryRegion mr;
	volatile int *freed;	/* set when it is freed, if not NULL */
};

static void dropped_free(void *data)
{
	struct dropped *d = data;

	if (d->freed)
		*d->freed = 1;
	g_free(d);
}

/*
 * A region whose last reference goes with its address space's view: on
 * the callback thread, after a grace period.
 */
static void drop_view(AddressSpace *as, volatile int *freed)
{
	struct dropped *d = g_new0(struct dropped, 1);

	d->freed = freed;
	memory_region_init_io(&d->mr, NULL, NULL, NULL, "dropped", 0x1000);
	loopback_memory_region_set_free_notify(&d->mr, dropped_free, d);
	address_space_init(as, &d->mr, "dropped");
	memory_region_unref(&d->mr);
	address_space_destroy(as);
}

static void *child_reader(void *arg)
{
	loopback_rcu_read_lock();
	loopback_rcu_read_unlock();
	return arg;
}

/* The child's own work; exits 0 once it is all done. */
static void child_main(void)
{
	volatile int freed = 0;
	GThread *t;

	alarm(20);
	t = g_thread_new("child-reader", child_reader, NULL);
	g_thread_join(t);
	drop_view(&child_as, &freed);
	loopback_memory_drain();
	_exit(freed ? 0 : 3);
}

static void test_child_works_after_fork_during_grace_period(void)
{
	unsigned int i, failed = 0;
	int st;
	pid_t pid;

	for (i = 0; i < ROUNDS; i++) {
		drop_view(&parent_as[i], NULL);
		pid = fork();
		g_assert_cmpint(pid, >=, 0);
		if (pid == 0)
			child_main();
		g_assert_cmpint(waitpid(pid, &st, 0), ==, pid);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			g_test_message("round %u: the child %s %d", i,
				       WIFSIGNALED(st) ? "died of signal" :
				       "exited with", WIFSIGNALED(st) ?
				       WTERMSIG(st) : WEXITSTATUS(st));
			failed++;
		}
	}
	loopback_memory_drain();
	g_assert_cmpuint(failed, ==, 0);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/rcu/fork/child-works-after-fork-during-grace-period",
			test_child_works_after_fork_during_grace_period);
	return g_test_run();
}
