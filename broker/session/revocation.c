/* revocation.c: closes the sessions whose token has expired, and those of
 * disabled users, revoked tokens and changed accounts (docs/protocol.md,
 * "Token lifecycle").
 *
 * A timer ticks every second. Each tick closes the signed-in sessions
 * whose token has expired (auth_expired, 4401: no database needed). Every
 * REVOKE_EVERY ticks the sweep asks tocsin_account_changes() which
 * accounts changed since its last look (one xid8 out, usually an empty
 * array back), then checks (tocsin_token_check_batch, revocation_ask) only
 * the sessions of those accounts and those signed in or refreshed since
 * the last sweep (s->recheck: their hello's check and the sweep's horizon
 * may have crossed); those whose token is revoked, whose account is
 * disabled or gone, or whose claims are no longer the account's get
 * auth_revoked and 4401. Every session is checked on the first sweep and
 * after an hour without one (account_changes keeps a day). So a
 * revocation takes at most about REVOKE_EVERY seconds plus two queries.
 *
 * Why: the sweep used to send the (user, iat) of every signed-in session
 * every 2 s. At 19,000 idle consoles that was two arrays of 19,000
 * (265 KB of parameters) and a 19,000-row join, every 2 s, to find
 * nothing: 90 to 120 ms of PostgreSQL each time (the old tocsin_revoked
 * with 19,000 pairs, timed in psql on the demo database, this 2-core
 * machine under the other engineers' tests); an idle sweep now sends one
 * xid8 and takes 0.2 to 0.3 ms, whatever the number of sessions.
 *
 * While the database is unreachable nothing is revoked (expiry still
 * applies); the sweep resumes when it returns, from where it was. Loop
 * thread only. */
#include "broker.h"
#include "loop_wake.h"
#include "session.h"
#include "clock.h"
#include "db.h"
#include "id_array.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

#define TICK_US (1000 * 1000)
#define REVOKE_EVERY 2 /* ticks */
/* check every session again after this long without a sweep: the
 * database keeps account_changes for a day */
#define FULL_AFTER_US (3600LL * 1000 * 1000)

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

/* The sessions of one check, by id (a session may close meanwhile). */
struct sweep {
	size_t n;
	uint64_t ids[];
};

/* Columns: idx, status; one row per session of the sweep, in order. */
static void checked(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct sweep *w = arg;
	int answered = !err && (size_t)PQntuples(res) == w->n;

	b->revoking = 0;
	if (!answered && err && !err->lost)
		log_error("revocation check of %zu sessions failed: %s", w->n, err->message);
	for (size_t i = 0; i < w->n; i++) {
		struct session *s = session_find(b, w->ids[i]);
		const char *status = answered ? PQgetvalue(res, (int)i, 1) : NULL;

		if (!s || !s->authed || s->close_code)
			continue;
		if (!status) {
			s->recheck = 1; /* not checked: next time */
			continue;
		}
		if (!strcmp(status, "ok"))
			continue;
		log_info("session %llu (%s): token revoked (%s)", (unsigned long long)s->id,
			 s->who.username, status);
		session_refuse_auth(s, "", "auth_revoked", revocation_message(status));
	}
	free(w);
}

/* 1 when user is in the sorted array "{1,5,9}" of changed accounts. */
static int changed_user(const int64_t *users, size_t n, int64_t user)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (users[mid] == user)
			return 1;
		if (users[mid] < user)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* Checks the sessions of the changed accounts, those not yet checked, or
 * (full) all of them. */
static void check_sessions(struct broker *b, const int64_t *users, size_t n_users, int full)
{
	struct sweep *w = malloc(sizeof *w + b->n_sessions * sizeof w->ids[0]);
	const struct token_claims **who = malloc((b->n_sessions + 1) * sizeof *who);
	size_t n = 0;

	if (!w || !who) {
		log_error("revocation check skipped: out of memory");
		goto fail;
	}
	for (struct session *s = b->sessions; s && n < b->n_sessions; s = s->next) {
		if (!s->authed || s->close_code ||
		    !(full || s->recheck || changed_user(users, n_users, s->who.user_id)))
			continue;
		s->recheck = 0;
		w->ids[n] = s->id;
		who[n++] = &s->who;
	}
	w->n = n;
	/* every sweep, at debug: 41-revocation-sweep counts what idle ones send */
	log_debug("revocation sweep: %zu accounts changed, %zu sessions checked%s", n_users, n,
		  full ? " (all)" : "");
	if (n)
		log_info("revocation: %zu accounts changed; checking %zu sessions", n_users, n);
	if (!n || revocation_ask(db_up_or(b->db_records, b->db), who, n, checked, w))
		goto fail; /* nothing to check, or not sent */
	free(who);
	return;
fail:
	for (size_t i = 0; w && i < n; i++) {
		struct session *s = session_find(b, w->ids[i]);
		if (s)
			s->recheck = 1;
	}
	b->revoking = 0;
	free(w);
	free(who);
}

/* Columns: horizon, users (the changed accounts, sorted). */
static void changes(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	int full = !b->revoke_horizon[0] ||
		   clock_mono_us() - b->revoke_swept_us > FULL_AFTER_US;
	int64_t *users;
	size_t n = 0;

	if (err || PQntuples(res) != 1) {
		b->revoking = 0;
		if (err && !err->lost)
			log_error("revocation sweep failed: %s", err->message);
		return;
	}
	users = id_array_parse(PQgetvalue(res, 0, 1), &n); /* sorted by the database */
	if (!users) {
		b->revoking = 0;
		return;
	}
	snprintf(b->revoke_horizon, sizeof b->revoke_horizon, "%s", PQgetvalue(res, 0, 0));
	b->revoke_swept_us = clock_mono_us();
	check_sessions(b, users, n, full);
	free(users);
}

/* Asks which accounts changed since the last sweep. */
static void sweep(struct broker *b)
{
	const char *params[1] = { b->revoke_horizon[0] ? b->revoke_horizon : NULL };

	b->revoking = 1; /* before: a lost connection calls back at once */
	/* over the records connection (the main one while it is down): a
	 * publish should not wait behind this sweep */
	if (db_query(db_up_or(b->db_records, b->db),
		     "SELECT horizon::text, users FROM tocsin_account_changes($1::xid8)", 1, params,
		     changes, NULL))
		b->revoking = 0;
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
			sweep(b);
	}
	loop_wake_timer(b->ctx, &b->sul_revoke, tick, TICK_US);
}

void revocation_start(struct broker *b)
{
	loop_wake_timer(b->ctx, &b->sul_revoke, tick, TICK_US);
}
