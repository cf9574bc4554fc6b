/* server.c: the libwebsockets context, its protocols and mounts, the
 * service loop, and an orderly stop.
 *
 * One lws service thread runs everything: HTTP, the tocsin.v1 sessions,
 * the adopted PostgreSQL socket (db.c) and a signalfd for SIGINT/SIGTERM
 * (stop) and SIGHUP (reload.c), so no signal handler ever touches broker
 * state.
 *
 * The loop is libev's (epoll), handed to lws as a foreign loop, and this
 * file runs it. lws 4.1's own loop poll()s over every connection at each
 * wake-up: at 10,000 consoles that was about half of the broker's CPU,
 * and one alert took twice as long to reach them all (bench/README.md).
 * A foreign loop keeps the stop in our hands: one ev_run pass at a time
 * until b->done, and lws installs no signal watcher of its own. Stopping closes the
 * sessions with 1001, writes what is buffered, and leaves the loop once
 * the database has answered everything or after a deadline. */
#include "broker.h"
#include "loop_wake.h"
#include "handle.h"
#include "bus.h"
#include "doors.h"
#include "clock.h"
#include "db.h"
#include "delivery_log.h"
#include "journal.h"
#include "log.h"
#include "ticket_keys.h"
#include "tls_files.h"
#include "peers.h"
#include "token_keys.h"
#include "stream.h"
#include "signin.h"
#include "pwhash.h"
#include "status_batch.h"

#include <ev.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define STOP_GRACE_US (4 * 1000 * 1000)
#define STOP_POLL_US (50 * 1000)
/* How long each database connection may hear nothing from the server
 * while queries wait before it is lost (db_new's answer_ms). The main
 * one: a publish must be confirmed or refused within 2 s whatever the
 * database does (issue 16), and after 1 s it is journaled instead (e2e
 * 76: confirmed in 1,000-1,010 ms with PostgreSQL stopped). A healthy
 * main connection was silent at most 216 ms (a status batch of 2,000
 * reports) through make bench at 10,000 consoles with both cores busy,
 * and 181 ms (64 journal records written back) in the e2e suite. The
 * records one carries the largest statements and nothing anyone waits on
 * to see: silent up to 256 ms in the bench (delivery batches of 16,000)
 * and 306 ms in the suite (the audit sealer's read); 5 s. */
#define DB_MAIN_ANSWER_MS 1000
#define DB_RECORDS_ANSWER_MS 5000

static void stop_check(lws_sorted_usec_list_t *sul)
{
	struct broker *b = lws_container_of(sul, struct broker, sul_stop);
	int idle = db_outstanding(b->db) == 0 && db_outstanding(b->db_records) == 0 &&
		   delivery_log_pending(b->deliveries) == 0 && b->n_sessions == 0 &&
		   b->n_receipts == 0;

	if (!db_is_up(b->db))
		delivery_log_flush(b->deliveries); /* into the journal */
	if (idle || clock_mono_us() > b->stop_deadline_us ||
	    (!db_is_up(b->db) && delivery_log_pending(b->deliveries) == 0 && b->n_sessions == 0)) {
		if (!idle)
			log_warn("stopping with work outstanding: %zu queries, %zu deliveries, "
				 "%u sessions", db_outstanding(b->db) + db_outstanding(b->db_records),
				 delivery_log_pending(b->deliveries), b->n_sessions);
		b->done = 1;
		lws_cancel_service(b->ctx);
		return;
	}
	delivery_log_flush(b->deliveries);
	loop_wake_timer(b->ctx, &b->sul_stop, stop_check, STOP_POLL_US);
}

static void begin_stop(struct broker *b, int signo)
{
	if (b->stopping) {
		log_warn("second signal: stopping now");
		b->done = 1;
		lws_cancel_service(b->ctx);
		return;
	}
	if (signo)
		log_info("signal %d: stopping (closing %u sessions, flushing records)", signo,
			 b->n_sessions);
	else
		log_info("stopping (closing %u sessions, flushing records)", b->n_sessions);
	b->stopping = 1;
	batch_queue_stop(&b->hello_checks);
	batch_queue_stop(&b->resumes);
	b->stop_deadline_us = clock_mono_us() + STOP_GRACE_US;
	session_close_all(b);
	receipt_flush(b);
	status_batch_flush(b);
	delivery_log_flush(b->deliveries);
	loop_wake_timer(b->ctx, &b->sul_stop, stop_check, STOP_POLL_US);
}

