/* peers.c: the node-to-node link over PostgreSQL (see peers.h).
 *
 * A connection of its own ("tocsind peers" in pg_stat_activity), made and
 * remade by db.c, so the LISTEN never waits behind a publish and a publish
 * never waits behind it. It needs a session that lasts: LISTEN and the
 * advisory locks belong to the server process, so it must be a direct
 * connection (or a session-pooled one), not a transaction pooler's.
 *
 * On each connection: the server is told to probe the link (TCP
 * keepalives every few seconds and a timeout on unacknowledged data, so
 * that the node's locks go within about 20 s of its host vanishing, not
 * after the kernel's two hours), LISTEN on every channel, then the node
 * id's lock. Once that is held the linked hook runs (everything committed
 * before the LISTENs is read from positions; everything after is
 * notified), and every second until it leads, the node asks for the
 * leader's lock. The LISTENs are in the pipeline before the node's lock,
 * so their answers, and the transactions that made them, come first.
 *
 * Each notification's payload is a list of ids, taken as a hint only: any
 * role that may connect may NOTIFY, and the hooks read what is true. The
 * node's own connections' notifications are dropped: the node did that
 * work itself. (Its own alerts' would start a catch-up read on the main
 * connection that carries the JSON of alerts it has just sent, ahead of
 * its next publishes; a lost answer to its own publish is read by the
 * catch-up within a second, nodes.c.) Loop thread only. */
#include "broker.h"
#include "db.h"
#include "id_array.h"
#include "loop_wake.h"
#include "log.h"
#include "peers.h"

#include <stdlib.h>
#include <string.h>

#define LEAD_EVERY_US (1000 * 1000)
/* db_new's answer_ms: the link's queries (LISTEN, a lock that is tried,
 * never waited for) answer at once; a server silent 5 s with one in
 * flight is a lost link, as the records connection's (server.c) */
#define PEERS_ANSWER_MS 5000
#define CLAIM_AGAIN_US (1000 * 1000)

static const char *const channels[PEERS_KINDS] = {
	[PEERS_ALERTS] = "tocsin_alerts",
	[PEERS_RECEIPTS] = "tocsin_receipts",
	[PEERS_STATUS] = "tocsin_status",
	[PEERS_REQUESTS] = "tocsin_requests",
	[PEERS_REPORTS] = "tocsin_reports",
	[PEERS_ESCALATIONS] = "tocsin_escalations",
};

struct peers {
	struct broker *b;
	struct db *db;               /* owned: the LISTEN connection */
	struct peers_hooks hooks;
	char node[8];                /* the node id, as text */
	int claimed;                 /* the node's lock is held on this connection */
	int ever_claimed;            /* it was held once: a later refusal is our own
	                              * session that PostgreSQL has not yet seen end */
	int leading;
	int asking;                  /* a lock query is in flight */
	lws_sorted_usec_list_t sul;  /* the next lock attempt */
};

/* Whether be_pid is one of this node's own connections. */
static int own(struct broker *b, int be_pid)
{
	return be_pid == db_backend_pid(b->db) || be_pid == db_backend_pid(b->db_records);
}

static void notified(struct broker *b, const char *channel, const char *payload, int be_pid)
{
	struct peers *p = b->peers;
	int64_t *ids;
	size_t n;
	int kind;

	for (kind = 0; kind < PEERS_KINDS; kind++)
		if (!strcmp(channel, channels[kind]))
			break;
	if (kind == PEERS_KINDS || !p->hooks.on[kind])
		return;
	if (own(b, be_pid))
		return;
	ids = id_array_parse(payload, &n); /* the digits in it: a hint, never trusted */
	if (!ids) {
		log_warn("peers: %s: a notification dropped: out of memory", channel);
		return;
	}
	p->hooks.on[kind](b, ids, n);
	free(ids);
}

static void ask_later(struct peers *p, int64_t us);

static void led(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct peers *p = arg;

	p->asking = 0;
	if (err) {
		if (!err->lost) {
			log_error("peers: asking for the leader's lock failed: %s", err->message);
			ask_later(p, LEAD_EVERY_US);
		}
		return;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		ask_later(p, LEAD_EVERY_US);
		return;
	}
	p->leading = 1;
	log_info("node %s leads: the audit sealer and escalation run here", p->node);
	if (p->hooks.leading)
		p->hooks.leading(b, 1);
}

