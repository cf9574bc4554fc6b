/* conf.c: the broker's settings, one table for all of them (see conf.h).
 *
 * A value is looked for on the command line, then in the environment, then
 * in the configuration file, then the default is taken. The file is INI
 * ("name = value" lines, "#" or ";" comments, no sections), read with
 * libinih, a small parser that Debian packages and keeps, rather than one
 * of our own; libinih knows no line numbers and cuts long lines, so the
 * reader below counts lines, and refuses a line that does not fit
 * (INI_LINE_MAX) instead of letting its rest be read as another line.
 * Start-up only, one thread. */
#include "conf.h"
#include "admission.h"
#include "log.h"

#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum type { T_TEXT, T_INT, T_UINT, T_SIZE, T_BOOL, T_LISTEN, T_URL, T_ORIGINS, T_LEVEL,
	    T_FORMAT, T_CIDRS };

#define SECRET 1u /* conf_print masks its password */
#define LIVE 2u   /* the file it names is reread while running: no restart */
#define RELOAD 4u /* SIGHUP takes a new value (conf_reload): no restart */
#define HIDDEN 8u /* conf_print shows **** for it */
#define REREAD 16u /* SIGHUP rereads the file it names (not its name) */

struct setting {
	const char *name; /* in the file; the flag is --name */
	const char *env;  /* its environment variable */
	enum type type;
	size_t off;       /* its field in struct conf */
	long min, max;    /* T_INT, T_UINT, T_SIZE */
	const char *def;  /* the default, as text; NULL: none */
	const char *arg;  /* the value's name in --help */
	const char *help;
	unsigned flags;
};

#define AT(field) offsetof(struct conf, field)

