/* relay.c: the force previews who an alert would reach; a company
 * relays a force alert to its own sites; a console answers a request.
 *
 * Each is one SQL function that checks, stores and audits in one
 * transaction (sql/functions/alerts.sql); this file checks the message's
 * members, runs it, and tells the right desks. None of these is journaled:
 * while the database is away they answer "unavailable". */
#include "broker.h"
#include "handle.h"
#include "bus.h"
#include "clock.h"
#include "db.h"
#include "frame_check.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

struct request_ctx {
	uint64_t session_id;
	char ref[FRAME_REF_MAX + 1];
	char username[USERNAME_MAX + 1];
	int64_t alert_id;
	/* answer: what the bus event says */
	int64_t site_id;
	char choice[41];             /* "" when the answer is a number */
	int64_t number;
};

static struct request_ctx *request_ctx_new(struct session *s, struct client_frame *f)
{
	struct request_ctx *q = calloc(1, sizeof *q);

	if (!q) {
		session_reply_error(s, f->ref, "internal", NULL, "out of memory");
		return NULL;
	}
	q->session_id = s->id;
	memcpy(q->ref, f->ref, sizeof q->ref);
	memcpy(q->username, s->who.username, sizeof q->username);
	return q;
}

/* Runs sql or answers unavailable; takes q. */
static void run(struct broker *b, struct session *s, const char *sql, int n,
		const char *const *params, db_result_fn cb, struct request_ctx *q)
{
	if (db_query(b->db, sql, n, params, cb, q)) {
		session_reply_error(s, q->ref, "unavailable", NULL,
				    "the database is not reachable; the request had no effect");
		free(q);
	}
}

static void preview_ready(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct request_ctx *q = arg;
	struct session *s = session_find(b, q->session_id);
	json_t *obj;

	if (s && err) {
		requester_reply_db_error(s, q->ref, err, "unknown_target");
	} else if (s && (obj = json_loads(PQgetvalue(res, 0, 0), 0, NULL))) {
		json_object_set_new(obj, "type", json_string("preview"));
		json_object_set_new(obj, "ref", json_string(q->ref));
		session_send_json(s, obj);
	}
	free(q);
}

void relay_preview(struct session *s, struct client_frame *f)
{
	struct broker *b = lws_context_user(lws_get_context(s->wsi));
	struct client_frame check;
	struct frame_error err;
	struct request_ctx *q;
	char user[24], *rec;
	json_t *msg;

	if (s->who.role != ROLE_CONTROLLER && s->who.role != ROLE_ANALYST) {
		session_reply_error(s, f->ref, "forbidden", NULL,
				    "only controllers and analysts may preview recipients");
		return;
	}
	/* the same checks as publish, with a placeholder headline and
	 * severity, which a preview does not need */
	msg = json_deep_copy(f->root);
	json_object_set_new(msg, "type", json_string("publish"));
	if (!json_object_get(msg, "headline"))
		json_object_set_new(msg, "headline", json_string("preview"));
	if (!json_object_get(msg, "severity"))
		json_object_set_new(msg, "severity", json_string("minor"));
	json_object_del(msg, "msg_type");
	json_object_del(msg, "references");
	rec = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (!rec || frame_parse(rec, strlen(rec), &check, &err)) {
		if (rec) {
			memcpy(err.ref, f->ref, sizeof err.ref);
			session_send_error(s, &err);
		}
		free(rec);
		return;
	}
	free(rec);
	rec = json_dumps(check.u.publish.rec, JSON_COMPACT);
	frame_free(&check);
	if (!rec || !(q = request_ctx_new(s, f))) {
		free(rec);
		return;
	}
	snprintf(user, sizeof user, "%lld", (long long)s->who.user_id);
	{
		const char *params[2] = { user, rec };
		run(b, s, "SELECT tocsin_preview($1, $2::jsonb)", 2, params, preview_ready, q);
	}
	free(rec);
}

/* The notice carries the relay alert and its signature: its note is text
 * the company wrote for the force's desks, and a desk shows it only as
 * verified when the summary members match the signed alert (signed.js,
 * control/verify.js). The signature is the relay's own, made once for
 * its frames (relayed, nodes.c): nothing more is signed for the notice. */
void relay_notice(struct broker *b, const json_t *alert, json_t *sig, const int64_t *sites,
		  size_t n, int64_t watcher_org, const char *classification)
{
	json_t *relay = json_object_get(alert, "relay"), *site_list = json_array();
	struct msg *m;
	size_t len;
	char *text;

	for (size_t i = 0; site_list && i < n; i++)
		json_array_append_new(site_list, json_integer(sites[i]));
	text = frame_dump(json_pack("{s:s, s:O?, s:O?, s:O?, s:O?, s:o, s:O, s:O, s:O?}", "type",
				    "relay_notice", "alert_id", json_object_get(relay, "of"),
				    "relay_id", json_object_get(alert, "id"),
				    "by_org_id", json_object_get(relay, "by_org_id"),
				    "by_org_name", json_object_get(relay, "by_org_name"),
				    "sites", site_list ? site_list : json_array(),
				    "note", json_object_get(relay, "note") ?: json_null(),
				    "alert", alert, "signature", sig),
			  &len);
	if (text && (m = msg_new(text, len, MSG_CONTROL, 0))) {
		m->audience = alert_frame_audience("", classification); /* the note may be sensitive */
		fanout_to_watchers(b, m, watcher_org, 0);
		msg_unref(m);
	}
	free(text);
}

