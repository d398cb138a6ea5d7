// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * MERGE: listener.c provides this.  Empty stand-ins so that the dirty
 * logging branch links on its own; the integrator deletes this file.
 */
#include "internal.h"

/* MERGE: listener.c provides this */
LOOPBACK_API void memory_region_sync_dirty_bitmap(MemoryRegion *mr,
						  bool last_stage)
{
}

/* MERGE: listener.c provides this */
LOOPBACK_API void memory_global_after_dirty_log_sync(void)
{
}