/* Columns: the holder, NULL when the lock is now ours. */
static void node_claimed(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct peers *p = arg;

	p->asking = 0;
	if (err) {
		if (!err->lost) {
			log_error("peers: taking node %s's lock failed: %s", p->node, err->message);
			ask_later(p, CLAIM_AGAIN_US);
		}
		return;
	}
	if (!PQgetisnull(res, 0, 0)) {
		if (!p->ever_claimed) {
			log_error("node id %s is held by %s: another broker runs with this "
				  "node id; give each broker its own (node-id)",
				  p->node, PQgetvalue(res, 0, 0));
			if (p->hooks.refused)
				p->hooks.refused(b, PQgetvalue(res, 0, 0));
			return;
		}
		log_warn("peers: node %s's lock is still held by %s (this broker's last "
			 "session, until PostgreSQL sees it end); trying again", p->node,
			 PQgetvalue(res, 0, 0));
		ask_later(p, CLAIM_AGAIN_US);
		return;
	}
	p->claimed = p->ever_claimed = 1;
	log_info("peers: listening as node %s", p->node);
	if (p->hooks.linked)
		p->hooks.linked(b);
	ask_later(p, 1);
}

/* Asks for the node's lock, or once it is held the leader's. */
static void ask(lws_sorted_usec_list_t *sul)
{
	struct peers *p = lws_container_of(sul, struct peers, sul);
	const char *params[1] = { p->node };
	int r;

	if (p->asking || p->leading || !db_is_up(p->db) || p->b->stopping)
		return;
	p->asking = 1; /* before: a lost connection calls back at once */
	r = p->claimed ? db_query(p->db, "SELECT tocsin_lead()", 0, NULL, led, p)
		       : db_query(p->db, "SELECT tocsin_node_claim($1::integer)", 1, params,
				  node_claimed, p);
	if (r)
		p->asking = 0;
}

static void ask_later(struct peers *p, int64_t us)
{
	loop_wake_timer(p->b->ctx, &p->sul, ask, us);
}

static void ignore(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	if (err && !err->lost)
		log_error("peers: %s", err->message);
}

/* The connection is (again) up: nothing is held on it yet. */
static void link_up(struct broker *b)
{
	struct peers *p = b->peers;
	char sql[64];
	int r;

	p->claimed = p->leading = p->asking = 0;
	/* the server probes an idle link every 5 s and gives up after 3
	 * missed probes, or 20 s of unacknowledged data: a vanished node's
	 * locks go then (ignored on a Unix socket) */
	r = db_query(p->db,
		     "SELECT set_config('tcp_keepalives_idle', '5', false),"
		     "       set_config('tcp_keepalives_interval', '5', false),"
		     "       set_config('tcp_keepalives_count', '3', false),"
		     "       set_config('tcp_user_timeout', '20000', false)",
		     0, NULL, ignore, NULL);
	for (int k = 0; !r && k < PEERS_KINDS; k++) {
		snprintf(sql, sizeof sql, "LISTEN %s", channels[k]);
		r = db_query(p->db, sql, 0, NULL, ignore, NULL);
	}
	if (!r)
		ask_later(p, 1);
}

/* The link went down (db.c connects again): what it held is gone, or goes
 * once PostgreSQL sees its session end. */
static void link_down(struct broker *b)
{
	struct peers *p = b->peers;
	int was_leading = p->leading;

	p->claimed = p->leading = p->asking = 0;
	lws_sul_cancel(&p->sul);
	log_warn("peers: node %s no longer listens%s; reading from positions until it does",
		 p->node, was_leading ? " nor leads" : "");
	if (was_leading && p->hooks.leading)
		p->hooks.leading(b, 0);
}

struct peers *peers_new(struct broker *b, const char *conninfo, int node,
			const struct peers_hooks *hooks)
{
	struct peers *p = calloc(1, sizeof *p);

	if (!p)
		return NULL;
	p->b = b;
	p->hooks = *hooks;
	snprintf(p->node, sizeof p->node, "%d", node);
	p->db = db_new(b, conninfo, "peers", PEERS_ANSWER_MS, link_up);
	if (!p->db) {
		free(p);
		return NULL;
	}
	db_on_notify(p->db, notified);
	db_on_down(p->db, link_down);
	return p;
}

void peers_start(struct peers *p)
{
	db_start(p->db);
}

int peers_listening(const struct peers *p)
{
	return p && p->claimed && db_is_up(p->db);
}

int peers_leading(const struct peers *p)
{
	return p && p->leading && db_is_up(p->db);
}

void peers_free(struct peers *p)
{
	if (!p)
		return;
	lws_sul_cancel(&p->sul);
	db_free(p->db); /* the session ends: its locks go at once */
	free(p);
}
