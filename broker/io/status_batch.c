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
 * in lws 4.1.)
 *
 * Lanes: each lane batches on its own database connection (lane 0 the
 * main one, lane 1 the delivery records one), so that PostgreSQL stores
 * two batches at once, on two cores (10,000 reports at once in `make
 * bench`: 16,500 a second over one connection, 22,400 over two). A
 * site's reports always take the lane of its id, so they are stored, and
 * the board hears them, in the order they came. While a lane's connection
 * is down its batches take the other. */
#include "status_batch.h"
#include "log.h"

#include <stdlib.h>

#define STATUS_BATCH_MAX 2000
/* Batches in flight at once: two, so that PostgreSQL stores one while the
 * loop answers the consoles of the other. */
#define STATUS_INFLIGHT_MAX 2

#define STATUS_LANES 2

/* The reports waiting for a batch in one lane. */
struct status_lane {
	struct status_report **items; /* owned, with the reports */
	size_t n, cap;
	int inflight;                 /* batches sent and not answered yet */
};

struct status_batch {
	struct broker *b;
	status_stored_hook on_stored; /* answers each report of a stored batch */
	struct status_lane lanes[STATUS_LANES];
};

/* A batch on its way to tocsin_status_batch(): the reports it answers. */
struct status_inflight {
	struct status_report **items; /* owned, with the reports */
	size_t n;
	int lane;
};

void status_batch_report_free(struct status_report *r)
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
		b->status_batch->on_stored(b, f->items[i], res, (int)i, err);
		status_batch_report_free(f->items[i]);
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

static void flush_batch(struct status_batch *q, int lane, int force);

/* A batch's answer: answers its reports, then sends what waited meanwhile
 * in its lane (not once the broker is stopping: the database may be being
 * freed). */
static void batch_done(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct status_batch *q = b->status_batch;
	int lane = ((struct status_inflight *)arg)->lane;

	batch_stored(b, arg, res, err);
	if (!q)
		return;
	q->lanes[lane].inflight--;
	if (!b->stopping)
		flush_batch(q, lane, 0);
}

/* Sends what waits as one batch (one transaction); answers every report
 * "unavailable" when it cannot be sent. Unless forced or full, waits
 * while STATUS_INFLIGHT_MAX batches are in flight (batch_done sends it
 * then). */
static void flush_batch(struct status_batch *q, int lane, int force)
{
	static const struct db_error unsent = {
		.lost = 1, .message = "the database is not reachable; the report was not stored"
	};
	struct status_lane *l = &q->lanes[lane];
	struct status_inflight *f;
	const char *params[1];
	char *text;

	if (!l->n || (l->inflight >= STATUS_INFLIGHT_MAX && !force && l->n < STATUS_BATCH_MAX))
		return;
	f = malloc(sizeof *f);
	if (!f)
		return; /* the next report or answer retries */
	f->items = l->items;
	f->n = l->n;
	f->lane = lane;
	l->items = NULL;
	l->n = l->cap = 0;
	text = batch_json(f);
	params[0] = text;
	if (!text || db_query(lane ? db_up_or(q->b->db_records, q->b->db)
				   : db_up_or(q->b->db, q->b->db_records),
			      "SELECT * FROM tocsin_status_batch($1::jsonb)", 1, params, batch_done, f)) {
		if (!text)
			log_error("status batch of %zu not sent: out of memory", f->n);
		batch_stored(q->b, f, NULL, &unsent);
	} else {
		l->inflight++;
	}
	free(text);
}

struct status_batch *status_batch_new(struct broker *b, status_stored_hook on_stored)
{
	struct status_batch *q = calloc(1, sizeof *q);

	if (q) {
		q->b = b;
		q->on_stored = on_stored;
	}
	return q;
}

int status_batch_add(struct broker *b, struct status_report *r)
{
	struct status_batch *q = b->status_batch;
	int lane = (int)((uint64_t)r->site_id % STATUS_LANES);
	struct status_lane *l;

	if (!q || (!db_is_up(b->db) && !db_is_up(b->db_records)))
		return -1;
	l = &q->lanes[lane];
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct status_report **grown = realloc(l->items, cap * sizeof *grown);
		if (!grown)
			return -1;
		l->items = grown;
		l->cap = cap;
	}
	l->items[l->n++] = r;
	flush_batch(q, lane, b->stopping); /* stopping: no answer will send it later */
	return 0;
}

void status_batch_flush(struct broker *b)
{
	struct status_batch *q = b->status_batch;

	for (int lane = 0; q && lane < STATUS_LANES; lane++)
		flush_batch(q, lane, 1);
}

void status_batch_free(struct broker *b)
{
	struct status_batch *q = b->status_batch;

	if (!q)
		return;
	for (int lane = 0; lane < STATUS_LANES; lane++) {
		for (size_t i = 0; i < q->lanes[lane].n; i++)
			status_batch_report_free(q->lanes[lane].items[i]);
		free(q->lanes[lane].items);
	}
	free(q);
	b->status_batch = NULL;
}
