/* sign_check.h: checks an alert's Ed25519 signature (docs/protocol.md,
 * "Signed alerts") against a list of public keys: the one piece of C that
 * does it, for the broker (a console's report is not judged, but tocsinctl
 * alert verify is), for tocsinctl, and for the adapters and bus
 * subscribers (linked into build/libtocsinbus.a with canon_json.c:
 * adapters/lib/bus_verify.h).
 *
 * A signature is {"alg":"Ed25519","key_id":"…","sig":"…"} (sig: the 64
 * bytes in standard base64) over canon_json_dump() of the signed object;
 * the keys are {"alg":"Ed25519","keys":[{"key_id","public_key",…}…]} as
 * GET /api/keys/alerts serves them and FILE.pub of the alert key holds
 * them (sign_key.h). Pure: no I/O, any thread; sodium_init() first. */
#ifndef TOCSIN_SIGN_CHECK_H
#define TOCSIN_SIGN_CHECK_H

#include <jansson.h>
#include <stddef.h>

enum sign_check {
	SIGN_CHECK_VALID = 0,
	SIGN_CHECK_UNSIGNED,    /* no signature, or not of the form above */
	SIGN_CHECK_UNKNOWN_KEY, /* key_id not in the list */
	SIGN_CHECK_BAD,         /* the signature does not match the content */
};

/* Checks sig (a signature object) over v against the keys of published. */
enum sign_check sign_check_json(const json_t *published, const json_t *v, const json_t *sig);

/* The same over the canonical text itself (as kept with an alert, 048);
 * text NULL: SIGN_CHECK_BAD once the signature's form and key are known. */
enum sign_check sign_check_text(const json_t *published, const char *text, size_t len,
				const json_t *sig);

/* The entry of key_id in published's "keys", or NULL. */
json_t *sign_check_find_key(const json_t *published, const char *key_id);

/* A word for a check's result: "valid", "unsigned", "unknown_key", "bad". */
const char *sign_check_name(enum sign_check c);

#endif
