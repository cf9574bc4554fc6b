/* cap_parse.c: a CAP 1.2 document to the Tocsin publish fields.
 *
 * Three gates, each refusing with the element and line at fault: the XML
 * must be well formed (libxml2, no network, no external entities), valid
 * against the OASIS schema (xmlSchemaValidateDoc; a DOCTYPE is refused, so
 * no entity can expand), and hold what Tocsin can
 * publish (status Actual/Exercise/Test, msgType Alert/Update/Cancel, a
 * references for Update and Cancel, an area Tocsin can draw, lengths
 * within the model's limits). Whatever the document says that the model
 * cannot hold is listed in notes, one line each, never dropped silently.
 * The mapping is in adapters/cap/README.md. */
#include "cap_parse.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>

#define CAP_NS "urn:oasis:names:tc:emergency:cap:1.2"
#define MAX_IMAGES 4
#define MAX_POLYGON 500

struct cap_schema {
	xmlSchemaPtr schema;
};

/* Replaces with '?' each byte that does not start a whole UTF-8 sequence:
 * a %.200s may cut a character in two, and jansson refuses the string. */
static void utf8_repair(char *s)
{
	for (unsigned char *p = (unsigned char *)s; *p;) {
		size_t need = *p < 0x80 ? 1 : *p >= 0xF8 ? 0 : *p >= 0xF0 ? 4 : *p >= 0xE0 ? 3
			    : *p >= 0xC0 ? 2 : 0;
		size_t i = 1;

		while (need && i < need && (p[i] & 0xC0) == 0x80)
			i++;
		if (!need || i < need) {
			*p++ = '?';
			continue;
		}
		p += need;
	}
}

static void problem_set(struct cap_problem *p, const char *element, int line, const char *fmt,
			...) __attribute__((format(printf, 4, 5)));

static void problem_set(struct cap_problem *p, const char *element, int line, const char *fmt,
			...)
{
	va_list ap;

	snprintf(p->element, sizeof p->element, "%s", element ? element : "document");
	p->line = line;
	va_start(ap, fmt);
	vsnprintf(p->reason, sizeof p->reason, fmt, ap);
	va_end(ap);
	/* "{urn:...cap:1.2}severity" reads better as "severity" */
	for (char *ns; (ns = strstr(p->reason, "{" CAP_NS "}"));)
		memmove(ns, ns + sizeof CAP_NS + 1, strlen(ns + sizeof CAP_NS + 1) + 1);
	/* libxml2 messages end in a newline */
	for (size_t n = strlen(p->reason); n && (p->reason[n - 1] == '\n' || p->reason[n - 1] == ' ');
	     n--)
		p->reason[n - 1] = '\0';
	utf8_repair(p->reason);
}

void cap_problem_format(const struct cap_problem *p, char *buf, size_t size)
{
	if (p->line > 0)
		snprintf(buf, size, "%s (line %d): %s", p->element, p->line, p->reason);
	else
		snprintf(buf, size, "%s: %s", p->element, p->reason);
}

/* libxml2 reports through callbacks; these keep the first error only. */
static void keep_first_error(void *ctx, xmlErrorPtr e)
{
	struct cap_problem *p = ctx;
	const char *name = "document";

	if (p->reason[0] || !e)
		return;
	if (e->node && ((xmlNodePtr)e->node)->type == XML_ELEMENT_NODE)
		name = (const char *)((xmlNodePtr)e->node)->name;
	problem_set(p, name, e->line, "%s", e->message ? e->message : "invalid");
}

struct cap_schema *cap_schema_load(const char *path, struct cap_problem *err)
{
	xmlSchemaParserCtxtPtr pc;
	struct cap_schema *s;

	memset(err, 0, sizeof *err);
	pc = xmlSchemaNewParserCtxt(path);
	if (!pc) {
		problem_set(err, "schema", 0, "cannot read the schema %s", path);
		return NULL;
	}
	xmlSchemaSetParserStructuredErrors(pc, keep_first_error, err);
	s = calloc(1, sizeof *s);
	if (s)
		s->schema = xmlSchemaParse(pc);
	xmlSchemaFreeParserCtxt(pc);
	if (!s || !s->schema) {
		if (!err->reason[0])
			problem_set(err, "schema", 0, "cannot load the schema %s", path);
		free(s);
		return NULL;
	}
	return s;
}

void cap_schema_free(struct cap_schema *s)
{
	if (!s)
		return;
	xmlSchemaFree(s->schema);
	free(s);
}

