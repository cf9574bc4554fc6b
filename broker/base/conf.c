/* conf.c: settings from flags and environment (see conf.h). */
#include "conf.h"
#include "log.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: tocsind [options]\n"
	"\n"
	"Tocsin's broker: serves the consoles and the tocsin.v1 WebSocket protocol.\n"
	"\n"
	"  --listen HOST:PORT     address to listen on (TOCSIN_LISTEN; default 127.0.0.1:8080)\n"
	"  --database URL         PostgreSQL conninfo or URI (DATABASE_URL; required)\n"
	"  --web-root DIR         console files to serve (TOCSIN_WEB_ROOT; default ./web-client)\n"
	"  --token-key FILE       32-byte token key, created if missing (TOCSIN_TOKEN_KEY;\n"
	"                         default ./var/secrets/token.key)\n"
	"  --audit-key FILE       32-byte key sealing the audit trail, created if missing\n"
	"                         (TOCSIN_AUDIT_KEY; default: audit.key beside the token key)\n"
	"  --token-ttl SECONDS    lifetime of a sign-in token (default 28800)\n"
	"  --max-frame BYTES      largest client message (default 65536)\n"
	"  --auth-timeout SECONDS time allowed before hello (default 10)\n"
	"  --signin-workers N     password-checking threads, 64 MiB each (default 2)\n"
	"  --queue-max-msgs N     per-connection outbound queue, messages (default 4096)\n"
	"  --queue-max-bytes N    per-connection outbound queue, bytes (default 4194304)\n"
	"  --ping-interval SECS   WebSocket ping when idle; peers silent for twice this\n"
	"                         long are dropped (default 25)\n"
	"  --log-level LEVEL      debug, info, warn or error (TOCSIN_LOG_LEVEL; default info)\n"
	"  --journal FILE         local journal used while PostgreSQL is unreachable\n"
	"                         (TOCSIN_JOURNAL; default ./var/journal/tocsin.journal)\n"
	"  --escalate-after SECS  re-send and raise a severe or extreme alert a site has\n"
	"                         not acknowledged after this long (default 120)\n"
	"  --node-id N            this broker's number, 0 to 15, unique among brokers\n"
	"                         sharing one database (default 0)\n"
	"  --allowed-origin URL   a browser Origin allowed to open the WebSocket\n"
	"                         (repeatable; default http://127.0.0.1:PORT and\n"
	"                         http://localhost:PORT); requests without Origin pass\n"
	"  --rate-limit N         client messages per second per connection (default 200,\n"
	"                         bursts of twice that)\n"
	"  --max-connections-per-address N  (default 5000)\n"
	"  --max-connections N    WebSocket connections in all (default 19000)\n"
	"  --tls-cert FILE        PEM certificate (chain) for https and wss (TOCSIN_TLS_CERT);\n"
	"                         with --tls-key the port speaks TLS 1.2+ only\n"
	"  --tls-key FILE         PEM private key of --tls-cert (TOCSIN_TLS_KEY)\n"
	"  --user NAME            when started as root: read every key and certificate,\n"
	"                         then run as this user (TOCSIN_USER)\n"
	"  --allow-root           keep running as root without --user (TOCSIN_ALLOW_ROOT=1)\n"
	"  --bus-ingest ENDPOINT  bind the ZeroMQ ROUTER for adapters here, e.g.\n"
	"                         tcp://127.0.0.1:7201 (docs/bus.md; default: off)\n"
	"  --bus-events ENDPOINT  bind the ZeroMQ PUB event stream here (default: off)\n"
	"  --bus-key FILE         the broker's CURVE key pair (tocsinctl bus keygen);\n"
	"                         required with --bus-ingest or --bus-events\n"
	"  --help                 this text\n";

static int parse_listen(struct conf *c, const char *arg)
{
	const char *colon = strrchr(arg, ':');
	char *end;
	long port;

	if (!colon || colon == arg || (size_t)(colon - arg) >= sizeof c->listen_host) {
		fprintf(stderr, "tocsind: --listen wants HOST:PORT, got '%s'\n", arg);
		return -1;
	}
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535) {
		fprintf(stderr, "tocsind: --listen port must be 1 to 65535, got '%s'\n", colon + 1);
		return -1;
	}
	memcpy(c->listen_host, arg, (size_t)(colon - arg));
	c->listen_host[colon - arg] = '\0';
	c->port = (int)port;
	return 0;
}

static int parse_long(const char *flag, const char *arg, long min, long max, long *out)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (!*arg || *end || v < min || v > max) {
		fprintf(stderr, "tocsind: %s must be a number from %ld to %ld, got '%s'\n", flag,
			min, max, arg);
		return -1;
	}
	*out = v;
	return 0;
}

