/* status.c: building status from site consoles, the live status
 * board, area totals, and report-now requests.
 *
 * A console's status report is stored by tocsin_status(), which keeps
 * every report, makes it the site's latest, audits it, and records it as
 * the answer to the report-now request it names; reports are stored in
 * batches of those that arrived within a few ms (status_batch.c), each
 * answered after its batch commits. The board is the latest
 * report of each site; a session that asked for the board is subscribed
 * to it and gets a status_update for every later report of a site it may
 * see. Subscribers are kept here as session ids (sessions vanish; each id
 * is looked up when used and dropped once its session is gone).
 *
 * While PostgreSQL is unreachable these requests answer "unavailable" and
 * change nothing. Journaling status reports as alerts and receipts are
 * journaled is a later step.
 *
 * Loop thread only. */
#include "broker.h"
#include "handle.h"
#include "bus.h"
#include "db.h"
#include "frame_check.h"
#include "log.h"
#include "status_batch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATUS_COUNT_MAX 100000
#define STATUS_NOTE_MAX 500
#define STATUS_WHERE_MAX 200 /* where the trauma packs, the defibrillators are */
#define REQUEST_ID_LEN 24 /* "r-" and up to 19 digits, NUL */

/* The counts of a status report; "stale" may name each once. */
static const char *const status_counts[] = { "people", "officers", "trauma_packs",
					     "first_aid_kits", "defibrillators", "first_aiders" };
#define STATUS_COUNTS (sizeof status_counts / sizeof status_counts[0])

/* The sessions subscribed to the board: ids, unordered, no duplicates. */
static struct {
	uint64_t *ids; /* owned */
	size_t n, cap;
} board_subs;

/* A report-now request id as the protocol writes it ("r-7"); absent is
 * fine (*present 0). */
static int check_request_id(json_t *obj, const char *name, int64_t *out, int *present,
			    struct frame_error *err)
{
	const char *v;
	char *end = NULL;
	long long n = 0;

	*present = 0;
	if (frame_check_string(obj, name, 3, REQUEST_ID_LEN - 1, 0, &v, err))
		return -1;
	if (!v)
		return 0;
	errno = 0;
	if (!strncmp(v, "r-", 2) && v[2] >= '1' && v[2] <= '9')
		n = strtoll(v + 2, &end, 10);
	if (n <= 0 || errno || !end || *end) {
		frame_error_set(err, "bad_field", name,
				"%s must be a report-now request id such as r-7", name);
		return -1;
	}
	*out = n;
	*present = 1;
	return 0;
}

/* "stale": the counts the person did not touch or confirm (the form
 * prefilled them from the last report), each a count's name, once;
 * absent or null is none. Returns the array to store (a new reference, or
 * NULL when absent), or -1 with err naming the member (stale[i]). */
static int check_stale(json_t *obj, json_t **out, struct frame_error *err)
{
	json_t *v = json_object_get(obj, "stale"), *x;
	unsigned seen = 0;
	size_t i, k;
	char field[FRAME_FIELD_MAX];

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v) || json_array_size(v) > STATUS_COUNTS) {
		frame_error_set(err, "bad_field", "stale",
				"stale must be an array of at most %zu count names", STATUS_COUNTS);
		return -1;
	}
	json_array_foreach(v, i, x) {
		for (k = 0; k < STATUS_COUNTS; k++)
			if (json_is_string(x) && !strcmp(json_string_value(x), status_counts[k]))
				break;
		if (k == STATUS_COUNTS || (seen & 1u << k)) {
			snprintf(field, sizeof field, "stale[%zu]", i);
			frame_error_set(err, "bad_field", field,
					"%s must name a count of the report (people, officers, "
					"trauma_packs, first_aid_kits, defibrillators, first_aiders), "
					"each once", field);
			return -1;
		}
		seen |= 1u << k;
	}
	*out = json_incref(v);
	return 0;
}

