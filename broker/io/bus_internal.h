/* bus_internal.h: what bus.c, bus_zap.c and bus_ingest.c share. */
#ifndef TOCSIN_BUS_INTERNAL_H
#define TOCSIN_BUS_INTERNAL_H

#include "bus.h"
#include "token.h"

#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#define BUS_Z85 41

/* A registered adapter as tocsin_adapter_keys() lists it. */
struct bus_adapter {
	int64_t id;
	char name[BUS_ADAPTER_NAME_MAX + 1];
	char public_z85[BUS_Z85];
	int revoked;                 /* adapters.revoked_at is set */
	int disabled;                /* its user is disabled */
	struct token_claims who;     /* its user: user_id, username, role, org, site, cleared */
};

/* A refused handshake, audited at most once per key and address every
 * REFUSAL_QUIET_US. */
struct bus_refusal {
	char public_z85[BUS_Z85];
	char address[48];
	char domain[16];             /* "ingest" or "events" */
	int64_t at_us;               /* clock_mono_us */
};
#define BUS_REFUSALS 64

struct bus {
	struct broker *b;
	bus_request_hook on_request; /* hears each request (bus_start) */
	void *zctx;                  /* owned: the ZeroMQ context */
	void *ingest;                /* owned: ROUTER, NULL when not bound */
	void *events;                /* owned: PUB, NULL when not bound */
	void *zap;                   /* owned: REP on inproc://zeromq.zap.01 */
	struct lws *w_ingest, *w_zap; /* adopted dup()s of their ZMQ_FDs */
	char public_z85[BUS_Z85];    /* the broker's own key pair */
	char secret_z85[BUS_Z85];
	struct bus_adapter *adapters; /* owned: the last loaded set */
	size_t n_adapters;
	int keys_loaded;             /* loaded at least once */
	int keys_loading;            /* a query is in flight */
	int64_t keys_query_us;       /* when the query in flight was sent (clock_mono_us) */
	int64_t keys_as_of_us;       /* when the loaded set's query was sent (clock_mono_us) */
	/* a ZAP request waiting for a fresh set of keys (an unknown key may
	 * have been added since the last load); REP answers in order, so
	 * nothing more is read from the ZAP socket meanwhile */
	zmq_msg_t zap_pending[8];
	int n_zap_pending;
	int64_t zap_pending_us;      /* clock_mono_us */
	lws_sorted_usec_list_t sul_keys;
	struct bus_refusal refusals[BUS_REFUSALS];
	int draining;                /* inside drain: sends do not drain again */
	int drain_again;
	/* the events PUB's cut (bus.c): its bound endpoint, and the adapters
	 * accepted on it since the last cut (bus_zap.c notes them) */
	char events_endpoint[256];
	int64_t *events_peers;       /* owned */
	size_t n_events_peers, cap_events_peers;
	int rebind_tries;            /* binds tried since the unbind; 0: bound */
	lws_sorted_usec_list_t sul_rebind;
};

/* bus_zap.c */
void bus_zap_drain(struct bus *bus);
/* Drops a ZAP request still waiting for the keys (at stop). */
void bus_zap_pending_free(struct bus *bus);
/* Starts the periodic key reload. */
void bus_zap_keys_start(struct bus *bus);
const struct bus_adapter *bus_zap_adapter_by_id(const struct bus *bus, int64_t id);

/* bus.c: drains the ZAP and ingest sockets to EAGAIN. */
void bus_drain(struct bus *bus);
/* bus.c: drops every events subscriber (they reconnect and handshake
 * again: ZAP refuses a revoked key). */
void bus_events_cut(struct bus *bus);
/* bus_zap.c: notes an adapter accepted on the events PUB. */
void bus_zap_events_peer(struct bus *bus, int64_t adapter_id);

#endif
