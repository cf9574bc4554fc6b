/* admission.c: origin, connection caps and message rate (see admission.h). */
#include "admission.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The host of an origin: a DNS name or IPv4 address (letters, digits, "."
 * and "-"), or an IPv6 address in brackets; n is its length. */
static int host_ok(const char *h, size_t n)
{
	if (n == 0)
		return 0;
	if (h[0] == '[')
		return n > 2 && h[n - 1] == ']' &&
		       strspn(h + 1, "0123456789abcdefABCDEF:.") == n - 2;
	return strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") >= n;
}

/* The port after the host: 0 when none, -1 when not 1 to 65535. */
static long port_of(const char *digits, size_t n)
{
	long port = 0;

	if (n == 0 || n > 5 || strspn(digits, "0123456789") < n)
		return -1;
	for (size_t i = 0; i < n; i++)
		port = port * 10 + (digits[i] - '0');
	return port >= 1 && port <= 65535 ? port : -1;
}

int admission_origin_normal(const char *in, char *out, size_t size)
{
	const char *rest, *from, *colon;
	size_t len, hlen;
	long port = 0;
	int https, n;

	out[0] = '\0';
	if (!strncasecmp(in, "https://", 8))
		https = 1, rest = in + 8;
	else if (!strncasecmp(in, "http://", 7))
		https = 0, rest = in + 7;
	else
		return -1;
	len = strlen(rest);
	if (len > 0 && rest[len - 1] == '/')
		len--; /* "https://host/" as people write it */
	/* the port's colon comes after an IPv6 address's brackets */
	from = rest[0] == '[' ? memchr(rest, ']', len) : rest;
	if (!from)
		return -1;
	colon = memchr(from, ':', len - (size_t)(from - rest));
	hlen = colon ? (size_t)(colon - rest) : len;
	if (!host_ok(rest, hlen))
		return -1;
	if (colon && (port = port_of(colon + 1, len - hlen - 1)) < 0)
		return -1;
	if (port == (https ? 443 : 80))
		port = 0;
	n = port ? snprintf(out, size, "%s://%.*s:%ld", https ? "https" : "http", (int)hlen, rest, port)
		 : snprintf(out, size, "%s://%.*s", https ? "https" : "http", (int)hlen, rest);
	if (n < 0 || (size_t)n >= size) {
		out[0] = '\0';
		return -1;
	}
	for (char *p = out; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return 0;
}

int admission_origin_ok(const char *origin, const char *const *allowed, int n_allowed)
{
	char normal[ADMISSION_ORIGIN_MAX];

	if (!origin || !*origin)
		return 1;
	if (admission_origin_normal(origin, normal, sizeof normal) != 0)
		return 0;
	for (int i = 0; i < n_allowed; i++)
		if (!strcmp(normal, allowed[i]))
			return 1;
	return 0;
}

static unsigned hash(const char *s)
{
	unsigned h = 2166136261u; /* FNV-1a */
	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h % ADMISSION_BUCKETS;
}

int admission_counts_add(struct address_counts *t, const char *addr, unsigned max)
{
	struct address_count **slot = &t->buckets[hash(addr)], *e;

	for (e = *slot; e; e = e->next)
		if (!strcmp(e->addr, addr))
			break;
	if (!e) {
		if (!(e = calloc(1, sizeof *e)))
			return -1;
		snprintf(e->addr, sizeof e->addr, "%s", addr);
		e->next = *slot;
		*slot = e;
	}
	if (e->count >= max)
		return -1;
	e->count++;
	return 0;
}

void admission_counts_remove(struct address_counts *t, const char *addr)
{
	for (struct address_count **p = &t->buckets[hash(addr)]; *p; p = &(*p)->next) {
		struct address_count *e = *p;
		if (strcmp(e->addr, addr) != 0)
			continue;
		if (e->count > 0 && --e->count == 0) {
			*p = e->next;
			free(e);
		}
		return;
	}
}

void admission_counts_clear(struct address_counts *t)
{
	for (int i = 0; i < ADMISSION_BUCKETS; i++)
		while (t->buckets[i]) {
			struct address_count *e = t->buckets[i];
			t->buckets[i] = e->next;
			free(e);
		}
}

int admission_rate_allow(struct rate_bucket *r, int per_sec, int64_t now_us)
{
	double cap = 2.0 * per_sec;

	if (r->last_us == 0) {
		r->tokens = cap;
		r->last_us = now_us;
	}
	r->tokens += (double)(now_us - r->last_us) * per_sec / 1e6;
	if (r->tokens > cap)
		r->tokens = cap;
	r->last_us = now_us;
	if (r->tokens < 1.0)
		return 0;
	r->tokens -= 1.0;
	return 1;
}

int admission_gate_room(const struct admission_gate *g, unsigned max)
{
	return g->in_flight < max;
}

int admission_gate_reopen(const struct admission_gate *g, unsigned max)
{
	return g->in_flight < max - max / 4;
}

void admission_gate_enter(struct admission_gate *g)
{
	g->in_flight++;
}

void admission_gate_leave(struct admission_gate *g)
{
	if (g->in_flight > 0)
		g->in_flight--;
}
