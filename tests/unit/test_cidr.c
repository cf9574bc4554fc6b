// links: broker/base/cidr.c
/* Unit tests for cidr.c: ranges, and the client address behind trusted
 * proxies (the right-to-left rule of X-Forwarded-For). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "cidr.h"

static void test_parse(void **state)
{
	struct cidr c;
	const char *good[] = { "10.0.0.0/8", "127.0.0.1", "127.0.0.1/32", "0.0.0.0/0", "::1",
			       "fd00::/8", "2001:db8::/32", "::/0", "192.168.1.0/24" };
	const char *bad[] = { "", "10.0.0.0/", "10.0.0.0/33", "10.1.2.3/8", "fd00::1/8",
			      "10.0.0.0/-1", "10.0.0.0/8x", "host.example", "10.0.0", "::1/129",
			      "[::1]", "10.0.0.0/ 8" };

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		assert_int_equal(cidr_parse(good[i], &c), 0);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(cidr_parse(bad[i], &c), -1);
	assert_int_equal(cidr_parse("192.168.1.0/24", &c), 0);
	assert_int_equal(c.family, 4);
	assert_int_equal(c.prefix, 24);
}

static void test_list(void **state)
{
	struct cidr_list l;
	char bad[CIDR_TEXT_MAX], text[256];

	assert_int_equal(cidr_list_parse("", &l, bad, sizeof bad), 0);
	assert_int_equal(l.n, 0);
	assert_false(cidr_list_match(&l, "127.0.0.1"));
	assert_int_equal(cidr_list_parse(" 10.0.0.0/8, 127.0.0.2 ::1 ", &l, bad, sizeof bad), 0);
	assert_int_equal(l.n, 3);
	cidr_list_format(&l, text, sizeof text);
	assert_string_equal(text, "10.0.0.0/8 127.0.0.2/32 ::1/128");
	assert_true(cidr_list_match(&l, "10.200.3.4"));
	assert_true(cidr_list_match(&l, "127.0.0.2"));
	assert_false(cidr_list_match(&l, "127.0.0.1"));
	assert_true(cidr_list_match(&l, "::1"));
	assert_true(cidr_list_match(&l, "::ffff:10.1.1.1")); /* mapped: its IPv4 address */
	assert_false(cidr_list_match(&l, "not-an-address"));
	assert_false(cidr_list_match(&l, NULL));
	assert_int_equal(cidr_list_parse("10.0.0.0/8 10.1.2.3/8", &l, bad, sizeof bad), -1);
	assert_string_equal(bad, "10.1.2.3/8");
	assert_int_equal(cidr_list_parse("10.0.0.0/8,proxy.example", &l, bad, sizeof bad), -1);
	assert_string_equal(bad, "proxy.example");
	/* /0 holds every address of its family, and only those */
	assert_int_equal(cidr_list_parse("0.0.0.0/0", &l, bad, sizeof bad), 0);
	assert_true(cidr_list_match(&l, "203.0.113.9"));
	assert_false(cidr_list_match(&l, "2001:db8::1"));
	/* a prefix that is not a whole number of bytes */
	assert_int_equal(cidr_list_parse("172.16.0.0/12", &l, bad, sizeof bad), 0);
	assert_true(cidr_list_match(&l, "172.31.255.255"));
	assert_false(cidr_list_match(&l, "172.32.0.0"));
}

static void test_addr_normal(void **state)
{
	char out[CIDR_ADDR_MAX];
	const char *cases[][2] = {
		{ " 203.0.113.7 ", "203.0.113.7" },
		{ "203.0.113.7:51234", "203.0.113.7" },
		{ "[2001:DB8::1]:443", "2001:db8::1" },
		{ "[2001:db8::1]", "2001:db8::1" },
		{ "2001:db8:0:0::1", "2001:db8::1" },
		{ "::ffff:198.51.100.1", "198.51.100.1" },
	};
	const char *bad[] = { "", " ", "unknown", "[2001:db8::1", "[::1]x", "1.2.3.4:5:6x",
			      "_hidden" };

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(cidr_addr_normal(cases[i][0], strlen(cases[i][0]), out, sizeof out), 0);
		assert_string_equal(out, cases[i][1]);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(cidr_addr_normal(bad[i], strlen(bad[i]), out, sizeof out), -1);
}

