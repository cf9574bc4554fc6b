/* inbox.c: the force's inbox of partner reports, a work queue (issue 17,
 * item 9).
 *
 * `inbox` reads the latest reports through a filter (kind, the sender's
 * organisation, a time window, handled or open, a text to find) with the
 * colleagues a report may be assigned to: tocsin_inbox() reads and audits
 * it as a consultation, with the filter. `report_update` marks a report
 * handled or open again, assigns it to a colleague and links it to an
 * alert (each member optional, at least one): tocsin_report_update()
 * writes one audit row per change, and every other controller and analyst
 * desk hears the report as it now is (report_updated), so a shared room
 * does not work a report twice. `import_reject` closes a pending CAP
 * import (kind cap_import) with a reason, tocsin_cap_pending_reject(); a
 * publish that releases one (publish.c) calls inbox_announce, so every
 * desk sees it closed as published. Only controllers and analysts; the checks
 * here are the types and ranges, PostgreSQL checks the rest (who may be
 * assigned, which alert exists).
 *
 * While PostgreSQL is unreachable both answer "unavailable" and change
 * nothing. Loop thread only. */
#include "broker.h"
#include "handle.h"
#include "db.h"
#include "frame_check.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INBOX_MAX 200
#define INBOX_QUERY_MAX 100    /* the text searched for, in characters */
#define IMPORT_REASON_MAX 500  /* a rejected import's reason (064_cap_import_reject) */

/* Who asked, and how to name the reply. */
struct inbox_ctx {
	uint64_t session_id;
	char ref[FRAME_REF_MAX + 1];
};

static int force_only(struct session *s, struct client_frame *f)
{
	if (s->who.role == ROLE_CONTROLLER || s->who.role == ROLE_ANALYST)
		return 0;
	session_reply_error(s, f->ref, "forbidden", NULL,
			    "only controllers and analysts work the partner reports");
	return -1;
}

static struct inbox_ctx *ctx_new(struct session *s, struct client_frame *f)
{
	struct inbox_ctx *c = calloc(1, sizeof *c);

	if (!c) {
		session_reply_error(s, f->ref, "internal", NULL, "out of memory");
		return NULL;
	}
	c->session_id = s->id;
	memcpy(c->ref, f->ref, sizeof c->ref);
	return c;
}

/* A boolean member, copied into out when present. */
static int check_bool(json_t *root, const char *name, json_t *out, struct frame_error *err)
{
	json_t *v = json_object_get(root, name);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v)) {
		frame_error_set(err, "bad_field", name, "%s must be true or false", name);
		return -1;
	}
	json_object_set(out, name, v);
	return 0;
}

/* An id member that may be null (unassign, unlink), copied into out when
 * present: null, or an integer 1..max. */
static int check_id_or_null(json_t *root, const char *name, int64_t max, json_t *out,
			    struct frame_error *err)
{
	json_t *v = json_object_get(root, name);
	int64_t id;

	if (!v)
		return 0;
	if (json_is_null(v)) {
		json_object_set_new(out, name, json_null());
		return 0;
	}
	if (frame_check_int(root, name, 1, max, 1, &id, NULL, err))
		return -1;
	json_object_set_new(out, name, json_integer(id));
	return 0;
}

/* The filter of an inbox request, checked, as the JSON object
 * tocsin_inbox() reads; NULL with err filled. */
static json_t *inbox_filter(json_t *root, struct frame_error *err)
{
	json_t *f = json_object();
	const char *kind, *since, *until, *q;
	int64_t org;
	int has_org;

	if (!f) {
		frame_error_set(err, "internal", NULL, "out of memory");
		return NULL;
	}
	if (report_kind_check(root, "kind", 0, &kind, err) ||
	    frame_check_int(root, "org_id", 1, INT32_MAX, 0, &org, &has_org, err) ||
	    frame_check_time(root, "since", 0, &since, err) ||
	    frame_check_time(root, "until", 0, &until, err) ||
	    frame_check_text(root, "q", 1, INBOX_QUERY_MAX, 0, &q, err) ||
	    check_bool(root, "handled", f, err)) {
		json_decref(f);
		return NULL;
	}
	if (kind)
		json_object_set_new(f, "kind", json_string(kind));
	if (has_org)
		json_object_set_new(f, "org_id", json_integer(org));
	if (since)
		json_object_set_new(f, "since", json_string(since));
	if (until)
		json_object_set_new(f, "until", json_string(until));
	if (q)
		json_object_set_new(f, "q", json_string(q));
	return f;
}

