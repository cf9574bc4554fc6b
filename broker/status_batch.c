/* status_batch.c: building status reports written in batches (see
 * status_batch.h). The queue is modelled on the acks' and reads'
 * (handle_receipt.c): a short timer collects reports, one query stores
 * them, and each console is answered only after that query committed. */
#include "status_batch.h"
#include "log.h"

#include <stdlib.h>

#define STATUS_BATCH_MAX 2000
#define STATUS_DELAY_US 2000

/* The reports waiting for the timer. */
struct status_batch {
	struct broker *b;
	struct status_report **items; /* owned, with the reports */
	size_t n, cap;
	int scheduled;
	lws_sorted_usec_list_t sul;
};

/* A batch on its way to tocsin_status_batch(): the reports it answers. */
struct status_inflight {
	struct status_report **items; /* owned, with the reports */
	size_t n;
};

void status_report_free(struct status_report *r)
{
	if (!r)
		return;
	json_decref(r->args);
	free(r);
}

/* Answers each report of a batch from its own row, then frees them. */
static void batch_stored(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct status_inflight *f = arg;

	for (size_t i = 0; i < f->n; i++) {
		status_report_done(b, f->items[i], res, (int)i, err);
		status_report_free(f->items[i]);
	}
	free(f->items);
	free(f);
}

/* The batch's argument: a JSON array of every report's arguments, in
 * order (row i of the answer is report i). NULL when out of memory. */
static char *batch_json(struct status_inflight *f)
{
	json_t *all = json_array();
	char *text;

	for (size_t i = 0; all && i < f->n; i++)
		if (json_array_append(all, f->items[i]->args)) {
			json_decref(all);
			return NULL;
		}
	text = all ? json_dumps(all, JSON_COMPACT) : NULL;
	json_decref(all);
	return text;
}

/* Sends what waits as one batch (one transaction); answers every report
 * "unavailable" when it cannot be sent. */
static void flush_batch(struct status_batch *q)
{
	static const struct db_error unsent = {
		.lost = 1, .message = "the database is not reachable; the report was not stored"
	};
	struct status_inflight *f;
	const char *params[1];
	char *text;

	q->scheduled = 0;
	if (!q->n)
		return;
	f = malloc(sizeof *f);
	if (!f)
		return; /* the timer of the next report retries */
	f->items = q->items;
	f->n = q->n;
	q->items = NULL;
	q->n = q->cap = 0;
	text = batch_json(f);
	params[0] = text;
	if (!text || db_query(q->b->db, "SELECT * FROM tocsin_status_batch($1::jsonb)", 1, params,
			      batch_stored, f)) {
		if (!text)
			log_error("status batch of %zu not sent: out of memory", f->n);
		batch_stored(q->b, f, NULL, &unsent);
	}
	free(text);
}

static void flush_cb(lws_sorted_usec_list_t *sul)
{
	flush_batch(lws_container_of(sul, struct status_batch, sul));
}

/* The broker's queue, created on first use; NULL when out of memory. */
static struct status_batch *queue_of(struct broker *b)
{
	if (!b->status_batch && (b->status_batch = calloc(1, sizeof *b->status_batch)))
		b->status_batch->b = b;
	return b->status_batch;
}

int status_batch_add(struct broker *b, struct status_report *r)
{
	struct status_batch *q = queue_of(b);

	if (!q || !db_is_up(b->db))
		return -1;
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;
		struct status_report **grown = realloc(q->items, cap * sizeof *grown);
		if (!grown)
			return -1;
		q->items = grown;
		q->cap = cap;
	}
	q->items[q->n++] = r;
	if (q->n >= STATUS_BATCH_MAX) {
		status_batch_flush(b);
	} else if (!q->scheduled) {
		q->scheduled = 1;
		lws_sul_schedule(b->ctx, 0, &q->sul, flush_cb, STATUS_DELAY_US);
	}
	return 0;
}

void status_batch_flush(struct broker *b)
{
	struct status_batch *q = b->status_batch;

	if (!q)
		return;
	if (q->scheduled)
		lws_sul_cancel(&q->sul);
	flush_batch(q);
}

void status_batch_free(struct broker *b)
{
	struct status_batch *q = b->status_batch;

	if (!q)
		return;
	lws_sul_cancel(&q->sul);
	for (size_t i = 0; i < q->n; i++)
		status_report_free(q->items[i]);
	free(q->items);
	free(q);
	b->status_batch = NULL;
}
