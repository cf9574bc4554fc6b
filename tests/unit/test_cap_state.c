// links: adapters/cap/cap_state.c
/* Unit tests for cap_state.c: the CAP (sender, identifier) to alert id map
 * and the pending publish sequence numbers of the CAP adapter. */
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

#include "../../adapters/cap/cap_state.h"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof dir, "/tmp/tocsin-cap-state-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_unknown_then_recorded(void **state)
{
	int64_t id = 0;

	assert_int_equal(cap_state_open(dir), 0);
	assert_int_equal(cap_state_lookup(dir, "trinet@caltech.edu", "TRI13970876.1", &id), 1);
	assert_int_equal(cap_state_record(dir, "trinet@caltech.edu", "TRI13970876.1", 41), 0);
	assert_int_equal(cap_state_lookup(dir, "trinet@caltech.edu", "TRI13970876.1", &id), 0);
	assert_int_equal(id, 41);
	/* a prefix of the identifier or another sender is another message */
	assert_int_equal(cap_state_lookup(dir, "trinet@caltech.edu", "TRI13970876", &id), 1);
	assert_int_equal(cap_state_lookup(dir, "other@caltech.edu", "TRI13970876.1", &id), 1);
}

static void test_last_line_wins(void **state)
{
	int64_t id = 0;

	assert_int_equal(cap_state_record(dir, "s", "i", 7), 0);
	assert_int_equal(cap_state_record(dir, "s", "i", 8), 0);
	assert_int_equal(cap_state_lookup(dir, "s", "i", &id), 0);
	assert_int_equal(id, 8);
}

static void test_pending_is_separate(void **state)
{
	int64_t seq = 0, id = 0;

	assert_int_equal(cap_state_pending(dir, "p", "q", &seq), 1);
	assert_int_equal(cap_state_set_pending(dir, "p", "q", 12), 0);
	assert_int_equal(cap_state_pending(dir, "p", "q", &seq), 0);
	assert_int_equal(seq, 12);
	assert_int_equal(cap_state_lookup(dir, "p", "q", &id), 1);
}

/* A key with a tab or newline cannot be a line of the file: not kept. */
static void test_unusable_key(void **state)
{
	int64_t id = 0;

	assert_int_equal(cap_state_record(dir, "a\tb", "c", 5), 0);
	assert_int_equal(cap_state_lookup(dir, "a\tb", "c", &id), 1);
}

/* A state directory that cannot be written is an error, said on stderr. */
static void test_unwritable(void **state)
{
	assert_int_equal(cap_state_open("/proc/no-such-dir/state"), -1);
	assert_int_equal(cap_state_record("/proc/no-such-dir", "s", "i", 1), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_then_recorded),
		cmocka_unit_test(test_last_line_wins),
		cmocka_unit_test(test_pending_is_separate),
		cmocka_unit_test(test_unusable_key),
		cmocka_unit_test(test_unwritable),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
