/* frame_publish.c: checks a publish request against the alert model
 * (docs/protocol.md, "Alerts in full" and "Targeting") and turns it into
 * the normalised record that tocsin_publish() and the journal store.
 * Pure: no I/O; unit-tested through frame_parse(). */
#include "frame.h"
#include "frame_check.h"
#include "clock.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const msg_types[] = { "alert", "update", "cancel", NULL };
static const char *const statuses[] = { "actual", "exercise", "test", NULL };
static const char *const categories[] = { "live_incident", "planned_event", "crime_pattern",
					  "offender", "request", "advice", "major_incident",
					  NULL };
static const char *const urgencies[] = { "immediate", "expected", "future", "past", "unknown",
					 NULL };
static const char *const severities[] = { "extreme", "severe", "moderate", "minor", NULL };
static const char *const certainties[] = { "observed", "likely", "possible", "unlikely",
					   "unknown", NULL };
static const char *const classifications[] = { "OFFICIAL", "OFFICIAL-SENSITIVE", NULL };
static const char *const target_roles[] = { "site_console", "company_operator", NULL };

/* Copies a checked string member into rec when present. */
static int put_string(json_t *root, json_t *rec, const char *name, size_t min, size_t max,
		      int required, struct frame_error *err)
{
	const char *v;

	if (frame_check_string(root, name, min, max, required, &v, err))
		return -1;
	if (v)
		json_object_set_new(rec, name, json_string(v));
	return 0;
}

/* An enum member: filled with its default only for a new alert; with no
 * default, an absent member is left out (an update keeps the old value). */
static int put_enum(json_t *root, json_t *rec, const char *name, const char *const *choices,
		    const char *def, struct frame_error *err)
{
	const char *v = NULL;

	if (!def && !json_object_get(root, name))
		return 0;
	if (frame_check_enum(root, name, choices, def, &v, err))
		return -1;
	if (v)
		json_object_set_new(rec, name, json_string(v));
	return 0;
}

static int put_time(json_t *root, json_t *rec, const char *name, int64_t *ms,
		    struct frame_error *err)
{
	const char *v;

	*ms = 0;
	if (frame_check_string(root, name, 1, 40, 0, &v, err))
		return -1;
	if (!v)
		return 0;
	if (clock_parse_iso(v, ms)) {
		frame_error_set(err, "bad_field", name,
				"%s must be an RFC 3339 time such as 2026-11-22T14:15:00Z", name);
		return -1;
	}
	json_object_set_new(rec, name, json_string(v));
	return 0;
}

static int check_request(json_t *req, struct frame_error *err)
{
	static const char *const kinds[] = { "choice", "number", NULL };
	const char *kind, *s;
	json_t *options, *v;
	int64_t min = 0, max = 1000000;
	int has_min, has_max;
	size_t i, k;

	if (!json_is_object(req)) {
		frame_error_set(err, "bad_field", "request", "request must be an object with kind");
		return -1;
	}
	if (frame_check_enum(req, "kind", kinds, NULL, &kind, err))
		goto rename;
	if (!strcmp(kind, "choice")) {
		options = json_object_get(req, "options");
		if (!json_is_array(options) || json_array_size(options) < 2 ||
		    json_array_size(options) > 8) {
			frame_error_set(err, "bad_field", "request.options",
					"request.options must be 2 to 8 strings");
			return -1;
		}
		json_array_foreach(options, i, v) {
			if (!json_is_string(v) || json_string_length(v) < 1 ||
			    json_string_length(v) > 40) {
				frame_error_set(err, "bad_field", "request.options",
						"each option must be 1 to 40 characters");
				return -1;
			}
			for (k = 0; k < i; k++)
				if (json_equal(v, json_array_get(options, k))) {
					frame_error_set(err, "bad_field", "request.options",
							"options must differ");
					return -1;
				}
		}
		return 0;
	}
	if (frame_check_string(req, "label", 1, 100, 1, &s, err) ||
	    frame_check_int(req, "min", 0, 1000000, 0, &min, &has_min, err) ||
	    frame_check_int(req, "max", 0, 1000000, 0, &max, &has_max, err))
		goto rename;
	if (min > max) {
		frame_error_set(err, "bad_field", "request.max", "request.max must be at least min");
		return -1;
	}
	return 0;
rename:
	{
		char member[16];
		snprintf(member, sizeof member, "%.15s", err->field);
		snprintf(err->field, sizeof err->field, "request.%s", member);
	}
	return -1;
}

