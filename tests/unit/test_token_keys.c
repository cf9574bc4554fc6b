// links: broker/io/token_keys.c broker/base/key_file.c broker/base/token.c broker/base/log.c broker/base/paths.c broker/io/loop_wake.c broker/base/clock.c
/* Unit tests for token_keys.c: the signing key and FILE.prev, picking up a
 * rotation from the files, and keeping the keys when a reread fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "token_keys.h"

static char dir[64], path[128], prev[160];

static int setup(void **state)
{
	if (sodium_init() < 0)
		return -1;
	log_set_level(LOG_ERROR);
	snprintf(dir, sizeof dir, "/tmp/tocsin-keys-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof path, "%s/secrets/token.key", dir);
	snprintf(prev, sizeof prev, "%s.prev", path);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Writes bytes to a new file put in place by rename, as tocsinctl does. */
static void put_file(const char *p, const unsigned char *bytes, size_t n)
{
	char tmp[200];
	int fd;

	snprintf(tmp, sizeof tmp, "%s.tmp", p);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bytes, n), (ssize_t)n);
	close(fd);
	assert_int_equal(rename(tmp, p), 0);
}

static struct token_claims sample(void)
{
	struct token_claims c = { 0 };
	c.user_id = 7;
	strcpy(c.username, "controller");
	c.role = ROLE_CONTROLLER;
	c.org_id = 1;
	c.issued_at = 1000;
	c.expires_at = 5000;
	return c;
}

static void test_rotation(void **state)
{
	struct token_keys k;
	struct token_claims c = sample(), out;
	unsigned char old_key[TOKEN_KEY_BYTES], new_key[TOKEN_KEY_BYTES], bad[5] = { 1, 2, 3, 4, 5 };
	char before[TOKEN_MAX_LEN + 1], after[TOKEN_MAX_LEN + 1], forged[TOKEN_MAX_LEN + 1];
	struct stat sb;
	FILE *f;

	/* no key: the broker does not make one (tocsinctl keys init does) */
	assert_int_equal(token_keys_init(&k, path), -1);
	assert_int_equal(stat(path, &sb), -1);
	/* first start with a key made beforehand: no previous key */
	crypto_auth_keygen(old_key);
	snprintf(before, sizeof before, "%s/secrets", dir);
	assert_int_equal(mkdir(before, 0700), 0);
	put_file(path, old_key, sizeof old_key);
	assert_int_equal(token_keys_init(&k, path), 0);
	assert_int_equal(k.n_keys, 1);
	assert_true(token_keys_sign(&k, &c, before, sizeof before) > 0);
	assert_int_equal(token_keys_verify(&k, before, strlen(before), 2000, &out), TOKEN_OK);
	assert_int_equal(token_keys_check(&k), 0); /* nothing changed */

	/* a rotation: the old key moves to .prev, a new key in its place */
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fread(old_key, 1, sizeof old_key, f), sizeof old_key);
	fclose(f);
	put_file(prev, old_key, sizeof old_key);
	crypto_auth_keygen(new_key);
	put_file(path, new_key, sizeof new_key);
	assert_int_equal(token_keys_check(&k), 1);
	assert_int_equal(k.n_keys, 2);
	assert_int_equal(token_keys_check(&k), 0);
	/* the old token still verifies; new tokens are signed with the new key */
	assert_int_equal(token_keys_verify(&k, before, strlen(before), 2000, &out), TOKEN_OK);
	assert_true(token_keys_sign(&k, &c, after, sizeof after) > 0);
	assert_int_equal(token_verify(new_key, after, strlen(after), 2000, &out), TOKEN_OK);
	assert_int_equal(token_verify(old_key, after, strlen(after), 2000, &out),
			 TOKEN_BAD_SIGNATURE);

	/* a broken rewrite is refused and the keys in use stay */
	put_file(path, bad, sizeof bad);
	assert_int_equal(token_keys_check(&k), -1);
	assert_int_equal(token_keys_check(&k), 0); /* logged once, not every tick */
	assert_int_equal(token_keys_verify(&k, after, strlen(after), 2000, &out), TOKEN_OK);
	assert_int_equal(token_keys_verify(&k, before, strlen(before), 2000, &out), TOKEN_OK);

	/* a second rotation drops the first key: its tokens stop verifying */
	put_file(prev, new_key, sizeof new_key);
	crypto_auth_keygen(old_key);
	put_file(path, old_key, sizeof old_key);
	assert_int_equal(token_keys_check(&k), 1);
	assert_int_equal(token_keys_verify(&k, before, strlen(before), 2000, &out),
			 TOKEN_BAD_SIGNATURE);
	assert_int_equal(token_keys_verify(&k, after, strlen(after), 2000, &out), TOKEN_OK);

	/* .prev removed: only the signing key is left */
	assert_int_equal(unlink(prev), 0);
	assert_int_equal(token_keys_check(&k), 1);
	assert_int_equal(k.n_keys, 1);
	assert_int_equal(token_keys_verify(&k, after, strlen(after), 2000, &out),
			 TOKEN_BAD_SIGNATURE);
	crypto_auth_keygen(new_key);
	assert_true(token_sign(new_key, &c, forged, sizeof forged) > 0);
	assert_int_equal(token_keys_verify(&k, forged, strlen(forged), 2000, &out),
			 TOKEN_BAD_SIGNATURE);
	token_keys_free(&k);
}

/* A key file of the wrong size, or a bad .prev, stops the start. */
static void test_bad_files(void **state)
{
	struct token_keys k;
	unsigned char key[TOKEN_KEY_BYTES] = { 0 }, small[31] = { 0 };

	put_file(path, small, sizeof small);
	assert_int_equal(token_keys_init(&k, path), -1);
	put_file(path, key, sizeof key);
	put_file(prev, small, sizeof small);
	assert_int_equal(token_keys_init(&k, path), -1);
	put_file(prev, key, sizeof key);
	assert_int_equal(token_keys_init(&k, path), 0);
	assert_int_equal(k.n_keys, 2);
	token_keys_free(&k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_bad_files),
	};
	return cmocka_run_group_tests_name("token_keys", tests, setup, teardown);
}
