// links: broker/base/delivery_group.c
/* Unit tests for delivery_group.c: a batch comes out alert by alert, in the
 * order of each alert's first delivery, each alert's deliveries in their
 * own order, nothing lost or added; too many alerts give a plain copy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "delivery_group.h"

static struct delivery d(int64_t alert, int64_t seqno)
{
	/* user_id carries the delivery's position in the input */
	return (struct delivery){ .alert_id = alert, .site_id = alert * 10, .user_id = seqno,
				  .at_us = 1000 + seqno };
}

static void test_interleaved(void **state)
{
	struct delivery in[9] = { d(7, 0), d(3, 1), d(7, 2), d(9, 3), d(3, 4),
				  d(7, 5), d(9, 6), d(3, 7), d(7, 8) };
	const int64_t want_alert[9] = { 7, 7, 7, 7, 3, 3, 3, 9, 9 };
	const int64_t want_pos[9] = { 0, 2, 5, 8, 1, 4, 7, 3, 6 };
	struct delivery out[9];

	memset(out, 0xff, sizeof out);
	assert_int_equal(delivery_group_by_alert(out, in, 9), 3);
	for (int i = 0; i < 9; i++) {
		assert_int_equal(out[i].alert_id, want_alert[i]);
		assert_int_equal(out[i].user_id, want_pos[i]);
		assert_int_equal(out[i].site_id, want_alert[i] * 10);
		assert_int_equal(out[i].at_us, 1000 + want_pos[i]);
	}
}

static void test_one_alert_and_empty(void **state)
{
	struct delivery in[4] = { d(5, 0), d(5, 1), d(5, 2), d(5, 3) }, out[4];

	assert_int_equal(delivery_group_by_alert(out, in, 4), 1);
	assert_memory_equal(out, in, sizeof in);
	assert_int_equal(delivery_group_by_alert(out, in, 0), 0);
}

/* As many alerts as the limit, ids spread apart, round robin: grouped;
 * one alert more: a plain copy. */
static void test_many_alerts_at_the_limit(void **state)
{
	size_t n = 3 * DELIVERY_GROUP_MAX_ALERTS;
	struct delivery *in = calloc(n, sizeof *in), *out = calloc(n, sizeof *out);

	assert_non_null(in);
	assert_non_null(out);
	for (size_t i = 0; i < n; i++) /* round robin over the limit's number of alerts */
		in[i] = d((int64_t)(i % DELIVERY_GROUP_MAX_ALERTS) * 4096 + 1, (int64_t)i);
	assert_int_equal(delivery_group_by_alert(out, in, n), DELIVERY_GROUP_MAX_ALERTS);
	for (size_t i = 0; i < n; i++) {
		size_t g = i / 3, k = i % 3;
		assert_int_equal(out[i].alert_id, (int64_t)g * 4096 + 1);
		assert_int_equal(out[i].user_id, (int64_t)(g + k * DELIVERY_GROUP_MAX_ALERTS));
	}
	/* one alert more than the limit: a plain copy */
	in[n - 1] = d(-1, (int64_t)n - 1);
	assert_int_equal(delivery_group_by_alert(out, in, n), 0);
	assert_memory_equal(out, in, n * sizeof *in);
	free(in);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_interleaved),
		cmocka_unit_test(test_one_alert_and_empty),
		cmocka_unit_test(test_many_alerts_at_the_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
