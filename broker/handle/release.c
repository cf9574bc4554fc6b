/* release.c: two-person release of high-impact live alerts (issue 23;
 * docs/protocol.md, "Two-person release").
 *
 * A controller's or analyst's publish asks tocsin_release_check() first.
 * When the force's policy holds it, the alert is stored as a pending
 * release (tocsin_release_hold), not as an alert: nothing is delivered,
 * the author gets release_pending and so does every other signed-in
 * controller, with exactly what would be sent. Another controller's
 * release_approve publishes it through publish_record(), the path every
 * alert takes (publish.c), in the author's name; release_reject ends it;
 * the author may not do either (own_alert). A duty inspector (063) sees
 * the same frames and may decide too; the policy's approver may ask for
 * an inspector alone (tocsin_release_decide says no to a controller
 * then). An inspector publishes nothing (publish.c) and is on the desks'
 * list for these frames only (deliver.h). A timer ends the releases
 * whose time is up (tocsin_release_expire) and tells the controllers and
 * the author. Break glass: a publish with release_alone {justification}
 * is delivered at once when nobody else who may release it is signed in
 * to this broker (with two brokers, "no other controller session known here"),
 * recorded for review, and raised to every controller who signs in in the
 * next 24 hours with the releases still waiting (release_sign_in).
 *
 * While PostgreSQL is unreachable the policy cannot be read: a publish
 * then takes the journal path unheld (the journal takes only alerts to
 * named sites and organisations; sectors and areas need the database).
 * An adapter's publish (the bus) is not held. Loop thread only. */
#include "broker.h"
#include "handle.h"
#include "clock.h"
#include "db.h"
#include "frame_check.h"
#include "log.h"
#include "loop_wake.h"
#include "stream.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EXPIRY_TICK_US (5 * 1000 * 1000)

/* A publish waiting for the policy's answer; owned by the query. */
struct release_ctx {
	struct requester req;
	json_t *rec;            /* owned: the named record (publish.c) */
	char *justification;    /* owned: release_alone's, or NULL */
	char because[512];      /* why the policy holds it */
	char recipients[8192];  /* the sites, as an array literal */
};

static void ctx_free(struct release_ctx *c)
{
	json_decref(c->rec);
	free(c->justification);
	free(c);
}

/* A frame carrying a release object (PostgreSQL's tocsin_release_json
 * text) to every signed-in controller but the session skip, and to the
 * sessions of user also (an analyst author). */
static void announce(struct broker *b, const char *type, const char *release,
		     uint64_t skip, int64_t also)
{
	json_t *obj = json_loads(release, 0, NULL);
	size_t len;
	char *text;
	struct msg *m;

	if (!obj) {
		log_error("%s: the database's release is unreadable", type);
		return;
	}
	text = frame_dump(json_pack("{s:s, s:o}", "type", type, "release", obj), &len);
	if (text && (m = msg_new(text, len, MSG_CONTROL, 0))) {
		fanout_to_controllers(b, m, skip, also);
		msg_unref(m);
	}
	free(text);
}

/* The reply to one requester: {type, ref, release}. */
static void reply_release(struct broker *b, const struct requester *r, const char *type,
			  const char *release)
{
	json_t *obj = json_loads(release, 0, NULL);

	requester_send(b, r, json_pack("{s:s, s:o*}", "type", type, "release", obj));
}

static int64_t rec_id(json_t *rec)
{
	return json_integer_value(json_object_get(rec, "alert_id"));
}

/* tocsin_release_hold answered: the author and the controllers are told. */
static void held(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct release_ctx *c = arg;

	if (err) {
		requester_db_error(b, &c->req, err, "unknown_alert");
	} else {
		reply_release(b, &c->req, "release_pending", PQgetvalue(res, 0, 0));
		announce(b, "release_pending", PQgetvalue(res, 0, 0), c->req.session_id, 0);
		log_info("alert %lld by %s held for a second controller: %s",
			 (long long)rec_id(c->rec), c->req.who.username, c->because);
	}
	ctx_free(c);
}

/* tocsin_release_alone answered: recorded, so it is published now. */
static void alone_recorded(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct release_ctx *c = arg;

	if (err) {
		requester_db_error(b, &c->req, err, "unknown_alert");
	} else {
		announce(b, "release_decided", PQgetvalue(res, 0, 0), 0, 0);
		log_info("alert %lld released alone by %s (break glass)", (long long)rec_id(c->rec),
			 c->req.who.username);
		publish_record(b, &c->req, c->rec);
		c->rec = NULL;
	}
	ctx_free(c);
}