static const struct setting table[] = {
	{ "listen", "TOCSIN_LISTEN", T_LISTEN, 0, 0, 0, "127.0.0.1:8080", "HOST:PORT",
	  "address and port to serve the consoles and the WebSocket on", 0 },
	{ "public-url", "TOCSIN_PUBLIC_URL", T_URL, AT(public_url), 0, 0, NULL, "URL",
	  "the address people open, e.g. https://tocsin.force.example: the browser origin "
	  "allowed to connect (default port left out, as browsers do) and the base of the "
	  "links in exported CAP documents", 0 },
	{ "allowed-origin", "TOCSIN_ALLOWED_ORIGIN", T_ORIGINS, 0, 0, 0, NULL, "URL",
	  "another browser Origin allowed to open the WebSocket (repeatable; in the file "
	  "and the environment, a list separated by spaces). Without these and "
	  "public-url: the http and https origins of 127.0.0.1 and localhost on the port "
	  "(https only with TLS, and the listen address too). Requests without Origin "
	  "pass", 0 },
	{ "database", "DATABASE_URL", T_TEXT, AT(database), 0, 0, NULL, "URL",
	  "PostgreSQL conninfo or URI for the role tocsin_broker (required)", SECRET },
	{ "web-root", "TOCSIN_WEB_ROOT", T_TEXT, AT(web_root), 0, 0, "./web-client", "DIR",
	  "the consoles' files to serve", 0 },
	{ "token-key", "TOCSIN_TOKEN_KEY", T_TEXT, AT(token_key), 0, 0, "./var/secrets/token.key",
	  "FILE", "32-byte key signing sign-in tokens (tocsinctl keys init); FILE.prev, when "
	  "present, is accepted too (tocsinctl keys rotate)", LIVE },
	{ "audit-key", "TOCSIN_AUDIT_KEY", T_TEXT, AT(audit_key), 0, 0, NULL, "FILE",
	  "32-byte key sealing the audit trail (tocsinctl keys init; default: audit.key "
	  "beside the token key)", 0 },
	{ "alert-key", "TOCSIN_ALERT_KEY", T_TEXT, AT(alert_key), 0, 0, NULL, "FILE",
	  "32-byte Ed25519 seed signing every alert, with FILE.pub the public keys "
	  "(tocsinctl keys init; default: alert_sign.key beside the token key)", 0 },
	{ "cap-sign-key", "TOCSIN_CAP_SIGN_KEY", T_TEXT, AT(cap_sign_key), 0, 0, NULL, "FILE",
	  "PEM ECDSA P-256 key signing CAP exports (tocsinctl keys init; default: "
	  "cap_sign.key beside the token key; no file: exports are not signed)", 0 },
	{ "journal", "TOCSIN_JOURNAL", T_TEXT, AT(journal), 0, 0, "./var/journal/tocsin.journal",
	  "FILE", "local journal written while PostgreSQL is unreachable", 0 },
	{ "tls-cert", "TOCSIN_TLS_CERT", T_TEXT, AT(tls_cert), 0, 0, NULL, "FILE",
	  "PEM certificate (chain) for https and wss; with tls-key the port speaks TLS 1.2+ "
	  "only", REREAD },
	{ "tls-key", "TOCSIN_TLS_KEY", T_TEXT, AT(tls_key), 0, 0, NULL, "FILE",
	  "PEM private key of tls-cert", REREAD },
	{ "tls-ticket-key", "TOCSIN_TLS_TICKET_KEY", T_TEXT, AT(tls_ticket_key), 0, 0, NULL,
	  "FILE", "32-byte key sealing TLS session tickets, so that consoles resume after a "
	  "restart and on every broker reading the same file (tocsinctl keys init; default: "
	  "ticket.key beside the token key)", LIVE },
	{ "tls-ticket-rotate", "TOCSIN_TLS_TICKET_ROTATE", T_INT, AT(tls_ticket_rotate), 2,
	  7 * 86400, "21600", "SECONDS", "a new ticket key is derived from tls-ticket-key every "
	  "this long (on the clock, the same on every broker); the previous one still opens "
	  "tickets", 0 },
	{ "user", "TOCSIN_USER", T_TEXT, AT(run_user), 0, 0, NULL, "NAME",
	  "when started as root: read every key and certificate, then run as this user", 0 },
	{ "allow-root", "TOCSIN_ALLOW_ROOT", T_BOOL, AT(allow_root), 0, 0, "no", "",
	  "keep running as root without user (yes or no)", 0 },
	{ "bus-ingest", "TOCSIN_BUS_INGEST", T_TEXT, AT(bus_ingest), 0, 0, NULL, "ENDPOINT",
	  "bind the ZeroMQ ROUTER for adapters here, e.g. tcp://127.0.0.1:7201 (docs/bus.md; "
	  "default: off)", 0 },
	{ "bus-events", "TOCSIN_BUS_EVENTS", T_TEXT, AT(bus_events), 0, 0, NULL, "ENDPOINT",
	  "bind the ZeroMQ PUB event stream here (default: off)", 0 },
	{ "bus-key", "TOCSIN_BUS_KEY", T_TEXT, AT(bus_key), 0, 0, NULL, "FILE",
	  "the broker's CURVE key pair (tocsinctl keys init, or bus keygen); required with "
	  "bus-ingest or bus-events", 0 },
	{ "node-id", "TOCSIN_NODE_ID", T_INT, AT(node_id), 0, 15, "0", "N",
	  "this broker's number, unique among brokers sharing one database", 0 },
	{ "token-ttl", "TOCSIN_TOKEN_TTL", T_INT, AT(token_ttl), 1, 7 * 86400, "28800", "SECONDS",
	  "lifetime of a sign-in token", 0 },
	{ "escalate-after", "TOCSIN_ESCALATE_AFTER", T_INT, AT(escalate_after), 1, 86400, "120",
	  "SECONDS", "re-send and raise a severe or extreme alert a site has not "
	  "acknowledged after this long", 0 },
	{ "max-frame", "TOCSIN_MAX_FRAME", T_SIZE, AT(max_frame), 256, 16 << 20, "65536", "BYTES",
	  "largest client message", RELOAD },
	{ "auth-timeout", "TOCSIN_AUTH_TIMEOUT", T_INT, AT(auth_timeout), 1, 600, "10", "SECONDS",
	  "time allowed before hello", 0 },
	{ "signin-workers", "TOCSIN_SIGNIN_WORKERS", T_INT, AT(signin_workers), 1, 16, "2", "N",
	  "password-checking threads, 64 MiB each", 0 },
	{ "lockout-account", "TOCSIN_LOCKOUT_ACCOUNT", T_INT, AT(lockout_account), 1, 100000, "5",
	  "N", "failed sign-ins of one account from one address within lockout-minutes that lock "
	  "that address out of it; as many from anywhere start the account's growing delay", 0 },
	{ "lockout-address", "TOCSIN_LOCKOUT_ADDRESS", T_INT, AT(lockout_address), 1, 100000, "20",
	  "N", "failed sign-ins from one address within lockout-minutes that lock it", 0 },
	{ "lockout-minutes", "TOCSIN_LOCKOUT_MINUTES", T_INT, AT(lockout_minutes), 1, 100000, "15",
	  "MINUTES", "the window of the sign-in lockout", 0 },
	{ "lockout-delay-max", "TOCSIN_LOCKOUT_DELAY_MAX", T_INT, AT(lockout_delay_max), 1, 3600,
	  "60", "SECONDS", "the longest delay an account's failures impose on every sign-in to "
	  "it (1 s, doubling per failure)", 0 },
	{ "queue-max-msgs", "TOCSIN_QUEUE_MAX_MSGS", T_UINT, AT(queue_max_msgs), 8, 1 << 20, "4096",
	  "N", "per-connection outbound queue, in messages", RELOAD },
	{ "queue-max-bytes", "TOCSIN_QUEUE_MAX_BYTES", T_SIZE, AT(queue_max_bytes), 4096, 1L << 30,
	  "4194304", "BYTES", "per-connection outbound queue, in bytes", RELOAD },
	{ "ping-interval", "TOCSIN_PING_INTERVAL", T_INT, AT(ping_interval), 1, 3600, "25", "SECONDS",
	  "WebSocket ping when idle; peers silent for twice this long are dropped", 0 },
	{ "rate-limit", "TOCSIN_RATE_LIMIT", T_INT, AT(rate_per_sec), 1, 100000, "200", "N",
	  "client messages per second per connection (bursts of twice that)", RELOAD },
	{ "max-connections-per-address", "TOCSIN_MAX_CONNECTIONS_PER_ADDRESS", T_INT,
	  AT(max_per_address), 1, 100000, "5000", "N", "WebSocket connections from one address "
	  "(the client's, behind trusted-proxies)", RELOAD },
	{ "max-connections", "TOCSIN_MAX_CONNECTIONS", T_INT, AT(max_connections), 1, 1000000,
	  "19000", "N", "WebSocket connections in all", RELOAD },
	/* 1,024: TLS storms of 10,000 (bench/README.md, "Admission") cost the
	 * broker 4.7-5.7 s of CPU at 128 to 2,048 and 9.7 s at 4,096, where
	 * handshakes waited so long that clients gave up on them; and 19,000
	 * connections + 1,024 + 256 fit the unit's LimitNOFILE of 20,480 */
	{ "max-handshakes", "TOCSIN_MAX_HANDSHAKES", T_INT, AT(max_handshakes), 1, 100000, "1024",
	  "N", "connections accepted and not yet signed in (TLS handshakes, HTTP requests, "
	  "WebSocket upgrades, hellos being checked); at this many the broker stops accepting "
	  "and the next wait in the kernel's listen queue until some are through", RELOAD },
	{ "listen-backlog", "TOCSIN_LISTEN_BACKLOG", T_INT, AT(listen_backlog), 16, 1000000,
	  "65535", "N", "connections the kernel queues before the broker accepts them (at most "
	  "the kernel's net.core.somaxconn)", 0 },
	{ "image-sweep-seconds", "TOCSIN_IMAGE_SWEEP_SECONDS", T_INT, AT(image_sweep_s), 1, 86400,
	  "60", "SECONDS", "how often the bytes of expired images are erased", RELOAD },
	{ "crime-retention-days", "TOCSIN_CRIME_RETENTION_DAYS", T_INT, AT(crime_retention_days), 1,
	  36600, "2557", "DAYS", "crime records older than this are erased (audited); 7 years", 0 },
	{ "crime-sweep-seconds", "TOCSIN_CRIME_SWEEP_SECONDS", T_INT, AT(crime_sweep_s), 1, 86400,
	  "3600", "SECONDS", "how often crime records past their retention are erased", 0 },
	{ "log-level", "TOCSIN_LOG_LEVEL", T_LEVEL, AT(log_level), 0, 0, "info", "LEVEL",
	  "debug, info, warn or error", RELOAD },
	{ "log-format", "TOCSIN_LOG_FORMAT", T_FORMAT, AT(log_format), 0, 0, "text", "FORMAT",
	  "text (a line per event) or json (an object per line: ts, level, msg, and session "
	  "and ref when the line is about one request); under systemd each line starts "
	  "with its syslog priority (<3> error ... <7> debug), so journalctl -p works", RELOAD },
	{ "trusted-proxies", "TOCSIN_TRUSTED_PROXIES", T_CIDRS, AT(trusted_proxies), 0, 0, NULL,
	  "CIDR", "reverse proxies whose X-Forwarded-For (or, without it, X-Real-IP) names "
	  "the client, read right to left (docs/operations.md): a list of addresses or "
	  "ranges separated by spaces, e.g. 127.0.0.1 10.0.0.0/8. The client's address is "
	  "what the sign-in lockout, max-connections-per-address and the audit use. "
	  "Anyone else's headers are ignored (default: none)", RELOAD },
	{ "metrics-allow", "TOCSIN_METRICS_ALLOW", T_CIDRS, AT(metrics_allow), 0, 0,
	  "127.0.0.1/32 ::1/128", "CIDR", "addresses or ranges that may read GET /metrics "
	  "(Prometheus text format), separated by spaces; others need metrics-token", RELOAD },
	{ "metrics-token", "TOCSIN_METRICS_TOKEN", T_TEXT, AT(metrics_token), 0, 0, NULL, "TOKEN",
	  "a bearer token (Authorization: Bearer TOKEN) that may read /metrics from any "
	  "address, at least 16 characters (default: none)", RELOAD | HIDDEN },
	{ "retention-audit-detail-days", "TOCSIN_RETENTION_AUDIT_DETAIL_DAYS", T_INT,
	  AT(retention_audit_detail_days), 0, 36500, "0", "DAYS", "erase the details of "
	  "sealed audit rows this old; the rows (who, what, when, to whom) and the seal "
	  "chain stay, and each erasure is audited (0: keep)", RELOAD },
	{ "retention-alert-days", "TOCSIN_RETENTION_ALERT_DAYS", T_INT, AT(retention_alert_days),
	  0, 36600, "2192", "DAYS", "erase alerts sent this long ago, a thread (an alert with "
	  "its updates, cancel and relays) at a time, with their recipients, deliveries and "
	  "receipts; never one in force (0: keep). Six years: MoPI's \"normally held for a "
	  "minimum of six years\"", RELOAD },
	{ "retention-delivery-days", "TOCSIN_RETENTION_DELIVERY_DAYS", T_INT,
	  AT(retention_delivery_days), 0, 36600, "2192", "DAYS", "erase the delivery records "
	  "(who received what, when) this old; the audit chain still verifies (0: keep)",
	  RELOAD },
	{ "retention-report-days", "TOCSIN_RETENTION_REPORT_DAYS", T_INT,
	  AT(retention_report_days), 0, 36600, "2192", "DAYS", "erase partner reports "
	  "received this long ago (0: keep)", RELOAD },
	{ "retention-status-days", "TOCSIN_RETENTION_STATUS_DAYS", T_INT,
	  AT(retention_status_days), 0, 36600, "2192", "DAYS", "erase status reports (the "
	  "sites' history) this old, never a site's latest (0: keep)", RELOAD },
	{ "retention-sweep-seconds", "TOCSIN_RETENTION_SWEEP_SECONDS", T_INT,
	  AT(retention_sweep_s), 1, 86400, "3600", "SECONDS", "how often what the "
	  "retention-* settings make due is erased, in short batches", RELOAD },
};

