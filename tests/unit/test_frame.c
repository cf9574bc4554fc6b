// links: broker/base/frame.c broker/base/frame_publish.c broker/base/frame_check.c broker/base/clock.c
/* Unit tests for frame.c: every decode path and every typed error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

static int parse(const char *text, struct client_frame *f, struct frame_error *e)
{
	return frame_parse(text, strlen(text), f, e);
}

/* Expects a failure with the given code and field ("" for none). */
static void expect_error(const char *text, const char *code, const char *field)
{
	struct client_frame f;
	struct frame_error e;

	assert_int_equal(parse(text, &f, &e), -1);
	assert_string_equal(e.code, code);
	assert_string_equal(e.field, field);
	assert_true(strlen(e.message) > 0);
	assert_null(f.root);
}

static void test_hello(void **state)
{
	struct client_frame f;
	struct frame_error e;

	assert_int_equal(parse("{\"type\":\"hello\",\"token\":\"v1.a.b\",\"ref\":\"r1\"}", &f, &e), 0);
	assert_int_equal(f.type, FRAME_HELLO);
	assert_string_equal(f.u.hello.token, "v1.a.b");
	assert_int_equal(f.u.hello.token_len, 6);
	assert_string_equal(f.ref, "r1");
	frame_free(&f);

	assert_int_equal(parse("{\"type\":\"hello\"}", &f, &e), 0);
	assert_null(f.u.hello.token);
	assert_int_equal(f.u.hello.since, -1);
	frame_free(&f);
	expect_error("{\"type\":\"hello\",\"token\":5}", "bad_field", "token");
}

/* resume: epoch and seq, and since, the start of the client's unbroken run
 * (issue 16), optional, at most seq. */
static void test_hello_resume(void **state)
{
	struct client_frame f;
	struct frame_error e;

	assert_int_equal(parse("{\"type\":\"hello\",\"resume\":{\"epoch\":\"e1\",\"seq\":9}}", &f, &e), 0);
	assert_int_equal(f.u.hello.resume, 1);
	assert_int_equal(f.u.hello.seq, 9);
	assert_int_equal(f.u.hello.since, -1);
	frame_free(&f);
	assert_int_equal(parse("{\"type\":\"hello\",\"resume\":{\"epoch\":\"e1\",\"seq\":9,\"since\":4}}",
			       &f, &e), 0);
	assert_int_equal(f.u.hello.since, 4);
	frame_free(&f);
	assert_int_equal(parse("{\"type\":\"hello\",\"resume\":{\"epoch\":\"e1\",\"seq\":9,\"since\":9}}",
			       &f, &e), 0);
	assert_int_equal(f.u.hello.since, 9);
	frame_free(&f);
	expect_error("{\"type\":\"hello\",\"resume\":{\"epoch\":\"e1\",\"seq\":9,\"since\":10}}",
		     "bad_field", "resume.since");
	expect_error("{\"type\":\"hello\",\"resume\":{\"epoch\":\"e1\",\"seq\":9,\"since\":-1}}",
		     "bad_field", "resume.since");
	expect_error("{\"type\":\"hello\",\"resume\":{\"epoch\":\"e1\",\"seq\":9,\"since\":\"3\"}}",
		     "bad_field", "resume.since");
	expect_error("{\"type\":\"hello\",\"resume\":{\"epoch\":\"e1\",\"seq\":-2}}", "bad_field",
		     "resume.seq");
}

static void test_publish_ok(void **state)
{
	struct client_frame f;
	struct frame_error e;

	assert_int_equal(parse("{\"type\":\"publish\",\"headline\":\"H\",\"severity\":\"severe\","
			       "\"targets\":{\"orgs\":[4],\"sites\":[1,2,3]}}", &f, &e), 0);
	assert_int_equal(f.type, FRAME_PUBLISH);
	assert_string_equal(f.u.publish.headline, "H");
	assert_string_equal(f.u.publish.body, "");
	assert_string_equal(f.u.publish.severity, "severe");
	assert_int_equal(f.u.publish.n_orgs, 1);
	assert_int_equal(f.u.publish.orgs[0], 4);
	assert_int_equal(f.u.publish.n_sites, 3);
	assert_int_equal(f.u.publish.sites[2], 3);
	assert_string_equal(f.ref, "");
	frame_free(&f);
}

