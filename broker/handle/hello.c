/* hello.c: a session signs in with hello.
 *
 * The token must verify (signing key or the previous one), then must not
 * be revoked and its claims (role, organisation, site, clearance) must be
 * the users row's: a token that disagrees would widen what the session
 * sees. The second check asks the database without waiting on the
 * loop, batched with the other hellos that arrive meanwhile (a reconnect
 * storm then costs one query per batch); until it answers, the session is
 * not signed in. Once admitted, the session's welcome and backlog follow
 * (resume.c). Loop thread only. */
#include "broker.h"
#include "handle.h"
#include "clock.h"
#include "db.h"
#include "log.h"
#include "token_keys.h"

#include <stdlib.h>
#include <string.h>

/* What hello asked for, kept while the database says whether its token
 * was revoked (the frame itself is gone by then). */
struct hello_wait {
	uint64_t session_id;
	struct token_claims who;       /* what the check asks about */
	char ref[FRAME_REF_MAX + 1];
	int resume;
	int64_t seq, since;
	char epoch[65];
};

/* Signs the session in and starts its welcome (resume.c). */
static void admit(struct session *s, const struct hello_wait *w)
{
	struct client_frame f = { .type = FRAME_HELLO };

	session_sign_in(s);
	memcpy(f.ref, w->ref, sizeof f.ref);
	f.u.hello.resume = w->resume;
	f.u.hello.seq = w->seq;
	f.u.hello.since = w->since;
	f.u.hello.epoch = w->epoch;
	resume_start(s, &f);
	release_sign_in(s);
}

/* One hello's answer: status is 'ok', 'changed' (the token's claims are
 * not the users row's), 'disabled', 'revoked' or 'deleted', or NULL when
 * the database could not say. A database that cannot answer
 * does not keep consoles out (alerts come first, and the journal carries
 * them while it is away): the session is admitted and the revocation sweep
 * (revocation.c) closes it if it must once the database is back. */
static void hello_answered(struct broker *b, const struct hello_wait *w, const char *status)
{
	struct session *s = session_find(b, w->session_id);

	if (!s || s->close_code || !s->hello_checking || b->stopping)
		return; /* gone, closing, or the broker is stopping */
	if (status && strcmp(status, "ok") != 0) {
		s->hello_checking = 0;
		log_info("session %llu from %s: hello refused (%s: token %s)",
			 (unsigned long long)s->id, s->remote, s->who.username, status);
		session_refuse_auth(s, w->ref, "auth_revoked", revocation_message(status));
		return;
	}
	admit(s, w);
}

/* A batch of hellos on its way to tocsin_token_check_batch(). */
struct hello_inflight {
	size_t n;
	struct hello_wait **items; /* owned, with the items */
};

/* Answers every hello of a batch. Columns: idx, status; one row per
 * hello, in order. */
static void hellos_checked(struct broker *b, struct hello_inflight *f, PGresult *res,
			   const struct db_error *err)
{
	if (!err && (size_t)PQntuples(res) != f->n)
		log_error("revocation check at hello: %d answers for %zu hellos", PQntuples(res),
			  f->n);
	else if (err && !err->lost)
		log_error("revocation check of %zu hellos failed: %s", f->n, err->message);
	for (size_t i = 0; i < f->n; i++) {
		int answered = !err && (size_t)PQntuples(res) == f->n;
		hello_answered(b, f->items[i], answered ? PQgetvalue(res, (int)i, 1) : NULL);
		free(f->items[i]);
	}
	free(f->items);
	free(f);
}

/* The revocation check's answer; then the hellos that waited meanwhile go. */
static void hellos_answered(struct broker *b, void *arg, PGresult *res,
			    const struct db_error *err)
{
	hellos_checked(b, arg, res, err);
	batch_queue_done(&b->hello_checks);
}

/* The batch queue's flush: one check for every hello collected (items
 * are struct hello_wait, taken over). 1 when the query is in flight. */
static int flush_hellos(void *ctx, void **items, size_t n)
{
	struct broker *b = ctx;
	static const struct db_error away = { .lost = 1 };
	struct hello_inflight *f = malloc(sizeof *f);
	const struct token_claims **who = malloc(n * sizeof *who);
	int sent = 0;

	if (!f || !who) {
		log_error("revocation check of %zu hellos not sent: out of memory", n);
		for (size_t i = 0; i < n; i++) {
			hello_answered(b, items[i], NULL); /* admitted, as when away */
			free(items[i]);
		}
		free(items);
		free(f);
		goto out;
	}
	f->n = n;
	f->items = (struct hello_wait **)items;
	for (size_t i = 0; i < n; i++)
		who[i] = &f->items[i]->who;
	log_info("hello: revocation check of %zu sessions in one query", n);
	if (revocation_ask(b->db, who, n, hellos_answered, f))
		hellos_checked(b, f, NULL, &away); /* the database is away: admit */
	else
		sent = 1;
out:
	free(who);
	return sent;
}

/* Hellos arriving while two revocation checks are in flight share the
 * next one (batch_queue.h); at most 1000 in one. */
static const struct batch_kind hello_kind = {
	.flush = flush_hellos, .free_item = free, .max = 1000, .max_inflight = 2
};

void hello_handle(struct session *s, struct client_frame *f)
{
	struct broker *b = session_broker(s);
	enum token_status st;
	struct hello_wait *w;

	if (s->authed || s->hello_checking) {
		session_reply_error(s, f->ref, "already_authenticated", NULL,
				    "this session is already signed in");
		return;
	}
	if (!f->u.hello.token) {
		session_refuse_auth(s, f->ref, "auth_missing", "hello needs a token from /api/login");
		return;
	}
	st = token_keys_verify(b->token_keys, f->u.hello.token, f->u.hello.token_len,
			       clock_now_us() / 1000000, &s->who);
	if (st != TOKEN_OK) {
		session_refuse_auth(s, f->ref, token_status_code(st),
			    st == TOKEN_EXPIRED ? "the token has expired; sign in again"
						: "the token is not valid");
		log_info("session %llu from %s: hello refused (%s)", (unsigned long long)s->id,
			 s->remote, token_status_code(st));
		return;
	}
	auth_deadline_remove(b, s);
	w = calloc(1, sizeof *w);
	if (!w) {
		session_refuse_auth(s, f->ref, "internal", "out of memory; retry");
		return;
	}
	w->session_id = s->id;
	memcpy(w->ref, f->ref, sizeof w->ref);
	w->resume = f->u.hello.resume;
	w->seq = f->u.hello.seq;
	w->since = f->u.hello.since;
	snprintf(w->epoch, sizeof w->epoch, "%s", f->u.hello.epoch ? f->u.hello.epoch : "");
	w->who = s->who;
	s->hello_checking = 1;
	if (!db_is_up(b->db) || batch_queue_add(&b->hello_checks, b, &hello_kind, w)) {
		admit(s, w); /* the database is away: see hello_answered */
		free(w);
	}
}
