/* sign_key.c: the alert signing key and its public list (see sign_key.h). */
#include "sign_key.h"
#include "canon_json.h"
#include "key_file.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Static_assert(KEY_FILE_BYTES == crypto_sign_SEEDBYTES, "the signing seed is a key file");

void sign_key_id(const unsigned char pk[crypto_sign_PUBLICKEYBYTES],
		 char out[SIGN_KEY_ID_LEN + 1])
{
	unsigned char h[crypto_generichash_BYTES];

	crypto_generichash(h, sizeof h, pk, crypto_sign_PUBLICKEYBYTES, NULL, 0);
	sodium_bin2hex(out, SIGN_KEY_ID_LEN + 1, h, SIGN_KEY_ID_LEN / 2);
}

/* The entry of key_id in a list, or NULL. */
static json_t *find_key(const json_t *published, const char *key_id)
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

/* FILE.pub, or a list of the current key alone when there is none. */
static int load_list(struct sign_key *k, const char *path)
{
	char pub_path[4200], b64[sodium_base64_ENCODED_LEN(crypto_sign_PUBLICKEYBYTES,
						      sodium_base64_VARIANT_ORIGINAL)];
	json_error_t err;
	json_t *keys;

	snprintf(pub_path, sizeof pub_path, "%s.pub", path);
	k->published = json_load_file(pub_path, JSON_REJECT_DUPLICATES, &err);
	if (!k->published && access(pub_path, F_OK) == 0) {
		log_error("alert key list %s: %s (line %d)", pub_path, err.text, err.line);
		return -1;
	}
	if (!k->published)
		k->published = json_pack("{s:s, s:[]}", "alg", "Ed25519", "keys");
	keys = json_object_get(k->published, "keys");
	if (!json_is_array(keys)) {
		log_error("alert key list %s has no \"keys\" array", pub_path);
		return -1;
	}
	if (find_key(k->published, k->key_id))
		return 0;
	sodium_bin2base64(b64, sizeof b64, k->pk, sizeof k->pk, sodium_base64_VARIANT_ORIGINAL);
	return json_array_append_new(keys, json_pack("{s:s, s:s, s:n, s:n}", "key_id", k->key_id,
						     "public_key", b64, "valid_from",
						     "valid_until"));
}

int sign_key_load(struct sign_key *k, const char *path)
{
	unsigned char seed[crypto_sign_SEEDBYTES];

	memset(k, 0, sizeof *k);
	if (key_file_load(path, "alert signing key", seed))
		return -1;
	crypto_sign_seed_keypair(k->pk, k->sk, seed);
	sodium_memzero(seed, sizeof seed);
	sign_key_id(k->pk, k->key_id);
	if (load_list(k, path)) {
		sign_key_free(k);
		return -1;
	}
	return 0;
}

json_t *sign_key_sign_text(const struct sign_key *k, const char *text, size_t len)
{
	unsigned char sig[crypto_sign_BYTES];
	char b64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES, sodium_base64_VARIANT_ORIGINAL)];

	crypto_sign_detached(sig, NULL, (const unsigned char *)text, len, k->sk);
	sodium_bin2base64(b64, sizeof b64, sig, sizeof sig, sodium_base64_VARIANT_ORIGINAL);
	return json_pack("{s:s, s:s, s:s}", "alg", "Ed25519", "key_id", k->key_id, "sig", b64);
}

json_t *sign_key_sign_json(const struct sign_key *k, const json_t *v)
{
	size_t len;
	char *text = canon_json_dump(v, &len);
	json_t *sig;

	if (!text)
		return NULL;
	sig = sign_key_sign_text(k, text, len);
	free(text);
	return sig;
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

enum sign_key_check sign_key_verify_text(const json_t *published, const char *text, size_t len,
					 const json_t *sig)
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], s[crypto_sign_BYTES];
	const char *alg = json_string_value(json_object_get(sig, "alg"));
	const char *id = json_string_value(json_object_get(sig, "key_id"));
	json_t *entry;

	if (!alg || strcmp(alg, "Ed25519") || !id ||
	    decode(json_string_value(json_object_get(sig, "sig")), s, sizeof s))
		return SIGN_KEY_UNSIGNED;
	entry = find_key(published, id);
	if (!entry || decode(json_string_value(json_object_get(entry, "public_key")), pk, sizeof pk))
		return SIGN_KEY_UNKNOWN_KEY;
	if (!text)
		return SIGN_KEY_BAD;
	return crypto_sign_verify_detached(s, (const unsigned char *)text, len, pk) ? SIGN_KEY_BAD
										: SIGN_KEY_VALID;
}

enum sign_key_check sign_key_verify_json(const json_t *published, const json_t *v,
					 const json_t *sig)
{
	size_t len = 0;
	char *text = v ? canon_json_dump(v, &len) : NULL;
	enum sign_key_check c = sign_key_verify_text(published, text, len, sig);

	free(text);
	return c;
}

const char *sign_key_check_name(enum sign_key_check c)
{
	switch (c) {
	case SIGN_KEY_VALID: return "valid";
	case SIGN_KEY_UNSIGNED: return "unsigned";
	case SIGN_KEY_UNKNOWN_KEY: return "unknown_key";
	case SIGN_KEY_BAD: break;
	}
	return "bad";
}

void sign_key_free(struct sign_key *k)
{
	sodium_memzero(k->sk, sizeof k->sk);
	json_decref(k->published);
	k->published = NULL;
}