/* Each case: peer, X-Forwarded-For, X-Real-IP, and the address decided. */
static void test_client_address(void **state)
{
	struct cidr_list trusted;
	char bad[CIDR_TEXT_MAX], out[CIDR_ADDR_MAX];
	const char *cases[][4] = {
		/* an untrusted peer's headers are its own: ignored (forgery) */
		{ "198.51.100.9", "203.0.113.7", "203.0.113.8", "198.51.100.9" },
		/* no headers from a trusted proxy: the proxy */
		{ "10.0.0.5", NULL, NULL, "10.0.0.5" },
		{ "10.0.0.5", "", NULL, "10.0.0.5" },
		/* the proxy's word */
		{ "10.0.0.5", "203.0.113.7", NULL, "203.0.113.7" },
		{ "10.0.0.5", NULL, "203.0.113.8", "203.0.113.8" },
		/* X-Forwarded-For first when both are there */
		{ "10.0.0.5", "203.0.113.7", "203.0.113.8", "203.0.113.7" },
		/* right to left: what the client wrote on the left is not believed */
		{ "10.0.0.5", "1.1.1.1, 203.0.113.7", NULL, "203.0.113.7" },
		/* our own proxies in the chain are skipped */
		{ "10.0.0.5", "1.1.1.1, 203.0.113.7, 10.0.0.6", NULL, "203.0.113.7" },
		{ "10.0.0.5", "1.1.1.1,203.0.113.7,10.0.0.6,10.0.0.7", NULL, "203.0.113.7" },
		/* every hop a proxy of ours: the leftmost */
		{ "10.0.0.5", "10.0.0.9, 10.0.0.6", NULL, "10.0.0.9" },
		/* a malformed entry stops the walk at the proxy that handed it over */
		{ "10.0.0.5", "203.0.113.7, garbage", NULL, "10.0.0.5" },
		{ "10.0.0.5", "garbage, 203.0.113.7", NULL, "203.0.113.7" },
		{ "10.0.0.5", "203.0.113.7, garbage, 10.0.0.6", NULL, "10.0.0.6" },
		{ "10.0.0.5", ",", NULL, "10.0.0.5" },
		{ "10.0.0.5", NULL, "garbage", "10.0.0.5" },
		/* ports and brackets, as some proxies write them */
		{ "10.0.0.5", "[2001:db8::7]:4711", NULL, "2001:db8::7" },
		{ "10.0.0.5", "203.0.113.7:4711", NULL, "203.0.113.7" },
		/* a mapped peer is its IPv4 address */
		{ "::ffff:10.0.0.5", "203.0.113.7", NULL, "203.0.113.7" },
		{ "::ffff:198.51.100.9", "203.0.113.7", NULL, "198.51.100.9" },
	};

	assert_int_equal(cidr_list_parse("10.0.0.0/24", &trusted, bad, sizeof bad), 0);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cidr_client_address(cases[i][0], cases[i][1], cases[i][2], &trusted, out, sizeof out);
		print_message("case %zu: %s | %s | %s -> %s\n", i, cases[i][0],
			      cases[i][1] ? cases[i][1] : "-", cases[i][2] ? cases[i][2] : "-", out);
		assert_string_equal(out, cases[i][3]);
	}
	/* nothing trusted: always the peer */
	trusted.n = 0;
	cidr_client_address("10.0.0.5", "203.0.113.7", "203.0.113.8", &trusted, out, sizeof out);
	assert_string_equal(out, "10.0.0.5");
	/* a peer that is no address (lws could not tell) stays as it is */
	cidr_client_address("", "203.0.113.7", NULL, &trusted, out, sizeof out);
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_addr_normal),
		cmocka_unit_test(test_client_address),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