static int check_string_array(json_t *arr, const char *field, size_t max_items, size_t max_len,
			      const char *const *choices, struct frame_error *err)
{
	json_t *v;
	size_t i;

	if (!json_is_array(arr) || json_array_size(arr) > max_items) {
		frame_error_set(err, "bad_field", field, "%s must be an array of at most %zu strings",
				field, max_items);
		return -1;
	}
	json_array_foreach(arr, i, v) {
		int ok = json_is_string(v) && json_string_length(v) >= 1 &&
			 json_string_length(v) <= max_len;
		for (const char *const *c = choices; ok && c && *c; c++)
			if (!strcmp(json_string_value(v), *c))
				break;
			else if (!c[1])
				ok = 0;
		if (!ok) {
			char f[FRAME_FIELD_MAX];
			snprintf(f, sizeof f, "%.40s[%zu]", field, i);
			frame_error_set(err, "bad_field", f, "%s is not a valid entry", f);
			return -1;
		}
	}
	return 0;
}

/* targets: sites, orgs (checked by the caller into p), sectors, area,
 * roles, and geocodes: "VALUENAME=VALUE" of a CAP import, which the
 * administrator's mapping turns into sites (sql/functions/geocode.sql). */
static int check_targets(json_t *root, json_t *targets, json_t *rec, struct frame_publish *p,
			 struct frame_error *err)
{
	json_t *sectors = json_object_get(targets, "sectors"), *area = json_object_get(targets, "area"),
	       *roles = json_object_get(targets, "roles"), *t = json_object(),
	       *geocodes = json_object_get(targets, "geocodes");
	int use_area = 0;

	json_object_set_new(rec, "targets", t);
	if (sectors && !json_is_null(sectors)) {
		if (check_string_array(sectors, "targets.sectors", 50, 32, NULL, err))
			return -1;
		json_object_set(t, "sectors", sectors);
	}
	if (geocodes && !json_is_null(geocodes)) {
		if (check_string_array(geocodes, "targets.geocodes", 50, 300, NULL, err))
			return -1;
		json_object_set(t, "geocodes", geocodes);
	}
	if (area && !json_is_null(area)) {
		if (!json_is_boolean(area)) {
			frame_error_set(err, "bad_field", "targets.area",
					"targets.area must be true or false");
			return -1;
		}
		use_area = json_is_true(area);
		if (use_area && !json_object_get(root, "area")) {
			frame_error_set(err, "bad_field", "targets.area",
					"targets.area needs the alert's area");
			return -1;
		}
		json_object_set_new(t, "area", json_boolean(use_area));
	}
	if (roles && !json_is_null(roles)) {
		if (check_string_array(roles, "targets.roles", 2, 32, target_roles, err))
			return -1;
		if (json_array_size(roles) == 0) {
			frame_error_set(err, "bad_field", "targets.roles",
					"targets.roles must name at least one role");
			return -1;
		}
		json_object_set(t, "roles", roles);
	}
	{
		json_t *o = json_array(), *s = json_array();
		for (size_t i = 0; i < p->n_orgs; i++)
			json_array_append_new(o, json_integer(p->orgs[i]));
		for (size_t i = 0; i < p->n_sites; i++)
			json_array_append_new(s, json_integer(p->sites[i]));
		json_object_set_new(t, "orgs", o);
		json_object_set_new(t, "sites", s);
	}
	if (p->n_orgs + p->n_sites == 0 && json_array_size(sectors) == 0 && !use_area &&
	    json_array_size(geocodes) == 0) {
		frame_error_set(err, "bad_field", "targets",
				"targets must name sites, organisations, sectors, geocodes or the area");
		return -1;
	}
	return 0;
}

