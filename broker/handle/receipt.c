/* receipt.c: a site console acknowledges an alert, or says it was
 * read (displayed to a person); and the sender asks for the receipts.
 *
 * ack and read share one path: tocsin_ack()/tocsin_read() check that the
 * console's site was a recipient, keep the site's first one, audit every
 * one, and return the new tally for the sender's desk. While PostgreSQL is
 * unreachable the receipt is journaled and written back later, in order. */
#include "broker.h"
#include "loop_wake.h"
#include "handle.h"
#include "bus.h"
#include "clock.h"
#include "db.h"
#include "journal.h"
#include "log.h"
#include "stream.h"

#include <stdlib.h>
#include <string.h>

struct receipt_ctx {
	uint64_t session_id;
	char ref[FRAME_REF_MAX + 1];
	int is_ack;               /* ack, else read */
	int64_t alert_id, user_id;
	char remote[48];
	char at[CLOCK_ISO_LEN];
	char jid[JOURNAL_ID_LEN];  /* its record id, direct or journaled */
	char username[USERNAME_MAX + 1]; /* for the bus event */
};

static const char *reply_type(const struct receipt_ctx *r)
{
	return r->is_ack ? "acked" : "read_ok";
}

static const char *time_field(const struct receipt_ctx *r)
{
	return r->is_ack ? "acked_at" : "read_at";
}

/* A receipt made durable (stored anew, or journaled), for /metrics. */
static void count(struct broker *b, const struct receipt_ctx *r)
{
	if (r->is_ack)
		b->metrics.acks++;
	else
		b->metrics.reads++;
}

/* Journals the receipt and confirms it as such. */
static void receipt_journaled(struct broker *b, struct receipt_ctx *r)
{
	struct session *s = session_find(b, r->session_id);
	json_t *rec = json_pack("{s:I, s:I, s:s, s:s}", "user_id", (json_int_t)r->user_id,
				"alert_id", (json_int_t)r->alert_id, "remote", r->remote,
				"at", r->at);

	if (!rec || journal_append_id(b->journal, r->jid, r->is_ack ? "ack" : "read", rec)) {
		if (s)
			session_reply_error(s, r->ref, "unavailable", NULL,
					    "neither the database nor the journal could store it");
	} else {
		count(b, r);
		if (s)
			session_send_json(s, json_pack("{s:s, s:s, s:I, s:s, s:n, s:s}", "type",
						       reply_type(r), "ref", r->ref, "alert_id",
						       (json_int_t)r->alert_id, time_field(r), r->at,
						       "already", "durable", "journal"));
	}
	json_decref(rec);
	free(r);
}

#define RECEIPT_BATCH_MAX 2000
#define RECEIPT_DELAY_US 2000

/* A batch on its way to tocsin_receipt_batch(): the items it answers. */
struct receipt_batch {
	struct receipt_ctx **items;
	size_t n;
};

/* The site's other consoles stop ringing once one acknowledged. */
static void tell_site(struct broker *b, struct receipt_ctx *r, PGresult *res, int row)
{
	struct session *s = session_find(b, r->session_id);
	int64_t site = strtoll(PQgetvalue(res, row, 5), NULL, 10);
	size_t len;
	char *text = frame_dump(json_pack("{s:s, s:I, s:I, s:s, s:s}", "type", "site_acked",
					  "alert_id", (json_int_t)r->alert_id, "site_id",
					  (json_int_t)site, "by", s ? s->who.username : "",
					  "acked_at", PQgetvalue(res, row, 6)),
				&len);
	struct msg *m = text ? msg_new(text, len, MSG_CONTROL, 0) : NULL;

	if (m) {
		/* the other consoles of the site: the acknowledging one has its reply */
		for (lws_dll2_t *d = lws_dll2_get_head(session_site_chain(b, site)); d; d = d->next) {
			struct session *o = lws_container_of(d, struct session, site_link);
			if (o != s && o->who.site_id == site)
				gate_deliver(o, m);
		}
		msg_unref(m);
	}
	free(text);
}

/* Columns: alert_id, sender_org_id, recipients, delivered, acknowledged,
 * read, escalated, watcher_org_id: the new tallies of the alerts that took
 * a copy of the batch's receipts (a relay and its original at a site that
 * got both, tocsin_receipt_linked), to their watchers. */
