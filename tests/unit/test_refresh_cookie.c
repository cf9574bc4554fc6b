// links: broker/base/refresh_cookie.c
/* Unit tests for refresh_cookie.c: the cookie round-trips, a malformed or
 * foreign cookie is refused, the cache key depends on the secret only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "refresh_cookie.h"

static void test_round_trip(void **state)
{
	unsigned char secret[REFRESH_SECRET_BYTES], back[REFRESH_SECRET_BYTES];
	char header[REFRESH_COOKIE_MAX], cookie[REFRESH_COOKIE_MAX];
	int64_t id = 0;

	refresh_cookie_secret_new(secret);
	assert_int_equal(refresh_cookie_header(42, secret, 1, header, sizeof header), 0);
	assert_non_null(strstr(header, "; Path=/api; HttpOnly; SameSite=Strict; Max-Age="));
	assert_non_null(strstr(header, "; Secure"));
	/* what a browser sends back: name=value, among other cookies */
	snprintf(cookie, sizeof cookie, "other=1; %.*s; x=y", (int)strcspn(header, ";"), header);
	assert_int_equal(refresh_cookie_parse(cookie, &id, back), 0);
	assert_int_equal(id, 42);
	assert_memory_equal(back, secret, sizeof secret);
}

static void test_refused(void **state)
{
	unsigned char secret[REFRESH_SECRET_BYTES];
	int64_t id;

	assert_int_equal(refresh_cookie_parse("", &id, secret), -1);
	assert_int_equal(refresh_cookie_parse("xtocsin_refresh=1.AAAA", &id, secret), -1);
	assert_int_equal(refresh_cookie_parse("tocsin_refresh=0.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &id, secret), -1);
	assert_int_equal(refresh_cookie_parse("tocsin_refresh=7.short", &id, secret), -1);
	assert_int_equal(refresh_cookie_parse("tocsin_refresh=7", &id, secret), -1);
	assert_int_equal(refresh_cookie_parse("tocsin_refresh=; Path=/api", &id, secret), -1);
}

static void test_clear_and_keys(void **state)
{
	unsigned char a[REFRESH_SECRET_BYTES] = { 1 }, b[REFRESH_SECRET_BYTES] = { 2 };
	char header[REFRESH_COOKIE_MAX], ka[REFRESH_CACHE_KEY_LEN + 1], kb[REFRESH_CACHE_KEY_LEN + 1],
		ka2[REFRESH_CACHE_KEY_LEN + 1], hash[REFRESH_HASH_HEX_LEN + 1];

	assert_int_equal(refresh_cookie_header(0, NULL, 0, header, sizeof header), 0);
	assert_string_equal(header, "tocsin_refresh=; Path=/api; HttpOnly; SameSite=Strict; Max-Age=0");
	refresh_cookie_cache_key(a, ka);
	refresh_cookie_cache_key(a, ka2);
	refresh_cookie_cache_key(b, kb);
	assert_int_equal(strlen(ka), REFRESH_CACHE_KEY_LEN);
	assert_string_equal(ka, ka2);
	assert_string_not_equal(ka, kb);
	refresh_cookie_hash_hex(a, hash);
	assert_int_equal(strlen(hash), REFRESH_HASH_HEX_LEN);
	assert_memory_equal(hash, "\\x", 2);
	assert_int_equal(refresh_cookie_header(1, a, 0, header, 20), -1); /* too small */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_clear_and_keys),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("refresh_cookie", tests, NULL, NULL);
}