#define N_SETTINGS (int)(sizeof table / sizeof table[0])
_Static_assert(sizeof table / sizeof table[0] <= CONF_SETTINGS_MAX, "conf.h: CONF_SETTINGS_MAX");

/* The flags that are not settings. */
enum { OPT_CONFIG = 1000, OPT_CHECK, OPT_HELP, OPT_HELP_MAN, OPT_VERSION };

/* How a value is named in an error: "--name", "FILE:LINE: name" or
 * "TOCSIN_X (environment): name". */
struct origin {
	enum conf_source source;
	const char *where; /* NULL for the command line */
	int line;
};

static void fail(const struct origin *o, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(const struct origin *o, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (o->source == CONF_FILE)
		fprintf(stderr, "tocsind: %s:%d: %s ", o->where, o->line, name);
	else if (o->source == CONF_ENV)
		fprintf(stderr, "tocsind: %s (environment): %s ", o->where, name);
	else
		fprintf(stderr, "tocsind: --%s ", name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A copy of n bytes of s in c's store, or NULL when it is full. */
static const char *keep(struct conf *c, const char *s, size_t n)
{
	char *copy;

	if (n >= sizeof c->store - c->stored) {
		fprintf(stderr, "tocsind: the settings are longer than %d bytes together\n",
			CONF_STORE_BYTES);
		return NULL;
	}
	copy = c->store + c->stored;
	memcpy(copy, s, n);
	copy[n] = '\0';
	c->stored += n + 1;
	return copy;
}

static int find(const char *name)
{
	for (int i = 0; i < N_SETTINGS; i++)
		if (!strcmp(table[i].name, name))
			return i;
	return -1;
}

static int parse_listen(struct conf *c, const struct origin *o, const char *arg)
{
	const char *colon = strrchr(arg, ':');
	char *end;
	long port;

	if (!colon || colon == arg || (size_t)(colon - arg) >= sizeof c->listen_host) {
		fail(o, "listen", "wants HOST:PORT, got '%s'", arg);
		return -1;
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end || colon[1] == '\0' || port < 1 || port > 65535) {
		fail(o, "listen", "port must be 1 to 65535, got '%s'", colon + 1);
		return -1;
	}
	memcpy(c->listen_host, arg, (size_t)(colon - arg));
	c->listen_host[colon - arg] = '\0';
	c->port = (int)port;
	return 0;
}

static int parse_number(const struct setting *s, const struct origin *o, const char *arg,
			long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || !*arg || *end || v < s->min || v > s->max) {
		fail(o, s->name, "must be a number from %ld to %ld, got '%s'", s->min, s->max, arg);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_bool(const struct setting *s, const struct origin *o, const char *arg, int *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" }, *const no[] = { "no",
		"false", "off", "0" };

	for (int i = 0; i < 4; i++) {
		if (!strcasecmp(arg, yes[i]) || !strcasecmp(arg, no[i])) {
			*out = !strcasecmp(arg, yes[i]);
			return 0;
		}
	}
	fail(o, s->name, "must be yes or no, got '%s'", arg);
	return -1;
}

/* Adds the origins of a list separated by spaces or commas; a list from
 * a stronger source replaces the one before. */
static int add_origins(struct conf *c, int i, const struct origin *o, const char *list)
{
	char normal[ADMISSION_ORIGIN_MAX], one[ADMISSION_ORIGIN_MAX];

	if (c->source[i] != o->source)
		c->n_origins = 0;
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, " \t,");
		if (n == 0) {
			p++;
			continue;
		}
		snprintf(one, sizeof one, "%.*s", (int)n, p);
		if (n >= sizeof one || admission_origin_normal(one, normal, sizeof normal) != 0) {
			fail(o, "allowed-origin", "wants scheme://host[:port] (http or https), got '%s'",
			     one);
			return -1;
		}
		if (c->n_origins >= CONF_ORIGINS_MAX - 1) {
			fail(o, "allowed-origin", "takes at most %d origins", CONF_ORIGINS_MAX - 1);
			return -1;
		}
		if (!(c->origins[c->n_origins++] = keep(c, normal, strlen(normal))))
			return -1;
		p += n;
	}
	return 0;
}

/* Stores a value of one of the scalar types at its field. */
static int set_scalar(struct conf *c, const struct setting *s, const struct origin *o,
		      const char *text)
{
	char *field = (char *)c + s->off, normal[ADMISSION_ORIGIN_MAX], bad[CIDR_TEXT_MAX];
	enum log_level level;
	enum log_format format;
	long v;

	switch (s->type) {
	case T_INT:
	case T_UINT:
	case T_SIZE:
		if (parse_number(s, o, text, &v))
			return -1;
		if (s->type == T_INT)
			*(int *)(void *)field = (int)v;
		else if (s->type == T_UINT)
			*(unsigned *)(void *)field = (unsigned)v;
		else
			*(size_t *)(void *)field = (size_t)v;
		return 0;
	case T_BOOL:
		return parse_bool(s, o, text, (int *)(void *)field);
	case T_LEVEL:
		if (log_level_from_name(text, &level)) {
			fail(o, s->name, "must be debug, info, warn or error, got '%s'", text);
			return -1;
		}
		*(int *)(void *)field = (int)level;
		return 0;
	case T_FORMAT:
		if (log_format_from_name(text, &format)) {
			fail(o, s->name, "must be text or json, got '%s'", text);
			return -1;
		}
		*(int *)(void *)field = (int)format;
		return 0;
	case T_CIDRS:
		if (cidr_list_parse(text, (struct cidr_list *)(void *)field, bad, sizeof bad)) {
			fail(o, s->name, "wants addresses or ranges such as 10.0.0.0/8 (at most %d, "
			     "no host bits past the prefix), got '%s'", CIDR_LIST_MAX, bad);
			return -1;
		}
		return 0;
	case T_URL:
		if (admission_origin_normal(text, normal, sizeof normal) != 0) {
			fail(o, s->name, "wants http(s)://host[:port] without a path, got '%s'", text);
			return -1;
		}
		text = normal;
		__attribute__((fallthrough)); /* stored as text */
	case T_TEXT:
		return (*(const char **)(void *)field = keep(c, text, strlen(text))) ? 0 : -1;
	default:
		return -1;
	}
}

/* Sets row i from text, found at o; an empty text means the default. */
static int set_value(struct conf *c, int i, const struct origin *o, const char *text)
{
	const struct setting *s = &table[i];
	struct origin def = { CONF_DEFAULT, NULL, 0 };
	int rc;

	if (!*text) {
		o = &def;
		text = s->def ? s->def : "";
	}
	if (s->type == T_LISTEN)
		rc = *text ? parse_listen(c, o, text) : -1;
	else if (s->type == T_ORIGINS)
		rc = add_origins(c, i, o, text);
	else if (!*text && (s->type == T_TEXT || s->type == T_URL))
		rc = (*(const char **)(void *)((char *)c + s->off) = NULL, 0);
	else
		rc = set_scalar(c, s, o, text);
	if (rc == 0) {
		c->source[i] = (unsigned char)o->source;
		c->line[i] = o->line;
	}
	return rc;
}

/* ------------------------------------------------------------ the file */

/* What the file reader knows: libinih gives the handler no line number. */
struct file_reader {
	struct conf *c;
	FILE *f;
	const char *path;
	int line;        /* of the line last read */
	int errors;
	int first_error; /* line of the first error reported here */
};

static void file_error(struct file_reader *r, const char *what, const char *name)
{
	struct origin o = { CONF_FILE, r->path, r->line };

	fail(&o, name, "%s", what);
	if (!r->errors++)
		r->first_error = r->line;
}

/* libinih's fgets: counts lines, refuses one that does not fit its buffer
 * (num bytes with the newline and the NUL), and takes the blanks off the
 * front so that no line continues the one before. */
static char *read_line(char *str, int num, void *stream)
{
	struct file_reader *r = stream;
	size_t n, blanks;
	int ch;

	if (!fgets(str, num, r->f))
		return NULL;
	r->line++;
	n = strlen(str);
	if (n == (size_t)num - 1 && str[n - 1] != '\n' && (ch = getc(r->f)) != EOF && ch != '\n') {
		char what[64];
		while ((ch = getc(r->f)) != EOF && ch != '\n')
			;
		snprintf(what, sizeof what, "is longer than %d characters", num - 1);
		file_error(r, what, "the line");
		str[0] = '\0';
		return str;
	}
	blanks = strspn(str, " \t");
	memmove(str, str + blanks, n - blanks + 1);
	if (*str && !strchr("#;[\r\n", *str) && !strpbrk(str, "=:")) {
		/* libinih would report only the first such line */
		str[strcspn(str, "\r\n")] = '\0';
		file_error(r, "is not a setting: write name = value", str);
		str[0] = '\0';
	}
	return str;
}

/* libinih's handler: one "name = value" line. */
static int on_setting(void *user, const char *section, const char *name, const char *value)
{
	struct file_reader *r = user;
	struct origin o = { CONF_FILE, r->path, r->line };
	char what[96];
	int i = find(name);

	if (*section) {
		snprintf(what, sizeof what, "is in [%.40s]: tocsind.conf has no sections", section);
		file_error(r, what, name);
		return 0;
	}
	if (i < 0) {
		file_error(r, "is not a setting (tocsind --help lists them)", name);
		return 0;
	}
	if (r->c->source[i] == CONF_FILE) {
		snprintf(what, sizeof what, "is set twice (first on line %d)", r->c->line[i]);
		file_error(r, what, name);
		return 0;
	}
	if (set_value(r->c, i, &o, value) != 0) {
		if (!r->errors++)
			r->first_error = r->line;
		return 0;
	}
	return 1;
}

/* Reads path; a missing file is an error only when it was named. */
static int load_file(struct conf *c, const char *path, int named)
{
	struct file_reader r = { c, NULL, path, 0, 0, 0 };
	int rc;

	r.f = fopen(path, "re");
	if (!r.f) {
		if (errno == ENOENT && !named)
			return 0;
		fprintf(stderr, "tocsind: cannot read the configuration file %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	if (!(c->config = keep(c, path, strlen(path)))) {
		fclose(r.f);
		return -1;
	}
	rc = ini_parse_stream(read_line, &r, on_setting, &r);
	if (rc > 0 && (!r.errors || rc != r.first_error))
		fprintf(stderr, "tocsind: %s:%d: not a setting: write name = value\n", path, rc);
	else if (rc < 0)
		fprintf(stderr, "tocsind: %s: out of memory reading it\n", path);
	fclose(r.f);
	return rc == 0 && r.errors == 0 ? 0 : -1;
}

/* ----------------------------------------------- environment and flags */

static int load_env(struct conf *c)
{
	int errors = 0;

	for (int i = 0; i < N_SETTINGS; i++) {
		const char *v = getenv(table[i].env);
		struct origin o = { CONF_ENV, table[i].env, 0 };
		if (v && *v && set_value(c, i, &o, v) != 0)
			errors++;
	}
	return errors ? -1 : 0;
}

/* getopt_long's options: every setting (val: its row), then the others. */
static void make_options(struct option *opts)
{
	static const struct option others[] = {
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "check-config", no_argument, NULL, OPT_CHECK },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "help-man", no_argument, NULL, OPT_HELP_MAN },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	int i;

	for (i = 0; i < N_SETTINGS; i++) {
		opts[i].name = table[i].name;
		opts[i].has_arg = table[i].type == T_BOOL ? optional_argument : required_argument;
		opts[i].flag = NULL;
		opts[i].val = i;
	}
	memcpy(opts + i, others, sizeof others);
}

/* First pass over argv: what to do, and which file to read. */
static enum conf_action first_pass(int argc, char **argv, const struct option *opts,
				   const char **config)
{
	enum conf_action action = CONF_RUN;
	int opt;

	optind = 0;
	opterr = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == '?' || opt == ':') {
			fputs("tocsind: tocsind --help lists the settings\n", stderr);
			return CONF_ERROR;
		}
		if (opt == OPT_CONFIG)
			*config = optarg;
		else if (opt == OPT_CHECK && action == CONF_RUN)
			action = CONF_CHECK;
		else if (opt == OPT_VERSION)
			action = CONF_VERSION;
		else if (opt == OPT_HELP || opt == OPT_HELP_MAN) {
			conf_help(stdout, opt == OPT_HELP_MAN);
			return CONF_DONE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tocsind: unexpected argument '%s' (tocsind --help)\n", argv[optind]);
		return CONF_ERROR;
	}
	return action;
}

