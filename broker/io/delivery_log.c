/* delivery_log.c: batched delivery records (see delivery_log.h). */
#include "delivery_log.h"
#include "broker.h"
#include "loop_wake.h"
#include "clock.h"
#include "db.h"
#include "delivery_group.h"
#include "journal.h"
#include "log.h"
#include "stream.h"

#include <stdlib.h>
#include <string.h>

#define FLUSH_DELAY_US (20 * 1000)
/* Deliveries per transaction: a publish waits behind at most one. Since
 * PostgreSQL stores a batch as one row per alert, 16,000 cost PostgreSQL about
 * what 4,000 did; fewer round trips let the records keep up (bench, N=5000,
 * 20 alerts/s: records done 1-3 s after the last frame instead of 10 s). */
#define BATCH_MAX 16000
#define KEEP_MAX 1000000 /* deliveries kept in memory while the database is away */
/* ... and while it is up but behind (a burst of 2,000,000 deliveries in a
 * few seconds): spilling those to the journal only moves them to a slower
 * path into the same database (the bench spilled 2,000,000, and their
 * replay then slowed every later phase). 4,000,000 is 128 MiB. */
#define KEEP_MAX_BEHIND 4000000

struct delivery_log {
	struct broker *b;
	tally_hook on_tally;    /* hears the tallies each batch returns */
	struct delivery *buf;   /* owned: waiting to be written, from buf[start] */
	size_t start, len, cap;
	size_t writing;         /* deliveries in the batch being written */
	struct delivery *batch; /* owned: the batch being written */
	char batch_jid[JOURNAL_ID_LEN]; /* its record id (journal.h) */
	int flush_scheduled;
	lws_sorted_usec_list_t sul;
	size_t dropped;
};

static void flush_cb(lws_sorted_usec_list_t *sul);

/* How many deliveries may wait in memory before they go to the journal. */
static size_t keep_max(const struct delivery_log *log)
{
	return stream_writes_direct(log->b) ? KEEP_MAX_BEHIND : KEEP_MAX;
}
static int journal_batch(struct delivery_log *log, const struct delivery *d, size_t n);

/* The oldest delivery waiting to be written. */
static struct delivery *waiting(struct delivery_log *log)
{
	return log->buf + log->start;
}

/* Drops the n oldest waiting deliveries (written or journaled). The rest
 * moves down only once the gap is as large as the rest, so a backlog is
 * not copied again for every small batch taken from its front. */
static void take(struct delivery_log *log, size_t n)
{
	log->start += n;
	log->len -= n;
	if (!log->len) {
		log->start = 0;
	} else if (log->start >= log->len) {
		memmove(log->buf, waiting(log), log->len * sizeof *log->buf);
		log->start = 0;
	}
}

static void schedule(struct delivery_log *log, int64_t delay_us)
{
	if (log->flush_scheduled || log->writing)
		return;
	log->flush_scheduled = 1;
	loop_wake_timer(log->b->ctx, &log->sul, flush_cb, delay_us);
}

void delivery_log_add(struct delivery_log *log, int64_t alert_id, int64_t site_id,
		      int64_t user_id)
{
	/* KEEP_MAX first: keep_max() asks the database state, and this runs
	 * once per delivery */
	if (log->len >= KEEP_MAX && log->len >= keep_max(log)) {
		/* PostgreSQL cannot keep up: spill to the journal (written back
		 * in order) in batch-sized records rather than lose audit records */
		size_t moved = 0;
		while (moved < log->len) {
			size_t n = log->len - moved < BATCH_MAX ? log->len - moved : BATCH_MAX;
			if (journal_batch(log, waiting(log) + moved, n))
				break;
			moved += n;
		}
		take(log, moved);
		log_warn("delivery log over %zu records: %zu moved to the journal", keep_max(log), moved);
	}
	if (log->start + log->len == log->cap && log->start) {
		memmove(log->buf, waiting(log), log->len * sizeof *log->buf);
		log->start = 0;
	}
	if (log->len == log->cap) {
		size_t cap = log->cap ? log->cap * 2 : 1024;
		struct delivery *grown;
		if (log->len >= keep_max(log) || !(grown = realloc(log->buf, cap * sizeof *grown))) {
			if (!log->dropped++)
				log_error("delivery log full and the journal refused it: deliveries "
					  "are no longer recorded");
			return;
		}
		log->buf = grown;
		log->cap = cap;
	}
	log->buf[log->start + log->len++] = (struct delivery){ alert_id, site_id, user_id, clock_now_us() };
	schedule(log, log->len >= BATCH_MAX ? 0 : FLUSH_DELAY_US);
}

