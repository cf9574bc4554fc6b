/* frame.c: decode and check client frames (see frame.h). */
#include "frame.h"
#include "frame_check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void frame_error_set(struct frame_error *err, const char *code, const char *field,
		     const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	snprintf(err->field, sizeof err->field, "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof err->message, fmt, ap);
	va_end(ap);
}

/* The length of the well-formed UTF-8 character at p (as jansson checks
 * it: no overlong forms, no surrogates, at most U+10FFFF), or 0. jansson
 * validates but does not export its check, hence these few lines. */
static size_t utf8_char_len(const unsigned char *p)
{
	uint32_t cp;
	size_t n;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xC2 && p[0] <= 0xDF)
		n = 2, cp = p[0] & 0x1F;
	else if (p[0] >= 0xE0 && p[0] <= 0xEF)
		n = 3, cp = p[0] & 0x0F;
	else if (p[0] >= 0xF0 && p[0] <= 0xF4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80) /* also stops at the terminating NUL */
			return 0;
		cp = cp << 6 | (p[i] & 0x3F);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

/* A JSON string of s. jansson refuses bytes that are not UTF-8, and an
 * error message may hold them: a character cut by a length limit ("%.40s"
 * of an unknown type), or raw input bytes quoted by a parse error. Each
 * byte that does not start a well-formed character becomes '?', so that
 * the client still gets its typed error (found by fuzzing: such error
 * frames used to be dropped, and the client got no answer at all). */
static json_t *error_string(const char *s)
{
	json_t *v = json_string(s);
	char clean[sizeof ((struct frame_error *)0)->message];
	size_t n;

	if (v)
		return v;
	snprintf(clean, sizeof clean, "%s", s);
	for (unsigned char *p = (unsigned char *)clean; *p; p += n ? n : 1)
		if (!(n = utf8_char_len(p)))
			*p = '?';
	return json_string(clean);
}

char *frame_error_json(const struct frame_error *err)
{
	json_t *obj = json_pack("{s:s, s:s, s:o}", "type", "error", "code", err->code,
				"message", error_string(err->message));
	if (!obj)
		return NULL;
	if (err->field[0])
		json_object_set_new(obj, "field", error_string(err->field));
	if (err->ref[0])
		json_object_set_new(obj, "ref", error_string(err->ref));
	return frame_dump(obj, NULL);
}

char *frame_dump(json_t *obj, size_t *len)
{
	char *s;

	if (!obj)
		return NULL;
	s = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (s && len)
		*len = strlen(s);
	return s;
}

/* A positive id that fits PostgreSQL's integer (sites, organisations) or
 * bigint (alerts). */
static int id_ok(json_t *v, int64_t max)
{
	return json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) <= max;
}

static int get_id_array(json_t *targets, const char *name, int64_t **out, size_t *n,
			struct frame_error *err)
{
	json_t *arr = json_object_get(targets, name), *v;
	char field[FRAME_FIELD_MAX];
	size_t i;

	*out = NULL;
	*n = 0;
	snprintf(field, sizeof field, "targets.%s", name);
	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr)) {
		frame_error_set(err, "bad_field", field, "%s must be an array of ids", field);
		return -1;
	}
	if (json_array_size(arr) > FRAME_TARGETS_MAX) {
		frame_error_set(err, "bad_field", field, "%s may hold at most %d ids", field,
				FRAME_TARGETS_MAX);
		return -1;
	}
	if (json_array_size(arr) == 0)
		return 0;
	*out = calloc(json_array_size(arr), sizeof **out);
	if (!*out) {
		frame_error_set(err, "internal", NULL, "out of memory");
		return -1;
	}
	json_array_foreach(arr, i, v) {
		if (!id_ok(v, INT32_MAX)) {
			snprintf(field, sizeof field, "targets.%s[%zu]", name, i);
			frame_error_set(err, "bad_field", field, "%s must be a positive integer id",
					field);
			free(*out);
			*out = NULL;
			return -1;
		}
		(*out)[i] = json_integer_value(v);
	}
	*n = json_array_size(arr);
	return 0;
}

static int parse_publish(json_t *root, struct frame_publish *p, struct frame_error *err)
{
	if (frame_publish_check(root, p, get_id_array, err))
		return -1;
	p->headline = json_string_value(json_object_get(p->rec, "headline"));
	p->body = json_string_value(json_object_get(p->rec, "body"));
	p->severity = json_string_value(json_object_get(p->rec, "severity"));
	return 0;
}