/* Second pass: the settings on the command line, over everything else. */
static int load_args(struct conf *c, int argc, char **argv, const struct option *opts)
{
	struct origin o = { CONF_ARGS, NULL, 0 };
	int opt, errors = 0;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt < 0 || opt >= N_SETTINGS)
			continue;
		if (set_value(c, opt, &o, optarg ? optarg : "yes") != 0)
			errors++;
	}
	return errors ? -1 : 0;
}

/* ------------------------------------------------------------ derived */

/* One more allowed origin, from parts, unless it is there already. */
static int add_origin(struct conf *c, const char *scheme, const char *host, int port)
{
	char raw[ADMISSION_ORIGIN_MAX], normal[ADMISSION_ORIGIN_MAX];

	snprintf(raw, sizeof raw, "%s://%s:%d", scheme, host, port);
	if (admission_origin_normal(raw, normal, sizeof normal) != 0)
		return 0; /* a listen address that is no host name */
	for (int i = 0; i < c->n_origins; i++)
		if (!strcmp(c->origins[i], normal))
			return 0;
	if (c->n_origins >= CONF_ORIGINS_MAX)
		return 0;
	return (c->origins[c->n_origins++] = keep(c, normal, strlen(normal))) ? 0 : -1;
}

/* Neither public-url nor allowed-origin: the origins of this machine on
 * the port, https only under TLS (the listen address too, when it names
 * one host). */
