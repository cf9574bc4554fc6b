/* status_batch.c: building status reports written in batches (see
 * status_batch.h). One query stores a batch, and each console is answered
 * only after that query committed.
 *
 * Group commit, without a timer: a report goes at once when fewer than
 * two batches are in flight; otherwise it waits, and the next answer
 * sends everything that waited as one batch (at once when it is full).
 * So a lone report waits for nothing; under a burst the batches grow
 * instead of queueing up behind each other in the pipeline (each batch
 * costs about a millisecond of PostgreSQL's time on top of its reports,
 * and a wake-up of the loop), while PostgreSQL still has a batch to store
 * as the loop answers the consoles of the other. (A timer of a few
 * milliseconds also fires up to a second late under a foreign event loop
 * in lws 4.1.) */
#include "status_batch.h"
#include "log.h"

#include <stdlib.h>

#define STATUS_BATCH_MAX 2000
/* Batches in flight at once: two, so that PostgreSQL stores one while the
 * loop answers the consoles of the other. */
#define STATUS_INFLIGHT_MAX 2

/* The reports waiting for a batch. */
struct status_batch {
	struct broker *b;
	struct status_report **items; /* owned, with the reports */
	size_t n, cap;
	int inflight;                 /* batches sent and not answered yet */
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

static void flush_batch(struct status_batch *q, int force);

/* A batch's answer: answers its reports, then sends what waited meanwhile
 * (not once the broker is stopping: the database may be being freed). */
static void batch_done(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct status_batch *q = b->status_batch;

	batch_stored(b, arg, res, err);
	if (!q)
		return;
	q->inflight--;
	if (!b->stopping)
		flush_batch(q, 0);
}

/* Sends what waits as one batch (one transaction); answers every report
 * "unavailable" when it cannot be sent. Unless forced or full, waits
 * while STATUS_INFLIGHT_MAX batches are in flight (batch_done sends it
 * then). */
static void flush_batch(struct status_batch *q, int force)
{
	static const struct db_error unsent = {
		.lost = 1, .message = "the database is not reachable; the report was not stored"
	};
	struct status_inflight *f;
	const char *params[1];
	char *text;

	if (!q->n || (q->inflight >= STATUS_INFLIGHT_MAX && !force && q->n < STATUS_BATCH_MAX))
		return;
	f = malloc(sizeof *f);
	if (!f)
		return; /* the next report or answer retries */
	f->items = q->items;
	f->n = q->n;
	q->items = NULL;
	q->n = q->cap = 0;
	text = batch_json(f);
	params[0] = text;
	if (!text || db_query(q->b->db, "SELECT * FROM tocsin_status_batch($1::jsonb)", 1, params,
			      batch_done, f)) {
		if (!text)
			log_error("status batch of %zu not sent: out of memory", f->n);
		batch_stored(q->b, f, NULL, &unsent);
	} else {
		q->inflight++;
	}
	free(text);
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
	flush_batch(q, b->stopping); /* stopping: no answer will send it later */
	return 0;
}

void status_batch_flush(struct broker *b)
{
	struct status_batch *q = b->status_batch;

	if (!q)
		return;
	flush_batch(q, 1);
}

/* server.c calls this once, after the loop: it also frees the read-only
 * batch queues (hello checks, resumes: batch_queue.h), so that server.c
 * need not know each of them. */
void status_batch_free(struct broker *b)
{
	struct status_batch *q = b->status_batch;

	batch_queue_free(&b->hello_checks);
	batch_queue_free(&b->resumes);
	if (!q)
		return;
	for (size_t i = 0; i < q->n; i++)
		status_report_free(q->items[i]);
	free(q->items);
	free(q);
	b->status_batch = NULL;
}