/* Columns: alert_id, seq, recipient_sites, sender_org_id, sender_org_name,
 * watcher_org_id, classification, alert */
static void relayed(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct request_ctx *q = arg;
	struct session *s = session_find(b, q->session_id);
	int64_t id, seq, *sites;
	size_t n = 0;
	json_t *alert, *sig;
	struct msg *m;

	if (err) {
		if (s)
			requester_reply_db_error(s, q->ref, err, "unknown_alert");
		free(q);
		return;
	}
	id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	seq = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	alert = json_loads(PQgetvalue(res, 0, 7), 0, NULL);
	sites = id_array_parse(PQgetvalue(res, 0, 2), &n);
	sig = alert_frame_sign_kept(b, id, alert); /* once, for both frames, and kept */
	if (alert && sites &&
	    (m = alert_frame_signed_msg(json_incref(sig), id, seq, json_incref(alert), NULL,
					alert_frame_audience("site_console", PQgetvalue(res, 0, 6))))) {
		nodes_fan_out(b, m, sites, n, NULL, 0);
		msg_unref(m);
	}
	if (seq > b->head)
		b->head = seq;
	if (s)
		session_send_json(s, json_pack("{s:s, s:s, s:I, s:I, s:i}", "type", "relayed",
					       "ref", q->ref, "alert_id", (json_int_t)id, "of",
					       (json_int_t)q->alert_id, "recipients", (int)n));
	if (alert) {
		relay_notice(b, alert, sig, sites, sites ? n : 0,
			     strtoll(PQgetvalue(res, 0, 5), NULL, 10), PQgetvalue(res, 0, 6));
		in_force_live(b, id, alert, sig, (int)n, 0);
	}
	{
		struct tally t = { .recipients = (long)n };
		fanout_tally(b, id, strtoll(PQgetvalue(res, 0, 3), NULL, 10),
			     strtoll(PQgetvalue(res, 0, 5), NULL, 10), &t);
	}
	log_info("alert %lld relayed by %s as %lld to %zu sites", (long long)q->alert_id,
		 q->username, (long long)id, n);
	free(sites);
	json_decref(alert);
	json_decref(sig);
	free(q);
}

void relay_handle(struct session *s, struct client_frame *f)
{
	struct broker *b = lws_context_user(lws_get_context(s->wsi));
	struct frame_error err = { 0 };
	struct request_ctx *q;
	json_t *sites = json_object_get(f->root, "sites"), *v;
	const char *note;
	int64_t of_id;
	char id[24], user[24], of[24], list[FRAME_TARGETS_MAX * 12 + 3];
	size_t i, off = 0;

	memcpy(err.ref, f->ref, sizeof err.ref);
	if (s->who.role != ROLE_COMPANY_OPERATOR) {
		session_reply_error(s, f->ref, "forbidden", NULL, "only a company operator relays alerts");
		return;
	}
	if (frame_check_int(f->root, "alert_id", 1, 1LL << 53, 1, &of_id, NULL, &err) ||
	    frame_check_string(f->root, "note", 0, 1000, 0, &note, &err)) {
		session_send_error(s, &err);
		return;
	}
	list[off++] = '{';
	if (sites && !json_is_null(sites)) {
		if (!json_is_array(sites) || json_array_size(sites) > FRAME_TARGETS_MAX) {
			session_reply_error(s, f->ref, "bad_field", "sites",
					    "sites must be an array of site ids");
			return;
		}
		json_array_foreach(sites, i, v) {
			if (!json_is_integer(v) || json_integer_value(v) <= 0 ||
			    json_integer_value(v) > INT32_MAX) {
				char field[FRAME_FIELD_MAX];
				snprintf(field, sizeof field, "sites[%zu]", i);
				session_reply_error(s, f->ref, "bad_field", field,
						    "each site must be a positive integer id");
				return;
			}
			off += (size_t)snprintf(list + off, sizeof list - off, i ? ",%lld" : "%lld",
						(long long)json_integer_value(v));
		}
	}
	list[off++] = '}';
	list[off] = '\0';
	if (!(q = request_ctx_new(s, f)))
		return;
	q->alert_id = of_id;
	snprintf(id, sizeof id, "%lld", (long long)ids_next(&b->ids, clock_now_us() / 1000));
	snprintf(user, sizeof user, "%lld", (long long)s->who.user_id);
	snprintf(of, sizeof of, "%lld", (long long)of_id);
	{
		const char *params[6] = { id, user, of, list, note, s->remote }; /* note may be NULL */
		run(b, s,
		    "SELECT alert_id, seq, recipient_sites, sender_org_id, sender_org_name,"
		    "       watcher_org_id, classification, alert"
		    "  FROM tocsin_relay($1, $2, $3, $4, $5, $6)",
		    6, params, relayed, q);
	}
}