static int signal_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			       void *in, size_t len)
{
	struct broker *b = lws_context_user(lws_get_context(wsi));
	struct signalfd_siginfo si;

	if (reason != LWS_CALLBACK_RAW_RX_FILE)
		return 0;
	while (read(lws_get_socket_fd(wsi), &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGHUP)
			reload_run(b);
		else
			begin_stop(b, (int)si.ssi_signo);
	}
	return 0;
}

/* The peers' hook when another broker holds this node id: two brokers
 * with one id would give alerts the same ids (ids.h), so this one stops,
 * in order, and exits 1. */
static void node_refused(struct broker *b, const char *holder)
{
	b->refused = 1;
	begin_stop(b, 0);
}

/* Watches SIGINT, SIGTERM and SIGHUP through a signalfd in the loop. The
 * signals are blocked in main() before any thread starts. */
static int watch_signals(struct broker *b)
{
	sigset_t set;
	lws_sock_file_fd_type fd;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	fd.filefd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd.filefd < 0)
		return -1;
	if (!lws_adopt_descriptor_vhost(b->vhost, LWS_ADOPT_RAW_FILE_DESC, fd, "tocsin-signal",
					NULL)) {
		close(fd.filefd);
		return -1;
	}
	return 0;
}

static void lws_log_to_ours(int level, const char *line)
{
	size_t n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	log_msg(level == LLL_ERR ? LOG_ERROR : LOG_WARN, "lws: %.*s", (int)n, line);
}

/* Headers on every HTTP response. They were lws'
 * HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE's, whose CSP has
 * "connect-src 'self' ws: wss:": a page could open a WebSocket to any
 * host. Ours are the same but for connect-src 'self', which CSP Level 3
 * (Chromium, Firefox) extends to ws: and wss: of the page's own host and
 * port, so the consoles reach their broker and nothing else. The CSP's
 * frame-ancestors already forbids framing; permissions-policy turns off
 * what the consoles never use; HSTS only under TLS (see tls_setup). */
static const struct lws_protocol_vhost_options header_coop = {
	NULL, NULL, "cross-origin-opener-policy:", "same-origin"
};
static const struct lws_protocol_vhost_options header_referrer = {
	&header_coop, NULL, "referrer-policy:", "no-referrer"
};
static const struct lws_protocol_vhost_options header_frame = {
	&header_referrer, NULL, "x-frame-options:", "deny"
};
static const struct lws_protocol_vhost_options header_xss = {
	&header_frame, NULL, "x-xss-protection:", "1; mode=block"
};
static const struct lws_protocol_vhost_options header_nosniff = {
	&header_xss, NULL, "x-content-type-options:", "nosniff"
};
static const struct lws_protocol_vhost_options header_csp = {
	&header_nosniff, NULL, "content-security-policy:",
	"default-src 'none'; img-src 'self' data: ; script-src 'self'; font-src 'self'; "
	"style-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
	"form-action 'self';"
};
static const struct lws_protocol_vhost_options header_permissions = {
	&header_csp, NULL, "permissions-policy:",
	"camera=(), microphone=(), geolocation=(), payment=(), usb=()"
};
static const struct lws_protocol_vhost_options header_hsts_chain = {
	&header_permissions, NULL, "strict-transport-security:", "max-age=31536000"
};

/* The "http" protocol, first on the vhost, is the one lws hands its new
 * server SSL_CTX to (as user) before it listens: our settings and ticket
 * keys go on it there (tls_files.h, ticket_keys.h). */
static int http_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			     void *in, size_t len)
{
	struct broker *b;

	b = lws_context_user(lws_get_context(wsi));
	if (reason == LWS_CALLBACK_WSI_DESTROY)
		listener_gone(b->listener, b, wsi);
	if (reason != LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS)
		return http_api_lws_callback(wsi, reason, user, in, len);
	return tls_files_tune(user) || ticket_keys_attach(b->ticket_keys, user) ? -1 : 0;
}

/* https and wss only on the port: the certificate and key (checked in
 * main.c before anything listens), TLS 1.2 or later, HTTP/1.1 by ALPN
 * (WebSockets over HTTP/2 bring nothing here), and HSTS. A plain
 * connection to the port fails the handshake. */
static void tls_setup(struct broker *b, struct lws_context_creation_info *info)
{
	if (!b->conf.tls_cert) {
		info->headers = &header_permissions;
		return;
	}
	info->options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info->ssl_cert_filepath = b->conf.tls_cert;
	info->ssl_private_key_filepath = b->conf.tls_key;
	info->ssl_options_set = SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 |
				SSL_OP_NO_TLSv1_1 | SSL_OP_NO_COMPRESSION;
	info->alpn = "http/1.1";
	info->headers = &header_hsts_chain;
}

