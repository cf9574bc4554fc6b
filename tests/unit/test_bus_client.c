// links: adapters/lib/bus_client.c
/* Unit tests for the adapters' bus client library (adapters/lib/bus_client.c):
 * key files and the crash-safe sequence counter. The network side is
 * tested end to end (tests/e2e/60-bus.test.mjs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../adapters/lib/bus_client.h"

/* A fresh temporary folder per test, removed afterwards. */
static int make_dir(void **state)
{
	char *dir = strdup("/tmp/tocsin-unit-bus-XXXXXX");

	if (!dir || !mkdtemp(dir))
		return -1;
	*state = dir;
	return 0;
}

static int remove_dir(void **state)
{
	char cmd[256];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", (char *)*state);
	free(*state);
	return system(cmd) == 0 ? 0 : -1;
}

static void path_in(void **state, const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", (char *)*state, name);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_key_generate_and_load(void **state)
{
	char path[512], pub[600];
	struct bus_key made, loaded, only_pub;
	struct stat st;

	path_in(state, "a.key", path, sizeof path);
	snprintf(pub, sizeof pub, "%s.pub", path);
	assert_int_equal(bus_key_generate(path, &made), 0);
	assert_int_equal(strlen(made.public_z85), 40);
	assert_int_equal(strlen(made.secret_z85), 40);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(bus_key_load(path, &loaded), 0);
	assert_string_equal(loaded.public_z85, made.public_z85);
	assert_string_equal(loaded.secret_z85, made.secret_z85);
	assert_int_equal(bus_key_load(pub, &only_pub), 0);
	assert_string_equal(only_pub.public_z85, made.public_z85);
	assert_string_equal(only_pub.secret_z85, "");
}

static void test_key_load_refuses_bad_files(void **state)
{
	char path[512];
	struct bus_key k;

	path_in(state, "missing.key", path, sizeof path);
	assert_int_equal(bus_key_load(path, &k), -1);
	path_in(state, "short.key", path, sizeof path);
	write_text(path, "public abc\nsecret def\n");
	assert_int_equal(bus_key_load(path, &k), -1);
	path_in(state, "empty.key", path, sizeof path);
	write_text(path, "");
	assert_int_equal(bus_key_load(path, &k), -1);
	path_in(state, "badsecret.key", path, sizeof path);
	write_text(path, "public 0123456789012345678901234567890123456789\nsecret x\n");
	assert_int_equal(bus_key_load(path, &k), -1);
}

static void test_seq_counts_from_one_and_persists(void **state)
{
	char path[512];
	FILE *f;
	long long last = 0;

	path_in(state, "seq", path, sizeof path);
	assert_int_equal(bus_seq_next(path), 1);
	assert_int_equal(bus_seq_next(path), 2);
	assert_int_equal(bus_seq_next(path), 3);
	/* the file holds the last number handed out, before it is returned */
	f = fopen(path, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%lld", &last), 1);
	fclose(f);
	assert_int_equal(last, 3);
	write_text(path, "41\n");
	assert_int_equal(bus_seq_next(path), 42);
}

static void test_seq_refuses_a_bad_state_file(void **state)
{
	char path[512];

	path_in(state, "bad-seq", path, sizeof path);
	write_text(path, "not a number\n");
	assert_int_equal(bus_seq_next(path), -1);
	write_text(path, "-5\n");
	assert_int_equal(bus_seq_next(path), -1);
	path_in(state, "no/such/folder/seq", path, sizeof path);
	assert_int_equal(bus_seq_next(path), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_key_generate_and_load, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_key_load_refuses_bad_files, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_seq_counts_from_one_and_persists, make_dir,
						remove_dir),
		cmocka_unit_test_setup_teardown(test_seq_refuses_a_bad_state_file, make_dir,
						remove_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
