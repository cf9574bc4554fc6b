// links: broker/base/ids.c
/* Unit tests for ids.c: increasing, unique, JavaScript-safe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ids.h"

static void test_increasing_and_unique(void **state)
{
	struct id_gen g = { .node = 3 };
	int64_t now = 1795357551000LL, prev = 0;

	for (int i = 0; i < 2000; i++) {
		int64_t id = ids_next(&g, now + i / 700); /* ~700 ids per ms: borrows ahead */
		assert_true(id > prev);
		assert_int_equal((id >> 8) & 15, 3);
		prev = id;
	}
}

static void test_clock_steps_back(void **state)
{
	struct id_gen g = { 0 };
	int64_t a = ids_next(&g, 1795357551000LL);
	int64_t b = ids_next(&g, 1795357540000LL); /* 11 s earlier */
	assert_true(b > a);
}

static void test_javascript_safe(void **state)
{
	struct id_gen g = { .node = 15 };
	/* the year 2090 still fits below 2^53 */
	int64_t id = ids_next(&g, 3786912000000LL);
	assert_true(id < (1LL << 53));
	assert_true(id > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_increasing_and_unique),
		cmocka_unit_test(test_clock_steps_back),
		cmocka_unit_test(test_javascript_safe),
	};
	return cmocka_run_group_tests_name("ids", tests, NULL, NULL);
}
