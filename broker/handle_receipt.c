/* handle_receipt.c: a site console acknowledges an alert, or says it was
 * read (displayed to a person); and the sender asks for the receipts.
 *
 * ack and read share one path: tocsin_ack()/tocsin_read() check that the
 * console's site was a recipient, keep the site's first one, audit every
 * one, and return the new tally for the sender's desk. While PostgreSQL is
 * unreachable the receipt is journaled and written back later, in order. */
#include "broker.h"
#include "clock.h"
#include "db.h"
#include "journal.h"

#include <stdlib.h>
#include <string.h>

struct receipt_ctx {
	uint64_t session_id;
	char ref[FRAME_REF_MAX + 1];
	int is_ack;               /* ack, else read */
	int64_t alert_id, user_id;
	char remote[48];
	char at[CLOCK_ISO_LEN];
};

static const char *reply_type(const struct receipt_ctx *r)
{
	return r->is_ack ? "acked" : "read_ok";
}

static const char *time_field(const struct receipt_ctx *r)
{
	return r->is_ack ? "acked_at" : "read_at";
}

/* Journals the receipt and confirms it as such. */
static void receipt_journaled(struct broker *b, struct receipt_ctx *r)
{
	struct session *s = broker_find_session(b, r->session_id);
	json_t *rec = json_pack("{s:I, s:I, s:s, s:s}", "user_id", (json_int_t)r->user_id,
				"alert_id", (json_int_t)r->alert_id, "remote", r->remote,
				"at", r->at);

	if (!rec || journal_append(b->journal, r->is_ack ? "ack" : "read", rec)) {
		if (s)
			session_reply_error(s, r->ref, "unavailable", NULL,
					    "neither the database nor the journal could store it");
	} else if (s) {
		session_send_json(s, json_pack("{s:s, s:s, s:I, s:s, s:n, s:s}", "type",
					       reply_type(r), "ref", r->ref, "alert_id",
					       (json_int_t)r->alert_id, time_field(r), r->at,
					       "already", "durable", "journal"));
	}
	json_decref(rec);
	free(r);
}

/* Columns: alert_id, site_id, at, already, sender_org_id, recipients,
 * delivered, acknowledged, read, escalated */
static void receipt_stored(struct broker *b, void *arg, PGresult *res,
			   const struct db_error *err)
{
	struct receipt_ctx *r = arg;
	struct session *s = broker_find_session(b, r->session_id);
	int already;

	if (err && err->lost) {
		receipt_journaled(b, r);
		return;
	}
	if (err) {
		if (s)
			reply_db_error(s, r->ref, err, "unknown_alert");
		free(r);
		return;
	}
	already = !strcmp(PQgetvalue(res, 0, 3), "t");
	if (s)
		session_send_json(s, json_pack("{s:s, s:s, s:I, s:s, s:b, s:s}", "type",
					       reply_type(r), "ref", r->ref, "alert_id",
					       (json_int_t)r->alert_id, time_field(r),
					       PQgetvalue(res, 0, 2), "already", already,
					       "durable", "database"));
	if (!already && r->is_ack) {
		/* the site's other consoles stop ringing */
		size_t len;
		char *text = frame_dump(json_pack("{s:s, s:I, s:I, s:s, s:s}", "type", "site_acked",
						  "alert_id", (json_int_t)r->alert_id, "site_id",
						  (json_int_t)strtoll(PQgetvalue(res, 0, 1), NULL, 10),
						  "by", s ? s->who.username : "", "acked_at",
						  PQgetvalue(res, 0, 2)),
					&len);
		struct msg *m = text ? msg_new(text, len, MSG_CONTROL, 0) : NULL;
		if (m) {
			fanout_to_site(b, m, strtoll(PQgetvalue(res, 0, 1), NULL, 10));
			msg_unref(m);
		}
		free(text);
	}
	if (!already) {
		struct tally t = tally_from_row(res, 0, 5);
		fanout_tally(b, r->alert_id, strtoll(PQgetvalue(res, 0, 4), NULL, 10),
			     strtoll(PQgetvalue(res, 0, 10), NULL, 10), &t);
	}
	free(r);
}

void handle_receipt(struct session *s, struct client_frame *f)
{
	struct broker *b = lws_context_user(lws_get_context(s->wsi));
	struct receipt_ctx *r;
	char user[24], alert[24];
	const char *params[4] = { user, alert, s->remote, NULL };

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
	snprintf(r->remote, sizeof r->remote, "%s", s->remote);
	clock_format_iso(clock_now_us(), r->at);
	if (!broker_writes_direct(b)) {
		receipt_journaled(b, r);
		return;
	}
	snprintf(user, sizeof user, "%lld", (long long)r->user_id);
	snprintf(alert, sizeof alert, "%lld", (long long)r->alert_id);
	params[3] = r->at;
	if (db_query(b->db,
		     r->is_ack
			     ? "SELECT alert_id, site_id, to_char(acked_at AT TIME ZONE 'UTC', "
			       "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), already, sender_org_id, recipients,"
			       " delivered, acknowledged, read, escalated, watcher_org_id"
			       " FROM tocsin_ack($1, $2, $3, $4)"
			     : "SELECT alert_id, site_id, to_char(read_at AT TIME ZONE 'UTC', "
			       "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), already, sender_org_id, recipients,"
			       " delivered, acknowledged, read, escalated, watcher_org_id"
			       " FROM tocsin_read($1, $2, $3, $4)",
		     4, params, receipt_stored, r))
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
	struct session *s = broker_find_session(b, q->session_id);
	json_t *obj;

	if (s && err) {
		reply_db_error(s, q->ref, err, "unknown_alert");
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

void handle_receipts(struct session *s, struct client_frame *f)
{
	struct broker *b = lws_context_user(lws_get_context(s->wsi));
	struct receipts_ctx *q;
	char user[24], alert[24];
	const char *params[2] = { user, alert };

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
	if (db_query(b->db, "SELECT tocsin_receipts($1, $2)", 2, params, receipts_ready, q)) {
		session_reply_error(s, f->ref, "unavailable", NULL,
				    "the database is not reachable; retry");
		free(q);
	}
}
