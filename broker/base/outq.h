/* outq.h: each connection's bounded queue of outbound messages.
 *
 * A server frame is serialised once (struct msg, msg.h) and the same
 * bytes are queued on every connection that gets it: frame once, write
 * many. Each connection's queue is a small ring of msg pointers, bounded in
 * count and bytes, allocated on first use so an idle connection costs
 * nothing here. Pure: no libwebsockets, so it is unit-tested alone.
 * Single-threaded: used on the event loop only. */
#ifndef TOCSIN_OUTQ_H
#define TOCSIN_OUTQ_H

#include "msg.h"

#include <stddef.h>
#include <stdint.h>

struct outq {
	struct msg **ring;   /* owned; NULL until the first push */
	unsigned cap;        /* ring slots */
	unsigned head;       /* index of the oldest message */
	unsigned count;
	size_t bytes;        /* payload bytes queued */
};

/* Takes a new reference on m. Returns 0, or -1 when the queue would pass
 * max_msgs or max_bytes (the caller then treats the reader as too slow).
 * When m supersedes a message still queued (same non-zero key), that one
 * is dropped and m goes to the back: a reader that falls behind a burst of
 * board updates gets each site's latest once, not every report. */
int outq_push(struct outq *q, struct msg *m, unsigned max_msgs, size_t max_bytes);
/* The oldest message (still queued), or NULL. */
struct msg *outq_peek(const struct outq *q);
/* The i-th oldest message (0 is outq_peek's), or NULL past the end. */
struct msg *outq_at(const struct outq *q, unsigned i);
/* Drops the oldest message and its reference. */
void outq_pop(struct outq *q);
/* Drops everything and frees the ring. */
void outq_clear(struct outq *q);

#endif
