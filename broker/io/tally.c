/* tally.c: an alert's receipt counts read from a query's answer
 * (tally.h). Loop thread only. */
#include "tally.h"

#include <stdlib.h>

struct tally tally_from_row(PGresult *res, int row, int first)
{
	struct tally t;

	t.recipients = strtol(PQgetvalue(res, row, first), NULL, 10);
	t.delivered = strtol(PQgetvalue(res, row, first + 1), NULL, 10);
	t.acknowledged = strtol(PQgetvalue(res, row, first + 2), NULL, 10);
	t.read = strtol(PQgetvalue(res, row, first + 3), NULL, 10);
	t.escalated = strtol(PQgetvalue(res, row, first + 4), NULL, 10);
	return t;
}