/* Holds the publish, or (break glass) records it and publishes it. */
static void hold(struct broker *b, struct release_ctx *c)
{
	char id[24], user[24], *rec = json_dumps(c->rec, JSON_COMPACT);
	const char *hold_params[6] = { id, user, rec, c->req.remote, c->because, c->recipients };
	const char *alone_params[7] = { id, user, rec, c->because, c->recipients,
					c->justification, c->req.remote };
	int failed;

	snprintf(id, sizeof id, "%lld", (long long)rec_id(c->rec));
	snprintf(user, sizeof user, "%lld", (long long)c->req.who.user_id);
	if (!rec) {
		requester_error(b, &c->req, "internal", NULL, "out of memory");
		ctx_free(c);
		return;
	}
	if (c->justification)
		failed = db_query(b->db, "SELECT tocsin_release_alone($1, $2, $3::jsonb, $4, $5, $6, $7)",
				  7, alone_params, alone_recorded, c);
	else
		failed = db_query(b->db, "SELECT tocsin_release_hold($1, $2, $3::jsonb, $4, $5, $6)",
				  6, hold_params, held, c);
	free(rec);
	if (failed) {
		requester_error(b, &c->req, "unavailable", NULL,
				"the database is not reachable; nothing was published");
		ctx_free(c);
	}
}

/* Columns: held_because, recipients, expiry_s, approver; no row: not held. */
static void checked(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct release_ctx *c = arg;

	if (err && !err->lost) {
		/* the targets are checked here first, as tocsin_publish would */
		requester_db_error(b, &c->req, err,
				   !strcmp(err->column, "references") ? "unknown_alert"
								     : "unknown_target");
	} else if (err || PQntuples(res) == 0) {
		/* not held (or the database went away: the journal path) */
		publish_record(b, &c->req, c->rec);
		c->rec = NULL;
	} else if (c->justification &&
		   fanout_approvers_present(b, c->req.who.user_id,
					    !strcmp(PQgetvalue(res, 0, 3), "inspector"))) {
		requester_error(b, &c->req, "release_alone_refused", "release_alone",
				"someone who may release it is signed in: ask them to release it; "
				"nothing was published");
	} else {
		snprintf(c->because, sizeof c->because, "%s", PQgetvalue(res, 0, 0));
		snprintf(c->recipients, sizeof c->recipients, "%s", PQgetvalue(res, 0, 1));
		if (strlen(PQgetvalue(res, 0, 1)) < sizeof c->recipients) {
			hold(b, c);
			return;
		}
		requester_error(b, &c->req, "internal", NULL, "too many recipients to hold");
	}
	ctx_free(c);
}

int release_check(struct broker *b, const struct requester *r, json_t *rec, json_t *root)
{
	json_t *alone = json_object_get(root, "release_alone");
	struct frame_error err = { 0 };
	const char *just = NULL;
	struct release_ctx *c;
	char user[24], *text;
	const char *params[2] = { user, NULL };

	if (alone && !json_is_null(alone) &&
	    (!json_is_object(alone) ||
	     frame_check_text(alone, "justification", 10, 1000, 1, &just, &err))) {
		if (!json_is_object(alone))
			frame_error_set(&err, "bad_field", "release_alone",
					"release_alone must be {\"justification\": \"...\"}");
		else
			snprintf(err.field, sizeof err.field, "release_alone.justification");
		requester_check_error(b, r, &err);
		json_decref(rec);
		return 0;
	}
	if (!(c = calloc(1, sizeof *c)) || !(text = json_dumps(rec, JSON_COMPACT))) {
		free(c);
		requester_error(b, r, "internal", NULL, "out of memory");
		json_decref(rec);
		return 0;
	}
	c->req = *r;
	c->rec = rec;
	c->justification = just ? strdup(just) : NULL;
	snprintf(user, sizeof user, "%lld", (long long)r->who.user_id);
	params[1] = text;
	if (db_query(b->db, "SELECT * FROM tocsin_release_check($1, $2::jsonb)", 2, params,
		     checked, c)) {
		c->rec = NULL; /* the caller publishes it (the journal path) */
		ctx_free(c);
		free(text);
		return -1;
	}
	free(text);
	return 0;
}

/* ---------------------------------------------------- approve and reject */

/* What a decision's answer needs; owned by the query. */
struct decide_ctx {
	struct requester req;
	int approve;
};

/* A refusal of the database, in the words of docs/protocol.md. */
static void decide_error(struct broker *b, struct decide_ctx *d, const struct db_error *err)
{
	if (!strcmp(err->sqlstate, "TS409"))
		requester_error(b, &d->req, "not_pending", "alert_id", err->message);
	else
		requester_db_error(b, &d->req, err, "unknown_alert");
}

/* Columns: rec, author_user_id, author_username, author_org_id,
 * author_role, release, refused (the author's own: own_alert) */
