/* publish_queue.h: the bounded queue between the reading thread (which
 * must never wait for the broker) and the publishing thread. A full queue
 * refuses the hit at once; the reader logs and counts it. */
#ifndef TOCSIN_ANPR_PUBLISH_QUEUE_H
#define TOCSIN_ANPR_PUBLISH_QUEUE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "match.h"

struct pubq {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct anpr_hit *slots;   /* cap hits, owned */
	size_t cap, head, count;
	int closed;               /* no more pushes; pop drains what is left */
	int64_t deadline_ms;      /* monotonic ms after which the rest is abandoned; 0 = none */
};

/* 0, or -1 when out of memory. */
int pubq_init(struct pubq *q, size_t cap);
/* Copies *h in: 0, or -1 when the queue is full or closed. Never waits. */
int pubq_push(struct pubq *q, const struct anpr_hit *h);
/* Waits for a hit: 1 and *out filled, or 0 when the queue is closed and
 * empty, or its deadline has passed. */
int pubq_pop(struct pubq *q, struct anpr_hit *out);
/* No more pushes. deadline_ms (monotonic) bounds the draining; 0 = drain
 * everything. A later call may only bring the deadline closer. */
void pubq_close(struct pubq *q, int64_t deadline_ms);
/* The deadline set by pubq_close (0 = none). */
int64_t pubq_deadline(struct pubq *q);
/* Drops what is still queued and returns how many. */
size_t pubq_abandon(struct pubq *q);
void pubq_destroy(struct pubq *q);

/* CLOCK_MONOTONIC and CLOCK_REALTIME in ms. */
int64_t mono_ms(void);
int64_t wall_ms(void);

#endif
