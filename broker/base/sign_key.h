/* sign_key.h: the broker's Ed25519 signing key, which signs every alert
 * frame and in_force frame (CAP exports have their own key: cap_sign.h),
 * and the list of public keys that check them (docs/security.md, "Signed
 * alerts").
 *
 * Two files, beside the token key (--alert-key FILE, default
 * alert_sign.key there):
 *   FILE      32 bytes exactly: the Ed25519 seed (libsodium
 *             crypto_sign_seed_keypair), root:tocsin 0640 like the token
 *             key. Made by `tocsinctl keys init`, replaced by
 *             `tocsinctl keys rotate-alert`; never leaves the broker.
 *   FILE.pub  JSON, 0644, the public keys ever used and when:
 *             {"alg":"Ed25519","keys":[{"key_id":"…","public_key":"…",
 *              "valid_from":"…","valid_until":null|"…"}, …]}
 *             public_key is the 32-byte key in standard base64; key_id is
 *             the hex of the first 8 bytes of its BLAKE2b-256 hash
 *             (crypto_generichash); times are ISO 8601 UTC. A rotation
 *             closes the old entry (valid_until) and adds the new one, so
 *             alerts signed before it stay verifiable. Optional: without
 *             it the list is the current key alone.
 * A signature is {"alg":"Ed25519","key_id":"…","sig":"…"} (sig: the 64
 * bytes in standard base64) over canon_json_dump() of the signed object;
 * sign_check.h checks one.
 * Pure: plain blocking file reads at start, no loop; any thread after. */
#ifndef TOCSIN_SIGN_KEY_H
#define TOCSIN_SIGN_KEY_H

#include <jansson.h>
#include <sodium.h>

#define SIGN_KEY_ID_LEN 16 /* hex of 8 bytes */

struct sign_key {
	unsigned char sk[crypto_sign_SECRETKEYBYTES]; /* seed and public key */
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	char key_id[SIGN_KEY_ID_LEN + 1];
	json_t *published; /* owned: {"alg":"Ed25519","keys":[…]} as served */
};

/* Reads FILE and FILE.pub. Returns 0, or -1 after logging an error that
 * names the file (and the command that makes a missing key). */
int sign_key_load(struct sign_key *k, const char *path);

/* key_id of a public key. */
void sign_key_id(const unsigned char pk[crypto_sign_PUBLICKEYBYTES],
		 char out[SIGN_KEY_ID_LEN + 1]);

/* The signature object of v, or NULL (out of memory, or v cannot be
 * written canonically: canon_json.h). */
json_t *sign_key_sign_json(const struct sign_key *k, const json_t *v);
/* The signature object of len bytes of text (v's canonical form, when
 * the caller keeps it: the alert's stored signature, 048), or NULL. */
json_t *sign_key_sign_text(const struct sign_key *k, const char *text, size_t len);

/* Wipes the secret key and frees the list. */
void sign_key_free(struct sign_key *k);

#endif
