/* publish_queue.c: a mutex-and-condition ring of hits (publish_queue.h).
 * Hits are about 1 % of reads, so copying one under the lock is cheap. */
#include "publish_queue.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

/* Folding and deadlines use the monotonic clock (immune to clock steps). */
int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Hotlist expiry is wall-clock time. */
int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* All slots allocated up front: no allocation per hit. */
int pubq_init(struct pubq *q, size_t cap)
{
	pthread_condattr_t ca;

	q->slots = calloc(cap, sizeof *q->slots);
	if (!q->slots)
		return -1;
	q->cap = cap;
	q->head = q->count = 0;
	q->closed = 0;
	q->deadline_ms = 0;
	pthread_mutex_init(&q->mu, NULL);
	/* Waits are timed on the monotonic clock, like the deadline. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cv, &ca);
	pthread_condattr_destroy(&ca);
	return 0;
}

/* Never waits: the reading thread must not stall on the broker. */
int pubq_push(struct pubq *q, const struct anpr_hit *h)
{
	int rc = -1;

	pthread_mutex_lock(&q->mu);
	if (!q->closed && q->count < q->cap) {
		q->slots[(q->head + q->count) % q->cap] = *h;
		q->count++;
		rc = 0;
		pthread_cond_signal(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
	return rc;
}

/* Waits on the condition until woken or until the deadline, if any. */
static void wait_locked(struct pubq *q)
{
	struct timespec ts;

	if (!q->deadline_ms) {
		pthread_cond_wait(&q->cv, &q->mu);
		return;
	}
	ts.tv_sec = q->deadline_ms / 1000;
	ts.tv_nsec = (q->deadline_ms % 1000) * 1000000;
	(void)pthread_cond_timedwait(&q->cv, &q->mu, &ts); /* ETIMEDOUT: the loop re-checks */
}

/* The publishing thread's only wait; a passed deadline ends it. */
int pubq_pop(struct pubq *q, struct anpr_hit *out)
{
	int rc = 0;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		if (q->deadline_ms && mono_ms() >= q->deadline_ms)
			break;
		if (q->count) {
			*out = q->slots[q->head];
			q->head = (q->head + 1) % q->cap;
			q->count--;
			rc = 1;
			break;
		}
		if (q->closed)
			break;
		wait_locked(q);
	}
	pthread_mutex_unlock(&q->mu);
	return rc;
}

/* Wakes the publisher so it sees the close and the deadline at once. */
void pubq_close(struct pubq *q, int64_t deadline_ms)
{
	pthread_mutex_lock(&q->mu);
	q->closed = 1;
	if (deadline_ms && (!q->deadline_ms || deadline_ms < q->deadline_ms))
		q->deadline_ms = deadline_ms;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

/* Read under the lock: main sets it while the publisher runs. */
int64_t pubq_deadline(struct pubq *q)
{
	int64_t d;

	pthread_mutex_lock(&q->mu);
	d = q->deadline_ms;
	pthread_mutex_unlock(&q->mu);
	return d;
}

/* What the drain deadline left behind, counted for the log. */
size_t pubq_abandon(struct pubq *q)
{
	size_t n;

	pthread_mutex_lock(&q->mu);
	n = q->count;
	q->count = 0;
	pthread_mutex_unlock(&q->mu);
	return n;
}

/* After the publisher has been joined. */
void pubq_destroy(struct pubq *q)
{
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	free(q->slots);
	q->slots = NULL;
}
