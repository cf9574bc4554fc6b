/* http_ops.c: what a load balancer and a monitoring system ask.
 *
 *   GET /healthz  alive: 200 while the broker serves, whatever the
 *                 database does, with the database's state in the body
 *                 ({"status":"ok"|"degraded","db":"up"|"down",...}). A
 *                 broker without its database still delivers and journals
 *                 (docs/operations.md, "Outages"): taking it out of a load
 *                 balancer then would drop the consoles it keeps serving.
 *   GET /readyz   whether to send it new consoles: 503 until the first
 *                 database connection has given the stream's epoch (a
 *                 console could not resume without it) and from the moment
 *                 it is stopping; 200 in between, outages included.
 *   GET /metrics  the Prometheus text (metrics.c), to the addresses of
 *                 metrics-allow or to the bearer of metrics-token; 403 to
 *                 anyone else.
 * http_api.c routes these paths here and sends the answer. Loop thread
 * only. */
#include "broker.h"
#include "doors.h"
#include "handle.h"
#include "clock.h"
#include "db.h"
#include "journal.h"
#include "stream.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define JSON_TYPE "application/json"
#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

static int ready(const struct broker *b)
{
	return !b->stopping && b->epoch[0] != '\0';
}

static char *health(struct broker *b, int *status)
{
	*status = 200;
	return frame_dump(json_pack("{s:s, s:s, s:i, s:i, s:b}", "status",
				    stream_writes_direct(b) ? "ok" : "degraded", "db",
				    db_is_up(b->db) ? "up" : "down", "connections", (int)b->n_sessions,
				    "journal", (int)journal_pending(b->journal), "ready", ready(b)),
			  NULL);
}

static char *readiness(struct broker *b, int *status)
{
	*status = ready(b) ? 200 : 503;
	return frame_dump(json_pack("{s:b, s:s*, s:s}", "ready", ready(b), "reason",
				    b->stopping ? "stopping" : !b->epoch[0] ? "starting" : NULL,
				    "db", db_is_up(b->db) ? "up" : "down"),
			  NULL);
}

/* The request carries Authorization: Bearer <metrics-token>. */
static int has_token(const struct broker *b, struct lws *wsi)
{
	const char *want = b->conf.metrics_token;
	char hdr[512], *p;
	size_t n;

	if (!want || lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION) >= (int)sizeof hdr ||
	    lws_hdr_copy(wsi, hdr, sizeof hdr, WSI_TOKEN_HTTP_AUTHORIZATION) <= 0)
		return 0;
	for (p = hdr; *p == ' ' || *p == '\t'; p++)
		;
	if (strncasecmp(p, "Bearer ", 7))
		return 0;
	for (p += 7; *p == ' ' || *p == '\t'; p++)
		;
	n = strcspn(p, " \t");
	return n == strlen(want) && sodium_memcmp(p, want, n) == 0;
}

static char *metrics(struct broker *b, size_t *len)
{
	struct metrics_now now = { 0 };

	for (struct session *s = b->sessions; s; s = s->next) {
		int role = s->authed ? (int)s->who.role : ROLE_NONE;
		if (role >= 0 && role < METRICS_ROLES)
			now.connections[role]++;
	}
	now.handshakes = b->handshakes.in_flight;
	now.journal_pending = journal_pending(b->journal);
	now.db_up = db_is_up(b->db);
	now.db_records_up = db_is_up(b->db_records);
	now.ready = ready(b);
	now.head = b->head;
	now.uptime_s = (double)(clock_now_us() - b->started_us) / 1e6;
	return metrics_render(&b->metrics, &now, len);
}

int http_ops_answer(struct broker *b, struct lws *wsi, const char *path, const char *remote,
		    int *status, const char **type, char **body, size_t *len)
{
	*type = JSON_TYPE;
	if (!strcmp(path, "/healthz"))
		*body = health(b, status);
	else if (!strcmp(path, "/readyz"))
		*body = readiness(b, status);
	else if (strcmp(path, "/metrics"))
		return 0;
	else if (!cidr_list_match(&b->conf.metrics_allow, remote) && !has_token(b, wsi)) {
		*status = 403;
		*body = strdup("{\"error\":{\"code\":\"forbidden\",\"message\":\"/metrics is for the "
			       "addresses of metrics-allow or the bearer of metrics-token\"}}");
	} else {
		*status = 200;
		*type = METRICS_TYPE;
		*body = metrics(b, len);
		metrics_probe_kick(b);
		return 1;
	}
	*len = *body ? strlen(*body) : 0;
	return 1;
}