/* 1 when v holds only strings, arrays and objects, depth at most d. */
static int plain_json(json_t *v, int d)
{
	const char *k;
	json_t *x;
	size_t i;

	if (json_is_string(v))
		return 1;
	if (d == 0 || !(json_is_array(v) || json_is_object(v)))
		return 0;
	if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			if (!plain_json(x, d - 1))
				return 0;
		return 1;
	}
	json_object_foreach(v, k, x)
		if (!plain_json(x, d - 1))
			return 0;
	return 1;
}

/* cap_info: what an imported CAP message sent, every info block by
 * language (adapters/cap: event, headline, description, instruction,
 * sender_name, contact, web, area, parameters, resources), shown by the
 * consoles beside the alert. At most 16 blocks and 64 KiB. */
static int check_cap_info(json_t *root, json_t *rec, struct frame_error *err)
{
	json_t *v = json_object_get(root, "cap_info"), *b;
	char *text;
	size_t i, len;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v) || json_array_size(v) > 16 || !plain_json(v, 4))
		goto bad;
	json_array_foreach(v, i, b)
		if (!json_is_object(b) || !json_is_string(json_object_get(b, "language")))
			goto bad;
	text = json_dumps(v, JSON_COMPACT);
	len = text ? strlen(text) : SIZE_MAX;
	free(text);
	if (len > 65536)
		goto bad;
	json_object_set(rec, "cap_info", v);
	return 0;
bad:
	frame_error_set(err, "bad_field", "cap_info",
			"cap_info must be at most 16 info blocks, each with a language, of "
			"strings, lists and objects, 64 KiB in all");
	return -1;
}

/* origin: what an imported message said of itself (its identifier,
 * sender, sent and sender name, as CAP has them); the CAP export gives
 * them back. Only an adapter may give it (broker/handle/publish.c).
 * signature: "verified" when the sender is registered and its XML
 * Signature verified, "failed" when it did not (held for review, then
 * published by a controller): the CAP importer's finding, shown with the
 * source (adapters/cap/cap_verify.c). */
static int check_origin(json_t *root, json_t *rec, struct frame_error *err)
{
	static const char *const names[] = { "identifier", "sender", "sent", "sender_name",
					     "signature", NULL };
	json_t *o = json_object_get(root, "origin"), *copy;
	const char *v;
	int64_t ms;

	if (!o || json_is_null(o))
		return 0;
	if (!json_is_object(o) || json_object_size(o) > 5) {
		frame_error_set(err, "bad_field", "origin",
				"origin must be an object of identifier, sender, sent, sender_name, signature");
		return -1;
	}
	copy = json_object();
	for (int i = 0; names[i]; i++) {
		if (frame_check_text(o, names[i], 1, 255, i < 3, &v, err)) {
			char member[16];
			snprintf(member, sizeof member, "%.15s", err->field);
			snprintf(err->field, sizeof err->field, "origin.%s", member);
			json_decref(copy);
			return -1;
		}
		/* CAP: identifier and sender without white space or commas (they
		 * are written into references triplets), sent a time */
		if (v && i == 4 && strcmp(v, "verified") && strcmp(v, "failed")) {
			frame_error_set(err, "bad_field", "origin.signature",
					"origin.signature is verified or failed");
			json_decref(copy);
			return -1;
		}
		if (v && (i < 2 ? strpbrk(v, " \t\r\n,") != NULL
				: i == 2 && clock_parse_iso(v, &ms))) {
			frame_error_set(err, "bad_field", i ? (i == 1 ? "origin.sender" : "origin.sent")
							      : "origin.identifier",
					"origin.%s is not as CAP writes it", names[i]);
			json_decref(copy);
			return -1;
		}
		if (v)
			json_object_set_new(copy, names[i], json_string(v));
	}
	if (json_object_size(copy) != json_object_size(o)) {
		frame_error_set(err, "bad_field", "origin",
				"origin holds only identifier, sender, sent, sender_name and signature");
		json_decref(copy);
		return -1;
	}
	json_object_set_new(rec, "origin", copy);
	return 0;
}

