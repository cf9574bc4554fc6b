/* ids.c: broker-assigned alert ids (see ids.h). */
#include "ids.h"

int64_t ids_next(struct id_gen *g, int64_t now_unix_ms)
{
	int64_t ms = now_unix_ms - IDS_EPOCH_MS;

	if (ms < 0)
		ms = 0;
	if (ms > g->last_ms) {
		g->last_ms = ms;
		g->counter = 0;
	} else if (++g->counter > 255) {
		g->last_ms++;
		g->counter = 0;
	}
	return (g->last_ms << 12) | ((int64_t)(g->node & 15) << 8) | g->counter;
}
