/* crime_report.c: crime records contributed over the WebSocket protocol
 * (issue 21; docs/protocol.md, "Crime records from partners").
 *
 * A site console, a company operator or the force (controller, analyst)
 * sends a crime_report: a category, a time, a pin (a console's defaults to
 * its site), an optional note and photo, and optional property with a
 * serial. Here the members' types and sizes are checked, naming the
 * field ("property.serial" for a member of property); tocsin_crime_report
 * (sql/functions/crime_contrib.sql) checks their values, stores the
 * record with the serial only as a keyed hash, audits it, files a
 * partner's record in the force's inbox (kind crime) and, when it is a
 * sighting or recovery of a serial on the stolen-property register, a
 * property_match item too; both go live to the force as partner reports
 * do. A refused request stores nothing.
 *
 * Loop thread only. */
#include "broker.h"
#include "handle.h"
#include "db.h"
#include "frame_check.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CRIME_CODE_MAX 64
#define CRIME_TEXT_MAX 2000
#define CRIME_TIME_MAX 40
#define CRIME_PROPERTY_MAX 64 /* kind, make, model, serial */
#define CRIME_IMAGE_MAX 64

static const char *const property_statuses[] = { "stolen", "sighted", "recovered", NULL };

struct crime_store {
	struct requester req;
};

static void crime_stored(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct crime_store *c = arg;

	if (err) {
		requester_db_error(b, &c->req, err, "unknown_target");
		goto out;
	}
	requester_send(b, &c->req, json_pack("{s:s, s:I}", "type", "crime_reported", "record_id",
					     (json_int_t)strtoll(PQgetvalue(res, 0, 0), NULL, 10)));
	for (int col = 1; col <= 2; col++) /* the crime, then the match */
		if (!PQgetisnull(res, 0, col))
			report_to_force(b, "partner_report", PQgetvalue(res, 0, col), 0);
out:
	free(c);
}

/* Copies member name of from into to when present (checked already). */
static void copy_member(json_t *to, json_t *from, const char *name)
{
	json_t *v = json_object_get(from, name);

	if (v && !json_is_null(v))
		json_object_set(to, name, v);
}

/* property: {kind, make, model, serial, status}, each optional; the
 * checked members into *out (NULL when there is no property). */
static int check_property(json_t *root, json_t **out, struct frame_error *err)
{
	json_t *p = json_object_get(root, "property");
	const char *s;
	static const char *const names[] = { "kind", "make", "model", "serial" };
	char field[FRAME_FIELD_MAX + sizeof "property."];

	*out = NULL;
	if (!p || json_is_null(p))
		return 0;
	if (!json_is_object(p)) {
		frame_error_set(err, "bad_field", "property",
				"property must be an object: kind, make, model, serial, status");
		return -1;
	}
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (frame_check_text(p, names[i], 1, CRIME_PROPERTY_MAX, 0, &s, err))
			goto bad;
	if (json_object_get(p, "status") && !json_is_null(json_object_get(p, "status")) &&
	    frame_check_enum(p, "status", property_statuses, NULL, &s, err))
		goto bad;
	*out = json_object();
	if (!*out)
		return -1;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		copy_member(*out, p, names[i]);
	copy_member(*out, p, "status");
	return 0;
bad:
	/* the member names are short: "property.serial" fits */
	snprintf(field, sizeof field, "property.%s", err->field);
	memcpy(err->field, field, sizeof err->field - 1);
	err->field[sizeof err->field - 1] = '\0';
	return -1;
}

/* The frame's members, checked, as the object tocsin_crime_report reads
 * (NULL with err filled). */
static json_t *crime_args(json_t *root, struct frame_error *err)
{
	const char *s;
	double lat, lon;
	int has_place;
	json_t *args, *property;

	if (frame_check_string(root, "category", 1, CRIME_CODE_MAX, 1, &s, err) ||
	    frame_check_string(root, "occurred_at", 1, CRIME_TIME_MAX, 1, &s, err) ||
	    report_place_check(root, &lat, &lon, &has_place, err) ||
	    frame_check_text(root, "text", 1, CRIME_TEXT_MAX, 0, &s, err) ||
	    frame_check_string(root, "image", 1, CRIME_IMAGE_MAX, 0, &s, err) ||
	    check_property(root, &property, err))
		return NULL;
	args = json_object();
	if (!args) {
		json_decref(property);
		return NULL;
	}
	copy_member(args, root, "category");
	copy_member(args, root, "occurred_at");
	copy_member(args, root, "text");
	copy_member(args, root, "image");
	if (has_place) {
		json_object_set_new(args, "lat", json_real(lat));
		json_object_set_new(args, "lon", json_real(lon));
	}
	if (property)
		json_object_set_new(args, "property", property);
	return args;
}

void crime_report_handle(struct session *s, struct client_frame *f)
{
	struct broker *b = session_broker(s);
	struct frame_error err = { 0 };
	struct requester r;
	struct crime_store *c = NULL;
	json_t *args = NULL;
	char *text = NULL, user[24], site[24];
	const char *params[4];

	requester_from_session(&r, s, f->ref);
	args = crime_args(f->root, &err);
	if (!args) {
		if (!err.code)
			requester_error(b, &r, "internal", NULL, "out of memory");
		else
			requester_check_error(b, &r, &err);
		goto out;
	}
	text = json_dumps(args, JSON_COMPACT);
	c = calloc(1, sizeof *c);
	if (!text || !c) {
		requester_error(b, &r, "internal", NULL, "out of memory");
		goto out;
	}
	c->req = r;
	snprintf(user, sizeof user, "%lld", (long long)r.who.user_id);
	snprintf(site, sizeof site, "%lld", (long long)r.who.site_id);
	params[0] = user;
	/* the console's site comes from the token, never from the message */
	params[1] = r.who.role == ROLE_SITE_CONSOLE ? site : NULL;
	params[2] = text;
	params[3] = r.remote;
	if (db_query(b->db, "SELECT record_id, report, match FROM tocsin_crime_report($1, $2, $3::jsonb, $4)",
		     4, params, crime_stored, c)) {
		requester_error(b, &r, "unavailable", NULL,
				"the database is not reachable; the crime report was not stored");
		goto out;
	}
	c = NULL;
out:
	free(c);
	free(text);
	json_decref(args);
}
