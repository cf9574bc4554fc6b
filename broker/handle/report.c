/* report.c: partner reports to the force.
 *
 * A site console or a company operator reports something it saw (a
 * sighting, a suspicious incident, a crime), with the place of the
 * sighting when it gives one (a pin on the console's map; it must lie in
 * the force's area), else its site's: tocsin_report() stores and audits
 * it, and the report goes live to every controller and analyst session.
 * The force works them in its inbox (inbox.c).
 *
 * A report may also come from an adapter on the ZeroMQ bus (session.h):
 * then tocsin_bus_report() stores it once per (adapter, seq). Every stored
 * report is also put on the bus as a "report" event.
 *
 * While PostgreSQL is unreachable these requests answer "unavailable" and
 * change nothing (journaling reports is a later step).
 *
 * Loop thread only. */
#include "broker.h"
#include "handle.h"
#include "bus.h"
#include "db.h"
#include "frame_check.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPORT_TEXT_MAX 2000
#define REPORT_TIME_MAX 40
#define REPORT_IMAGE_MAX 64

/* The force's area and around it (Greater London's extent, 51.29 to
 * 51.69 N and 0.51 W to 0.33 E, rounded out): a sighting placed outside it
 * is a slip of the pin or of the keyboard, not a report for this force. */
#define PLACE_LAT_MIN 51.28
#define PLACE_LAT_MAX 51.70
#define PLACE_LON_MIN (-0.52)
#define PLACE_LON_MAX 0.34

static const char *const kinds[] = { "sighting", "suspicious", "crime", "other", "cap_import",
				     NULL };

/* A pending CAP import (kind cap_import): the publish request the CAP
 * adapter could not target, held whole in the inbox (049_cap_geocodes)
 * for a controller to target and publish. Only an adapter files one; at
 * most 128 KiB (cap_info alone may be 64 KiB). NULL cap for other kinds. */
#define REPORT_CAP_MAX (128 * 1024)

static int check_cap(const struct requester *r, json_t *root, const char *kind, char **cap,
		     struct frame_error *err)
{
	json_t *v = json_object_get(root, "cap");
	int pending = !strcmp(kind, "cap_import");

	*cap = NULL;
	if (pending && !r->adapter_id) {
		frame_error_set(err, "bad_field", "kind", "only an adapter files a cap_import");
		return -1;
	}
	if (!pending && v && !json_is_null(v)) {
		frame_error_set(err, "bad_field", "cap", "cap is for kind cap_import");
		return -1;
	}
	if (!pending)
		return 0;
	if (!json_is_object(v)) {
		frame_error_set(err, "bad_field", "cap",
				"cap must be the publish request the import held");
		return -1;
	}
	*cap = json_dumps(v, JSON_COMPACT);
	if (!*cap || strlen(*cap) > REPORT_CAP_MAX) {
		free(*cap);
		*cap = NULL;
		frame_error_set(err, "bad_field", "cap", "cap must be at most 128 KiB");
		return -1;
	}
	return 0;
}

int report_kind_check(json_t *obj, const char *name, int required, const char **out,
		      struct frame_error *err)
{
	json_t *v = json_object_get(obj, name);

	*out = NULL;
	if (!required && (!v || json_is_null(v)))
		return 0;
	return frame_check_enum(obj, name, kinds, NULL, out, err);
}

/* A report being stored: who sent it and where the reply goes. */
struct report_store {
	struct requester req;
};

void report_to_force(struct broker *b, const char *type, const char *report_json,
		     uint64_t except_session)
{
	json_t *report = json_loads(report_json, 0, NULL);
	size_t len;
	char *text;
	struct msg *m = NULL;

	text = report ? frame_dump(json_pack("{s:s, s:o}", "type", type, "report", report), &len)
		      : NULL;
	if (text)
		m = msg_new(text, len, MSG_CONTROL, 0);
	free(text);
	if (!m) {
		log_error("%s not sent live: unreadable or out of memory", type);
		return;
	}
	fanout_to_force(b, m, except_session);
	msg_unref(m);
}

/* The "report" bus event: the report as the force sees it, with the
 * sender's username. */
static void report_emit(struct broker *b, const struct requester *r, const char *report_json)
{
	json_t *report = json_loads(report_json, 0, NULL), *ev;

	if (!report)
		return;
	ev = json_pack("{s:O?, s:O?, s:O?, s:s, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:s?}",
		       "report_id", json_object_get(report, "id"),
		       "site_id", json_object_get(report, "site_id"),
		       "org_id", json_object_get(report, "org_id"),
		       "user", r->who.username,
		       "kind", json_object_get(report, "kind"),
		       "text", json_object_get(report, "text"),
		       "lat", json_object_get(report, "lat"),
		       "lon", json_object_get(report, "lon"),
		       "occurred_at", json_object_get(report, "occurred_at"),
		       "image", json_object_get(report, "image"),
		       "adapter", r->adapter_id ? r->adapter : NULL);
	json_decref(report);
	bus_emit(b, "report", ev);
}

/* Columns: report_id, report (json) and, from tocsin_bus_report,
 * duplicate. */
