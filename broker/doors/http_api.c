/* http_api.c: the HTTP side of the broker: POST /api/login, POST
 * /api/refresh and /api/logout (the consoles' refresh cookie), GET /healthz,
 * GET /api/keys/alerts (the public keys checking alert signatures),
 * /readyz and /metrics (answered by http_ops.c), the offender images,
 * POST /api/images and GET /api/images/<id>
 * (docs/protocol.md, "Images (HTTP)"), and POST /api/crime/<view> (the
 * crime picture: crime_api.c). Static console files are served by
 * an lws file mount (server.c); any other path handled here is a JSON 404.
 *
 * A request that waits, a sign-in for a worker (signin.c) or an image
 * request for the database (db.c), sits in b->http_waiting; answers are
 * matched by request id (http_api_collect_signins, take_waiting), so a client
 * that hung up meanwhile costs nothing and a freed request is never
 * touched.
 *
 * An image upload is read into a buffer of its Content-Length, at most
 * 2 MiB. An upload refused on its headers alone (401, 403, 413, 415) is
 * answered once its body has been read and dropped, so that the client
 * reads the answer rather than a connection reset; a body declared over
 * IMAGE_DRAIN_MAX is refused at once and the connection closed.
 *
 * Responses go out from HTTP_WRITEABLE, one lws_write per callback: the
 * headers, then the body in pieces of at most HTTP_CHUNK bytes. Loop
 * thread only. */
#include "broker.h"
#include "doors.h"
#include "handle.h"
#include "clock.h"
#include "db.h"
#include "image.h"
#include "refresh_cookie.h"
#include "journal.h"
#include "log.h"
#include "remote.h"
#include "token_keys.h"
#include "cap_sign.h"
#include "cap_pretty.h"
#include "stream.h"
#include "signin.h"

#include <limits.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LOGIN_BODY_MAX 4096
#define HTTP_CHUNK 16384
#define IMAGE_DRAIN_MAX ((long long)16 * 1024 * 1024)
/* An image request may wait this long for the database, and for each
 * piece of its answer to be taken (lws' default is 5 s from the request). */
#define IMAGE_TIMEOUT_S 30
#define IMAGES_PATH "/api/images"

_Static_assert(sizeof(uintptr_t) >= sizeof(uint64_t), "request ids travel as db_query args");

enum route { ROUTE_NONE, ROUTE_LOGIN, ROUTE_IMAGE_UPLOAD, ROUTE_CRIME };

struct http_req {
	struct http_req *next;        /* in b->http_waiting while waiting */
	struct lws *wsi;
	uint64_t id;
	enum route route;
	int waiting;
	char *body;                   /* owned: request body so far */
	size_t body_len;
	int body_too_large;
	/* image upload */
	size_t body_cap;              /* body's size: the declared Content-Length */
	int64_t user_id;              /* from the bearer token */
	int64_t iat;                  /* its "iat": checked for revocation (sql/functions/tokens.sql) */
	const char *mime;             /* static: the declared image type */
	const char *crime_view;       /* static: POST /api/crime/<view> (crime_api.c) */
	int refuse_status;            /* non-zero: refused, answered after the body */
	const char *refuse_code;      /* static */
	const char *refuse_msg;       /* static */
	/* the response */
	int status;                   /* response, once decided */
	char *resp;                   /* owned: response body */
	size_t resp_len;
	size_t resp_off;              /* bytes of resp written */
	void (*resp_free)(void *);    /* frees resp; NULL: free() */
	const char *resp_type;        /* static: its Content-Type */
	int cap_feed;                 /* GET /api/cap/feed: the answer is Atom */
	int headers_sent;
	int close_after;              /* close rather than await another request */
	int bearer_challenge;         /* a 401 of the image routes: www-authenticate */
	int image;                    /* an image route: IMAGE_TIMEOUT_S applies */
	char *set_cookie;             /* owned: a Set-Cookie value for the answer */
	/* POST /api/refresh: the cookie's credential, until the answer */
	int64_t cred_id;
	unsigned char cred_secret[REFRESH_SECRET_BYTES];
	char remote[48];
};

static void unlink_waiting(struct broker *b, struct http_req *r)
{
	for (struct http_req **p = &b->http_waiting; *p; p = &(*p)->next)
		if (*p == r) {
			*p = r->next;
			break;
		}
	r->waiting = 0;
	r->next = NULL;
}

static void wait_for_answer(struct broker *b, struct http_req *r)
{
	r->waiting = 1;
	r->next = b->http_waiting;
	b->http_waiting = r;
}

/* The waiting request with this id, unlinked, or NULL when its client
 * went away (or the broker has left its loop and answers nobody). */
static struct http_req *take_waiting(struct broker *b, uint64_t id)
{
	struct http_req *r = b->http_waiting;

	if (b->done)
		return NULL;
	while (r && r->id != id)
		r = r->next;
	if (r)
		unlink_waiting(b, r);
	return r;
}

static void free_resp(struct http_req *r)
{
	if (r->resp)
		(r->resp_free ? r->resp_free : free)(r->resp);
	r->resp = NULL;
	r->resp_free = NULL;
}

