/* sign_key.c: the alert signing key and its public list (see sign_key.h). */
#include "sign_key.h"
#include "canon_json.h"
#include "sign_check.h"
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
	if (sign_check_find_key(k->published, k->key_id))
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

void sign_key_free(struct sign_key *k)
{
	sodium_memzero(k->sk, sizeof k->sk);
	json_decref(k->published);
	k->published = NULL;
}