/* Writes v in decimal at p; returns the length (no NUL). A delivery batch
 * formats up to 48,000 of these: snprintf cost more than the rest. */
static size_t put_int(char *p, int64_t v)
{
	char tmp[24];
	size_t n = 0, len = 0;
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		p[len++] = '-';
	while (n)
		p[len++] = tmp[--n];
	return len;
}

/* Appends "{a,b,c}"-style array literals for one column. */
static char *array_literal(const struct delivery *d, size_t n, int column)
{
	size_t cap = n * 34 + 3, off = 0;
	char *s = malloc(cap);
	struct clock_iso_cache when = { 0 };

	if (!s)
		return NULL;
	s[off++] = '{';
	for (size_t i = 0; i < n; i++) {
		if (i)
			s[off++] = ',';
		switch (column) {
		case 0: off += put_int(s + off, d[i].alert_id); break;
		case 1:
			if (d[i].site_id) {
				off += put_int(s + off, d[i].site_id);
			} else {
				memcpy(s + off, "NULL", 4);
				off += 4;
			}
			break;
		case 2: off += put_int(s + off, d[i].user_id); break;
		default: off += clock_format_iso_cached(&when, d[i].at_us, s + off); break;
		}
	}
	s[off++] = '}';
	s[off] = '\0';
	return s;
}

/* Journals n deliveries (the database is away), under jid when the batch
 * was already sent under that id. 0 or -1. */
static int journal_batch_id(struct delivery_log *log, const struct delivery *d, size_t n,
			    const char *jid)
{
	json_t *rec = json_pack("{s:[], s:[], s:[], s:[]}", "alerts", "sites", "users", "at");
	int ret;

	if (!rec)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char iso[CLOCK_ISO_LEN];
		clock_format_iso(d[i].at_us, iso);
		json_array_append_new(json_object_get(rec, "alerts"), json_integer(d[i].alert_id));
		json_array_append_new(json_object_get(rec, "sites"), json_integer(d[i].site_id));
		json_array_append_new(json_object_get(rec, "users"), json_integer(d[i].user_id));
		json_array_append_new(json_object_get(rec, "at"), json_string(iso));
	}
	ret = jid ? journal_append_id(log->b->journal, jid, "deliveries", rec)
		  : journal_append(log->b->journal, "deliveries", rec);
	json_decref(rec);
	return ret;
}

static int journal_batch(struct delivery_log *log, const struct delivery *d, size_t n)
{
	return journal_batch_id(log, d, n, NULL);
}

static void batch_done(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct delivery_log *log = arg;

	if (err && err->lost &&
	    journal_batch_id(log, log->batch, log->writing, log->batch_jid) == 0) {
		/* outcome unknown: journaled under the id it was sent with, so
		 * replay skips it if it had committed */
		err = NULL;
		res = NULL;
	}
	if (err) {
		/* Put the batch back in front of what came since, to retry. */
		struct delivery *merged = NULL;
		if (!err->lost)
			log_error("recording %zu deliveries failed: %s (%s)", log->writing,
				  err->message, err->sqlstate);
		if (log->len + log->writing <= keep_max(log) &&
		    (merged = malloc((log->len + log->writing) * sizeof *merged))) {
			memcpy(merged, log->batch, log->writing * sizeof *merged);
			memcpy(merged + log->writing, waiting(log), log->len * sizeof *merged);
			free(log->buf);
			log->buf = merged;
			log->start = 0;
			log->len += log->writing;
			log->cap = log->len;
		} else {
			log->dropped += log->writing;
			log_error("dropping %zu delivery records", log->writing);
		}
	} else if (res) {
		for (int i = 0; i < PQntuples(res); i++) {
			struct tally t = tally_from_row(res, i, 2);
			log->on_tally(b, strtoll(PQgetvalue(res, i, 0), NULL, 10),
				     strtoll(PQgetvalue(res, i, 1), NULL, 10),
				     strtoll(PQgetvalue(res, i, 7), NULL, 10), &t);
		}
	}
	free(log->batch);
	log->batch = NULL;
	log->writing = 0;
	/* the next batch no sooner than FLUSH_DELAY_US unless one is full:
	 * over a connection of their own, batches would otherwise follow
	 * each other at once and stay small, and each costs PostgreSQL a
	 * transaction, a tally per alert and an audit row per alert */
	if (log->len)
		schedule(log, err && err->lost ? 500 * 1000
			      : log->len >= BATCH_MAX ? 0 : FLUSH_DELAY_US);
}