static const struct {
	const char *name;
	enum frame_type type;
} frame_types[] = {
	{ "hello", FRAME_HELLO },
	{ "publish", FRAME_PUBLISH },
	{ "ack", FRAME_ACK },
	{ "ping", FRAME_PING },
	{ "directory", FRAME_DIRECTORY },
	{ "read", FRAME_READ },
	{ "receipts", FRAME_RECEIPTS },
	{ "preview", FRAME_PREVIEW },
	{ "relay", FRAME_RELAY },
	{ "answer", FRAME_ANSWER },
	{ "status", FRAME_STATUS },
	{ "board", FRAME_BOARD },
	{ "area_totals", FRAME_AREA_TOTALS },
	{ "report_now", FRAME_REPORT_NOW },
	{ "report", FRAME_REPORT },
	{ "crime_report", FRAME_CRIME_REPORT },
	{ "inbox", FRAME_INBOX },
	{ "refresh", FRAME_REFRESH },
	{ "site_history", FRAME_SITE_HISTORY },
	{ "report_update", FRAME_REPORT_UPDATE },
	{ "import_reject", FRAME_IMPORT_REJECT },
	{ "admin", FRAME_ADMIN },
	{ "release_approve", FRAME_RELEASE },
	{ "release_reject", FRAME_RELEASE },
	{ "alert_unverified", FRAME_ALERT_UNVERIFIED },
};

/* Reads the optional ref first, so that every later error can echo it. */
static int parse_ref(json_t *root, struct client_frame *out, struct frame_error *err)
{
	json_t *ref = json_object_get(root, "ref");

	if (!ref)
		return 0;
	if (!json_is_string(ref) || json_string_length(ref) > FRAME_REF_MAX ||
	    strlen(json_string_value(ref)) != json_string_length(ref)) {
		frame_error_set(err, "bad_field", "ref", "ref must be a string of at most %d characters",
				FRAME_REF_MAX);
		return -1;
	}
	memcpy(out->ref, json_string_value(ref), json_string_length(ref) + 1);
	memcpy(err->ref, out->ref, sizeof err->ref);
	return 0;
}

/* resume.since: where the client's unbroken run of positions began, at
 * most its seq (docs/protocol.md); -1 when absent. 0, or -1 after setting
 * err. */
static int parse_since(json_t *resume, int64_t seq, int64_t *since, struct frame_error *err)
{
	json_t *v = json_object_get(resume, "since");

	*since = -1;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > seq) {
		frame_error_set(err, "bad_field", "resume.since",
				"resume.since must be a non-negative integer no greater than resume.seq");
		return -1;
	}
	*since = json_integer_value(v);
	return 0;
}

/* hello: an optional token (its absence is the broker's auth_missing) and
 * an optional resume position. */
static int parse_hello(json_t *root, struct client_frame *out, struct frame_error *err)
{
	json_t *v = json_object_get(root, "token"), *resume, *seq;

	if (v && !json_is_null(v) && !json_is_string(v)) {
		frame_error_set(err, "bad_field", "token", "token must be a string");
		return -1;
	}
	if (json_is_string(v) && json_string_length(v) > 0) {
		out->u.hello.token = json_string_value(v);
		out->u.hello.token_len = json_string_length(v);
	}
	out->u.hello.since = -1;
	resume = json_object_get(root, "resume");
	if (!resume || json_is_null(resume))
		return 0;
	if (!json_is_object(resume)) {
		frame_error_set(err, "bad_field", "resume", "resume must be an object with epoch and seq");
		return -1;
	}
	v = json_object_get(resume, "epoch");
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 64) {
		frame_error_set(err, "bad_field", "resume.epoch",
				"resume.epoch must be the epoch string from welcome");
		return -1;
	}
	seq = json_object_get(resume, "seq");
	if (!json_is_integer(seq) || json_integer_value(seq) < 0) {
		frame_error_set(err, "bad_field", "resume.seq",
				"resume.seq must be a non-negative integer");
		return -1;
	}
	if (parse_since(resume, json_integer_value(seq), &out->u.hello.since, err))
		return -1;
	out->u.hello.resume = 1;
	out->u.hello.epoch = json_string_value(v);
	out->u.hello.seq = json_integer_value(seq);
	return 0;
}

/* site_history: the site (required), how many rows of each list, and the
 * paging time; the scope is the handler's and PostgreSQL's to decide. */
static int parse_site_history(json_t *root, struct client_frame *out, struct frame_error *err)
{
	int present;

	if (frame_check_int(root, "site_id", 1, INT32_MAX, 1, &out->u.history.site_id, NULL, err) ||
	    frame_check_int(root, "limit", 1, FRAME_HISTORY_LIMIT_MAX, 0, &out->u.history.limit,
		      &present, err) ||
	    frame_check_time(root, "before", 0, &out->u.history.before, err))
		return -1;
	if (!present)
		out->u.history.limit = FRAME_HISTORY_LIMIT_DEFAULT;
	return 0;
}