static void report_stored(struct broker *b, void *arg, PGresult *res,
			  const struct db_error *err)
{
	struct report_store *c = arg;
	int duplicate = res && PQnfields(res) > 2 && !strcmp(PQgetvalue(res, 0, 2), "t");
	json_t *reply;

	if (err) {
		/* TS422 naming occurred_at (checked by tocsin_report) is a bad_field */
		requester_db_error(b, &c->req, err, "unknown_target");
		free(c);
		return;
	}
	reply = json_pack("{s:s, s:I}", "type", "reported", "report_id",
			  (json_int_t)strtoll(PQgetvalue(res, 0, 0), NULL, 10));
	if (reply && c->req.adapter_id)
		json_object_set_new(reply, "duplicate", json_boolean(duplicate));
	requester_send(b, &c->req, reply);
	if (!duplicate) {
		report_to_force(b, "partner_report", PQgetvalue(res, 0, 1), 0);
		report_emit(b, &c->req, PQgetvalue(res, 0, 1));
	}
	free(c);
}

int report_place_check(json_t *root, double *lat, double *lon, int *has, struct frame_error *err)
{
	int has_lat, has_lon;

	if (frame_check_number(root, "lat", -90, 90, 0, lat, &has_lat, err) ||
	    frame_check_number(root, "lon", -180, 180, 0, lon, &has_lon, err))
		return -1;
	if (has_lat != has_lon) {
		frame_error_set(err, "missing_field", has_lat ? "lon" : "lat",
				"lat and lon go together: %s is missing", has_lat ? "lon" : "lat");
		return -1;
	}
	*has = has_lat;
	if (has_lat && (*lat < PLACE_LAT_MIN || *lat > PLACE_LAT_MAX)) {
		frame_error_set(err, "bad_field", "lat",
				"lat must lie in the force's area (%.2f to %.2f)", PLACE_LAT_MIN,
				PLACE_LAT_MAX);
		return -1;
	}
	if (has_lon && (*lon < PLACE_LON_MIN || *lon > PLACE_LON_MAX)) {
		frame_error_set(err, "bad_field", "lon",
				"lon must lie in the force's area (%.2f to %.2f)", PLACE_LON_MIN,
				PLACE_LON_MAX);
		return -1;
	}
	return 0;
}

/* Checks every member before anything is stored; occurred_at's format
 * and range are checked by tocsin_report(), which stores nothing either
 * when it refuses. */
void report_request(struct broker *b, const struct requester *r, struct client_frame *f)
{
	struct frame_error err = { 0 };
	struct report_store *c;
	const char *kind, *text, *occurred_at, *image;
	double lat = 0, lon = 0;
	int has_place, sent;
	char user[24], site[24], slat[32], slon[32], adapter[24], seq[24], *cap = NULL;
	const char *params[10];

	/* an adapter may report whatever its user's role (the ANPR adapter, a
	 * controller's, files the hits no site is near: issue 18) */
	if (!r->via_bus && r->who.role != ROLE_SITE_CONSOLE &&
	    r->who.role != ROLE_COMPANY_OPERATOR) {
		requester_error(b, r, "forbidden", NULL,
				"only site consoles and company operators send reports");
		return;
	}
	if (report_kind_check(f->root, "kind", 1, &kind, &err) ||
	    frame_check_text(f->root, "text", 1, REPORT_TEXT_MAX, 1, &text, &err) ||
	    report_place_check(f->root, &lat, &lon, &has_place, &err) ||
	    frame_check_string(f->root, "occurred_at", 1, REPORT_TIME_MAX, 0, &occurred_at, &err) ||
	    frame_check_string(f->root, "image", 1, REPORT_IMAGE_MAX, 0, &image, &err) ||
	    check_cap(r, f->root, kind, &cap, &err))
		goto bad;

	c = calloc(1, sizeof *c);
	if (!c) {
		requester_error(b, r, "internal", NULL, "out of memory");
		free(cap);
		return;
	}
	c->req = *r;
	snprintf(user, sizeof user, "%lld", (long long)r->who.user_id);
	snprintf(site, sizeof site, "%lld", (long long)r->who.site_id);
	snprintf(slat, sizeof slat, "%.17g", lat);
	snprintf(slon, sizeof slon, "%.17g", lon);
	params[0] = user;
	/* the console's site comes from the token, never from the message */
	params[1] = r->who.role == ROLE_SITE_CONSOLE ? site : NULL;
	params[2] = kind;
	params[3] = text;
	params[4] = has_place ? slat : NULL;
	params[5] = has_place ? slon : NULL;
	params[6] = occurred_at;
	params[7] = image;
	params[8] = r->remote;
	params[9] = cap;
	if (r->adapter_id) {
		/* the adapter's user (and site) are looked up by the function */
		snprintf(adapter, sizeof adapter, "%lld", (long long)r->adapter_id);
		snprintf(seq, sizeof seq, "%lld", (long long)r->seq);
		params[0] = adapter;
		params[1] = seq;
		sent = db_query(b->db,
				"SELECT report_id, report, duplicate FROM tocsin_bus_report("
				"$1::integer, $2::bigint, $3, $4, $5, $6, $7, $8, $9, $10::jsonb)",
				10, params, report_stored, c);
	} else {
		sent = db_query(b->db,
				"SELECT report_id, report FROM tocsin_report($1, $2, $3, $4, $5, $6,"
				" $7, $8, $9)",
				9, params, report_stored, c);
	}
	if (sent) {
		requester_error(b, r, "unavailable", NULL,
				"the database is not reachable; the report was not sent");
		free(c);
	}
	free(cap);
	return;
bad:
	requester_check_error(b, r, &err);
}

void report_handle(struct session *s, struct client_frame *f)
{
	struct requester r;

	requester_from_session(&r, s, f->ref);
	report_request(session_broker(s), &r, f);
}
