// links: broker/base/admission.c
/* Unit tests for admission.c: origins, per-address caps, message rate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "admission.h"

static void test_origin_normal(void **state)
{
	char out[ADMISSION_ORIGIN_MAX];
	const char *cases[][2] = {
		{ "https://tocsin.force.example", "https://tocsin.force.example" },
		{ "https://tocsin.force.example:443", "https://tocsin.force.example" },
		{ "HTTPS://Tocsin.Force.Example:443/", "https://tocsin.force.example" },
		{ "http://localhost:80", "http://localhost" },
		{ "http://localhost:443", "http://localhost:443" },
		{ "https://localhost:80", "https://localhost:80" },
		{ "https://127.0.0.1:8443", "https://127.0.0.1:8443" },
		{ "http://[::1]:8080", "http://[::1]:8080" },
	};
	const char *bad[] = { "", "null", "tocsin.force.example", "ftp://x.example",
			      "https://", "https://:443", "https://x.example/path",
			      "https://x.example:0", "https://x.example:65536", "https://x.example:",
			      "http://127.0.0.1:8080.evil.example", "https://user@x.example",
			      "https://[::1", "https://x.example:443/extra" };

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(admission_origin_normal(cases[i][0], out, sizeof out), 0);
		assert_string_equal(out, cases[i][1]);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(admission_origin_normal(bad[i], out, sizeof out), -1);
		assert_string_equal(out, "");
	}
	assert_int_equal(admission_origin_normal("https://a-rather-long-name.example", out, 16), -1);
}

static void test_origin_list(void **state)
{
	/* normal forms, as conf.c keeps them */
	const char *allowed[] = { "https://tocsin.city.police.uk", "https://127.0.0.1:8443" };

	assert_true(admission_origin_ok("", allowed, 2));
	assert_true(admission_origin_ok(NULL, allowed, 2)); /* not a browser */
	assert_true(admission_origin_ok("https://tocsin.city.police.uk", allowed, 2));
	/* a browser on the default port leaves it out; one that does not is the same origin */
	assert_true(admission_origin_ok("https://tocsin.city.police.uk:443", allowed, 2));
	assert_true(admission_origin_ok("HTTPS://TOCSIN.CITY.POLICE.UK", allowed, 2));
	assert_true(admission_origin_ok("https://127.0.0.1:8443", allowed, 2));
	assert_false(admission_origin_ok("https://127.0.0.1", allowed, 2));
	assert_false(admission_origin_ok("http://tocsin.city.police.uk", allowed, 2));
	assert_false(admission_origin_ok("http://127.0.0.1:443", allowed, 2));
	assert_false(admission_origin_ok("https://tocsin.city.police.uk.evil", allowed, 2));
	assert_false(admission_origin_ok("https://127.0.0.1:8443.evil.example", allowed, 2));
	assert_false(admission_origin_ok("null", allowed, 2));
	assert_false(admission_origin_ok("https://tocsin.city.police.uk", allowed, 0));
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

/* The gate stops at max and opens again once a quarter is through; below
 * max 4 a quarter is none, and it opens as soon as one is through. */
static void test_gate(void **state)
{
	struct admission_gate g = { 0 };

	(void)state;
	for (int i = 0; i < 8; i++) {
		assert_true(admission_gate_room(&g, 8));
		admission_gate_enter(&g);
	}
	assert_false(admission_gate_room(&g, 8));
	admission_gate_leave(&g);
	assert_true(admission_gate_room(&g, 8));
	assert_false(admission_gate_reopen(&g, 8)); /* 7: not a quarter through */
	admission_gate_leave(&g);
	assert_false(admission_gate_reopen(&g, 8)); /* 6 */
	admission_gate_leave(&g);
	assert_true(admission_gate_reopen(&g, 8));  /* 5 */
	g.in_flight = 1;
	assert_false(admission_gate_reopen(&g, 1));
	admission_gate_leave(&g);
	assert_true(admission_gate_reopen(&g, 1));
	admission_gate_leave(&g); /* never below 0 */
	assert_int_equal(g.in_flight, 0);
	g.in_flight = 3;
	assert_false(admission_gate_reopen(&g, 3));
	g.in_flight = 2;
	assert_true(admission_gate_reopen(&g, 3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_origin_normal),
		cmocka_unit_test(test_origin_list),
		cmocka_unit_test(test_address_caps),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_gate),
	};
	return cmocka_run_group_tests_name("admission", tests, NULL, NULL);
}
