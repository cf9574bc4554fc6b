/* outq.c: each connection's bounded queue of shared messages (see
 * outq.h). */
#include "outq.h"

#include <stdlib.h>
#include <string.h>

/* Grows the ring to hold at least want slots, keeping the order. */
static int grow(struct outq *q, unsigned want)
{
	unsigned cap = q->cap ? q->cap * 2 : 8;
	struct msg **ring;

	while (cap < want)
		cap *= 2;
	ring = malloc(cap * sizeof *ring);
	if (!ring)
		return -1;
	for (unsigned i = 0; i < q->count; i++)
		ring[i] = q->ring[(q->head + i) % q->cap];
	free(q->ring);
	q->ring = ring;
	q->cap = cap;
	q->head = 0;
	return 0;
}

/* Drops the queued message that m supersedes, if any, closing the gap so
 * the order of the rest is kept. A scan of the queue: it is short unless
 * the reader is behind. */
static void drop_superseded(struct outq *q, const struct msg *m)
{
	for (unsigned i = q->count; i-- > 0;) {
		struct msg *old = q->ring[(q->head + i) % q->cap];

		if (old->supersedes != m->supersedes)
			continue;
		for (unsigned j = i; j + 1 < q->count; j++)
			q->ring[(q->head + j) % q->cap] = q->ring[(q->head + j + 1) % q->cap];
		q->count--;
		q->bytes -= old->len;
		msg_unref(old);
		return;
	}
}

int outq_push(struct outq *q, struct msg *m, unsigned max_msgs, size_t max_bytes)
{
	if (m->supersedes)
		drop_superseded(q, m);
	if (q->count >= max_msgs || q->bytes + m->len > max_bytes)
		return -1;
	if (q->count == q->cap && grow(q, q->count + 1))
		return -1;
	q->ring[(q->head + q->count) % q->cap] = msg_ref(m);
	q->count++;
	q->bytes += m->len;
	return 0;
}

struct msg *outq_peek(const struct outq *q)
{
	return q->count ? q->ring[q->head] : NULL;
}

struct msg *outq_at(const struct outq *q, unsigned i)
{
	return i < q->count ? q->ring[(q->head + i) % q->cap] : NULL;
}

void outq_pop(struct outq *q)
{
	struct msg *m;

	if (!q->count)
		return;
	m = q->ring[q->head];
	q->head = (q->head + 1) % q->cap;
	q->count--;
	q->bytes -= m->len;
	msg_unref(m);
}

void outq_clear(struct outq *q)
{
	while (q->count)
		outq_pop(q);
	free(q->ring);
	memset(q, 0, sizeof *q);
}
