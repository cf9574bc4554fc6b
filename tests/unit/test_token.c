// links: broker/base/token.c
/* Unit tests for token.c: round trip, forgery, expiry, malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <string.h>

#include "token.h"

static unsigned char key[TOKEN_KEY_BYTES];

static int setup(void **state)
{
	if (sodium_init() < 0)
		return -1;
	crypto_auth_keygen(key);
	return 0;
}

static struct token_claims sample(void)
{
	struct token_claims c = { 0 };
	c.user_id = 42;
	strcpy(c.username, "console.gherkin");
	c.role = ROLE_SITE_CONSOLE;
	c.org_id = 4;
	c.site_id = 17;
	c.issued_at = 1000;
	c.expires_at = 2000;
	return c;
}

static void test_round_trip(void **state)
{
	struct token_claims c = sample(), out;
	char tok[TOKEN_MAX_LEN + 1];
	int n = token_sign(key, &c, tok, sizeof tok);

	assert_true(n > 0);
	assert_int_equal(strncmp(tok, "v1.", 3), 0);
	assert_int_equal(token_verify(key, tok, (size_t)n, 1500, &out), TOKEN_OK);
	assert_int_equal(out.user_id, 42);
	assert_string_equal(out.username, "console.gherkin");
	assert_int_equal(out.role, ROLE_SITE_CONSOLE);
	assert_int_equal(out.org_id, 4);
	assert_int_equal(out.site_id, 17);
	assert_int_equal(out.expires_at, 2000);
}

static void test_null_site(void **state)
{
	struct token_claims c = sample(), out;
	char tok[TOKEN_MAX_LEN + 1];
	int n;

	c.site_id = 0;
	c.role = ROLE_CONTROLLER;
	n = token_sign(key, &c, tok, sizeof tok);
	assert_non_null(strstr(tok, "."));
	assert_int_equal(token_verify(key, tok, (size_t)n, 1500, &out), TOKEN_OK);
	assert_int_equal(out.site_id, 0);
	assert_int_equal(out.role, ROLE_CONTROLLER);
}

static void test_expired(void **state)
{
	struct token_claims c = sample(), out;
	char tok[TOKEN_MAX_LEN + 1];
	int n = token_sign(key, &c, tok, sizeof tok);

	assert_int_equal(token_verify(key, tok, (size_t)n, 2000, &out), TOKEN_EXPIRED);
	assert_int_equal(token_verify(key, tok, (size_t)n, 5000, &out), TOKEN_EXPIRED);
	assert_string_equal(token_status_code(TOKEN_EXPIRED), "auth_expired");
}

static void test_forged(void **state)
{
	struct token_claims c = sample(), out;
	char tok[TOKEN_MAX_LEN + 1], other[TOKEN_MAX_LEN + 1];
	unsigned char key2[TOKEN_KEY_BYTES];
	int n = token_sign(key, &c, tok, sizeof tok);
	char *dot = strrchr(tok, '.');

	/* a changed tag */
	dot[1] = dot[1] == 'A' ? 'B' : 'A';
	assert_int_equal(token_verify(key, tok, (size_t)n, 1500, &out), TOKEN_BAD_SIGNATURE);
	/* signed with another key */
	crypto_auth_keygen(key2);
	n = token_sign(key2, &c, other, sizeof other);
	assert_int_equal(token_verify(key, other, (size_t)n, 1500, &out), TOKEN_BAD_SIGNATURE);
	/* a payload swapped under a valid tag */
	c.role = ROLE_ADMIN;
	n = token_sign(key, &c, other, sizeof other);
	memcpy(strrchr(other, '.'), strrchr(tok, '.'), strlen(strrchr(tok, '.')) + 1);
	assert_int_equal(token_verify(key, other, strlen(other), 1500, &out), TOKEN_BAD_SIGNATURE);
	assert_string_equal(token_status_code(TOKEN_BAD_SIGNATURE), "auth_invalid");
}

static void test_malformed(void **state)
{
	struct token_claims out;
	const char *bad[] = { "", "v1", "v1.", "v2.abc.def", "v1.abc", "v1..x", "v1.abc.!!!",
			      "garbage" };

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(token_verify(key, bad[i], strlen(bad[i]), 1, &out),
				 TOKEN_MALFORMED);
}

