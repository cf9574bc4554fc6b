// links: adapters/lib/bus_verify.c broker/base/sign_check.c broker/base/canon_json.c
/* Unit tests for bus_verify.c: a bus subscriber checks an alert event's
 * signature with the broker's canonical form (sign_check.c); an event
 * altered anywhere in its alert, signed by a key not listed, or carrying
 * no signature is refused. Keys made here with libsodium, the event
 * signed as the broker signs it (Ed25519 over canon_json_dump). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "bus_verify.h"
#include "canon_json.h"

#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* An alert.published event for alert, signed with sk as key "k1". */
static json_t *signed_event(json_t *alert, const unsigned char *sk)
{
	unsigned char sig[crypto_sign_BYTES];
	char b64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES, sodium_base64_VARIANT_ORIGINAL)];
	size_t len;
	char *text = canon_json_dump(alert, &len);

	assert_non_null(text);
	crypto_sign_detached(sig, NULL, (const unsigned char *)text, len, sk);
	free(text);
	sodium_bin2base64(b64, sizeof b64, sig, sizeof sig, sodium_base64_VARIANT_ORIGINAL);
	return json_pack("{s:s, s:I, s:o, s:{s:s, s:s, s:s}}", "type", "alert.published",
			 "alert_id", (json_int_t)41, "alert", alert, "signature", "alg", "Ed25519",
			 "key_id", "k1", "sig", b64);
}

static json_t *keys_of(const unsigned char *pk, const char *id)
{
	char b64[sodium_base64_ENCODED_LEN(crypto_sign_PUBLICKEYBYTES,
					   sodium_base64_VARIANT_ORIGINAL)];

	sodium_bin2base64(b64, sizeof b64, pk, crypto_sign_PUBLICKEYBYTES,
			  sodium_base64_VARIANT_ORIGINAL);
	return json_pack("{s:s, s:[{s:s, s:s, s:n}]}", "alg", "Ed25519", "keys", "key_id", id,
			 "public_key", b64, "valid_until");
}

static void verifies_and_refuses(void **state)
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	json_t *keys, *other, *ev, *alert;

	(void)state;
	assert_true(sodium_init() >= 0);
	crypto_sign_keypair(pk, sk);
	keys = keys_of(pk, "k1");
	other = keys_of(pk, "k2");
	ev = signed_event(json_pack("{s:I, s:s, s:s, s:{s:[[f,f],[f,f]]}, s:n}", "id",
				    (json_int_t)41, "headline", "Gas leak \"east\" caf\xc3\xa9",
				    "body", "Line one\nline two", "area", "polygon", 51.5074,
				    -0.087, 51.51, -0.0861, "relay"),
			  sk);
	assert_int_equal(bus_verify_event(keys, ev), SIGN_CHECK_VALID);
	/* a subscriber that does not know the key */
	assert_int_equal(bus_verify_event(other, ev), SIGN_CHECK_UNKNOWN_KEY);
	/* one character of the text changed on the way */
	alert = json_object_get(ev, "alert");
	json_object_set_new(alert, "headline", json_string("Gas leak \"west\" caf\xc3\xa9"));
	assert_int_equal(bus_verify_event(keys, ev), SIGN_CHECK_BAD);
	json_object_set_new(alert, "headline", json_string("Gas leak \"east\" caf\xc3\xa9"));
	assert_int_equal(bus_verify_event(keys, ev), SIGN_CHECK_VALID);
	/* the area moved: covered too */
	json_real_set(json_array_get(json_array_get(json_object_get(json_object_get(alert, "area"),
								      "polygon"), 0), 0), 51.5075);
	assert_int_equal(bus_verify_event(keys, ev), SIGN_CHECK_BAD);
	/* a member added beside the others */
	json_real_set(json_array_get(json_array_get(json_object_get(json_object_get(alert, "area"),
								      "polygon"), 0), 0), 51.5074);
	json_object_set_new(alert, "instruction", json_string("Run"));
	assert_int_equal(bus_verify_event(keys, ev), SIGN_CHECK_BAD);
	json_object_del(alert, "instruction");
	/* no signature, no alert: refused as unsigned */
	json_object_del(ev, "signature");
	assert_int_equal(bus_verify_event(keys, ev), SIGN_CHECK_UNSIGNED);
	json_object_del(ev, "alert");
	assert_int_equal(bus_verify_event(keys, ev), SIGN_CHECK_UNSIGNED);
	assert_string_equal(sign_check_name(SIGN_CHECK_BAD), "bad");
	json_decref(ev);
	json_decref(keys);
	json_decref(other);
}

static void keys_file(void **state)
{
	char path[] = "/tmp/bus_verify_XXXXXX";
	int fd = mkstemp(path);
	json_t *k;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"alg\":\"Ed25519\"}", 17), 17);
	close(fd);
	assert_null(bus_verify_keys_load(path)); /* no "keys" array */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "{\"keys\":[]}", 11), 11);
	close(fd);
	k = bus_verify_keys_load(path);
	assert_non_null(k);
	json_decref(k);
	unlink(path);
	assert_null(bus_verify_keys_load(path));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(verifies_and_refuses),
		cmocka_unit_test(keys_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