static int default_origins(struct conf *c)
{
	const char *hosts[3] = { "127.0.0.1", "localhost", c->listen_host };
	int n_hosts = strcmp(c->listen_host, "0.0.0.0") && strcmp(c->listen_host, "::") &&
				      *c->listen_host ? 3 : 2;
	int rc = 0;

	for (int h = 0; h < n_hosts; h++) {
		rc |= add_origin(c, "https", hosts[h], c->port);
		if (!c->tls_cert)
			rc |= add_origin(c, "http", hosts[h], c->port);
	}
	return rc;
}

/* A key file's default: name in the token key's folder. */
static int beside_token_key(struct conf *c, const char **value, const char *name, int opt)
{
	const char *slash;
	size_t dir;
	char path[4200];

	if (*value || !c->token_key)
		return 0;
	slash = strrchr(c->token_key, '/');
	dir = slash ? (size_t)(slash - c->token_key + 1) : 0;
	snprintf(path, sizeof path, "%.*s%s", (int)dir, c->token_key, name);
	if (!(*value = keep(c, path, strlen(path))))
		return -1;
	c->source[opt] = CONF_DERIVED;
	return 0;
}

/* What follows from the values: the key files' defaults (audit, alert and
 * CAP signing keys), the origins. */
static int derive(struct conf *c)
{
	int origins = find("allowed-origin");

	if (beside_token_key(c, &c->audit_key, "audit.key", find("audit-key")) ||
	    beside_token_key(c, &c->alert_key, "alert_sign.key", find("alert-key")) ||
	    beside_token_key(c, &c->cap_sign_key, "cap_sign.key", find("cap-sign-key")) ||
	    beside_token_key(c, &c->tls_ticket_key, "ticket.key", find("tls-ticket-key")))
		return -1;
	if (c->public_url) {
		memmove(c->origins + 1, c->origins, (size_t)c->n_origins * sizeof c->origins[0]);
		c->origins[0] = c->public_url;
		c->n_origins++;
		if (c->source[origins] == CONF_DEFAULT)
			c->source[origins] = CONF_DERIVED;
	}
	return c->n_origins ? 0 : default_origins(c);
}

