/* bus.c: the ZeroMQ sockets of the bus and their place in the lws loop
 * (bus.h, docs/bus.md).
 *
 * The ingest ROUTER and the ZAP REP are read from the loop through
 * adopted dup()s of their ZMQ_FDs (lws closes what it adopts; libzmq must
 * keep its own fd). ZMQ_FD is edge-triggered: every wake-up drains both
 * sockets to EAGAIN, and so does every send outside a drain, since a send
 * may consume the edge that announced a waiting message. The events PUB is
 * only written to. Loop thread only. */
#include "broker.h"
#include "bus_internal.h"
#include "clock.h"
#include "log.h"
#include "loop_wake.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define BUS_MAX_MSG (4 * 1024 * 1024) /* an image's 2 MiB in base64, and room */
#define BUS_EVENTS_HWM 10000

/* Reads the broker's key file: "public <z85>" and "secret <z85>" lines
 * (the format of adapters/lib/bus_client.h). */
static int load_key(const char *path, char pub[BUS_Z85], char sec[BUS_Z85])
{
	char line[256];
	FILE *f = fopen(path, "r");

	pub[0] = sec[0] = '\0';
	if (!f) {
		log_error("cannot read the bus key %s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, f)) {
		char word[16], key[64];
		if (sscanf(line, "%15s %63s", word, key) != 2 || strlen(key) != BUS_Z85 - 1)
			continue;
		if (!strcmp(word, "public"))
			memcpy(pub, key, BUS_Z85);
		else if (!strcmp(word, "secret"))
			memcpy(sec, key, BUS_Z85);
	}
	fclose(f);
	if (!pub[0] || !sec[0]) {
		log_error("the bus key %s needs a 'public <z85>' and a 'secret <z85>' line "
			  "(tocsinctl bus keygen --out FILE makes one)", path);
		return -1;
	}
	return 0;
}

/* Adopts a dup() of a socket's ZMQ_FD into the loop. */
static struct lws *adopt(struct bus *bus, void *sock)
{
	int zfd;
	size_t len = sizeof zfd;
	lws_sock_file_fd_type fd;
	struct lws *wsi;

	if (zmq_getsockopt(sock, ZMQ_FD, &zfd, &len))
		return NULL;
	fd.filefd = dup(zfd);
	if (fd.filefd < 0)
		return NULL;
	wsi = lws_adopt_descriptor_vhost(bus->b->vhost, LWS_ADOPT_RAW_FILE_DESC, fd, "tocsin-bus",
					 NULL);
	if (!wsi)
		close(fd.filefd);
	return wsi;
}

/* A CURVE server socket bound to endpoint, answering ZAP as domain. */
static void *server_socket(struct bus *bus, int type, const char *endpoint, const char *domain)
{
	void *s = zmq_socket(bus->zctx, type);
	int one = 1, zero = 0, hwm = BUS_EVENTS_HWM;
	int64_t max = BUS_MAX_MSG;

	if (!s ||
	    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero) ||
	    zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof one) ||
	    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, bus->secret_z85, BUS_Z85 - 1) ||
	    zmq_setsockopt(s, ZMQ_ZAP_DOMAIN, domain, strlen(domain)) ||
	    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof max) ||
	    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm) ||
	    zmq_bind(s, endpoint)) {
		log_error("cannot bind the bus %s socket to %s: %s", domain, endpoint,
			  zmq_strerror(errno));
		if (s)
			zmq_close(s);
		return NULL;
	}
	return s;
}

/* The ZAP handler must be bound before any CURVE socket accepts. */
static int open_sockets(struct bus *bus)
{
	const struct conf *c = &bus->b->conf;
	int zero = 0;

	bus->zctx = zmq_ctx_new();
	if (!bus->zctx)
		return -1;
	bus->zap = zmq_socket(bus->zctx, ZMQ_REP);
	if (!bus->zap || zmq_setsockopt(bus->zap, ZMQ_LINGER, &zero, sizeof zero) ||
	    zmq_bind(bus->zap, "inproc://zeromq.zap.01")) {
		log_error("cannot start the bus' ZAP handler: %s", zmq_strerror(errno));
		return -1;
	}
	bus->w_zap = adopt(bus, bus->zap);
	if (!bus->w_zap)
		return -1;
	if (c->bus_ingest) {
		bus->ingest = server_socket(bus, ZMQ_ROUTER, c->bus_ingest, "ingest");
		if (!bus->ingest || !(bus->w_ingest = adopt(bus, bus->ingest)))
			return -1;
	}
	if (c->bus_events) {
		size_t len = sizeof bus->events_endpoint;
		bus->events = server_socket(bus, ZMQ_PUB, c->bus_events, "events");
		if (!bus->events ||
		    zmq_getsockopt(bus->events, ZMQ_LAST_ENDPOINT, bus->events_endpoint, &len))
			return -1;
	}
	return 0;
}

#define REBIND_US (50 * 1000)
#define REBIND_TRIES 200 /* 10 s */

