/* signin.c: password checks on worker threads (see signin.h). */
#include "signin.h"
#include "broker.h"
#include "clock.h"
#include "log.h"
#include "token_keys.h"
#include "password.h"
#include "refresh_cookie.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define SIGNIN_QUEUE_MAX 64
#define PASSWORD_MAX 256

struct signin_req {
	struct signin_req *next;
	uint64_t request_id;
	char username[USERNAME_MAX + 1];
	char password[PASSWORD_MAX + 1];
	size_t password_len;
	char remote[48];
};

struct signin {
	struct broker *b;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct signin_req *queue, *queue_tail; /* guarded by lock */
	unsigned queued;
	struct signin_result *done;            /* guarded by lock */
	int stop;                               /* guarded by lock */
	int n_workers;
	pthread_t *workers;
	/* the lockout (conf.c: lockout-account, -address, -minutes, -delay-max) */
	int lockout_account;                    /* failures per account */
	int lockout_address;                    /* failures per address */
	int lockout_minutes;                    /* in this window */
	int lockout_delay_max;                  /* the account's delay, at most (s) */
};

static const char lookup_sql[] =
	"SELECT u.id, u.username, u.display_name, u.password_hash, u.role, u.org_id, o.name,"
	"       u.site_id, s.name, u.disabled, u.cleared_sensitive,"
	"       tocsin_token_floor(u.tokens_valid_after)"
	"  FROM users u JOIN organisations o ON o.id = u.org_id"
	"  LEFT JOIN sites s ON s.id = u.site_id"
	" WHERE u.username = $1";

static char *error_body(const char *code, const char *message)
{
	return frame_dump(json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message),
			  NULL);
}

