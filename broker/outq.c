/* outq.c: shared messages and bounded per-connection queues (see outq.h). */
#include "outq.h"

#include <stdlib.h>
#include <string.h>

/* Writes the RFC 6455 header of a final, unmasked text frame of len bytes
 * just before the payload; returns its length. */
static unsigned frame_header(unsigned char *payload, size_t len)
{
	unsigned char *h;

	if (len < 126) {
		h = payload - 2;
		h[1] = (unsigned char)len;
	} else if (len < 65536) {
		h = payload - 4;
		h[1] = 126;
		h[2] = (unsigned char)(len >> 8);
		h[3] = (unsigned char)len;
	} else {
		h = payload - 10;
		h[1] = 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	}
	h[0] = 0x81; /* FIN, text */
	return (unsigned)(payload - h);
}

struct msg *msg_new(const char *payload, size_t len, enum msg_kind kind, int64_t alert_id)
{
	struct msg *m = malloc(sizeof *m + MSG_HEADROOM + len);

	if (!m)
		return NULL;
	m->refs = 1;
	m->kind = kind;
	m->alert_id = alert_id;
	m->seq = 0;
	m->audience = MSG_TO_CONSOLES | MSG_TO_OPERATORS;
	m->supersedes = 0;
	m->len = len;
	memcpy(m->buf + MSG_HEADROOM, payload, len);
	m->hdr_len = frame_header(m->buf + MSG_HEADROOM, len);
	return m;
}

struct msg *msg_ref(struct msg *m)
{
	m->refs++;
	return m;
}

void msg_unref(struct msg *m)
{
	if (m && --m->refs == 0)
		free(m);
}

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