/* A correctly signed token whose claims are unusable is still refused. */
static void test_bad_claims(void **state)
{
	const char *payloads[] = { "[]", "{\"sub\":1}", "{\"sub\":\"1\",\"usr\":\"u\",\"role\":\"admin\",\"org\":1,\"site\":null,\"iat\":1,\"exp\":9}",
				   "{\"sub\":1,\"usr\":\"u\",\"role\":\"king\",\"org\":1,\"site\":null,\"iat\":1,\"exp\":9}" };
	for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
		char tok[TOKEN_MAX_LEN + 1];
		unsigned char tag[crypto_auth_BYTES];
		struct token_claims out;
		size_t len;

		strcpy(tok, "v1.");
		sodium_bin2base64(tok + 3, sizeof tok - 3, (const unsigned char *)payloads[i],
				  strlen(payloads[i]), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		len = strlen(tok);
		crypto_auth(tag, (const unsigned char *)tok, len, key);
		tok[len] = '.';
		sodium_bin2base64(tok + len + 1, sizeof tok - len - 1, tag, sizeof tag,
				  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		assert_int_equal(token_verify(key, tok, strlen(tok), 5, &out), TOKEN_MALFORMED);
	}
}

/* After a rotation: tokens of the current and the previous key verify,
 * and which key did is reported; a third key's tokens do not. */
static void test_verify_any(void **state)
{
	unsigned char keys[2][TOKEN_KEY_BYTES], stranger[TOKEN_KEY_BYTES];
	struct token_claims c = sample(), out;
	char tok[TOKEN_MAX_LEN + 1];
	int n, which;

	crypto_auth_keygen(keys[0]);
	crypto_auth_keygen(keys[1]);
	crypto_auth_keygen(stranger);
	n = token_sign(keys[1], &c, tok, sizeof tok);
	assert_int_equal(token_verify_any((const unsigned char (*)[TOKEN_KEY_BYTES])keys, 2, tok,
					  (size_t)n, 1500, &out, &which), TOKEN_OK);
	assert_int_equal(which, 1);
	assert_string_equal(out.username, "console.gherkin");
	/* only the current key: the previous key's token is refused */
	assert_int_equal(token_verify_any((const unsigned char (*)[TOKEN_KEY_BYTES])keys, 1, tok,
					  (size_t)n, 1500, &out, &which), TOKEN_BAD_SIGNATURE);
	assert_int_equal(which, -1);
	n = token_sign(keys[0], &c, tok, sizeof tok);
	assert_int_equal(token_verify_any((const unsigned char (*)[TOKEN_KEY_BYTES])keys, 2, tok,
					  (size_t)n, 1500, &out, &which), TOKEN_OK);
	assert_int_equal(which, 0);
	/* expiry still applies under the previous key */
	n = token_sign(keys[1], &c, tok, sizeof tok);
	assert_int_equal(token_verify_any((const unsigned char (*)[TOKEN_KEY_BYTES])keys, 2, tok,
					  (size_t)n, 2000, &out, NULL), TOKEN_EXPIRED);
	n = token_sign(stranger, &c, tok, sizeof tok);
	assert_int_equal(token_verify_any((const unsigned char (*)[TOKEN_KEY_BYTES])keys, 2, tok,
					  (size_t)n, 1500, &out, &which), TOKEN_BAD_SIGNATURE);
	/* no keys at all: nothing verifies; malformed stays malformed */
	assert_int_equal(token_verify_any((const unsigned char (*)[TOKEN_KEY_BYTES])keys, 0, tok,
					  (size_t)n, 1500, &out, NULL), TOKEN_BAD_SIGNATURE);
	assert_int_equal(token_verify_any((const unsigned char (*)[TOKEN_KEY_BYTES])keys, 2, "v1.x",
					  4, 1500, &out, NULL), TOKEN_MALFORMED);
}

static void test_roles(void **state)
{
	assert_int_equal(token_role_from_name("company_operator"), ROLE_COMPANY_OPERATOR);
	assert_int_equal(token_role_from_name("none"), ROLE_NONE);
	assert_int_equal(token_role_from_name("root"), ROLE_NONE);
	assert_string_equal(token_role_name(ROLE_ANALYST), "analyst");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_null_site),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_forged),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_bad_claims),
		cmocka_unit_test(test_verify_any),
		cmocka_unit_test(test_roles),
	};
	return cmocka_run_group_tests_name("token", tests, setup, NULL);
}
