// links: broker/base/admission.c
/* Unit tests for admission.c: origins, per-address caps, message rate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "admission.h"

static void test_origin_defaults(void **state)
{
	assert_true(admission_origin_ok("", NULL, 0, 8080));
	assert_true(admission_origin_ok(NULL, NULL, 0, 8080));
	assert_true(admission_origin_ok("http://127.0.0.1:8080", NULL, 0, 8080));
	assert_true(admission_origin_ok("http://localhost:8080", NULL, 0, 8080));
	assert_false(admission_origin_ok("http://localhost:8081", NULL, 0, 8080));
	assert_false(admission_origin_ok("https://evil.example", NULL, 0, 8080));
	assert_false(admission_origin_ok("http://127.0.0.1:8080.evil.example", NULL, 0, 8080));
	assert_false(admission_origin_ok("null", NULL, 0, 8080));
}

static void test_origin_list(void **state)
{
	const char *allowed[] = { "https://tocsin.city.police.uk" };

	assert_true(admission_origin_ok("https://tocsin.city.police.uk", allowed, 1, 443));
	assert_false(admission_origin_ok("http://127.0.0.1:443", allowed, 1, 443));
	assert_false(admission_origin_ok("https://tocsin.city.police.uk.evil", allowed, 1, 443));
}

static void test_address_caps(void **state)
{
	struct address_counts t = { 0 };

	assert_int_equal(admission_counts_add(&t, "10.0.0.1", 2), 0);
	assert_int_equal(admission_counts_add(&t, "10.0.0.1", 2), 0);
	assert_int_equal(admission_counts_add(&t, "10.0.0.1", 2), -1);
	assert_int_equal(admission_counts_add(&t, "10.0.0.2", 2), 0);
	admission_counts_remove(&t, "10.0.0.1");
	assert_int_equal(admission_counts_add(&t, "10.0.0.1", 2), 0);
	admission_counts_remove(&t, "10.0.0.9"); /* unknown: harmless */
	admission_counts_clear(&t);
	for (int i = 0; i < ADMISSION_BUCKETS; i++)
		assert_null(t.buckets[i]);
}

static void test_rate(void **state)
{
	struct rate_bucket r = { 0 };
	int64_t t = 1000000000;
	int allowed = 0;

	for (int i = 0; i < 100; i++)
		allowed += admission_rate_allow(&r, 10, t); /* a burst at one instant */
	assert_int_equal(allowed, 20);       /* twice the rate */
	assert_false(admission_rate_allow(&r, 10, t));
	assert_true(admission_rate_allow(&r, 10, t + 100000)); /* 0.1 s later: one more */
	assert_false(admission_rate_allow(&r, 10, t + 100000));
	allowed = 0;
	for (int i = 1; i <= 50; i++)
		allowed += admission_rate_allow(&r, 10, t + 100000 + i * 100000LL); /* steady 10/s */
	assert_int_equal(allowed, 50);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_origin_defaults),
		cmocka_unit_test(test_origin_list),
		cmocka_unit_test(test_address_caps),
		cmocka_unit_test(test_rate),
	};
	return cmocka_run_group_tests_name("admission", tests, NULL, NULL);
}