static void rebind(lws_sorted_usec_list_t *sul)
{
	struct bus *bus = lws_container_of(sul, struct bus, sul_rebind);

	if (!zmq_bind(bus->events, bus->events_endpoint)) {
		log_info("bus: events PUB bound again at %s (%d tries)", bus->events_endpoint,
			 bus->rebind_tries);
		bus->rebind_tries = 0;
		return;
	}
	if (++bus->rebind_tries > REBIND_TRIES) {
		log_error("bus: cannot bind the events PUB again at %s: %s", bus->events_endpoint,
			  zmq_strerror(errno));
		bus->rebind_tries = 0;
		return;
	}
	loop_wake_timer(bus->b->ctx, &bus->sul_rebind, rebind, REBIND_US);
}

/* ZeroMQ cannot drop one subscriber of a PUB, and the peer's key is known
 * only to the ZAP handler at its handshake. Unbinding the endpoint closes
 * the connections accepted through it (each session is the listener's
 * child in libzmq); every subscriber's SUB then reconnects by itself
 * (100 ms later by default) and handshakes again, and ZAP refuses a
 * revoked key. The others miss the events of that gap (events are not
 * replayed anyway: docs/bus.md): in 60-bus, publishing every ~35 ms, the
 * other subscriber missed 6 of 185 alerts, all within 250 ms, and the
 * revoked one was cut 1.3 s after `tocsinctl adapter revoke` (the keys
 * reload every 2 s). libzmq closes the listener on its I/O thread, so a
 * bind that finds the port still taken is retried every REBIND_US (the
 * first try took it in every run). */
void bus_events_cut(struct bus *bus)
{
	if (!bus->events || bus->rebind_tries)
		return;
	if (zmq_unbind(bus->events, bus->events_endpoint)) {
		log_error("bus: cannot unbind the events PUB at %s: %s", bus->events_endpoint,
			  zmq_strerror(errno));
		return;
	}
	bus->n_events_peers = 0;
	bus->rebind_tries = 1;
	rebind(&bus->sul_rebind);
}

int bus_start(struct broker *b, bus_request_hook on_request)
{
	struct bus *bus;

	if (!b->conf.bus_ingest && !b->conf.bus_events)
		return 0;
	bus = calloc(1, sizeof *bus);
	if (!bus)
		return -1;
	bus->b = b;
	bus->on_request = on_request;
	if (load_key(b->conf.bus_key, bus->public_z85, bus->secret_z85) || open_sockets(bus)) {
		bus_free(bus);
		return -1;
	}
	b->bus = bus;
	bus_zap_keys_start(bus);
	log_info("bus: ingest %s, events %s, broker key %s", b->conf.bus_ingest ?: "off",
		 b->conf.bus_events ?: "off", bus->public_z85);
	return 0;
}

void bus_free(struct bus *bus)
{
	if (!bus)
		return;
	lws_sul_cancel(&bus->sul_keys);
	lws_sul_cancel(&bus->sul_rebind);
	bus_zap_pending_free(bus);
	if (bus->ingest)
		zmq_close(bus->ingest);
	if (bus->events)
		zmq_close(bus->events);
	if (bus->zap)
		zmq_close(bus->zap);
	if (bus->zctx)
		zmq_ctx_term(bus->zctx);
	sodium_memzero(bus->secret_z85, sizeof bus->secret_z85);
	free(bus->adapters);
	free(bus->events_peers);
	free(bus);
}

/* Reads every waiting request: [routing id][payload]. A DEALER sends one
 * payload frame; anything else is answered bad_frame. */
static void drain_ingest(struct bus *bus)
{
	for (;;) {
		zmq_msg_t id, part, payload;
		int more, parts = 0;

		zmq_msg_init(&id);
		if (zmq_msg_recv(&id, bus->ingest, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&id);
			if (errno == EINTR)
				continue;
			break; /* EAGAIN: drained */
		}
		zmq_msg_init(&payload);
		more = zmq_msg_more(&id);
		while (more) {
			zmq_msg_init(&part);
			if (zmq_msg_recv(&part, bus->ingest, ZMQ_DONTWAIT) < 0) {
				zmq_msg_close(&part);
				break;
			}
			more = zmq_msg_more(&part);
			if (parts++ == 0)
				zmq_msg_move(&payload, &part);
			zmq_msg_close(&part);
		}
		if (parts != 1) {
			bus_reply(bus, zmq_msg_data(&id), zmq_msg_size(&id), 0,
				       json_pack("{s:s, s:s, s:s}", "type", "error", "code", "bad_frame",
						 "message", "a request is exactly one frame of JSON"));
		} else {
			bus->b->metrics.bus_in++;
			bus->on_request(bus, zmq_msg_data(&id), zmq_msg_size(&id),
					zmq_msg_data(&payload), zmq_msg_size(&payload),
					zmq_msg_gets(&payload, "User-Id"),
					zmq_msg_gets(&payload, "Peer-Address"));
		}
		zmq_msg_close(&payload);
		zmq_msg_close(&id);
		if (!bus->b->bus)
			return; /* stopped while handling */
	}
}

