/* revocation.c: closes the sessions whose token has expired, and those of
 * disabled users and revoked tokens (docs/protocol.md, "Token lifecycle").
 *
 * A timer ticks every second. Each tick closes the signed-in sessions
 * whose token has expired (auth_expired, 4401: no database needed). Every
 * REVOKE_EVERY ticks, one query, tocsin_revoked(), is given the (user, iat)
 * pair of every signed-in session and answers the pairs revoked since
 * (user disabled or deleted, or iat before users.tokens_valid_after);
 * those sessions get auth_revoked and 4401. So a revocation takes at most
 * about REVOKE_EVERY seconds plus the query. While the database is
 * unreachable nothing is revoked (expiry still applies); the sweep resumes
 * when it returns. Loop thread only. */
#include "broker.h"
#include "loop_wake.h"
#include "session.h"
#include "clock.h"
#include "db.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

#define TICK_US (1000 * 1000)
#define REVOKE_EVERY 2 /* ticks */

/* Closes the signed-in sessions whose token has expired. */
static void close_expired(struct broker *b, int64_t now)
{
	for (struct session *s = b->sessions; s; s = s->next) {
		if (!s->authed || s->close_code || s->who.expires_at > now)
			continue;
		log_info("session %llu (%s): token expired", (unsigned long long)s->id,
			 s->who.username);
		session_refuse_auth(s, "", "auth_expired", "the token has expired; sign in again");
	}
}

/* Columns: user_id, iat, reason */
static void revoked(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	b->revoking = 0;
	if (err) {
		if (!err->lost)
			log_error("revocation check failed: %s", err->message);
		return;
	}
	for (int i = 0; i < PQntuples(res); i++) {
		int64_t user = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		int64_t iat = strtoll(PQgetvalue(res, i, 1), NULL, 10);
		const char *reason = PQgetvalue(res, i, 2);

		for (struct session *s = b->sessions; s; s = s->next) {
			if (!s->authed || s->close_code || s->who.user_id != user ||
			    s->who.issued_at != iat)
				continue;
			log_info("session %llu (%s): token revoked (%s)", (unsigned long long)s->id,
				 s->who.username, reason);
			session_refuse_auth(s, "", "auth_revoked",
				   !strcmp(reason, "revoked")
					   ? "the token was revoked; sign in again"
					   : "the account is disabled");
		}
	}
}

/* Asks which of the live (user, iat) pairs are revoked. */
static void check_revoked(struct broker *b)
{
	size_t room = (size_t)b->n_sessions * 24 + 3, n = 0, ul = 0, il = 0;
	char *users = malloc(room), *iats = malloc(room);
	const char *params[2] = { users, iats };

	if (!users || !iats) {
		log_error("revocation check skipped: out of memory");
		goto out;
	}
	for (struct session *s = b->sessions; s; s = s->next) {
		char num[24];

		if (!s->authed || s->close_code)
			continue;
		snprintf(num, sizeof num, "%lld", (long long)s->who.user_id);
		db_array_add(users, &ul, n, num);
		snprintf(num, sizeof num, "%lld", (long long)s->who.issued_at);
		db_array_add(iats, &il, n, num);
		n++;
	}
	if (!n)
		goto out;
	db_array_end(users, &ul);
	db_array_end(iats, &il);
	b->revoking = 1; /* before: a lost connection calls back at once */
	/* over the records connection (the main one while it is down): a
	 * publish should not wait behind this sweep of every session */
	if (db_query(db_up_or(b->db_records, b->db),
		     "SELECT user_id, iat, reason FROM tocsin_revoked($1::int[], $2::bigint[])",
		     2, params, revoked, NULL))
		b->revoking = 0;
out:
	free(users);
	free(iats);
}

const char *revocation_message(const char *status)
{
	if (!strcmp(status, "revoked"))
		return "the token was revoked; sign in again";
	if (!strcmp(status, "changed"))
		return "the account has changed; sign in again";
	return "the account is disabled";
}

int revocation_ask(struct db *db, const struct token_claims *const *who, size_t n,
		   db_result_fn done, void *arg)
{
	size_t room = n * 24 + 3, len[6] = { 0 };
	char *arr[6];
	const char *params[6];
	int ret = -1;

	for (int k = 0; k < 6; k++)
		params[k] = arr[k] = malloc(room);
	for (int k = 0; k < 6; k++)
		if (!arr[k])
			goto out;
	for (size_t i = 0; i < n; i++) {
		char num[4][24];

		snprintf(num[0], sizeof num[0], "%lld", (long long)who[i]->user_id);
		snprintf(num[1], sizeof num[1], "%lld", (long long)who[i]->issued_at);
		snprintf(num[2], sizeof num[2], "%lld", (long long)who[i]->org_id);
		if (who[i]->site_id)
			snprintf(num[3], sizeof num[3], "%lld", (long long)who[i]->site_id);
		else
			snprintf(num[3], sizeof num[3], "NULL");
		db_array_add(arr[0], &len[0], i, num[0]);
		db_array_add(arr[1], &len[1], i, num[1]);
		db_array_add(arr[2], &len[2], i, token_role_name(who[i]->role));
		db_array_add(arr[3], &len[3], i, num[2]);
		db_array_add(arr[4], &len[4], i, num[3]);
		db_array_add(arr[5], &len[5], i, who[i]->cleared ? "t" : "f");
	}
	for (int k = 0; k < 6; k++)
		db_array_end(arr[k], &len[k]);
	ret = db_query(db,
		       "SELECT idx, status FROM tocsin_token_check_batch($1::int[], $2::bigint[],"
		       " $3::text[], $4::int[], $5::int[], $6::boolean[])",
		       6, params, done, arg);
out:
	for (int k = 0; k < 6; k++)
		free(arr[k]);
	return ret;
}

static void tick(lws_sorted_usec_list_t *sul)
{
	struct broker *b = lws_container_of(sul, struct broker, sul_revoke);

	if (!b->stopping) {
		close_expired(b, clock_now_us() / 1000000);
		if (++b->revoke_ticks % REVOKE_EVERY == 0 && !b->revoking &&
		    (db_is_up(b->db) || db_is_up(b->db_records)))
			check_revoked(b);
	}
	loop_wake_timer(b->ctx, &b->sul_revoke, tick, TICK_US);
}

void revocation_start(struct broker *b)
{
	loop_wake_timer(b->ctx, &b->sul_revoke, tick, TICK_US);
}
