/* id_array.c: the integer arrays PostgreSQL answers with, as arrays of
 * ids (id_array.h). Pure. */
#include "id_array.h"

#include <stdlib.h>

static int digit(char c)
{
	return c >= '0' && c <= '9';
}

int64_t *id_array_parse(const char *text, size_t *n)
{
	size_t cap = 1, count = 0;
	int64_t *ids;

	/* one id per run of digits, whatever separates them: a NOTIFY
	 * payload (peers.c) is anyone's text, not PostgreSQL's "{1,2}" */
	for (const char *p = text; *p; p++)
		cap += digit(*p) && !digit(p[1]);
	ids = malloc(cap * sizeof *ids);
	if (!ids)
		return NULL;
	for (const char *p = text; *p;) {
		char *end;
		if (!digit(*p)) {
			p++;
			continue;
		}
		ids[count++] = strtoll(p, &end, 10);
		for (p = end; digit(*p); p++)
			; /* the rest of a number too long for strtoll */
	}
	*n = count;
	return ids;
}
