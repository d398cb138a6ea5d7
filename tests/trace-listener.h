/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A MemoryListener that writes every callback as one line into a trace
 * shared by all the listeners of a test, so that a test can compare the
 * whole interleaving with the sequence QEMU produces.  Used by
 * test-listener.c, test-ioeventfd.c and test-coalesced.c.
 *
 * Line formats (hex without 0x; ranges [start,end) in the address space):
 *   TAG begin | TAG commit
 *   TAG add|del|nop NAME[start,end)@offset_in_region[:ro][:nv]
 *   TAG log_start|log_stop NAME[start,end)@offset OLD>NEW
 *   TAG log_sync|log_clear NAME[start,end)@offset
 *   TAG log_sync_global LAST_STAGE
 *   TAG eventfd_add|eventfd_del [start+size] MATCH_DATA DATA E
 *   TAG coalesced_add|coalesced_del NAME[start,end)@offset ADDR+LEN
 *   TAG global_start|global_stop|after_sync
 * E is the EventNotifier's index in TraceWorld's table, or "?".
 */
#ifndef LOOPBACK_TRACE_LISTENER_H
#define LOOPBACK_TRACE_LISTENER_H

#include <stdarg.h>

#include "testutil.h"

typedef struct TraceListener {
	MemoryListener l;
	const char *tag;
	GString *trace;
	/* the notifiers the test uses, to print their index */
	EventNotifier **notifiers;
	unsigned int nr_notifiers;
	/* log_global_start returns this (default: accept) */
	bool refuse_global_start;
	/* checked against every region section's fv when set */
	FlatView *expect_fv;
	bool check_fv;
	/* called at the start of every region_add (misuse probes) */
	void (*on_add)(struct TraceListener *t, MemoryRegionSection *s);
	void *data;
} TraceListener;

static void tl_printf(TraceListener *t, const char *fmt, ...)
	G_GNUC_PRINTF(2, 3);

static void tl_printf(TraceListener *t, const char *fmt, ...)
{
	va_list ap;

	g_string_append_printf(t->trace, "%s ", t->tag);
	va_start(ap, fmt);
	g_string_append_vprintf(t->trace, fmt, ap);
	va_end(ap);
	g_string_append_c(t->trace, '\n');
}

static char *tl_section(TraceListener *t, const MemoryRegionSection *s)
{
	lbt_u128 end = (lbt_u128)s->offset_within_address_space +
		       (lbt_u128)s->size;
	char buf[40];

	if (t->check_fv)
		g_assert_true(s->fv == t->expect_fv);
	return g_strdup_printf("%s[%" PRIx64 ",%s)@%" PRIx64 "%s%s",
			       memory_region_name(s->mr),
			       s->offset_within_address_space,
			       lbt_u128_hex(end, buf),
			       s->offset_within_region,
			       s->readonly ? ":ro" : "",
			       s->nonvolatile ? ":nv" : "");
}

#define TL(l) ((TraceListener *)(l))

static void tl_begin(MemoryListener *l)
{
	tl_printf(TL(l), "begin");
}

static void tl_commit(MemoryListener *l)
{
	tl_printf(TL(l), "commit");
}

static void tl_region(MemoryListener *l, MemoryRegionSection *s,
		      const char *what)
{
	char *sec = tl_section(TL(l), s);

	tl_printf(TL(l), "%s %s", what, sec);
	g_free(sec);
}

static void tl_add(MemoryListener *l, MemoryRegionSection *s)
{
	if (TL(l)->on_add)
		TL(l)->on_add(TL(l), s);
	tl_region(l, s, "add");
}

static void tl_del(MemoryListener *l, MemoryRegionSection *s)
{
	tl_region(l, s, "del");
}

static void tl_nop(MemoryListener *l, MemoryRegionSection *s)
{
	tl_region(l, s, "nop");
}

static void tl_log(MemoryListener *l, MemoryRegionSection *s, int o, int n,
		   const char *what)
{
	char *sec = tl_section(TL(l), s);

	tl_printf(TL(l), "%s %s %x>%x", what, sec, o, n);
	g_free(sec);
}

static void tl_log_start(MemoryListener *l, MemoryRegionSection *s, int o,
			 int n)
{
	tl_log(l, s, o, n, "log_start");
}

static void tl_log_stop(MemoryListener *l, MemoryRegionSection *s, int o,
			int n)
{
	tl_log(l, s, o, n, "log_stop");
}

static void tl_log_sync(MemoryListener *l, MemoryRegionSection *s)
{
	tl_region(l, s, "log_sync");
}

static void tl_log_clear(MemoryListener *l, MemoryRegionSection *s)
{
	tl_region(l, s, "log_clear");
}

static G_GNUC_UNUSED void tl_log_sync_global(MemoryListener *l,
					      bool last_stage)
{
	tl_printf(TL(l), "log_sync_global %d", last_stage);
}

static bool tl_global_start(MemoryListener *l, GError **errp)
{
	tl_printf(TL(l), "global_start");
	if (TL(l)->refuse_global_start) {
		g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_PERM, "%s says no",
			    TL(l)->tag);
		return false;
	}
	return true;
}

static void tl_global_stop(MemoryListener *l)
{
	tl_printf(TL(l), "global_stop");
}

static void tl_after_sync(MemoryListener *l)
{
	tl_printf(TL(l), "after_sync");
}

