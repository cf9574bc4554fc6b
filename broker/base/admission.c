/* admission.c: origin, connection caps and message rate (see admission.h). */
#include "admission.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int admission_origin_ok(const char *origin, const char *const *allowed, int n_allowed, int port)
{
	char own[4][64];

	if (!origin || !*origin)
		return 1;
	if (n_allowed > 0) {
		for (int i = 0; i < n_allowed; i++)
			if (!strcmp(origin, allowed[i]))
				return 1;
		return 0;
	}
	snprintf(own[0], sizeof own[0], "http://127.0.0.1:%d", port);
	snprintf(own[1], sizeof own[1], "http://localhost:%d", port);
	snprintf(own[2], sizeof own[2], "https://127.0.0.1:%d", port);
	snprintf(own[3], sizeof own[3], "https://localhost:%d", port);
	for (int i = 0; i < 4; i++)
		if (!strcmp(origin, own[i]))
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
