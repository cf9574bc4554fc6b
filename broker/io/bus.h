/* bus.h: the ZeroMQ bus in the broker (docs/bus.md).
 *
 * An ingest ROUTER where adapters (DEALERs) submit alerts, reports and
 * images, and an events PUB that streams what becomes durable, both with
 * CURVE; a ZAP handler answers from the registered adapter keys (table
 * adapters, reloaded every 2 s). The sockets' ZMQ_FDs join the lws loop as
 * adopted dup()s (protocol "tocsin-bus"); ZMQ_FD is edge-triggered, so
 * every wake-up and every send drains to EAGAIN.
 *
 * bus.c owns the sockets and the loop glue, bus_zap.c the keys and the
 * ZAP answers, bus_ingest.c the requests. Loop thread only. */
#ifndef TOCSIN_BUS_H
#define TOCSIN_BUS_H

#include <jansson.h>
#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

struct broker;
struct bus;

#define BUS_ADAPTER_NAME_MAX 64 /* an adapter's registered name */

/* Hears one request from an adapter: its routing id, the payload, the
 * User-Id the ZAP handler gave and the peer's address. The server
 * registers the bus's intake (bus_ingest.c) at start. */
typedef void (*bus_request_hook)(struct bus *bus, const void *peer, size_t peer_len,
				 const char *data, size_t len, const char *user_id,
				 const char *address);

/* Starts the bus when --bus-ingest or --bus-events was given (sets
 * b->bus); 0 also when it is off, -1 after logging why. */
int bus_start(struct broker *b, bus_request_hook on_request);
/* Closes the sockets; NULL is fine. */
void bus_free(struct bus *bus);

/* Sends a reply (stolen) to the adapter at routing id peer, with the
 * adapter's seq (0: null). Does nothing but free obj when the bus is
 * off (bus NULL). */
void bus_reply(struct bus *bus, const void *peer, size_t peer_len, int64_t seq, json_t *obj);

/* Puts an event on the PUB socket: the topic frame, then obj (stolen) with
 * "type" (the topic) and "at" (now, RFC 3339) added. Topics: alert.published,
 * alert.updated, alert.cancelled, ack, read, answer, status, report. Does
 * nothing but free obj when the bus is off. */
void bus_emit(struct broker *b, const char *topic, json_t *obj);
/* Whether events go anywhere (--bus-events given): callers skip building
 * an event's JSON when they do not. */
int bus_emits(const struct broker *b);

/* The ack or read event of a site's first receipt (bus.c adds the site's
 * guarding org). */
void bus_emit_receipt(struct broker *b, int is_ack, int64_t alert_id, int64_t site_id,
		      const char *username, const char *when);

/* The answer event: a console answered a request (choice, or number when
 * choice is NULL). */
void bus_emit_answer(struct broker *b, int64_t alert_id, int64_t site_id, const char *username,
		     const char *choice, int64_t number, const char *when);

/* The lws protocol callback for the adopted ZMQ_FDs ("tocsin-bus"). */
int bus_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		     size_t len);

#endif
