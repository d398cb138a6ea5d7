bin_PROGRAMS += tools/loopback-mtree
tools_loopback_mtree_SOURCES = tools/loopback-mtree.c
dist_man1_MANS += tools/loopback-mtree.1
