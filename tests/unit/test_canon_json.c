// links: broker/base/canon_json.c broker/base/sign_key.c broker/base/key_file.c broker/base/log.c broker/base/sign_check.c
/* Unit tests for canon_json.c and sign_key.c: the canonical form as a
 * browser's JSON.stringify writes it (the numbers below were printed by
 * Node 20), and an Ed25519 signature over it that a changed byte breaks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "canon_json.h"
#include "sign_check.h"
#include "sign_key.h"

static void numbers_as_javascript(void **state)
{
	static const struct { double x; const char *js; } cases[] = {
		{ 1.00000000000000006e-1, "0.1" },
		{ 5.15073999999999970e+1, "51.5074" },
		{ -1.27799999999999997e-1, "-0.1278" },
		{ 9.99999999999999955e-8, "1e-7" },
		{ 1.00000000000000000e+21, "1e+21" },
		{ 1.23456789012345684e+20, "123456789012345680000" },
		{ 4.94065645841246544e-324, "5e-324" },
		{ 1.79769313486231571e+308, "1.7976931348623157e+308" },
		{ 9.99999999999999955e-7, "0.000001" },
		{ 1.23450000000000000e-6, "0.0000012345" },
		{ 1.00000000000000000e+2, "100" },
		{ 1.50000000000000000e+0, "1.5" },
		{ -2.50000000000000016e-10, "-2.5e-10" },
		{ 1.23456000000000003e+2, "123.456" },
		{ 1.00000000000000005e+300, "1e+300" },
		{ 9.00719925474099200e+15, "9007199254740992" },
		{ 3.00000000000000044e-1, "0.30000000000000004" },
		{ -0.0, "0" },
	};
	char out[40];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_true(canon_json_number(cases[i].x, out, sizeof out) > 0);
		assert_string_equal(out, cases[i].js);
	}
}

static void sorted_escaped_compact(void **state)
{
	json_t *v = json_loads("{\"b\":[1,2.5,null,true,false],\"a\":\"x\\\"\\\\\\n\\u0001/\\u00e9\","
			       "\"\\ud83d\\ude00\":1,\"\\uffff\":2,\"A\":{}}", 0, NULL);
	size_t len;
	char *s = canon_json_dump(v, &len);

	(void)state;
	assert_non_null(s);
	/* U+1F600 is D83D DE00 in UTF-16, before U+FFFF (unlike UTF-8) */
	assert_string_equal(s, "{\"A\":{},\"a\":\"x\\\"\\\\\\n\\u0001/\xc3\xa9\",\"b\":[1,2.5,null,true,"
			       "false],\"\xf0\x9f\x98\x80\":1,\"\xef\xbf\xbf\":2}");
	assert_int_equal(len, strlen(s));
	free(s);
	json_decref(v);
	v = json_pack("{s:I}", "id", (json_int_t)9007199254740993LL);
	assert_null(canon_json_dump(v, &len)); /* a browser would read another number */
	json_decref(v);
}

static void sign_and_verify(void **state)
{
	char dir[] = "/tmp/canon_json_XXXXXX", path[64];
	unsigned char seed[32];
	struct sign_key k;
	json_t *alert, *sig, *other;
	FILE *f;

	(void)state;
	assert_true(sodium_init() >= 0);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/alert_sign.key", dir);
	randombytes_buf(seed, sizeof seed);
	f = fopen(path, "wb");
	assert_int_equal(fwrite(seed, 1, sizeof seed, f), sizeof seed);
	fclose(f);
	assert_int_equal(sign_key_load(&k, path), 0);
	assert_int_equal(strlen(k.key_id), SIGN_KEY_ID_LEN);
	alert = json_pack("{s:I, s:s, s:[f,f]}", "id", (json_int_t)41, "headline", "Gas leak",
			  "area", 51.5074, -0.1278);
	sig = sign_key_sign_json(&k, alert);
	assert_non_null(sig);
	assert_int_equal(sign_check_json(k.published, alert, sig), SIGN_CHECK_VALID);
	json_object_set_new(alert, "headline", json_string("Gas leek"));
	assert_int_equal(sign_check_json(k.published, alert, sig), SIGN_CHECK_BAD);
	other = json_pack("{s:s, s:[]}", "alg", "Ed25519", "keys");
	assert_int_equal(sign_check_json(other, alert, sig), SIGN_CHECK_UNKNOWN_KEY);
	json_object_del(sig, "sig");
	assert_int_equal(sign_check_json(k.published, alert, sig), SIGN_CHECK_UNSIGNED);
	json_decref(other);
	json_decref(sig);
	json_decref(alert);
	sign_key_free(&k);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(numbers_as_javascript),
		cmocka_unit_test(sorted_escaped_compact),
		cmocka_unit_test(sign_and_verify),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
