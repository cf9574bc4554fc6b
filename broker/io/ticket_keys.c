/* ticket_keys.c: sealing and opening TLS session tickets with keys derived
 * from the ticket key file, on a schedule (see ticket_keys.h). Loop thread
 * only. */
#include "ticket_keys.h"
#include "loop_wake.h"
#include "log.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

_Static_assert(crypto_kdf_KEYBYTES == KEY_FILE_BYTES, "the ticket key file is a KDF key");

/* Where the ticket callback finds k: the SSL_CTX's own slot, taken once
 * (an OpenSSL index, the same for every SSL_CTX of the process). */
static int ex_index = -1;

/* Period n's key: two BLAKE2b subkeys of the file's key (libsodium's KDF),
 * one for the two secrets, one for the name, so the name says nothing
 * about them. */
static void derive(const unsigned char file_key[KEY_FILE_BYTES], int64_t n,
		   struct ticket_key *out)
{
	static const char context[crypto_kdf_CONTEXTBYTES] = { 't', 'l', 's', 't', 'k', 't', '0',
							       '1' };
	unsigned char secrets[64], name[crypto_kdf_BYTES_MIN];
	uint64_t id = (uint64_t)n * 2;

	crypto_kdf_derive_from_key(secrets, sizeof secrets, id, context, file_key);
	crypto_kdf_derive_from_key(name, sizeof name, id + 1, context, file_key);
	memcpy(out->aes, secrets, 32);
	memcpy(out->hmac, secrets + 32, 32);
	memcpy(out->name, name, TICKET_KEY_NAME_BYTES);
	sodium_memzero(secrets, sizeof secrets);
	sodium_memzero(name, sizeof name);
}

/* The keys of the period now and its two neighbours, derived again only
 * when the period changes (three KDF calls every few hours, not on every
 * handshake). Returns the current one, derived[1]. */
static const struct ticket_key *current(struct ticket_keys *k)
{
	int64_t n = (int64_t)time(NULL) / k->period_s;

	if (n != k->derived_for) {
		for (int i = 0; i < 3; i++)
			derive(k->file_key, n - 1 + i, &k->derived[i]);
		k->derived_for = n;
	}
	return &k->derived[1];
}

/* The ticket's HMAC: SHA-256 under key. */
static int set_mac(EVP_MAC_CTX *hctx, const unsigned char key[32])
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)(uintptr_t)key, 32),
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)(uintptr_t)"SHA256",
						 0),
		OSSL_PARAM_construct_end(),
	};
	return EVP_MAC_CTX_set_params(hctx, params) == 1 ? 0 : -1;
}

/* A new ticket, under the current period's key. 1, or -1 (OpenSSL then
 * sends no ticket; the handshake goes on). */
static int seal(const struct ticket_key *t, unsigned char name[16], unsigned char *iv,
		EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx)
{
	memcpy(name, t->name, TICKET_KEY_NAME_BYTES);
	if (RAND_bytes(iv, EVP_CIPHER_iv_length(EVP_aes_256_cbc())) != 1 ||
	    EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, t->aes, iv) != 1 ||
	    set_mac(hctx, t->hmac) != 0)
		return -1;
	return 1;
}

/* OpenSSL's SSL_CTX_set_tlsext_ticket_key_evp_cb: enc 1 seals a new
 * ticket; enc 0 opens one: 2 (good, and send a new ticket), 0 (unknown
 * key: a full handshake), -1 (error). Never 1 (good, no new ticket):
 * browsers use a TLS 1.3 ticket once (RFC 8446, C.4), so a resumed
 * connection that got no new ticket made the console's next reconnect a
 * full handshake; and a ticket of the previous period is replaced by one
 * under the current key. */
static int ticket_cb(SSL *s, unsigned char name[16], unsigned char *iv, EVP_CIPHER_CTX *cctx,
		     EVP_MAC_CTX *hctx, int enc)
{
	struct ticket_keys *k = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(s), ex_index);
	if (!k || !k->loaded)
		return enc ? -1 : 0;
	if (enc)
		return seal(current(k), name, iv, cctx, hctx);
	current(k); /* derived[] for the period now */
	for (int i = 0; i < 3; i++) {
		const struct ticket_key *t = &k->derived[i];

		if (CRYPTO_memcmp(name, t->name, TICKET_KEY_NAME_BYTES) != 0)
			continue;
		if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, t->aes, iv) != 1 ||
		    set_mac(hctx, t->hmac) != 0)
			return -1;
		return 2;
	}
	return 0;
}

