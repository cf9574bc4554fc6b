// links: broker/base/id_array.c
/* Unit tests for id_array.c: PostgreSQL's integer arrays, and any text
 * at all, since a NOTIFY payload (broker/io/peers.c) is anyone's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "id_array.h"

static void test_postgres_arrays(void **state)
{
	size_t n = 99;
	int64_t *ids = id_array_parse("{3,1,2}", &n);

	assert_non_null(ids);
	assert_int_equal(n, 3);
	assert_int_equal(ids[0], 3);
	assert_int_equal(ids[2], 2);
	free(ids);
	ids = id_array_parse("{}", &n);
	assert_non_null(ids);
	assert_int_equal(n, 0);
	free(ids);
}

/* More numbers than commas: each run of digits is one id, and there is
 * room for all of them (an escalation's "alert:site" pairs had none). */
static void test_any_separator(void **state)
{
	size_t n = 0;
	int64_t *ids = id_array_parse("379249423471104:5,379249423471104:6", &n);

	assert_non_null(ids);
	assert_int_equal(n, 4);
	assert_int_equal(ids[0], 379249423471104LL);
	assert_int_equal(ids[1], 5);
	assert_int_equal(ids[3], 6);
	free(ids);
	ids = id_array_parse("1 2 3 4 5 6 7 8 9 10 11 12", &n);
	assert_int_equal(n, 12);
	assert_int_equal(ids[11], 12);
	free(ids);
}

/* Text that is no list at all gives the digits in it, and nothing else. */
static void test_garbage(void **state)
{
	char big[8001];
	size_t n = 0;
	int64_t *ids;

	for (size_t i = 0; i < sizeof big - 1; i++)
		big[i] = i % 2 ? 'x' : '7';
	big[sizeof big - 1] = '\0';
	ids = id_array_parse(big, &n);
	assert_non_null(ids);
	assert_int_equal(n, 4000);
	free(ids);
	ids = id_array_parse("-12;drop table alerts;99999999999999999999999", &n);
	assert_non_null(ids);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], 12);
	assert_int_equal(ids[1], INT64_MAX);
	free(ids);
	ids = id_array_parse("", &n);
	assert_non_null(ids);
	assert_int_equal(n, 0);
	free(ids);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_postgres_arrays),
		cmocka_unit_test(test_any_separator),
		cmocka_unit_test(test_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