static void req_reset(struct broker *b, struct http_req *r)
{
	if (r->waiting)
		unlink_waiting(b, r);
	if (r->body)
		sodium_memzero(r->body, r->body_len);
	free(r->body);
	free_resp(r);
	free(r->set_cookie);
	sodium_memzero(r->cred_secret, sizeof r->cred_secret);
	memset(r, 0, sizeof *r);
}

/* Decides the response: data (len bytes of type, freed with free_fn, or
 * free() when NULL) is taken. Asks for a writeable callback. */
static void respond_bytes(struct http_req *r, int status, const char *type, char *data,
			  size_t len, void (*free_fn)(void *))
{
	free_resp(r);
	r->status = status;
	r->resp = data;
	r->resp_len = len;
	r->resp_off = 0;
	r->resp_free = free_fn;
	r->resp_type = type;
	lws_callback_on_writable(r->wsi);
}

/* Decides a JSON response (takes body). */
static void respond(struct http_req *r, int status, char *body)
{
	if (!body)
		body = strdup("{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}");
	respond_bytes(r, status, "application/json", body, body ? strlen(body) : 0, NULL);
}

static void respond_error(struct http_req *r, int status, const char *code, const char *field,
			  const char *message)
{
	json_t *err = json_pack("{s:s, s:s}", "code", code, "message", message);
	if (err && field)
		json_object_set_new(err, "field", json_string(field));
	respond(r, status, frame_dump(json_pack("{s:o}", "error", err), NULL));
}

/* Validates the login body and hands it to a worker. */
static void start_login(struct broker *b, struct http_req *r)
{
	json_error_t jerr;
	json_t *root, *user, *pass;
	char msg[200];

	if (r->body_too_large) {
		respond_error(r, 413, "too_large", NULL, "the request body is over 4096 bytes");
		return;
	}
	root = json_loadb(r->body ? r->body : "", r->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(root)) {
		snprintf(msg, sizeof msg, "the body must be a JSON object: %s", jerr.text);
		respond_error(r, 400, "bad_json", NULL, root ? "the body must be a JSON object" : msg);
		json_decref(root);
		return;
	}
	user = json_object_get(root, "username");
	pass = json_object_get(root, "password");
	if (!user || !pass) {
		respond_error(r, 400, "missing_field", user ? "password" : "username",
			      user ? "password is required" : "username is required");
	} else if (!json_is_string(user) || json_string_length(user) == 0 ||
		   json_string_length(user) > USERNAME_MAX ||
		   strlen(json_string_value(user)) != json_string_length(user)) {
		respond_error(r, 400, "bad_field", "username",
			      "username must be a string of 1 to 64 characters");
	} else if (!json_is_string(pass) || json_string_length(pass) > 256) {
		respond_error(r, 400, "bad_field", "password",
			      "password must be a string of at most 256 characters");
	} else if (signin_submit(b->signin, r->id, json_string_value(user),
				 json_string_value(pass), json_string_length(pass), r->remote)) {
		respond_error(r, 503, "busy", NULL, "too many sign-ins at once; retry shortly");
	} else {
		wait_for_answer(b, r);
	}
	json_decref(root);
	if (r->body) /* the password must not outlive its use */
		sodium_memzero(r->body, r->body_len);
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
}

void http_api_collect_signins(struct broker *b)
{
	struct signin_result *list = signin_take_results(b->signin);

	for (struct signin_result *res = list; res; res = res->next) {
		struct http_req *r = take_waiting(b, res->request_id);
		b->metrics.signins += res->http_status == 200;
		b->metrics.signin_failures += res->http_status == 401;
		b->metrics.signin_lockouts += res->http_status == 429;
		if (!r)
			continue; /* the client went away */
		respond(r, res->http_status, res->body);
		res->body = NULL;
		r->set_cookie = res->cookie; /* the refresh credential, on success */
		res->cookie = NULL;
	}
	signin_result_free(list);
}

/* ------------------------------------------------------------ images */

/* The bearer token of the request: NULL and who filled, or the error
 * code (auth_missing, auth_invalid, auth_expired). */
static const char *check_bearer(struct broker *b, struct lws *wsi, struct token_claims *who)
{
	char hdr[TOKEN_MAX_LEN + 32], *p, *e;
	int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
	enum token_status st;

	if (n <= 0)
		return "auth_missing";
	if (n >= (int)sizeof hdr ||
	    lws_hdr_copy(wsi, hdr, sizeof hdr, WSI_TOKEN_HTTP_AUTHORIZATION) < 0)
		return "auth_invalid";
	for (p = hdr; *p == ' ' || *p == '\t'; p++)
		;
	if (strncasecmp(p, "Bearer", 6) || (p[6] != ' ' && p[6] != '\t' && p[6] != '\0'))
		return "auth_invalid";
	for (p += 6; *p == ' ' || *p == '\t'; p++)
		;
	for (e = p + strlen(p); e > p && (e[-1] == ' ' || e[-1] == '\t'); e--)
		;
	*e = '\0';
	if (!*p)
		return "auth_missing";
	st = token_keys_verify(b->token_keys, p, (size_t)(e - p), clock_now_us() / 1000000, who);
	return st == TOKEN_OK ? NULL : token_status_code(st);
}