static void write_batch(struct delivery_log *log)
{
	size_t n = log->len < BATCH_MAX ? log->len : BATCH_MAX;
	char *cols[5];
	int ok = 1;

	if (!n || log->writing)
		return;
	if (!stream_writes_direct(log->b)) {
		if (journal_batch(log, waiting(log), n) == 0) {
			take(log, n);
			if (log->len)
				schedule(log, 0);
		} else {
			schedule(log, 500 * 1000);
		}
		return;
	}
	log->batch = malloc(n * sizeof *log->batch);
	if (log->batch) {
		/* each alert's deliveries together: stored as array slices */
		delivery_group_by_alert(log->batch, waiting(log), n);
		for (int c = 0; c < 4; c++)
			ok &= (cols[c + 1] = array_literal(log->batch, n, c)) != NULL;
	} else {
		ok = 0;
		memset(cols, 0, sizeof cols);
	}
	journal_new_id(log->b->journal, log->batch_jid);
	cols[0] = log->batch_jid;
	if (ok) {
		take(log, n);
		log->writing = n;
		/* their own connection, so that the other queries never queue
		 * behind a batch of 16,000 records */
		if (db_query(db_up_or(log->b->db_records, log->b->db),
			     "SELECT alert_id, sender_org_id, recipients, delivered, acknowledged,"
			     "       read, escalated, watcher_org_id"
			     "  FROM tocsin_record_deliveries_once($1, $2::bigint[], $3::integer[],"
			     "                                     $4::integer[], $5::timestamptz[])",
			     5, (const char *const *)cols, batch_done, log)) {
			/* not connected after all: put it back in front */
			if (log->start < n) {
				memmove(log->buf + n, waiting(log), log->len * sizeof *log->buf);
				log->start = n;
			}
			log->start -= n;
			memcpy(waiting(log), log->batch, n * sizeof *log->buf);
			log->len += n;
			log->writing = 0;
			free(log->batch);
			log->batch = NULL;
			schedule(log, 500 * 1000);
		}
	} else {
		free(log->batch);
		log->batch = NULL;
		schedule(log, 100 * 1000);
	}
	for (int c = 1; c < 5; c++)
		free(cols[c]);
}

static void flush_cb(lws_sorted_usec_list_t *sul)
{
	struct delivery_log *log = lws_container_of(sul, struct delivery_log, sul);

	log->flush_scheduled = 0;
	write_batch(log);
}

void delivery_log_flush(struct delivery_log *log)
{
	if (log->flush_scheduled) {
		lws_sul_cancel(&log->sul);
		log->flush_scheduled = 0;
	}
	write_batch(log);
}

size_t delivery_log_pending(const struct delivery_log *log)
{
	return log->len + log->writing;
}

struct delivery_log *delivery_log_new(struct broker *b, tally_hook on_tally)
{
	struct delivery_log *log = calloc(1, sizeof *log);

	if (log) {
		log->b = b;
		log->on_tally = on_tally;
	}
	return log;
}

void delivery_log_free(struct delivery_log *log)
{
	if (!log)
		return;
	lws_sul_cancel(&log->sul);
	if (log->len + log->writing)
		log_error("stopping with %zu deliveries not recorded", log->len + log->writing);
	free(log->buf);
	free(log->batch);
	free(log);
}