/* The inbox as PostgreSQL built it ({reports, colleagues}), named and
 * sent. */
static void inbox_ready(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct inbox_ctx *c = arg;
	struct session *s = session_find(b, c->session_id);

	if (s && err)
		requester_reply_db_error(s, c->ref, err, "unknown_target");
	else if (s)
		requester_reply_object(s, c->ref, "inbox", PQgetvalue(res, 0, 0));
	free(c);
}

/* Runs sql with $1 the user, $2 second, $3 obj as JSON, $4 the address,
 * answered by cb with a new context; says "unavailable" (what: what was
 * not done) when the database is away. */
static void query(struct session *s, struct client_frame *f, const char *sql, const char *second,
		  json_t *obj, db_result_fn cb, const char *what)
{
	struct inbox_ctx *c;
	char user[24], *text = json_dumps(obj, JSON_COMPACT);
	const char *params[4] = { user, second, text, s->remote };

	if (!text) {
		session_reply_error(s, f->ref, "internal", NULL, "out of memory");
		return;
	}
	if (!(c = ctx_new(s, f)))
		goto out;
	snprintf(user, sizeof user, "%lld", (long long)s->who.user_id);
	if (db_query(session_broker(s)->db, sql, 4, params, cb, c)) {
		session_reply_error(s, f->ref, "unavailable", NULL, what);
		free(c);
	}
out:
	free(text);
}

void inbox_handle(struct session *s, struct client_frame *f)
{
	struct frame_error err = { 0 };
	int64_t limit = INBOX_MAX;
	char slimit[24];
	json_t *filter = NULL;

	if (force_only(s, f))
		return;
	if (frame_check_int(f->root, "limit", 1, INBOX_MAX, 0, &limit, NULL, &err) ||
	    !(filter = inbox_filter(f->root, &err))) {
		session_reply_check_error(s, f->ref, &err);
		return;
	}
	snprintf(slimit, sizeof slimit, "%lld", (long long)limit);
	query(s, f, "SELECT tocsin_inbox($1, $2, $3::jsonb, $4)", slimit, filter, inbox_ready,
	      "the database is not reachable; retry");
	json_decref(filter);
}

/* The report as it now is (res's one value): to the desk that asked
 * (with its ref), and as news to every other controller and analyst. */
static void send_updated(struct broker *b, struct inbox_ctx *c, PGresult *res)
{
	struct session *s = session_find(b, c->session_id);
	json_t *report = json_loads(PQgetvalue(res, 0, 0), 0, NULL);

	if (s && report)
		session_send_json(s, json_pack("{s:s, s:s, s:O}", "type", "report_updated", "ref",
					       c->ref, "report", report));
	else if (s)
		session_reply_error(s, c->ref, "internal", NULL, "the report is unreadable");
	json_decref(report);
	report_to_force(b, "report_updated", PQgetvalue(res, 0, 0), c->session_id);
}

/* A report_update's answer. An unknown alert to link is unknown_alert; an
 * unknown report unknown_target (report_id). */
static void report_updated(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct inbox_ctx *c = arg;
	struct session *s = session_find(b, c->session_id);

	if (!err)
		send_updated(b, c, res);
	else if (s)
		requester_reply_db_error(s, c->ref, err,
					 strcmp(err->column, "alert_id") ? "unknown_target"
									 : "unknown_alert");
	free(c);
}