static void respond_auth_error(struct http_req *r, const char *code)
{
	r->bearer_challenge = 1;
	respond_error(r, 401, code, NULL,
		      !strcmp(code, "auth_missing")
			      ? "send Authorization: Bearer <token> with a token from /api/login"
		      : !strcmp(code, "auth_expired") ? "the token has expired; sign in again"
		      : !strcmp(code, "auth_revoked") ? "the token was revoked or the account disabled; sign in again"
						       : "the token is not valid");
}

/* The declared Content-Length: -1 when absent, LLONG_MAX when unreadable. */
static long long content_length(struct lws *wsi)
{
	char v[24], *end;
	long long n;

	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
		return -1;
	if (lws_hdr_copy(wsi, v, sizeof v, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0 ||
	    v[0] < '0' || v[0] > '9')
		return LLONG_MAX;
	n = strtoll(v, &end, 10);
	return *end ? LLONG_MAX : n;
}

/* Refuses an upload; the answer goes out once the body is in. */
static void refuse_upload(struct http_req *r, int status, const char *code, const char *msg)
{
	r->refuse_status = status;
	r->refuse_code = code;
	r->refuse_msg = msg;
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
	r->body_cap = 0;
}

static void answer_refusal(struct http_req *r)
{
	respond_error(r, r->refuse_status, r->refuse_code, NULL, r->refuse_msg);
}

static void respond_db_error(struct http_req *r, const struct db_error *err)
{
	if (err->lost)
		respond_error(r, 503, "unavailable", NULL,
			      "the database is not reachable; retry shortly");
	else if (!strcmp(err->sqlstate, "TS401"))
		respond_auth_error(r, "auth_revoked");
	else if (!strcmp(err->sqlstate, "TS403"))
		respond_error(r, 403, "forbidden", NULL, err->message);
	else if (!strcmp(err->sqlstate, "TS422"))
		respond_error(r, 400, "bad_image", NULL, err->message);
	else {
		log_error("image request: database error %s: %s", err->sqlstate, err->message);
		respond_error(r, 500, "internal", NULL, "the request failed and had no effect");
	}
}

/* POST /api/images: decides what it can from the headers. */
static void start_upload(struct broker *b, struct lws *wsi, struct http_req *r)
{
	struct token_claims who;
	char ctype[128] = "";
	long long len = content_length(wsi);
	const char *code = check_bearer(b, wsi, &who);

	if (code)
		refuse_upload(r, 401, code, "");
	else if (who.role != ROLE_CONTROLLER && who.role != ROLE_ANALYST &&
		 who.role != ROLE_SITE_CONSOLE && who.role != ROLE_COMPANY_OPERATOR)
		refuse_upload(r, 403, "forbidden", "this role may not upload images");
	else if (lws_hdr_copy(wsi, ctype, sizeof ctype, WSI_TOKEN_HTTP_CONTENT_TYPE) <= 0 ||
		 !(r->mime = image_mime_from_header(ctype)))
		refuse_upload(r, 415, "unsupported_media_type",
			      "Content-Type must be image/jpeg or image/png");
	else if (len > (long long)IMAGE_MAX_BYTES)
		refuse_upload(r, 413, "too_large", "an image is at most 2097152 bytes");
	else if (len <= 0)
		refuse_upload(r, 400, "bad_image",
			      "the body must be a JPEG or PNG image, sent with a Content-Length");

	if (len <= 0 || len > IMAGE_DRAIN_MAX) { /* no body to wait for, or too much */
		r->close_after = len > IMAGE_DRAIN_MAX;
		if (r->refuse_status == 401)
			respond_auth_error(r, code);
		else
			answer_refusal(r);
		return;
	}
	r->route = ROUTE_IMAGE_UPLOAD;
	if (r->refuse_status)
		return;
	r->body = malloc((size_t)len);
	if (!r->body) {
		refuse_upload(r, 503, "busy", "out of memory; retry shortly");
		return;
	}
	r->body_cap = (size_t)len;
	r->user_id = who.user_id;
	r->iat = who.issued_at;
}

static void on_image_body(struct http_req *r, const char *in, size_t len)
{
	if (r->refuse_status)
		return; /* read and dropped */
	if (len > r->body_cap - r->body_len) {
		refuse_upload(r, 413, "too_large", "the body is longer than its Content-Length");
		return;
	}
	memcpy(r->body + r->body_len, in, len);
	r->body_len += len;
}

static void image_stored(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct http_req *r = take_waiting(b, (uint64_t)(uintptr_t)arg);

	if (!r)
		return; /* the client went away */
	if (err) {
		respond_db_error(r, err);
		return;
	}
	log_info("image %s stored (%zu bytes, %s, from %s)", PQgetvalue(res, 0, 0), r->body_cap,
		 r->mime, r->remote);
	respond(r, 201, frame_dump(json_pack("{s:s}", "image_id", PQgetvalue(res, 0, 0)), NULL));
}

/* The whole body is in: checks it is what it says and stores it. */
static void finish_upload(struct broker *b, struct http_req *r)
{
	unsigned char digest[crypto_hash_sha256_BYTES];
	char sha_hex[crypto_hash_sha256_BYTES * 2 + 1], id[IMAGE_ID_LEN + 1], uid[24], iat[24];
	const char *kind, *params[7];
	char *hex;
	size_t n = r->body_len;

	if (r->refuse_status) {
		if (r->refuse_status == 401)
			respond_auth_error(r, r->refuse_code);
		else
			answer_refusal(r);
		return;
	}
	kind = image_sniff((const unsigned char *)r->body, n);
	if (n != r->body_cap || !kind) {
		respond_error(r, 400, "bad_image", NULL, "the body is not a JPEG or PNG image");
		return;
	}
	if (strcmp(kind, r->mime)) {
		respond_error(r, 400, "bad_image", NULL,
			      !strcmp(kind, "image/png") ? "the body is a PNG image, not image/jpeg"
							 : "the body is a JPEG image, not image/png");
		return;
	}
	crypto_hash_sha256(digest, (const unsigned char *)r->body, n);
	sodium_bin2hex(sha_hex, sizeof sha_hex, digest, sizeof digest);
	/* bytea in hex input format: \x then two digits a byte */
	hex = malloc(2 * n + 3);
	if (!hex) {
		respond_error(r, 503, "busy", NULL, "out of memory; retry shortly");
		return;
	}
	hex[0] = '\\';
	hex[1] = 'x';
	sodium_bin2hex(hex + 2, 2 * n + 1, (const unsigned char *)r->body, n);
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
	image_id_new(id);
	snprintf(uid, sizeof uid, "%lld", (long long)r->user_id);
	params[0] = id;
	params[1] = uid;
	params[2] = r->mime;
	params[3] = hex;
	params[4] = sha_hex;
	params[5] = r->remote;
	snprintf(iat, sizeof iat, "%lld", (long long)r->iat);
	params[6] = iat;
	lws_set_timeout(r->wsi, PENDING_TIMEOUT_HTTP_CONTENT, IMAGE_TIMEOUT_S);
	wait_for_answer(b, r); /* before: a lost connection calls back at once */
	/* _token: refuses a revoked token (sql/functions/tokens.sql) */
	if (db_query(b->db,
		     "SELECT tocsin_image_store_token($1, $2::int, $7::bigint, $3, $4::bytea, $5, $6)", 7,
		     params, image_stored, (void *)(uintptr_t)r->id)) {
		unlink_waiting(b, r);
		respond_error(r, 503, "unavailable", NULL,
			      "the database is not reachable; the image was not stored");
	}
	free(hex);
}

/* Columns: mime, content, status (sql/functions/images.sql). */
static void image_fetched(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct http_req *r = take_waiting(b, (uint64_t)(uintptr_t)arg);
	const char *status, *mime;
	unsigned char *data;
	size_t len;

	if (!r)
		return; /* the client went away */
	if (err) {
		respond_db_error(r, err);
		return;
	}
	status = PQntuples(res) == 1 ? PQgetvalue(res, 0, 2) : "";
	if (!strcmp(status, "ok")) {
		mime = image_mime_from_header(PQgetvalue(res, 0, 0));
		data = mime ? PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 1), &len)
			    : NULL;
		if (!data) {
			respond_error(r, 500, "internal", NULL, "the image could not be read");
			return;
		}
		respond_bytes(r, 200, mime, (char *)data, len, PQfreemem);
	} else if (!strcmp(status, "revoked")) {
		respond_auth_error(r, "auth_revoked");
	} else if (!strcmp(status, "forbidden")) {
		respond_error(r, 403, "forbidden", NULL, "you may not see this image");
	} else if (!strcmp(status, "not_found")) {
		respond_error(r, 404, "not_found", NULL, "no such image");
	} else if (!strcmp(status, "expired")) {
		respond_error(r, 410, "image_expired", NULL, "the image has expired and was erased");
	} else {
		log_error("image fetch: unexpected status \"%s\"", status);
		respond_error(r, 500, "internal", NULL, "the request failed");
	}
}

