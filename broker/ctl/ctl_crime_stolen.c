/* ctl_crime_stolen.c: tocsinctl crime stolen add|list|remove: the force's
 * register of stolen property (issue 21, item 4; sql/functions/
 * crime_stolen.sql). A serial added here is matched by partners' later
 * sightings and recoveries, and the control room's inbox gets a
 * "property_match" item with the place. The serial is sent to PostgreSQL,
 * which keeps only its keyed hash (the same per-database key as partners'
 * serials); it is never printed back. Each change is one
 * tocsin_admin_crime_stolen_* call, audited there naming the actor; bad
 * input is refused there with the option named. Runs as the role
 * tocsin_admin. A single-threaded command-line tool. */
#include "ctl.h"
#include "ctl_args.h"
#include "ctl_commands.h"

#include <stdio.h>
#include <string.h>

#define STOLEN_HELP                                                                        \
	"  --actor NAME       who to name in the audit (default tocsinctl:$USER)\n"          \
	"  --database URL     default DATABASE_URL (connect as the role tocsin_admin)\n"     \
	"  --json             print a JSON array of objects instead of a table\n"             \
	"Exit: 0 done, 1 refused (the message names the option), 2 usage, 3 database\n"     \
	"unreachable, 4 not found.\n"

static const char stolen_usage[] =
	"usage: tocsinctl crime stolen add|list|remove ... (add --help for its options)\n";

static int stolen_add(struct ctl_run *r)
{
	const char *p[] = { r->actor, ctl_args_get(r->args, "--kind"),
			    ctl_args_get(r->args, "--serial"), ctl_args_get(r->args, "--make"),
			    ctl_args_get(r->args, "--crime-ref"), ctl_args_get(r->args, "--reported") };

	return ctl_exec_print(r->cmd, r->conn,
			      "SELECT tocsin_admin_crime_stolen_add($1, $2, $3, $4, $5, $6) AS id", 6,
			      p, r->o.json);
}

static int add_cmd(int argc, char **argv)
{
	struct ctl_arg args[] = { { "--kind", 0, 1, NULL }, { "--serial", 0, 1, NULL },
				  { "--make", 0, 0, NULL }, { "--crime-ref", 0, 0, NULL },
				  { "--reported", 0, 0, NULL }, { "--actor", 0, 0, NULL },
				  { NULL, 0, 0, NULL } };

	return ctl_run("crime stolen add",
		       "usage: tocsinctl crime stolen add --kind KIND --serial SERIAL [--make MAKE]\n"
		       "                 [--crime-ref REF] [--reported YYYY-MM-DD] [--actor NAME]\n"
		       "Puts stolen property on the force's register: KIND one of phone, laptop,\n"
		       "tablet, bicycle, vehicle, camera, watch, jewellery, other; SERIAL an IMEI\n"
		       "or a frame number (4 to 40 letters and digits; spaces, hyphens, dots and\n"
		       "slashes aside), kept only as a keyed hash; the date it was reported\n"
		       "stolen (default today). A partner's later sighting or recovery of the\n"
		       "serial puts a property_match item in the control room's inbox. Prints\n"
		       "the entry's id. Audited (stolen_property_added).\n" STOLEN_HELP,
		       argc, argv, args, 0, 0, stolen_add);
}

static int stolen_list(struct ctl_run *r)
{
	return ctl_exec_print(r->cmd, r->conn, "SELECT * FROM tocsin_admin_crime_stolen_list()", 0,
			      NULL, r->o.json);
}

static int list_cmd(int argc, char **argv)
{
	struct ctl_arg args[] = { { NULL, 0, 0, NULL } };

	return ctl_run("crime stolen list",
		       "usage: tocsinctl crime stolen list\n"
		       "Lists the register, newest first, with the sightings and recoveries\n"
		       "partners have reported of each serial (never the serial).\n" STOLEN_HELP,
		       argc, argv, args, 0, 0, stolen_list);
}

static int stolen_remove(struct ctl_run *r)
{
	const char *p[] = { r->actor, r->pos[0] };
	PGresult *res;
	int rc;

	if (strspn(r->pos[0], "0123456789") != strlen(r->pos[0]) || strlen(r->pos[0]) > 18 ||
	    !*r->pos[0]) {
		fprintf(stderr, "tocsinctl %s: ID must be a register entry's number (crime stolen "
			"list), not \"%s\"\n", r->cmd, r->pos[0]);
		return CTL_USAGE;
	}
	res = ctl_exec(r->cmd, r->conn, "SELECT tocsin_admin_crime_stolen_remove($1, $2::bigint)",
		       2, p, &rc);
	if (!res)
		return rc;
	rc = PQntuples(res) == 1 && !strcmp(PQgetvalue(res, 0, 0), "t") ? CTL_OK : CTL_NOT_FOUND;
	if (rc == CTL_NOT_FOUND)
		fprintf(stderr, "tocsinctl %s: no register entry %s\n", r->cmd, r->pos[0]);
	PQclear(res);
	return rc;
}

static int remove_cmd(int argc, char **argv)
{
	struct ctl_arg args[] = { { "--actor", 0, 0, NULL }, { NULL, 0, 0, NULL } };

	return ctl_run("crime stolen remove",
		       "usage: tocsinctl crime stolen remove ID [--actor NAME]\n"
		       "Takes an entry off the register (recovered, or entered in error).\n"
		       "Audited (stolen_property_deleted).\n" STOLEN_HELP,
		       argc, argv, args, 1, 1, stolen_remove);
}

int ctl_crime_stolen(int argc, char **argv)
{
	if (argc >= 1 && !strcmp(argv[0], "add"))
		return add_cmd(argc - 1, argv + 1);
	if (argc >= 1 && !strcmp(argv[0], "list"))
		return list_cmd(argc - 1, argv + 1);
	if (argc >= 1 && !strcmp(argv[0], "remove"))
		return remove_cmd(argc - 1, argv + 1);
	if (argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
		fputs(stolen_usage, stdout);
		return CTL_OK;
	}
	fprintf(stderr, "tocsinctl crime stolen: %s%s%s", argc ? "unknown command '" : "",
		argc ? argv[0] : "", argc ? "'; " : "");
	fputs(stolen_usage, stderr);
	return CTL_USAGE;
}