static void linked_tallies(struct broker *b, void *arg, PGresult *res,
			   const struct db_error *err)
{
	(void)arg;
	if (err) {
		if (!err->lost)
			log_error("tallies of linked alerts: %s", err->message);
		return;
	}
	for (int i = 0; i < PQntuples(res); i++) {
		struct tally t = tally_from_row(res, i, 2);
		fanout_tally(b, strtoll(PQgetvalue(res, i, 0), NULL, 10),
			     strtoll(PQgetvalue(res, i, 1), NULL, 10),
			     strtoll(PQgetvalue(res, i, 7), NULL, 10), &t);
	}
}

/* Asks for the tallies of the alerts linked to the batch's new receipts
 * (rows of tocsin_receipt_batch's answer whose receipt is new). */
static void ask_linked(struct broker *b, struct receipt_batch *batch, PGresult *res)
{
	char *alerts = malloc(batch->n * 24 + 3), *sites = malloc(batch->n * 24 + 3);
	size_t al = 0, sl = 0, k = 0;
	const char *params[2] = { alerts, sites };

	for (size_t i = 0; alerts && sites && i < batch->n && (int)i < PQntuples(res); i++) {
		if (!PQgetisnull(res, (int)i, 1) || !strcmp(PQgetvalue(res, (int)i, 7), "t"))
			continue;
		db_array_add(alerts, &al, k, PQgetvalue(res, (int)i, 4));
		db_array_add(sites, &sl, k++, PQgetvalue(res, (int)i, 5));
	}
	if (k) {
		db_array_end(alerts, &al);
		db_array_end(sites, &sl);
		if (db_query(b->db,
			     "SELECT alert_id, sender_org_id, recipients, delivered, acknowledged, read,"
			     "       escalated, watcher_org_id"
			     "  FROM tocsin_linked_tallies($1::bigint[], $2::integer[])",
			     2, params, linked_tallies, NULL))
			log_warn("tallies of linked alerts not asked: the database is away");
	}
	free(alerts);
	free(sites);
}

/* Columns: idx, err_state, err_message, err_field, alert_id, site_id, at,
 * already, sender_org_id, recipients, delivered, acknowledged, read,
 * escalated, watcher_org_id. One row per item, in order. */
static void batch_stored(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct receipt_batch *batch = arg;
	struct receipt_notices *notices = NULL;
	int last_tally_row = -1;

	if (err && err->lost) {
		/* outcome unknown: journal each; replay applies each once */
		for (size_t i = 0; i < batch->n; i++)
			receipt_journaled(b, batch->items[i]);
		goto out;
	}
	notices = receipt_notices_new(); /* NULL: the desks miss a live hint */
	for (size_t i = 0; i < batch->n; i++) {
		struct receipt_ctx *r = batch->items[i];
		struct session *s = session_find(b, r->session_id);
		int row = err ? -1 : (int)i;

		if (row < 0 || row >= PQntuples(res)) {
			if (s)
				requester_reply_db_error(s, r->ref, err, "unknown_alert");
		} else if (!PQgetisnull(res, row, 1)) {
			struct db_error e = { 0 };
			snprintf(e.sqlstate, sizeof e.sqlstate, "%s", PQgetvalue(res, row, 1));
			snprintf(e.message, sizeof e.message, "%s", PQgetvalue(res, row, 2));
			snprintf(e.column, sizeof e.column, "%s", PQgetvalue(res, row, 3));
			if (s)
				requester_reply_db_error(s, r->ref, &e, "unknown_alert");
		} else {
			int already = !strcmp(PQgetvalue(res, row, 7), "t");
			if (s)
				session_send_json(s, json_pack("{s:s, s:s, s:I, s:s, s:b, s:s}", "type",
							       reply_type(r), "ref", r->ref, "alert_id",
							       (json_int_t)r->alert_id, time_field(r),
							       PQgetvalue(res, row, 6), "already", already,
							       "durable", "database"));
			if (!already)
				count(b, r);
			if (!already)
				bus_emit_receipt(b, r->is_ack, r->alert_id,
						 strtoll(PQgetvalue(res, row, 5), NULL, 10), r->username,
						 PQgetvalue(res, row, 6));
			if (!already && r->is_ack)
				tell_site(b, r, res, row);
			if (!already && notices &&
			    receipt_notices_add(notices, r->is_ack ? "acked" : "read", r->alert_id,
						strtoll(PQgetvalue(res, row, 5), NULL, 10),
						r->username, PQgetvalue(res, row, 6), NULL))
				log_warn("site_receipt notice dropped: out of memory");
			if (!already)
				last_tally_row = row;
		}
		/* one tally per alert and batch: the last row for it is current */
		if (last_tally_row >= 0 &&
		    (i + 1 == batch->n || batch->items[i + 1]->alert_id != r->alert_id)) {
			struct tally t = tally_from_row(res, last_tally_row, 9);
			fanout_tally(b, r->alert_id, strtoll(PQgetvalue(res, last_tally_row, 8), NULL, 10),
				     strtoll(PQgetvalue(res, last_tally_row, 14), NULL, 10), &t);
			last_tally_row = -1;
		}
		free(r);
	}
	receipt_notices_send(b, notices);
	if (!err)
		ask_linked(b, batch, res);
out:
	free(batch->items);
	free(batch);
}