static void test_publish_errors(void **state)
{
	expect_error("{\"type\":\"publish\",\"severity\":\"minor\",\"targets\":{\"sites\":[1]}}",
		     "missing_field", "headline");
	expect_error("{\"type\":\"publish\",\"headline\":\"\",\"severity\":\"minor\",\"targets\":{\"sites\":[1]}}",
		     "bad_field", "headline");
	expect_error("{\"type\":\"publish\",\"headline\":\"H\",\"severity\":3,\"targets\":{\"sites\":[1]}}",
		     "bad_field", "severity");
	expect_error("{\"type\":\"publish\",\"headline\":\"H\",\"severity\":\"huge\",\"targets\":{\"sites\":[1]}}",
		     "bad_field", "severity");
	expect_error("{\"type\":\"publish\",\"headline\":\"H\",\"severity\":\"minor\"}",
		     "missing_field", "targets");
	expect_error("{\"type\":\"publish\",\"headline\":\"H\",\"severity\":\"minor\",\"targets\":[1]}",
		     "bad_field", "targets");
	expect_error("{\"type\":\"publish\",\"headline\":\"H\",\"severity\":\"minor\",\"targets\":{}}",
		     "bad_field", "targets");
	expect_error("{\"type\":\"publish\",\"headline\":\"H\",\"severity\":\"minor\",\"targets\":{\"sites\":[1,\"x\"]}}",
		     "bad_field", "targets.sites[1]");
	expect_error("{\"type\":\"publish\",\"headline\":\"H\",\"severity\":\"minor\",\"targets\":{\"orgs\":[0]}}",
		     "bad_field", "targets.orgs[0]");
	expect_error("{\"type\":\"publish\",\"headline\":\"H\",\"severity\":\"minor\",\"targets\":{\"orgs\":[4],\"sites\":[-2]}}",
		     "bad_field", "targets.sites[0]");
	expect_error("{\"type\":\"publish\",\"headline\":\"H\",\"severity\":\"minor\",\"targets\":{\"sites\":[3000000000]}}",
		     "bad_field", "targets.sites[0]");
	expect_error("{\"type\":\"publish\",\"headline\":\"H\",\"body\":7,\"severity\":\"minor\",\"targets\":{\"sites\":[1]}}",
		     "bad_field", "body");
}

static void test_publish_limits(void **state)
{
	char *big = malloc(20000);
	size_t off;

	off = (size_t)sprintf(big, "{\"type\":\"publish\",\"headline\":\"");
	memset(big + off, 'a', FRAME_HEADLINE_MAX + 1);
	off += FRAME_HEADLINE_MAX + 1;
	strcpy(big + off, "\",\"severity\":\"minor\",\"targets\":{\"sites\":[1]}}");
	expect_error(big, "bad_field", "headline");

	off = (size_t)sprintf(big, "{\"type\":\"publish\",\"headline\":\"H\",\"severity\":\"minor\","
			      "\"targets\":{\"sites\":[");
	for (int i = 0; i <= FRAME_TARGETS_MAX; i++)
		off += (size_t)sprintf(big + off, i ? ",%d" : "%d", i + 1);
	strcpy(big + off, "]}}");
	expect_error(big, "bad_field", "targets.sites");
	free(big);
}

static void test_ack(void **state)
{
	struct client_frame f;
	struct frame_error e;

	assert_int_equal(parse("{\"type\":\"ack\",\"alert_id\":41}", &f, &e), 0);
	assert_int_equal(f.type, FRAME_ACK);
	assert_int_equal(f.u.ack.alert_id, 41);
	frame_free(&f);
	expect_error("{\"type\":\"ack\"}", "missing_field", "alert_id");
	expect_error("{\"type\":\"ack\",\"alert_id\":\"41\"}", "bad_field", "alert_id");
	expect_error("{\"type\":\"ack\",\"alert_id\":-1}", "bad_field", "alert_id");
	expect_error("{\"type\":\"ack\",\"alert_id\":1.5}", "bad_field", "alert_id");
}

