/* bus_zap.c: who may use the bus.
 *
 * The set of registered adapter keys is read from PostgreSQL
 * (tocsin_adapter_keys()) every KEYS_US, so `tocsinctl adapter revoke`
 * takes effect within seconds; the ZAP handler (ZeroMQ's authentication
 * protocol, RFC 27, on inproc://zeromq.zap.01) answers every CURVE
 * handshake from that set, on the loop. A key the set does not know may
 * have been added since the last load: its answer waits for a fresh load
 * (one query, never a blocking wait), so a new adapter is accepted at
 * once and libzmq's clients, which do not retry a refused handshake, are
 * not refused by a stale set. (REP answers one request at a time, so a
 * burst of unknown keys costs one query each, in turn.) Refusals are
 * audited (adapter_refused), at most once per key, address and socket every
 * REFUSAL_QUIET_US so that a peer retrying in a loop cannot flood the audit
 * trail. Loop thread only. */
#include "broker.h"
#include "loop_wake.h"
#include "bus_internal.h"
#include "clock.h"
#include "db.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define KEYS_US (2LL * 1000 * 1000)
#define REFUSAL_QUIET_US (10LL * 1000 * 1000)
#define ZAP_FRAMES 8

static void zap_answer_pending(struct bus *bus);
static int keys_reload(struct bus *bus);

static const char keys_sql[] =
	"SELECT adapter_id, name, public_key, revoked, user_id, username, role, org_id,"
	"       site_id, cleared, disabled FROM tocsin_adapter_keys()";

const struct bus_adapter *bus_zap_adapter_by_id(const struct bus *bus, int64_t id)
{
	for (size_t i = 0; i < bus->n_adapters; i++)
		if (bus->adapters[i].id == id)
			return &bus->adapters[i];
	return NULL;
}

static const struct bus_adapter *adapter_by_key(const struct bus *bus, const char *z85)
{
	for (size_t i = 0; i < bus->n_adapters; i++)
		if (!strcmp(bus->adapters[i].public_z85, z85))
			return &bus->adapters[i];
	return NULL;
}

void bus_zap_events_peer(struct bus *bus, int64_t adapter_id)
{
	int64_t *grown;

	for (size_t i = 0; i < bus->n_events_peers; i++)
		if (bus->events_peers[i] == adapter_id)
			return;
	if (bus->n_events_peers == bus->cap_events_peers) {
		size_t cap = bus->cap_events_peers ? bus->cap_events_peers * 2 : 8;
		grown = realloc(bus->events_peers, cap * sizeof *grown);
		if (!grown) {
			log_error("bus: out of memory: adapter %lld's events subscription would "
				  "outlive its revocation", (long long)adapter_id);
			return;
		}
		bus->events_peers = grown;
		bus->cap_events_peers = cap;
	}
	bus->events_peers[bus->n_events_peers++] = adapter_id;
}

/* An adapter accepted on the events PUB since the last cut that the new
 * set revokes, disables or no longer has: its subscription is cut (within
 * KEYS_US of the revocation, as consoles are within the revocation
 * sweep's few seconds). */
static void cut_revoked_subscribers(struct bus *bus)
{
	for (size_t i = 0; i < bus->n_events_peers; i++) {
		const struct bus_adapter *a = bus_zap_adapter_by_id(bus, bus->events_peers[i]);
		if (!a || a->revoked || a->disabled) {
			log_info("bus: adapter %lld may no longer subscribe: cutting the events "
				 "subscribers", (long long)bus->events_peers[i]);
			bus_events_cut(bus);
			return;
		}
	}
}

/* Replaces the set with the rows of tocsin_adapter_keys(). */
static void keys_loaded(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct bus *bus = b->bus;
	struct bus_adapter *set;
	int n;

	if (!bus)
		return;
	bus->keys_loading = 0;
	if (err) {
		if (!err->lost)
			log_error("bus: cannot read the adapter keys: %s", err->message);
		zap_answer_pending(bus); /* from the set it has */
		return;
	}
	n = PQntuples(res);
	set = calloc((size_t)n + 1, sizeof *set);
	if (!set) {
		log_error("bus: out of memory reading the adapter keys");
		return;
	}
	for (int i = 0; i < n; i++) {
		struct bus_adapter *a = &set[i];
		a->id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		snprintf(a->name, sizeof a->name, "%s", PQgetvalue(res, i, 1));
		snprintf(a->public_z85, sizeof a->public_z85, "%s", PQgetvalue(res, i, 2));
		a->revoked = !strcmp(PQgetvalue(res, i, 3), "t");
		a->who.user_id = strtoll(PQgetvalue(res, i, 4), NULL, 10);
		snprintf(a->who.username, sizeof a->who.username, "%s", PQgetvalue(res, i, 5));
		a->who.role = token_role_from_name(PQgetvalue(res, i, 6));
		a->who.org_id = strtoll(PQgetvalue(res, i, 7), NULL, 10);
		a->who.site_id = strtoll(PQgetvalue(res, i, 8), NULL, 10); /* "" (null): 0 */
		a->who.cleared = !strcmp(PQgetvalue(res, i, 9), "t");
		a->disabled = !strcmp(PQgetvalue(res, i, 10), "t");
	}
	if (!bus->keys_loaded)
		log_info("bus: %d adapter keys loaded", n);
	log_debug("bus: %d adapter keys loaded (%d waiting)", n, bus->n_zap_pending);
	free(bus->adapters);
	bus->adapters = set;
	bus->n_adapters = (size_t)n;
	bus->keys_loaded = 1;
	bus->keys_as_of_us = bus->keys_query_us;
	cut_revoked_subscribers(bus);
	/* a load sent before the waiting handshake arrived may miss its key */
	if (bus->n_zap_pending && bus->keys_as_of_us < bus->zap_pending_us && !keys_reload(bus))
		return;
	zap_answer_pending(bus);
}