/* Appends one PostgreSQL array element (quoted) to a growing literal. */
static int append(char **buf, size_t *len, size_t *cap, const char *text, int first)
{
	size_t need = strlen(text) * 2 + 4;

	if (*len + need + 2 > *cap) {
		size_t cap2 = (*cap + need) * 2;
		char *grown = realloc(*buf, cap2);
		if (!grown)
			return -1;
		*buf = grown;
		*cap = cap2;
	}
	if (!first)
		(*buf)[(*len)++] = ',';
	(*buf)[(*len)++] = '"';
	for (const char *p = text; *p; p++) {
		if (*p == '"' || *p == '\\')
			(*buf)[(*len)++] = '\\';
		(*buf)[(*len)++] = *p;
	}
	(*buf)[(*len)++] = '"';
	(*buf)[*len] = '\0';
	return 0;
}

/* Sends what waits as one batch (its own transaction). */
static void flush_batch(struct broker *b)
{
	struct receipt_batch *batch;
	char *cols[6] = { 0 };
	size_t len[6] = { 0 }, cap[6] = { 0 };
	int ok = 1;

	b->receipts_scheduled = 0;
	if (!b->n_receipts)
		return;
	batch = calloc(1, sizeof *batch);
	if (!batch)
		return;
	batch->items = b->receipts;
	batch->n = b->n_receipts;
	b->receipts = NULL;
	b->n_receipts = b->cap_receipts = 0;
	for (int c = 0; c < 6; c++) {
		cols[c] = malloc(64);
		ok &= cols[c] != NULL;
		if (cols[c]) {
			cols[c][0] = '{';
			cols[c][1] = '\0';
			len[c] = 1;
			cap[c] = 64;
		}
	}
	for (size_t i = 0; ok && i < batch->n; i++) {
		struct receipt_ctx *r = batch->items[i];
		char user[24], alert[24];
		snprintf(user, sizeof user, "%lld", (long long)r->user_id);
		snprintf(alert, sizeof alert, "%lld", (long long)r->alert_id);
		ok = !append(&cols[0], &len[0], &cap[0], r->is_ack ? "ack" : "read", !i) &&
		     !append(&cols[1], &len[1], &cap[1], user, !i) &&
		     !append(&cols[2], &len[2], &cap[2], alert, !i) &&
		     !append(&cols[3], &len[3], &cap[3], r->remote, !i) &&
		     !append(&cols[4], &len[4], &cap[4], r->at, !i) &&
		     !append(&cols[5], &len[5], &cap[5], r->jid, !i);
	}
	for (int c = 0; ok && c < 6; c++) {
		cols[c][len[c]++] = '}';
		cols[c][len[c]] = '\0';
	}
	if (!ok || db_query(b->db,
			    "SELECT * FROM tocsin_receipt_batch($6::text[], $1::text[], $2::integer[],"
			    "                                   $3::bigint[], $4::text[], $5::timestamptz[])",
			    6, (const char *const *)cols, batch_stored, batch)) {
		for (size_t i = 0; i < batch->n; i++)
			receipt_journaled(b, batch->items[i]);
		free(batch->items);
		free(batch);
	}
	for (int c = 0; c < 6; c++)
		free(cols[c]);
}

static void flush_cb(lws_sorted_usec_list_t *sul)
{
	flush_batch(lws_container_of(sul, struct broker, sul_receipts));
}

void receipt_flush(struct broker *b)
{
	if (b->receipts_scheduled)
		lws_sul_cancel(&b->sul_receipts);
	flush_batch(b);
}

