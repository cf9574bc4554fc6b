/* ticket_keys.h: the keys the broker seals its TLS session tickets with.
 *
 * OpenSSL left to itself makes random ticket keys per process: every
 * ticket died with the broker, so after a restart (the likeliest cause of
 * a reconnect storm) no console resumed, and two brokers behind one
 * address refused each other's tickets. Here the tickets are sealed with
 * keys derived from one 32-byte file (--tls-ticket-key, default
 * ticket.key beside the token key; tocsinctl keys init makes it), so every
 * broker that reads the same file, now or after a restart, opens them.
 *
 * Rotation is a schedule, not a file change: the key of period
 * n = floor(unix time / --tls-ticket-rotate) is BLAKE2b-derived from the
 * file's key and n. New tickets are sealed under period n; tickets of
 * n - 1 (the previous key) and n + 1 (a broker whose clock is a little
 * ahead) still open and are replaced by a ticket under n. A ticket lives
 * at most two periods, so a stolen derived key opens little; the file's
 * key itself never goes on the wire.
 *
 * The file is read at start (before privileges are dropped), and again
 * when it changes (looked at every TICKET_KEYS_CHECK_S seconds, or at once
 * through ticket_keys_check, e.g. on SIGHUP). No file: a warning, and
 * OpenSSL's per-process keys as before. Loop thread only: handshakes run
 * on the lws service thread, and so do the rereads. */
#ifndef TOCSIN_TICKET_KEYS_H
#define TOCSIN_TICKET_KEYS_H

#include <libwebsockets.h>
#include <openssl/ssl.h>
#include <stdint.h>

#include "key_file.h"

#define TICKET_KEYS_CHECK_S 2
#define TICKET_KEY_NAME_BYTES 16

/* One period's key: the name that goes in the ticket, the AES-256 key,
 * the HMAC-SHA256 key. */
struct ticket_key {
	unsigned char name[TICKET_KEY_NAME_BYTES];
	unsigned char aes[32];
	unsigned char hmac[32];
};

struct ticket_keys {
	unsigned char file_key[KEY_FILE_BYTES]; /* the file's key; valid when loaded */
	int loaded;
	int period_s;                           /* --tls-ticket-rotate */
	int64_t derived_for;                    /* the period derived[] belong to; -1: none */
	struct ticket_key derived[3];           /* periods n - 1, n, n + 1 */
	char path[4096];
	struct key_stamp seen;
	SSL_CTX *ssl_ctx;                       /* the vhost's, once attached */
	struct lws_context *ctx;                /* set while watching */
	lws_sorted_usec_list_t sul;
};

/* Reads path (missing: a warning, and no keys). Returns 0, or -1 after
 * logging an error that names the file. */
int ticket_keys_init(struct ticket_keys *k, const char *path, int period_s);

/* Seals and opens ctx's tickets with k (from now on, when k has a key;
 * otherwise once a reread finds one). Returns 0, or -1 after a log. */
int ticket_keys_attach(struct ticket_keys *k, SSL_CTX *ctx);

/* Looks at the file now; rereads it if it changed. Returns 1 when a new
 * key is in use, 0 when nothing changed, -1 when a reread failed (the
 * key in use stays). For the timer, and for a reload on SIGHUP. */
int ticket_keys_check(struct ticket_keys *k);

/* Starts looking for a changed file on the loop of ctx. */
void ticket_keys_watch(struct ticket_keys *k, struct lws_context *ctx);

/* Stops looking (before the lws context goes). */
void ticket_keys_unwatch(struct ticket_keys *k);

/* Wipes the keys. */
void ticket_keys_free(struct ticket_keys *k);

#endif
