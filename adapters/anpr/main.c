/* main.c: tocsin-anpr, the ANPR hotlist adapter (issue #8).
 *
 * Two threads: this one reads camera reads (stdin or a ZeroMQ PULL),
 * matches them against the hotlist and queues hits; publisher.c publishes
 * them over the bus. Signals are blocked everywhere and only let in while
 * this thread waits for input (ppoll), so SIGTERM, SIGINT and SIGHUP are
 * handled between two lines, never in the middle of one. */
#include "anpr_log.h"
#include "hotlist.h"
#include "input.h"
#include "match.h"
#include "publish_queue.h"
#include "publisher.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef TOCSIN_VERSION
#define TOCSIN_VERSION "unknown" /* the Makefile gives it (mk/install.mk) */
#endif

#define EXIT_USAGE 2

static const char usage_text[] =
"NAME\n"
"    tocsin-anpr - alert Tocsin when a camera reads a hotlisted number plate\n"
"\n"
"SYNOPSIS\n"
"    tocsin-anpr --hotlist FILE --bus-ingest ENDPOINT --bus-server-key KEY\n"
"                --bus-key FILE --state FILE [--zmq ENDPOINT] [OPTIONS]\n"
"    tocsin-anpr --hotlist FILE --print [--zmq ENDPOINT] [OPTIONS]\n"
"\n"
"DESCRIPTION\n"
"    Reads ANPR camera reads, one JSON object per line, from standard input\n"
"    (or from a ZeroMQ PULL socket with --zmq):\n"
"\n"
"      {\"plate\":\"AB12 CDE\",\"camera\":\"cam-17\",\"lat\":51.51,\"lon\":-0.09,\n"
"       \"time\":\"2026-11-22T10:00:00Z\"}\n"
"\n"
"    Plates are compared upper-cased with spaces and hyphens removed. A read\n"
"    of a plate on the hotlist publishes one alert over the Tocsin bus\n"
"    (docs/bus.md) to the sites within --radius-m of the camera: category\n"
"    offender (CAP \"Security\"), urgency immediate, certainty observed, the\n"
"    hotlist's severity and reason, the plate, camera and time in the body,\n"
"    an area circle around the camera with targets {\"area\":true}, and the\n"
"    hotlist image (uploaded once with a bus \"image\" request). Further\n"
"    reads of the same plate within --fold-seconds publish nothing (they\n"
"    are counted). Malformed lines are counted, logged and skipped.\n"
"\n"
"    The hotlist is a file of JSON lines, loaded at start and again on SIGHUP:\n"
"\n"
"      {\"plate\":\"AB12 CDE\",\"reason\":\"Stolen in a burglary\",\n"
"       \"severity\":\"severe\",\"image\":\"ab12cde.jpg\",\n"
"       \"expires\":\"2026-12-01T00:00:00Z\"}\n"
"\n"
"    severity: minor, moderate, severe or extreme; reason: 1 to 500\n"
"    characters; image (optional): a JPEG or PNG of at most 2 MiB, relative\n"
"    to the hotlist's folder; expires (optional, RFC 3339): entries past it\n"
"    are ignored. Bad lines are logged with their number and skipped.\n"
"\n"
"    Publishing never holds up reading: hits wait in a bounded queue; when\n"
"    it is full a hit is dropped and logged (the next read of that plate\n"
"    alerts). Each bus request takes its sequence number from the --state\n"
"    file (written and fsync'd first), so resends and restarts never publish\n"
"    an alert twice.\n"
"\n"
"OPTIONS\n"
"    --hotlist FILE          the hotlist (required)\n"
"    --zmq ENDPOINT          bind a ZeroMQ PULL socket here (e.g.\n"
"                            tcp://127.0.0.1:7301 or ipc:///run/anpr.sock) and\n"
"                            read from it instead of stdin; each message is\n"
"                            one read or several separated by newlines. It has\n"
"                            no authentication: bind it to 127.0.0.1 or ipc.\n"
"    --bus-ingest ENDPOINT   the broker's bus ingest socket (tocsind\n"
"                            --bus-ingest), e.g. tcp://127.0.0.1:7201\n"
"    --bus-server-key KEY    the broker's public key: 40 characters of Z85, or\n"
"                            a key file (e.g. bus_server.key.pub)\n"
"    --bus-key FILE          this adapter's key pair (tocsinctl adapter add\n"
"                            NAME --user USER --out FILE; the user must be a\n"
"                            controller or analyst)\n"
"    --state FILE            the sequence-number file (created if missing)\n"
"    --print                 write each publish request to stdout, one JSON line,\n"
"                            instead of publishing (no bus options needed)\n"
"    --radius-m N            radius of the alert's area around the camera,\n"
"                            1 to 50000 metres (default 500)\n"
"    --fold-seconds N        one alert per plate per N seconds, 0 to 86400\n"
"                            (default 300; 0 alerts on every read)\n"
"    --queue N               hits waiting to be published, 1 to 100000\n"
"                            (default 1024)\n"
"    --timeout-seconds N     give up on one bus request after N seconds,\n"
"                            1 to 3600 (default 30); it is resent every 2 s\n"
"    --drain-seconds N       on SIGTERM, keep publishing queued hits for at\n"
"                            most N seconds, 0 to 600 (default 5); the rest is\n"
"                            abandoned with a log line\n"
"    --log-level LEVEL       debug, info (default), warn or error\n"
"    --help                  this text\n"
"\n"
"SIGNALS\n"
"    SIGTERM, SIGINT  stop reading, drain the queue (--drain-seconds), exit 0\n"
"    SIGHUP           reload the hotlist (kept as it was if the file cannot\n"
"                     be read); fold times of plates still listed are kept\n"
"    At the end of standard input the queue is drained and the adapter exits.\n"
"\n"
"OUTPUT\n"
"    Logs go to stderr, one line each. The last line sums up: reads,\n"
"    malformed, hits, folded, expired, dropped, published, failed, abandoned.\n"
"\n"
"EXIT STATUS\n"
"    0 stopped cleanly; 1 could not start (hotlist, bus, input); 2 usage.\n";