/* The desk of the company guarding the answering site sees its answer
 * live (site_receipt, receipt_notices.c). */
static void notify_company_desk(struct broker *b, const struct request_ctx *q, const char *at)
{
	struct receipt_notices *n = receipt_notices_new();
	char number[24];

	snprintf(number, sizeof number, "%lld", (long long)q->number);
	if (n && receipt_notices_add(n, "answered", q->alert_id, q->site_id, q->username, at,
				     q->choice[0] ? q->choice : number))
		log_warn("site_receipt notice dropped: out of memory");
	receipt_notices_send(b, n);
}

/* The new summary of one alert's answers to its watchers (row of
 * tocsin_answer's answer). */
static void send_summary(struct broker *b, PGresult *res, int row)
{
	json_t *summary = json_loads(PQgetvalue(res, row, 4), 0, NULL);
	struct msg *m;
	char *text;
	size_t len;

	if (!summary)
		return;
	json_object_set_new(summary, "type", json_string("answers"));
	json_object_set_new(summary, "alert_id",
			    json_integer(strtoll(PQgetvalue(res, row, 0), NULL, 10)));
	text = frame_dump(summary, &len);
	if (text && (m = msg_new(text, len, MSG_CONTROL, 0))) {
		fanout_to_watchers(b, m, strtoll(PQgetvalue(res, row, 2), NULL, 10),
				   strtoll(PQgetvalue(res, row, 3), NULL, 10));
		msg_unref(m);
	}
	free(text);
}

/* Columns: alert_id, answered_at, sender_org_id, watcher_org_id, summary;
 * the answered alert first, then the alerts that took a copy of the
 * answer (a relay and its original at a site that got both). */
static void answered(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct request_ctx *q = arg;
	struct session *s = session_find(b, q->session_id);

	if (err) {
		if (s)
			requester_reply_db_error(s, q->ref, err, "unknown_alert");
		free(q);
		return;
	}
	if (s)
		session_send_json(s, json_pack("{s:s, s:s, s:I, s:s}", "type", "answered", "ref",
					       q->ref, "alert_id", (json_int_t)q->alert_id,
					       "answered_at", PQgetvalue(res, 0, 1)));
	bus_emit_answer(b, q->alert_id, q->site_id, q->username, q->choice[0] ? q->choice : NULL,
			q->number, PQgetvalue(res, 0, 1));
	notify_company_desk(b, q, PQgetvalue(res, 0, 1));
	for (int i = 0; i < PQntuples(res); i++)
		send_summary(b, res, i);
	free(q);
}

void relay_answer(struct session *s, struct client_frame *f)
{
	struct broker *b = lws_context_user(lws_get_context(s->wsi));
	struct frame_error err = { 0 };
	struct request_ctx *q;
	const char *choice;
	int64_t alert_id, number;
	int has_number;
	char user[24], alert[24], num[24];

	memcpy(err.ref, f->ref, sizeof err.ref);
	if (s->who.role != ROLE_SITE_CONSOLE) {
		session_reply_error(s, f->ref, "forbidden", NULL, "only a site console answers requests");
		return;
	}
	if (frame_check_int(f->root, "alert_id", 1, 1LL << 53, 1, &alert_id, NULL, &err) ||
	    frame_check_string(f->root, "choice", 1, 40, 0, &choice, &err) ||
	    frame_check_int(f->root, "number", 0, 1000000, 0, &number, &has_number, &err)) {
		session_send_error(s, &err);
		return;
	}
	if (!choice == !has_number) {
		session_reply_error(s, f->ref, choice ? "bad_field" : "missing_field", "choice",
				    "an answer gives either choice or number");
		return;
	}
	if (!(q = request_ctx_new(s, f)))
		return;
	q->alert_id = alert_id;
	q->site_id = s->who.site_id;
	snprintf(q->choice, sizeof q->choice, "%s", choice ? choice : "");
	q->number = number;
	snprintf(user, sizeof user, "%lld", (long long)s->who.user_id);
	snprintf(alert, sizeof alert, "%lld", (long long)alert_id);
	snprintf(num, sizeof num, "%lld", (long long)number);
	{
		const char *params[5] = { user, alert, choice, has_number ? num : NULL, s->remote };
		run(b, s,
		    "SELECT alert_id, answered_at, sender_org_id, watcher_org_id, summary"
		    "  FROM tocsin_answer($1, $2, $3, $4, $5)",
		    5, params, answered, q);
	}
}
