/* receipt_notice.h: tells a company's desk, live, that one of its sites
 * read, acknowledged or answered an alert (site_receipt frames,
 * docs/protocol.md). The audience is the operators of the company that
 * guards the site, and only for alerts the company was sent itself (or its
 * own relays); tocsin_receipt_audience() (sql/020) decides, in one query
 * per batch of receipts. Runs on the lws service thread only. */
#ifndef TOCSIN_RECEIPT_NOTICE_H
#define TOCSIN_RECEIPT_NOTICE_H

#include <stdint.h>

struct broker;
struct receipt_notices;

/* An empty set of notices; NULL when out of memory. */
struct receipt_notices *receipt_notices_new(void);
/* Adds one: kind "read", "acked" or "answered"; answer NULL unless
 * answered. Returns 0, or -1 when out of memory (n unchanged). */
int receipt_notices_add(struct receipt_notices *n, const char *kind, int64_t alert_id,
			int64_t site_id, const char *by, const char *at, const char *answer);
/* Sends them to the guarding companies' operators and frees n (NULL is
 * fine). Asks the database nothing when no operator is connected. */
void receipt_notices_send(struct broker *b, struct receipt_notices *n);

#endif
