/* ctl_geocode.c: tocsinctl geocode add|list|remove: what a CAP <geocode>
 * (valueName, value) or an area's description means here, as sites and
 * sectors (issue 18; sql/functions/geocode.sql). The CAP importer sends
 * an area's geocodes and descriptions as targets.geocodes and the broker
 * resolves them through this table; a CAP message that maps to no site is
 * held in the control room's inbox. Each change is one tocsin_admin_geocode_*
 * call, audited there naming the actor. Runs as the role tocsin_admin. */
#include "ctl.h"
#include "ctl_args.h"
#include "ctl_commands.h"

#include <stdio.h>
#include <string.h>

#define GEOCODE_HELP                                                                       \
	"  --actor NAME       who to name in the audit (default tocsinctl:$USER)\n"          \
	"  --database URL     default DATABASE_URL (connect as the role tocsin_admin)\n"     \
	"  --json             print a JSON array of objects instead of a table\n"             \
	"Exit: 0 done, 1 refused (the message says why), 2 usage, 3 database\n"              \
	"unreachable, 4 not found.\n"

static int geocode_add(struct ctl_run *r)
{
	const char *sites = ctl_args_get(r->args, "--sites");
	const char *sectors = ctl_args_get(r->args, "--sectors");
	const char *p[] = { r->actor, r->pos[0], r->pos[1], sites ? sites : "",
			    sectors ? sectors : "" };

	if (!sites && !sectors) {
		fprintf(stderr, "tocsinctl %s: give --sites, --sectors or both\n", r->cmd);
		return CTL_USAGE;
	}
	return ctl_exec_print(r->cmd, r->conn,
			      "SELECT tocsin_admin_geocode_add($1, $2, $3,"
			      " string_to_array(NULLIF($4, ''), ',')::integer[],"
			      " string_to_array(NULLIF($5, ''), ',')) AS id",
			      5, p, r->o.json);
}

int ctl_geocode_add(int argc, char **argv)
{
	struct ctl_arg args[] = { { "--sites", 0, 0, NULL }, { "--sectors", 0, 0, NULL },
				  { "--actor", 0, 0, NULL }, { NULL, 0, 0, NULL } };

	return ctl_run("geocode add",
		       "usage: tocsinctl geocode add VALUENAME VALUE [--sites ID,...]\n"
		       "                             [--sectors CODE,...] [--actor NAME]\n"
		       "Maps a CAP geocode (e.g. SAME 006037, or an ONS ward code) to sites and\n"
		       "to every site of sectors; VALUENAME areaDesc maps an area's description.\n"
		       "Values match without regard to case; a mapping already there is replaced.\n"
		       GEOCODE_HELP,
		       argc, argv, args, 2, 2, geocode_add);
}

static int geocode_list(struct ctl_run *r)
{
	return ctl_exec_print(r->cmd, r->conn, "SELECT * FROM tocsin_admin_geocode_list()", 0,
			      NULL, r->o.json);
}

int ctl_geocode_list(int argc, char **argv)
{
	struct ctl_arg args[] = { { NULL, 0, 0, NULL } };

	return ctl_run("geocode list",
		       "usage: tocsinctl geocode list\n"
		       "Lists the CAP geocode mappings.\n" GEOCODE_HELP,
		       argc, argv, args, 0, 0, geocode_list);
}

static int geocode_remove(struct ctl_run *r)
{
	const char *p[] = { r->actor, r->pos[0], r->pos[1] };
	PGresult *res;
	int rc;

	res = ctl_exec(r->cmd, r->conn, "SELECT tocsin_admin_geocode_remove($1, $2, $3)", 3, p,
		       &rc);
	if (!res)
		return rc;
	rc = PQntuples(res) == 1 && !strcmp(PQgetvalue(res, 0, 0), "t") ? CTL_OK : CTL_NOT_FOUND;
	if (rc == CTL_NOT_FOUND)
		fprintf(stderr, "tocsinctl %s: no mapping of %s %s\n", r->cmd, r->pos[0], r->pos[1]);
	PQclear(res);
	return rc;
}

int ctl_geocode_remove(int argc, char **argv)
{
	struct ctl_arg args[] = { { "--actor", 0, 0, NULL }, { NULL, 0, 0, NULL } };

	return ctl_run("geocode remove",
		       "usage: tocsinctl geocode remove VALUENAME VALUE [--actor NAME]\n"
		       "Removes a CAP geocode mapping.\n" GEOCODE_HELP,
		       argc, argv, args, 2, 2, geocode_remove);
}
