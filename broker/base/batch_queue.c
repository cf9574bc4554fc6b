/* batch_queue.c: requests collected while the previous query is in
 * flight, then sent as one query (see batch_queue.h). */
#include "batch_queue.h"

#include <stdlib.h>

/* Hands everything waiting to the kind's flush. */
static void flush_now(struct batch_queue *q)
{
	void **items = q->items;
	size_t n = q->n;

	q->items = NULL;
	q->n = q->cap = 0;
	if (n && q->kind->flush(q->ctx, items, n))
		q->inflight++;
	else if (!n)
		free(items);
}

int batch_queue_add(struct batch_queue *q, void *ctx, const struct batch_kind *kind,
		    void *item)
{
	q->kind = kind;
	q->ctx = ctx;
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;
		void **grown = realloc(q->items, cap * sizeof *grown);
		if (!grown)
			return -1;
		q->items = grown;
		q->cap = cap;
	}
	q->items[q->n++] = item;
	/* stopping: at once, as no answer will send it after the loop */
	if (q->n >= kind->max || q->inflight < kind->max_inflight || q->stopped)
		flush_now(q);
	return 0;
}

void batch_queue_done(struct batch_queue *q)
{
	if (q->inflight > 0)
		q->inflight--;
	if (q->n && q->inflight < q->kind->max_inflight && !q->stopped)
		flush_now(q);
}

void batch_queue_stop(struct batch_queue *q)
{
	q->stopped = 1;
}

void batch_queue_free(struct batch_queue *q)
{
	for (size_t i = 0; i < q->n; i++)
		q->kind->free_item(q->items[i]);
	free(q->items);
	q->items = NULL;
	q->n = q->cap = 0;
}