void cap_alert_free(struct cap_alert *a)
{
	json_decref(a->publish);
	json_decref(a->images);
	json_decref(a->notes);
	json_decref(a->geocodes);
	json_decref(a->origin);
	free(a->identifier);
	free(a->sender);
	free(a->sent);
	for (size_t i = 0; i < a->n_refs; i++) {
		free(a->refs[i].sender);
		free(a->refs[i].identifier);
		free(a->refs[i].sent);
	}
	free(a->refs);
	memset(a, 0, sizeof *a);
}

/* ------------------------------------------------------------ tree helpers */

static int is_cap(xmlNodePtr n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && n->ns &&
	       !strcmp((const char *)n->ns->href, CAP_NS) &&
	       (!name || !strcmp((const char *)n->name, name));
}

static xmlNodePtr child(xmlNodePtr parent, const char *name)
{
	for (xmlNodePtr c = parent->children; c; c = c->next)
		if (is_cap(c, name))
			return c;
	return NULL;
}

/* The text of an element (caller frees), "" for an empty one, NULL on OOM. */
static char *text_of(xmlNodePtr n)
{
	xmlChar *t = xmlNodeGetContent(n);
	char *s = strdup(t ? (const char *)t : "");

	xmlFree(t);
	return s;
}

/* 1 when the element holds nothing but white space. */
static int is_blank(xmlNodePtr n)
{
	char *v = text_of(n);
	int blank = !v || !v[strspn(v, " \t\r\n")];

	free(v);
	return blank;
}

/* The text of the first child element called name, or NULL. */
static char *child_text(xmlNodePtr parent, const char *name)
{
	xmlNodePtr c = child(parent, name);
	return c ? text_of(c) : NULL;
}

static int line_of(xmlNodePtr n)
{
	return (int)xmlGetLineNo(n);
}

static void note(struct cap_alert *a, xmlNodePtr n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Records one thing the model cannot hold: "<element> (line N): what". */
static void note(struct cap_alert *a, xmlNodePtr n, const char *fmt, ...)
{
	char what[400], line[480];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	snprintf(line, sizeof line, "%s (line %d): %s", n ? (const char *)n->name : "alert",
		 n ? line_of(n) : 0, what);
	utf8_repair(line);
	json_array_append_new(a->notes, json_string(line));
}

/* Lower-cases a schema-checked enumeration value into buf. */
static const char *lower(const char *s, char *buf, size_t size)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < size; i++)
		buf[i] = (char)tolower((unsigned char)s[i]);
	buf[i] = '\0';
	return buf;
}

