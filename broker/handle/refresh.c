/* refresh.c: a new token over the live connection
 * (docs/protocol.md, "Token lifecycle").
 *
 * {"type":"refresh","ref":…} on a signed-in session whose token has not
 * expired asks PostgreSQL (tocsin_token_check) whether the user is still
 * enabled, the token not revoked and the account unchanged (role, org,
 * site, clearance); if so the broker signs a token for the same identity
 * with a new iat and exp, answers "refreshed" and the session takes the new
 * expiry. A disabled user or revoked token gets auth_revoked and 4401; an
 * expired session auth_expired and 4401; an unreachable database
 * "unavailable" (the session stays open: retry). Loop thread only. */
#include "broker.h"
#include "handle.h"
#include "clock.h"
#include "db.h"
#include "log.h"
#include "token_keys.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>


struct refresh_ctx {
	uint64_t session_id;           /* the session may be gone by the answer */
	char ref[FRAME_REF_MAX + 1];
};

/* 1 when the account row still describes the identity the session holds:
 * a refresh never changes role, organisation, site or clearance. */
static int same_identity(const struct token_claims *who, PGresult *res)
{
	int64_t site = PQgetisnull(res, 0, 3) ? 0 : strtoll(PQgetvalue(res, 0, 3), NULL, 10);

	return token_role_from_name(PQgetvalue(res, 0, 1)) == who->role &&
	       strtoll(PQgetvalue(res, 0, 2), NULL, 10) == who->org_id && site == who->site_id &&
	       (strcmp(PQgetvalue(res, 0, 4), "t") == 0) == (who->cleared != 0);
}

/* Columns: status, role, org_id, site_id, cleared, iat_floor */
static void checked(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct refresh_ctx *c = arg;
	struct session *s = session_find(b, c->session_id);
	struct token_claims next;
	char token[TOKEN_MAX_LEN + 1], expires[CLOCK_ISO_LEN];
	int64_t now = clock_now_us() / 1000000, floor;
	const char *status;

	if (!s || s->close_code)
		goto out; /* gone or closing meanwhile */
	if (err) {
		requester_reply_db_error(s, c->ref, err, "internal");
		goto out;
	}
	status = PQgetvalue(res, 0, 0);
	if (s->who.expires_at <= now) {
		session_refuse_auth(s, c->ref, "auth_expired", "the token has expired; sign in again");
		goto out;
	}
	if (strcmp(status, "ok") != 0) {
		log_info("session %llu (%s): refresh refused (%s)", (unsigned long long)s->id,
			 s->who.username, status);
		session_refuse_auth(s, c->ref, "auth_revoked", revocation_message(status));
		goto out;
	}
	if (!same_identity(&s->who, res)) {
		log_info("session %llu (%s): refresh refused (account changed)",
			 (unsigned long long)s->id, s->who.username);
		session_refuse_auth(s, c->ref, "auth_revoked", revocation_message("changed"));
		goto out;
	}
	next = s->who;
	floor = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
	next.issued_at = floor > now ? floor : now; /* as signin.c: not before the floor */
	next.expires_at = next.issued_at + b->conf.token_ttl;
	if (token_keys_sign(b->token_keys, &next, token, sizeof token) < 0) {
		log_error("session %llu: cannot sign a refreshed token", (unsigned long long)s->id);
		session_reply_error(s, c->ref, "internal", NULL, "the refresh failed; retry");
		goto out;
	}
	s->who = next;
	s->recheck = 1; /* as at hello: checked in the next sweep */
	clock_format_iso(next.expires_at * 1000000, expires);
	session_send_json(s, json_pack("{s:s, s:s, s:s, s:s}", "type", "refreshed", "ref", c->ref,
				       "token", token, "expires_at", expires));
	log_info("session %llu (%s): token refreshed", (unsigned long long)s->id,
		 s->who.username);
out:
	sodium_memzero(token, sizeof token); /* a bearer credential */
	free(c);
}

void refresh_handle(struct session *s, struct client_frame *f)
{
	struct broker *b = session_broker(s);
	struct refresh_ctx *c;
	char user[24], iat[24];
	const char *params[2] = { user, iat };

	if (s->who.expires_at <= clock_now_us() / 1000000) {
		session_refuse_auth(s, f->ref, "auth_expired", "the token has expired; sign in again");
		return;
	}
	c = calloc(1, sizeof *c);
	if (!c) {
		session_reply_error(s, f->ref, "internal", NULL, "out of memory; retry");
		return;
	}
	c->session_id = s->id;
	snprintf(c->ref, sizeof c->ref, "%s", f->ref);
	snprintf(user, sizeof user, "%lld", (long long)s->who.user_id);
	snprintf(iat, sizeof iat, "%lld", (long long)s->who.issued_at);
	if (db_query(b->db,
		     "SELECT status, role, org_id, site_id, cleared, iat_floor"
		     "  FROM tocsin_token_check($1::int, $2::bigint)",
		     2, params, checked, c)) {
		free(c);
		session_reply_error(s, f->ref, "unavailable", NULL,
				    "the database is not reachable; keep the token and retry");
	}
}