/* GET /api/images/<id>: the database decides, and audits the view. */
static void start_fetch(struct broker *b, struct lws *wsi, struct http_req *r, const char *id)
{
	struct token_claims who;
	const char *code = check_bearer(b, wsi, &who), *params[4];
	char uid[24], iat[24];

	if (code) {
		respond_auth_error(r, code);
		return;
	}
	if (!image_id_valid(id)) {
		respond_error(r, 404, "not_found", NULL, "no such image");
		return;
	}
	snprintf(uid, sizeof uid, "%lld", (long long)who.user_id);
	params[0] = id;
	params[1] = uid;
	params[2] = r->remote;
	snprintf(iat, sizeof iat, "%lld", (long long)who.issued_at);
	params[3] = iat;
	lws_set_timeout(r->wsi, PENDING_TIMEOUT_HTTP_CONTENT, IMAGE_TIMEOUT_S);
	wait_for_answer(b, r); /* before: a lost connection calls back at once */
	/* _token: a revoked token gets status "revoked" (sql/functions/tokens.sql) */
	if (db_query(b->db,
		     "SELECT mime, content, status FROM tocsin_image_fetch_token($1, $2::int, $4::bigint, $3)",
		     4, params, image_fetched, (void *)(uintptr_t)r->id)) {
		unlink_waiting(b, r);
		respond_error(r, 503, "unavailable", NULL, "the database is not reachable; retry");
	}
}

