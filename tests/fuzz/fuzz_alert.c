/* fuzz_alert.c: the alert signature check a bus subscriber runs
 * (adapters/lib/bus_verify.c over broker/base/sign_check.c and
 * canon_json.c) under fuzzing (see fuzz_targets.h).
 *
 * The input is an event as a subscriber reads it off the bus (hostile:
 * anyone who can put bytes on its way). Per input:
 *  1. bus_verify_event() against the fixed key's list answers one of its
 *     four results without reading outside the input;
 *  2. the canonical form of the input's alert, when it has one, parses
 *     back and is its own canonical form (the form is a fixed point: the
 *     broker, the consoles and the adapters must agree byte for byte);
 *  3. that alert signed with the fixed key verifies, and does not once one
 *     bit of the signature or of the canonical text is changed. */
#include "fuzz_targets.h"

#include "bus_verify.h"
#include "canon_json.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* The fixed key pair (seed bytes 0..31) and its list, key id "fuzz". */
static json_t *fixed_keys(unsigned char sk[crypto_sign_SECRETKEYBYTES])
{
	unsigned char seed[crypto_sign_SEEDBYTES], pk[crypto_sign_PUBLICKEYBYTES];
	char b64[sodium_base64_ENCODED_LEN(crypto_sign_PUBLICKEYBYTES,
					   sodium_base64_VARIANT_ORIGINAL)];

	for (int i = 0; i < (int)sizeof seed; i++)
		seed[i] = (unsigned char)i;
	crypto_sign_seed_keypair(pk, sk, seed);
	sodium_bin2base64(b64, sizeof b64, pk, sizeof pk, sodium_base64_VARIANT_ORIGINAL);
	return json_pack("{s:s, s:[{s:s, s:s}]}", "alg", "Ed25519", "keys", "key_id", "fuzz",
			 "public_key", b64);
}

/* Property 2: text is the canonical form of what it parses back to (as
 * doubles, which is how a browser reads every number). */
static void fixed_point(const char *text, size_t len)
{
	json_t *back = json_loadb(text, len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, NULL);
	size_t len2 = 0;
	char *again = back ? canon_json_dump(back, &len2) : NULL;

	if (!back)
		fuzz_fail("alert", "a canonical form does not parse back");
	if (!again || len2 != len || memcmp(again, text, len))
		fuzz_fail("alert", "a canonical form is not its own canonical form");
	free(again);
	json_decref(back);
}

/* Property 3: signed with the key, it verifies; one bit changed, not. */
static void round_trip(const json_t *keys, const unsigned char *sk, const char *text, size_t len,
		       size_t bit)
{
	unsigned char sig[crypto_sign_BYTES];
	char b64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES, sodium_base64_VARIANT_ORIGINAL)];
	char *flipped = malloc(len ? len : 1);
	json_t *s;

	if (!flipped)
		return;
	crypto_sign_detached(sig, NULL, (const unsigned char *)text, len, sk);
	sodium_bin2base64(b64, sizeof b64, sig, sizeof sig, sodium_base64_VARIANT_ORIGINAL);
	s = json_pack("{s:s, s:s, s:s}", "alg", "Ed25519", "key_id", "fuzz", "sig", b64);
	if (sign_check_text(keys, text, len, s) != SIGN_CHECK_VALID)
		fuzz_fail("alert", "an alert signed with the listed key does not verify");
	if (len) {
		memcpy(flipped, text, len);
		flipped[bit % len] ^= (char)(1u << (bit % 8));
		if (sign_check_text(keys, flipped, len, s) != SIGN_CHECK_BAD)
			fuzz_fail("alert", "a text with one bit changed still verifies");
	}
	sig[bit % sizeof sig] ^= (unsigned char)(1u << (bit % 8));
	sodium_bin2base64(b64, sizeof b64, sig, sizeof sig, sodium_base64_VARIANT_ORIGINAL);
	json_object_set_new(s, "sig", json_string(b64));
	if (sign_check_text(keys, text, len, s) != SIGN_CHECK_BAD)
		fuzz_fail("alert", "a signature with one bit changed still verifies");
	json_decref(s);
	free(flipped);
}

int fuzz_alert_one(const uint8_t *data, size_t size)
{
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	json_t *keys, *ev = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	const json_t *alert = json_object_get(ev, "alert");
	enum sign_check c;
	size_t len = 0;
	char *text;

	if (sodium_init() < 0 || !(keys = fixed_keys(sk))) {
		json_decref(ev);
		return 0;
	}
	c = bus_verify_event(keys, ev);
	if (c != SIGN_CHECK_VALID && c != SIGN_CHECK_UNSIGNED && c != SIGN_CHECK_UNKNOWN_KEY &&
	    c != SIGN_CHECK_BAD)
		fuzz_fail("alert", "bus_verify_event answered outside its four results");
	if (json_is_object(alert) && (text = canon_json_dump(alert, &len))) {
		fixed_point(text, len);
		round_trip(keys, sk, text, len, size);
		free(text);
	}
	sodium_memzero(sk, sizeof sk);
	json_decref(keys);
	json_decref(ev);
	return 0;
}

#ifdef FUZZ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_alert_one(data, size);
}
#endif
