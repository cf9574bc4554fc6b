/* sign_check.c: an alert's Ed25519 signature checked against the listed
 * public keys (see sign_check.h). */
#include "sign_check.h"
#include "canon_json.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

json_t *sign_check_find_key(const json_t *published, const char *key_id)
{
	json_t *keys = json_object_get(published, "keys"), *e;
	size_t i;

	json_array_foreach(keys, i, e) {
		const char *id = json_string_value(json_object_get(e, "key_id"));
		if (id && !strcmp(id, key_id))
			return e;
	}
	return NULL;
}

/* Standard base64 of exactly n bytes into out: 0, or -1. */
static int decode(const char *b64, unsigned char *out, size_t n)
{
	size_t got = 0;

	if (!b64 || sodium_base642bin(out, n, b64, strlen(b64), NULL, &got, NULL,
				      sodium_base64_VARIANT_ORIGINAL) != 0)
		return -1;
	return got == n ? 0 : -1;
}

enum sign_check sign_check_text(const json_t *published, const char *text, size_t len,
				const json_t *sig)
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], s[crypto_sign_BYTES];
	const char *alg = json_string_value(json_object_get(sig, "alg"));
	const char *id = json_string_value(json_object_get(sig, "key_id"));
	json_t *entry;

	if (!alg || strcmp(alg, "Ed25519") || !id ||
	    decode(json_string_value(json_object_get(sig, "sig")), s, sizeof s))
		return SIGN_CHECK_UNSIGNED;
	entry = sign_check_find_key(published, id);
	if (!entry || decode(json_string_value(json_object_get(entry, "public_key")), pk, sizeof pk))
		return SIGN_CHECK_UNKNOWN_KEY;
	if (!text)
		return SIGN_CHECK_BAD;
	return crypto_sign_verify_detached(s, (const unsigned char *)text, len, pk)
		       ? SIGN_CHECK_BAD : SIGN_CHECK_VALID;
}

enum sign_check sign_check_json(const json_t *published, const json_t *v, const json_t *sig)
{
	size_t len = 0;
	char *text = v ? canon_json_dump(v, &len) : NULL;
	enum sign_check c = sign_check_text(published, text, len, sig);

	free(text);
	return c;
}

const char *sign_check_name(enum sign_check c)
{
	switch (c) {
	case SIGN_CHECK_VALID: return "valid";
	case SIGN_CHECK_UNSIGNED: return "unsigned";
	case SIGN_CHECK_UNKNOWN_KEY: return "unknown_key";
	case SIGN_CHECK_BAD: break;
	}
	return "bad";
}