/* ------------------------------------------------------------ CAP export */

#define ALERTS_PATH "/api/alerts/"
/* The public keys that check alert signatures (sign_key.h): public, no
 * token, so that anyone holding an alert can check it. */
#define KEYS_PATH "/api/keys/alerts"

/* Columns: status, cap (tocsin_cap_export_token, sql/functions/cap.sql). */
static void cap_exported(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct http_req *r = take_waiting(b, (uint64_t)(uintptr_t)arg);
	const char *status;
	char *doc;

	if (!r)
		return; /* the client went away */
	if (err) {
		respond_db_error(r, err);
		return;
	}
	status = PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "";
	if (!strcmp(status, "ok")) {
		/* pretty-printed, and signed when there is a key (cap_sign.h) */
		size_t len = 0;
		doc = b->cap_signer ? cap_sign_doc(b->cap_signer, PQgetvalue(res, 0, 1),
						   (size_t)PQgetlength(res, 0, 1), &len)
				    : cap_pretty(PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1),
						 &len);
		if (doc)
			respond_bytes(r, 200, r->cap_feed ? "application/atom+xml; charset=utf-8"
							  : "application/cap+xml; charset=utf-8",
				      doc, len, NULL);
		else
			respond_error(r, 503, "busy", NULL, "the export failed; retry shortly");
	} else if (!strcmp(status, "revoked")) {
		respond_auth_error(r, "auth_revoked");
	} else if (!strcmp(status, "forbidden")) {
		respond_error(r, 403, "forbidden", NULL, "you may not read this alert");
	} else if (!strcmp(status, "not_found")) {
		respond_error(r, 404, "not_found", NULL, "no alert with that id");
	} else {
		log_error("cap export: unexpected status \"%s\"", status);
		respond_error(r, 500, "internal", NULL, "the request failed");
	}
}

/* The base of image URIs in the export: --public-url when set, else
 * http(s)://<Host> when the Host header is a plain host[:port], else ""
 * (relative URIs). */
static void request_base(struct broker *b, struct lws *wsi, char *base, size_t size)
{
	char host[96] = "";

	base[0] = '\0';
	if (b->conf.public_url) {
		snprintf(base, size, "%s", b->conf.public_url);
		return;
	}
	if (lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST) <= 0 ||
	    strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") !=
		    strlen(host))
		return;
	snprintf(base, size, "%s://%s", b->conf.tls_cert ? "https" : "http", host);
}

/* GET /api/alerts/<id>/cap (rest is "<id>/cap"): the database decides who
 * may read it, builds the CAP 1.2 document, and audits the export. GET
 * /api/cap/feed (rest NULL): the Atom feed of the alerts in force the
 * caller may read (sql/functions/cap_feed.sql), audited as a disclosure;
 * answered, and signed, as the export is (cap_exported). */
static void start_cap_export(struct broker *b, struct lws *wsi, struct http_req *r,
			     const char *rest)
{
	static const char export_sql[] =
		"SELECT status, cap FROM tocsin_cap_export_token($5::bigint, $1::int, $2::bigint,"
		" $3, $4)";
	static const char feed_sql[] =
		"SELECT status, feed FROM tocsin_cap_feed_token($1::int, $2::bigint, $3, $4)";
	struct token_claims who;
	const char *code = check_bearer(b, wsi, &who), *params[5];
	char uid[24], iat[24], id[24], base[ADMISSION_ORIGIN_MAX];
	size_t n = rest ? strspn(rest, "0123456789") : 0;

	if (code) {
		respond_auth_error(r, code);
		return;
	}
	if (rest && (n == 0 || n > 18 || strcmp(rest + n, "/cap") || rest[0] == '0')) {
		respond_error(r, 404, "not_found", NULL, "no such resource: GET /api/alerts/<id>/cap");
		return;
	}
	snprintf(id, sizeof id, "%.*s", (int)n, rest ? rest : "");
	snprintf(uid, sizeof uid, "%lld", (long long)who.user_id);
	snprintf(iat, sizeof iat, "%lld", (long long)who.issued_at);
	request_base(b, wsi, base, sizeof base);
	params[0] = uid;
	params[1] = iat;
	params[2] = r->remote;
	params[3] = base;
	params[4] = id;
	r->cap_feed = !rest;
	lws_set_timeout(r->wsi, PENDING_TIMEOUT_HTTP_CONTENT, IMAGE_TIMEOUT_S);
	wait_for_answer(b, r); /* before: a lost connection calls back at once */
	if (db_query(b->db, rest ? export_sql : feed_sql, rest ? 5 : 4, params, cap_exported,
		     (void *)(uintptr_t)r->id)) {
		unlink_waiting(b, r);
		respond_error(r, 503, "unavailable", NULL, "the database is not reachable; retry");
	}
}

/* ------------------------------------------------------------ the crime picture */

static void crime_answered(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct http_req *r = take_waiting(b, (uint64_t)(uintptr_t)arg);
	struct crime_api_answer a;

	if (!r)
		return; /* the client went away */
	crime_api_answer(res, err, &a);
	if (a.status == 401)
		respond_auth_error(r, a.code);
	else
		respond(r, a.status, a.body);
}

