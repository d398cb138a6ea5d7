# /dev/loopback for the loopback group, and the module loaded at boot
udevrules_DATA = data/60-loopback.rules
modulesload_DATA = data/loopback.conf
EXTRA_DIST += $(udevrules_DATA) $(modulesload_DATA)

# loopback-adapter@NAME.service: the devices of /etc/loopback/NAME.conf;
# ExecStart names the installed adapter
systemdsystemunit_DATA = data/loopback-adapter@.service
data/loopback-adapter@.service: data/loopback-adapter@.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) data && \
	sed -e 's|@bindir[@]|$(bindir)|g' $(srcdir)/data/loopback-adapter@.service.in >$@.tmp && \
	mv $@.tmp $@
CLEANFILES += data/loopback-adapter@.service
# an /etc/loopback/NAME.conf to start from
dist_doc_DATA = data/loopback-adapter-example.conf
EXTRA_DIST += data/loopback-adapter@.service.in
