/* broker.h: the broker's state and the per-connection session.
 *
 * One struct broker per process, owned by main() and reachable from any
 * lws callback through lws_context_user(). Everything here is touched by
 * the lws service thread only; the sign-in workers talk to it through
 * signin.c's locked queues. */
#ifndef TOCSIN_BROKER_H
#define TOCSIN_BROKER_H

#include <jansson.h>
#include <libpq-fe.h>
#include <libwebsockets.h>
#include <stdint.h>

#include "admission.h"
#include "batch_queue.h"
#include "conf.h"
#include "frame.h"
#include "ids.h"
#include "loop_wake.h"
#include "outq.h"
#include "site_cache.h"
#include "privileges.h"
#include "token.h"
#include "token_keys.h"

_Static_assert(MSG_HEADROOM >= LWS_PRE, "MSG_HEADROOM must cover LWS_PRE");

struct db;
struct signin;
struct delivery_log;
struct journal;
struct http_req;
struct receipt_ctx;
struct status_batch;
struct db_error;

/* One WebSocket connection on tocsin.v1. The memory is lws' per-session
 * data (zeroed by lws, released by lws after LWS_CALLBACK_CLOSED); what it
 * points to (rx, q) is ours and freed in session_closed(). */
#define SITE_CHAINS 4096 /* site_consoles chains (a power of two) */

struct session {
	struct session *prev, *next;   /* broker's list of live sessions */
	lws_dll2_t desk_link;          /* in broker's desks (signed-in desk roles) */
	lws_dll2_t site_link;          /* in broker's site_consoles (signed-in consoles) */
	struct session *hash_next;     /* chain in broker's id table */
	struct lws *wsi;
	uint64_t id;
	int authed;
	struct token_claims who;       /* valid once authed */
	char remote[48];
	char *rx;                      /* owned: the message being assembled */
	size_t rx_len, rx_cap;
	int rx_discard;                /* dropping the rest of an over-size message */
	struct outq q;                 /* owned */
	int close_code;                /* non-zero: close once q has drained */
	const char *close_reason;      /* a static string (not owned) */
	/* resume (resume.c): while resuming, live alerts wait in held so that
	 * the backlog always goes first */
	int resuming;                  /* backlog not yet sent */
	int resume_pending;            /* waiting for the database or journal */
	int64_t resume_from;           /* the client's position */
	char resume_epoch[65];         /* the client's epoch */
	int welcomed;                  /* welcome sent */
	char hello_ref[FRAME_REF_MAX + 1];
	struct outq held;              /* owned */
	struct rate_bucket rate;       /* client message rate */
	int64_t rate_notice_us;        /* last rate_limited error sent */
	int counted;                   /* counted in broker's address_counts */
	int hello_checking;            /* hello's token verified; asking the database
	                                * whether it was revoked (ws_session.c) */
	int64_t heard_us;              /* last pong or message from the peer (liveness.c) */
	int ping_due;                  /* liveness.c asked for a ping; on_writeable sends it */
	int flush_listed;              /* in broker's to_flush (ws_session.c) */
	/* auth_deadline.c: waiting for a hello whose token verifies */
	lws_dll2_t auth_link;
	int64_t auth_deadline_us;
};

#define SESSION_TABLE_SIZE 4096

