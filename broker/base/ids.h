/* ids.h: alert ids assigned by the broker.
 *
 * The broker names an alert before it is stored, so that an alert can be
 * journaled, delivered and acknowledged while PostgreSQL is away. An id is
 * 41 bits of milliseconds since 2024-01-01 UTC, 4 bits of node id and
 * 8 bits of counter: unique across up to 16 brokers, increasing in time,
 * and below 2^53 so that JavaScript reads it exactly. Pure; single-threaded. */
#ifndef TOCSIN_IDS_H
#define TOCSIN_IDS_H

#include <stdint.h>

#define IDS_EPOCH_MS 1704067200000LL /* 2024-01-01T00:00:00Z */
#define IDS_MAX_NODE 15

struct id_gen {
	unsigned node;     /* 0..IDS_MAX_NODE */
	int64_t last_ms;   /* milliseconds (since IDS_EPOCH_MS) of the last id */
	unsigned counter;  /* ids given out within last_ms */
};

/* The next id for a wall-clock time in milliseconds since the Unix epoch.
 * Never repeats and never decreases, even if the clock steps back or more
 * than 256 ids are asked for within one millisecond (it borrows from the
 * next millisecond). */
int64_t ids_next(struct id_gen *g, int64_t now_unix_ms);

#endif
