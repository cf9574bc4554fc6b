// links: broker/base/outq.c broker/base/msg.c
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

/* Checks one message's pre-built frame: header bytes, then the payload. */
static void check_frame(size_t len, const unsigned char *want_hdr, unsigned want_hdr_len)
{
	static char payload[70000];
	struct msg *m;

	memset(payload, 'x', sizeof payload);
	m = msg_new(payload, len, MSG_ALERT, 7);
	assert_non_null(m);
	assert_int_equal(m->hdr_len, want_hdr_len);
	assert_int_equal(msg_frame_len(m), want_hdr_len + len);
	assert_memory_equal(msg_frame(m), want_hdr, want_hdr_len);
	assert_ptr_equal(msg_frame(m) + want_hdr_len, msg_payload(m));
	assert_memory_equal(msg_payload(m), payload, len);
	msg_unref(m);
}

/* Each message carries its RFC 6455 server frame (FIN + text, unmasked),
 * with the 7-bit, 16-bit and 64-bit length forms at their boundaries. */
static void test_frame_header(void **state)
{
	check_frame(0, (const unsigned char[]){ 0x81, 0 }, 2);
	check_frame(125, (const unsigned char[]){ 0x81, 125 }, 2);
	check_frame(126, (const unsigned char[]){ 0x81, 126, 0, 126 }, 4);
	check_frame(65535, (const unsigned char[]){ 0x81, 126, 0xff, 0xff }, 4);
	check_frame(65536, (const unsigned char[]){ 0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0 }, 10);
	assert_true(MSG_HEADROOM >= MSG_FRAME_HDR_MAX);
}

/* outq_at walks the queue oldest first, across the ring's wrap point, and
 * says NULL past the end. */
static void test_at(void **state)
{
	struct outq q = { 0 };
	struct msg *m[12];

	for (int i = 0; i < 12; i++)
		m[i] = msg_new("m", 1, MSG_CONTROL, 0);
	for (int i = 0; i < 6; i++)
		assert_int_equal(outq_push(&q, m[i], 100, 1000), 0);
	for (int i = 0; i < 5; i++)
		outq_pop(&q);
	for (int i = 6; i < 12; i++)
		assert_int_equal(outq_push(&q, m[i], 100, 1000), 0);
	for (unsigned i = 0; i < 7; i++)
		assert_ptr_equal(outq_at(&q, i), m[5 + i]);
	assert_null(outq_at(&q, 7));
	outq_clear(&q);
	assert_null(outq_at(&q, 0));
	for (int i = 0; i < 12; i++)
		msg_unref(m[i]);
}

/* A board update supersedes the same site's update still queued: the old
 * one is dropped (its reference and bytes with it), the new one goes to the
 * back, the rest keep their order, also across the ring's wrap; messages
 * without a key are never dropped. */
static void test_supersedes(void **state)
{
	struct outq q = { 0 };
	struct msg *plain[3], *site[6];
	char text[24];

	for (int i = 0; i < 3; i++) {
		snprintf(text, sizeof text, "plain%d", i);
		plain[i] = msg_new(text, strlen(text), MSG_CONTROL, 0);
	}
	for (int i = 0; i < 6; i++) { /* sites 7, 8, 7, 9, 7, 8 */
		static const int64_t key[6] = { 7, 8, 7, 9, 7, 8 };
		snprintf(text, sizeof text, "site%d", i);
		site[i] = msg_new(text, strlen(text), MSG_CONTROL, 0);
		site[i]->supersedes = key[i];
	}
	/* wrap the ring first: 6 in, 5 out */
	for (int i = 0; i < 5; i++) {
		assert_int_equal(outq_push(&q, plain[0], 100, 1000), 0);
		outq_pop(&q);
	}
	assert_int_equal(outq_push(&q, site[0], 100, 1000), 0); /* 7 */
	assert_int_equal(outq_push(&q, plain[1], 100, 1000), 0);
	assert_int_equal(outq_push(&q, site[1], 100, 1000), 0); /* 8 */
	assert_int_equal(outq_push(&q, site[2], 100, 1000), 0); /* 7 again: site[0] goes */
	assert_int_equal(outq_push(&q, site[3], 100, 1000), 0); /* 9 */
	assert_int_equal(outq_push(&q, plain[2], 100, 1000), 0);
	assert_int_equal(outq_push(&q, site[4], 100, 1000), 0); /* 7 again: site[2] goes */
	assert_int_equal(outq_push(&q, site[5], 100, 1000), 0); /* 8 again: site[1] goes */
	{
		struct msg *want[6] = { plain[1], site[3], plain[2], site[4], site[5], NULL };
		size_t bytes = 0;
		for (unsigned i = 0; i < 6; i++) {
			assert_ptr_equal(outq_at(&q, i), want[i]);
			if (want[i])
				bytes += want[i]->len;
		}
		assert_int_equal(q.count, 5);
		assert_int_equal(q.bytes, bytes);
	}
	/* the dropped ones were let go: only the test's reference is left */
	assert_int_equal(site[0]->refs, 1);
	assert_int_equal(site[1]->refs, 1);
	assert_int_equal(site[2]->refs, 1);
	assert_int_equal(site[4]->refs, 2);
	/* a full queue still refuses what supersedes nothing */
	assert_int_equal(outq_push(&q, plain[0], 5, 1000), -1);
	/* ... but takes an update that replaces one of its own */
	assert_int_equal(outq_push(&q, site[0], 5, 1000), 0); /* 7: site[4] goes */
	assert_int_equal(q.count, 5);
	assert_ptr_equal(outq_at(&q, 4), site[0]);
	outq_clear(&q);
	for (int i = 0; i < 3; i++)
		msg_unref(plain[i]);
	for (int i = 0; i < 6; i++)
		msg_unref(site[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifo_and_wrap),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_shared),
		cmocka_unit_test(test_frame_header),
		cmocka_unit_test(test_at),
		cmocka_unit_test(test_supersedes),
	};
	return cmocka_run_group_tests_name("outq", tests, NULL, NULL);
}