/* Request ids go out as "r-<id>" (docs/protocol.md), the form
 * check_request_id reads back. */
static void format_request_id(int64_t id, char out[REQUEST_ID_LEN])
{
	snprintf(out, REQUEST_ID_LEN, "r-%lld", (long long)id);
}

/* Serialises obj (stolen) once into a message for many sessions; NULL on
 * failure (logged: the stored fact stays stored, only the live copy is
 * lost). */
static struct msg *shared_msg(json_t *obj, const char *what)
{
	size_t len;
	char *text = frame_dump(obj, &len);
	struct msg *m = text ? msg_new(text, len, MSG_CONTROL, 0) : NULL;

	free(text);
	if (!m)
		log_error("%s not sent live: out of memory", what);
	return m;
}

/* Adds a session to the board's subscribers (once). Returns 0, or -1 when
 * out of memory. */
static int board_subscribe(uint64_t id)
{
	uint64_t *grown;

	for (size_t i = 0; i < board_subs.n; i++)
		if (board_subs.ids[i] == id)
			return 0;
	if (board_subs.n == board_subs.cap) {
		size_t cap = board_subs.cap ? board_subs.cap * 2 : 16;
		grown = realloc(board_subs.ids, cap * sizeof *grown);
		if (!grown)
			return -1;
		board_subs.ids = grown;
		board_subs.cap = cap;
	}
	board_subs.ids[board_subs.n++] = id;
	return 0;
}

/* Whether a board subscriber may see a site guarded by guard_org: the
 * force sees every site, a company operator the sites its company guards. */
static int may_see_site(const struct session *s, int64_t guard_org)
{
	if (s->who.role == ROLE_CONTROLLER || s->who.role == ROLE_ANALYST)
		return 1;
	return s->who.role == ROLE_COMPANY_OPERATOR && s->who.org_id == guard_org;
}

/* The status_update frame of a site's board entry, the JSON text
 * PostgreSQL wrote put in as it is (not parsed and written again for every
 * report of a burst), marked to replace that site's update still queued
 * for a subscriber (outq.h); NULL when out of memory (logged). */
static struct msg *status_update_msg(const char *site, int64_t site_id)
{
	static const char head[] = "{\"type\":\"status_update\",\"site\":";
	size_t len = sizeof head - 1 + strlen(site) + 1;
	char *text = malloc(len + 1);
	struct msg *m = NULL;

	if (text) {
		snprintf(text, len + 1, "%s%s}", head, site);
		m = msg_new(text, len, MSG_CONTROL, 0);
		free(text);
	}
	if (!m) {
		log_error("status_update not sent live: out of memory");
		return NULL;
	}
	m->supersedes = site_id; /* only the site's latest waits in a queue that is behind */
	return m;
}

/* Sends a status_update to the board's subscribers who may see the site,
 * dropping the ids of sessions that have gone. The frame is built for the
 * first one who may see it, so not at all while nobody watches. */
static void board_fanout(struct broker *b, const char *site, int64_t site_id, int64_t guard_org)
{
	size_t kept = 0;
	struct msg *m = NULL;

	for (size_t i = 0; i < board_subs.n; i++) {
		struct session *s = session_find(b, board_subs.ids[i]);

		if (!s)
			continue;
		board_subs.ids[kept++] = board_subs.ids[i];
		if (may_see_site(s, guard_org) && (m || (m = status_update_msg(site, site_id))))
			session_send(s, m);
	}
	board_subs.n = kept;
	msg_unref(m);
}

void status_board_changed(struct broker *b, json_t *site)
{
	json_int_t id = json_integer_value(json_object_get(site, "site_id"));
	json_int_t guard = json_integer_value(json_object_get(site, "guard_org_id"));
	char *text = json_dumps(site, JSON_COMPACT);

	if (!text || id <= 0) {
		log_error("a changed site not sent to the boards: %s", text ? "no site_id" : "out of memory");
		free(text);
		return;
	}
	board_fanout(b, text, id, guard);
	free(text);
}

