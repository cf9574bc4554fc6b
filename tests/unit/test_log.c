// links: broker/base/log.c
/* Unit tests for log.c: the JSON lines (escapes, bytes that are not
 * UTF-8, the request's context), text kept to one line, and the syslog
 * priority prefix when JOURNAL_STREAM names stderr. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static char out[16384];

/* Runs log_msg with stderr going to a file; the file's text in out. */
#define CAPTURE(call)                                                        \
	do {                                                                 \
		FILE *f_ = tmpfile();                                        \
		int saved_ = dup(2);                                         \
		size_t n_;                                                   \
		fflush(stderr);                                              \
		dup2(fileno(f_), 2);                                         \
		call;                                                        \
		fflush(stderr);                                              \
		dup2(saved_, 2);                                             \
		close(saved_);                                               \
		rewind(f_);                                                  \
		n_ = fread(out, 1, sizeof out - 1, f_);                      \
		out[n_] = '\0';                                              \
		fclose(f_);                                                  \
	} while (0)

static void test_json_lines(void **state)
{
	json_t *o;

	log_set_format(LOG_JSON);
	log_context_set(42, "pub-\"7\"");
	CAPTURE(log_msg(LOG_WARN, "quote \" backslash \\ tab \t bad \xff\xfe end \xc3\xa9"));
	log_context_clear();
	assert_non_null(strchr(out, '\n'));
	assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1); /* one line */
	o = json_loads(out, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "level")), "warn");
	assert_string_equal(json_string_value(json_object_get(o, "msg")),
			    "quote \" backslash \\ tab \t bad \xef\xbf\xbd\xef\xbf\xbd end \xc3\xa9");
	assert_int_equal(json_integer_value(json_object_get(o, "session")), 42);
	assert_string_equal(json_string_value(json_object_get(o, "ref")), "pub-\"7\"");
	json_decref(o);
	CAPTURE(log_msg(LOG_INFO, "no request"));
	o = json_loads(out, 0, NULL);
	assert_non_null(o);
	assert_null(json_object_get(o, "session"));
	assert_null(json_object_get(o, "ref"));
	json_decref(o);
	log_set_format(LOG_TEXT);
}

static void test_text_lines(void **state)
{
	log_context_set(7, "r-1");
	CAPTURE(log_msg(LOG_ERROR, "two\nlines"));
	log_context_clear();
	assert_non_null(strstr(out, " tocsind error: two?lines [session 7 ref r-1]\n"));
	assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
	log_set_level(LOG_WARN);
	CAPTURE(log_msg(LOG_INFO, "not shown"));
	assert_string_equal(out, "");
	log_set_level(LOG_INFO);
}

static void test_journal_priorities(void **state)
{
	FILE *f = tmpfile();
	int saved = dup(2);
	struct stat st;
	char env[64], *line;
	size_t n;

	fflush(stderr);
	dup2(fileno(f), 2);
	fstat(2, &st);
	snprintf(env, sizeof env, "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	assert_int_equal(log_detect_journal(), 1);
	log_msg(LOG_ERROR, "e");
	log_msg(LOG_WARN, "w");
	log_msg(LOG_INFO, "i");
	setenv("JOURNAL_STREAM", "1:1", 1);
	assert_int_equal(log_detect_journal(), 0);
	log_msg(LOG_INFO, "plain");
	unsetenv("JOURNAL_STREAM");
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	n = fread(out, 1, sizeof out - 1, f);
	out[n] = '\0';
	fclose(f);
	assert_true(!strncmp(out, "<3>", 3));
	assert_non_null(strstr(out, "\n<4>"));
	assert_non_null(strstr(out, "\n<6>"));
	/* the line logged once JOURNAL_STREAM named another file: no prefix */
	line = strstr(out, "plain");
	assert_non_null(line);
	while (line > out && line[-1] != '\n')
		line--;
	assert_true(*line >= '0' && *line <= '9');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_lines),
		cmocka_unit_test(test_text_lines),
		cmocka_unit_test(test_journal_priorities),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