/* Connects (or reconnects) the worker's own blocking connection. */
static PGconn *worker_conn(struct signin *s, PGconn *conn)
{
	if (conn && PQstatus(conn) == CONNECTION_OK)
		return conn;
	if (conn)
		PQfinish(conn);
	conn = PQconnectdb(s->b->conf.database);
	if (PQstatus(conn) != CONNECTION_OK) {
		log_warn("sign-in worker: database: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

static void audit_attempt(PGconn *conn, const struct signin_req *r, int ok, const char *reason)
{
	const char *params[4] = { r->username, ok ? "true" : "false", reason, r->remote };
	PGresult *res = PQexecParams(conn, "SELECT tocsin_audit_signin($1, $2, $3, $4)", 4, NULL,
				     params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		log_error("sign-in audit failed: %s", PQerrorMessage(conn));
	PQclear(res);
}

char *signin_token_body(struct token_keys *keys, int ttl, const struct signin_user *u,
			const char *cache_key)
{
	struct token_claims c = u->who;
	char token[TOKEN_MAX_LEN + 1], expires[CLOCK_ISO_LEN], *body;
	int64_t now = clock_now_us() / 1000000;

	/* never before the user's revocation floor (sql/functions/tokens.sql): a
	 * token signed in the second of a revocation would be revoked at once */
	c.issued_at = u->iat_floor > now ? u->iat_floor : now;
	c.expires_at = c.issued_at + ttl;
	if (token_keys_sign(keys, &c, token, sizeof token) < 0)
		return NULL;
	clock_format_iso(c.expires_at * 1000000, expires);
	body = frame_dump(json_pack("{s:s, s:s, s:{s:I, s:s, s:s, s:s, s:I, s:s, s:o, s:o}, s:s?}",
				    "token", token, "expires_at", expires, "user",
				    "id", (json_int_t)c.user_id, "username", c.username,
				    "display_name", u->display_name, "role", token_role_name(c.role),
				    "org_id", (json_int_t)c.org_id, "org_name", u->org_name,
				    "site_id", c.site_id ? json_integer(c.site_id) : json_null(),
				    "site_name", u->site_name ? json_string(u->site_name) : json_null(),
				    "cache_key", cache_key),
			  NULL);
	sodium_memzero(token, sizeof token); /* a bearer credential */
	return body;
}

/* A refresh credential for the user (refresh_cookie.h): its Set-Cookie
 * value into out->cookie, and the page cache's key into cache_key. 0, or
 * -1 (no cookie: the sign-in still succeeds, a reload signs in again). */
static int issue_credential(struct signin *s, PGconn *conn, const struct signin_req *r,
			    const char *user_id, struct signin_result *out,
			    char cache_key[REFRESH_CACHE_KEY_LEN + 1])
{
	unsigned char secret[REFRESH_SECRET_BYTES];
	char hash[REFRESH_HASH_HEX_LEN + 1], ttl[16], cookie[REFRESH_COOKIE_MAX];
	const char *params[4] = { user_id, hash, ttl, r->remote };
	PGresult *res;
	int ret = -1;

	refresh_cookie_secret_new(secret);
	refresh_cookie_hash_hex(secret, hash);
	snprintf(ttl, sizeof ttl, "%d", REFRESH_TTL_S);
	res = PQexecParams(conn, "SELECT tocsin_refresh_issue($1::int, $2::bytea, $3::int, $4)", 4,
			   NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		log_error("sign-in: no refresh credential: %s", PQerrorMessage(conn));
		goto out;
	}
	if (refresh_cookie_header(strtoll(PQgetvalue(res, 0, 0), NULL, 10), secret,
				  s->b->conf.tls_cert != NULL, cookie, sizeof cookie) ||
	    !(out->cookie = strdup(cookie)))
		goto out;
	refresh_cookie_cache_key(secret, cache_key);
	ret = 0;
out:
	sodium_memzero(secret, sizeof secret);
	sodium_memzero(cookie, sizeof cookie);
	PQclear(res);
	return ret;
}

/* The success body: token, expiry, the user, and the page cache's key;
 * with the refresh credential's cookie. */
static char *success_body(struct signin *s, PGconn *conn, const struct signin_req *r,
			  PGresult *res, struct signin_result *out)
{
	struct signin_user u = { .display_name = PQgetvalue(res, 0, 2),
				 .org_name = PQgetvalue(res, 0, 6) };
	char cache_key[REFRESH_CACHE_KEY_LEN + 1];
	int has_site = !PQgetisnull(res, 0, 7);

	u.who.user_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	snprintf(u.who.username, sizeof u.who.username, "%s", PQgetvalue(res, 0, 1));
	u.who.role = token_role_from_name(PQgetvalue(res, 0, 4));
	u.who.org_id = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
	u.who.site_id = has_site ? strtoll(PQgetvalue(res, 0, 7), NULL, 10) : 0;
	u.site_name = has_site ? PQgetvalue(res, 0, 8) : NULL;
	u.who.cleared = !strcmp(PQgetvalue(res, 0, 10), "t");
	u.iat_floor = strtoll(PQgetvalue(res, 0, 11), NULL, 10);
	if (issue_credential(s, conn, r, PQgetvalue(res, 0, 0), out, cache_key))
		cache_key[0] = '\0';
	return signin_token_body(s->b->token_keys, s->b->conf.token_ttl, &u,
				 cache_key[0] ? cache_key : NULL);
}

/* Runs a statement whose answer does not matter, logging a failure:
 * bookkeeping must not change the answer to the client, but must not
 * fail unseen either. */
static void exec_logged(PGconn *conn, const char *what, const char *sql, int n,
			const char *const *params)
{
	PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
		log_error("sign-in: %s failed: %s", what, PQerrorMessage(conn));
	PQclear(res);
}

/* The lockout (tocsin_signin_gate: per account and address, per address,
 * and the account's growing delay), checked before the user lookup so
 * that a locked-out guesser costs three index scans and no argon2.
 * Returns 1 with out filled (429, audited) when the attempt must wait, 0
 * when not, -1 when the database did not answer. */
static int locked_out(struct signin *s, PGconn *conn, const struct signin_req *r,
		      struct signin_result *out)
{
	char acct[16], addr[16], mins[16], delay[16], retry_s[16];
	const char *params[6] = { r->username, r->remote, acct, addr, mins, delay };
	const char *audit_params[4];
	PGresult *res;
	int retry;

	snprintf(acct, sizeof acct, "%d", s->lockout_account);
	snprintf(addr, sizeof addr, "%d", s->lockout_address);
	snprintf(mins, sizeof mins, "%d", s->lockout_minutes);
	snprintf(delay, sizeof delay, "%d", s->lockout_delay_max);
	res = PQexecParams(conn,
			   "SELECT locked, retry_after, scope"
			   "  FROM tocsin_signin_gate($1, $2, $3::int, $4::int, $5::int, $6::int)",
			   6, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		log_error("sign-in lockout check failed: %s", PQerrorMessage(conn));
		PQclear(res);
		return -1;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		PQclear(res);
		return 0;
	}
	retry = atoi(PQgetvalue(res, 0, 1));
	snprintf(retry_s, sizeof retry_s, "%d", retry);
	audit_params[0] = r->username;
	audit_params[1] = r->remote;
	audit_params[2] = PQgetvalue(res, 0, 2);
	audit_params[3] = retry_s;
	exec_logged(conn, "lockout audit", "SELECT tocsin_audit_signin_locked($1, $2, $3, $4::int)",
		    4, audit_params);
	log_warn("sign-in for '%s' from %s refused: locked out (%s) for %d s", r->username,
		 r->remote, PQgetvalue(res, 0, 2), retry);
	PQclear(res);
	out->http_status = 429;
	out->body = frame_dump(json_pack("{s:{s:s, s:s, s:i}}", "error", "code", "locked_out",
					 "message",
					 "too many failed sign-ins for this account or from this "
					 "address; retry later",
					 "retry_after", retry),
			       NULL);
	return 1;
}

/* Checks one request; returns the result to queue. */
static struct signin_result *check(struct signin *s, PGconn **conn, struct signin_req *r)
{
	struct signin_result *out = calloc(1, sizeof *out);
	const char *params[1] = { r->username };
	const char *fail_params[2] = { r->username, r->remote };
	PGresult *res = NULL;
	int known, ok, gate = -1;

	if (!out)
		return NULL;
	out->request_id = r->request_id;
	*conn = worker_conn(s, *conn);
	if (*conn && (gate = locked_out(s, *conn, r, out)) == 1)
		goto done; /* no argon2: the refusal must stay cheap */
	if (gate == 0)
		res = PQexecParams(*conn, lookup_sql, 1, NULL, params, NULL, NULL, 0);
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		out->http_status = 503;
		out->body = error_body("unavailable", "the user directory is not reachable; retry");
		goto done;
	}
	known = PQntuples(res) == 1;
	if (known)
		ok = password_matches(PQgetvalue(res, 0, 3), r->password, r->password_len) &&
		     strcmp(PQgetvalue(res, 0, 9), "t") != 0;
	else {
		password_burn(r->password, r->password_len);
		ok = 0;
	}
	audit_attempt(*conn, r, ok,
		      ok ? "" : !known ? "unknown user"
			       : strcmp(PQgetvalue(res, 0, 9), "t") == 0 ? "disabled"
									 : "wrong password");
	if (ok)
		exec_logged(*conn, "clearing the failure count",
			    "SELECT tocsin_signin_succeeded($1, $2)", 2, fail_params);
	else
		exec_logged(*conn, "counting a failure", "SELECT tocsin_signin_failed($1, $2)", 2,
			    fail_params);
	if (ok && (out->body = success_body(s, *conn, r, res, out))) {
		out->http_status = 200;
	} else {
		free(out->cookie); /* no token: no cookie either */
		out->cookie = NULL;
		out->http_status = 401;
		out->body = error_body("bad_credentials", "unknown user or wrong password");
	}
	log_info("sign-in %s for '%s' from %s", ok ? "succeeded" : "refused", r->username,
		 r->remote);
done:
	PQclear(res);
	return out;
}

static void *worker_main(void *arg)
{
	struct signin *s = arg;
	PGconn *conn = NULL;

	for (;;) {
		struct signin_req *r;
		struct signin_result *res;

		pthread_mutex_lock(&s->lock);
		while (!s->stop && !s->queue)
			pthread_cond_wait(&s->wake, &s->lock);
		if (s->stop) {
			pthread_mutex_unlock(&s->lock);
			break;
		}
		r = s->queue;
		s->queue = r->next;
		if (!s->queue)
			s->queue_tail = NULL;
		s->queued--;
		pthread_mutex_unlock(&s->lock);

		res = check(s, &conn, r);
		sodium_memzero(r->password, sizeof r->password);
		free(r);
		if (!res)
			continue;
		pthread_mutex_lock(&s->lock);
		res->next = s->done;
		s->done = res;
		pthread_mutex_unlock(&s->lock);
		lws_cancel_service(s->b->ctx); /* the one lws call allowed off-loop */
	}
	if (conn)
		PQfinish(conn);
	return NULL;
}

struct signin *signin_new(struct broker *b, int n_workers)
{
	struct signin *s = calloc(1, sizeof *s);

	if (!s)
		return NULL;
	s->b = b;
	s->lockout_account = b->conf.lockout_account;
	s->lockout_address = b->conf.lockout_address;
	s->lockout_minutes = b->conf.lockout_minutes;
	s->lockout_delay_max = b->conf.lockout_delay_max;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	s->workers = calloc((size_t)n_workers, sizeof *s->workers);
	if (!s->workers) {
		free(s);
		return NULL;
	}
	for (int i = 0; i < n_workers; i++) {
		if (pthread_create(&s->workers[i], NULL, worker_main, s)) {
			log_error("cannot start sign-in worker %d", i);
			signin_free(s);
			return NULL;
		}
		s->n_workers++;
	}
	return s;
}

int signin_submit(struct signin *s, uint64_t request_id, const char *username,
		  const char *password, size_t password_len, const char *remote)
{
	struct signin_req *r;

	if (strlen(username) > USERNAME_MAX || password_len > PASSWORD_MAX)
		return -1;
	r = calloc(1, sizeof *r);
	if (!r)
		return -1;
	r->request_id = request_id;
	snprintf(r->username, sizeof r->username, "%s", username);
	memcpy(r->password, password, password_len);
	r->password_len = password_len;
	snprintf(r->remote, sizeof r->remote, "%s", remote);
	pthread_mutex_lock(&s->lock);
	if (s->queued >= SIGNIN_QUEUE_MAX) {
		pthread_mutex_unlock(&s->lock);
		sodium_memzero(r->password, sizeof r->password);
		free(r);
		return -1;
	}
	if (s->queue_tail)
		s->queue_tail->next = r;
	else
		s->queue = r;
	s->queue_tail = r;
	s->queued++;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

struct signin_result *signin_take_results(struct signin *s)
{
	struct signin_result *list;

	pthread_mutex_lock(&s->lock);
	list = s->done;
	s->done = NULL;
	pthread_mutex_unlock(&s->lock);
	return list;
}

void signin_result_free(struct signin_result *r)
{
	while (r) {
		struct signin_result *next = r->next;
		free(r->body);
		free(r->cookie);
		free(r);
		r = next;
	}
}

void signin_free(struct signin *s)
{
	struct signin_req *r;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = 1;
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->lock);
	for (int i = 0; i < s->n_workers; i++)
		pthread_join(s->workers[i], NULL);
	while ((r = s->queue)) {
		s->queue = r->next;
		sodium_memzero(r->password, sizeof r->password);
		free(r);
	}
	signin_result_free(s->done);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->wake);
	free(s->workers);
	free(s);
}