/* The body is in: asks the database (crime_api.c). */
static void finish_crime(struct broker *b, struct http_req *r)
{
	struct crime_api_ask q = { r->user_id, r->iat, r->remote, r->crime_view, r->body,
				   r->body_len };
	char why[160];

	if (r->body_too_large) {
		snprintf(why, sizeof why, "the request body is over %zu bytes",
			 crime_api_body_max(r->crime_view));
		respond_error(r, 413, "too_large", NULL, why);
		return;
	}
	wait_for_answer(b, r); /* before: a lost connection calls back at once */
	switch (crime_api_query(b->db, &q, crime_answered, (void *)(uintptr_t)r->id, why,
				sizeof why)) {
	case CRIME_API_ASKED:
		return;
	case CRIME_API_BAD_JSON:
		unlink_waiting(b, r);
		respond_error(r, 400, "bad_json", NULL, "the body must be a JSON object");
		return;
	case CRIME_API_BAD_CSV:
		unlink_waiting(b, r);
		respond_error(r, 400, "bad_csv", NULL, why);
		return;
	default:
		unlink_waiting(b, r);
		respond_error(r, 503, "unavailable", NULL, "the database is not reachable; retry");
	}
}

/* POST /api/crime/<view>: decides what it can from the headers. */
static void start_crime(struct broker *b, struct lws *wsi, struct http_req *r, int is_post,
			const char *rest)
{
	struct token_claims who;
	const char *code = check_bearer(b, wsi, &who);
	long long len = content_length(wsi);

	r->image = 1; /* waits for the database: the image timeout applies */
	r->close_after = len > 0; /* unless the body is read below */
	if (!is_post)
		respond_error(r, 405, "method_not_allowed", NULL, "use POST for /api/crime/<view>");
	else if (code)
		respond_auth_error(r, code);
	else if (!(r->crime_view = crime_api_view(rest)))
		respond_error(r, 404, "not_found", NULL,
			      "no such view: POST /api/crime/picture, records, trail or upload");
	else if (len > (long long)crime_api_body_max(r->crime_view))
		respond_error(r, 413, "too_large", NULL, "the request body is too large");
	else {
		r->close_after = 0;
		r->route = ROUTE_CRIME;
		r->user_id = who.user_id;
		r->iat = who.issued_at;
		if (len <= 0)
			finish_crime(b, r); /* no body is coming */
	}
}

/* ------------------------------------------------------------ the refresh cookie */

/* A page that starts without a token (a reload: the consoles keep it in
 * memory only) gets one from the HttpOnly cookie set at sign-in
 * (refresh_cookie.h; docs/security.md, "The consoles' token"). */

/* Sets the Set-Cookie that clears the credential. */
static void clear_cookie(struct broker *b, struct http_req *r)
{
	char v[REFRESH_COOKIE_MAX];

	free(r->set_cookie);
	r->set_cookie = refresh_cookie_header(0, NULL, b->conf.tls_cert != NULL, v, sizeof v)
				? NULL : strdup(v);
}

/* The request's credential into r (cred_id, cred_secret); 0, or -1. */
static int read_cookie(struct lws *wsi, struct http_req *r)
{
	char hdr[1024];
	int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_COOKIE), ret;

	if (n <= 0 || n >= (int)sizeof hdr || lws_hdr_copy(wsi, hdr, sizeof hdr, WSI_TOKEN_HTTP_COOKIE) < 0)
		return -1;
	ret = refresh_cookie_parse(hdr, &r->cred_id, r->cred_secret);
	sodium_memzero(hdr, sizeof hdr);
	return ret;
}

/* Columns: status, user_id, username, display_name, role, org_id,
 * org_name, site_id, site_name, cleared, iat_floor (tocsin_refresh_use). */
static void cookie_checked(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct http_req *r = take_waiting(b, (uint64_t)(uintptr_t)arg);
	struct signin_user u = { 0 };
	char cache_key[REFRESH_CACHE_KEY_LEN + 1];

	if (!r)
		return; /* the client went away */
	if (err || PQntuples(res) != 1) {
		respond_error(r, 503, "unavailable", NULL, "the database is not reachable; retry");
		return;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "ok") != 0) {
		clear_cookie(b, r);
		respond_auth_error(r, "auth_revoked");
		return;
	}
	u.who.user_id = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	snprintf(u.who.username, sizeof u.who.username, "%s", PQgetvalue(res, 0, 2));
	u.display_name = PQgetvalue(res, 0, 3);
	u.who.role = token_role_from_name(PQgetvalue(res, 0, 4));
	u.who.org_id = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
	u.org_name = PQgetvalue(res, 0, 6);
	u.who.site_id = PQgetisnull(res, 0, 7) ? 0 : strtoll(PQgetvalue(res, 0, 7), NULL, 10);
	u.site_name = PQgetisnull(res, 0, 8) ? NULL : PQgetvalue(res, 0, 8);
	u.who.cleared = !strcmp(PQgetvalue(res, 0, 9), "t");
	u.iat_floor = strtoll(PQgetvalue(res, 0, 10), NULL, 10);
	refresh_cookie_cache_key(r->cred_secret, cache_key);
	respond(r, 200, signin_token_body(b->token_keys, b->conf.token_ttl, &u, cache_key));
	sodium_memzero(cache_key, sizeof cache_key);
}

