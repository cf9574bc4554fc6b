// links: broker/base/audit_chain.c
/* Unit tests for audit_chain.c: seals chain, depend on key, row and order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <string.h>

#include "audit_chain.h"

static unsigned char key[AUDIT_KEY_BYTES];

static int setup(void **state)
{
	if (sodium_init() < 0)
		return -1;
	randombytes_buf(key, sizeof key);
	return 0;
}

static void test_chain_depends_on_everything(void **state)
{
	unsigned char a[AUDIT_SEAL_BYTES], b[AUDIT_SEAL_BYTES], c[AUDIT_SEAL_BYTES],
		d[AUDIT_SEAL_BYTES], other_key[AUDIT_KEY_BYTES];

	audit_chain_seal(key, NULL, "1|row one", 9, a);
	audit_chain_seal(key, a, "2|row two", 9, b);
	/* same row, same predecessor: same seal (deterministic) */
	audit_chain_seal(key, a, "2|row two", 9, c);
	assert_memory_equal(b, c, sizeof b);
	/* an edited row */
	audit_chain_seal(key, a, "2|row twO", 9, c);
	assert_memory_not_equal(b, c, sizeof b);
	/* a changed predecessor (an edit or deletion before) */
	audit_chain_seal(key, NULL, "2|row two", 9, c);
	assert_memory_not_equal(b, c, sizeof b);
	/* another key: nobody without the key can forge a seal */
	randombytes_buf(other_key, sizeof other_key);
	audit_chain_seal(other_key, a, "2|row two", 9, d);
	assert_memory_not_equal(b, d, sizeof b);
}

static void test_parse_seal(void **state)
{
	unsigned char out[AUDIT_SEAL_BYTES], want[AUDIT_SEAL_BYTES];
	char text[2 + 2 * AUDIT_SEAL_BYTES + 1] = "\\x";

	randombytes_buf(want, sizeof want);
	sodium_bin2hex(text + 2, sizeof text - 2, want, sizeof want);
	assert_int_equal(audit_chain_parse_seal(text, out), 0);
	assert_memory_equal(out, want, sizeof want);
	assert_int_equal(audit_chain_parse_seal("\\x00", out), -1);
	assert_int_equal(audit_chain_parse_seal(text + 2, out), -1); /* no \x */
	text[5] = 'g';
	assert_int_equal(audit_chain_parse_seal(text, out), -1);
	assert_int_equal(audit_chain_parse_seal(NULL, out), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain_depends_on_everything),
		cmocka_unit_test(test_parse_seal),
	};
	return cmocka_run_group_tests_name("audit_chain", tests, setup, NULL);
}