/* Settings that go together. */
static int check(const struct conf *c)
{
	if (!c->tls_cert != !c->tls_key) {
		fprintf(stderr, "tocsind: --tls-cert and --tls-key go together: give both or neither\n");
		return -1;
	}
	if ((c->bus_ingest || c->bus_events) && !c->bus_key) {
		fprintf(stderr, "tocsind: --bus-ingest and --bus-events need --bus-key FILE "
			"(tocsinctl keys init makes one)\n");
		return -1;
	}
	if (c->metrics_token && strlen(c->metrics_token) < 16) {
		fprintf(stderr, "tocsind: --metrics-token must be at least 16 characters\n");
		return -1;
	}
	if (!c->database) {
		fprintf(stderr, "tocsind: no database: give --database, set DATABASE_URL, or "
			"database = URL in the configuration file\n");
		return -1;
	}
	return 0;
}

enum conf_action conf_load(struct conf *c, int argc, char **argv)
{
	struct option opts[N_SETTINGS + 6];
	const char *config = NULL, *env = getenv("TOCSIN_CONFIG");
	struct origin def = { CONF_DEFAULT, NULL, 0 };
	enum conf_action action;

	memset(c, 0, sizeof *c);
	make_options(opts);
	action = first_pass(argc, argv, opts, &config);
	if (action == CONF_DONE || action == CONF_VERSION || action == CONF_ERROR)
		return action;
	for (int i = 0; i < N_SETTINGS; i++)
		if (set_value(c, i, &def, "") != 0)
			return CONF_ERROR;
	if (!config || !*config)
		config = env && *env ? env : NULL;
	if (load_file(c, config ? config : CONF_DEFAULT_FILE, config != NULL) != 0 ||
	    load_env(c) != 0 || load_args(c, argc, argv, opts) != 0 || derive(c) != 0 ||
	    check(c) != 0)
		return CONF_ERROR;
	return action;
}