/* Sends a report-now request's progress to the controller who asked (to
 * each of that user's sessions: a reconnected controller still hears). */
static void report_now_progress(struct broker *b, int64_t request_id, int64_t asker,
				const char *progress)
{
	json_t *obj = json_loads(progress, 0, NULL);
	char rid[REQUEST_ID_LEN];
	struct msg *m;

	if (!obj) {
		log_error("report-now %lld: progress unreadable", (long long)request_id);
		return;
	}
	format_request_id(request_id, rid);
	json_object_set_new(obj, "type", json_string("report_now_status"));
	json_object_set_new(obj, "request_id", json_string(rid));
	m = shared_msg(obj, "report_now_status");
	if (!m)
		return;
	for (struct session *s = b->sessions; s; s = s->next)
		if (s->authed && s->who.role == ROLE_CONTROLLER && s->who.user_id == asker)
			session_send(s, m);
	msg_unref(m);
}

void status_reported(struct broker *b, PGresult *res)
{
	for (int i = 0; i < PQntuples(res); i++) {
		if (!PQgetisnull(res, i, 2))
			board_fanout(b, PQgetvalue(res, i, 2), strtoll(PQgetvalue(res, i, 0), NULL, 10),
				     strtoll(PQgetvalue(res, i, 1), NULL, 10));
		else if (!PQgetisnull(res, i, 3))
			report_now_progress(b, strtoll(PQgetvalue(res, i, 3), NULL, 10),
					    strtoll(PQgetvalue(res, i, 4), NULL, 10),
					    PQgetvalue(res, i, 5));
	}
}

/* The report's own outcome in a batch row (columns 1-3: err_state,
 * err_message, err_field), as a db_error; 0 when it was stored. */
static int row_error(PGresult *res, int row, struct db_error *e)
{
	if (PQgetisnull(res, row, 1))
		return 0;
	snprintf(e->sqlstate, sizeof e->sqlstate, "%s", PQgetvalue(res, row, 1));
	snprintf(e->message, sizeof e->message, "%s", PQgetvalue(res, row, 2));
	snprintf(e->column, sizeof e->column, "%s", PQgetvalue(res, row, 3));
	return 1;
}

/* The columns of tocsin_status_batch()'s answer after the error ones
 * (idx, err_state, err_message, err_field). */
enum { C_ID = 4, C_SITE, C_ORG, C_AT, C_BOARD, C_ANSWERED, C_REQ, C_ASKER, C_PROGRESS };

/* The bus's "status" event of a stored report (only when the bus is on:
 * the board entry is parsed for it). */
static void emit_status_event(struct broker *b, const struct status_report *r, PGresult *res,
			      int row)
{
	json_t *site = json_loads(PQgetvalue(res, row, C_BOARD), 0, NULL);

	if (!site) {
		log_error("status report %s: board entry unreadable", PQgetvalue(res, row, C_ID));
		return;
	}
	bus_emit(b, "status",
		 json_pack("{s:I, s:I, s:I, s:s, s:s, s:o}", "report_id",
			   (json_int_t)strtoll(PQgetvalue(res, row, C_ID), NULL, 10), "site_id",
			   (json_int_t)strtoll(PQgetvalue(res, row, C_SITE), NULL, 10), "org_id",
			   (json_int_t)strtoll(PQgetvalue(res, row, C_ORG), NULL, 10), "user",
			   r->username, "reported_at", PQgetvalue(res, row, C_AT), "status", site));
}

/* Answers one report from its batch row (columns: idx, err_state,
 * err_message, err_field, then report_id, site_id, guard_org_id,
 * reported_at, site (json), answered, request_id, requested_by, progress
 * (json)). Replies status_ok, tells the bus and the board, and the
 * controller whose request it answered. */