/* Sends the keys query; 0, or -1 when the database is not connected. */
static int keys_reload(struct bus *bus)
{
	if (bus->keys_loading)
		return 0;
	if (!bus->b->db || db_query(bus->b->db, keys_sql, 0, NULL, keys_loaded, NULL))
		return -1;
	bus->keys_loading = 1;
	bus->keys_query_us = clock_mono_us();
	return 0;
}

/* Every KEYS_US: reload the keys, and drain the sockets in case an edge
 * of ZMQ_FD was missed. */
static void keys_tick(lws_sorted_usec_list_t *sul)
{
	struct bus *bus = lws_container_of(sul, struct bus, sul_keys);

	if (bus->b->db && db_is_up(bus->b->db))
		keys_reload(bus);
	bus_drain(bus);
	loop_wake_timer(bus->b->ctx, &bus->sul_keys, keys_tick, KEYS_US);
}

void bus_zap_keys_start(struct bus *bus)
{
	loop_wake_timer(bus->b->ctx, &bus->sul_keys, keys_tick, 1);
}

static void refusal_audited(struct broker *b, void *arg, PGresult *res,
			    const struct db_error *err)
{
	if (err)
		log_error("bus: a refused key was not audited: %s", err->message);
}

/* 1 when this key, address and socket were audited less than
 * REFUSAL_QUIET_US ago; otherwise notes them now. */
static int refusal_recent(struct bus *bus, const char *z85, const char *address,
			  const char *domain)
{
	int64_t now = clock_mono_us();
	struct bus_refusal *oldest = &bus->refusals[0];

	for (int i = 0; i < BUS_REFUSALS; i++) {
		struct bus_refusal *r = &bus->refusals[i];
		if (!strcmp(r->public_z85, z85) && !strcmp(r->address, address) &&
		    !strcmp(r->domain, domain)) {
			if (now - r->at_us < REFUSAL_QUIET_US)
				return 1;
			r->at_us = now;
			return 0;
		}
		if (r->at_us < oldest->at_us)
			oldest = r;
	}
	snprintf(oldest->public_z85, sizeof oldest->public_z85, "%s", z85);
	snprintf(oldest->address, sizeof oldest->address, "%s", address);
	snprintf(oldest->domain, sizeof oldest->domain, "%s", domain);
	oldest->at_us = now;
	return 0;
}

static void audit_refusal(struct bus *bus, const char *z85, const char *reason,
			  const char *address, const char *domain)
{
	const char *params[4] = { z85, reason, address, domain };

	log_warn("bus: refused %s key %s from %s on %s", reason, z85, address, domain);
	if (refusal_recent(bus, z85, address, domain))
		return;
	if (!bus->b->db || db_query(bus->b->db, "SELECT tocsin_adapter_refused($1, $2, $3, $4)", 4, params,
		     refusal_audited, NULL))
		log_error("bus: the database is not reachable: refusal of %s not audited", z85);
}

/* The decision for one handshake: status code, text and, when accepted,
 * the User-Id (the adapter's id) that every message of the peer carries.
 * NULL: wait for a fresh set of keys (may_wait, and a load was sent). */
