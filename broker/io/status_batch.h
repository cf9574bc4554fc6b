/* status_batch.h: building status reports written in batches.
 *
 * Reports that arrive while earlier batches are being stored are stored
 * together by one call of tocsin_status_batch() (sql/functions/status.sql;
 * group commit, status_batch.c): one transaction and one
 * commit for all, one result for the loop to read, instead of one each.
 * Two lanes, one per database connection, store two batches at once; a
 * site's reports always take the same lane, so they keep their order.
 * Each report runs in its own savepoint there, so a refused one never
 * rolls back its neighbours. Loop thread only. */
#ifndef TOCSIN_STATUS_BATCH_H
#define TOCSIN_STATUS_BATCH_H

#include "broker.h"
#include "db.h"

#include <jansson.h>

/* One report waiting for, or riding in, a batch. */
struct status_report {
	uint64_t session_id;
	int64_t site_id;                 /* the console's: picks the batch's lane */
	char ref[FRAME_REF_MAX + 1];
	int replying;                    /* the report named a request */
	int64_t in_reply_to;
	char username[USERNAME_MAX + 1]; /* for the bus event */
	json_t *args;                    /* owned: tocsin_status()'s arguments */
};

/* Answers one report of a stored batch: res and row hold its outcome
 * (err_state etc. first, then tocsin_status()'s columns), or err says why
 * the whole batch failed. The server registers status.c's (handle/). */
typedef void (*status_stored_hook)(struct broker *b, struct status_report *r, PGresult *res,
				   int row, const struct db_error *err);

/* The broker's queue (b->status_batch); NULL when out of memory. */
struct status_batch *status_batch_new(struct broker *b, status_stored_hook on_stored);
/* Queues r (taken over) for the next batch, sent within a few ms. Returns
 * 0, or -1 when the database is not reachable or memory ran out (r is
 * left to the caller, nothing queued). */
int status_batch_add(struct broker *b, struct status_report *r);
/* Sends what waits now (at stop). */
void status_batch_flush(struct broker *b);
/* Frees the queue and what waits in it, unanswered (after the loop). */
void status_batch_free(struct broker *b);
void status_batch_report_free(struct status_report *r);

#endif