struct broker {
	struct conf conf;
	struct lws_context *ctx;
	struct lws_vhost *vhost;
	struct loop_wake *wake;           /* owned: timers on time (loop_wake.h) */
	struct token_keys token_keys;     /* owned: signing and previous key (token_keys.h) */
	struct run_as run_as;             /* the user to become once listening (privileges.h) */
	struct db *db;                    /* owned: every query but those below */
	struct db *db_records;            /* owned: delivery records (delivery_log.c), so
					   * that publishes, acks and status reports never
					   * wait behind them, and every other status batch
					   * (status_batch.c lanes) */
	struct signin *signin;            /* owned */
	struct delivery_log *deliveries;  /* owned */
	struct journal *journal;          /* owned */
	struct bus *bus;                  /* owned (bus.c): NULL when the bus is off */
	struct site_cache sites;          /* owned contents */
	struct id_gen ids;
	char epoch[65];                   /* the stream's epoch; "" until known */
	int64_t head;                     /* highest stream position seen */
	int escalating;                   /* an escalation query is in flight */
	/* sessions whose queue filled during a pass of the loop: written at
	 * its end (sessions_flush, a slice per pass), by id, so a closed one
	 * is skipped; [flush_head, n_flush) wait */
	uint64_t *to_flush;               /* owned */
	size_t flush_head, n_flush, cap_flush;
	struct receipt_ctx **receipts;    /* owned: acks and reads waiting for a batch */
	size_t n_receipts, cap_receipts;
	int receipts_scheduled;
	lws_sorted_usec_list_t sul_receipts;
	struct status_batch *status_batch; /* owned (status_batch.c): reports waiting */
	struct batch_queue hello_checks;  /* owned: hellos waiting for the revocation check
	                                   * (ws_session.c, batch_queue.h) */
	struct batch_queue resumes;       /* owned: resumes waiting for their backlog (resume.c) */
	unsigned char audit_key[32];      /* seals the audit trail (audit_sealer.c) */
	int sealing;                      /* a sealing round is in flight */
	lws_sorted_usec_list_t sul_seal;
	lws_sorted_usec_list_t sul_escalate;
	lws_sorted_usec_list_t sul_refresh;
	lws_sorted_usec_list_t sul_images; /* images.c: the expiry sweep */
	int images_sweeping;              /* a sweep query is in flight */
	lws_sorted_usec_list_t sul_revoke; /* revocation.c: expiry and revocation sweep */
	lws_sorted_usec_list_t sul_liveness; /* liveness.c: pings and dead-peer sweep */
	lws_dll2_owner_t auth_waiting;    /* auth_deadline.c: sessions without a
	                                   * verified hello, oldest first (not owned) */
	lws_sorted_usec_list_t sul_auth;  /* auth_deadline.c: the oldest one's deadline */
	int auth_armed;
	int64_t liveness_at_us;           /* liveness.c: when it last swept */
	int revoking;                     /* a revocation query is in flight */
	unsigned revoke_ticks;
	struct http_req *http_waiting;    /* sign-in requests awaiting a worker */
	struct session *sessions;         /* list of live sessions (not owned) */
	/* the signed-in controller, analyst and company operator sessions, a
	 * few among thousands of consoles: tallies and escalations go to them
	 * (fanout.c) without walking every session (not owned) */
	lws_dll2_owner_t desks;
	/* signed-in site consoles, chained by site_id % SITE_CHAINS, so that
	 * what goes to one site's consoles (site_acked, an escalation) does
	 * not walk every session (not owned; ws_session.c) */
	lws_dll2_owner_t site_consoles[SITE_CHAINS];
	struct session *by_id[SESSION_TABLE_SIZE];
	unsigned n_sessions;
	struct address_counts per_address; /* owned entries */
	uint64_t next_session_id;
	volatile int stopping;            /* shutting down: drain, then stop */
	volatile int done;                /* leave the service loop */
	lws_sorted_usec_list_t sul_stop;
	int64_t stop_deadline_us;
};

/* ws_session.c: the tocsin.v1 protocol callback and sending. */
int session_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			 void *in, size_t len);
/* Queues m (takes its own reference). A queue overflow closes the session
 * with 4409 instead. */
void session_send(struct session *s, struct msg *m);
/* The chain of signed-in consoles that holds a site's (through their
 * site_link; others of the chain may be of another site: compare
 * who.site_id). */
lws_dll2_owner_t *site_chain(struct broker *b, int64_t site_id);
/* Writes what the sessions queued during the loop's passes, a slice of
 * the listed sessions at a time (server.c calls it after each pass).
 * Returns 1 while listed sessions wait: the next pass must not sleep. */
int sessions_flush(struct broker *b);
/* Serialises obj once (steals it) and queues it. */
void session_send_json(struct session *s, json_t *obj);
void session_send_error(struct session *s, const struct frame_error *err);
/* Shorthand for one error frame: code, field (or NULL), ref (or "") and a
 * message. */
void session_reply_error(struct session *s, const char *ref, const char *code,
			 const char *field, const char *message);
/* Sends a checked-member error (frame_check.h), echoing the request's ref. */
void session_reply_check_error(struct session *s, const char *ref, struct frame_error *err);
/* The broker a session belongs to. */
static inline struct broker *session_broker(struct session *s)
{
	return (struct broker *)lws_context_user(lws_get_context(s->wsi));
}
/* Sends what is queued, then closes with code and reason (a string with
 * static storage: a literal or an error code). */
void session_close_after(struct session *s, int code, const char *reason);
/* An authentication error frame (code, message), then close 4401 with the
 * code as reason. */
void session_refuse_auth(struct session *s, const char *ref, const char *code,
			 const char *message);
struct session *broker_find_session(struct broker *b, uint64_t id);
/* Closes every session with 1001 (shutdown). */
void broker_close_all_sessions(struct broker *b);

/* The alert frame around an alert object (stolen; built by PostgreSQL's
 * tocsin_alert_json), with flag ("replay", "escalated") set true if given,
 * for the audience (MSG_TO_* bits) given (handle_publish.c). */
struct msg *alert_msg(int64_t id, int64_t seq, json_t *alert, const char *flag,
		      unsigned audience);
/* MSG_TO_* bits from an alert's target roles and classification. */
unsigned alert_audience(const char *roles, const char *classification);