/* The changes a report_update asks for, checked; NULL with err filled. */
static json_t *update_fields(json_t *root, struct frame_error *err)
{
	json_t *fields = json_object();

	if (!fields) {
		frame_error_set(err, "internal", NULL, "out of memory");
		return NULL;
	}
	if (check_bool(root, "handled", fields, err) ||
	    check_id_or_null(root, "assigned_to", INT32_MAX, fields, err) ||
	    check_id_or_null(root, "alert_id", INT64_MAX, fields, err))
		goto bad;
	if (json_object_size(fields) == 0) {
		frame_error_set(err, "missing_field", "handled",
				"give handled, assigned_to or alert_id: what to change");
		goto bad;
	}
	return fields;
bad:
	json_decref(fields);
	return NULL;
}

void inbox_update(struct session *s, struct client_frame *f)
{
	struct frame_error err = { 0 };
	int64_t report_id;
	char report[24];
	json_t *fields = NULL;

	if (force_only(s, f))
		return;
	if (frame_check_int(f->root, "report_id", 1, INT64_MAX, 1, &report_id, NULL, &err) ||
	    !(fields = update_fields(f->root, &err))) {
		session_reply_check_error(s, f->ref, &err);
		return;
	}
	snprintf(report, sizeof report, "%lld", (long long)report_id);
	query(s, f, "SELECT tocsin_report_update($1, $2, $3::jsonb, $4)", report, fields,
	      report_updated, "the database is not reachable; nothing was changed");
	json_decref(fields);
}

/* An import_reject's answer: the import as it now is, closed with its
 * reason, or why not: not_pending (TS409: not a pending import, or no
 * longer open), unknown_target (no such report), forbidden. */
static void import_rejected(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct inbox_ctx *c = arg;
	struct session *s = session_find(b, c->session_id);

	if (!err)
		send_updated(b, c, res);
	else if (s && !err->lost && !strcmp(err->sqlstate, "TS409"))
		session_reply_error(s, c->ref, "not_pending", "report_id", err->message);
	else if (s)
		requester_reply_db_error(s, c->ref, err, "unknown_target");
	free(c);
}

/* A reason that is only spaces says nothing: refused as an empty one. */
static int blank(const char *text)
{
	for (; *text; text++)
		if (!strchr(" \t\r\n", *text))
			return 0;
	return 1;
}

void inbox_reject(struct session *s, struct client_frame *f)
{
	struct frame_error err = { 0 };
	int64_t report_id;
	const char *reason = NULL;
	char report[24];
	json_t *text;

	if (force_only(s, f))
		return;
	if (frame_check_int(f->root, "report_id", 1, INT64_MAX, 1, &report_id, NULL, &err) ||
	    frame_check_text(f->root, "reason", 1, IMPORT_REASON_MAX, 1, &reason, &err)) {
		session_reply_check_error(s, f->ref, &err);
		return;
	}
	if (blank(reason)) {
		session_reply_error(s, f->ref, "bad_field", "reason",
				    "reason must say why the import is rejected");
		return;
	}
	if (!(text = json_pack("[s]", reason))) { /* query() sends an array or an object */
		session_reply_error(s, f->ref, "internal", NULL, "out of memory");
		return;
	}
	snprintf(report, sizeof report, "%lld", (long long)report_id);
	query(s, f, "SELECT tocsin_cap_pending_reject($1, $2, $3::jsonb->>0, $4)", report, text,
	      import_rejected, "the database is not reachable; nothing was rejected");
	json_decref(text);
}

/* A publish released a pending import: the import as it now is (handled,
 * with its alert) to every controller and analyst desk. arg: the id's
 * text, owned. */
static void import_published(struct broker *b, void *arg, PGresult *res,
			     const struct db_error *err)
{
	if (err)
		log_error("pending import %s published, but not announced: %s", (char *)arg,
			  err->message);
	else if (PQntuples(res) == 1)
		report_to_force(b, "report_updated", PQgetvalue(res, 0, 0), 0);
	free(arg);
}

void inbox_announce(struct broker *b, int64_t report_id)
{
	char *id = malloc(24);
	const char *params[1] = { id };

	if (!id)
		return;
	snprintf(id, 24, "%lld", (long long)report_id);
	if (db_query(b->db, "SELECT tocsin_partner_report_json(p) FROM partner_reports p WHERE p.id = $1",
		     1, params, import_published, id)) {
		log_error("pending import %s published, but not announced: no database", id);
		free(id);
	}
}
