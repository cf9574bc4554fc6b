/* doors.h: the doors at the top of the broker (doors/), where everything
 * comes in: the server and its loop (server.c), the listening socket
 * (listener.c), the tocsin.v1 protocol
 * callback and its dispatch table (proto.c), the HTTP API (http_api.c,
 * with the crime picture's views in crime_api.c)
 * and the bus's request intake (bus_ingest.c). main.c calls server_run;
 * server.c registers the others with lws, the bus and every hook at
 * start. Loop thread only. */
#ifndef TOCSIN_DOORS_H
#define TOCSIN_DOORS_H

#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

struct broker;
struct bus;

/* server.c: runs the broker until SIGINT or SIGTERM; 0 after an orderly
 * stop. */
int server_run(struct broker *b);

/* listener.c: the listening socket (--listen, --listen-backlog) and
 * admission under overload: no accept past --max-handshakes in flight,
 * and a rest when out of file descriptors. */
struct listener;
struct conf;
/* Raises the soft RLIMIT_NOFILE towards what max-connections and
 * max-handshakes need (up to the hard limit) and warns when it stays
 * below; before lws sizes its tables from it (lws_create_context). */
void listener_files(const struct conf *c);
/* Binds and listens, and accepts on ev_loop into b->vhost; NULL (logged)
 * when it cannot. */
struct listener *listener_open(struct broker *b, void *ev_loop);
void listener_free(struct listener *l);
/* After each pass of the loop: accepts again once the gate has reopened. */
void listener_pass(struct listener *l);
/* lws destroys wsi: it leaves the handshakes in flight if still counted,
 * and a descriptor is free (l may be NULL). */
void listener_gone(struct listener *l, struct broker *b, struct lws *wsi);

/* proto.c: the lws protocol callback of tocsin.v1 sessions. */
int proto_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		       size_t len);

/* http_api.c: /api, and (through http_ops.c) /healthz, /readyz and
 * /metrics. */
int http_api_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			  void *in, size_t len);
/* The size lws allocates per HTTP connection. */
size_t http_api_req_size(void);
/* Hands finished sign-ins back to their HTTP requests (on the loop). */
void http_api_collect_signins(struct broker *b);

/* http_ops.c: GET /healthz, /readyz and /metrics, for the request on
 * wsi from remote (its client address): 1 with the answer decided
 * (*status, *type static, *body malloc'd, *len bytes), 0 when path is
 * none of them. */
int http_ops_answer(struct broker *b, struct lws *wsi, const char *path, const char *remote,
		    int *status, const char **type, char **body, size_t *len);

/* reload.c: SIGHUP: the settings SIGHUP may change, the token keys and
 * the TLS certificate and key, read again; no connection is dropped. */
void reload_run(struct broker *b);

/* crime_api.c: POST /api/crime/<view> (the crime picture, and a desk's
 * CSV upload of crime records); http_api.c reads the request and writes
 * the answer. */
#define CRIME_API_PATH "/api/crime/"
#define CRIME_API_BODY_MAX 16384
/* A desk's CSV: 10,000 rows of about 100 bytes (the upload's row limit
 * is the database's, tocsin_crime_upload). */
#define CRIME_UPLOAD_MAX (1024 * 1024)
enum { CRIME_API_ASKED, CRIME_API_BAD_JSON, CRIME_API_BAD_CSV, CRIME_API_UNAVAILABLE };
struct db;
struct db_error;
struct pg_result;
/* What the database is asked: the token's user and "iat", the client's
 * address, the view and the JSON body (not copied). */
struct crime_api_ask {
	int64_t user_id;
	int64_t iat;
	const char *remote;
	const char *view;
	const char *body;
	size_t body_len;
};
/* The answer: status; body (owned, JSON) or, for a 401, code alone. */
struct crime_api_answer {
	int status;
	const char *code; /* static */
	char *body;
};
/* The view named by rest (after CRIME_API_PATH), or NULL. */
const char *crime_api_view(const char *rest);
/* The largest body view takes. */
size_t crime_api_body_max(const char *view);
/* Asks the database (done gets the answer, with arg): CRIME_API_ASKED,
 * or CRIME_API_BAD_JSON (the body is not a JSON object: nothing asked),
 * CRIME_API_BAD_CSV (an upload that is not UTF-8 text without NUL bytes:
 * why names the line; nothing asked), CRIME_API_UNAVAILABLE. */
int crime_api_query(struct db *db, const struct crime_api_ask *q,
		    void (*done)(struct broker *b, void *arg, struct pg_result *res,
				 const struct db_error *err),
		    void *arg, char *why, size_t why_len);
/* What the database's answer (res or err) means in HTTP. */
void crime_api_answer(struct pg_result *res, const struct db_error *err,
		      struct crime_api_answer *a);

/* bus_ingest.c: one request from an adapter (routing id, payload, the
 * User-Id the ZAP handler gave, the peer's address): the bus's request
 * hook (bus.h). */
void bus_ingest_request(struct bus *bus, const void *peer, size_t peer_len, const char *data,
			size_t len, const char *user_id, const char *address);

#endif
