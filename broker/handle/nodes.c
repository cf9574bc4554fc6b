/* nodes.c: what the other brokers on the same database committed, read and
 * delivered here as if it had happened here; and every alert fanned out
 * here in stream order, whichever node published it.
 *
 * Alerts. PostgreSQL gives positions in commit order and without gaps
 * (tocsin_publish and tocsin_relay take stream_meta's row lock until they
 * commit), and b->fanned is how far this node has fanned out. An alert this
 * node publishes goes out at once when it is the next position; when
 * another node's alert came before it and is not here yet, the catch-up
 * reads both, in order (tocsin_alerts_after), so no console sees 12 before
 * 11 and then resumes past 11. Another node's notification on
 * tocsin_alerts, the link coming back, or each second without a link
 * (peers.h) or with a known head above b->fanned, starts a catch-up from
 * b->fanned; one in flight is followed by another if asked for meanwhile.
 * This node's own alerts fanned out while only in the journal (no
 * position yet) are kept by id until their position is read, and passed
 * over then: each console gets an alert once. So after an outage the
 * alerts each node journaled reach the other's consoles when PostgreSQL
 * returns and the journals are written back, in position order.
 *
 * The rest is news for the desks and consoles here: the tallies of alerts
 * whose receipts or deliveries changed, status reports (the boards), a
 * report-now request (the consoles asked) and its progress, partner
 * reports (the force's desks), escalations (the site's consoles, the
 * desks). Each kind's ids wait in a bounded list while its read is in
 * flight, so a burst of notifications costs one query at a time; a kind
 * meant for desks is not read while no desk is signed in here. Each read
 * goes over the delivery records connection (the main one while it is
 * down), as the sealer's: a publish never waits behind it. Loop thread
 * only. */
#include "broker.h"
#include "handle.h"
#include "clock.h"
#include "db.h"
#include "id_array.h"
#include "log.h"
#include "loop_wake.h"
#include "peers.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A catch-up reads at most CATCH_UP_MAX alerts, fewer while reads are
 * slow. It goes over the main connection, whose statement_timeout is
 * 750 ms (server.c), and a cancelled statement loses that connection and
 * restarts the journal's write-back (db.c, must_redo). After the soak's
 * 30 s outage (issue 16, 0448b70) the catch-up had 7,600 of this node's
 * journaled alerts to read past, 500 a read: a read took 0.4-1.1 s at load
 * 9, was cancelled 94 times in 20 minutes, and the journal, restarted at
 * each, grew from 12,829 to 162,947 records. Now the size follows the
 * time of the last read (halved above CATCH_UP_SLOW_US, doubled below
 * CATCH_UP_FAST_US, quartered after a failure), so one cancel at most
 * teaches it. */
#define CATCH_UP_MAX 500
#define CATCH_UP_SLOW_US (150 * 1000)
#define CATCH_UP_FAST_US (40 * 1000)
#define POLL_US (1000 * 1000) /* a catch-up every second without a link */
#define JOURNALED_MAX 65536   /* own journaled alerts remembered: hours of an outage */
#define WAITING_MAX 20000     /* ids waiting for one kind's next read */

enum news { NEWS_TALLIES, NEWS_STATUS, NEWS_REQUESTS, NEWS_REPORTS, NEWS_ESCALATIONS, NEWS_KINDS };

/* One kind of news: the read ($1: the ids as a bigint[]) and what sends
 * its rows. */
struct news_kind {
	const char *what;
	const char *sql;
	void (*send)(struct broker *b, PGresult *res);
	int desks_only;
};

/* A kind's ids waiting for its next read. */
struct waiting {
	int64_t *ids; /* owned */
	size_t n, cap;
	int reading;  /* a read is in flight */
};

struct nodes {
	int catching;        /* a catch-up read is in flight */
	int limit;           /* alerts the next catch-up reads at most */
	int asked;           /* ... and the one in flight */
	int64_t sent_us;     /* when it was sent (clock_mono_us) */
	int again;           /* another one after it */
	int behind;          /* one could not be sent or failed: the poll sends it */
	int64_t *journaled;  /* owned: own alerts fanned out with no position yet */
	size_t n_journaled;
	struct waiting news[NEWS_KINDS];
};

static void send_tallies(struct broker *b, PGresult *res)
{
	for (int i = 0; i < PQntuples(res); i++) {
		struct tally t = tally_from_row(res, i, 2);
		fanout_tally(b, strtoll(PQgetvalue(res, i, 0), NULL, 10),
			     strtoll(PQgetvalue(res, i, 1), NULL, 10),
			     strtoll(PQgetvalue(res, i, 7), NULL, 10), &t);
	}
}

