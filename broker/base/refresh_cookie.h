/* refresh_cookie.h: the consoles' refresh credential, as the HttpOnly
 * cookie that carries it (docs/security.md, "The consoles' token").
 *
 * Sign-in sets "tocsin_refresh=<id>.<secret>" (Path=/api, HttpOnly,
 * SameSite=Strict, Secure under TLS, Max-Age REFRESH_TTL_S); the database
 * keeps SHA-256(secret) only (refresh_credentials). A page that starts
 * without a token asks POST /api/refresh, which gives it a token and the
 * key its cache in sessionStorage is encrypted with: BLAKE2b of a
 * constant keyed with the secret, so neither the database nor the page's
 * storage can derive it. Pure (libsodium): shared by the sign-in workers
 * and the loop; unit-tested. */
#ifndef TOCSIN_REFRESH_COOKIE_H
#define TOCSIN_REFRESH_COOKIE_H

#include <stddef.h>
#include <stdint.h>

#define REFRESH_SECRET_BYTES 32
#define REFRESH_TTL_S (12 * 3600)  /* a shift: a page reloaded later signs in again */
#define REFRESH_HASH_HEX_LEN (2 + 64) /* "\x" and 64 hex digits: a bytea parameter */
#define REFRESH_CACHE_KEY_LEN 43   /* base64url of 32 bytes, no padding */
#define REFRESH_COOKIE_MAX 256

/* A new random secret. */
void refresh_cookie_secret_new(unsigned char secret[REFRESH_SECRET_BYTES]);
/* "\x<hex of SHA-256(secret)>", NUL-terminated, for a bytea parameter. */
void refresh_cookie_hash_hex(const unsigned char secret[REFRESH_SECRET_BYTES],
			     char out[REFRESH_HASH_HEX_LEN + 1]);
/* The page cache's key, base64url, NUL-terminated. */
void refresh_cookie_cache_key(const unsigned char secret[REFRESH_SECRET_BYTES],
			      char out[REFRESH_CACHE_KEY_LEN + 1]);
/* The Set-Cookie value that sets the credential (Secure when tls), or
 * (id 0) the one that clears it. -1 when out is too small. */
int refresh_cookie_header(int64_t id, const unsigned char secret[REFRESH_SECRET_BYTES], int tls,
			  char *out, size_t size);
/* Finds tocsin_refresh=<id>.<secret> in a Cookie header; 0 with id and
 * secret set, -1 when absent or malformed. */
int refresh_cookie_parse(const char *header, int64_t *id,
			 unsigned char secret[REFRESH_SECRET_BYTES]);

#endif
