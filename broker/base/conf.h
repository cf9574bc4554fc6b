/* conf.h: the broker's settings, from command-line flags and environment. */
#ifndef TOCSIN_CONF_H
#define TOCSIN_CONF_H

#include <stddef.h>

struct conf {
	char listen_host[64];     /* --listen HOST:PORT (TOCSIN_LISTEN) */
	int port;
	const char *database;     /* --database (DATABASE_URL): libpq conninfo or URI */
	const char *web_root;     /* --web-root (TOCSIN_WEB_ROOT) */
	const char *token_key;    /* --token-key (TOCSIN_TOKEN_KEY): 32-byte key file */
	const char *audit_key;    /* --audit-key (TOCSIN_AUDIT_KEY): 32-byte key file */
	int token_ttl;            /* --token-ttl seconds */
	size_t max_frame;         /* --max-frame bytes */
	int auth_timeout;         /* --auth-timeout seconds */
	int signin_workers;       /* --signin-workers */
	unsigned queue_max_msgs;  /* --queue-max-msgs per connection */
	size_t queue_max_bytes;   /* --queue-max-bytes per connection */
	int ping_interval;        /* --ping-interval seconds */
	int log_level;            /* --log-level (enum log_level) */
	const char *journal;      /* --journal FILE (TOCSIN_JOURNAL) */
	int escalate_after;       /* --escalate-after seconds */
	int node_id;              /* --node-id 0..15 */
	const char *origins[16];  /* --allowed-origin (repeatable); none given:
	                           * http(s)://127.0.0.1:PORT and http(s)://localhost:PORT */
	int n_origins;
	int rate_per_sec;         /* --rate-limit messages per second per connection */
	int max_per_address;      /* --max-connections-per-address */
	int max_connections;      /* --max-connections */
	const char *bus_ingest;   /* --bus-ingest ENDPOINT: ZeroMQ ROUTER (bus.c); NULL: off */
	const char *bus_events;   /* --bus-events ENDPOINT: ZeroMQ PUB; NULL: off */
	const char *bus_key;      /* --bus-key FILE: the broker's CURVE key pair */
	const char *tls_cert;     /* --tls-cert FILE (TOCSIN_TLS_CERT): PEM chain; with
	                           * tls_key, the port serves https and wss only */
	const char *tls_key;      /* --tls-key FILE (TOCSIN_TLS_KEY): PEM private key */
	const char *run_user;     /* --user NAME (TOCSIN_USER): drop to it after reading keys */
	int allow_root;           /* --allow-root (TOCSIN_ALLOW_ROOT=1): run as root without --user */
};

/* Fills c from defaults, then the environment, then argv. Returns 0, 1
 * when --help was printed, or -1 after printing an error. */
int conf_load(struct conf *c, int argc, char **argv);

#endif