void status_stored(struct broker *b, struct status_report *r, PGresult *res, int row,
			const struct db_error *err)
{
	struct session *s = session_find(b, r->session_id);
	struct db_error e = { 0 };
	json_t *reply;
	int answered;
	char rid[REQUEST_ID_LEN];

	if (!err && (row >= PQntuples(res) || row_error(res, row, &e)))
		err = row < PQntuples(res) ? &e : &(struct db_error){ .sqlstate = "XX000",
								      .message = "no row" };
	if (err) {
		if (s)
			requester_reply_db_error(s, r->ref, err, "unknown_target");
		return;
	}
	answered = !strcmp(PQgetvalue(res, row, C_ANSWERED), "t");
	if (s) {
		reply = json_pack("{s:s, s:s, s:I, s:I, s:s}", "type", "status_ok", "ref", r->ref,
				  "site_id", (json_int_t)strtoll(PQgetvalue(res, row, C_SITE), NULL, 10),
				  "report_id", (json_int_t)strtoll(PQgetvalue(res, row, C_ID), NULL, 10),
				  "reported_at", PQgetvalue(res, row, C_AT));
		if (reply && r->replying) {
			format_request_id(r->in_reply_to, rid);
			json_object_set_new(reply, "in_reply_to", json_string(rid));
			json_object_set_new(reply, "answered", json_boolean(answered));
		}
		session_send_json(s, reply);
	}
	if (PQgetisnull(res, row, C_BOARD)) {
		log_error("status report %s: no board entry", PQgetvalue(res, row, C_ID));
	} else {
		board_fanout(b, PQgetvalue(res, row, C_BOARD),
			     strtoll(PQgetvalue(res, row, C_SITE), NULL, 10),
			     strtoll(PQgetvalue(res, row, C_ORG), NULL, 10));
		if (bus_emits(b))
			emit_status_event(b, r, res, row);
	}
	if (answered)
		report_now_progress(b, strtoll(PQgetvalue(res, row, C_REQ), NULL, 10),
				    strtoll(PQgetvalue(res, row, C_ASKER), NULL, 10),
				    PQgetvalue(res, row, C_PROGRESS));
}

/* The optional members of a report (issue 17): first_aiders, where the
 * trauma packs and the defibrillators are, and which counts are stale;
 * set into args (the five required counts and the rest are there). */
static int check_where(json_t *root, json_t *args, struct frame_error *err)
{
	const char *packs, *defibs;
	int64_t aiders = 0;
	int has_aiders;
	json_t *stale;

	if (frame_check_int(root, "first_aiders", 0, STATUS_COUNT_MAX, 0, &aiders, &has_aiders,
			    err) ||
	    frame_check_text(root, "trauma_packs_where", 0, STATUS_WHERE_MAX, 0, &packs, err) ||
	    frame_check_text(root, "defibrillators_where", 0, STATUS_WHERE_MAX, 0, &defibs, err) ||
	    check_stale(root, &stale, err))
		return -1;
	json_object_set_new(args, "first_aiders", has_aiders ? json_integer(aiders) : json_null());
	json_object_set_new(args, "trauma_packs_where", packs ? json_string(packs) : json_null());
	json_object_set_new(args, "defibrillators_where", defibs ? json_string(defibs) : json_null());
	json_object_set_new(args, "stale", stale ? stale : json_array());
	return 0;
}

/* Checks every member before anything is stored: a bad one is a typed
 * error naming it, and nothing changes. The report then waits a few ms
 * for a batch (status_batch.c). */
