/* session.h: one connection, the session layer (session/).
 *
 * What the layers above use of a tocsin.v1 connection: find it by id,
 * send it frames, close it (session.c); write what it queued (flush.c);
 * hold its live alerts behind a resume (gate.c); reply to whoever made a
 * request, a session or an adapter (requester.c); and the sweeps that
 * close a session: no hello in time (auth_deadline.c), a silent peer
 * (liveness.c), a revoked token (revocation.c). struct session itself is
 * in broker.h. Loop thread only. */
#ifndef TOCSIN_SESSION_H
#define TOCSIN_SESSION_H

#include "broker.h"
#include "bus.h"
#include "db.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* ---- session.c: the table, signing in, sending and closing */

/* The broker a session belongs to. */
static inline struct broker *session_broker(struct session *s)
{
	return (struct broker *)lws_context_user(lws_get_context(s->wsi));
}
/* The live session with this id, or NULL (it closed). */
struct session *session_find(struct broker *b, uint64_t id);
/* Adds a connection that lws just established to the table (and refuses
 * it with 4429 past the connection limits); session_gone takes it out. */
void session_open(struct broker *b, struct session *s, struct lws *wsi);
void session_gone(struct broker *b, struct session *s);
/* A connection the listener counted among the handshakes in flight (it
 * marks the wsi, doors/listener.c) leaves them: signed in, or gone. Once
 * per connection; nothing for one not marked. */
void session_handshake_done(struct broker *b, struct lws *wsi);
/* Marks a session signed in (its token verified and not revoked) and
 * lists it where what it gets is looked up (desks, site chains). */
void session_sign_in(struct session *s);
/* Queues m (takes its own reference). A queue overflow closes the session
 * with 4409 instead. */
void session_send(struct session *s, struct msg *m);
/* Serialises obj once (steals it) and queues it. */
void session_send_json(struct session *s, json_t *obj);
void session_send_error(struct session *s, const struct frame_error *err);
/* Shorthand for one error frame: code, field (or NULL), ref (or "") and a
 * message. */
void session_reply_error(struct session *s, const char *ref, const char *code,
			 const char *field, const char *message);
/* Sends a checked-member error (frame_check.h), echoing the request's ref. */
void session_reply_check_error(struct session *s, const char *ref, struct frame_error *err);
/* Sends what is queued, then closes with code and reason (a string with
 * static storage: a literal or an error code). */
void session_close_after(struct session *s, int code, const char *reason);
/* An authentication error frame (code, message), then close 4401 with the
 * code as reason. */
void session_refuse_auth(struct session *s, const char *ref, const char *code,
			 const char *message);
/* Closes every session with 1001 (shutdown). */
void session_close_all(struct broker *b);
/* The chain of signed-in consoles that holds a site's (through their
 * site_link; others of the chain may be of another site: compare
 * who.site_id). */
lws_dll2_owner_t *session_site_chain(struct broker *b, int64_t site_id);

/* ---- flush.c: writing what the sessions queued */

/* Lists a session whose queue was empty to be written at the end of the
 * loop's pass. */
void flush_later(struct broker *b, struct session *s);
/* Writes what the sessions queued during the loop's passes, a slice of
 * the listed sessions at a time (server.c calls it after each pass).
 * Returns 1 while listed sessions wait: the next pass must not sleep. */
int flush_pass(struct broker *b);
/* The writeable callback: writes a bounded batch, asks to be called again
 * while more waits; closes once drained if asked. -1 closes the socket. */
int flush_writeable(struct broker *b, struct session *s);

/* ---- gate.c: live alerts held behind a sign-in's catch-up */

/* From now on live alerts wait in the session's held queue. */
void gate_close(struct session *s);
/* Queues a live alert, or holds it while the gate is closed. */
void gate_deliver(struct session *s, struct msg *m);
/* Lets the held alerts follow, less those the catch-up carried: positions
 * up to last_seq, and alerts for which carried(backlog, id) says 1 (the
 * backlog's and the alerts in force; carried may be NULL). Frames that
 * are not alerts (alert_id 0) always follow. */
