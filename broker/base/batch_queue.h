/* batch_queue.h: requests collected while the previous query is in
 * flight, then sent to PostgreSQL as one query (group commit).
 *
 * The same idea as status_batch.c, for requests that only read (hello's
 * revocation check, a resume's backlog): under a reconnect storm one
 * query, one plan and one result serve hundreds of consoles, instead of
 * one statement, one transaction and one wake-up of the loop each. There
 * is no timer: a request goes at once when fewer than max_inflight
 * queries of its kind are in flight, and otherwise waits for the next
 * answer (batch_queue_done), which sends everything that waits. So a
 * lone request waits for nothing, and under load the batches grow with
 * the load. (An lws timer of a few milliseconds also fires up to a second
 * late under a foreign event loop in lws 4.1.) Pure: the queries are the
 * flush function's; single-threaded (the loop). */
#ifndef TOCSIN_BATCH_QUEUE_H
#define TOCSIN_BATCH_QUEUE_H

#include <stddef.h>

/* What a queue collects. flush gets the items (owned: the array and every
 * item) and their number, and returns 1 when it left a query in flight,
 * whose answer must call batch_queue_done(), or 0 when it answered them
 * all already (database away, sessions gone). free_item frees one unsent
 * item. */
struct batch_kind {
	int (*flush)(void *ctx, void **items, size_t n);
	void (*free_item)(void *item);
	size_t max;        /* at most this many in one query; a full queue goes at once */
	int max_inflight;  /* queries of this kind in flight before requests wait */
};

struct batch_queue {
	const struct batch_kind *kind; /* set by the first add */
	void *ctx;                     /* handed to flush (the broker) */
	void **items;                  /* owned, with the items */
	size_t n, cap;
	int inflight;                  /* queries sent and not answered yet */
	int stopped;                   /* batch_queue_stop: sent at once, never later */
};

/* Queues item (taken over on success) and sends what waits if it may.
 * Returns 0, or -1 when out of memory (item left to the caller). */
int batch_queue_add(struct batch_queue *q, void *ctx, const struct batch_kind *kind,
		    void *item);
/* A query of this queue was answered: sends what waited meanwhile. Not
 * once the queue is stopped (the database may be being freed). */
void batch_queue_done(struct batch_queue *q);
/* The broker is stopping: what is added from now on goes at once (no
 * answer will send it after the loop), and nothing waits for an answer. */
void batch_queue_stop(struct batch_queue *q);
/* Frees what still waits, unsent (after the loop). */
void batch_queue_free(struct batch_queue *q);

#endif
