/* metrics.c: counters, histograms and their Prometheus text (see
 * metrics.h). Pure. */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Upper bounds in seconds. A fan-out to 10,000 consoles is written in
 * about 0.1 s on the bench's 2 cores (bench/README.md), a publish is
 * durable in a few milliseconds with the database and in a fsync without
 * it: both ranges sit in the middle of the buckets. */
static const double fanout_bounds[METRICS_BUCKETS] = { 0.001, 0.0025, 0.005, 0.01, 0.025,
						       0.05, 0.1, 0.25, 0.5, 1, 2.5, 5 };
static const double durable_bounds[METRICS_BUCKETS] = { 0.0005, 0.001, 0.0025, 0.005, 0.01,
							0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5 };
static const char *const severities[METRICS_SEVERITIES] = { "minor", "moderate", "severe",
							   "extreme" };

void metrics_init(struct metrics *m)
{
	memset(m, 0, sizeof *m);
	m->unacked_severe = -1;
	m->db_rtt_s = -1;
}

static void observe(struct metrics_hist *h, const double *bounds, double v)
{
	int i = 0;

	while (i < METRICS_BUCKETS && v > bounds[i])
		i++;
	h->counts[i]++;
	h->sum += v;
	h->n++;
}

void metrics_observe_fanout(struct metrics *m, double seconds)
{
	observe(&m->fanout, fanout_bounds, seconds);
}

void metrics_observe_durable(struct metrics *m, double seconds)
{
	observe(&m->durable, durable_bounds, seconds);
}

int metrics_severity(const char *name)
{
	for (int i = 0; name && i < METRICS_SEVERITIES; i++)
		if (!strcmp(name, severities[i]))
			return i;
	return -1;
}

static const char *const retention_kinds[METRICS_RET_KINDS] = {
	"alerts", "deliveries", "partner_reports", "status_reports", "audit_details", "crime_records",
};

const char *metrics_retention_name(enum metrics_retention k)
{
	return retention_kinds[k];
}

/* A growing buffer; on out of memory it stops growing and says so. */
struct out {
	char *buf;
	size_t len, cap;
	int oom;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		if (o->oom)
			return;
		va_start(ap, fmt);
		n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		char *grown = realloc(o->buf, o->cap * 2);
		if (!grown) {
			o->oom = 1;
			return;
		}
		o->buf = grown;
		o->cap *= 2;
	}
}