static void send_reports(struct broker *b, PGresult *res)
{
	for (int i = 0; i < PQntuples(res); i++)
		report_to_force(b, "partner_report", PQgetvalue(res, i, 0), 0);
}

static const struct news_kind kinds[NEWS_KINDS] = {
	[NEWS_TALLIES] = { "tallies",
			   "SELECT alert_id, sender_org_id, recipients, delivered, acknowledged,"
			   "       read, escalated, watcher_org_id FROM tocsin_tallies($1::bigint[])",
			   send_tallies, 1 },
	[NEWS_STATUS] = { "status reports",
			  "SELECT site_id, guard_org_id, site, request_id, requested_by, progress"
			  "  FROM tocsin_status_reported($1::bigint[])",
			  status_reported, 1 },
	[NEWS_REQUESTS] = { "report-now requests",
			    "SELECT request_id, asked, by_name, requested_at"
			    "  FROM tocsin_report_requests_of($1::bigint[])",
			    status_requested, 0 },
	[NEWS_REPORTS] = { "partner reports", "SELECT tocsin_reports_json($1::bigint[])",
			   send_reports, 1 },
	[NEWS_ESCALATIONS] = { "escalations",
			       "SELECT alert_id, site_id, site_name, guard_org_id, escalated_at, seq,"
			       "       sender_org_id, watcher_org_id, alert"
			       "  FROM tocsin_escalations_of($1::bigint[])",
			       escalation_send, 0 },
};

/* ------------------------------------------------------------ alerts */

/* Remembers an own alert fanned out before it had a position. */
static void journaled_add(struct nodes *n, int64_t id)
{
	if (n->n_journaled == JOURNALED_MAX) {
		/* the oldest half goes: at worst one of those is fanned out
		 * again when written back, which the consoles show once (by id) */
		memmove(n->journaled, n->journaled + JOURNALED_MAX / 2,
			JOURNALED_MAX / 2 * sizeof *n->journaled);
		n->n_journaled = JOURNALED_MAX / 2;
	}
	n->journaled[n->n_journaled++] = id;
}

/* 1 (and forgotten) when id was fanned out here from the journal. */
static int journaled_take(struct nodes *n, int64_t id)
{
	for (size_t i = 0; i < n->n_journaled; i++) {
		if (n->journaled[i] == id) {
			memmove(n->journaled + i, n->journaled + i + 1,
				(n->n_journaled - i - 1) * sizeof *n->journaled);
			n->n_journaled--;
			return 1;
		}
	}
	return 0;
}

static void catch_up(struct broker *b);

/* Fans out row i of tocsin_alerts_after (columns head, alert_id, seq,
 * recipient_sites, recipient_orgs, sender_org_id, target_roles,
 * classification, alert, watcher_org_id), and a relay's notice. */
static void fan_row(struct broker *b, PGresult *res, int i)
{
	int64_t id = strtoll(PQgetvalue(res, i, 1), NULL, 10);
	json_t *alert = json_loads(PQgetvalue(res, i, 8), 0, NULL);
	size_t n_sites = 0, n_orgs = 0;
	int64_t *sites = id_array_parse(PQgetvalue(res, i, 3), &n_sites);
	int64_t *orgs = id_array_parse(PQgetvalue(res, i, 4), &n_orgs);
	struct msg *m = NULL;
	json_t *sig = NULL;

	/* signed here as a local publish is (the nodes share the alert key),
	 * once for the alert frame and the in_force frame */
	if (alert && sites && orgs) {
		sig = sign_key_sign_json(&b->alert_key, alert);
		m = alert_frame_signed_msg(json_incref(sig), id,
					   strtoll(PQgetvalue(res, i, 2), NULL, 10),
					   json_incref(alert), NULL,
					   alert_frame_audience(PQgetvalue(res, i, 6),
								PQgetvalue(res, i, 7)));
	}
	if (m) {
		fanout_alert(b, m, sites, n_sites, orgs, n_orgs);
		msg_unref(m);
		/* the shared control room's list here too, and what an update
		 * or cancel of the other node ended */
		in_force_live(b, id, alert, sig, (int)n_sites, 0);
		if (strcmp(json_string_value(json_object_get(alert, "msg_type")) ?: "alert", "alert"))
			in_force_ended_by(b, id, json_string_value(json_object_get(alert, "sent_at")) ?: "");
		if (!PQgetisnull(res, i, 9))
			relay_notice(b, alert, sig, sites, n_sites, strtoll(PQgetvalue(res, i, 9), NULL, 10),
				     PQgetvalue(res, i, 7));
	} else {
		log_error("alert %lld from another node not fanned out here: out of memory or "
			  "unreadable", (long long)id);
	}
	json_decref(sig);
	json_decref(alert);
	free(sites);
	free(orgs);
}