static void tl_eventfd(MemoryListener *l, MemoryRegionSection *s,
		       bool match_data, uint64_t data, EventNotifier *e,
		       const char *what)
{
	TraceListener *t = TL(l);
	char idx[16] = "?";

	/* QEMU's eventfd sections carry no region */
	g_assert_null(s->mr);
	for (unsigned int i = 0; i < t->nr_notifiers; i++)
		if (t->notifiers[i] == e)
			g_snprintf(idx, sizeof(idx), "e%u", i);
	tl_printf(t, "%s [%" PRIx64 "+%" PRIx64 "] %d %" PRIx64 " %s", what,
		  s->offset_within_address_space, (uint64_t)s->size,
		  match_data, data, idx);
}

static void tl_eventfd_add(MemoryListener *l, MemoryRegionSection *s,
			   bool match_data, uint64_t data, EventNotifier *e)
{
	tl_eventfd(l, s, match_data, data, e, "eventfd_add");
}

static void tl_eventfd_del(MemoryListener *l, MemoryRegionSection *s,
			   bool match_data, uint64_t data, EventNotifier *e)
{
	tl_eventfd(l, s, match_data, data, e, "eventfd_del");
}

static void tl_coalesced(MemoryListener *l, MemoryRegionSection *s,
			 hwaddr addr, hwaddr len, const char *what)
{
	char *sec = tl_section(TL(l), s);

	tl_printf(TL(l), "%s %s %" PRIx64 "+%" PRIx64, what, sec, addr, len);
	g_free(sec);
}

static void tl_coalesced_add(MemoryListener *l, MemoryRegionSection *s,
			     hwaddr addr, hwaddr len)
{
	tl_coalesced(l, s, addr, len, "coalesced_add");
}

static void tl_coalesced_del(MemoryListener *l, MemoryRegionSection *s,
			     hwaddr addr, hwaddr len)
{
	tl_coalesced(l, s, addr, len, "coalesced_del");
}

/* A listener with every callback but log_sync_global (see tl_init_global). */
static void tl_init(TraceListener *t, const char *tag, GString *trace,
		    unsigned int priority)
{
	memset(t, 0, sizeof(*t));
	t->tag = tag;
	t->trace = trace;
	t->l = (MemoryListener) {
		.begin = tl_begin,
		.commit = tl_commit,
		.region_add = tl_add,
		.region_del = tl_del,
		.region_nop = tl_nop,
		.log_start = tl_log_start,
		.log_stop = tl_log_stop,
		.log_sync = tl_log_sync,
		.log_clear = tl_log_clear,
		.log_global_start = tl_global_start,
		.log_global_stop = tl_global_stop,
		.log_global_after_sync = tl_after_sync,
		.eventfd_add = tl_eventfd_add,
		.eventfd_del = tl_eventfd_del,
		.coalesced_io_add = tl_coalesced_add,
		.coalesced_io_del = tl_coalesced_del,
		.priority = priority,
		.name = tag,
	};
}

/* The trace so far as one string, then forgotten. */
static char *tl_take(GString *trace)
{
	char *s = g_strdup(trace->str);

	g_string_truncate(trace, 0);
	return s;
}

/* Checks the trace against the lines of @expected (NULL-terminated). */
#define tl_assert(trace, ...) do {					\
	const char *tl_lines_[] = { __VA_ARGS__, NULL };		\
	char *tl_want_ = g_strjoinv("\n", (char **)tl_lines_);		\
	char *tl_got_ = tl_take(trace);					\
	if (*tl_want_) {						\
		char *tl_w2_ = g_strconcat(tl_want_, "\n", NULL);	\
		g_free(tl_want_);					\
		tl_want_ = tl_w2_;					\
	}								\
	g_assert_cmpstr(tl_got_, ==, tl_want_);				\
	g_free(tl_want_);						\
	g_free(tl_got_);						\
} while (0)

/* ---- misuse: run in a subprocess, count criticals ---- */

static unsigned int tl_criticals;

static GLogWriterOutput tl_count_writer(GLogLevelFlags level,
					const GLogField *fields, gsize n,
					gpointer data)
{
	if (level & G_LOG_LEVEL_CRITICAL)
		g_atomic_int_inc(&tl_criticals);
	return g_log_writer_default(level, fields, n, data);
}

/*
 * Runs @fn in a subprocess in which criticals are counted instead of
 * aborting; the test passes when the child passes and logged a critical.
 */
static G_GNUC_UNUSED void tl_run_misuse(gconstpointer data)
{
	void (*fn)(void) = (void (*)(void))data;

	if (g_test_subprocess()) {
		g_log_set_writer_func(tl_count_writer, NULL, NULL);
		g_log_set_always_fatal(G_LOG_FATAL_MASK);
		fn();
		g_assert_cmpuint(g_atomic_int_get(&tl_criticals), >=, 1);
		return;
	}
	/* not a timing check: the limit only turns a deadlock into a failure */
	g_test_trap_subprocess(NULL, 300 * G_USEC_PER_SEC, 0);
	g_test_trap_assert_passed();
	g_test_trap_assert_stderr("*CRITICAL*");
}

#define tl_add_misuse(path, fn) \
	g_test_add_data_func((path), (gconstpointer)(fn), tl_run_misuse)

#endif /* LOOPBACK_TRACE_LISTENER_H */
