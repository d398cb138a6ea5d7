# /dev/loopback for the loopback group, and the module loaded at boot
udevrules_DATA = data/60-loopback.rules
modulesload_DATA = data/loopback.conf
EXTRA_DIST += $(udevrules_DATA) $(modulesload_DATA)