void gate_open(struct session *s, int64_t last_seq,
	       int (*carried)(const void *backlog, int64_t alert_id), const void *backlog);

/* ---- requester.c: who sent a request and where its reply goes
 *
 * A request reaches the broker from a WebSocket session or from an adapter
 * on the ZeroMQ bus. Handlers that serve both (publish, report) keep a
 * requester instead of a session: it names the acting user and routes the
 * reply, by session id (the session may close while the database works)
 * or by the adapter's ZeroMQ routing id and seq. */

#define REQUESTER_PEER_MAX 255   /* a ZeroMQ routing id is at most 255 bytes */

struct requester {
	uint64_t session_id;          /* the WebSocket session; 0 for the bus */
	char ref[FRAME_REF_MAX + 1];  /* the session request's ref ("" for none) */
	struct token_claims who;      /* the acting user (an adapter's bound user) */
	char remote[48];              /* the peer's address, for the audit trail */
	int via_bus;                  /* 1: an adapter on the ZeroMQ bus */
	int64_t adapter_id;           /* the bus: the adapter; 0 until known */
	char adapter[BUS_ADAPTER_NAME_MAX + 1];
	int64_t seq;                  /* the bus: the adapter's sequence number */
	unsigned char peer[REQUESTER_PEER_MAX]; /* the bus: the ROUTER routing id */
	size_t peer_len;
};

/* A requester for a session's request (ref may be NULL). */
void requester_from_session(struct requester *r, const struct session *s, const char *ref);
/* 1 when the reply would reach someone (the session is still open, or
 * the bus is up). */
int requester_present(struct broker *b, const struct requester *r);
/* Sends a reply object (stolen): to the session with "ref", or to the
 * adapter with "seq" (the adapter's; any "seq" member is replaced). */
void requester_send(struct broker *b, const struct requester *r, json_t *obj);
/* An error reply: code, field (or NULL) and message. */
void requester_error(struct broker *b, const struct requester *r, const char *code,
		     const char *field, const char *message);
/* An error from the frame_check.h helpers. */
void requester_check_error(struct broker *b, const struct requester *r,
			   const struct frame_error *err);
/* Maps a database failure to a typed error, given what the handler calls
 * a TS404 (unknown_target, unknown_alert, ...). */
void requester_db_error(struct broker *b, const struct requester *r,
			const struct db_error *err, const char *not_found_code);
/* The same for a session's request. */
void requester_reply_db_error(struct session *s, const char *ref, const struct db_error *err,
			      const char *not_found_code);
/* The answer to a session's query, as PostgreSQL built it (a JSON
 * object's text): named with "type" and "ref" and sent; a text that does
 * not parse as an object is logged and answered "internal". */
void requester_reply_object(struct session *s, const char *ref, const char *type,
			    const char *json_text);

/* ---- the sweeps that close sessions */

/* auth_deadline.c: a new session must send a hello whose token verifies
 * within --auth-timeout, or it is closed with auth_timeout (4401). add at
 * open; remove once the token verified, and when the session closes. */
void auth_deadline_add(struct broker *b, struct session *s);
void auth_deadline_remove(struct broker *b, struct session *s);
/* liveness.c: pings idle connections, drops peers silent for 2 x
 * --ping-interval + 5 s (instead of lws' per-connection timers) */
void liveness_start(struct broker *b);
/* revocation.c: closes the sessions of disabled users and revoked tokens */
void revocation_start(struct broker *b);
/* trim_tick.c: gives the heap back after connection waves settle. */
void trim_tick_start(struct broker *b);
/* Asks tocsin_token_check_batch over db whether n tokens (their claims:
 * user, iat, role, org, site, clearance) are still good and still the
 * users row's; done gets one row per token, in order: idx, status ('ok',
 * 'changed', 'revoked', 'disabled', 'deleted'). 0 when sent, -1 when not
 * (database away, out of memory): done is not called then. */
int revocation_ask(struct db *db, const struct token_claims *const *who, size_t n,
		   db_result_fn done, void *arg);
/* The message of an auth_revoked error for that status. */
const char *revocation_message(const char *status);

#endif