/* Sizes the next catch-up from how the last one went (CATCH_UP_MAX). */
static void catch_up_resize(struct nodes *n, int failed)
{
	int64_t took = clock_mono_us() - n->sent_us;

	if (failed)
		n->limit = n->limit > 4 ? n->limit / 4 : 1;
	else if (took > CATCH_UP_SLOW_US && n->limit > 1)
		n->limit /= 2;
	else if (took < CATCH_UP_FAST_US && n->limit < CATCH_UP_MAX)
		n->limit = n->limit * 2 < CATCH_UP_MAX ? n->limit * 2 : CATCH_UP_MAX;
}

static void caught_up(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct nodes *n = b->nodes;
	int rows = 0;
	int64_t head;

	n->catching = 0;
	catch_up_resize(n, err != NULL);
	if (err) {
		if (!err->lost)
			log_error("reading the alerts of other nodes failed: %s", err->message);
		n->behind = 1;
		return;
	}
	for (int i = 0; i < PQntuples(res); i++) {
		int64_t seq;

		if (PQgetisnull(res, i, 1))
			continue; /* nothing after the position */
		rows++;
		seq = strtoll(PQgetvalue(res, i, 2), NULL, 10);
		if (seq <= b->fanned)
			continue; /* fanned out meanwhile, where it was published */
		if (!journaled_take(n, strtoll(PQgetvalue(res, i, 1), NULL, 10)))
			fan_row(b, res, i);
		b->fanned = seq;
	}
	/* fewer than asked for: every position up to the head was seen
	 * (expired alerts are passed over) */
	head = PQntuples(res) ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
	if (rows < n->asked && head > b->fanned)
		b->fanned = head;
	if (b->fanned > b->head)
		b->head = b->fanned;
	if (rows == n->asked || n->again) {
		n->again = 0;
		catch_up(b);
	}
}

/* Reads the alerts after b->fanned (one read at a time). */
static void catch_up(struct broker *b)
{
	struct nodes *n = b->nodes;
	char after[24], limit[16];
	const char *params[2] = { after, limit };

	if (n->catching) {
		n->again = 1;
		return;
	}
	if (b->fanned < 0 || b->stopping)
		return; /* the stream's head is not known yet: stream.c reads it */
	snprintf(after, sizeof after, "%lld", (long long)b->fanned);
	snprintf(limit, sizeof limit, "%d", n->limit);
	n->asked = n->limit;
	n->sent_us = clock_mono_us();
	n->catching = 1; /* before: a lost connection calls back at once */
	if (db_query(b->db,
		     "SELECT head, alert_id, seq, recipient_sites, recipient_orgs, sender_org_id,"
		     "       target_roles, classification, alert, watcher_org_id"
		     "  FROM tocsin_alerts_after($1::bigint, $2::integer)",
		     2, params, caught_up, NULL)) {
		n->catching = 0;
		n->behind = 1;
	}
}

void nodes_fan_out(struct broker *b, struct msg *m, const int64_t *sites, size_t n_sites,
		   const int64_t *orgs, size_t n_orgs)
{
	if (m->seq <= 0) {
		/* journaled: its position comes when it is written back */
		fanout_alert(b, m, sites, n_sites, orgs, n_orgs);
		journaled_add(b->nodes, m->alert_id);
		return;
	}
	if (b->fanned >= 0 && m->seq <= b->fanned)
		return; /* a catch-up read it first and fanned it out */
	if (b->fanned < 0 || m->seq == b->fanned + 1) {
		fanout_alert(b, m, sites, n_sites, orgs, n_orgs);
		b->fanned = m->seq;
		return;
	}
	/* another node's alerts come before it: read them and it, in order */
	catch_up(b);
}

void nodes_alerts(struct broker *b, const int64_t *ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] > b->fanned) {
			catch_up(b);
			return;
		}
}

void nodes_linked(struct broker *b)
{
	catch_up(b);
}

void nodes_leading(struct broker *b, int leading)
{
	if (leading)
		escalation_lead(b); /* what the last leader had not escalated: now */
}

/* ------------------------------------------------------------ news */

static void read_news(struct broker *b, enum news k);

