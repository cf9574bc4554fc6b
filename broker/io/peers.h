/* peers.h: the node-to-node interface (peers.c): what the other brokers
 * on the same database committed, and which broker runs the singletons.
 *
 * Several brokers (nodes) share one PostgreSQL, the one source of order.
 * What a node commits is announced at commit with NOTIFY, as a wake-up
 * that carries only positions or ids (sql/functions/nodes.sql names the
 * channels); every node hears it here and a hook per kind, registered at
 * start by doors/server.c, reads what it missed with its own queries. The
 * interface is these kinds and hooks, nothing of LISTEN: another transport
 * could call the same hooks (docs/operations.md, "When another
 * transport").
 *
 * The same connection holds two advisory locks: the node id's, so that two
 * brokers never run with one id, and, when it can get it, the leader's:
 * the leader runs the singletons (the audit sealer and
 * escalation), and another node takes over within a second of PostgreSQL
 * noticing that the leader's session ended. Loop thread only. */
#ifndef TOCSIN_PEERS_H
#define TOCSIN_PEERS_H

#include <stddef.h>
#include <stdint.h>

struct broker;
struct peers;

/* What another node committed, by channel. */
enum peers_kind {
	PEERS_ALERTS,      /* ids: stream positions of new alerts */
	PEERS_RECEIPTS,    /* ids: alerts whose tallies changed */
	PEERS_STATUS,      /* ids: status reports stored */
	PEERS_REQUESTS,    /* ids: report-now requests */
	PEERS_REPORTS,     /* ids: partner reports stored */
	PEERS_ESCALATIONS, /* ids: alert, site, alert, site... escalated */
	PEERS_KINDS
};

/* ids (valid during the call), n of them: a payload is under 8,000
 * bytes, so at most 4,000. */
typedef void (*peers_hook)(struct broker *b, const int64_t *ids, size_t n);

struct peers_hooks {
	peers_hook on[PEERS_KINDS];
	/* listening again (or for the first time): notifications may have
	 * been missed meanwhile; read from the last position */
	void (*linked)(struct broker *b);
	/* this node leads now (1), or no longer (0) */
	void (*leading)(struct broker *b, int leading);
	/* another broker holds this node id (holder says who): this one must
	 * not run */
	void (*refused)(struct broker *b, const char *holder);
};

/* Notifications from this node's own connections (b->db, b->db_records)
 * are not passed on: the node already did that work itself. NULL when out
 * of memory. */
struct peers *peers_new(struct broker *b, const char *conninfo, int node,
			const struct peers_hooks *hooks);
void peers_start(struct peers *p);
/* 1 while listening with the node's lock held. */
int peers_listening(const struct peers *p);
/* 1 while this node holds the leader's lock. */
int peers_leading(const struct peers *p);
void peers_free(struct peers *p);

#endif