/* ------------------------------------------------------------ printing */

/* Appends n bytes of s to out (size bytes, NUL-terminated, cut to fit). */
static void append(char *out, size_t size, const char *s, size_t n)
{
	size_t len = strlen(out);

	if (len + 1 >= size)
		return;
	if (n > size - len - 1)
		n = size - len - 1;
	memcpy(out + len, s, n);
	out[len + n] = '\0';
}

/* A password's end in a conninfo (a quoted value ends at its quote) or a
 * URI (at & or #). */
static size_t secret_len(const char *v, int uri)
{
	size_t n = 0;

	if (!uri && *v == '\'') {
		for (n = 1; v[n] && v[n] != '\''; n++)
			if (v[n] == '\\' && v[n + 1])
				n++;
		return v[n] ? n + 1 : n;
	}
	return uri ? strcspn(v, "&#") : strcspn(v, " \t\n");
}

void conf_mask_secret(const char *conninfo, char *out, size_t size)
{
	const char *p = conninfo, *scheme = strstr(conninfo, "://");
	int uri = !strncmp(conninfo, "postgresql://", 13) || !strncmp(conninfo, "postgres://", 11);

	out[0] = '\0';
	if (uri) { /* postgresql://user:password@host/... */
		const char *auth = scheme + 3, *at;
		size_t alen = strcspn(auth, "/?#");
		const char *colon = memchr(auth, ':', alen);
		at = NULL;
		for (const char *q = auth; q < auth + alen; q++)
			if (*q == '@')
				at = q;
		if (at && colon && colon < at) {
			append(out, size, p, (size_t)(colon + 1 - p));
			append(out, size, "****", 4);
			p = at;
		}
	}
	while (*p) { /* password=... in a conninfo or a URI's query */
		const char *hit = strstr(p, "password");
		const char *eq;
		if (!hit)
			break;
		eq = hit + 8 + strspn(hit + 8, " \t");
		if (*eq != '=' || (hit > conninfo && !strchr(" \t?&", hit[-1]))) {
			append(out, size, p, (size_t)(hit + 8 - p));
			p = hit + 8;
			continue;
		}
		eq++;
		eq += strspn(eq, " \t");
		append(out, size, p, (size_t)(eq - p));
		append(out, size, "****", 4);
		p = eq + secret_len(eq, uri);
	}
	append(out, size, p, strlen(p));
}

static const char *const level_names[] = { "debug", "info", "warn", "error" };

/* Row i's value as text ("" when unset); masked: as --check-config shows
 * it (a password or a token hidden). */
static void value_text(const struct conf *c, int i, char *out, size_t size, int masked)
{
	const struct setting *s = &table[i];
	const char *field = (const char *)c + s->off;

	out[0] = '\0';
	switch (s->type) {
	case T_LISTEN: snprintf(out, size, "%s:%d", c->listen_host, c->port); break;
	case T_INT: snprintf(out, size, "%d", *(const int *)(const void *)field); break;
	case T_UINT: snprintf(out, size, "%u", *(const unsigned *)(const void *)field); break;
	case T_SIZE: snprintf(out, size, "%zu", *(const size_t *)(const void *)field); break;
	case T_BOOL: snprintf(out, size, "%s", *(const int *)(const void *)field ? "yes" : "no"); break;
	case T_LEVEL: snprintf(out, size, "%s", level_names[*(const int *)(const void *)field & 3]); break;
	case T_FORMAT: snprintf(out, size, "%s", *(const int *)(const void *)field ? "json" : "text"); break;
	case T_CIDRS: cidr_list_format((const struct cidr_list *)(const void *)field, out, size); break;
	case T_ORIGINS:
		for (int k = 0; k < c->n_origins; k++) {
			if (k)
				append(out, size, " ", 1);
			append(out, size, c->origins[k], strlen(c->origins[k]));
		}
		break;
	case T_TEXT:
	case T_URL: {
		const char *v = *(const char *const *)(const void *)field;
		if (v && masked && (s->flags & HIDDEN))
			snprintf(out, size, "****");
		else if (v && masked && (s->flags & SECRET))
			conf_mask_secret(v, out, size);
		else if (v)
			snprintf(out, size, "%s", v);
		break;
	}
	}
}

void conf_print(const struct conf *c, FILE *out)
{
	char value[4200], from[160];
	int pad;

	fprintf(out, "# tocsind: the effective settings, from the command line, the environment,\n"
		     "# %s and the defaults, in that order\n",
		c->config ? c->config : "no configuration file");
	for (int i = 0; i < N_SETTINGS; i++) {
		const struct setting *s = &table[i];
		value_text(c, i, value, sizeof value, 1);
		switch (c->source[i]) {
		case CONF_FILE: snprintf(from, sizeof from, "file, line %d", c->line[i]); break;
		case CONF_ENV: snprintf(from, sizeof from, "environment %s", s->env); break;
		case CONF_ARGS: snprintf(from, sizeof from, "command line"); break;
		case CONF_DERIVED: snprintf(from, sizeof from, "derived"); break;
		default: snprintf(from, sizeof from, "default"); break;
		}
		pad = 40 - (int)(strlen(s->name) + strlen(value));
		if (*value)
			fprintf(out, "%s = %s%*s# %s\n", s->name, value, pad > 1 ? pad : 1, "", from);
		else
			fprintf(out, "# %s =%*s# not set\n", s->name, pad > 2 ? pad - 1 : 1, "");
	}
}