void status_handle(struct session *s, struct client_frame *f)
{
	static const char *const cctv_values[] = { "working", "partial", "down", NULL };
	static const char *const states[] = { "normal", "heightened", "lockdown", "evacuating",
					      "closed", NULL };
	struct frame_error err = { 0 };
	struct status_report *r = NULL;
	const char *cctv, *state, *note;
	int64_t num[5], request_id = 0;
	int replying;

	if (s->who.role != ROLE_SITE_CONSOLE || s->who.site_id <= 0) {
		session_reply_error(s, f->ref, "forbidden", NULL,
				    "only a site console reports building status");
		return;
	}
	for (size_t i = 0; i < 5; i++) /* the five required counts; first_aiders is optional */
		if (frame_check_int(f->root, status_counts[i], 0, STATUS_COUNT_MAX, 1, &num[i], NULL,
				    &err))
			goto bad;
	if (frame_check_enum(f->root, "cctv", cctv_values, NULL, &cctv, &err) ||
	    frame_check_enum(f->root, "state", states, NULL, &state, &err) ||
	    frame_check_text(f->root, "note", 0, STATUS_NOTE_MAX, 0, &note, &err) ||
	    check_request_id(f->root, "in_reply_to", &request_id, &replying, &err))
		goto bad;

	r = calloc(1, sizeof *r);
	if (r)
		/* the site comes from the token, never from the message */
		r->args = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:s, s:s?, s:o, s:s}",
				    "user_id", (json_int_t)s->who.user_id, "site_id",
				    (json_int_t)s->who.site_id, "people", (json_int_t)num[0],
				    "officers", (json_int_t)num[1], "trauma_packs", (json_int_t)num[2],
				    "first_aid_kits", (json_int_t)num[3], "defibrillators",
				    (json_int_t)num[4], "cctv", cctv, "state", state, "note", note,
				    "in_reply_to",
				    replying ? json_integer(request_id) : json_null(), "remote",
				    s->remote);
	if (!r || !r->args) {
		status_batch_report_free(r);
		session_reply_error(s, f->ref, "internal", NULL, "out of memory");
		return;
	}
	if (check_where(f->root, r->args, &err))
		goto bad;
	r->session_id = s->id;
	r->site_id = s->who.site_id;
	memcpy(r->ref, f->ref, sizeof r->ref);
	r->replying = replying;
	r->in_reply_to = request_id;
	memcpy(r->username, s->who.username, sizeof r->username);
	if (status_batch_add(session_broker(s), r)) {
		session_reply_error(s, f->ref, "unavailable", NULL,
				    "the database is not reachable; the report was not stored");
		status_batch_report_free(r);
	}
	return;
bad:
	status_batch_report_free(r);
	session_reply_check_error(s, f->ref, &err);
}

/* What a board or area-totals query needs back: who asked, and how to
 * name the reply. */
struct view_ctx {
	uint64_t session_id;
	char ref[FRAME_REF_MAX + 1];
};

/* The context of a query for s, or NULL (and "internal" sent) when out
 * of memory. */
static struct view_ctx *view_ctx_new(struct session *s, struct client_frame *f)
{
	struct view_ctx *v = calloc(1, sizeof *v);

	if (!v) {
		session_reply_error(s, f->ref, "internal", NULL, "out of memory");
		return NULL;
	}
	v->session_id = s->id;
	memcpy(v->ref, f->ref, sizeof v->ref);
	return v;
}

/* The board: replies and subscribes the session to status_update. */
static void board_ready(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct view_ctx *v = arg;
	struct session *s = session_find(b, v->session_id);
	json_t *sites;

	if (s && err) {
		requester_reply_db_error(s, v->ref, err, "unknown_target");
	} else if (s) {
		sites = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
		if (!sites) {
			session_reply_error(s, v->ref, "internal", NULL, "board unreadable");
		} else if (board_subscribe(s->id)) {
			json_decref(sites);
			session_reply_error(s, v->ref, "internal", NULL, "out of memory");
		} else {
			session_send_json(s, json_pack("{s:s, s:s, s:o}", "type", "board", "ref",
						       v->ref, "sites", sites));
		}
	}
	free(v);
}

/* The board is read and audited by tocsin_board(), which also scopes it
 * to the operator's company. */
