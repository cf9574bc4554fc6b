// links: broker/base/metrics.c broker/base/token.c
/* Unit tests for metrics.c: the Prometheus text of the counters and the
 * histograms (cumulative buckets, +Inf equal to the count), and the
 * severity names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

/* The value on the line that starts with series (and a space), or -1. */
static double value_of(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, series, n) && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

static void test_counters_and_gauges(void **state)
{
	struct metrics m;
	struct metrics_now now = { .journal_pending = 7, .db_up = 1, .ready = 1, .head = 42 };
	size_t len;
	char *text;

	metrics_init(&m);
	now.connections[ROLE_SITE_CONSOLE] = 3;
	m.published[metrics_severity("severe")][METRICS_ADAPTER] = 2;
	m.acks = 5;
	m.signin_lockouts = 1;
	m.bus_out = 9;
	text = metrics_render(&m, &now, &len);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	assert_true(len > 0 && text[len - 1] == '\n');
	assert_true(value_of(text, "tocsin_connections{role=\"site_console\"}") == 3);
	assert_true(value_of(text, "tocsin_connections{role=\"none\"}") == 0);
	assert_true(value_of(text, "tocsin_alerts_published_total{severity=\"severe\",source=\"adapter\"}") == 2);
	assert_true(value_of(text, "tocsin_alerts_published_total{severity=\"severe\",source=\"console\"}") == 0);
	assert_true(value_of(text, "tocsin_acks_total") == 5);
	assert_true(value_of(text, "tocsin_journal_records") == 7);
	assert_true(value_of(text, "tocsin_db_up{connection=\"main\"}") == 1);
	assert_true(value_of(text, "tocsin_db_up{connection=\"records\"}") == 0);
	assert_true(value_of(text, "tocsin_signin_lockouts_total") == 1);
	assert_true(value_of(text, "tocsin_bus_messages_total{direction=\"out\"}") == 9);
	assert_true(value_of(text, "tocsin_stream_head") == 42);
	/* unknown until the probe has answered: left out */
	assert_null(strstr(text, "tocsin_unacked_severe_alerts"));
	assert_null(strstr(text, "tocsin_db_rtt_seconds"));
	assert_non_null(strstr(text, "# TYPE tocsin_acks_total counter\n"));
	assert_non_null(strstr(text, "# TYPE tocsin_connections gauge\n"));
	free(text);
	m.unacked_severe = 4;
	m.db_rtt_s = 0.0025;
	text = metrics_render(&m, &now, &len);
	assert_true(value_of(text, "tocsin_unacked_severe_alerts") == 4);
	assert_true(value_of(text, "tocsin_db_rtt_seconds") == 0.0025);
	free(text);
}

static void test_histograms(void **state)
{
	struct metrics m;
	struct metrics_now now = { 0 };
	size_t len;
	char *text;

	metrics_init(&m);
	metrics_observe_fanout(&m, 0.0005); /* first bucket */
	metrics_observe_fanout(&m, 0.01);   /* on a bound: that bucket (le) */
	metrics_observe_fanout(&m, 0.3);
	metrics_observe_fanout(&m, 60);     /* +Inf only */
	text = metrics_render(&m, &now, &len);
	assert_non_null(strstr(text, "# TYPE tocsin_fanout_seconds histogram\n"));
	assert_true(value_of(text, "tocsin_fanout_seconds_bucket{le=\"0.001\"}") == 1);
	assert_true(value_of(text, "tocsin_fanout_seconds_bucket{le=\"0.005\"}") == 1);
	assert_true(value_of(text, "tocsin_fanout_seconds_bucket{le=\"0.01\"}") == 2);
	assert_true(value_of(text, "tocsin_fanout_seconds_bucket{le=\"0.25\"}") == 2);
	assert_true(value_of(text, "tocsin_fanout_seconds_bucket{le=\"0.5\"}") == 3);
	assert_true(value_of(text, "tocsin_fanout_seconds_bucket{le=\"5\"}") == 3);
	assert_true(value_of(text, "tocsin_fanout_seconds_bucket{le=\"+Inf\"}") == 4);
	assert_true(value_of(text, "tocsin_fanout_seconds_count") == 4);
	assert_true(value_of(text, "tocsin_fanout_seconds_sum") > 60.31 &&
		    value_of(text, "tocsin_fanout_seconds_sum") < 60.32);
	assert_true(value_of(text, "tocsin_publish_durable_seconds_count") == 0);
	free(text);
}

/* Rows erased by kind, failed calls, and the last sweep's end as a Unix
 * time to the millisecond (a %.9g gauge would round it to ten seconds). */
static void test_retention(void **state)
{
	struct metrics m;
	struct metrics_now now = { 0 };
	size_t len;
	char *text;

	metrics_init(&m);
	text = metrics_render(&m, &now, &len);
	assert_true(value_of(text, "tocsin_retention_erased_total{kind=\"alerts\"}") == 0);
	assert_true(value_of(text, "tocsin_retention_last_run_timestamp_seconds") == 0);
	free(text);
	m.retention_erased[METRICS_RET_ALERTS] = 3;
	m.retention_erased[METRICS_RET_DELIVERIES] = 2;
	m.retention_erased[METRICS_RET_STATUS_REPORTS] = 7;
	m.retention_errors = 1;
	m.retention_last_us = 1765137290123456;
	text = metrics_render(&m, &now, &len);
	assert_non_null(strstr(text, "# TYPE tocsin_retention_erased_total counter\n"));
	assert_true(value_of(text, "tocsin_retention_erased_total{kind=\"alerts\"}") == 3);
	assert_true(value_of(text, "tocsin_retention_erased_total{kind=\"deliveries\"}") == 2);
	assert_true(value_of(text, "tocsin_retention_erased_total{kind=\"status_reports\"}") == 7);
	assert_true(value_of(text, "tocsin_retention_erased_total{kind=\"partner_reports\"}") == 0);
	assert_true(value_of(text, "tocsin_retention_errors_total") == 1);
	assert_non_null(strstr(text, "tocsin_retention_last_run_timestamp_seconds 1765137290.123\n"));
	assert_string_equal(metrics_retention_name(METRICS_RET_CRIME_RECORDS), "crime_records");
	free(text);
}

static void test_severities(void **state)
{
	assert_int_equal(metrics_severity("minor"), 0);
	assert_int_equal(metrics_severity("extreme"), 3);
	assert_int_equal(metrics_severity("unknown"), -1);
	assert_int_equal(metrics_severity(NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counters_and_gauges),
		cmocka_unit_test(test_histograms),
		cmocka_unit_test(test_retention),
		cmocka_unit_test(test_severities),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