/* The number of characters (not bytes) of UTF-8 text. */
static size_t utf8_len(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

/* ------------------------------------------------------------ the alert block */

/* references: "sender,identifier,sent" triplets separated by white space. */
static int parse_references(xmlNodePtr n, struct cap_alert *a, struct cap_problem *err)
{
	char *all = text_of(n), *save = NULL, *tok;
	int rc = 0;

	if (!all)
		return -1;
	for (tok = strtok_r(all, " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save)) {
		char *c1 = strchr(tok, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
		struct cap_ref *grown;

		if (!c1 || !c2 || c1 == tok || c2 == c1 + 1 || !c2[1] || strchr(c2 + 1, ',')) {
			problem_set(err, "references", line_of(n),
				    "\"%.120s\" is not a sender,identifier,sent triplet", tok);
			rc = -1;
			break;
		}
		grown = realloc(a->refs, (a->n_refs + 1) * sizeof *grown);
		if (!grown) {
			rc = -1;
			break;
		}
		a->refs = grown;
		a->refs[a->n_refs].sender = strndup(tok, (size_t)(c1 - tok));
		a->refs[a->n_refs].identifier = strndup(c1 + 1, (size_t)(c2 - c1 - 1));
		a->refs[a->n_refs].sent = strdup(c2 + 1);
		a->n_refs++;
	}
	if (!rc && a->n_refs == 0) {
		problem_set(err, "references", line_of(n), "references is empty");
		rc = -1;
	}
	free(all);
	return rc;
}

/* status and msgType: what Tocsin can publish. */
static int map_header(xmlNodePtr root, struct cap_alert *a, struct cap_problem *err)
{
	xmlNodePtr st = child(root, "status"), mt = child(root, "msgType"),
		   refs = child(root, "references");
	char *status = text_of(st), *type = text_of(mt), buf[16];
	int rc = -1;

	if (!status || !type)
		goto out;
	if (strcmp(status, "Actual") && strcmp(status, "Exercise") && strcmp(status, "Test")) {
		problem_set(err, "status", line_of(st),
			    "status %s cannot be published: Tocsin takes Actual, Exercise or Test",
			    status);
		goto out;
	}
	if (strcmp(type, "Alert") && strcmp(type, "Update") && strcmp(type, "Cancel")) {
		problem_set(err, "msgType", line_of(mt),
			    "msgType %s cannot be published: Tocsin takes Alert, Update or Cancel",
			    type);
		goto out;
	}
	json_object_set_new(a->publish, "status", json_string(lower(status, buf, sizeof buf)));
	json_object_set_new(a->publish, "msg_type", json_string(lower(type, buf, sizeof buf)));
	if (strcmp(type, "Alert") && !refs) {
		problem_set(err, "msgType", line_of(mt),
			    "an %s needs references naming the message it replaces", type);
		goto out;
	}
	if (refs && parse_references(refs, a, err))
		goto out;
	if (refs && !strcmp(type, "Alert"))
		note(a, refs, "references of an Alert are not held");
	rc = 0;
out:
	free(status);
	free(type);
	return rc;
}

/* Elements of <alert> the model does not hold. */
static void note_alert_extras(xmlNodePtr root, struct cap_alert *a)
{
	static const char *const held[] = { "identifier", "sender", "sent", "status",
					    "msgType", "references", "info", NULL };
	for (xmlNodePtr c = root->children; c; c = c->next) {
		int known = 0;
		if (c->type != XML_ELEMENT_NODE)
			continue;
		for (int i = 0; held[i]; i++)
			known |= is_cap(c, held[i]);
		if (is_cap(c, "info")) {
			continue; /* every block is held in cap_info (hold_infos) */
		} else if (is_cap(c, "scope")) {
			char *v = text_of(c);
			if (v && strcmp(v, "Public"))
				note(a, c, "scope %s is not held: recipients come from the targets", v);
			free(v);
		} else if (!known) {
			char *v = text_of(c);
			note(a, c, "%.200s is not held", v ? v : "");
			free(v);
		}
	}
}

/* ------------------------------------------------------------ the info block */

/* CAP category to Tocsin category; *exact when export gives it back. */
static const char *category_from_cap(const char *cap, int *exact)
{
	*exact = 1;
	if (!strcmp(cap, "Security"))
		return "live_incident";
	if (!strcmp(cap, "Safety"))
		return "advice";
	if (!strcmp(cap, "CBRNE"))
		return "major_incident";
	*exact = 0;
	if (!strcmp(cap, "Rescue"))
		return "live_incident";
	return "advice";
}

static int is_tocsin_category(const char *c)
{
	static const char *const all[] = { "live_incident", "planned_event", "crime_pattern",
					   "offender", "request", "advice", "major_incident", NULL };
	for (int i = 0; all[i]; i++)
		if (!strcmp(c, all[i]))
			return 1;
	return 0;
}

/* Cuts v (longer than max characters) to its first max - 1 and an
 * ellipsis, in place: what a console shows. The whole text stays in
 * cap_info (hold_info), so a long description from a national feed is
 * shown folded, never refused. */
static void cut_text(struct cap_alert *a, xmlNodePtr n, char *v, size_t max)
{
	size_t chars = 0, len = utf8_len(v);
	char *p = v;

	for (; *p; p++)
		if (((unsigned char)*p & 0xC0) != 0x80 && ++chars == max)
			break;
	strcpy(p, "\xe2\x80\xa6"); /* U+2026; max - 1 characters before it */
	note(a, n, "%s is %zu characters: the first %zu are shown, the whole text is held",
	     (const char *)n->name, len, max - 1);
}

/* A string field with a length limit in characters. */
static int put_text(xmlNodePtr info, const char *cap_name, const char *field, size_t max,
		    struct cap_alert *a, struct cap_problem *err)
{
	xmlNodePtr n = child(info, cap_name);
	char *v;

	if (!n)
		return 0;
	v = text_of(n);
	if (!v)
		return -1;
	if (utf8_len(v) > max)
		cut_text(a, n, v, max);
	json_object_set_new(a->publish, field, json_string(v));
	free(v);
	return 0;
}

static int map_enums(xmlNodePtr info, struct cap_alert *a)
{
	static const char *const names[] = { "urgency", "severity", "certainty", NULL };
	char buf[16];

	for (int i = 0; names[i]; i++) {
		xmlNodePtr n = child(info, names[i]);
		char *v = n ? text_of(n) : NULL;
		if (!v)
			return -1;
		lower(v, buf, sizeof buf);
		if (!strcmp(names[i], "severity") && !strcmp(buf, "unknown")) {
			note(a, n, "severity Unknown is held as minor (Tocsin needs a severity)");
			strcpy(buf, "minor");
		}
		json_object_set_new(a->publish, names[i], json_string(buf));
		free(v);
	}
	return 0;
}

/* Tocsin's own parameters (its exports carry them: classification,
 * handling, tocsin-category, tocsin-request); others are noted. */
static int map_parameter(xmlNodePtr p, struct cap_alert *a, struct cap_problem *err)
{
	char *name = child_text(p, "valueName"), *value = child_text(p, "value");
	int rc = 0;

	if (!name || !value) {
		rc = -1;
	} else if (!strcmp(name, "classification")) {
		if (strcmp(value, "OFFICIAL") && strcmp(value, "OFFICIAL-SENSITIVE")) {
			problem_set(err, "parameter", line_of(p),
				    "classification must be OFFICIAL or OFFICIAL-SENSITIVE, not %.60s",
				    value);
			rc = -1;
		} else {
			json_object_set_new(a->publish, "classification", json_string(value));
		}
	} else if (!strcmp(name, "handling")) {
		if (utf8_len(value) > 500) {
			problem_set(err, "parameter", line_of(p),
				    "handling is over 500 characters, the most Tocsin holds");
			rc = -1;
		} else {
			json_object_set_new(a->publish, "handling", json_string(value));
		}
	} else if (!strcmp(name, "tocsin-request")) {
		json_error_t je;
		json_t *req = json_loads(value, 0, &je);
		if (!json_is_object(req)) {
			problem_set(err, "parameter", line_of(p),
				    "tocsin-request must be a JSON object (a Tocsin request): %s",
				    req ? "not an object" : je.text);
			json_decref(req);
			rc = -1;
		} else {
			json_object_set_new(a->publish, "request", req);
		}
	} else if (!strcmp(name, "tocsin-category")) {
		if (!is_tocsin_category(value)) {
			problem_set(err, "parameter", line_of(p),
				    "tocsin-category %.60s is not a Tocsin category", value);
			rc = -1;
		} else {
			json_object_set_new(a->publish, "category", json_string(value));
		}
	} else {
		note(a, p, "%.80s=%.200s is not held", name, value);
	}
	free(name);
	free(value);
	return rc;
}

/* A resource with an inline JPEG or PNG (derefUri) becomes an image to
 * upload; anything else is noted. */
static int map_resource(xmlNodePtr r, struct cap_alert *a)
{
	char *desc = child_text(r, "resourceDesc"), *mime = child_text(r, "mimeType"),
	     *data = child_text(r, "derefUri");
	int rc = 0;

	if (!desc || !mime) {
		rc = -1;
	} else if (!data) {
		note(a, r, "%.80s (%.40s) is not held: only inline images (derefUri) are", desc,
		     mime);
	} else if (strcmp(mime, "image/jpeg") && strcmp(mime, "image/png")) {
		note(a, r, "%.80s (%.40s) is not held: images must be image/jpeg or image/png",
		     desc, mime);
	} else if (json_array_size(a->images) >= MAX_IMAGES) {
		note(a, r, "%.80s is not held: an alert carries at most 4 images", desc);
	} else {
		char *w = data;
		for (char *p = data; *p; p++) /* base64 may be wrapped */
			if (!isspace((unsigned char)*p))
				*w++ = *p;
		*w = '\0';
		json_array_append_new(a->images, json_pack("{s:s, s:s, s:s}", "mime", mime, "data",
							   data, "caption", desc));
	}
	free(desc);
	free(mime);
	free(data);
	return rc;
}

/* "lat,lon" into the two numbers; -1 when it is not that or out of range. */
static int parse_point(const char *s, double *lat, double *lon)
{
	char *end;

	errno = 0;
	*lat = strtod(s, &end);
	if (end == s || *end != ',' || errno)
		return -1;
	s = end + 1;
	*lon = strtod(s, &end);
	if (end == s || *end || errno || !isfinite(*lat) || !isfinite(*lon))
		return -1;
	return *lat < -90 || *lat > 90 || *lon < -180 || *lon > 180 ? -1 : 0;
}

static int map_polygon(xmlNodePtr n, struct cap_alert *a, struct cap_problem *err)
{
	char *all = text_of(n), *save = NULL, *tok;
	json_t *pts = json_array();
	size_t count = 0;
	int rc = -1;

	if (!all || !pts)
		goto out;
	for (tok = strtok_r(all, " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save)) {
		double lat, lon;
		if (parse_point(tok, &lat, &lon)) {
			problem_set(err, "polygon", line_of(n),
				    "point %zu \"%.60s\" is not lat,lon in WGS 84 (lat -90..90, lon -180..180)",
				    count + 1, tok);
			goto out;
		}
		if (++count > MAX_POLYGON) {
			problem_set(err, "polygon", line_of(n),
				    "more than %d points; Tocsin holds at most %d", MAX_POLYGON,
				    MAX_POLYGON);
			goto out;
		}
		json_array_append_new(pts, json_pack("[f, f]", lat, lon));
	}
	if (count < 4) {
		problem_set(err, "polygon", line_of(n),
			    "a polygon needs at least 4 points (the first repeated last), not %zu",
			    count);
		goto out;
	}
	if (!json_equal(json_array_get(pts, 0), json_array_get(pts, count - 1))) {
		problem_set(err, "polygon", line_of(n),
			    "the polygon is not closed: its last point must equal its first");
		goto out;
	}
	json_object_set_new(a->publish, "area", json_pack("{s:O}", "polygon", pts));
	rc = 0;
out:
	json_decref(pts);
	free(all);
	return rc;
}

/* CAP circle "lat,lon radius" with the radius in km; Tocsin holds metres,
 * 1 to 50,000. */
static int map_circle(xmlNodePtr n, struct cap_alert *a, struct cap_problem *err)
{
	char *all = text_of(n), *p, *end;
	double lat, lon, km;
	long m;
	int rc = -1;

	if (!all)
		return -1;
	for (p = all; isspace((unsigned char)*p); p++)
		;
	end = p + strcspn(p, " \t\r\n");
	if (!*end) {
		problem_set(err, "circle", line_of(n), "a circle is \"lat,lon radius_km\"");
		goto out;
	}
	*end++ = '\0';
	if (parse_point(p, &lat, &lon)) {
		problem_set(err, "circle", line_of(n),
			    "the centre \"%.60s\" is not lat,lon in WGS 84", p);
		goto out;
	}
	errno = 0;
	km = strtod(end, &p);
	while (isspace((unsigned char)*p))
		p++;
	if (p == end || *p || errno || !isfinite(km) || km < 0) {
		problem_set(err, "circle", line_of(n), "the radius must be a number of km, 0 or more");
		goto out;
	}
	if (km > 50) {
		problem_set(err, "circle", line_of(n),
			    "radius %g km is over 50 km, the largest circle Tocsin holds", km);
		goto out;
	}
	m = lround(km * 1000);
	if (m < 1) {
		note(a, n, "radius %g km is held as 1 m, the smallest circle Tocsin holds", km);
		m = 1;
	}
	json_object_set_new(a->publish, "area",
			    json_pack("{s:{s:f, s:f, s:i}}", "circle", "lat", lat, "lon", lon,
				      "radius_m", (json_int_t)m));
	rc = 0;
out:
	free(all);
	return rc;
}

/* The broker takes at most 50 targets.geocodes (frame_publish.c): past
 * that the publish would be refused whole, and every info block adds its
 * own areaDescs in its language. */
#define CAP_GEOCODES_MAX 50

/* "NAME=VALUE" into a->geocodes, once: what the administrator's mapping
 * may turn into sites (tocsinctl geocode add). A valueName with "=" in it
 * or a pair over 300 bytes cannot be written so: noted instead. */
static void hold_geocode(struct cap_alert *a, xmlNodePtr n, const char *name, const char *value)
{
	char code[320];
	json_t *v;
	size_t i;

	if (!name || !*name || !value || !*value || strchr(name, '=') ||
	    (size_t)snprintf(code, sizeof code, "%s=%s", name, value) > 300) {
		note(a, n, "%.40s %.80s cannot be mapped", name ? name : "", value ? value : "");
		return;
	}
	json_array_foreach(a->geocodes, i, v)
		if (!strcmp(json_string_value(v), code))
			return;
	if (json_array_size(a->geocodes) >= CAP_GEOCODES_MAX) {
		note(a, n, "%.300s is not mapped: an import maps at most %d geocodes", code,
		     CAP_GEOCODES_MAX);
		return;
	}
	json_array_append_new(a->geocodes, json_string(code));
}

/* An areaDesc or geocode element into a->geocodes; 0 when g is neither. */
static int hold_area_code(struct cap_alert *a, xmlNodePtr g)
{
	if (is_cap(g, "areaDesc")) {
		char *d = text_of(g); /* held in cap_info too */
		if (d && *d)
			hold_geocode(a, g, "areaDesc", d);
		free(d);
		return 1;
	}
	if (is_cap(g, "geocode")) {
		char *k = child_text(g, "valueName"), *v = child_text(g, "value");
		hold_geocode(a, g, k, v);
		free(k);
		free(v);
		return 1;
	}
	return 0;
}

/* The geocodes and areaDescs of an info block after the first (issue 18):
 * a feed may put a region's codes in its second language's block only.
 * Its polygons and circles are not the model's area (the first block's
 * is); cap_info holds them. */
static void hold_more_area_codes(xmlNodePtr info, struct cap_alert *a)
{
	for (xmlNodePtr area = info->children; area; area = area->next) {
		if (!is_cap(area, "area"))
			continue;
		for (xmlNodePtr g = area->children; g; g = g->next)
			if (g->type == XML_ELEMENT_NODE)
				(void)hold_area_code(a, g);
	}
}

/* The first polygon or circle of the first area that has one; every
 * geocode and areaDesc of the areas for the mapping. */
static int map_areas(xmlNodePtr info, struct cap_alert *a, struct cap_problem *err)
{
	int held = 0;

	for (xmlNodePtr area = info->children; area; area = area->next) {
		if (!is_cap(area, "area"))
			continue;
		for (xmlNodePtr g = area->children; g; g = g->next) {
			if (g->type != XML_ELEMENT_NODE)
				continue;
			if ((is_cap(g, "polygon") || is_cap(g, "circle")) && is_blank(g)) {
				note(a, g, "an empty %s is ignored", (const char *)g->name);
			} else if ((is_cap(g, "polygon") || is_cap(g, "circle")) && !held) {
				if (is_cap(g, "polygon") ? map_polygon(g, a, err) : map_circle(g, a, err))
					return -1;
				held = 1;
			} else if (!hold_area_code(a, g)) {
				note(a, g, "not held: Tocsin holds one polygon or circle");
			}
		}
	}
	return 0;
}

static int map_category(xmlNodePtr info, struct cap_alert *a)
{
	int first = 1, exact;

	for (xmlNodePtr c = info->children; c; c = c->next) {
		char *v;
		if (!is_cap(c, "category"))
			continue;
		v = text_of(c);
		if (!v)
			return -1;
		if (first) {
			const char *t = category_from_cap(v, &exact);
			if (!json_object_get(a->publish, "category"))
				json_object_set_new(a->publish, "category", json_string(t));
			if (!exact)
				note(a, c, "category %s is held as %s", v, t);
			first = 0;
		} else {
			note(a, c, "category %s is not held: Tocsin keeps one", v);
		}
		free(v);
	}
	return 0;
}

/* Elements of <info> the model does not hold. */
static void note_info_extras(xmlNodePtr info, struct cap_alert *a)
{
	static const char *const held[] = { "category", "urgency", "severity", "certainty",
					    "effective", "expires", "headline", "description",
					    "instruction", "parameter", "resource", "area",
					    "senderName", "contact", "web", "audience",
					    "language", NULL };

	for (xmlNodePtr c = info->children; c; c = c->next) {
		int known = 0;
		char *v;
		if (c->type != XML_ELEMENT_NODE)
			continue;
		for (int i = 0; held[i]; i++)
			known |= is_cap(c, held[i]);
		if (known || is_cap(c, "event")) /* the event is held in cap_info */
			continue;
		v = text_of(c);
		if (is_cap(c, "language") && v && !strncmp(v, "en", 2)) {
			free(v);
			continue;
		}
		if (is_cap(c, "eventCode")) {
			char *k = child_text(c, "valueName"), *val = child_text(c, "value");
			note(a, c, "%.40s %.80s is not held", k ? k : "", val ? val : "");
			free(k);
			free(val);
		} else {
			note(a, c, "\"%.200s\" is not held", v ? v : "");
		}
		free(v);
	}
}

static int map_info(xmlNodePtr info, struct cap_alert *a, struct cap_problem *err)
{
	xmlNodePtr hl = child(info, "headline");

	for (xmlNodePtr p = info->children; p; p = p->next)
		if (is_cap(p, "parameter") && map_parameter(p, a, err))
			return -1;
	if (map_category(info, a) || map_enums(info, a))
		return -1;
	if (hl && is_blank(hl))
		hl = NULL; /* an empty element is as good as none */
	if (!hl) { /* Tocsin needs a headline: the event names it */
		xmlNodePtr ev = child(info, "event");
		char *v = text_of(ev);
		if (!v)
			return -1;
		if (!*v) {
			problem_set(err, "event", line_of(ev),
				    "with no headline the event is the headline: it cannot be empty");
			free(v);
			return -1;
		}
		if (utf8_len(v) > 200)
			cut_text(a, ev, v, 200);
		json_object_set_new(a->publish, "headline", json_string(v));
		free(v);
	} else if (put_text(info, "headline", "headline", 200, a, err)) {
		return -1;
	} else if (!*json_string_value(json_object_get(a->publish, "headline"))) {
		problem_set(err, "headline", line_of(hl), "headline is empty");
		return -1;
	}
	if (put_text(info, "description", "body", 4000, a, err) ||
	    put_text(info, "instruction", "instruction", 2000, a, err) ||
	    put_text(info, "effective", "effective", 40, a, err) ||
	    put_text(info, "expires", "expires", 40, a, err))
		return -1;
	for (xmlNodePtr r = info->children; r; r = r->next)
		if (is_cap(r, "resource") && map_resource(r, a))
			return -1;
	if (map_areas(info, a, err))
		return -1;
	note_info_extras(info, a);
	return 0;
}

/* ------------------------------------------------------------ every info block */

#define CAP_INFO_MAX 65536 /* bytes of cap_info JSON: frame_publish.c's limit */

/* Sets name to the element's text unless it is empty. */
static void hold_string(json_t *obj, const char *name, xmlNodePtr n)
{
	char *v = n ? text_of(n) : NULL;

	if (v && v[strspn(v, " \t\r\n")])
		json_object_set_new(obj, name, json_string(v));
	free(v);
}

/* Appends {k: text of each child in names} for each child element called
 * elem, skipping empty ones. */
static void hold_list(json_t *obj, const char *member, xmlNodePtr info, const char *elem,
		      const char *const names[][2])
{
	json_t *list = json_array();

	for (xmlNodePtr c = info->children; c; c = c->next) {
		json_t *item;
		if (!is_cap(c, elem))
			continue;
		item = json_object();
		for (int i = 0; names[i][0]; i++)
			hold_string(item, names[i][1], child(c, names[i][0]));
		if (json_object_size(item))
			json_array_append(list, item);
		json_decref(item);
	}
	if (json_array_size(list))
		json_object_set(obj, member, list);
	json_decref(list);
}

/* One info block as the consoles show it: what was sent, by language. */
static json_t *hold_info(xmlNodePtr info)
{
	static const char *const texts[][2] = {
		{ "event", "event" }, { "headline", "headline" }, { "description", "description" },
		{ "instruction", "instruction" }, { "senderName", "sender_name" },
		{ "contact", "contact" }, { "web", "web" }, { "audience", "audience" }, { NULL, NULL }
	};
	static const char *const params[][2] = { { "valueName", "name" }, { "value", "value" },
						  { NULL, NULL } };
	static const char *const resources[][2] = { { "resourceDesc", "description" },
						     { "mimeType", "mime" }, { "uri", "uri" },
						     { NULL, NULL } };
	json_t *o = json_object(), *areas = json_array();

	hold_string(o, "language", child(info, "language"));
	if (!json_object_get(o, "language"))
		json_object_set_new(o, "language", json_string("en-US"));
	for (int i = 0; texts[i][0]; i++)
		hold_string(o, texts[i][1], child(info, texts[i][0]));
	hold_list(o, "parameters", info, "parameter", params);
	hold_list(o, "resources", info, "resource", resources);
	for (xmlNodePtr c = info->children; c; c = c->next) {
		char *v = is_cap(c, "area") ? child_text(c, "areaDesc") : NULL;
		if (v && *v)
			json_array_append_new(areas, json_string(v));
		free(v);
	}
	if (json_array_size(areas)) { /* "A; B": the areas' descriptions */
		size_t i, n = 0;
		json_t *v;
		char *all;
		json_array_foreach(areas, i, v)
			n += json_string_length(v) + 2;
		all = calloc(1, n + 1);
		json_array_foreach(areas, i, v) {
			if (all && i)
				strcat(all, "; ");
			if (all)
				strcat(all, json_string_value(v));
		}
		json_object_set_new(o, "area", json_string(all ? all : ""));
		free(all);
	}
	json_decref(areas);
	return o;
}

/* Every info block into publish.cap_info, in document order, within
 * CAP_INFO_MAX bytes: blocks past it are noted, not sent. */
static void hold_infos(xmlNodePtr root, struct cap_alert *a)
{
	json_t *blocks = json_array();
	size_t used = 2;

	for (xmlNodePtr c = root->children; c; c = c->next) {
		json_t *b;
		char *text;
		if (!is_cap(c, "info"))
			continue;
		b = hold_info(c);
		text = json_dumps(b, JSON_COMPACT);
		if (text && used + strlen(text) + 1 <= CAP_INFO_MAX && json_array_size(blocks) < 16) {
			used += strlen(text) + 1;
			json_array_append(blocks, b);
		} else {
			note(a, c, "this info block is not held: the alert holds %d bytes of them",
			     CAP_INFO_MAX);
		}
		free(text);
		json_decref(b);
	}
	if (json_array_size(blocks))
		json_object_set(a->publish, "cap_info", blocks);
	json_decref(blocks);
}

/* ------------------------------------------------------------ entry */

static int map_alert(xmlNodePtr root, struct cap_alert *a, struct cap_problem *err)
{
	xmlNodePtr info = child(root, "info");

	a->identifier = child_text(root, "identifier");
	a->sender = child_text(root, "sender");
	a->sent = child_text(root, "sent");
	if (!a->identifier || !a->sender || !a->sent) {
		problem_set(err, "alert", line_of(root), "out of memory");
		return -1;
	}
	a->origin = json_pack("{s:s, s:s, s:s}", "identifier", a->identifier, "sender", a->sender,
			      "sent", a->sent);
	if (!a->origin || map_header(root, a, err))
		return -1;
	if (info) { /* the first info block's senderName names the sender */
		char *name = child_text(info, "senderName");
		if (name && *name && utf8_len(name) <= 255)
			json_object_set_new(a->origin, "sender_name", json_string(name));
		else if (name && *name)
			note(a, child(info, "senderName"), "over 255 characters: not held");
		free(name);
	}
	if (!info) {
		const char *type = json_string_value(json_object_get(a->publish, "msg_type"));
		if (strcmp(type, "cancel")) {
			problem_set(err, "alert", line_of(root),
				    "an Alert or Update needs an info block (headline, urgency, severity, certainty)");
			return -1;
		}
	} else if (map_info(info, a, err)) {
		return -1;
	}
	for (xmlNodePtr more = info ? info->next : NULL; more; more = more->next)
		if (is_cap(more, "info"))
			hold_more_area_codes(more, a);
	note_alert_extras(root, a);
	hold_infos(root, a);
	return 0;
}

/* The line of "<!DOCTYPE" in the text (libxml2 keeps no line for a DTD
 * node: the refusal named none), or 0. */
static int doctype_line(const char *xml, size_t len)
{
	const char *at = memmem(xml, len, "<!DOCTYPE", 9);
	int line = 1;

	if (!at)
		return 0;
	for (const char *p = xml; p < at; p++)
		line += *p == '\n';
	return line;
}

/* A well-formed, schema-valid document (caller xmlFreeDoc()s), or NULL
 * with err filled. */
static xmlDocPtr load_valid(const struct cap_schema *s, const char *xml, size_t len,
			    struct cap_problem *err)
{
	xmlParserCtxtPtr pc = xmlNewParserCtxt();
	xmlSchemaValidCtxtPtr vc = NULL;
	xmlDocPtr doc = NULL;

	memset(err, 0, sizeof *err);
	if (!pc) {
		problem_set(err, "document", 0, "out of memory");
		return NULL;
	}
	if (len > (size_t)64 * 1024 * 1024) {
		problem_set(err, "document", 0, "the document is over 64 MiB");
		goto fail;
	}
	/* the first error is the telling one: catch it (single-threaded use) */
	xmlSetStructuredErrorFunc(err, keep_first_error);
	doc = xmlCtxtReadMemory(pc, xml, (int)len, "cap.xml", NULL,
				XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	xmlSetStructuredErrorFunc(NULL, NULL);
	if (!doc || !pc->wellFormed) {
		xmlErrorPtr e = xmlCtxtGetLastError(pc);
		char first[sizeof err->reason];
		int line = err->reason[0] ? err->line : e ? e->line : 0;

		snprintf(first, sizeof first, "%s",
			 err->reason[0] ? err->reason : e && e->message ? e->message : "unreadable");
		problem_set(err, "document", line, "not well-formed XML: %s", first);
		goto fail;
	}
	if (doc->intSubset || doc->extSubset) { /* entities could expand without bound */
		problem_set(err, "document", doctype_line(xml, len),
			    "a DOCTYPE is not allowed in CAP");
		goto fail;
	}
	vc = xmlSchemaNewValidCtxt(s->schema);
	if (!vc) {
		problem_set(err, "document", 0, "out of memory");
		goto fail;
	}
	xmlSchemaSetValidStructuredErrors(vc, keep_first_error, err);
	if (xmlSchemaValidateDoc(vc, doc) != 0) {
		if (!err->reason[0])
			problem_set(err, "alert", 0, "not valid CAP 1.2");
		goto fail;
	}
	xmlSchemaFreeValidCtxt(vc);
	xmlFreeParserCtxt(pc);
	return doc;
fail:
	xmlSchemaFreeValidCtxt(vc);
	xmlFreeDoc(doc);
	xmlFreeParserCtxt(pc);
	return NULL;
}

int cap_validate(const struct cap_schema *s, const char *xml, size_t len,
		 struct cap_problem *err)
{
	xmlDocPtr doc = load_valid(s, xml, len, err);

	xmlFreeDoc(doc);
	return doc ? 0 : -1;
}

int cap_parse(const struct cap_schema *s, const char *xml, size_t len, struct cap_alert *out,
	      struct cap_problem *err)
{
	xmlDocPtr doc;
	int rc = -1;

	memset(out, 0, sizeof *out);
	doc = load_valid(s, xml, len, err);
	if (!doc)
		return -1;
	out->publish = json_object();
	out->images = json_array();
	out->notes = json_array();
	out->geocodes = json_array();
	if (!out->publish || !out->images || !out->notes || !out->geocodes)
		problem_set(err, "document", 0, "out of memory");
	else
		rc = map_alert(xmlDocGetRootElement(doc), out, err);
	if (rc)
		cap_alert_free(out);
	xmlFreeDoc(doc);
	return rc;
}