static int parse_body(json_t *root, struct client_frame *out, struct frame_error *err)
{
	json_t *v;

	switch (out->type) {
	case FRAME_HELLO:
		return parse_hello(root, out, err);
	case FRAME_PUBLISH:
		return parse_publish(root, &out->u.publish, err);
	case FRAME_READ:
	case FRAME_RECEIPTS:
	case FRAME_ACK:
		v = json_object_get(root, "alert_id");
		if (!v) {
			frame_error_set(err, "missing_field", "alert_id", "alert_id is required");
			return -1;
		}
		if (!id_ok(v, INT64_MAX)) {
			frame_error_set(err, "bad_field", "alert_id",
					"alert_id must be a positive integer");
			return -1;
		}
		out->u.ack.alert_id = json_integer_value(v);
		return 0;
	case FRAME_PING:
	case FRAME_DIRECTORY:
	case FRAME_PREVIEW:
	case FRAME_RELAY:
	case FRAME_ANSWER:
	case FRAME_STATUS:
	case FRAME_BOARD:
	case FRAME_AREA_TOTALS:
	case FRAME_REPORT_NOW:
	case FRAME_REPORT:
	case FRAME_CRIME_REPORT:
	case FRAME_INBOX:
	case FRAME_REFRESH:
	case FRAME_REPORT_UPDATE:
	case FRAME_IMPORT_REJECT:
	case FRAME_ADMIN:
	case FRAME_RELEASE:
	case FRAME_ALERT_UNVERIFIED:
		return 0; /* their handlers check the members (frame_check.c helpers) */
	case FRAME_SITE_HISTORY:
		return parse_site_history(root, out, err);
	}
	return 0;
}

/* The deepest nesting of arrays and objects, outside strings: jansson
 * would follow a hostile message 2048 levels deep. */
static int nesting_depth(const char *buf, size_t len)
{
	int depth = 0, max = 0, in_string = 0;

	for (size_t i = 0; i < len; i++) {
		char c = buf[i];
		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = 0;
		} else if (c == '"') {
			in_string = 1;
		} else if (c == '[' || c == '{') {
			if (++depth > max)
				max = depth;
		} else if (c == ']' || c == '}') {
			depth--;
		}
	}
	return max;
}

int frame_parse(const char *buf, size_t len, struct client_frame *out, struct frame_error *err)
{
	json_error_t jerr;
	json_t *root, *type;
	const char *name;
	size_t i;

	memset(out, 0, sizeof *out);
	memset(err, 0, sizeof *err);
	if (nesting_depth(buf, len) > FRAME_MAX_DEPTH) {
		frame_error_set(err, "bad_json", NULL, "the message is nested more than %d levels deep",
				FRAME_MAX_DEPTH);
		return -1;
	}
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!root) {
		frame_error_set(err, "bad_json", NULL, "invalid JSON at line %d, column %d: %s",
				jerr.line, jerr.column, jerr.text);
		return -1;
	}
	out->root = root;
	if (!json_is_object(root)) {
		frame_error_set(err, "bad_frame", NULL, "a message must be a JSON object");
		goto fail;
	}
	if (parse_ref(root, out, err))
		goto fail;
	type = json_object_get(root, "type");
	if (!type) {
		frame_error_set(err, "bad_frame", "type", "a message needs a string type");
		goto fail;
	}
	if (!json_is_string(type)) {
		frame_error_set(err, "bad_frame", "type", "type must be a string");
		goto fail;
	}
	name = json_string_value(type);
	for (i = 0; i < sizeof frame_types / sizeof frame_types[0]; i++)
		if (!strcmp(name, frame_types[i].name))
			break;
	if (i == sizeof frame_types / sizeof frame_types[0]) {
		frame_error_set(err, "unknown_type", "type", "unknown message type \"%.40s\"", name);
		goto fail;
	}
	out->type = frame_types[i].type;
	if (parse_body(root, out, err))
		goto fail;
	return 0;
fail:
	frame_free(out);
	return -1;
}

void frame_free(struct client_frame *frame)
{
	if (frame->type == FRAME_PUBLISH) {
		free(frame->u.publish.orgs);
		free(frame->u.publish.sites);
		json_decref(frame->u.publish.rec);
	}
	json_decref(frame->root);
	memset(frame, 0, sizeof *frame);
}