static void news_read(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	enum news k = (enum news)(intptr_t)arg;

	b->nodes->news[k].reading = 0;
	if (err && !err->lost)
		log_error("reading the %s of other nodes failed: %s", kinds[k].what, err->message);
	else if (!err)
		kinds[k].send(b, res);
	read_news(b, k);
}

/* Reads what waits for kind k, unless a read is in flight (its answer
 * reads the rest). */
static void read_news(struct broker *b, enum news k)
{
	struct waiting *w = &b->nodes->news[k];
	char *list;
	size_t len = 0;
	const char *params[1];

	if (w->reading || !w->n)
		return;
	if (kinds[k].desks_only && !b->desks.count) {
		w->n = 0; /* nobody here to tell */
		return;
	}
	list = malloc(w->n * 21 + 3);
	if (!list) {
		log_error("the %s of other nodes not read: out of memory", kinds[k].what);
		w->n = 0;
		return;
	}
	for (size_t i = 0; i < w->n; i++) {
		char num[24];
		snprintf(num, sizeof num, "%lld", (long long)w->ids[i]);
		db_array_add(list, &len, i, num);
	}
	db_array_end(list, &len);
	params[0] = list;
	w->n = 0;
	w->reading = 1; /* before: a lost connection calls back at once */
	if (db_query(db_up_or(b->db_records, b->db), kinds[k].sql, 1, params, news_read,
		     (void *)(intptr_t)k))
		w->reading = 0; /* the database is away: what it said is lost with it */
	free(list);
}

/* Adds ids to what waits for kind k (whole, or not at all when the list is
 * full: escalations come in pairs), then reads. */
static void news(struct broker *b, enum news k, const int64_t *ids, size_t n)
{
	struct waiting *w = &b->nodes->news[k];

	if (w->n + n > WAITING_MAX) {
		log_warn("the %s of other nodes: %zu ids dropped, %zu waiting", kinds[k].what, n,
			 w->n);
		return;
	}
	if (w->n + n > w->cap) {
		size_t cap = (w->n + n) * 2;
		int64_t *grown = realloc(w->ids, cap * sizeof *grown);
		if (!grown) {
			log_error("the %s of other nodes: %zu ids dropped: out of memory",
				  kinds[k].what, n);
			return;
		}
		w->ids = grown;
		w->cap = cap;
	}
	memcpy(w->ids + w->n, ids, n * sizeof *ids);
	w->n += n;
	read_news(b, k);
}

void nodes_receipts(struct broker *b, const int64_t *ids, size_t n)
{
	news(b, NEWS_TALLIES, ids, n);
}

void nodes_status(struct broker *b, const int64_t *ids, size_t n)
{
	news(b, NEWS_STATUS, ids, n);
}

void nodes_requests(struct broker *b, const int64_t *ids, size_t n)
{
	news(b, NEWS_REQUESTS, ids, n);
}

void nodes_reports(struct broker *b, const int64_t *ids, size_t n)
{
	news(b, NEWS_REPORTS, ids, n);
}

void nodes_escalations(struct broker *b, const int64_t *ids, size_t n)
{
	news(b, NEWS_ESCALATIONS, ids, n & ~(size_t)1);
}

/* ------------------------------------------------------------ start, stop */

static void poll_cb(lws_sorted_usec_list_t *sul)
{
	struct broker *b = lws_container_of(sul, struct broker, sul_nodes);
	struct nodes *n = b->nodes;

	/* behind: a read failed; not listening: nobody says when to read;
	 * head above fanned: a position was seen (a resume, the stream's
	 * refresh, an own publish whose answer came out of order) that was
	 * not fanned out here */
	if (n->behind || !peers_listening(b->peers) || b->head > b->fanned) {
		n->behind = 0;
		if (db_is_up(b->db))
			catch_up(b);
	}
	if (!b->stopping)
		loop_wake_timer(b->ctx, &b->sul_nodes, poll_cb, POLL_US);
}

int nodes_start(struct broker *b)
{
	struct nodes *n = calloc(1, sizeof *n);

	if (!n || !(n->journaled = malloc(JOURNALED_MAX * sizeof *n->journaled))) {
		free(n);
		return -1;
	}
	n->limit = CATCH_UP_MAX;
	b->nodes = n;
	loop_wake_timer(b->ctx, &b->sul_nodes, poll_cb, POLL_US);
	return 0;
}

void nodes_free(struct broker *b)
{
	struct nodes *n = b->nodes;

	if (!n)
		return;
	lws_sul_cancel(&b->sul_nodes);
	for (int k = 0; k < NEWS_KINDS; k++)
		free(n->news[k].ids);
	free(n->journaled);
	free(n);
	b->nodes = NULL;
}
