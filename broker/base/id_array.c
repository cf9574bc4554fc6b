/* id_array.c: the integer arrays PostgreSQL answers with, as arrays of
 * ids (id_array.h). Pure. */
#include "id_array.h"

#include <stdlib.h>

int64_t *id_array_parse(const char *text, size_t *n)
{
	size_t cap = 1, count = 0;
	int64_t *ids;

	for (const char *p = text; *p; p++)
		cap += *p == ',';
	ids = malloc(cap * sizeof *ids);
	if (!ids)
		return NULL;
	for (const char *p = text; *p;) {
		char *end;
		if (*p < '0' || *p > '9') {
			p++;
			continue;
		}
		ids[count++] = strtoll(p, &end, 10);
		p = end;
	}
	*n = count;
	return ids;
}