static volatile sig_atomic_t stop_signal; /* set by the handler: the signal number */
static volatile sig_atomic_t reload_requested;

/* Only flags: everything else happens in the loop. */
static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_requested = 1;
	else
		stop_signal = sig;
}

struct options {
	const char *hotlist, *zmq, *state;
	int radius_m, fold_s, queue, timeout_s, drain_s;
	struct publisher_conf pub;
};

/* The reading thread's state, handed to the line callback. */
struct reader {
	struct hotlist hl;
	struct pubq *q;
	int64_t fold_ms;
	struct match_counts n;
	uint64_t dropped;
	struct anpr_hit hit; /* scratch for match_line */
};

/* A whole number in [lo, hi] or a usage error naming the option. */
static int parse_int(const char *opt, const char *s, int lo, int hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "tocsin-anpr: --%s must be a whole number from %d to %d (got '%s')\n",
			opt, lo, hi, s);
		return -1;
	}
	*out = (int)v;
	return 0;
}

/* --bus-server-key: a Z85 key itself, or a key file holding it. */
static int server_key(const char *arg, char out[BUS_KEY_Z85])
{
	struct bus_key k;
	struct stat st;

	if (strlen(arg) == BUS_KEY_Z85 - 1 && stat(arg, &st)) {
		memcpy(out, arg, BUS_KEY_Z85);
		return 0;
	}
	if (bus_key_load(arg, &k))
		return -1;
	memcpy(out, k.public_z85, BUS_KEY_Z85);
	return 0;
}