void receipt_free(struct broker *b)
{
	lws_sul_cancel(&b->sul_receipts);
	for (size_t i = 0; i < b->n_receipts; i++)
		free(b->receipts[i]);
	free(b->receipts);
	b->receipts = NULL;
	b->n_receipts = b->cap_receipts = 0;
}

/* Queues r for the next batch, sent within RECEIPT_DELAY_US. */
static void enqueue(struct broker *b, struct receipt_ctx *r)
{
	if (b->n_receipts == b->cap_receipts) {
		size_t cap = b->cap_receipts ? b->cap_receipts * 2 : 64;
		struct receipt_ctx **grown = realloc(b->receipts, cap * sizeof *grown);
		if (!grown) {
			receipt_journaled(b, r);
			return;
		}
		b->receipts = grown;
		b->cap_receipts = cap;
	}
	b->receipts[b->n_receipts++] = r;
	if (b->n_receipts >= RECEIPT_BATCH_MAX) {
		receipt_flush(b);
	} else if (!b->receipts_scheduled) {
		b->receipts_scheduled = 1;
		loop_wake_timer(b->ctx, &b->sul_receipts, flush_cb, RECEIPT_DELAY_US);
	}
}

void receipt_handle(struct session *s, struct client_frame *f)
{
	struct broker *b = lws_context_user(lws_get_context(s->wsi));
	struct receipt_ctx *r;

	if (s->who.role != ROLE_SITE_CONSOLE) {
		session_reply_error(s, f->ref, "forbidden", NULL,
				    f->type == FRAME_ACK ? "only a site console acknowledges alerts"
							 : "only a site console reports reading alerts");
		return;
	}
	r = calloc(1, sizeof *r);
	if (!r) {
		session_reply_error(s, f->ref, "internal", NULL, "out of memory");
		return;
	}
	r->session_id = s->id;
	memcpy(r->ref, f->ref, sizeof r->ref);
	r->is_ack = f->type == FRAME_ACK;
	r->alert_id = f->u.ack.alert_id;
	r->user_id = s->who.user_id;
	memcpy(r->username, s->who.username, sizeof r->username);
	snprintf(r->remote, sizeof r->remote, "%s", s->remote);
	clock_format_iso(clock_now_us(), r->at);
	journal_new_id(b->journal, r->jid);
	if (stream_writes_direct(b))
		enqueue(b, r);
	else
		receipt_journaled(b, r);
}

struct receipts_ctx {
	uint64_t session_id;
	char ref[FRAME_REF_MAX + 1];
	int64_t alert_id;
};

static void receipts_ready(struct broker *b, void *arg, PGresult *res,
			   const struct db_error *err)
{
	struct receipts_ctx *q = arg;
	struct session *s = session_find(b, q->session_id);
	json_t *obj;

	if (s && err) {
		requester_reply_db_error(s, q->ref, err, "unknown_alert");
	} else if (s) {
		obj = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
		if (obj) {
			json_object_set_new(obj, "type", json_string("receipts"));
			json_object_set_new(obj, "ref", json_string(q->ref));
			json_object_set_new(obj, "alert_id", json_integer(q->alert_id));
			session_send_json(s, obj);
		} else {
			session_reply_error(s, q->ref, "internal", NULL, "receipts unreadable");
		}
	}
	free(q);
}

void receipt_handle_batch(struct session *s, struct client_frame *f)
{
	struct broker *b = lws_context_user(lws_get_context(s->wsi));
	struct receipts_ctx *q;
	char user[24], alert[24];
	const char *params[3] = { user, alert, s->remote };

	if (s->who.role == ROLE_SITE_CONSOLE) {
		session_reply_error(s, f->ref, "forbidden", NULL,
				    "only the sending organisation sees receipts");
		return;
	}
	q = calloc(1, sizeof *q);
	if (!q) {
		session_reply_error(s, f->ref, "internal", NULL, "out of memory");
		return;
	}
	q->session_id = s->id;
	memcpy(q->ref, f->ref, sizeof q->ref);
	q->alert_id = f->u.ack.alert_id;
	snprintf(user, sizeof user, "%lld", (long long)s->who.user_id);
	snprintf(alert, sizeof alert, "%lld", (long long)q->alert_id);
	/* audited as a consultation (view_receipts, sql/functions/audit.sql) */
	if (db_query(b->db, "SELECT tocsin_receipts($1, $2, $3)", 3, params, receipts_ready, q)) {
		session_reply_error(s, f->ref, "unavailable", NULL,
				    "the database is not reachable; retry");
		free(q);
	}
}