/* Takes the file's key into k, wiping the copy; derived keys follow. */
static void install(struct ticket_keys *k, unsigned char key[KEY_FILE_BYTES])
{
	memcpy(k->file_key, key, KEY_FILE_BYTES);
	sodium_memzero(key, KEY_FILE_BYTES);
	k->loaded = 1;
	k->derived_for = -1;
}

/* Why a key file cannot be used, for the log. */
static const char *why(enum key_file_status st)
{
	return st == KEY_FILE_MISSING ? "missing"
	       : st == KEY_FILE_BAD_SIZE ? "not 32 bytes" : strerror(errno);
}

/* At start, before any privilege drop. */
int ticket_keys_init(struct ticket_keys *k, const char *path, int period_s)
{
	unsigned char key[KEY_FILE_BYTES];
	enum key_file_status st;

	memset(k, 0, sizeof *k);
	k->period_s = period_s;
	k->derived_for = -1;
	if (snprintf(k->path, sizeof k->path, "%s", path) >= (int)sizeof k->path) {
		log_error("ticket key path too long: %s", path);
		return -1;
	}
	key_file_stamp(k->path, &k->seen);
	st = key_file_read(k->path, key);
	if (st == KEY_FILE_MISSING) {
		log_warn("no TLS ticket key at %s (tocsinctl keys init makes it): sessions resume "
			 "only with this process, not after a restart or on another broker", path);
		return 0;
	}
	if (st != KEY_FILE_OK) {
		log_error("TLS ticket key %s cannot be used: %s", path, why(st));
		sodium_memzero(key, sizeof key);
		return -1;
	}
	install(k, key);
	return 0;
}

/* Our callback only once there is a key: until then OpenSSL's own. */
static void hook(struct ticket_keys *k)
{
	if (!k->ssl_ctx || !k->loaded)
		return;
	SSL_CTX_set_tlsext_ticket_key_evp_cb(k->ssl_ctx, ticket_cb);
	/* tickets carry the sessions: OpenSSL's in-memory cache (TLS 1.2
	 * session IDs only) would keep a copy of each that no other broker
	 * and no restart can use */
	SSL_CTX_set_session_cache_mode(k->ssl_ctx, SSL_SESS_CACHE_OFF);
}

int ticket_keys_attach(struct ticket_keys *k, SSL_CTX *ctx)
{
	if (ex_index < 0)
		ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if (ex_index < 0 || SSL_CTX_set_ex_data(ctx, ex_index, k) != 1) {
		log_error("cannot attach the TLS ticket keys to the TLS context");
		return -1;
	}
	/* a ticket opens for two periods at most: say so in its lifetime */
	SSL_CTX_set_timeout(ctx, 2 * k->period_s);
	k->ssl_ctx = ctx;
	hook(k);
	return 0;
}

int ticket_keys_check(struct ticket_keys *k)
{
	unsigned char key[KEY_FILE_BYTES];
	struct key_stamp now;
	enum key_file_status st;

	key_file_stamp(k->path, &now);
	if (key_file_stamp_same(&now, &k->seen))
		return 0;
	k->seen = now; /* this state of the file has been looked at */
	st = key_file_read(k->path, key);
	if (st != KEY_FILE_OK) {
		sodium_memzero(key, sizeof key);
		log_error("TLS ticket key %s changed but cannot be used (%s); %s", k->path, why(st),
			  k->loaded ? "still using the key read before" : "no ticket keys of ours");
		return -1;
	}
	install(k, key);
	hook(k);
	log_info("TLS ticket key reread from %s: tickets sealed before no longer open", k->path);
	return 1;
}

/* The loop's timer for ticket_keys_check. */
static void tick(lws_sorted_usec_list_t *sul)
{
	struct ticket_keys *k = lws_container_of(sul, struct ticket_keys, sul);

	ticket_keys_check(k);
	loop_wake_timer(k->ctx, &k->sul, tick, TICKET_KEYS_CHECK_S * LWS_US_PER_SEC);
}

/* Once listening, after any privilege drop: the file as this user sees it
 * is the baseline. */
void ticket_keys_watch(struct ticket_keys *k, struct lws_context *ctx)
{
	key_file_stamp(k->path, &k->seen);
	k->ctx = ctx;
	loop_wake_timer(ctx, &k->sul, tick, TICKET_KEYS_CHECK_S * LWS_US_PER_SEC);
}

void ticket_keys_unwatch(struct ticket_keys *k)
{
	if (k->ctx)
		lws_sul_cancel(&k->sul);
	k->ctx = NULL;
}

void ticket_keys_free(struct ticket_keys *k)
{
	sodium_memzero(k->file_key, sizeof k->file_key);
	sodium_memzero(k->derived, sizeof k->derived);
	k->loaded = 0;
}
