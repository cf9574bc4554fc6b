/* delivery_group.c: a batch of deliveries, ordered alert by alert (see
 * delivery_group.h). */
#include "delivery_group.h"

#include <string.h>

#define SLOTS (2 * DELIVERY_GROUP_MAX_ALERTS) /* open addressing, at most half full */

struct group {
	int64_t alert_id;
	size_t count, next; /* deliveries; where its next one goes in dst */
	int used;
};

/* The slot of alert_id in the table: its own or the free one to take. */
static size_t slot_of(const struct group *table, int64_t alert_id)
{
	size_t i = (size_t)((uint64_t)alert_id * 0x9E3779B97F4A7C15ULL >> 53) % SLOTS;

	while (table[i].used && table[i].alert_id != alert_id)
		i = (i + 1) % SLOTS;
	return i;
}

/* A counting sort by alert, stable: two passes over the batch and one over
 * its alerts, so a batch of 16,000 costs the loop little. */
size_t delivery_group_by_alert(struct delivery *dst, const struct delivery *src, size_t n)
{
	struct group table[SLOTS] = { 0 }; /* 64 KiB of stack */
	size_t order[DELIVERY_GROUP_MAX_ALERTS], alerts = 0, at = 0;

	for (size_t i = 0; i < n; i++) {
		size_t s = slot_of(table, src[i].alert_id);
		if (!table[s].used) {
			if (alerts == DELIVERY_GROUP_MAX_ALERTS) {
				memcpy(dst, src, n * sizeof *dst);
				return 0;
			}
			table[s] = (struct group){ .alert_id = src[i].alert_id, .used = 1 };
			order[alerts++] = s;
		}
		table[s].count++;
	}
	for (size_t g = 0; g < alerts; g++) {
		table[order[g]].next = at;
		at += table[order[g]].count;
	}
	for (size_t i = 0; i < n; i++)
		dst[table[slot_of(table, src[i].alert_id)].next++] = src[i];
	return alerts;
}
