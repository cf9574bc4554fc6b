// links: broker/base/conf.c broker/base/admission.c broker/base/log.c broker/base/cidr.c
/* Unit tests for conf.c: the configuration file (libinih), the order of
 * the sources (command line > environment > file > default), the errors
 * that name the file, line and setting, the origins derived from
 * public-url, the password and the metrics token masked by --check-config,
 * address ranges, and what SIGHUP takes (conf_reload). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"

static struct conf c, fresh; /* 64 KiB of store: not on the stack */
static char dir[64], file[128], errors[8192];

static int setup(void **state)
{
	snprintf(dir, sizeof dir, "/tmp/tocsin-conf-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(file, sizeof file, "%s/tocsind.conf", dir);
	unsetenv("TOCSIN_CONFIG");
	unsetenv("TOCSIN_NODE_ID");
	unsetenv("DATABASE_URL");
	unsetenv("TOCSIN_ALLOWED_ORIGIN");
	return 0;
}

static int teardown(void **state)
{
	unlink(file);
	return rmdir(dir);
}

static void write_file(const char *text)
{
	FILE *f = fopen(file, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* conf_load on a command line (NULL-terminated words), stderr kept in
 * errors[]. */
static enum conf_action load(const char *first, ...)
{
	char *argv[32] = { "tocsind" };
	int argc = 1, saved = dup(2);
	FILE *err = tmpfile();
	enum conf_action a;
	va_list ap;
	size_t n;

	va_start(ap, first);
	for (const char *w = first; w && argc < 31; w = va_arg(ap, const char *))
		argv[argc++] = (char *)w;
	va_end(ap);
	argv[argc] = NULL;
	assert_non_null(err);
	fflush(stderr);
	dup2(fileno(err), 2);
	a = conf_load(&c, argc, argv);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(err);
	n = fread(errors, 1, sizeof errors - 1, err);
	errors[n] = '\0';
	fclose(err);
	return a;
}

/* The printed settings, for a look at sources and masks. */
static void printed(char *out, size_t size)
{
	FILE *f = fmemopen(out, size, "w");

	assert_non_null(f);
	conf_print(&c, f);
	fclose(f);
}

static void test_defaults_and_required_database(void **state)
{
	assert_int_equal(load("--config", "/dev/null", NULL), CONF_ERROR);
	assert_non_null(strstr(errors, "no database"));
	assert_int_equal(load("--config", "/dev/null", "--database", "x", NULL), CONF_RUN);
	assert_string_equal(c.listen_host, "127.0.0.1");
	assert_int_equal(c.port, 8080);
	assert_int_equal(c.token_ttl, 28800);
	assert_int_equal(c.max_frame, 65536);
	assert_int_equal(c.image_sweep_s, 60);
	assert_null(c.tls_cert);
	assert_string_equal(c.audit_key, "./var/secrets/audit.key"); /* beside the token key */
}

static void test_precedence(void **state)
{
	write_file("# a comment\ndatabase = postgresql:///tocsin\nnode-id = 1\n"
		   "token-key = /etc/tocsin/token.key\n");
	assert_int_equal(load("--config", file, NULL), CONF_RUN);
	assert_int_equal(c.node_id, 1);
	assert_int_equal(c.source[0], CONF_DEFAULT); /* listen */
	assert_string_equal(c.audit_key, "/etc/tocsin/audit.key");
	setenv("TOCSIN_NODE_ID", "2", 1);
	assert_int_equal(load("--config", file, NULL), CONF_RUN);
	assert_int_equal(c.node_id, 2); /* environment over file */
	assert_int_equal(load("--config", file, "--node-id", "3", NULL), CONF_RUN);
	assert_int_equal(c.node_id, 3); /* command line over environment */
	assert_int_equal(load("--config", file, "--node-id=", NULL), CONF_RUN);
	assert_int_equal(c.node_id, 0); /* empty: the default */
	setenv("TOCSIN_NODE_ID", "", 1);
	assert_int_equal(load("--config", file, NULL), CONF_RUN);
	assert_int_equal(c.node_id, 1); /* an empty variable is as if unset */
	unsetenv("TOCSIN_NODE_ID");
	/* the file from the environment; the command line's over it */
	setenv("TOCSIN_CONFIG", file, 1);
	assert_int_equal(load(NULL), CONF_RUN);
	assert_int_equal(c.node_id, 1);
	assert_string_equal(c.config, file);
	assert_int_equal(load("--config", "/dev/null", NULL), CONF_ERROR); /* no database */
	unsetenv("TOCSIN_CONFIG");
}

static void test_file_errors_name_file_line_and_setting(void **state)
{
	char want[256];

	write_file("database = x\nbogus = 1\nnode-id = 99\nnode-id = 2\nnot a setting\n"
		   "max-frame = 12k\n");
	assert_int_equal(load("--config", file, NULL), CONF_ERROR);
	snprintf(want, sizeof want, "%s:2: bogus is not a setting", file);
	assert_non_null(strstr(errors, want));
	snprintf(want, sizeof want, "%s:3: node-id must be a number from 0 to 15, got '99'", file);
	assert_non_null(strstr(errors, want));
	snprintf(want, sizeof want, "%s:4: node-id is set twice (first on line 3)", file);
	assert_null(strstr(errors, want)); /* line 3 failed, so 4 is the first */
	snprintf(want, sizeof want, "%s:5: not a setting is not a setting", file);
	assert_non_null(strstr(errors, want));
	snprintf(want, sizeof want, "%s:6: max-frame must be a number", file);
	assert_non_null(strstr(errors, want));

	write_file("database = x\nnode-id = 1\nlisten = 0.0.0.0:443\n  node-id = 2\n");
	assert_int_equal(load("--config", file, NULL), CONF_ERROR);
	snprintf(want, sizeof want, "%s:4: node-id is set twice (first on line 2)", file);
	assert_non_null(strstr(errors, want));

	write_file("[tocsind]\ndatabase = x\n");
	assert_int_equal(load("--config", file, NULL), CONF_ERROR);
	assert_non_null(strstr(errors, ":2: database is in [tocsind]"));
}

static void test_long_line_and_unreadable_file(void **state)
{
	char text[400], want[256];

	memset(text, 'a', sizeof text);
	memcpy(text, "web-root = /", 12);
	strcpy(text + 300, "\nnode-id = 1\n");
	write_file(text);
	assert_int_equal(load("--config", file, "--database", "x", NULL), CONF_ERROR);
	snprintf(want, sizeof want, "%s:1: the line is longer than", file);
	assert_non_null(strstr(errors, want));
	assert_null(strstr(errors, ":2:")); /* its rest is not read as a line */

	assert_int_equal(load("--config", "/nonexistent/tocsind.conf", "--database", "x", NULL),
			 CONF_ERROR);
	assert_non_null(strstr(errors, "cannot read the configuration file "
					"/nonexistent/tocsind.conf: No such file"));
	/* the default file may be missing; a named one may not */
	setenv("TOCSIN_CONFIG", "/nonexistent/tocsind.conf", 1);
	assert_int_equal(load("--database", "x", NULL), CONF_ERROR);
	unsetenv("TOCSIN_CONFIG");
}

static void test_environment_and_flag_errors(void **state)
{
	setenv("TOCSIN_NODE_ID", "sixteen", 1);
	assert_int_equal(load("--config", "/dev/null", "--database", "x", NULL), CONF_ERROR);
	assert_non_null(strstr(errors, "TOCSIN_NODE_ID (environment): node-id must be a number"));
	unsetenv("TOCSIN_NODE_ID");
	assert_int_equal(load("--config", "/dev/null", "--database", "x", "--listen", "nowhere",
			      NULL), CONF_ERROR);
	assert_non_null(strstr(errors, "--listen wants HOST:PORT"));
	assert_int_equal(load("--config", "/dev/null", "--database", "x", "--tls-cert", "a", NULL),
			 CONF_ERROR);
	assert_non_null(strstr(errors, "--tls-cert and --tls-key go together"));
	assert_int_equal(load("--config", "/dev/null", "--bogus", NULL), CONF_ERROR);
	assert_int_equal(load("--config", "/dev/null", "stray", NULL), CONF_ERROR);
	assert_non_null(strstr(errors, "unexpected argument 'stray'"));
	assert_int_equal(load("--version", NULL), CONF_VERSION);
}

static void test_origins(void **state)
{
	const char *const want_default[] = { "https://127.0.0.1", "https://localhost" };

	/* TLS on 443 without public-url: browsers leave :443 out */
	assert_int_equal(load("--config", "/dev/null", "--database", "x", "--listen", "0.0.0.0:443",
			      "--tls-cert", "c", "--tls-key", "k", NULL), CONF_RUN);
	assert_int_equal(c.n_origins, 2);
	for (int i = 0; i < 2; i++)
		assert_string_equal(c.origins[i], want_default[i]);
	/* public-url first, then the ones given; a stronger source replaces */
	write_file("database = x\npublic-url = HTTPS://Tocsin.Force.Example:443/\n"
		   "allowed-origin = https://a.example:8443 http://b.example:80\n");
	assert_int_equal(load("--config", file, NULL), CONF_RUN);
	assert_string_equal(c.public_url, "https://tocsin.force.example");
	assert_int_equal(c.n_origins, 3);
	assert_string_equal(c.origins[0], "https://tocsin.force.example");
	assert_string_equal(c.origins[1], "https://a.example:8443");
	assert_string_equal(c.origins[2], "http://b.example");
	setenv("TOCSIN_ALLOWED_ORIGIN", "https://c.example", 1);
	assert_int_equal(load("--config", file, NULL), CONF_RUN);
	assert_int_equal(c.n_origins, 2);
	assert_string_equal(c.origins[1], "https://c.example");
	assert_int_equal(load("--config", file, "--allowed-origin", "https://d.example",
			      "--allowed-origin", "https://e.example:444", NULL), CONF_RUN);
	assert_int_equal(c.n_origins, 3);
	assert_string_equal(c.origins[2], "https://e.example:444");
	unsetenv("TOCSIN_ALLOWED_ORIGIN");
	assert_int_equal(load("--config", file, "--public-url", "https://x.example/tocsin", NULL),
			 CONF_ERROR);
	assert_non_null(strstr(errors, "--public-url wants http(s)://host[:port] without a path"));
	assert_int_equal(load("--config", file, "--allowed-origin", "null", NULL), CONF_ERROR);
}

static void test_print_masks_the_password(void **state)
{
	char out[8192], masked[256];

	setenv("DATABASE_URL", "postgresql://tocsin_broker:s3cret@db.internal/tocsin", 1);
	write_file("listen = 0.0.0.0:443\n");
	assert_int_equal(load("--config", file, NULL), CONF_RUN);
	printed(out, sizeof out);
	assert_null(strstr(out, "s3cret"));
	assert_non_null(strstr(out, "database = postgresql://tocsin_broker:****@db.internal/tocsin"));
	assert_non_null(strstr(out, "# environment DATABASE_URL"));
	assert_non_null(strstr(out, "listen = 0.0.0.0:443"));
	assert_non_null(strstr(out, "# file, line 1"));
	assert_non_null(strstr(out, "# tls-cert ="));
	unsetenv("DATABASE_URL");

	conf_mask_secret("host=db user=u password='a b\\' c' sslmode=require", masked, sizeof masked);
	assert_string_equal(masked, "host=db user=u password=**** sslmode=require");
	conf_mask_secret("postgres://u@db/t?password=x&sslmode=require", masked, sizeof masked);
	assert_string_equal(masked, "postgres://u@db/t?password=****&sslmode=require");
	conf_mask_secret("host=db passwordless=1", masked, sizeof masked);
	assert_string_equal(masked, "host=db passwordless=1");
}

static void test_ranges_formats_and_the_metrics_token(void **state)
{
	char out[8192];

	write_file("database = x\ntrusted-proxies = 10.0.0.0/8, 127.0.0.2\nlog-format = json\n"
		   "metrics-token = 0123456789abcdef-secret\n");
	assert_int_equal(load("--config", file, NULL), CONF_RUN);
	assert_int_equal(c.trusted_proxies.n, 2);
	assert_true(cidr_list_match(&c.trusted_proxies, "10.9.8.7"));
	assert_false(cidr_list_match(&c.trusted_proxies, "127.0.0.1"));
	assert_int_equal(c.metrics_allow.n, 2); /* the default: this machine */
	assert_true(cidr_list_match(&c.metrics_allow, "127.0.0.1"));
	assert_int_equal(c.log_format, 1);
	printed(out, sizeof out);
	assert_non_null(strstr(out, "trusted-proxies = 10.0.0.0/8 127.0.0.2/32"));
	assert_non_null(strstr(out, "metrics-token = ****"));
	assert_null(strstr(out, "0123456789abcdef-secret"));
	assert_non_null(strstr(out, "log-format = json"));

	write_file("database = x\ntrusted-proxies = 10.1.2.3/8\n");
	assert_int_equal(load("--config", file, NULL), CONF_ERROR);
	assert_non_null(strstr(errors, ":2: trusted-proxies wants addresses or ranges"));
	assert_non_null(strstr(errors, "got '10.1.2.3/8'"));
	assert_int_equal(load("--config", "/dev/null", "--database", "x", "--log-format", "xml", NULL),
			 CONF_ERROR);
	assert_non_null(strstr(errors, "--log-format must be text or json, got 'xml'"));
	assert_int_equal(load("--config", "/dev/null", "--database", "x", "--metrics-token", "short",
			      NULL), CONF_ERROR);
	assert_non_null(strstr(errors, "metrics-token must be at least 16 characters"));
}

static void test_reload_takes_what_sighup_may_change(void **state)
{
	enum conf_action a;

	write_file("database = x\nnode-id = 1\nlog-level = info\nmetrics-allow = 10.0.0.0/8\n");
	assert_int_equal(load("--config", file, NULL), CONF_RUN);
	write_file("database = x\nnode-id = 2\nlog-level = warn\nmetrics-allow = 127.0.0.1\n"
		   "metrics-token = a-token-of-twenty-chars\nrate-limit = 50\n");
	{
		char *argv[] = { "tocsind", "--config", file, NULL };
		a = conf_load(&fresh, 3, argv);
	}
	assert_int_equal(a, CONF_RUN);
	/* log-level, metrics-allow, metrics-token and rate-limit: node-id
	 * waits for a restart */
	assert_int_equal(conf_reload(&c, &fresh), 4);
	assert_int_equal(c.node_id, 1);
	assert_int_equal(c.log_level, 2);
	assert_true(cidr_list_match(&c.metrics_allow, "127.0.0.1"));
	assert_false(cidr_list_match(&c.metrics_allow, "10.1.1.1"));
	assert_string_equal(c.metrics_token, "a-token-of-twenty-chars");
	assert_true(c.metrics_token >= c.store && c.metrics_token < c.store + sizeof c.store);
	assert_int_equal(c.rate_per_sec, 50);
	assert_int_equal(c.source[0], CONF_DEFAULT);
	/* again: nothing more to take */
	assert_int_equal(conf_reload(&c, &fresh), 0);
	/* the token taken away */
	write_file("database = x\n");
	{
		char *argv[] = { "tocsind", "--config", file, NULL };
		assert_int_equal(conf_load(&fresh, 3, argv), CONF_RUN);
	}
	assert_int_equal(conf_reload(&c, &fresh), 4);
	assert_null(c.metrics_token);
	assert_int_equal(c.metrics_allow.n, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_required_database),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_file_errors_name_file_line_and_setting),
		cmocka_unit_test(test_long_line_and_unreadable_file),
		cmocka_unit_test(test_environment_and_flag_errors),
		cmocka_unit_test(test_origins),
		cmocka_unit_test(test_print_masks_the_password),
		cmocka_unit_test(test_ranges_formats_and_the_metrics_token),
		cmocka_unit_test(test_reload_takes_what_sighup_may_change),
	};
	return cmocka_run_group_tests_name("conf", tests, setup, teardown);
}
