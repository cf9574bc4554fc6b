// links: broker/base/clock.c
/* Unit tests for clock.c: the cached RFC 3339 formatter writes exactly what
 * the plain one does, across seconds, days and years, in any order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "clock.h"

static void check_same(struct clock_iso_cache *c, int64_t us)
{
	char plain[CLOCK_ISO_LEN], cached[CLOCK_ISO_LEN];
	size_t len;

	clock_format_iso(us, plain);
	memset(cached, 'x', sizeof cached);
	len = clock_format_iso_cached(c, us, cached);
	assert_string_equal(cached, plain);
	assert_int_equal(len, strlen(plain));
}

static void test_same_as_plain(void **state)
{
	struct clock_iso_cache c = { 0 };
	/* 2026-11-22T23:59:59.000Z and around: ms 0 and 999, the next second,
	 * the next day, back again (a batch is not always in time order) */
	const int64_t day_end = 1795391999LL * 1000000;
	const int64_t times[] = {
		day_end, day_end + 999, day_end + 1000, day_end + 999999, day_end + 1000000,
		day_end + 1000001, day_end + 1999999, day_end - 1, day_end, 0, 999999,
		1000000, 4102444799999999LL /* 2099-12-31T23:59:59.999Z */, 951782400000000LL,
	};

	for (size_t i = 0; i < sizeof times / sizeof *times; i++)
		check_same(&c, times[i]);
	for (int64_t us = day_end - 3000000; us < day_end + 3000000; us += 777)
		check_same(&c, us);
}

static void test_shape(void **state)
{
	struct clock_iso_cache c = { 0 };
	char out[CLOCK_ISO_LEN];

	assert_int_equal(clock_format_iso_cached(&c, 1795391999123456LL, out), 24);
	assert_string_equal(out, "2026-11-22T23:59:59.123Z");
	assert_int_equal(clock_format_iso_cached(&c, 1795392000000999LL, out), 24);
	assert_string_equal(out, "2026-11-23T00:00:00.000Z");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_as_plain),
		cmocka_unit_test(test_shape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
