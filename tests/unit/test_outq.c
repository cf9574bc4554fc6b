// links: broker/outq.c
/* Unit tests for outq.c: order, bounds, wrap-around, shared references. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "outq.h"

static void test_fifo_and_wrap(void **state)
{
	struct outq q = { 0 };
	struct msg *m[40];
	char text[16];

	for (int i = 0; i < 40; i++) {
		snprintf(text, sizeof text, "m%d", i);
		m[i] = msg_new(text, strlen(text), MSG_CONTROL, 0);
	}
	/* interleave pushes and pops so the ring wraps and grows */
	for (int i = 0; i < 10; i++)
		assert_int_equal(outq_push(&q, m[i], 100, 1 << 20), 0);
	for (int i = 0; i < 6; i++) {
		assert_ptr_equal(outq_peek(&q), m[i]);
		outq_pop(&q);
	}
	for (int i = 10; i < 40; i++)
		assert_int_equal(outq_push(&q, m[i], 100, 1 << 20), 0);
	for (int i = 6; i < 40; i++) {
		assert_ptr_equal(outq_peek(&q), m[i]);
		outq_pop(&q);
	}
	assert_null(outq_peek(&q));
	assert_int_equal(q.bytes, 0);
	outq_clear(&q);
	for (int i = 0; i < 40; i++)
		msg_unref(m[i]);
}

static void test_bounds(void **state)
{
	struct outq q = { 0 };
	struct msg *m = msg_new("0123456789", 10, MSG_ALERT, 7);

	assert_int_equal(m->alert_id, 7);
	assert_memory_equal(msg_payload(m), "0123456789", 10);
	assert_int_equal(outq_push(&q, m, 3, 1000), 0);
	assert_int_equal(outq_push(&q, m, 3, 1000), 0);
	assert_int_equal(outq_push(&q, m, 3, 1000), 0);
	assert_int_equal(outq_push(&q, m, 3, 1000), -1); /* count bound */
	assert_int_equal(m->refs, 4);
	outq_clear(&q);
	assert_int_equal(m->refs, 1);
	assert_int_equal(outq_push(&q, m, 100, 25), 0);
	assert_int_equal(outq_push(&q, m, 100, 25), 0);
	assert_int_equal(outq_push(&q, m, 100, 25), -1); /* byte bound */
	outq_clear(&q);
	assert_null(q.ring);
	msg_unref(m);
}

/* One message shared by many queues is freed only by the last owner
 * (ASan in the unit build catches a double free or a leak). */
static void test_shared(void **state)
{
	struct outq qs[5] = { 0 };
	struct msg *m = msg_new("alert", 5, MSG_ALERT, 1);

	for (int i = 0; i < 5; i++)
		assert_int_equal(outq_push(&qs[i], m, 10, 100), 0);
	msg_unref(m); /* the creator's reference */
	for (int i = 0; i < 5; i++) {
		assert_memory_equal(msg_payload(outq_peek(&qs[i])), "alert", 5);
		outq_clear(&qs[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifo_and_wrap),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_shared),
	};
	return cmocka_run_group_tests_name("outq", tests, NULL, NULL);
}
