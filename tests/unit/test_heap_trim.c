// links: broker/base/heap_trim.c
/* Unit tests for heap_trim.c: the heap is trimmed once a wave of
 * connections has settled, not during it, not twice within the gap, and
 * not never when connections keep coming and going. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "heap_trim.h"

#define S 1000000LL

/* Ticks once a second from `from` to `to` (seconds) with n connections;
 * the second of the first tick that says "trim" (and records it), or -1. */
static int64_t first_due(struct heap_trim *t, unsigned n, int64_t from, int64_t to)
{
	for (int64_t s = from; s <= to; s++) {
		if (heap_trim_due(t, n, s * S)) {
			heap_trim_done(t, s * S);
			return s;
		}
	}
	return -1;
}

static void test_quiet_start_never_trims(void **state)
{
	struct heap_trim t = { 0 };

	assert_int_equal(first_due(&t, 0, 1, 1000), -1);
}

static void test_trims_once_the_wave_settles(void **state)
{
	struct heap_trim t = { 0 };

	/* 10,000 consoles arrive over 5 s: no trim while they come */
	for (int64_t s = 1; s <= 5; s++)
		assert_false(heap_trim_due(&t, (unsigned)(s * 2000), s * S));
	/* quiet for HEAP_TRIM_QUIET_US: trimmed then, once */
	assert_int_equal(first_due(&t, 10000, 6, 100), 5 + HEAP_TRIM_QUIET_US / S);
	assert_int_equal(first_due(&t, 10000, 101, 2000), -1);
}

static void test_gap_between_trims(void **state)
{
	struct heap_trim t = { 0 };
	int64_t first;

	heap_trim_due(&t, 10, 1 * S);
	first = first_due(&t, 10, 2, 100);
	assert_true(first > 0);
	/* a second wave right after: waits for the gap, then trims */
	heap_trim_due(&t, 500, (first + 1) * S);
	assert_int_equal(first_due(&t, 500, first + 2, first + 1000), first + HEAP_TRIM_GAP_US / S);
}

static void test_endless_churn_trims_at_the_latest(void **state)
{
	struct heap_trim t = { 0 };
	int64_t s;

	/* the count moves every second, for ever */
	for (s = 1; s <= 2 * HEAP_TRIM_LATEST_US / S; s++) {
		if (heap_trim_due(&t, (unsigned)(1000 + (s & 1)), s * S))
			break;
	}
	assert_int_equal(s, 1 + HEAP_TRIM_LATEST_US / S);
}

static void test_run_does_not_fail(void **state)
{
	void *p[64];

	for (int i = 0; i < 64; i++)
		p[i] = malloc(64 * 1024);
	for (int i = 0; i < 64; i += 2)
		free(p[i]);
	assert_true(heap_trim_run() >= 0);
	for (int i = 1; i < 64; i += 2)
		free(p[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quiet_start_never_trims),
		cmocka_unit_test(test_trims_once_the_wave_settles),
		cmocka_unit_test(test_gap_between_trims),
		cmocka_unit_test(test_endless_churn_trims_at_the_latest),
		cmocka_unit_test(test_run_does_not_fail),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