/* ------------------------------------------------------------ reload */

/* Takes row i of fresh into cur. */
static int take(struct conf *cur, const struct conf *fresh, int i)
{
	const struct setting *s = &table[i];
	char *to = (char *)cur + s->off;
	const char *from = (const char *)fresh + s->off, *v;

	switch (s->type) {
	case T_INT: case T_BOOL: case T_LEVEL: case T_FORMAT:
		memcpy(to, from, sizeof(int));
		break;
	case T_UINT: memcpy(to, from, sizeof(unsigned)); break;
	case T_SIZE: memcpy(to, from, sizeof(size_t)); break;
	case T_CIDRS: memcpy(to, from, sizeof(struct cidr_list)); break;
	case T_TEXT:
	case T_URL:
		v = *(const char *const *)(const void *)from;
		if (v && !(v = keep(cur, v, strlen(v))))
			return -1;
		memcpy(to, &v, sizeof v);
		break;
	default:
		return -1; /* listen, origins: never reloaded */
	}
	cur->source[i] = fresh->source[i];
	cur->line[i] = fresh->line[i];
	return 0;
}

int conf_reload(struct conf *cur, const struct conf *fresh)
{
	char was[4200], now[4200];
	int taken = 0;

	for (int i = 0; i < N_SETTINGS; i++) {
		const struct setting *s = &table[i];
		value_text(cur, i, was, sizeof was, 0);
		value_text(fresh, i, now, sizeof now, 0);
		if (!strcmp(was, now))
			continue;
		if (!(s->flags & RELOAD)) {
			log_warn("reload: %s changed; it takes effect at the next restart", s->name);
			continue;
		}
		if (take(cur, fresh, i)) {
			log_error("reload: no room for the new value of %s; restart to apply it", s->name);
			return -1;
		}
		if (s->flags & (HIDDEN | SECRET))
			log_info("reload: %s changed", s->name);
		else
			log_info("reload: %s = %s (was %s)", s->name, *now ? now : "(none)",
				 *was ? was : "(none)");
		taken++;
	}
	return taken;
}

/* ------------------------------------------------------------ help */

static const char intro[] =
	"usage: tocsind [--config FILE] [--check-config] [SETTINGS]\n"
	"\n"
	"Tocsin's broker: serves the consoles and the tocsin.v1 WebSocket protocol.\n"
	"Each setting below is a flag, a line \"name = value\" of the configuration\n"
	"file and an environment variable; the command line wins over the environment,\n"
	"which wins over the file. An empty value means the default.\n"
	"\n"
	"  --config FILE   the configuration file (TOCSIN_CONFIG; default\n"
	"                  " CONF_DEFAULT_FILE ", skipped when it does not exist)\n"
	"  --check-config  check the settings, print them (the database password\n"
	"                  masked) and exit: 0 valid, 2 not\n"
	"  --version       print the version and exit\n"
	"  --help          this text\n"
	"\n";

/* text, wrapped at 78 columns, each line indented by 8. */
static void wrap(FILE *out, const char *text)
{
	int col = 0;

	for (const char *p = text; *p;) {
		size_t n = strcspn(p, " ");
		if (col && col + 1 + (int)n > 78) {
			fputc('\n', out);
			col = 0;
		}
		if (!col)
			col = fprintf(out, "        ");
		else
			col += fprintf(out, " ");
		col += fprintf(out, "%.*s", (int)n, p);
		p += n;
		p += strspn(p, " ");
	}
	fputc('\n', out);
}

/* s as roff text: a backslash or a minus escaped. */
static void roff(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '-' || *s == '\\')
			fputc('\\', out);
		fputc(*s, out);
	}
}

/* One setting in the man page's list (tocsind.8's SETTINGS). */
static void help_man(FILE *out, const struct setting *s)
{
	fputs(".TP\n\\fB", out);
	roff(out, s->name);
	fputs("\\fR", out);
	if (*s->arg) {
		fputs(" = \\fI", out);
		roff(out, s->arg);
		fputs("\\fR", out);
	}
	fputs("\n", out);
	roff(out, s->help);
	fputs(".\nFlag \\fB\\-\\-", out);
	roff(out, s->name);
	fputs("\\fR, environment \\fB", out);
	roff(out, s->env);
	fputs("\\fR", out);
	if (s->def && *s->def) {
		fputs("; default \\fB", out);
		roff(out, s->def);
		fputs("\\fR", out);
	}
	if (s->flags & LIVE)
		fputs("; the file is reread when it changes, without a restart", out);
	if (s->flags & RELOAD)
		fputs("; SIGHUP applies a new value, without a restart", out);
	if (s->flags & REREAD)
		fputs("; SIGHUP rereads the file, without a restart", out);
	fputs(s->flags & (SECRET | HIDDEN) ? "; masked by \\fB\\-\\-check\\-config\\fR.\n" : ".\n", out);
}

void conf_help(FILE *out, int man)
{
	char text[1024];

	if (!man)
		fputs(intro, out);
	for (int i = 0; i < N_SETTINGS; i++) {
		const struct setting *s = &table[i];
		if (man) {
			help_man(out, s);
			continue;
		}
		fprintf(out, "  --%s%s%s\n", s->name, *s->arg ? " " : "", s->arg);
		snprintf(text, sizeof text, "%s (%s%s%s%s)", s->help, s->env,
			 s->def && *s->def ? "; default " : "", s->def ? s->def : "",
			 s->flags & LIVE ? "; the file is reread when it changes"
			 : s->flags & RELOAD ? "; SIGHUP applies a change"
			 : s->flags & REREAD ? "; SIGHUP rereads the file" : "");
		wrap(out, text);
	}
}