static const char *decide(struct bus *bus, zmq_msg_t *f, int n, char *user_id, size_t user_len,
			  const char **text, int may_wait)
{
	char z85[BUS_Z85], domain[16], address[48];
	const struct bus_adapter *a;

	*text = "OK";
	user_id[0] = '\0';
	if (n < 7 || zmq_msg_size(&f[5]) != 5 || memcmp(zmq_msg_data(&f[5]), "CURVE", 5) ||
	    zmq_msg_size(&f[6]) != 32) {
		*text = "CURVE only";
		return "400";
	}
	zmq_z85_encode(z85, zmq_msg_data(&f[6]), 32);
	snprintf(domain, sizeof domain, "%.*s", (int)zmq_msg_size(&f[2]),
		 (const char *)zmq_msg_data(&f[2]));
	snprintf(address, sizeof address, "%.*s", (int)zmq_msg_size(&f[3]),
		 (const char *)zmq_msg_data(&f[3]));
	a = adapter_by_key(bus, z85);
	/* before the first load every answer waits (the tick loads the keys
	 * once the database is up) */
	if (!a && may_wait && (keys_reload(bus) == 0 || !bus->keys_loaded)) {
		log_debug("bus: unknown key %s: waiting for a fresh load of the keys", z85);
		return NULL;
	}
	if (!bus->keys_loaded) {
		*text = "the broker cannot read the adapter keys (database unreachable)";
		return "400";
	}
	if (!a || a->revoked || a->disabled) {
		*text = !a ? "unknown key" : a->revoked ? "revoked key" : "the adapter's user is disabled";
		audit_refusal(bus, z85, !a ? "unknown" : a->revoked ? "revoked" : "disabled", address,
			      domain);
		return "400";
	}
	snprintf(user_id, user_len, "%lld", (long long)a->id);
	if (!strcmp(domain, "events"))
		bus_zap_events_peer(bus, a->id);
	return "200";
}

/* Answers one ZAP request (already received into f[0..n-1]); 0, or -1
 * when the answer waits for a fresh set of keys (the frames are kept). */
static int zap_answer(struct bus *bus, zmq_msg_t *f, int n, int may_wait)
{
	char user_id[24];
	const char *text, *code = decide(bus, f, n, user_id, sizeof user_id, &text, may_wait);
	const void *req_id = n > 1 ? zmq_msg_data(&f[1]) : "";
	size_t req_len = n > 1 ? zmq_msg_size(&f[1]) : 0;

	if (!code) {
		for (int i = 0; i < n; i++) {
			zmq_msg_init(&bus->zap_pending[i]);
			zmq_msg_move(&bus->zap_pending[i], &f[i]);
		}
		bus->n_zap_pending = n;
		bus->zap_pending_us = clock_mono_us();
		return -1;
	}
	log_debug("bus: ZAP %s (%s) user %s", code, text, user_id);

	if (zmq_send(bus->zap, "1.0", 3, ZMQ_SNDMORE) < 0 ||
	    zmq_send(bus->zap, req_id, req_len, ZMQ_SNDMORE) < 0 ||
	    zmq_send(bus->zap, code, 3, ZMQ_SNDMORE) < 0 ||
	    zmq_send(bus->zap, text, strlen(text), ZMQ_SNDMORE) < 0 ||
	    zmq_send(bus->zap, user_id, strlen(user_id), ZMQ_SNDMORE) < 0 ||
	    zmq_send(bus->zap, "", 0, 0) < 0)
		log_error("bus: cannot answer a ZAP request: %s", zmq_strerror(errno));
	return 0;
}

/* Answers the request that waited for the keys, then reads on. */
static void zap_answer_pending(struct bus *bus)
{
	int n = bus->n_zap_pending;

	if (!n)
		return;
	bus->n_zap_pending = 0;
	zap_answer(bus, bus->zap_pending, n, 0);
	for (int i = 0; i < n; i++)
		zmq_msg_close(&bus->zap_pending[i]);
	bus_drain(bus);
}

void bus_zap_pending_free(struct bus *bus)
{
	for (int i = 0; i < bus->n_zap_pending; i++)
		zmq_msg_close(&bus->zap_pending[i]);
	bus->n_zap_pending = 0;
}

void bus_zap_drain(struct bus *bus)
{
	while (!bus->n_zap_pending) {
		zmq_msg_t f[ZAP_FRAMES], extra;
		int n = 0, more = 1;

		zmq_msg_init(&f[0]);
		if (zmq_msg_recv(&f[0], bus->zap, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&f[0]);
			return; /* EAGAIN: drained */
		}
		n = 1;
		more = zmq_msg_more(&f[0]);
		while (more) {
			zmq_msg_t *m = n < ZAP_FRAMES ? &f[n] : &extra;
			zmq_msg_init(m);
			if (zmq_msg_recv(m, bus->zap, 0) < 0) { /* the rest is already here */
				zmq_msg_close(m);
				break;
			}
			more = zmq_msg_more(m);
			if (m == &extra)
				zmq_msg_close(m);
			else
				n++;
		}
		zap_answer(bus, f, n, 1); /* a waiting answer moves the frames out */
		for (int i = 0; i < n; i++)
			zmq_msg_close(&f[i]);
	}
}
