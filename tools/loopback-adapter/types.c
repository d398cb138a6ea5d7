// SPDX-License-Identifier: LGPL-2.1-or-later
/* Looking device types up in the table of adapter-devices.c. */
#include "config.h"

#include <string.h>

#include "options.h"
#include "types.h"

const AdapterDeviceType *adapter_device_type_find(const char *name)
{
	for (const AdapterDeviceType *const *t = adapter_device_types; *t; t++)
		if (strcmp((*t)->name, name) == 0)
			return *t;
	return NULL;
}

char *adapter_device_type_names(void)
{
	GString *s = g_string_new(NULL);

	for (const AdapterDeviceType *const *t = adapter_device_types; *t; t++)
		g_string_append_printf(s, "%s%s", s->len ? ", " : "",
				       (*t)->name);
	if (!s->len)
		g_string_append(s, "none");
	return g_string_free(s, false);
}

void adapter_device_types_help(FILE *out)
{
	if (!adapter_device_types[0])
		fprintf(out, "  (none built in)\n");
	for (const AdapterDeviceType *const *t = adapter_device_types; *t;
	     t++) {
		fprintf(out, "  %-20s  %s\n", (*t)->name, (*t)->summary);
		if ((*t)->usage && *(*t)->usage)
			fprintf(out, "  %-20s  keys: %s\n", "", *(*t)->usage);
	}
}
