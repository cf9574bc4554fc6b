/* crime_api.c: POST /api/crime/<view>, the crime picture for the
 * analyst's map (docs/protocol.md, "The crime picture (HTTP)"): which
 * views there are, the query that answers one, and what its answer
 * means in HTTP. http_api.c reads the request (a bearer token and a JSON
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

static const char *const crime_views[] = { "picture", "records", "trail" };

const char *crime_api_view(const char *rest)
{
	for (size_t i = 0; i < sizeof crime_views / sizeof crime_views[0]; i++)
		if (!strcmp(rest, crime_views[i]))
			return crime_views[i];
	return NULL;
}

int crime_api_query(struct db *db, const struct crime_api_ask *q, db_result_fn done, void *arg)
{
	json_error_t jerr;
	json_t *args = json_loadb(q->body ? q->body : "", q->body_len, JSON_REJECT_DUPLICATES, &jerr);
	char uid[24], iat[24], *text;
	const char *params[5];
	int ret = CRIME_API_BAD_JSON;

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
		answer_error(a, 404, "not_found", NULL, "no such view: POST /api/crime/picture, records or trail");
	}
}