int server_run(struct broker *b)
{
	struct lws_protocols protocols[] = {
		{ "http", http_lws_callback, http_api_req_size(), 0, 0, NULL, 0 },
		/* a 512-byte receive buffer: consoles send little (larger
		 * messages arrive in fragments), and lws keeps one per connection
		 * (bench: 4 KiB of a 7 KiB idle connection at first). The send
		 * size is set on its own: left at 0 it would follow the receive
		 * buffer and cut every alert into 512-byte send()s. */
		{ "tocsin.v1", proto_lws_callback, sizeof(struct session), 512, 0, NULL, 65536 },
		{ "tocsin-db", db_lws_callback, 0, 0, 0, NULL, 0 },
		{ "tocsin-signal", signal_lws_callback, 0, 0, 0, NULL, 0 },
		{ "tocsin-bus", bus_lws_callback, 0, 0, 0, NULL, 0 },
		{ "tocsin-pwhash", pwhash_lws_callback, 0, 0, 0, NULL, 0 },
		{ NULL, NULL, 0, 0, 0, NULL, 0 },
	};
	struct lws_http_mount mount_files = {
		.mountpoint = "/",
		.mountpoint_len = 1,
		.origin = b->conf.web_root,
		.def = "index.html",
		.origin_protocol = LWSMPRO_FILE,
	};
	/* /healthz, /readyz and /metrics: http_ops.c */
	struct lws_http_mount mount_metrics = {
		.mount_next = &mount_files,
		.mountpoint = "/metrics",
		.mountpoint_len = 8,
		.origin = "http",
		.origin_protocol = LWSMPRO_CALLBACK,
	};
	struct lws_http_mount mount_ready = {
		.mount_next = &mount_metrics,
		.mountpoint = "/readyz",
		.mountpoint_len = 7,
		.origin = "http",
		.origin_protocol = LWSMPRO_CALLBACK,
	};
	struct lws_http_mount mount_health = {
		.mount_next = &mount_ready,
		.mountpoint = "/healthz",
		.mountpoint_len = 8,
		.origin = "http",
		.origin_protocol = LWSMPRO_CALLBACK,
	};
	struct lws_http_mount mount_api = {
		.mount_next = &mount_health,
		.mountpoint = "/api",
		.mountpoint_len = 4,
		.origin = "http",
		.origin_protocol = LWSMPRO_CALLBACK,
	};
	/* no lws validity timers (all zero): liveness.c pings and reaps in
	 * one sweep instead of one timer per connection */
	lws_retry_bo_t keepalive = { 0 };
	const struct peers_hooks peers_hooks = {
		.on = {
			[PEERS_ALERTS] = nodes_alerts,
			[PEERS_RECEIPTS] = nodes_receipts,
			[PEERS_STATUS] = nodes_status,
			[PEERS_REQUESTS] = nodes_requests,
			[PEERS_REPORTS] = nodes_reports,
			[PEERS_ESCALATIONS] = nodes_escalations,
		},
		.linked = nodes_linked,
		.leading = nodes_leading,
		.refused = node_refused,
	};
	struct lws_context_creation_info info;
	struct ev_loop *loop = ev_loop_new(EVBACKEND_EPOLL);
	int more = 0; /* flush_pass left listed sessions for the next pass */
	void *foreign_loops[1] = { loop };
	int ret = 1;

	if (!loop) {
		log_error("cannot create the event loop (libev, epoll)");
		return 1;
	}

	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_to_ours);
	memset(&info, 0, sizeof info);
	/* a server vhost (its TLS context too) that does not listen: the
	 * listener accepts and hands lws the connections (listener.c) */
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
	info.protocols = protocols;
	info.mounts = &mount_api;
	info.user = b;
	info.vhost_name = "tocsin";
	info.retry_and_idle_policy = &keepalive;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6 | LWS_SERVER_OPTION_LIBEV;
	info.foreign_loops = foreign_loops;
	tls_setup(b, &info);
	listener_files(&b->conf);
	b->ctx = lws_create_context(&info);
	if (!b->ctx) {
		log_error("cannot start libwebsockets%s (or it has no libev: package "
			  "libwebsockets-evlib-ev)", b->conf.tls_cert ? " with TLS" : "");
		ev_loop_destroy(loop);
		return 1;
	}
	b->vhost = lws_get_vhost_by_name(b->ctx, "tocsin");
	b->wake = loop_wake_new(loop, b->ctx);
	if (b->vhost && b->wake && !(b->listener = listener_open(b, loop)))
		goto out;
	b->ids.node = (unsigned)b->conf.node_id;
	/* The bus reads its key and binds its endpoints while the broker may
	 * still be root, like the TLS key and the port above; then no more
	 * root (privileges.h), before any connection to PostgreSQL, the
	 * journal or a sign-in worker. */
	if (!b->vhost || !b->wake) {
		log_error("cannot start the broker's parts");
		goto out;
	}
	if (bus_start(b, bus_ingest_request)) {
		log_error("cannot start the ZeroMQ bus");
		goto out;
	}
	if (privileges_drop(&b->run_as))
		goto out;
	/* The hooks: what a lower layer tells a higher one goes through a
	 * function registered here, never a call upward (README, "The
	 * house"): the main connection is up (stream.c reads the stream),
	 * a delivery batch is stored (its tallies go to the desks), the
	 * journal is drained (resumes that waited go), a status batch is
	 * stored (each console is answered), a one-time password is made
	 * (the administrator's change goes on), another node committed
	 * something or this one leads (peers_hooks: nodes.c reads and
	 * delivers it) or holds a node id already taken (node_refused);
	 * and, above, the bus's requests (bus_start). */
	b->fanned = -1;
	b->db = db_new(b, b->conf.database, "database", DB_MAIN_ANSWER_MS, stream_db_up);
	b->db_records = db_new(b, b->conf.database, "delivery records database",
			       DB_RECORDS_ANSWER_MS, NULL);
	b->deliveries = delivery_log_new(b, fanout_tally);
	b->journal = journal_open(b, b->conf.journal, resume_pending_all);
	b->signin = signin_new(b, b->conf.signin_workers);
	b->pwhash = pwhash_new(b, admin_password_ready);
	b->status_batch = status_batch_new(b, status_stored);
	b->peers = peers_new(b, b->conf.database, b->conf.node_id, &peers_hooks);
	if (!b->db || !b->db_records || !b->deliveries || !b->journal || !b->signin ||
	    !b->pwhash || !b->status_batch || !b->peers || nodes_start(b) || watch_signals(b)) {
		log_error("cannot start the broker's parts");
		goto out;
	}
	db_pair(b->db, b->db_records);
	db_start(b->db);
	db_start(b->db_records);
	peers_start(b->peers);
	escalation_start(b);
	release_start(b);
	in_force_start(b);
	image_sweep_start(b);
	retention_start(b);
	crime_sweep_start(b);
	applied_prune_start(b);
	metrics_probe_start(b);
	audit_sealer_start(b);
	revocation_start(b);
	liveness_start(b);
	trim_tick_start(b);
	token_keys_watch(b->token_keys, b->ctx);
	if (b->conf.tls_cert)
		ticket_keys_watch(b->ticket_keys, b->ctx);
	log_info("listening on %s://%s:%d (consoles from %s)", b->conf.tls_cert ? "https" : "http",
		 b->conf.listen_host, b->conf.port, b->conf.web_root);
	while (!b->done) {
		/* with sessions still to write, only look for what is ready */
		ev_run(loop, more ? EVRUN_NOWAIT : EVRUN_ONCE);
		more = flush_pass(b);
		listener_pass(b->listener);
	}
	ret = b->refused ? 1 : 0;
	log_info("stopped");