enum { OPT_LISTEN = 1, OPT_DATABASE, OPT_WEB_ROOT, OPT_TOKEN_KEY, OPT_TOKEN_TTL, OPT_MAX_FRAME,
       OPT_AUTH_TIMEOUT, OPT_SIGNIN_WORKERS, OPT_QUEUE_MSGS, OPT_QUEUE_BYTES, OPT_PING,
       OPT_LOG_LEVEL, OPT_JOURNAL, OPT_ESCALATE, OPT_NODE, OPT_ORIGIN, OPT_RATE,
       OPT_PER_ADDRESS, OPT_MAX_CONN, OPT_AUDIT_KEY, OPT_HELP,
       OPT_TLS_CERT, OPT_TLS_KEY, OPT_USER, OPT_ALLOW_ROOT,
       OPT_BUS_INGEST, OPT_BUS_EVENTS, OPT_BUS_KEY };

static const struct option options[] = {
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "database", required_argument, NULL, OPT_DATABASE },
	{ "web-root", required_argument, NULL, OPT_WEB_ROOT },
	{ "token-key", required_argument, NULL, OPT_TOKEN_KEY },
	{ "token-ttl", required_argument, NULL, OPT_TOKEN_TTL },
	{ "max-frame", required_argument, NULL, OPT_MAX_FRAME },
	{ "auth-timeout", required_argument, NULL, OPT_AUTH_TIMEOUT },
	{ "signin-workers", required_argument, NULL, OPT_SIGNIN_WORKERS },
	{ "queue-max-msgs", required_argument, NULL, OPT_QUEUE_MSGS },
	{ "queue-max-bytes", required_argument, NULL, OPT_QUEUE_BYTES },
	{ "ping-interval", required_argument, NULL, OPT_PING },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "journal", required_argument, NULL, OPT_JOURNAL },
	{ "escalate-after", required_argument, NULL, OPT_ESCALATE },
	{ "node-id", required_argument, NULL, OPT_NODE },
	{ "allowed-origin", required_argument, NULL, OPT_ORIGIN },
	{ "rate-limit", required_argument, NULL, OPT_RATE },
	{ "max-connections-per-address", required_argument, NULL, OPT_PER_ADDRESS },
	{ "max-connections", required_argument, NULL, OPT_MAX_CONN },
	{ "audit-key", required_argument, NULL, OPT_AUDIT_KEY },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
	{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
	{ "user", required_argument, NULL, OPT_USER },
	{ "allow-root", no_argument, NULL, OPT_ALLOW_ROOT },
	{ "bus-ingest", required_argument, NULL, OPT_BUS_INGEST },
	{ "bus-events", required_argument, NULL, OPT_BUS_EVENTS },
	{ "bus-key", required_argument, NULL, OPT_BUS_KEY },
	{ NULL, 0, NULL, 0 },
};

