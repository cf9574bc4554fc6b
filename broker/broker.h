/* broker.h: the broker's state and the per-connection session: the two
 * structs, and no function.
 *
 * One struct broker per process, owned by main() and reachable from any
 * lws callback through lws_context_user(). Every field names the file
 * that owns it; each layer's functions are declared in its own header
 * (handle.h, deliver.h, session.h, and one per module of io/ and base/).
 * Every layer but base/ may include this file. Everything here is touched
 * by the lws service thread only; the sign-in workers talk to it through
 * signin.c's locked queues. */
#ifndef TOCSIN_BROKER_H
#define TOCSIN_BROKER_H

#include <libwebsockets.h>
#include <stdint.h>

#include "admission.h"
#include "batch_queue.h"
#include "conf.h"
#include "frame.h"
#include "heap_trim.h"
#include "ids.h"
#include "metrics.h"
#include "outq.h"
#include "sign_key.h"
#include "site_cache.h"
#include "privileges.h"
#include "token.h"

_Static_assert(MSG_HEADROOM >= LWS_PRE, "MSG_HEADROOM must cover LWS_PRE");

struct db;
struct loop_wake;
struct token_keys;
struct cap_signer;
struct ticket_keys;
struct signin;
struct pwhash;
struct delivery_log;
struct journal;
struct http_req;
struct receipt_ctx;
struct status_batch;
struct db_error;
struct peers;
struct nodes;
struct listener;

/* One WebSocket connection on tocsin.v1. The memory is lws' per-session
 * data (zeroed by lws, released by lws after LWS_CALLBACK_CLOSED); what it
 * points to (rx, q, held) is ours and freed in session_gone() (session.c).
 * Each group of fields names the file that writes it. */
#define SITE_CHAINS 4096 /* site_consoles chains (a power of two) */

struct session {
	/* session.c: the table, signing in, closing */
	struct session *prev, *next;   /* broker's list of live sessions */
	lws_dll2_t desk_link;          /* in broker's desks (signed-in desk roles) */
	lws_dll2_t site_link;          /* in broker's site_consoles (signed-in consoles) */
	struct session *hash_next;     /* chain in broker's id table */
	struct lws *wsi;
	uint64_t id;
	int authed;
	struct token_claims who;       /* hello.c, refresh.c: valid once authed */
	char remote[48];
	int counted;                   /* counted in broker's per_address */
	struct outq q;                 /* owned: frames waiting to be written */
	int close_code;                /* non-zero: close once q has drained */
	const char *close_reason;      /* a static string (not owned) */
	/* proto.c: the message being received, and the client's rate */
	char *rx;                      /* owned: the message being assembled */
	size_t rx_len, rx_cap;
	int rx_discard;                /* 1: dropping the rest of an over-size message,
	                                * 2: a binary one */
	size_t rx_dropped;             /* bytes of the over-size message dropped */
	struct rate_bucket rate;       /* client message rate */
	int64_t rate_notice_us;        /* last rate_limited error sent (clock_mono_us) */
	/* hello.c */
	int hello_checking;            /* hello's token verified; asking the database
	                                * whether it was revoked */
	/* revocation.c (set by session.c, refresh.c) */
	int recheck;                   /* signed in or refreshed since the last
	                                * sweep: checked in the next one */
	/* resume.c and gate.c: while a session catches up (its backlog and
	 * the alerts in force), live alerts wait in held so that the
	 * catch-up always goes first */
	int resuming;                  /* gate.c: the gate is closed */
	struct outq held;              /* gate.c, owned: live alerts held meanwhile */
	int resume_pending;            /* the catch-up waits for the database or journal */
	int resume_asked;              /* hello named a position to resume from */
	const char *reload_reason;     /* it cannot be resumed (static string), or NULL */
	int64_t resume_from;           /* the client's position */
	int64_t resume_since;          /* where its unbroken run began; -1: not said */
	char resume_epoch[65];         /* the client's epoch */
	int welcomed;                  /* welcome sent */
	char hello_ref[FRAME_REF_MAX + 1];
	/* flush.c */
	int flush_listed;              /* in broker's to_flush */
	/* liveness.c */
	int64_t heard_us;              /* last pong or message from the peer (clock_mono_us) */
	int ping_due;                  /* a ping is asked for; flush_writeable sends it */
	/* auth_deadline.c: waiting for a hello whose token verifies */
	lws_dll2_t auth_link;
	int64_t auth_deadline_us;      /* clock_mono_us */
};

