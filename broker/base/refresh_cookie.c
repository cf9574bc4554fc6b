/* refresh_cookie.c: the refresh credential's cookie (refresh_cookie.h).
 * Pure. */
#include "refresh_cookie.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COOKIE_NAME "tocsin_refresh="
#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define SECRET_B64_LEN 43

void refresh_cookie_secret_new(unsigned char secret[REFRESH_SECRET_BYTES])
{
	randombytes_buf(secret, REFRESH_SECRET_BYTES);
}

void refresh_cookie_hash_hex(const unsigned char secret[REFRESH_SECRET_BYTES],
			     char out[REFRESH_HASH_HEX_LEN + 1])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, secret, REFRESH_SECRET_BYTES);
	out[0] = '\\';
	out[1] = 'x';
	sodium_bin2hex(out + 2, REFRESH_HASH_HEX_LEN - 1, h, sizeof h);
}

void refresh_cookie_cache_key(const unsigned char secret[REFRESH_SECRET_BYTES],
			      char out[REFRESH_CACHE_KEY_LEN + 1])
{
	static const char what[] = "tocsin page cache v1";
	unsigned char k[32];

	crypto_generichash(k, sizeof k, (const unsigned char *)what, sizeof what - 1, secret,
			   REFRESH_SECRET_BYTES);
	sodium_bin2base64(out, REFRESH_CACHE_KEY_LEN + 1, k, sizeof k, B64);
	sodium_memzero(k, sizeof k);
}

int refresh_cookie_header(int64_t id, const unsigned char secret[REFRESH_SECRET_BYTES], int tls,
			  char *out, size_t size)
{
	char s64[SECRET_B64_LEN + 1];
	int n;

	if (!id) {
		n = snprintf(out, size, COOKIE_NAME "; Path=/api; HttpOnly; SameSite=Strict; Max-Age=0%s",
			     tls ? "; Secure" : "");
		return n < 0 || (size_t)n >= size ? -1 : 0;
	}
	sodium_bin2base64(s64, sizeof s64, secret, REFRESH_SECRET_BYTES, B64);
	n = snprintf(out, size, COOKIE_NAME "%lld.%s; Path=/api; HttpOnly; SameSite=Strict; Max-Age=%d%s",
		     (long long)id, s64, REFRESH_TTL_S, tls ? "; Secure" : "");
	sodium_memzero(s64, sizeof s64);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int refresh_cookie_parse(const char *header, int64_t *id,
			 unsigned char secret[REFRESH_SECRET_BYTES])
{
	const char *p = header;
	char *end;
	size_t len, bin_len;
	long long v;

	while (p && (p = strstr(p, COOKIE_NAME))) {
		if (p == header || p[-1] == ' ' || p[-1] == ';')
			break;
		p += sizeof COOKIE_NAME - 1;
	}
	if (!p)
		return -1;
	p += sizeof COOKIE_NAME - 1;
	if (*p < '1' || *p > '9')
		return -1;
	v = strtoll(p, &end, 10);
	if (*end != '.' || v <= 0)
		return -1;
	p = end + 1;
	len = strcspn(p, "; ");
	if (len != SECRET_B64_LEN ||
	    sodium_base642bin(secret, REFRESH_SECRET_BYTES, p, len, NULL, &bin_len, NULL, B64) ||
	    bin_len != REFRESH_SECRET_BYTES)
		return -1;
	*id = v;
	return 0;
}
