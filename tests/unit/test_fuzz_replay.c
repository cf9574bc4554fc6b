// links: broker/base/frame.c broker/base/frame_publish.c broker/base/frame_check.c broker/base/clock.c broker/base/token.c tests/fuzz/fuzz_frame.c tests/fuzz/fuzz_token.c tests/fuzz/fuzz_fail.c tests/fuzz/fuzz_alert.c adapters/lib/bus_verify.c broker/base/sign_check.c broker/base/canon_json.c
/* Replays the fuzz corpus (tests/fuzz/corpus/{frame,token,alert}/) through
 * the fuzz targets, built here by gcc with ASan+UBSan, so that `make test`
 * checks every seed and every crasher found so far without clang. A
 * sanitizer report or a broken invariant crashes the binary and names the
 * file being replayed. TOCSIN_FUZZ_CORPUS overrides the corpus directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <sanitizer/common_interface_defs.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../fuzz/fuzz_targets.h"

/* The file being replayed, for the sanitizer's death callback. */
static char current[1024];

static void name_current_file(void)
{
	fprintf(stderr, "test_fuzz_replay: crashed while replaying %s\n", current);
}

/* A broken invariant aborts (fuzz_fail): name the file then too. */
static void on_abort(int sig)
{
	static const char what[] = "test_fuzz_replay: aborted while replaying ";

	(void)!write(2, what, sizeof what - 1);
	(void)!write(2, current, strlen(current));
	(void)!write(2, "\n", 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

static int setup(void **state)
{
	if (sodium_init() < 0)
		return -1;
	__sanitizer_set_death_callback(name_current_file);
	if (signal(SIGABRT, on_abort) == SIG_ERR)
		return -1;
	return 0;
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
		*len = (size_t)n;
	} else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

/* Runs every regular file of corpus/<name>/ through target; returns the
 * number of files. */
static int replay(const char *name, int (*target)(const uint8_t *, size_t))
{
	const char *root = getenv("TOCSIN_FUZZ_CORPUS");
	char dir[512];
	struct dirent *e;
	DIR *d;
	int files = 0;

	snprintf(dir, sizeof dir, "%s/%s", root ? root : "tests/fuzz/corpus", name);
	d = opendir(dir);
	if (!d)
		fail_msg("cannot open the corpus %s (run from the repository root)", dir);
	while ((e = readdir(d))) {
		size_t len;
		char *buf;

		if (e->d_name[0] == '.')
			continue;
		snprintf(current, sizeof current, "%s/%s", dir, e->d_name);
		buf = read_all(current, &len);
		if (!buf)
			fail_msg("cannot read %s", current);
		assert_int_equal(target((const uint8_t *)buf, len), 0);
		free(buf);
		files++;
	}
	closedir(d);
	return files;
}

static void test_frame_corpus(void **state)
{
	int n = replay("frame", fuzz_frame_one);

	printf("replayed %d frame inputs\n", n);
	assert_true(n >= 30); /* the seeds: one of every message type and more */
}

static void test_token_corpus(void **state)
{
	int n = replay("token", fuzz_token_one);

	printf("replayed %d token inputs\n", n);
	assert_true(n >= 20);
}

static void test_alert_corpus(void **state)
{
	int n = replay("alert", fuzz_alert_one);

	printf("replayed %d alert inputs\n", n);
	assert_true(n >= 8);
}

/* The targets hold their invariants on inputs the corpus may lack. */
static void test_edge_inputs(void **state)
{
	static const char *const inputs[] = { "", "{", "{}", "null", "{\"type\":\"ping\"}", "v1.", "v1.." };

	for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
		snprintf(current, sizeof current, "inline input %zu", i);
		assert_int_equal(fuzz_frame_one((const uint8_t *)inputs[i], strlen(inputs[i])), 0);
		assert_int_equal(fuzz_token_one((const uint8_t *)inputs[i], strlen(inputs[i])), 0);
		assert_int_equal(fuzz_alert_one((const uint8_t *)inputs[i], strlen(inputs[i])), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_corpus),
		cmocka_unit_test(test_token_corpus),
		cmocka_unit_test(test_alert_corpus),
		cmocka_unit_test(test_edge_inputs),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