void status_board(struct session *s, struct client_frame *f)
{
	struct view_ctx *v;
	char user[24];
	const char *params[2] = { user, s->remote };

	if (s->who.role != ROLE_CONTROLLER && s->who.role != ROLE_ANALYST &&
	    s->who.role != ROLE_COMPANY_OPERATOR) {
		session_reply_error(s, f->ref, "forbidden", NULL,
				    "only the force and company operators see the status board");
		return;
	}
	if (!(v = view_ctx_new(s, f)))
		return;
	snprintf(user, sizeof user, "%lld", (long long)s->who.user_id);
	if (db_query(session_broker(s)->db, "SELECT tocsin_board($1, $2)", 2, params, board_ready, v)) {
		session_reply_error(s, f->ref, "unavailable", NULL,
				    "the database is not reachable; retry");
		free(v);
	}
}

/* Area totals as PostgreSQL built them, named and sent. */
static void area_totals_ready(struct broker *b, void *arg, PGresult *res,
			      const struct db_error *err)
{
	struct view_ctx *v = arg;
	struct session *s = session_find(b, v->session_id);

	if (s && err)
		requester_reply_db_error(s, v->ref, err, "unknown_target");
	else if (s)
		requester_reply_object(s, v->ref, "area_totals", PQgetvalue(res, 0, 0));
	free(v);
}

/* Sums over a circle (tocsin_area_totals: haversine in SQL). */
void status_area_totals(struct session *s, struct client_frame *f)
{
	struct frame_error err = { 0 };
	struct view_ctx *v;
	double lat, lon, radius;
	char user[24], slat[32], slon[32], sradius[32];
	const char *params[5] = { user, slat, slon, sradius, s->remote };

	if (s->who.role != ROLE_CONTROLLER && s->who.role != ROLE_ANALYST) {
		session_reply_error(s, f->ref, "forbidden", NULL,
				    "only controllers and analysts see area totals");
		return;
	}
	if (frame_check_number(f->root, "lat", -90, 90, 1, &lat, NULL, &err) ||
	    frame_check_number(f->root, "lon", -180, 180, 1, &lon, NULL, &err) ||
	    frame_check_number(f->root, "radius_m", 1, 50000, 1, &radius, NULL, &err)) {
		session_reply_check_error(s, f->ref, &err);
		return;
	}
	if (!(v = view_ctx_new(s, f)))
		return;
	snprintf(user, sizeof user, "%lld", (long long)s->who.user_id);
	snprintf(slat, sizeof slat, "%.17g", lat);
	snprintf(slon, sizeof slon, "%.17g", lon);
	snprintf(sradius, sizeof sradius, "%.17g", radius);
	if (db_query(session_broker(s)->db, "SELECT tocsin_area_totals($1, $2, $3, $4, $5)", 5, params,
		     area_totals_ready, v)) {
		session_reply_error(s, f->ref, "unavailable", NULL,
				    "the database is not reachable; retry");
		free(v);
	}
}

/* Whether id is among the JSON array of integer ids. */
static int json_ids_contain(json_t *ids, int64_t id)
{
	size_t i;
	json_t *x;

	json_array_foreach(ids, i, x)
		if (json_integer_value(x) == id)
			return 1;
	return 0;
}

/* Asks the consoles of the sites in asked (a JSON array of ids) here to
 * report (report_request). */
static void ask_consoles(struct broker *b, const char *rid, json_t *asked, const char *by,
			 const char *at)
{
	struct msg *m = shared_msg(json_pack("{s:s, s:s, s:s, s:s}", "type", "report_request",
					     "request_id", rid, "by", by, "requested_at", at),
				   "report_request");

	if (!m)
		return;
	for (struct session *c = b->sessions; c; c = c->next)
		if (c->authed && c->who.role == ROLE_SITE_CONSOLE &&
		    json_ids_contain(asked, c->who.site_id))
			session_send(c, m);
	msg_unref(m);
}

