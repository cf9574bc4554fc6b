/* admission.h: who may open a WebSocket and how fast a connection may
 * talk: the Origin allow-list (against cross-site WebSocket hijacking),
 * connection caps per address and in total, a per-connection message
 * rate, and the gate on handshakes in flight (when the listener stops
 * accepting). Pure apart from malloc; loop thread only; unit-tested. */
#ifndef TOCSIN_ADMISSION_H
#define TOCSIN_ADMISSION_H

#include <stddef.h>
#include <stdint.h>

#define ADMISSION_BUCKETS 1024

#define ADMISSION_ORIGIN_MAX 256

/* An origin as browsers send it: scheme (http or https) and host in lower
 * case, and the port only when it is not the scheme's default (a browser
 * on https://host:443 sends "Origin: https://host"). Accepts
 * scheme://host[:port] with one optional trailing "/"; the host is a name
 * or an IPv4 address, or an IPv6 address in brackets. Returns 0, or -1
 * when in is not such an origin (out is then ""). */
int admission_origin_normal(const char *in, char *out, size_t size);

/* Whether a browser Origin may connect: its normal form is one of allowed
 * (normal forms, conf.c). An empty origin (a non-browser client) is
 * allowed. */
int admission_origin_ok(const char *origin, const char *const *allowed, int n_allowed);

struct address_count {
	struct address_count *next;
	unsigned count;
	char addr[48];
};

struct address_counts {
	struct address_count *buckets[ADMISSION_BUCKETS]; /* owned entries */
};

/* Counts one more connection from addr unless it already has max;
 * 0 when counted, -1 when refused (or out of memory). */
int admission_counts_add(struct address_counts *t, const char *addr, unsigned max);
void admission_counts_remove(struct address_counts *t, const char *addr);
void admission_counts_clear(struct address_counts *t);

/* A token bucket: rate per second, bursts of twice that. */
struct rate_bucket {
	double tokens;
	int64_t last_us;
};

/* 1 when one more message is allowed now, 0 when over the rate. */
int admission_rate_allow(struct rate_bucket *r, int per_sec, int64_t now_us);

/* The handshakes in flight: connections accepted and neither signed in
 * nor gone (a TLS handshake, an HTTP request, a WebSocket upgrade, a
 * session before its hello verified). The listener (listener.c) stops
 * accepting when max are in flight, leaving the rest in the kernel's
 * listen queue, and starts again once a quarter of them are through, so
 * that it does not start and stop at every connection. */
struct admission_gate {
	unsigned in_flight;
	uint64_t pauses;      /* times accepting stopped at max */
};

/* 1 while one more connection may be accepted. */
int admission_gate_room(const struct admission_gate *g, unsigned max);
/* 1 when a gate that stopped at max may accept again. */
int admission_gate_reopen(const struct admission_gate *g, unsigned max);
void admission_gate_enter(struct admission_gate *g);
void admission_gate_leave(struct admission_gate *g);

#endif