#define SESSION_TABLE_SIZE 4096

/* The broker: one per process, main.c's. Each group of fields names the
 * file that writes it; "owned" marks what that file frees. */
struct broker {
	/* main.c: settings and secrets, read before the loop */
	struct conf conf;                 /* reload.c takes what SIGHUP may change */
	int argc;                         /* the command line, for reload.c */
	char **argv;
	int64_t started_us;
	struct token_keys *token_keys;    /* signing and previous key (token_keys.h) */
	struct ticket_keys *ticket_keys;  /* TLS session tickets' keys (ticket_keys.h) */
	struct run_as run_as;             /* the user to become once listening (privileges.h) */
	unsigned char audit_key[32];      /* seals the audit trail (audit_sealer.c) */
	struct sign_key alert_key;        /* signs alert frames (alert_frame.c, sign_key.h) */
	struct cap_signer *cap_signer;    /* owned: signs CAP exports, or NULL (cap_sign.h) */
	/* server.c: the loop and the parts it starts and frees (each owned) */
	struct lws_context *ctx;
	struct lws_vhost *vhost;
	struct loop_wake *wake;           /* timers on time (loop_wake.h) */
	struct db *db;                    /* every query but those below */
	struct db *db_records;            /* delivery records (delivery_log.c), so
					   * that publishes, acks and status reports never
					   * wait behind them, and every other status batch
					   * (status_batch.c lanes) */
	struct signin *signin;
	struct pwhash *pwhash;            /* one-time passwords (admin.c) */
	struct delivery_log *deliveries;
	struct journal *journal;
	struct bus *bus;                  /* bus.c sets it: NULL when the bus is off */
	struct status_batch *status_batch; /* reports waiting (status_batch.c) */
	struct peers *peers;              /* the other nodes, and who leads (peers.h) */
	int refused;                      /* another broker holds this node id: exit 1 */
	volatile int stopping;            /* shutting down: drain, then stop */
	volatile int done;                /* leave the service loop */
	lws_sorted_usec_list_t sul_stop;
	int64_t stop_deadline_us;         /* clock_mono_us */
	/* stream.c: the stream and the directory, as the database last said */
	struct site_cache sites;          /* owned contents */
	char epoch[65];                   /* the stream's epoch; "" until known */
	int64_t head;                     /* highest stream position seen (publish.c,
	                                   * relay.c and resume.c raise it too) */
	lws_sorted_usec_list_t sul_refresh;
	/* nodes.c: every alert up to this position has been fanned out here
	 * (stream.c sets it first, to the head it reads, and again when the
	 * epoch changes; -1 until then) */
	int64_t fanned;
	struct nodes *nodes;              /* owned: catch-up and news (nodes.c) */
	lws_sorted_usec_list_t sul_nodes;
	/* publish.c */
	struct id_gen ids;
	/* session.c: the live sessions (none owned: lws owns their memory) */
	struct session *sessions;         /* list of live sessions */
	struct session *by_id[SESSION_TABLE_SIZE];
	unsigned n_sessions;
	uint64_t next_session_id;
	struct address_counts per_address; /* owned entries */
	/* listener.c counts a connection in at accept, session.c out at
	 * sign-in and listener.c at its end (admission.h) */
	struct admission_gate handshakes;
	struct listener *listener;        /* owned by server.c (listener.c) */
	/* the signed-in controller, analyst and company operator sessions, a
	 * few among thousands of consoles: tallies and escalations go to them
	 * (fanout.c) without walking every session */
	lws_dll2_owner_t desks;
	/* signed-in site consoles, chained by site_id % SITE_CHAINS, so that
	 * what goes to one site's consoles (site_acked, an escalation) does
	 * not walk every session */
	lws_dll2_owner_t site_consoles[SITE_CHAINS];
	/* flush.c: sessions whose queue filled during a pass of the loop:
	 * written at its end (flush_pass, a slice per pass), by id, so a
	 * closed one is skipped; [flush_head, n_flush) wait */
	uint64_t *to_flush;               /* owned */
	size_t flush_head, n_flush, cap_flush;
	/* receipt.c: acks and reads waiting for a batch */
	struct receipt_ctx **receipts;    /* owned */
	size_t n_receipts, cap_receipts;
	int receipts_scheduled;
	lws_sorted_usec_list_t sul_receipts;
	/* hello.c and resume.c: read-only queries in batches (batch_queue.h) */
	struct batch_queue hello_checks;  /* owned: hellos waiting for the revocation check */
	struct batch_queue resumes;       /* owned: resumes waiting for their backlog */
	/* audit_sealer.c */
	int sealing;                      /* a sealing round is in flight */
	char seal_mark[24];               /* the last round's mark: an id ("" before the first) */
	char *seal_writers;               /* owned: and its writers, an array literal */
	lws_sorted_usec_list_t sul_seal;
	/* escalation.c */
	int escalating;                   /* an escalation query is in flight */
	lws_sorted_usec_list_t sul_escalate;
	/* release.c: the expiry of held releases */
	int release_expiring;             /* an expiry query is in flight */
	lws_sorted_usec_list_t sul_release;
	/* applied_prune.c: journal_applied's retention */
	int applied_pruning;              /* a prune query is in flight */
	lws_sorted_usec_list_t sul_applied;
	/* in_force.c: the alerts whose expiry passed, told to the desks */
	int expiring;                     /* an expiry query is in flight */
	int64_t expired_until_us;         /* expiries up to here are told */
	int64_t expiring_until_us;        /* ... and up to here, once it answers */
	lws_sorted_usec_list_t sul_expire;
	/* image_sweep.c: the expiry sweep */
	int images_sweeping;              /* a sweep query is in flight */
	lws_sorted_usec_list_t sul_images;
	/* retention.c: the retention sweep */
	int retention_sweeping;           /* a sweep query is in flight */
	int retention_kind;               /* the kind the sweep is at (its table) */
	lws_sorted_usec_list_t sul_retention;
	int crime_sweeping;               /* a crime retention sweep is in flight */
	lws_sorted_usec_list_t sul_crime;
	/* revocation.c: expiry and revocation sweep */
	int revoking;                     /* a revocation query is in flight */
	unsigned revoke_ticks;
	char revoke_horizon[24];          /* tocsin_account_changes' last horizon
	                                   * (xid8 as text); "" until the first */
	int64_t revoke_swept_us;          /* when that horizon came (clock_mono_us) */
	lws_sorted_usec_list_t sul_revoke;
	/* liveness.c: pings and dead-peer sweep */
	int64_t liveness_at_us;           /* when it last swept (clock_mono_us) */
	lws_sorted_usec_list_t sul_liveness;
	/* trim_tick.c: the heap's trim after connection waves */
	struct heap_trim heap_trim;
	lws_sorted_usec_list_t sul_trim;
	/* auth_deadline.c: sessions without a verified hello, oldest first
	 * (not owned), and the oldest one's deadline */
	lws_dll2_owner_t auth_waiting;
	lws_sorted_usec_list_t sul_auth;
	int auth_armed;
	/* http_api.c: sign-in requests awaiting a worker (not owned) */
	struct http_req *http_waiting;
	/* every layer counts here (metrics.h); http_ops.c writes /metrics */
	struct metrics metrics;
	/* metrics_probe.c: unacknowledged severe alerts, database round trip */
	int probing;
	int64_t probe_sent_us;
	lws_sorted_usec_list_t sul_probe;
};

#endif