void status_requested(struct broker *b, PGresult *res)
{
	char rid[REQUEST_ID_LEN];

	for (int i = 0; i < PQntuples(res); i++) {
		json_t *asked = json_loads(PQgetvalue(res, i, 1), 0, NULL);

		format_request_id(strtoll(PQgetvalue(res, i, 0), NULL, 10), rid);
		if (asked)
			ask_consoles(b, rid, asked, PQgetvalue(res, i, 2), PQgetvalue(res, i, 3));
		json_decref(asked);
	}
}

/* Columns: request_id, asked (json array), by_name, requested_at; no row
 * when no site lies inside the area (nothing was stored). Confirms to the
 * controller, then asks the consoles of the sites inside. */
static void report_now_stored(struct broker *b, void *arg, PGresult *res,
			      const struct db_error *err)
{
	struct view_ctx *v = arg;
	struct session *s = session_find(b, v->session_id);
	json_t *asked;
	char rid[REQUEST_ID_LEN];

	if (err) {
		if (s)
			requester_reply_db_error(s, v->ref, err, "unknown_target");
		free(v);
		return;
	}
	if (PQntuples(res) == 0) {
		if (s)
			session_reply_error(s, v->ref, "no_recipients", "area",
					    "no site lies inside the area; nobody was asked");
		free(v);
		return;
	}
	format_request_id(strtoll(PQgetvalue(res, 0, 0), NULL, 10), rid);
	asked = json_loads(PQgetvalue(res, 0, 1), 0, NULL);
	if (!asked) {
		log_error("report-now %s: the sites asked are unreadable; nobody was asked live", rid);
		if (s)
			session_reply_error(s, v->ref, "internal", NULL, "request stored, sites unreadable");
		free(v);
		return;
	}
	if (s)
		session_send_json(s, json_pack("{s:s, s:s, s:s, s:O, s:s}", "type", "report_now",
					       "ref", v->ref, "request_id", rid, "asked", asked,
					       "requested_at", PQgetvalue(res, 0, 3)));
	ask_consoles(b, rid, asked, PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3));
	json_decref(asked);
	free(v);
}

/* The area is checked here (frame_check_area) and resolved to sites by
 * tocsin_point_in_area() in PostgreSQL, the same test alert targeting uses. */
void status_report_now(struct session *s, struct client_frame *f)
{
	struct frame_error err = { 0 };
	struct view_ctx *v;
	json_t *area = json_object_get(f->root, "area");
	char user[24], *area_text;
	const char *params[3] = { user, NULL, s->remote };
	int rc;

	if (s->who.role != ROLE_CONTROLLER) {
		session_reply_error(s, f->ref, "forbidden", NULL,
				    "only a controller asks sites to report");
		return;
	}
	if (!area || json_is_null(area)) {
		frame_error_set(&err, "missing_field", "area", "area is required");
		session_reply_check_error(s, f->ref, &err);
		return;
	}
	if (frame_check_area(area, "area", &err)) {
		session_reply_check_error(s, f->ref, &err);
		return;
	}
	area_text = json_dumps(area, JSON_COMPACT);
	if (!area_text || !(v = view_ctx_new(s, f))) {
		if (!area_text)
			session_reply_error(s, f->ref, "internal", NULL, "out of memory");
		free(area_text);
		return;
	}
	snprintf(user, sizeof user, "%lld", (long long)s->who.user_id);
	params[1] = area_text;
	rc = db_query(session_broker(s)->db,
		      "SELECT request_id, to_json(asked), by_name, requested_at"
		      " FROM tocsin_report_now($1, $2::jsonb, $3)",
		      3, params, report_now_stored, v);
	free(area_text);
	if (rc) {
		session_reply_error(s, f->ref, "unavailable", NULL,
				    "the database is not reachable; nobody was asked");
		free(v);
	}
}
