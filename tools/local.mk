bin_PROGRAMS += tools/loopback-mtree/loopback-mtree
tools_loopback_mtree_loopback_mtree_SOURCES = tools/loopback-mtree/main.c
dist_man1_MANS += tools/loopback-mtree/loopback-mtree.1
include $(srcdir)/tools/loopback-adapter/devices.mk
include $(srcdir)/tools/loopback-adapter/local.mk
