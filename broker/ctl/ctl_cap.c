/* ctl_cap.c: tocsinctl cap export: an alert as OASIS CAP 1.2 XML, built by
 * PostgreSQL (tocsin_admin_cap_export, sql/functions/cap.sql) and audited there
 * as a consultation (cap_export) naming the actor. The document is the
 * same one GET /api/alerts/<id>/cap serves, pretty-printed the same way
 * (cap_pretty.h); the broker signs its own (cap_sign.h), tocsinctl does
 * not hold the key. */
#include "ctl.h"
#include "ctl_args.h"
#include "ctl_commands.h"
#include "cap_pretty.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char cap_export_help[] =
	"usage: tocsinctl cap export ID [--base URL] [--actor NAME] [--database URL]\n"
	"Prints alert ID as an OASIS CAP 1.2 document (valid against the OASIS\n"
	"schema: check with build/tocsin-cap validate). Image resources name\n"
	"BASE/api/images/<id> (default: relative URIs). Audited as a consultation\n"
	"(cap_export) naming the actor.\n"
	"  --base URL         prefix of image URIs, e.g. https://tocsin.example\n"
	"  --actor NAME       who to name in the audit (default tocsinctl:$USER)\n"
	"  --database URL     default DATABASE_URL (the role tocsin_admin)\n"
	"Exit: 0 done, 1 refused, 2 usage, 3 database unreachable, 4 no such alert.\n";

/* 1 when s is a positive decimal alert id. */
static int is_alert_id(const char *s)
{
	char *end;
	long long v;

	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtoll(s, &end, 10);
	return !errno && !*end && v > 0;
}

/* The document as the broker serves it unsigned: pretty-printed. */
static int print_pretty(const char *xml, size_t len)
{
	size_t n = 0;
	char *doc = cap_pretty(xml, len, &n);
	int rc = doc && fwrite(doc, 1, n, stdout) == n ? CTL_OK : CTL_FAILED;

	if (!doc)
		fprintf(stderr, "tocsinctl cap export: the document could not be formatted\n");
	free(doc);
	return rc;
}

int ctl_cap_export(int argc, char **argv)
{
	const char *cmd = "cap export", *pos[1] = { NULL }, *params[3];
	struct ctl_arg args[] = { { "--base", 0, 0, NULL }, { "--actor", 0, 0, NULL },
				  { NULL, 0, 0, NULL } };
	struct ctl_opts o;
	char actor[160];
	PGresult *res;
	PGconn *conn;
	int help, rc;

	argc = ctl_take_common(cmd, &o, argc, argv, &help);
	if (argc < 0)
		return CTL_USAGE;
	if (help) {
		fputs(cap_export_help, stdout);
		return CTL_OK;
	}
	if (ctl_args_parse(cmd, argc, argv, args, pos, 1, 1) < 0)
		return CTL_USAGE;
	if (!is_alert_id(pos[0])) {
		fprintf(stderr, "tocsinctl %s: the alert id must be a positive integer\n", cmd);
		return CTL_USAGE;
	}
	conn = ctl_connect(cmd, &o, &rc);
	if (!conn)
		return rc;
	params[0] = ctl_args_actor(ctl_args_get(args, "--actor"), actor, sizeof actor);
	params[1] = pos[0];
	params[2] = ctl_args_get(args, "--base") ? ctl_args_get(args, "--base") : "";
	res = ctl_exec(cmd, conn, "SELECT tocsin_admin_cap_export($1, $2::bigint, $3)", 3, params,
		       &rc);
	if (res) {
		if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
			fprintf(stderr, "tocsinctl %s: no alert %s\n", cmd, pos[0]);
			rc = CTL_NOT_FOUND;
		} else {
			rc = print_pretty(PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
		}
		PQclear(res);
	}
	PQfinish(conn);
	return rc;
}
