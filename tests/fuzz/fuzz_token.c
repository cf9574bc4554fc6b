/* fuzz_token.c: the token parser and verifier under fuzzing (see
 * fuzz_targets.h).
 *
 * Three properties per input:
 *  1. token_verify() of the bytes as a token, under the fixed key, returns
 *     one of its statuses without reading outside the input, and fills the
 *     claims with sane values whenever it says OK or EXPIRED;
 *  2. the bytes as the payload of a token signed with the key (so that the
 *     claims parser, which only ever sees authenticated payloads, meets
 *     hostile JSON too): the same holds;
 *  3. claims derived from the bytes (ids, times, role, a username made of
 *     the tail), once signed with token_sign(), verify as TOKEN_OK and come
 *     back equal; one bit changed anywhere in the signed token must make
 *     it fail. */
#include "fuzz_targets.h"

#include "token.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* "now" for verification: 2027-01-15T08:00:00Z, fixed so that the corpus
 * replays the same way on any day. */
#define FUZZ_NOW 1800000000LL

void fuzz_token_key(unsigned char key[32])
{
	for (int i = 0; i < 32; i++)
		key[i] = (unsigned char)i;
}

static void check_claims(const struct token_claims *c)
{
	if (c->user_id <= 0 || c->org_id <= 0 || c->site_id < 0)
		fuzz_fail("token", "verified claims with a non-positive id");
	if (c->role == ROLE_NONE || !c->username[0] || strlen(c->username) > USERNAME_MAX)
		fuzz_fail("token", "verified claims without a role or a username");
	if (c->cleared != 0 && c->cleared != 1)
		fuzz_fail("token", "clr is not a boolean");
}

/* Property 1: the input as a token. */
static void verify_input(const unsigned char *key, const uint8_t *data, size_t size)
{
	struct token_claims c;
	enum token_status st;
	char *tok = malloc(size ? size : 1); /* exactly size bytes: ASan sees overreads */

	if (!tok)
		return;
	memcpy(tok, data, size);
	memset(&c, 0, sizeof c);
	st = token_verify(key, tok, size, FUZZ_NOW, &c);
	if (st != TOKEN_OK && st != TOKEN_MALFORMED && st != TOKEN_BAD_SIGNATURE &&
	    st != TOKEN_EXPIRED)
		fuzz_fail("token", "token_verify returned an unknown status");
	if (st == TOKEN_OK || st == TOKEN_EXPIRED)
		check_claims(&c);
	if (st == TOKEN_OK && c.expires_at <= FUZZ_NOW)
		fuzz_fail("token", "an expired token verified as OK");
	if (!token_status_code(st))
		fuzz_fail("token", "no code for a status");
	free(tok);
}

/* Property 2: the bytes as the claims JSON of a genuinely signed token. */
static void verify_signed_payload(const unsigned char *key, const uint8_t *data, size_t size)
{
	unsigned char tag[crypto_auth_BYTES];
	char tok[TOKEN_MAX_LEN + 1];
	size_t head;

	if (3 + sodium_base64_ENCODED_LEN(size, sodium_base64_VARIANT_URLSAFE_NO_PADDING) +
		    sodium_base64_ENCODED_LEN(sizeof tag, sodium_base64_VARIANT_URLSAFE_NO_PADDING) >
	    sizeof tok)
		return; /* longer than any token the broker accepts */
	memcpy(tok, "v1.", 3);
	sodium_bin2base64(tok + 3, sizeof tok - 3, data, size,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	head = strlen(tok);
	crypto_auth(tag, (const unsigned char *)tok, head, key);
	tok[head] = '.';
	sodium_bin2base64(tok + head + 1, sizeof tok - head - 1, tag, sizeof tag,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	verify_input(key, (const uint8_t *)tok, strlen(tok));
}

/* Reads 8 bytes (or what is left) as an unsigned integer. */
static uint64_t take_u64(const uint8_t **p, size_t *left)
{
	uint64_t v = 0;

	for (int i = 0; i < 8 && *left; i++, (*p)++, (*left)--)
		v = v << 8 | **p;
	return v;
}

/* Property 2: claims from the bytes survive sign + verify unchanged. */
static void round_trip(const unsigned char *key, const uint8_t *data, size_t size)
{
	struct token_claims in, out;
	char tok[TOKEN_MAX_LEN + 1];
	size_t n;
	int len;

	memset(&in, 0, sizeof in);
	in.user_id = (int64_t)(take_u64(&data, &size) % INT32_MAX) + 1;
	in.org_id = (int64_t)(take_u64(&data, &size) % INT32_MAX) + 1;
	in.site_id = (int64_t)(take_u64(&data, &size) % INT32_MAX);
	in.issued_at = (int64_t)(take_u64(&data, &size) % FUZZ_NOW);
	in.expires_at = FUZZ_NOW + 1 + (int64_t)(take_u64(&data, &size) % (1LL << 40));
	in.role = (enum role)(ROLE_CONTROLLER + (size ? data[0] % 5 : 0));
	in.cleared = size ? (data[0] >> 7) & 1 : 0;
	if (size) {
		data++;
		size--;
	}
	/* the username: the rest, up to USERNAME_MAX bytes, stopping at a NUL */
	n = strnlen((const char *)data, size < USERNAME_MAX ? size : USERNAME_MAX);
	memcpy(in.username, data, n);
	in.username[n] = '\0';
	if (n == 0)
		strcpy(in.username, "u");

	len = token_sign(key, &in, tok, sizeof tok);
	if (len < 0)
		return; /* not UTF-8: the claims cannot be encoded, which is allowed */
	memset(&out, 0, sizeof out);
	if (token_verify(key, tok, (size_t)len, FUZZ_NOW, &out) != TOKEN_OK)
		fuzz_fail("token", "a freshly signed token does not verify");
	if (out.user_id != in.user_id || out.org_id != in.org_id || out.site_id != in.site_id ||
	    out.issued_at != in.issued_at || out.expires_at != in.expires_at ||
	    out.role != in.role || out.cleared != in.cleared || strcmp(out.username, in.username))
		fuzz_fail("token", "the claims changed in a sign/verify round trip");
	/* flip one bit of one byte chosen by the claims: the token must no
	 * longer verify (base64 is decoded strictly, so no two spellings) */
	{
		size_t at = (size_t)(in.user_id % len);
		tok[at] = (char)(tok[at] ^ 0x01);
		if (token_verify(key, tok, (size_t)len, FUZZ_NOW, &out) == TOKEN_OK)
			fuzz_fail("token", "a token changed by one bit still verifies");
	}
}

int fuzz_token_one(const uint8_t *data, size_t size)
{
	static int sodium_ready; /* sodium_init() once per process, as the broker does */
	unsigned char key[32];

	if (!sodium_ready) {
		if (sodium_init() < 0)
			fuzz_fail("token", "libsodium failed to start");
		sodium_ready = 1;
	}
	if (size > 4 * TOKEN_MAX_LEN)
		return 0;
	fuzz_token_key(key);
	verify_input(key, data, size);
	verify_signed_payload(key, data, size);
	round_trip(key, data, size);
	return 0;
}

#ifdef FUZZ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* libFuzzer's entry point (make fuzz). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_token_one(data, size);
}
#endif
