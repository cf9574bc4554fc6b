// links: broker/ctl/ctl_args.c
/* Unit tests for ctl_args.c: tocsinctl's option tables and the audit actor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_args.h"

/* A fresh table: --site (required), --name, --cleared (flag). */
static void table(struct ctl_arg t[4])
{
	t[0] = (struct ctl_arg){ "--site", 0, 1, NULL };
	t[1] = (struct ctl_arg){ "--name", 0, 0, NULL };
	t[2] = (struct ctl_arg){ "--cleared", 1, 0, NULL };
	t[3] = (struct ctl_arg){ NULL, 0, 0, NULL };
}

static void test_options_and_positionals(void **state)
{
	struct ctl_arg t[4];
	const char *pos[2] = { NULL, NULL };
	char *argv[] = { "alice", "--site", "cornhill", "--cleared", "--name", "lobby" };

	table(t);
	assert_int_equal(ctl_args_parse("x", 6, argv, t, pos, 1, 1), 1);
	assert_string_equal(pos[0], "alice");
	assert_string_equal(ctl_args_get(t, "--site"), "cornhill");
	assert_string_equal(ctl_args_get(t, "--name"), "lobby");
	assert_string_equal(ctl_args_get(t, "--cleared"), "1");
	assert_null(ctl_args_get(t, "--other"));
}

static void test_optional_absent(void **state)
{
	struct ctl_arg t[4];
	const char *pos[1];
	char *argv[] = { "--site", "7" };

	table(t);
	assert_int_equal(ctl_args_parse("x", 2, argv, t, pos, 0, 0), 0);
	assert_null(ctl_args_get(t, "--name"));
	assert_null(ctl_args_get(t, "--cleared"));
}

static void test_usage_errors(void **state)
{
	struct ctl_arg t[4];
	const char *pos[1];
	char *unknown[] = { "--site", "a", "--colour", "red" };
	char *twice[] = { "--site", "a", "--site", "b" };
	char *no_value[] = { "--site" };
	char *missing_required[] = { "--name", "n" };
	char *extra[] = { "--site", "a", "one", "two" };
	char *too_few[] = { "--site", "a" };

	table(t);
	assert_int_equal(ctl_args_parse("x", 4, unknown, t, pos, 0, 1), -1);
	table(t);
	assert_int_equal(ctl_args_parse("x", 4, twice, t, pos, 0, 1), -1);
	table(t);
	assert_int_equal(ctl_args_parse("x", 1, no_value, t, pos, 0, 1), -1);
	table(t);
	assert_int_equal(ctl_args_parse("x", 2, missing_required, t, pos, 0, 1), -1);
	table(t);
	assert_int_equal(ctl_args_parse("x", 4, extra, t, pos, 0, 1), -1);
	table(t);
	assert_int_equal(ctl_args_parse("x", 2, too_few, t, pos, 1, 1), -1);
}

static void test_actor(void **state)
{
	char buf[64];

	assert_string_equal(ctl_args_actor("jane", buf, sizeof buf), "jane");
	setenv("USER", "ops", 1);
	assert_string_equal(ctl_args_actor(NULL, buf, sizeof buf), "tocsinctl:ops");
	unsetenv("USER");
	assert_int_equal(strncmp(ctl_args_actor(NULL, buf, sizeof buf), "tocsinctl:", 10), 0);
	assert_true(strlen(buf) > 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options_and_positionals),
		cmocka_unit_test(test_optional_absent),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_actor),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