/* Fills *o from argv. 0, 1 after --help, -1 on a usage error (said). */
static int parse_options(int argc, char **argv, struct options *o)
{
	enum { O_HOTLIST = 256, O_ZMQ, O_INGEST, O_SKEY, O_KEY, O_STATE, O_PRINT, O_RADIUS,
	       O_FOLD, O_QUEUE, O_TIMEOUT, O_DRAIN, O_LOG, O_HELP, O_VERSION };
	static const struct option longs[] = {
		{ "hotlist", required_argument, NULL, O_HOTLIST },
		{ "zmq", required_argument, NULL, O_ZMQ },
		{ "bus-ingest", required_argument, NULL, O_INGEST },
		{ "bus-server-key", required_argument, NULL, O_SKEY },
		{ "bus-key", required_argument, NULL, O_KEY },
		{ "state", required_argument, NULL, O_STATE },
		{ "print", no_argument, NULL, O_PRINT },
		{ "radius-m", required_argument, NULL, O_RADIUS },
		{ "fold-seconds", required_argument, NULL, O_FOLD },
		{ "queue", required_argument, NULL, O_QUEUE },
		{ "timeout-seconds", required_argument, NULL, O_TIMEOUT },
		{ "drain-seconds", required_argument, NULL, O_DRAIN },
		{ "log-level", required_argument, NULL, O_LOG },
		{ "help", no_argument, NULL, O_HELP },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	const char *skey = NULL, *key = NULL;
	enum alog_level level;
	int c, bad = 0;

	memset(o, 0, sizeof *o);
	o->radius_m = 500;
	o->fold_s = 300;
	o->queue = 1024;
	o->timeout_s = 30;
	o->drain_s = 5;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (c) {
		case O_HOTLIST: o->hotlist = optarg; break;
		case O_ZMQ: o->zmq = optarg; break;
		case O_INGEST: o->pub.endpoint = optarg; break;
		case O_SKEY: skey = optarg; break;
		case O_KEY: key = optarg; break;
		case O_STATE: o->state = optarg; break;
		case O_PRINT: o->pub.print_only = 1; break;
		case O_RADIUS: bad |= parse_int("radius-m", optarg, 1, 50000, &o->radius_m); break;
		case O_FOLD: bad |= parse_int("fold-seconds", optarg, 0, 86400, &o->fold_s); break;
		case O_QUEUE: bad |= parse_int("queue", optarg, 1, 100000, &o->queue); break;
		case O_TIMEOUT: bad |= parse_int("timeout-seconds", optarg, 1, 3600, &o->timeout_s); break;
		case O_DRAIN: bad |= parse_int("drain-seconds", optarg, 0, 600, &o->drain_s); break;
		case O_LOG:
			if (alog_level_from_name(optarg, &level)) {
				fprintf(stderr, "tocsin-anpr: --log-level must be debug, info, warn or error\n");
				bad = 1;
			} else {
				alog_set_level(level);
			}
			break;
		case O_HELP: fputs(usage_text, stdout); return 1;
		case O_VERSION: printf("tocsin-anpr %s\n", TOCSIN_VERSION); return 1;
		default:
			fprintf(stderr, "tocsin-anpr: unknown option or missing value: %s\n",
				argv[optind - 1]);
			bad = 1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tocsin-anpr: unexpected argument '%s'\n", argv[optind]);
		bad = 1;
	}
	if (!o->hotlist) {
		fprintf(stderr, "tocsin-anpr: --hotlist FILE is required\n");
		bad = 1;
	}
	if (!o->pub.print_only && (!o->pub.endpoint || !skey || !key || !o->state)) {
		fprintf(stderr, "tocsin-anpr: --bus-ingest, --bus-server-key, --bus-key and --state "
				"are required (or --print)\n");
		bad = 1;
	}
	if (bad) {
		fprintf(stderr, "Try 'tocsin-anpr --help'.\n");
		return -1;
	}
	if (!o->pub.print_only && (server_key(skey, o->pub.server_public) ||
				   bus_key_load(key, &o->pub.key)))
		return -2;
	o->pub.state_file = o->state;
	o->pub.radius_m = o->radius_m;
	o->pub.timeout_ms = o->timeout_s * 1000;
	o->pub.resend_ms = 2000;
	return 0;
}

/* Logs a malformed line: the first 20, then every 1000th, so a broken
 * camera cannot flood the log. */
static void log_bad(const struct reader *r, const char *field, const char *message)
{
	if (r->n.bad <= 20 || r->n.bad % 1000 == 0)
		alog_warn("read %" PRIu64 ": malformed, skipped (%" PRIu64 " so far): %s%s%s",
			  r->n.reads, r->n.bad, field ? field : "", field ? ": " : "", message);
}

/* Every input line comes through here. */
static void on_line(void *ctx, const char *line, size_t len, int too_long)
{
	struct reader *r = ctx;
	struct scan_error err;
	enum match_result m;

	if (too_long) {
		r->n.reads++;
		r->n.bad++;
		log_bad(r, NULL, "line longer than 8192 bytes");
		return;
	}
	m = match_line(&r->hl, line, len, wall_ms(), mono_ms(), r->fold_ms, &r->n, &r->hit, &err);
	if (m == MATCH_BAD)
		log_bad(r, err.field, err.message);
	else if (m == MATCH_FOLDED || m == MATCH_EXPIRED)
		alog_debug("read %" PRIu64 ": %s (%" PRIu64 " folded, %" PRIu64 " expired so far)",
			   r->n.reads, m == MATCH_FOLDED ? "a hotlisted plate alerted within the fold window"
							 : "a hotlisted plate past its expiry",
			   r->n.folded, r->n.expired);
	if (m != MATCH_HIT)
		return;
	if (pubq_push(r->q, &r->hit)) {
		r->dropped++;
		match_unfold(&r->hl, r->hit.read.plate);
		if (r->dropped <= 20 || r->dropped % 1000 == 0)
			alog_warn("plate %s at %s: publish queue full, alert dropped (%" PRIu64
				  " so far)", r->hit.read.plate, r->hit.read.camera, r->dropped);
		return;
	}
	alog_info("plate %s: hotlist hit at %s", r->hit.read.plate, r->hit.read.camera);
}

/* One line per load, so the operator sees what was skipped. */
static void log_hotlist(const char *what, const char *path, const struct hotlist_stats *st)
{
	alog_info("hotlist %s %s: %zu plates (%zu lines, %zu expired, %zu bad, %zu repeated)",
		  path, what, st->loaded, st->lines, st->expired, st->bad, st->replaced);
}

/* SIGHUP: a new table, or the old one when the file cannot be read
 * (-1). */
static int reload(struct reader *r, const char *path)
{
	struct hotlist fresh;
	struct hotlist_stats st;

	if (hotlist_load(path, wall_ms(), &fresh, &st)) {
		alog_warn("hotlist %s: reload failed; keeping the %zu plates loaded before", path,
			  r->hl.count);
		return -1;
	}
	hotlist_carry_folds(&r->hl, &fresh);
	hotlist_free(&r->hl);
	r->hl = fresh;
	log_hotlist("reloaded", path, &st);
	return 0;
}

/* After the input ends or a stop signal: let the publisher drain (a stop
 * signal during this shortens it to --drain-seconds) and wait for it. */
static void drain(struct publisher *p, struct pubq *q, int drain_s, const sigset_t *stops)
{
	struct timespec tick = { 0, 100 * 1000000L };

	if (stop_signal)
		pubq_close(q, mono_ms() + (int64_t)drain_s * 1000);
	else
		pubq_close(q, 0);
	while (!atomic_load(&p->done)) {
		int sig = sigtimedwait(stops, NULL, &tick);

		if (sig == SIGTERM || sig == SIGINT) {
			alog_info("signal %d: stopping within %d s", sig, drain_s);
			pubq_close(q, mono_ms() + (int64_t)drain_s * 1000);
		}
	}
	publisher_join(p);
}

/* Start, read until EOF or a stop signal, drain, sum up. 0 or 1. */
static int run(struct options *o)
{
	struct reader *r = calloc(1, sizeof *r);
	struct hotlist_stats st;
	struct publisher pub;
	struct input in;
	struct pubq q;
	sigset_t stops, wait_mask;
	int rc = 1, in_rc = 1;

	if (!r)
		return 1;
	sigemptyset(&stops);
	sigaddset(&stops, SIGTERM);
	sigaddset(&stops, SIGINT);
	sigaddset(&stops, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stops, &wait_mask);
	sigdelset(&wait_mask, SIGTERM);
	sigdelset(&wait_mask, SIGINT);
	sigdelset(&wait_mask, SIGHUP);
	if (hotlist_load(o->hotlist, wall_ms(), &r->hl, &st))
		goto out_reader;
	log_hotlist("loaded", o->hotlist, &st);
	r->fold_ms = (int64_t)o->fold_s * 1000;
	if (pubq_init(&q, (size_t)o->queue)) {
		alog_error("out of memory");
		goto out_hotlist;
	}
	r->q = &q;
	if ((o->zmq ? input_open_zmq(&in, o->zmq) : input_open_stdin(&in)))
		goto out_queue;
	if (publisher_start(&pub, &o->pub, &q))
		goto out_input;
	alog_info("matching: radius %d m, fold %d s, %s", o->radius_m, o->fold_s,
		  o->pub.print_only ? "printing alerts to stdout" : "publishing on the bus");
	while (!stop_signal && in_rc > 0) {
		if (reload_requested) {
			reload_requested = 0;
			if (reload(r, o->hotlist) == 0)
				publisher_hotlist_reloaded(&pub);
		}
		in_rc = input_pump(&in, &wait_mask, on_line, r);
	}
	if (stop_signal)
		alog_info("signal %d: stopping", (int)stop_signal);
	else if (in_rc == 0)
		alog_info("end of input: publishing what is queued, then stopping");
	drain(&pub, &q, o->drain_s, &stops);
	alog_info("stopped: %" PRIu64 " reads, %" PRIu64 " malformed, %" PRIu64 " hits, %" PRIu64
		  " folded, %" PRIu64 " expired, %" PRIu64 " dropped (queue full), %lu published, "
		  "%lu duplicates, %lu failed, %lu abandoned, %lu images uploaded",
		  r->n.reads, r->n.bad, r->n.hits, r->n.folded, r->n.expired, r->dropped,
		  atomic_load(&pub.counts.published), atomic_load(&pub.counts.duplicates),
		  atomic_load(&pub.counts.failed), atomic_load(&pub.counts.abandoned),
		  atomic_load(&pub.counts.images));
	rc = in_rc < 0 ? 1 : 0;
out_input:
	input_close(&in);
out_queue:
	pubq_destroy(&q);
out_hotlist:
	hotlist_free(&r->hl);
out_reader:
	free(r);
	return rc;
}

/* Handlers are plain flags; the loop does the work. */
int main(int argc, char **argv)
{
	struct sigaction sa;
	struct options o;
	int rc = parse_options(argc, argv, &o);

	if (rc == 1)
		return 0;
	if (rc == -1)
		return EXIT_USAGE;
	if (rc < 0)
		return 1;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal; /* no SA_RESTART: a signal ends ppoll at once */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return run(&o);
}
