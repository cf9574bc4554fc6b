/* signin.h: password sign-in on worker threads.
 *
 * argon2id costs ~0.4 s and 64 MiB per check, so it never runs on the
 * event loop. The loop submits a request; a worker looks the user up on
 * its own (blocking) PostgreSQL connection, checks the password, audits
 * the attempt, signs a token, and queues the HTTP answer; then it wakes
 * the loop with lws_cancel_service(), which collects the answers. The
 * workers read only immutable broker fields (conf) and sign through token_keys (locked). */
#ifndef TOCSIN_SIGNIN_H
#define TOCSIN_SIGNIN_H

#include <stddef.h>
#include <stdint.h>

#include "token.h"

struct token_keys;

struct broker;
struct signin;

struct signin_result {
	struct signin_result *next;
	uint64_t request_id;
	int http_status;   /* 200, 401 or 503 */
	char *body;        /* owned: the JSON body */
	char *cookie;      /* owned: a Set-Cookie value (the refresh credential), or NULL */
};

/* A user about to get a token: the users row, as sign-in and POST
 * /api/refresh read it (strings not owned). */
struct signin_user {
	struct token_claims who;       /* sub, usr, role, org, site, clr (not iat, exp) */
	const char *display_name, *org_name, *site_name; /* site_name NULL: no site */
	int64_t iat_floor;             /* tocsin_token_floor: no iat before it */
};

/* Signs a token for u (iat now, or the floor; exp iat + ttl) and builds
 * the answer {token, expires_at, user, cache_key}; NULL when it cannot.
 * Any thread (the keys are locked). */
char *signin_token_body(struct token_keys *keys, int ttl, const struct signin_user *u,
			const char *cache_key);

/* Starts n worker threads. NULL on failure. */
struct signin *signin_new(struct broker *b, int n_workers);
/* Queues a check. Returns 0, or -1 when the queue is full (answer 503). */
int signin_submit(struct signin *s, uint64_t request_id, const char *username,
		  const char *password, size_t password_len, const char *remote);
/* Takes every finished result (a list the caller frees with
 * signin_result_free). */
struct signin_result *signin_take_results(struct signin *s);
void signin_result_free(struct signin_result *r);
/* Stops and joins the workers; drops unfinished requests. */
void signin_free(struct signin *s);

#endif
