/* http_api.c: the HTTP side of the broker: POST /api/login and GET /healthz.
 * Static console files are served by an lws file mount (server.c); any
 * other path handled here is a JSON 404.
 *
 * A sign-in waits in b->http_waiting while a worker checks the password
 * (signin.c); http_collect_signins() matches answers by request id, so a
 * client that hung up meanwhile costs nothing. Loop thread only. */
#include "broker.h"
#include "db.h"
#include "journal.h"
#include "log.h"
#include "signin.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define LOGIN_BODY_MAX 4096

enum route { ROUTE_NONE, ROUTE_LOGIN };

struct http_req {
	struct http_req *next;        /* in b->http_waiting while waiting */
	struct lws *wsi;
	uint64_t id;
	enum route route;
	int waiting;
	char *body;                   /* owned: request body so far */
	size_t body_len;
	int body_too_large;
	int status;                   /* response, once decided */
	char *resp;                   /* owned: response body */
	size_t resp_len;
	int headers_sent;
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

static void req_reset(struct broker *b, struct http_req *r)
{
	if (r->waiting)
		unlink_waiting(b, r);
	if (r->body)
		sodium_memzero(r->body, r->body_len);
	free(r->body);
	free(r->resp);
	memset(r, 0, sizeof *r);
}

/* Decides the response (takes body) and asks for a writeable callback. */
static void respond(struct http_req *r, int status, char *body)
{
	if (!body)
		body = strdup("{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}");
	free(r->resp);
	r->status = status;
	r->resp = body;
	r->resp_len = body ? strlen(body) : 0;
	lws_callback_on_writable(r->wsi);
}

static void respond_error(struct http_req *r, int status, const char *code, const char *field,
			  const char *message)
{
	json_t *err = json_pack("{s:s, s:s}", "code", code, "message", message);
	if (err && field)
		json_object_set_new(err, "field", json_string(field));
	respond(r, status, frame_dump(json_pack("{s:o}", "error", err), NULL));
}

static void respond_health(struct broker *b, struct http_req *r)
{
	int up = db_is_up(b->db), ok = broker_writes_direct(b);
	respond(r, ok ? 200 : 503,
		frame_dump(json_pack("{s:s, s:s, s:i, s:i}", "status", ok ? "ok" : "degraded",
				     "db", up ? "up" : "down", "connections", (int)b->n_sessions,
				     "journal", (int)journal_pending(b->journal)),
			   NULL));
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
		r->waiting = 1;
		r->next = b->http_waiting;
		b->http_waiting = r;
	}
	json_decref(root);
	if (r->body) /* the password must not outlive its use */
		sodium_memzero(r->body, r->body_len);
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
}

void http_collect_signins(struct broker *b)
{
	struct signin_result *list = signin_take_results(b->signin);

	for (struct signin_result *res = list; res; res = res->next) {
		struct http_req *r = b->http_waiting;
		while (r && r->id != res->request_id)
			r = r->next;
		if (!r)
			continue; /* the client went away */
		unlink_waiting(b, r);
		respond(r, res->http_status, res->body);
		res->body = NULL;
	}
	signin_result_free(list);
}

/* Routes a new request; returns -1 to close. */
static int on_request(struct broker *b, struct lws *wsi, struct http_req *r)
{
	char path[128] = "";
	int is_post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
	char clen[24] = "";

	req_reset(b, r);
	r->wsi = wsi;
	r->id = ++b->next_session_id;
	lws_get_peer_simple(wsi, r->remote, sizeof r->remote);
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
	if (!strcmp(path, "/healthz")) {
		respond_health(b, r);
		return 0;
	}
	respond_error(r, 404, "not_found", NULL, "no such resource");
	return 0;
}

static void on_body(struct http_req *r, const char *in, size_t len)
{
	char *grown;

	if (r->body_too_large || r->body_len + len > LOGIN_BODY_MAX) {
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

/* Headers in one writeable callback, the body in the next: one lws_write
 * per callback. */
static int on_writeable(struct lws *wsi, struct http_req *r)
{
	unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start,
		*end = buf + sizeof buf - 1;

	if (!r->resp)
		return 0;
	if (!r->headers_sent) {
		if (lws_add_http_common_headers(wsi, (unsigned)r->status, "application/json",
						r->resp_len, &p, end) ||
		    lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
						(const unsigned char *)"no-store", 8, &p, end) ||
		    lws_finalize_write_http_header(wsi, start, &p, end))
			return -1;
		r->headers_sent = 1;
		lws_callback_on_writable(wsi);
		return 0;
	}
	{
		unsigned char *out = malloc(LWS_PRE + r->resp_len);
		int n;
		if (!out)
			return -1;
		memcpy(out + LWS_PRE, r->resp, r->resp_len);
		n = lws_write(wsi, out + LWS_PRE, r->resp_len, LWS_WRITE_HTTP_FINAL);
		free(out);
		if (n < (int)r->resp_len)
			return -1;
	}
	free(r->resp);
	r->resp = NULL;
	if (lws_http_transaction_completed(wsi))
		return -1;
	return 0;
}

int http_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		      size_t len)
{
	struct broker *b = lws_context_user(lws_get_context(wsi));
	struct http_req *r = user;

	switch (reason) {
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (b && b->signin)
			http_collect_signins(b);
		return 0;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return -1; /* an upgrade without our subprotocol: refuse */
	case LWS_CALLBACK_HTTP:
		return on_request(b, wsi, r);
	case LWS_CALLBACK_HTTP_BODY:
		if (r->route == ROUTE_LOGIN)
			on_body(r, in, len);
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (r->route == ROUTE_LOGIN && !r->waiting && !r->resp)
			start_login(b, r);
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
size_t http_req_size(void)
{
	return sizeof(struct http_req);
}