/* The HELP and TYPE lines of a metric. */
static void head(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void hist(struct out *o, const char *name, const char *help, const struct metrics_hist *h,
		 const double *bounds)
{
	uint64_t cum = 0;

	head(o, name, "histogram", help);
	for (int i = 0; i < METRICS_BUCKETS; i++) {
		cum += h->counts[i];
		put(o, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i], (unsigned long long)cum);
	}
	cum += h->counts[METRICS_BUCKETS];
	put(o, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
	put(o, "%s_sum %.6f\n%s_count %llu\n", name, h->sum, name, (unsigned long long)h->n);
}

static void counter(struct out *o, const char *name, const char *help, uint64_t v)
{
	head(o, name, "counter", help);
	put(o, "%s %llu\n", name, (unsigned long long)v);
}

static void gauge(struct out *o, const char *name, const char *help, double v)
{
	head(o, name, "gauge", help);
	put(o, "%s %.9g\n", name, v);
}

static void render_connections(struct out *o, const struct metrics_now *now)
{
	head(o, "tocsin_connections", "gauge",
	     "Open WebSocket connections by role (none: not signed in yet).");
	for (int r = 0; r < METRICS_ROLES; r++)
		put(o, "tocsin_connections{role=\"%s\"} %u\n",
		    r == ROLE_NONE ? "none" : token_role_name((enum role)r), now->connections[r]);
}

static void render_alerts(struct out *o, const struct metrics *m)
{
	static const char *const sources[2] = { "console", "adapter" };

	head(o, "tocsin_alerts_published_total", "counter",
	     "Alerts made durable and fanned out, by severity and source.");
	for (int s = 0; s < METRICS_SEVERITIES; s++)
		for (int k = 0; k < 2; k++)
			put(o, "tocsin_alerts_published_total{severity=\"%s\",source=\"%s\"} %llu\n",
			    severities[s], sources[k], (unsigned long long)m->published[s][k]);
	counter(o, "tocsin_deliveries_total", "Alert frames written to consoles and desks.",
		m->deliveries);
	hist(o, "tocsin_fanout_seconds",
	     "From an alert's fan-out until the loop has written it to every connection that "
	     "could take it at once.", &m->fanout, fanout_bounds);
	hist(o, "tocsin_publish_durable_seconds",
	     "From a publish request to its alert being durable (committed or journaled).",
	     &m->durable, durable_bounds);
	counter(o, "tocsin_acks_total", "Acknowledgements stored.", m->acks);
	counter(o, "tocsin_reads_total", "Reads stored.", m->reads);
	counter(o, "tocsin_escalations_total", "Sites escalated for a severe alert not acknowledged in time.",
		m->escalations);
	if (m->unacked_severe >= 0)
		gauge(o, "tocsin_unacked_severe_alerts",
		      "Live severe and extreme alerts that a recipient site has not acknowledged.",
		      (double)m->unacked_severe);
}

static void render_state(struct out *o, const struct metrics *m, const struct metrics_now *now)
{
	counter(o, "tocsin_slow_consumer_closes_total",
		"Connections closed because their outbound queue was full.", m->slow_closes);
	gauge(o, "tocsin_handshakes_in_flight", "Connections accepted and not yet signed in "
	      "(TLS handshakes, HTTP requests, WebSocket upgrades, hellos being checked).",
	      (double)now->handshakes);
	counter(o, "tocsin_accept_pauses_total", "Times the broker stopped accepting because "
		"max-handshakes were in flight (the next wait in the listen queue).",
		m->accept_pauses);
	counter(o, "tocsin_accept_no_files_total", "Connections left in the listen queue for "
		"want of a file descriptor (accept: EMFILE or ENFILE).", m->accept_no_files);
	gauge(o, "tocsin_journal_records", "Journal records waiting to be written to the database.",
	      (double)now->journal_pending);
	head(o, "tocsin_db_up", "gauge", "1 while the broker's database connection is up.");
	put(o, "tocsin_db_up{connection=\"main\"} %d\ntocsin_db_up{connection=\"records\"} %d\n",
	    now->db_up, now->db_records_up);
	if (m->db_rtt_s >= 0)
		gauge(o, "tocsin_db_rtt_seconds",
		      "Round-trip time of the last probe query on the main connection.", m->db_rtt_s);
	gauge(o, "tocsin_ready", "1 while the broker takes new consoles (GET /readyz).", now->ready);
	gauge(o, "tocsin_stream_head", "The highest stream position published.", (double)now->head);
	gauge(o, "tocsin_uptime_seconds", "Seconds since the broker started.", now->uptime_s);
}

static void render_access(struct out *o, const struct metrics *m)
{
	counter(o, "tocsin_signins_total", "Password sign-ins that succeeded.", m->signins);
	counter(o, "tocsin_signin_failures_total",
		"Password sign-ins refused: unknown user, wrong password, disabled account.",
		m->signin_failures);
	counter(o, "tocsin_signin_lockouts_total",
		"Password sign-ins refused because the account or address was locked out.",
		m->signin_lockouts);
	head(o, "tocsin_bus_messages_total", "counter",
	     "ZeroMQ bus messages: requests from adapters in, events out.");
	put(o, "tocsin_bus_messages_total{direction=\"in\"} %llu\n"
	       "tocsin_bus_messages_total{direction=\"out\"} %llu\n",
	    (unsigned long long)m->bus_in, (unsigned long long)m->bus_out);
}

static void render_retention(struct out *o, const struct metrics *m)
{
	head(o, "tocsin_retention_erased_total", "counter",
	     "Rows erased past their retention, by kind (audit_details: details erased, "
	     "deliveries: delivery batches).");
	for (int k = 0; k < METRICS_RET_KINDS; k++)
		put(o, "tocsin_retention_erased_total{kind=\"%s\"} %llu\n", retention_kinds[k],
		    (unsigned long long)m->retention_erased[k]);
	counter(o, "tocsin_retention_errors_total", "Retention sweep calls that failed.",
		m->retention_errors);
	/* %.3f, not gauge's %.9g: a Unix time has ten digits before the point */
	head(o, "tocsin_retention_last_run_timestamp_seconds", "gauge",
	     "When the last retention sweep through every kind ended (Unix time; 0: none yet).");
	put(o, "tocsin_retention_last_run_timestamp_seconds %.3f\n",
	    (double)m->retention_last_us / 1e6);
}

char *metrics_render(const struct metrics *m, const struct metrics_now *now, size_t *len)
{
	struct out o = { malloc(8192), 0, 8192, 0 };

	if (!o.buf)
		return NULL;
	render_connections(&o, now);
	render_alerts(&o, m);
	render_state(&o, m, now);
	render_access(&o, m);
	render_retention(&o, m);
	if (o.oom) {
		free(o.buf);
		return NULL;
	}
	*len = o.len;
	return o.buf;
}
