/* conf.h: the broker's settings.
 *
 * One table in conf.c lists every setting once: its name in the file (and
 * its flag, --NAME), its environment variable, type, default and help, and
 * whether it is a secret or picked up while running. Parsing, --help,
 * --check-config and the man page's list (--help-man) all come from it, so
 * they cannot disagree. Where a setting's value comes from, strongest
 * first: the command line, the environment, the configuration file
 * (--config FILE, TOCSIN_CONFIG, default CONF_DEFAULT_FILE; INI read by
 * libinih), the default. An empty value on the command line or in the
 * file means the default; an empty environment variable is as if unset.
 * Pure: no loop, no I/O beyond reading the file; start-up only. */
#ifndef TOCSIN_CONF_H
#define TOCSIN_CONF_H

#include <stddef.h>
#include <stdio.h>

#include "cidr.h"

#ifndef CONF_DEFAULT_FILE
#define CONF_DEFAULT_FILE "/etc/tocsin/tocsind.conf"
#endif

#define CONF_ORIGINS_MAX 16
#define CONF_SETTINGS_MAX 56     /* room for the table's rows (checked) */
#define CONF_STORE_BYTES 65536   /* every string value is copied here */

/* Where a value came from, weakest first. */
enum conf_source { CONF_DEFAULT, CONF_FILE, CONF_ENV, CONF_ARGS, CONF_DERIVED };

struct conf {
	char listen_host[64];     /* listen HOST:PORT */
	int port;
	const char *public_url;   /* public-url, as an origin: scheme://host[:port] */
	const char *database;     /* database (DATABASE_URL): libpq conninfo or URI */
	const char *web_root;     /* web-root */
	const char *token_key;    /* token-key: 32-byte key file */
	const char *audit_key;    /* audit-key: 32-byte key file (default beside token-key) */
	const char *alert_key;    /* alert-key: Ed25519 seed signing alerts (default beside token-key) */
	const char *cap_sign_key; /* cap-sign-key: PEM ECDSA P-256 key (default beside token-key) */
	const char *journal;      /* journal FILE */
	const char *tls_cert;     /* tls-cert: PEM chain; with tls_key, https and wss only */
	const char *tls_key;      /* tls-key: PEM private key */
	const char *tls_ticket_key; /* tls-ticket-key: 32-byte key file (default beside token-key) */
	int tls_ticket_rotate;    /* tls-ticket-rotate seconds */
	const char *run_user;     /* user: drop to it after reading keys */
	int allow_root;           /* allow-root: run as root without user */
	const char *bus_ingest;   /* bus-ingest ENDPOINT: ZeroMQ ROUTER (bus.c); NULL: off */
	const char *bus_events;   /* bus-events ENDPOINT: ZeroMQ PUB; NULL: off */
	const char *bus_key;      /* bus-key FILE: the broker's CURVE key pair */
	int node_id;              /* node-id 0..15 */
	int token_ttl;            /* token-ttl seconds */
	int escalate_after;       /* escalate-after seconds */
	size_t max_frame;         /* max-frame bytes */
	int auth_timeout;         /* auth-timeout seconds */
	int signin_workers;       /* signin-workers */
	int lockout_account;      /* lockout-account: failed sign-ins per account */
	int lockout_address;      /* lockout-address: failed sign-ins per address */
	int lockout_minutes;      /* lockout-minutes: the window of both */
	int lockout_delay_max;    /* lockout-delay-max: the account's delay, at most (s) */
	unsigned queue_max_msgs;  /* queue-max-msgs per connection */
	size_t queue_max_bytes;   /* queue-max-bytes per connection */
	int ping_interval;        /* ping-interval seconds */
	int rate_per_sec;         /* rate-limit messages per second per connection */
	int max_per_address;      /* max-connections-per-address */
	int max_connections;      /* max-connections */
	int max_handshakes;       /* max-handshakes: accepted, not yet signed in */
	int listen_backlog;       /* listen-backlog: listen(2)'s backlog */
	int image_sweep_s;        /* image-sweep-seconds */
	int crime_retention_days; /* crime-retention-days: crime records kept this long */
	int crime_sweep_s;        /* crime-sweep-seconds */
	int log_level;            /* log-level (enum log_level) */
	int log_format;           /* log-format (enum log_format) */
	struct cidr_list trusted_proxies; /* trusted-proxies: whose X-Forwarded-For counts */
	struct cidr_list metrics_allow;   /* metrics-allow: who may read /metrics */
	const char *metrics_token;        /* metrics-token: or with this bearer token */
	int retention_audit_detail_days;  /* retention-audit-detail-days (0: kept) */
	int retention_alert_days;         /* retention-alert-days (0: kept) */
	int retention_delivery_days;      /* retention-delivery-days (0: kept) */
	int retention_report_days;        /* retention-report-days: partner reports */
	int retention_status_days;        /* retention-status-days: status history */
	int retention_sweep_s;            /* retention-sweep-seconds */
	/* allowed-origin, normalised (admission_origin_normal): public-url's
	 * origin, then the ones given; none given: the local ones of the port */
	const char *origins[CONF_ORIGINS_MAX];
	int n_origins;

	/* how the values were found (for --check-config and errors) */
	const char *config;                      /* the file read, or NULL */
	unsigned char source[CONF_SETTINGS_MAX]; /* enum conf_source per table row */
	int line[CONF_SETTINGS_MAX];             /* its line, when from the file */
	char store[CONF_STORE_BYTES];            /* owns every string above */
	size_t stored;
};

enum conf_action {
	CONF_RUN,       /* settings complete: start */
	CONF_CHECK,     /* --check-config: print them (conf_print) and stop */
	CONF_VERSION,   /* --version: print the version and stop */
	CONF_DONE,      /* --help or --help-man was printed: stop, exit 0 */
	CONF_ERROR,     /* an error was printed on stderr: stop, exit 2 */
};

/* Fills c from the defaults, the file, the environment and argv. */
enum conf_action conf_load(struct conf *c, int argc, char **argv);

/* Prints every setting with its flag, variable and default: --help's
 * text, or (man) the roff list in tocsind.8 (make builds the page with
 * tocsind --help-man). */
void conf_help(FILE *out, int man);

/* The effective settings as a configuration file, with where each came
 * from and the database's password masked. */
void conf_print(const struct conf *c, FILE *out);

/* Takes into cur the settings of fresh that SIGHUP may change (marked in
 * conf.c's table; tocsind --help says which) and that differ, logging
 * each; a changed setting that needs a restart is named in a warning and
 * left as it is. Returns the number taken, or -1 when a value did not fit
 * (nothing more was taken). Loop thread (reload.c). */
int conf_reload(struct conf *cur, const struct conf *fresh);

/* Copies a conninfo string or URI with any password replaced by ****. */
void conf_mask_secret(const char *conninfo, char *out, size_t size);

#endif