static int apply(struct conf *c, int opt, const char *arg)
{
	long v;
	enum log_level level;

	switch (opt) {
	case OPT_LISTEN: return parse_listen(c, arg);
	case OPT_DATABASE: c->database = arg; return 0;
	case OPT_WEB_ROOT: c->web_root = arg; return 0;
	case OPT_TOKEN_KEY: c->token_key = arg; return 0;
	case OPT_TOKEN_TTL:
		if (parse_long("--token-ttl", arg, 1, 7 * 86400, &v)) return -1;
		c->token_ttl = (int)v; return 0;
	case OPT_MAX_FRAME:
		if (parse_long("--max-frame", arg, 256, 16 << 20, &v)) return -1;
		c->max_frame = (size_t)v; return 0;
	case OPT_AUTH_TIMEOUT:
		if (parse_long("--auth-timeout", arg, 1, 600, &v)) return -1;
		c->auth_timeout = (int)v; return 0;
	case OPT_SIGNIN_WORKERS:
		if (parse_long("--signin-workers", arg, 1, 16, &v)) return -1;
		c->signin_workers = (int)v; return 0;
	case OPT_QUEUE_MSGS:
		if (parse_long("--queue-max-msgs", arg, 8, 1 << 20, &v)) return -1;
		c->queue_max_msgs = (unsigned)v; return 0;
	case OPT_QUEUE_BYTES:
		if (parse_long("--queue-max-bytes", arg, 4096, 1L << 30, &v)) return -1;
		c->queue_max_bytes = (size_t)v; return 0;
	case OPT_PING:
		if (parse_long("--ping-interval", arg, 1, 3600, &v)) return -1;
		c->ping_interval = (int)v; return 0;
	case OPT_JOURNAL: c->journal = arg; return 0;
	case OPT_ESCALATE:
		if (parse_long("--escalate-after", arg, 1, 86400, &v)) return -1;
		c->escalate_after = (int)v; return 0;
	case OPT_NODE:
		if (parse_long("--node-id", arg, 0, 15, &v)) return -1;
		c->node_id = (int)v; return 0;
	case OPT_AUDIT_KEY: c->audit_key = arg; return 0;
	case OPT_TLS_CERT: c->tls_cert = arg; return 0;
	case OPT_TLS_KEY: c->tls_key = arg; return 0;
	case OPT_USER: c->run_user = arg; return 0;
	case OPT_ALLOW_ROOT: c->allow_root = 1; return 0;
	case OPT_BUS_INGEST: c->bus_ingest = arg; return 0;
	case OPT_BUS_EVENTS: c->bus_events = arg; return 0;
	case OPT_BUS_KEY: c->bus_key = arg; return 0;
	case OPT_ORIGIN:
		if (c->n_origins >= 16) {
			fprintf(stderr, "tocsind: at most 16 --allowed-origin\n");
			return -1;
		}
		c->origins[c->n_origins++] = arg; return 0;
	case OPT_RATE:
		if (parse_long("--rate-limit", arg, 1, 100000, &v)) return -1;
		c->rate_per_sec = (int)v; return 0;
	case OPT_PER_ADDRESS:
		if (parse_long("--max-connections-per-address", arg, 1, 100000, &v)) return -1;
		c->max_per_address = (int)v; return 0;
	case OPT_MAX_CONN:
		if (parse_long("--max-connections", arg, 1, 1000000, &v)) return -1;
		c->max_connections = (int)v; return 0;
	case OPT_LOG_LEVEL:
		if (log_level_from_name(arg, &level)) {
			fprintf(stderr, "tocsind: --log-level must be debug, info, warn or error\n");
			return -1;
		}
		c->log_level = (int)level; return 0;
	}
	return -1;
}

int conf_load(struct conf *c, int argc, char **argv)
{
	const char *env;
	int opt;

	memset(c, 0, sizeof *c);
	strcpy(c->listen_host, "127.0.0.1");
	c->port = 8080;
	c->web_root = "./web-client";
	c->token_key = "./var/secrets/token.key";
	c->token_ttl = 8 * 3600;
	c->max_frame = 65536;
	c->auth_timeout = 10;
	c->signin_workers = 2;
	c->queue_max_msgs = 4096;
	c->queue_max_bytes = 4 << 20;
	c->ping_interval = 25;
	c->log_level = LOG_INFO;
	c->journal = "./var/journal/tocsin.journal";
	c->escalate_after = 120;
	c->rate_per_sec = 200;
	c->max_per_address = 5000;
	c->max_connections = 19000;

	if ((env = getenv("TOCSIN_LISTEN")) && apply(c, OPT_LISTEN, env)) return -1;
	if ((env = getenv("DATABASE_URL"))) c->database = env;
	if ((env = getenv("TOCSIN_WEB_ROOT"))) c->web_root = env;
	if ((env = getenv("TOCSIN_TOKEN_KEY"))) c->token_key = env;
	if ((env = getenv("TOCSIN_JOURNAL"))) c->journal = env;
	if ((env = getenv("TOCSIN_AUDIT_KEY"))) c->audit_key = env;
	if ((env = getenv("TOCSIN_LOG_LEVEL")) && apply(c, OPT_LOG_LEVEL, env)) return -1;
	if ((env = getenv("TOCSIN_TLS_CERT")) && *env) c->tls_cert = env;
	if ((env = getenv("TOCSIN_TLS_KEY")) && *env) c->tls_key = env;
	if ((env = getenv("TOCSIN_USER")) && *env) c->run_user = env;
	if ((env = getenv("TOCSIN_ALLOW_ROOT")) && !strcmp(env, "1")) c->allow_root = 1;

	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (opt == OPT_HELP) {
			fputs(usage, stdout);
			return 1;
		}
		if (opt == '?' || apply(c, opt, optarg)) {
			fputs(usage, stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tocsind: unexpected argument '%s'\n%s", argv[optind], usage);
		return -1;
	}
	if (!c->tls_cert != !c->tls_key) {
		fprintf(stderr, "tocsind: --tls-cert and --tls-key go together: give both or neither\n");
		return -1;
	}
	if ((c->bus_ingest || c->bus_events) && !c->bus_key) {
		fprintf(stderr, "tocsind: --bus-ingest and --bus-events need --bus-key FILE "
			"(make one with tocsinctl bus keygen --out FILE)\n");
		return -1;
	}
	if (!c->database || !*c->database) {
		fprintf(stderr, "tocsind: no database: give --database or set DATABASE_URL\n");
		return -1;
	}
	return 0;
}