/* Drains both sockets until neither has anything (a send inside the
 * drain asks for another round). */
static void drain(struct bus *bus)
{
	int events;
	size_t len = sizeof events;

	if (bus->draining) {
		bus->drain_again = 1;
		return;
	}
	bus->draining = 1;
	do {
		bus->drain_again = 0;
		bus_zap_drain(bus);
		if (bus->ingest)
			drain_ingest(bus);
	} while (bus->drain_again);
	bus->draining = 0;
	/* reading ZMQ_EVENTS re-arms the edge */
	zmq_getsockopt(bus->zap, ZMQ_EVENTS, &events, &len);
	if (bus->ingest)
		zmq_getsockopt(bus->ingest, ZMQ_EVENTS, &events, &len);
}

void bus_drain(struct bus *bus)
{
	drain(bus);
}

void bus_reply(struct bus *bus, const void *peer, size_t peer_len, int64_t seq,
	       json_t *obj)
{
	char *text;

	if (!obj)
		return;
	json_object_del(obj, "ref");
	json_object_set_new(obj, "seq", seq > 0 ? json_integer(seq) : json_null());
	text = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (!text || !bus || !bus->ingest) {
		free(text);
		return;
	}
	/* a peer that went away, or is over its high-water mark, loses the
	 * reply: it resends with the same seq and gets it again */
	if (zmq_send(bus->ingest, peer, peer_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_send(bus->ingest, text, strlen(text), ZMQ_DONTWAIT) < 0)
		log_warn("bus: a reply was not sent: %s", zmq_strerror(errno));
	free(text);
	drain(bus);
}

int bus_emits(const struct broker *b)
{
	return b->bus && b->bus->events;
}

void bus_emit(struct broker *b, const char *topic, json_t *obj)
{
	char at[CLOCK_ISO_LEN], *text;

	if (!obj)
		return;
	if (!bus_emits(b)) {
		json_decref(obj);
		return;
	}
	clock_format_iso(clock_now_us(), at);
	json_object_set_new(obj, "type", json_string(topic));
	json_object_set_new(obj, "at", json_string(at));
	text = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (!text)
		return;
	/* a PUB never blocks: past the high-water mark a slow subscriber
	 * loses events (docs/bus.md) */
	if (zmq_send(b->bus->events, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_send(b->bus->events, text, strlen(text), ZMQ_DONTWAIT) < 0)
		log_warn("bus: event %s not sent: %s", topic, zmq_strerror(errno));
	else
		b->metrics.bus_out++;
	free(text);
}

int bus_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		     size_t len)
{
	struct broker *b = lws_context_user(lws_get_context(wsi));
	struct bus *bus = b ? b->bus : NULL;

	if (!bus)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (wsi == bus->w_zap || wsi == bus->w_ingest)
			drain(bus);
		break;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (wsi == bus->w_zap)
			bus->w_zap = NULL;
		if (wsi == bus->w_ingest)
			bus->w_ingest = NULL;
		break;
	default:
		break;
	}
	return 0;
}

/* The organisation guarding a site, from the broker's directory copy; 0
 * when unknown. */
static int64_t site_guard(struct broker *b, int64_t site_id)
{
	int64_t *sites = NULL, *orgs = NULL, org = 0;
	size_t n_sites = 0, n_orgs = 0;

	if (!site_cache_resolve(&b->sites, NULL, 0, &site_id, 1, &sites, &n_sites, &orgs,
				&n_orgs) && n_orgs == 1)
		org = orgs[0];
	free(sites);
	free(orgs);
	return org;
}

void bus_emit_receipt(struct broker *b, int is_ack, int64_t alert_id, int64_t site_id,
		      const char *username, const char *when)
{
	int64_t org;

	if (!b->bus || !b->bus->events)
		return;
	org = site_guard(b, site_id);
	bus_emit(b, is_ack ? "ack" : "read",
		 json_pack("{s:I, s:I, s:o, s:s, s:s, s:s}", "alert_id", (json_int_t)alert_id,
			   "site_id", (json_int_t)site_id,
			   "org_id", org ? json_integer(org) : json_null(), "user", username,
			   is_ack ? "acked_at" : "read_at", when, "durable", "database"));
}

void bus_emit_answer(struct broker *b, int64_t alert_id, int64_t site_id, const char *username,
		     const char *choice, int64_t number, const char *when)
{
	int64_t org;

	if (!b->bus || !b->bus->events)
		return;
	org = site_guard(b, site_id);
	bus_emit(b, "answer",
		 json_pack("{s:I, s:I, s:o, s:s, s:{s:s?, s:o}, s:s}", "alert_id",
			   (json_int_t)alert_id, "site_id", (json_int_t)site_id,
			   "org_id", org ? json_integer(org) : json_null(), "user", username,
			   "answer", "choice", choice, "number",
			   choice ? json_null() : json_integer(number), "answered_at", when));
}