static void decided(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct decide_ctx *d = arg;
	struct requester author;
	char at[CLOCK_ISO_LEN];
	json_t *rec;

	if (err || !PQgetisnull(res, 0, 6)) {
		if (err)
			decide_error(b, d, err);
		else
			requester_error(b, &d->req, "own_alert", "alert_id", PQgetvalue(res, 0, 6));
		free(d);
		return;
	}
	announce(b, "release_decided", PQgetvalue(res, 0, 5), d->approve ? 0 : d->req.session_id,
		 strtoll(PQgetvalue(res, 0, 1), NULL, 10));
	if (!d->approve) {
		reply_release(b, &d->req, "release_decided", PQgetvalue(res, 0, 5));
		free(d);
		return;
	}
	/* the author publishes; the approver hears "published" */
	author = d->req;
	author.who.user_id = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	snprintf(author.who.username, sizeof author.who.username, "%s", PQgetvalue(res, 0, 2));
	author.who.org_id = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
	author.who.role = token_role_from_name(PQgetvalue(res, 0, 4));
	rec = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	clock_format_iso(clock_now_us(), at);
	if (rec) {
		json_object_set_new(rec, "at", json_string(at)); /* sent when released */
		log_info("alert %lld of %s released by %s", (long long)rec_id(rec),
			 author.who.username, d->req.who.username);
		publish_record(b, &author, rec);
	} else {
		requester_error(b, &d->req, "internal", NULL, "the held alert is unreadable");
	}
	free(d);
}

void release_handle(struct session *s, struct client_frame *f)
{
	struct broker *b = session_broker(s);
	const char *type = json_string_value(json_object_get(f->root, "type"));
	struct frame_error err = { 0 };
	struct decide_ctx *d;
	const char *reason = NULL;
	char id[24], user[24];
	const char *params[5] = { id, user, NULL, NULL, s->remote };
	int64_t alert_id;
	int present, approve = type && !strcmp(type, "release_approve");

	if (s->who.role != ROLE_CONTROLLER && s->who.role != ROLE_INSPECTOR) {
		session_reply_error(s, f->ref, "forbidden", NULL,
				    "only controllers and duty inspectors release or reject held alerts");
		return;
	}
	if (frame_check_int(f->root, "alert_id", 1, (1LL << 53), 1, &alert_id, &present, &err) ||
	    frame_check_text(f->root, "reason", approve ? 0 : 3, 500, !approve, &reason, &err)) {
		session_reply_check_error(s, f->ref, &err);
		return;
	}
	if (!(d = calloc(1, sizeof *d))) {
		session_reply_error(s, f->ref, "internal", NULL, "out of memory");
		return;
	}
	requester_from_session(&d->req, s, f->ref);
	d->approve = approve;
	snprintf(id, sizeof id, "%lld", (long long)alert_id);
	snprintf(user, sizeof user, "%lld", (long long)s->who.user_id);
	params[2] = approve ? "true" : "false";
	params[3] = reason;
	if (db_query(b->db, "SELECT * FROM tocsin_release_decide($1, $2, $3::boolean, $4, $5)", 5,
		     params, decided, d)) {
		session_reply_error(s, f->ref, "unavailable", NULL,
				    "the database is not reachable; nothing was decided");
		free(d);
	}
}

/* ------------------------------------------------- expiry and sign-in */

/* Columns: alert_id, author_user_id, release */
static void expired(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	b->release_expiring = 0;
	if (err) {
		if (!err->lost)
			log_error("release expiry failed: %s", err->message);
		return;
	}
	for (int i = 0; i < PQntuples(res); i++) {
		announce(b, "release_decided", PQgetvalue(res, i, 2), 0,
			 strtoll(PQgetvalue(res, i, 1), NULL, 10));
		log_info("held alert %s expired unreleased", PQgetvalue(res, i, 0));
	}
}

static void tick(lws_sorted_usec_list_t *sul)
{
	struct broker *b = lws_container_of(sul, struct broker, sul_release);

	if (!b->release_expiring && !b->stopping && stream_writes_direct(b)) {
		b->release_expiring = 1; /* before: a lost connection calls back at once */
		if (db_query(b->db, "SELECT * FROM tocsin_release_expire()", 0, NULL, expired, NULL))
			b->release_expiring = 0;
	}
	loop_wake_timer(b->ctx, &b->sul_release, tick, EXPIRY_TICK_US);
}

void release_start(struct broker *b)
{
	loop_wake_timer(b->ctx, &b->sul_release, tick, EXPIRY_TICK_US);
}

/* The open releases, to the controller that just signed in (by id: it may
 * have gone meanwhile). */
static void opened(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct session *s = session_find(b, (uint64_t)(uintptr_t)arg);

	if (err || !s)
		return;
	for (int i = 0; i < PQntuples(res); i++) {
		json_t *obj = json_loads(PQgetvalue(res, i, 0), 0, NULL);
		const char *state = json_string_value(json_object_get(obj, "state"));
		int waiting = state && !strcmp(state, "pending");

		session_send_json(s, json_pack("{s:s, s:o*}", "type",
					       waiting ? "release_pending" : "release_decided",
					       "release", obj));
	}
}

void release_sign_in(struct session *s)
{
	struct broker *b = session_broker(s);

	if ((s->who.role != ROLE_CONTROLLER && s->who.role != ROLE_INSPECTOR) ||
	    !stream_writes_direct(b))
		return;
	if (db_query(b->db, "SELECT tocsin_release_open()", 0, NULL, opened,
		     (void *)(uintptr_t)s->id))
		log_warn("the open releases could not be asked for session %llu",
			 (unsigned long long)s->id);
}