int frame_publish_check(json_t *root, struct frame_publish *p,
			int (*get_ids)(json_t *, const char *, int64_t **, size_t *,
				       struct frame_error *),
			struct frame_error *err)
{
	json_t *rec = json_object(), *v, *targets;
	const char *type;
	int64_t refid, days, effective = 0, expires = 0;
	int has;
	int fresh;

	p->rec = rec;
	if (frame_check_enum(root, "msg_type", msg_types, "alert", &type, err))
		return -1;
	fresh = !strcmp(type, "alert");
	json_object_set_new(rec, "msg_type", json_string(type));
	if (frame_check_int(root, "references", 1, (1LL << 53), !fresh, &refid, &has, err))
		return -1;
	if (has && fresh) {
		frame_error_set(err, "bad_field", "references",
				"references is only for msg_type update or cancel");
		return -1;
	}
	if (has)
		json_object_set_new(rec, "references", json_integer(refid));
	if (put_string(root, rec, "headline", 1, FRAME_HEADLINE_MAX, fresh, err) ||
	    put_string(root, rec, "body", 0, FRAME_BODY_MAX, 0, err) ||
	    put_enum(root, rec, "severity", severities, NULL, err) ||
	    put_enum(root, rec, "status", statuses, fresh ? "actual" : NULL, err) ||
	    put_enum(root, rec, "category", categories, fresh ? "advice" : NULL, err) ||
	    put_enum(root, rec, "urgency", urgencies, fresh ? "unknown" : NULL, err) ||
	    put_enum(root, rec, "certainty", certainties, fresh ? "unknown" : NULL, err) ||
	    put_string(root, rec, "instruction", 0, 2000, 0, err) ||
	    put_enum(root, rec, "classification", classifications, fresh ? "OFFICIAL" : NULL, err) ||
	    put_string(root, rec, "handling", 0, 500, 0, err) ||
	    put_time(root, rec, "effective", &effective, err) ||
	    put_time(root, rec, "expires", &expires, err))
		return -1;
	if (fresh && !json_object_get(rec, "body"))
		json_object_set_new(rec, "body", json_string(""));
	if (expires && effective && expires <= effective) {
		frame_error_set(err, "bad_field", "expires", "expires must be after effective");
		return -1;
	}
	if ((v = json_object_get(root, "area")) && !json_is_null(v)) {
		if (frame_check_area(v, "area", err))
			return -1;
		json_object_set(rec, "area", v);
	}
	if ((v = json_object_get(root, "request")) && !json_is_null(v)) {
		if (check_request(v, err))
			return -1;
		json_object_set(rec, "request", v);
	}
	if ((v = json_object_get(root, "images")) && !json_is_null(v)) {
		if (check_string_array(v, "images", 4, 64, NULL, err))
			return -1;
		json_object_set(rec, "images", v);
	}
	if (frame_check_int(root, "image_days", 1, 365, 0, &days, &has, err) ||
	    check_origin(root, rec, err) || check_cap_info(root, rec, err))
		return -1;
	if (has)
		json_object_set_new(rec, "image_days", json_integer(days));
	/* the CAP import held in the inbox that this publish releases */
	if (frame_check_int(root, "pending_import", 1, (1LL << 53), 0, &refid, &has, err))
		return -1;
	if (has)
		json_object_set_new(rec, "pending_import", json_integer(refid));

	targets = json_object_get(root, "targets");
	if (!fresh) {
		if (targets && !json_is_null(targets)) {
			frame_error_set(err, "bad_field", "targets",
					"update and cancel go to the referenced alert's recipients");
			return -1;
		}
		return 0;
	}
	if (!json_object_get(rec, "severity")) {
		frame_error_set(err, "missing_field", "severity", "severity is required");
		return -1;
	}
	if (!targets) {
		frame_error_set(err, "missing_field", "targets", "targets is required");
		return -1;
	}
	if (!json_is_object(targets)) {
		frame_error_set(err, "bad_field", "targets",
				"targets must be an object (sites, orgs, sectors, area, roles)");
		return -1;
	}
	if (get_ids(targets, "orgs", &p->orgs, &p->n_orgs, err) ||
	    get_ids(targets, "sites", &p->sites, &p->n_sites, err))
		return -1;
	return check_targets(root, targets, rec, p, err);
}
