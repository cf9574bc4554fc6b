/* crime_api.c: POST /api/crime/<view>, the crime picture for the
 * analyst's map (docs/protocol.md, "The crime picture (HTTP)") and a
 * company desk's CSV of crime records (upload: "Crime records from
 * partners"): which views there are, the query that answers one, and
 * what its answer means in HTTP. An upload's text is checked here for
 * what PostgreSQL cannot take as text (a NUL byte, bytes that are not
 * UTF-8), naming the line; its columns and values are checked by
 * tocsin_crime_upload, which stores all of it or nothing. http_api.c reads the request (a bearer token and a JSON
 * body of at most CRIME_API_BODY_MAX bytes) and writes the answer; the
 * database decides who may see what and audits every view as a
 * consultation (tocsin_crime_api, sql/functions/crime_map.sql).
 * Loop thread only. */
#include "broker.h"
#include "doors.h"
#include "db.h"
#include "log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const crime_views[] = { "picture", "records", "trail", "upload" };

const char *crime_api_view(const char *rest)
{
	for (size_t i = 0; i < sizeof crime_views / sizeof crime_views[0]; i++)
		if (!strcmp(rest, crime_views[i]))
			return crime_views[i];
	return NULL;
}

size_t crime_api_body_max(const char *view)
{
	return view && !strcmp(view, "upload") ? CRIME_UPLOAD_MAX : CRIME_API_BODY_MAX;
}

/* The length of the UTF-8 sequence at s (at most n bytes), 0 if there is
 * none: no overlong forms, surrogates or code points past U+10FFFF. */
static size_t utf8_char(const unsigned char *s, size_t n)
{
	size_t len = s[0] < 0x80 ? 1 : s[0] >= 0xC2 && s[0] <= 0xDF ? 2 : (s[0] & 0xF0) == 0xE0 ? 3
		   : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : 0;
	unsigned int cp;

	if (!len || len > n)
		return 0;
	cp = len == 1 ? s[0] : s[0] & (0x7F >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	return len;
}

/* 0 when body is UTF-8 text without NUL bytes, else -1 with why naming
 * the line. */
static int upload_text_check(const char *body, size_t len, char *why, size_t why_len)
{
	const unsigned char *s = (const unsigned char *)body;
	size_t line = 1, step;

	for (size_t i = 0; i < len; i += step) {
		step = s[i] ? utf8_char(s + i, len - i) : 0;
		if (!step) {
			snprintf(why, why_len, "line %zu: %s", line,
				 s[i] ? "the file must be UTF-8 text" : "a NUL byte: the file must be text");
			return -1;
		}
		line += s[i] == '\n';
	}
	return 0;
}

/* An upload: the CSV as text, to tocsin_crime_upload. */
static int upload_query(struct db *db, const struct crime_api_ask *q, db_result_fn done, void *arg,
			char *why, size_t why_len)
{
	char uid[24], iat[24], *text;
	const char *params[4];
	int ret;

	if (upload_text_check(q->body ? q->body : "", q->body_len, why, why_len))
		return CRIME_API_BAD_CSV;
	text = strndup(q->body ? q->body : "", q->body_len);
	if (!text)
		return CRIME_API_UNAVAILABLE;
	snprintf(uid, sizeof uid, "%" PRId64, q->user_id);
	snprintf(iat, sizeof iat, "%" PRId64, q->iat);
	params[0] = uid;
	params[1] = iat;
	params[2] = q->remote;
	params[3] = text;
	ret = db_query(db, "SELECT status, body FROM tocsin_crime_upload($1::int, $2::bigint, $3, $4)",
		       4, params, done, arg) ? CRIME_API_UNAVAILABLE : CRIME_API_ASKED;
	free(text);
	return ret;
}

int crime_api_query(struct db *db, const struct crime_api_ask *q, db_result_fn done, void *arg,
		    char *why, size_t why_len)
{
	json_error_t jerr;
	json_t *args = json_loadb(q->body ? q->body : "", q->body_len, JSON_REJECT_DUPLICATES, &jerr);
	char uid[24], iat[24], *text;
	const char *params[5];
	int ret = CRIME_API_BAD_JSON;

	if (!strcmp(q->view, "upload")) {
		ret = upload_query(db, q, done, arg, why, why_len);
		goto out;
	}
	if (!json_is_object(args))
		goto out;
	text = json_dumps(args, JSON_COMPACT);
	if (!text) {
		ret = CRIME_API_UNAVAILABLE;
		goto out;
	}
	snprintf(uid, sizeof uid, "%" PRId64, q->user_id);
	snprintf(iat, sizeof iat, "%" PRId64, q->iat);
	params[0] = uid;
	params[1] = iat;
	params[2] = q->remote;
	params[3] = q->view;
	params[4] = text;
	ret = db_query(db,
		       "SELECT status, body FROM tocsin_crime_api($1::int, $2::bigint, $3, $4, $5::jsonb)",
		       5, params, done, arg) ? CRIME_API_UNAVAILABLE : CRIME_API_ASKED;
	free(text);
out:
	json_decref(args);
	return ret;
}

/* Fills a with an error answer. */
static void answer_error(struct crime_api_answer *a, int status, const char *code,
			 const char *field, const char *message)
{
	json_t *err = json_pack("{s:s, s:s}", "code", code, "message", message);

	if (err && field && *field)
		json_object_set_new(err, "field", json_string(field));
	a->status = status;
	a->code = code;
	a->body = frame_dump(json_pack("{s:o}", "error", err), NULL);
}

void crime_api_answer(PGresult *res, const struct db_error *err, struct crime_api_answer *a)
{
	const char *status = res && PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "";

	memset(a, 0, sizeof *a);
	if (err && err->lost)
		answer_error(a, 503, "unavailable", NULL, "the database is not reachable; retry shortly");
	else if (err && !strcmp(err->sqlstate, "TS403"))
		answer_error(a, 403, "forbidden", NULL, err->message);
	else if (err && !strcmp(err->sqlstate, "TS422"))
		answer_error(a, 400, "bad_field", err->column, err->message);
	else if (err && !strcmp(err->sqlstate, "TS400"))
		answer_error(a, 400, "bad_csv", err->column, err->message);
	else if (err) {
		log_error("crime view: database error %s: %s", err->sqlstate, err->message);
		answer_error(a, 500, "internal", NULL, "the request failed");
	} else if (!strcmp(status, "ok")) {
		a->status = 200;
		a->body = strdup(PQgetvalue(res, 0, 1));
	} else if (!strcmp(status, "revoked")) {
		a->status = 401;
		a->code = "auth_revoked";
	} else {
		answer_error(a, 404, "not_found", NULL, "no such view: POST /api/crime/picture, records, trail or upload");
	}
}
