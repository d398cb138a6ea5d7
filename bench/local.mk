noinst_PROGRAMS += bench/loopback-bench
bench_loopback_bench_SOURCES = bench/loopback-bench.c bench/bench-memory.c bench/bench.h
EXTRA_DIST += bench/README.md bench/blk-vm.sh bench/blk-guest.sh
bench_loopback_bench_CFLAGS = $(AM_CFLAGS) $(DPDK_CFLAGS) \
	-DLOOPBACK_SRCDIR='"$(abs_top_srcdir)"'
bench_loopback_bench_LDADD = $(LDADD) $(DPDK_LIBS) -lm