out:
	signin_free(b->signin); /* workers may call lws_cancel_service: stop them first */
	b->signin = NULL;
	pwhash_free(b->pwhash);
	b->pwhash = NULL;
	admin_free();
	b->stopping = 1;
	batch_queue_stop(&b->hello_checks);
	batch_queue_stop(&b->resumes);
	bus_free(b->bus); /* before the database: its queries name the bus */
	b->bus = NULL;
	db_free(b->db);
	b->db = NULL;
	db_free(b->db_records);
	b->db_records = NULL;
	peers_free(b->peers); /* its session ends: the node's locks go at once */
	b->peers = NULL;
	nodes_free(b);
	delivery_log_free(b->deliveries);
	b->deliveries = NULL;
	receipt_free(b);
	status_batch_free(b);
	batch_queue_free(&b->hello_checks);
	batch_queue_free(&b->resumes);
	journal_free(b->journal);
	b->journal = NULL;
	audit_sealer_free(b);
	site_cache_clear(&b->sites);
	free(b->to_flush);
	b->to_flush = NULL;
	admission_counts_clear(&b->per_address);
	token_keys_unwatch(b->token_keys);
	ticket_keys_unwatch(b->ticket_keys);
	listener_free(b->listener);
	b->listener = NULL;
	lws_context_destroy(b->ctx);
	b->ctx = NULL;
	loop_wake_free(b->wake);
	b->wake = NULL;
	ev_loop_destroy(loop);
	return ret;
}