/* site_history: defaults, bounds, and a typed error for each member. */
static void test_site_history(void **state)
{
	struct client_frame f;
	struct frame_error e;

	assert_int_equal(parse("{\"type\":\"site_history\",\"ref\":\"h1\",\"site_id\":7}", &f, &e), 0);
	assert_int_equal(f.type, FRAME_SITE_HISTORY);
	assert_int_equal(f.u.history.site_id, 7);
	assert_int_equal(f.u.history.limit, 50);
	assert_null(f.u.history.before);
	frame_free(&f);
	assert_int_equal(parse("{\"type\":\"site_history\",\"site_id\":7,\"limit\":200,"
			       "\"before\":\"2026-11-22T14:15:00.123+01:00\"}", &f, &e), 0);
	assert_int_equal(f.u.history.limit, 200);
	assert_string_equal(f.u.history.before, "2026-11-22T14:15:00.123+01:00");
	frame_free(&f);
	expect_error("{\"type\":\"site_history\"}", "missing_field", "site_id");
	expect_error("{\"type\":\"site_history\",\"site_id\":\"7\"}", "bad_field", "site_id");
	expect_error("{\"type\":\"site_history\",\"site_id\":0}", "bad_field", "site_id");
	expect_error("{\"type\":\"site_history\",\"site_id\":2147483648}", "bad_field", "site_id");
	expect_error("{\"type\":\"site_history\",\"site_id\":7,\"limit\":0}", "bad_field", "limit");
	expect_error("{\"type\":\"site_history\",\"site_id\":7,\"limit\":201}", "bad_field", "limit");
	expect_error("{\"type\":\"site_history\",\"site_id\":7,\"limit\":2.5}", "bad_field", "limit");
	expect_error("{\"type\":\"site_history\",\"site_id\":7,\"before\":\"yesterday\"}",
		     "bad_field", "before");
	expect_error("{\"type\":\"site_history\",\"site_id\":7,\"before\":12}", "bad_field", "before");
	expect_error("{\"type\":\"site_history\",\"ref\":\"h2\",\"site_id\":7,\"before\":\"\"}",
		     "bad_field", "before");
}

static void test_envelope_errors(void **state)
{
	struct client_frame f;
	struct frame_error e;

	expect_error("{not json", "bad_json", "");
	expect_error("{\"type\":\"ping\"} trailing", "bad_json", "");
	expect_error("{\"type\":\"ping\",\"type\":\"ack\"}", "bad_json", "");
	expect_error("[1,2]", "bad_frame", "");
	expect_error("\"ping\"", "bad_frame", "");
	expect_error("{}", "bad_frame", "type");
	expect_error("{\"type\":7}", "bad_frame", "type");
	expect_error("{\"type\":\"launch\"}", "unknown_type", "type");
	expect_error("{\"type\":\"ping\",\"ref\":5}", "bad_field", "ref");
	expect_error("{\"type\":\"ping\",\"ref\":\"01234567890123456789012345678901234567890123456789012345678901234\"}",
		     "bad_field", "ref");
	/* nesting beyond the limit is refused before jansson sees it */
	{
		char deep[200] = "{\"type\":\"ping\",\"x\":";
		size_t off = strlen(deep);
		for (int i = 0; i < FRAME_MAX_DEPTH; i++)
			deep[off++] = '[';
		for (int i = 0; i < FRAME_MAX_DEPTH; i++)
			deep[off++] = ']';
		deep[off++] = '}';
		deep[off] = '\0';
		expect_error(deep, "bad_json", "");
		/* brackets inside strings do not count */
		assert_int_equal(parse("{\"type\":\"ping\",\"ref\":\"[[[[[[[[[[[[[[[[[[[[\"}", &f, &e), 0);
		frame_free(&f);
	}
	/* invalid UTF-8 is bad JSON */
	expect_error("{\"type\":\"ping\",\"ref\":\"\xff\"}", "bad_json", "");
	/* the ref is echoed in errors that come after it was read */
	assert_int_equal(parse("{\"ref\":\"abc\",\"type\":\"ack\"}", &f, &e), -1);
	assert_string_equal(e.ref, "abc");
	assert_string_equal(e.code, "missing_field");
}

static void test_error_json(void **state)
{
	struct frame_error e = { 0 };
	char *json;

	frame_error_set(&e, "bad_field", "severity", "severity must be %s", "known");
	strcpy(e.ref, "r9");
	json = frame_error_json(&e);
	assert_non_null(json);
	assert_non_null(strstr(json, "\"type\":\"error\""));
	assert_non_null(strstr(json, "\"code\":\"bad_field\""));
	assert_non_null(strstr(json, "\"field\":\"severity\""));
	assert_non_null(strstr(json, "\"ref\":\"r9\""));
	assert_non_null(strstr(json, "severity must be known"));
	free(json);

	memset(&e, 0, sizeof e);
	frame_error_set(&e, "bad_json", NULL, "x");
	json = frame_error_json(&e);
	assert_null(strstr(json, "\"field\""));
	assert_null(strstr(json, "\"ref\""));
	free(json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_hello_resume),
		cmocka_unit_test(test_publish_ok),
		cmocka_unit_test(test_publish_errors),
		cmocka_unit_test(test_publish_limits),
		cmocka_unit_test(test_ack),
		cmocka_unit_test(test_site_history),
		cmocka_unit_test(test_envelope_errors),
		cmocka_unit_test(test_error_json),
	};
	return cmocka_run_group_tests_name("frame", tests, NULL, NULL);
}