/* Sends a query about the request's credential: $1 id, $2 the secret's
 * hash, $3 the address. */
static void ask_cookie(struct broker *b, struct http_req *r, const char *sql, db_result_fn done)
{
	char id[24], hash[REFRESH_HASH_HEX_LEN + 1];
	const char *params[3] = { id, hash, r->remote };

	snprintf(id, sizeof id, "%lld", (long long)r->cred_id);
	refresh_cookie_hash_hex(r->cred_secret, hash);
	wait_for_answer(b, r); /* before: a lost connection calls back at once */
	if (db_query(b->db, sql, 3, params, done, (void *)(uintptr_t)r->id)) {
		unlink_waiting(b, r);
		respond_error(r, 503, "unavailable", NULL, "the database is not reachable; retry");
	}
}

/* POST /api/refresh: a token for the cookie's credential. */
static void start_cookie_refresh(struct broker *b, struct lws *wsi, struct http_req *r)
{
	if (read_cookie(wsi, r)) {
		/* not signed in: nothing to refresh, and no error for the page's
		 * console (the page goes to sign-in) */
		respond_bytes(r, 204, "application/json", strdup(""), 0, NULL);
		return;
	}
	ask_cookie(b, r,
		   "SELECT status, user_id, username, display_name, role, org_id, org_name, site_id,"
		   "       site_name, cleared, iat_floor FROM tocsin_refresh_use($1::bigint, $2::bytea, $3)",
		   cookie_checked);
}

static void logged_out(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct http_req *r = take_waiting(b, (uint64_t)(uintptr_t)arg);

	if (!r)
		return;
	clear_cookie(b, r);
	if (err)
		respond_error(r, 503, "unavailable", NULL, "the database is not reachable; retry");
	else
		respond(r, 200, strdup("{\"signed_out\":true}"));
}

/* POST /api/logout: the cookie's credential ends, and the cookie with it. */
static void start_logout(struct broker *b, struct lws *wsi, struct http_req *r)
{
	if (read_cookie(wsi, r)) {
		clear_cookie(b, r);
		respond(r, 200, strdup("{\"signed_out\":true}"));
		return;
	}
	ask_cookie(b, r, "SELECT tocsin_refresh_revoke($1::bigint, $2::bytea, $3)", logged_out);
}

/* ------------------------------------------------------------ routing */

/* Routes a new request; returns -1 to close. */
static int on_request(struct broker *b, struct lws *wsi, struct http_req *r)
{
	char path[128] = "";
	int is_post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0, status;
	char clen[24] = "", *body;
	const char *type;
	size_t len;

	req_reset(b, r);
	r->wsi = wsi;
	r->id = ++b->next_session_id;
	remote_address(b, wsi, r->remote, sizeof r->remote);
	if (lws_hdr_copy(wsi, path, sizeof path, is_post ? WSI_TOKEN_POST_URI : WSI_TOKEN_GET_URI) < 0)
		path[0] = '\0';
	if (!strcmp(path, "/api/login")) {
		if (!is_post) {
			respond_error(r, 405, "method_not_allowed", NULL, "use POST for /api/login");
			return 0;
		}
		if (lws_hdr_copy(wsi, clen, sizeof clen, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
		    strtoll(clen, NULL, 10) > LOGIN_BODY_MAX) {
			respond_error(r, 413, "too_large", NULL, "the request body is over 4096 bytes");
			return 0;
		}
		if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0 ||
		    strtoll(clen, NULL, 10) == 0) {
			start_login(b, r); /* no body is coming */
			return 0;
		}
		r->route = ROUTE_LOGIN;
		return 0;
	}
	if (!strcmp(path, "/api/refresh") || !strcmp(path, "/api/logout")) {
		r->close_after = content_length(wsi) > 0; /* a body is not read */
		if (!is_post)
			respond_error(r, 405, "method_not_allowed", NULL, "use POST");
		else if (path[5] == 'r')
			start_cookie_refresh(b, wsi, r);
		else
			start_logout(b, wsi, r);
		return 0;
	}
	if (!strncmp(path, IMAGES_PATH, sizeof IMAGES_PATH - 1))
		r->image = 1;
	if (!strcmp(path, IMAGES_PATH)) {
		if (!is_post)
			respond_error(r, 405, "method_not_allowed", NULL,
				      "use POST for /api/images, GET for /api/images/<id>");
		else
			start_upload(b, wsi, r);
		return 0;
	}
	if (!strncmp(path, IMAGES_PATH "/", sizeof IMAGES_PATH)) {
		if (is_post) {
			r->close_after = 1; /* its body is not read */
			respond_error(r, 405, "method_not_allowed", NULL,
				      "use GET for /api/images/<id>, POST for /api/images");
		} else {
			start_fetch(b, wsi, r, path + sizeof IMAGES_PATH);
		}
		return 0;
	}
	if (!strncmp(path, ALERTS_PATH, sizeof ALERTS_PATH - 1)) {
		r->image = 1; /* waits for the database: the image timeout applies */
		if (is_post) {
			r->close_after = 1; /* its body is not read */
			respond_error(r, 405, "method_not_allowed", NULL,
				      "use GET for /api/alerts/<id>/cap");
		} else {
			start_cap_export(b, wsi, r, path + sizeof ALERTS_PATH - 1);
		}
		return 0;
	}
	if (!strncmp(path, CRIME_API_PATH, sizeof CRIME_API_PATH - 1)) {
		start_crime(b, wsi, r, is_post, path + sizeof CRIME_API_PATH - 1);
		return 0;
	}
	if (!strcmp(path, "/api/cap/feed")) {
		r->image = 1; /* waits for the database: the image timeout applies */
		if (is_post) {
			r->close_after = 1; /* its body is not read */
			respond_error(r, 405, "method_not_allowed", NULL, "use GET for /api/cap/feed");
		} else {
			start_cap_export(b, wsi, r, NULL);
		}
		return 0;
	}
	if (http_ops_answer(b, wsi, path, r->remote, &status, &type, &body, &len)) {
		if (body)
			respond_bytes(r, status, type, body, len, NULL);
		else
			respond(r, 503, NULL);
		return 0;
	}
	if (!strcmp(path, KEYS_PATH)) {
		respond(r, 200, frame_dump(json_incref(b->alert_key.published), NULL));
		return 0;
	}
	respond_error(r, 404, "not_found", NULL, "no such resource");
	return 0;
}