/* handle_*.c: one file per request. arg ownership stays with the handler. */
void handle_publish(struct session *s, struct client_frame *f);
/* ack and read (handle_receipt.c) */
void handle_receipt(struct session *s, struct client_frame *f);
void handle_receipts(struct session *s, struct client_frame *f);
/* Writes the acks and reads still waiting for a batch (at stop), and
 * frees the queue. */
void receipts_flush(struct broker *b);
void receipts_free(struct broker *b);
void handle_directory(struct session *s, struct client_frame *f);
/* handle_targets.c / handle_relay.c / handle_answer.c (alerts in full) */
void handle_preview(struct session *s, struct client_frame *f);
void handle_relay(struct session *s, struct client_frame *f);
void handle_answer(struct session *s, struct client_frame *f);
/* handle_status.c: building status, board, area totals, report-now */
void handle_status(struct session *s, struct client_frame *f);
void handle_board(struct session *s, struct client_frame *f);
void handle_area_totals(struct session *s, struct client_frame *f);
void handle_report_now(struct session *s, struct client_frame *f);
/* handle_report.c: partner reports and the inbox */
void handle_report(struct session *s, struct client_frame *f);
void handle_inbox(struct session *s, struct client_frame *f);
/* handle_history.c: a site's history (status reports, alerts received) */
void handle_site_history(struct session *s, struct client_frame *f);
/* handle_refresh.c: a new token over the live connection */
void handle_refresh(struct session *s, struct client_frame *f);
/* revocation.c: closes the sessions of disabled users and revoked tokens */
void revocation_start(struct broker *b);
/* auth_deadline.c: a new session must send a hello whose token verifies
 * within --auth-timeout, or it is closed with auth_timeout (4401). add at
 * open; remove once the token verified, and when the session closes. */
void auth_deadline_add(struct broker *b, struct session *s);
void auth_deadline_remove(struct broker *b, struct session *s);
/* liveness.c: pings idle connections, drops peers silent for 2 x
 * --ping-interval + 5 s (instead of lws' per-connection timers) */
void liveness_start(struct broker *b);
/* images.c: image expiry (the HTTP side is in http_api.c) */
void images_start(struct broker *b);

/* resume.c: hello's welcome and the backlog. */
void resume_start(struct session *s, struct client_frame *f);
/* Starts the resumes that waited for the database and the journal. */
void resume_pending_all(struct broker *b);
/* Queues a live alert, or holds it while the session resumes. */
void resume_deliver(struct session *s, struct msg *m);

/* stream.c: what the broker learns when the database (re)connects, the
 * periodic refresh, and whether writes go to the database or the journal. */
void broker_db_up(struct broker *b);
void broker_journal_drained(struct broker *b);
/* 1 when writes go straight to the database, 0 when to the journal. */
int broker_writes_direct(struct broker *b);

/* escalation.c */
void escalation_start(struct broker *b);
/* audit_sealer.c */
void audit_sealer_start(struct broker *b);

/* fanout.c: who gets what. */
/* Sends an alert message to the consoles of recipient sites and to the
 * operators of the companies guarding them. */
void fanout_alert(struct broker *b, struct msg *m, const int64_t *sites, size_t n_sites,
		  const int64_t *orgs, size_t n_orgs);
struct tally {
	long recipients, delivered, read, acknowledged, escalated;
};
/* Sends a tally to the controllers and analysts of the sending org. */
/* ... and, for a relay, to the organisation that sent the original
 * (watcher_org; 0 for none). */
void fanout_tally(struct broker *b, int64_t alert_id, int64_t sender_org, int64_t watcher_org,
		  const struct tally *t);
/* Reads a tally from result columns first..first+4 (recipients, delivered,
 * acknowledged, read, escalated: the order our SQL functions return). */
struct tally tally_from_row(PGresult *res, int row, int first);
/* Sends a message to the desk of org: its controllers and analysts, or
 * its company operators. */
void fanout_to_org_desk(struct broker *b, struct msg *m, int64_t org);
/* Sends a message to the consoles of one site (escalated:true alerts),
 * or to the operators of one company. */
void fanout_to_site(struct broker *b, struct msg *m, int64_t site_id);
void fanout_to_company(struct broker *b, struct msg *m, int64_t org_id);

/* Maps a database failure to a typed error for the client, given what the
 * handler calls a TS404 (unknown_target, unknown_alert, ...). */
void reply_db_error(struct session *s, const char *ref, const struct db_error *err,
		    const char *not_found_code);

/* http_api.c: /api/login and /healthz. */
int http_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
		      void *in, size_t len);
/* The size lws allocates per HTTP connection. */
size_t http_req_size(void);
/* Hands finished sign-ins back to their HTTP requests (on the loop). */
void http_collect_signins(struct broker *b);

/* server.c */
int server_run(struct broker *b);

#endif
