/* ctl_release.c: tocsinctl policy show / set and release report, the
 * two-person release (sql/functions/release.sql, docs/security.md
 * "Two-person release"). policy set is audited (release_policy_set) with
 * the actor (--actor, else tocsinctl:<login>). On the database, as the
 * role tocsin_admin. */
#include "ctl.h"
#include "ctl_commands.h"

#include <stdio.h>

#define RELEASE_HELP                                                                   \
	"  --database URL     default DATABASE_URL (the role tocsin_admin)\n"             \
	"  --json             print JSON instead of a table\n"                            \
	"Exit: 0 done, 1 refused, 2 usage, 3 database unreachable.\n"

static int policy_show(struct ctl_run *r)
{
	return ctl_exec_print(r->cmd, r->conn, "SELECT * FROM release_policy", 0, NULL, r->o.json);
}

int ctl_release_policy_show(int argc, char **argv)
{
	struct ctl_arg args[] = { { NULL, 0, 0, NULL } };

	return ctl_run("policy show",
		       "usage: tocsinctl policy show\n"
		       "Prints the release policy: a live alert whose severity is among\n"
		       "severities waits for a second controller when it reaches more than\n"
		       "max_sites sites, names a sector (whole_sector) or every security\n"
		       "company (all_companies); it expires unsent after expiry_s seconds.\n"
		       "approver: who may release it, controller (another controller or a\n"
		       "duty inspector) or inspector (a duty inspector only).\n"
		       RELEASE_HELP,
		       argc, argv, args, 0, 0, policy_show);
}

static int policy_set(struct ctl_run *r)
{
	const char *p[] = { r->actor, ctl_args_get(r->args, "--severities"),
			    ctl_args_get(r->args, "--max-sites"),
			    ctl_args_get(r->args, "--whole-sector"),
			    ctl_args_get(r->args, "--all-companies"),
			    ctl_args_get(r->args, "--expiry"), ctl_args_get(r->args, "--approver") };

	return ctl_exec_print(r->cmd, r->conn,
			      "SELECT * FROM tocsin_release_policy_set($1,"
			      " string_to_array($2, ','), $3::integer, $4::boolean, $5::boolean,"
			      " $6::integer, $7)",
			      7, p, r->o.json);
}

int ctl_release_policy_set(int argc, char **argv)
{
	struct ctl_arg args[] = { { "--severities", 0, 0, NULL }, { "--max-sites", 0, 0, NULL },
				  { "--whole-sector", 0, 0, NULL },
				  { "--all-companies", 0, 0, NULL }, { "--expiry", 0, 0, NULL },
				  { "--approver", 0, 0, NULL }, { "--actor", 0, 0, NULL },
				  { NULL, 0, 0, NULL } };

	return ctl_run("policy set",
		       "usage: tocsinctl policy set [--severities LIST] [--max-sites N]\n"
		       "                            [--whole-sector true|false]\n"
		       "                            [--all-companies true|false]\n"
		       "                            [--expiry SECONDS]\n"
		       "                            [--approver controller|inspector] [--actor NAME]\n"
		       "Changes the release policy (what is not given stays) and prints it;\n"
		       "audited as release_policy_set with the values before and after.\n"
		       "LIST: severities, comma-separated (default severe,extreme); an empty\n"
		       "LIST holds nothing. SECONDS: 30 to 86400 (default 600).\n"
		       "--approver: who may be the second person: controller (default: another\n"
		       "controller or a duty inspector) or inspector (a duty inspector only).\n"
		       RELEASE_HELP,
		       argc, argv, args, 0, 0, policy_set);
}

static int report(struct ctl_run *r)
{
	const char *from = ctl_args_get(r->args, "--from"), *to = ctl_args_get(r->args, "--to");
	const char *p[] = { from ? from : "-infinity", to ? to : "infinity" };

	return ctl_exec_print(r->cmd, r->conn,
			      "SELECT * FROM tocsin_release_report($1::timestamptz, $2::timestamptz)",
			      2, p, r->o.json);
}

int ctl_release_report(int argc, char **argv)
{
	struct ctl_arg args[] = { { "--from", 0, 0, NULL }, { "--to", 0, 0, NULL },
				  { NULL, 0, 0, NULL } };

	return ctl_run("release report",
		       "usage: tocsinctl release report [--from TIME] [--to TIME]\n"
		       "Lists every held alert of the window, oldest first: who wrote it, why\n"
		       "it was held, and how it ended (approved or rejected and by whom,\n"
		       "expired, or released_alone with its justification, for review).\n"
		       RELEASE_HELP,
		       argc, argv, args, 0, 0, report);
}