static void on_body(struct http_req *r, const char *in, size_t len, size_t max)
{
	char *grown;

	if (r->body_too_large || r->body_len + len > max) {
		r->body_too_large = 1;
		return;
	}
	grown = realloc(r->body, r->body_len + len + 1);
	if (!grown) {
		r->body_too_large = 1;
		return;
	}
	memcpy(grown + r->body_len, in, len);
	r->body = grown;
	r->body_len += len;
	r->body[r->body_len] = '\0';
}

/* Headers in one writeable callback, then the body in pieces of at most
 * HTTP_CHUNK bytes, one lws_write per callback. */
static int on_writeable(struct lws *wsi, struct http_req *r)
{
	unsigned char buf[LWS_PRE + HTTP_CHUNK], *start = buf + LWS_PRE, *p = start,
		*end = buf + sizeof buf - 1;
	size_t n;
	int final;

	if (!r->resp)
		return 0;
	if (!r->headers_sent) {
		if (lws_add_http_common_headers(wsi, (unsigned)r->status, r->resp_type,
						r->resp_len, &p, end) ||
		    lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
						(const unsigned char *)"no-store", 8, &p, end) ||
		    (r->bearer_challenge &&
		     lws_add_http_header_by_name(wsi, (const unsigned char *)"www-authenticate:",
						 (const unsigned char *)"Bearer", 6, &p, end)) ||
		    (r->set_cookie &&
		     lws_add_http_header_by_name(wsi, (const unsigned char *)"set-cookie:",
						 (const unsigned char *)r->set_cookie,
						 (int)strlen(r->set_cookie), &p, end)) ||
		    lws_finalize_write_http_header(wsi, start, &p, end))
			return -1;
		r->headers_sent = 1;
		lws_callback_on_writable(wsi);
		return 0;
	}
	n = r->resp_len - r->resp_off;
	if (n > HTTP_CHUNK)
		n = HTTP_CHUNK;
	final = r->resp_off + n == r->resp_len;
	memcpy(start, r->resp + r->resp_off, n);
	if (r->image)
		lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, IMAGE_TIMEOUT_S);
	if (lws_write(wsi, start, n, final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)n)
		return -1;
	r->resp_off += n;
	if (!final) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	free_resp(r);
	if (r->close_after || lws_http_transaction_completed(wsi))
		return -1;
	return 0;
}

int http_api_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		      size_t len)
{
	struct broker *b = lws_context_user(lws_get_context(wsi));
	struct http_req *r = user;

	switch (reason) {
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (b && b->signin)
			http_api_collect_signins(b);
		return 0;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return -1; /* an upgrade without our subprotocol: refuse */
	case LWS_CALLBACK_HTTP:
		return on_request(b, wsi, r);
	case LWS_CALLBACK_HTTP_BODY:
		if (r->route == ROUTE_LOGIN)
			on_body(r, in, len, LOGIN_BODY_MAX);
		else if (r->route == ROUTE_CRIME)
			on_body(r, in, len, crime_api_body_max(r->crime_view));
		else if (r->route == ROUTE_IMAGE_UPLOAD)
			on_image_body(r, in, len);
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (r->route == ROUTE_LOGIN && !r->waiting && !r->resp)
			start_login(b, r);
		else if (r->route == ROUTE_IMAGE_UPLOAD && !r->waiting && !r->resp)
			finish_upload(b, r);
		else if (r->route == ROUTE_CRIME && !r->waiting && !r->resp)
			finish_crime(b, r);
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return on_writeable(wsi, r);
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL: /* lws is about to free r */
	case LWS_CALLBACK_CLOSED_HTTP:
		if (r)
			req_reset(b, r);
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* The per-connection size lws allocates for the HTTP protocol. */
size_t http_api_req_size(void)
{
	return sizeof(struct http_req);
}
