/* admission.h: who may open a WebSocket and how fast a connection may
 * talk: the Origin allow-list (against cross-site WebSocket hijacking),
 * connection caps per address and in total, and a per-connection message
 * rate. Pure apart from malloc; loop thread only; unit-tested. */
#ifndef TOCSIN_ADMISSION_H
#define TOCSIN_ADMISSION_H

#include <stdint.h>

#define ADMISSION_BUCKETS 1024

/* Whether a browser Origin may connect: allowed lists exact origins; when
 * it is empty, only http(s)://127.0.0.1:port and http(s)://localhost:port
 * are. An empty origin (a non-browser client) is allowed. */
int admission_origin_ok(const char *origin, const char *const *allowed, int n_allowed, int port);

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

#endif
