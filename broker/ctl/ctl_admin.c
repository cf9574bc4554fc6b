/* ctl_admin.c: tocsinctl's administration of the directory: organisations,
 * sites, users and console devices.
 *
 * Every change is one call of a tocsin_admin_* SQL function (sql/functions/admin.sql),
 * which checks it, makes it and writes its audit row in one transaction,
 * naming the actor (--actor NAME, default tocsinctl:<login>). Passwords are
 * hashed here (argon2id, broker/password.c) and never sent to the database.
 * tocsinctl connects as the role tocsin_admin (DATABASE_URL or --database).
 * Disabling a user, an organisation or a site, and revoking a device, set
 * users.disabled, which the broker's revocation sweep turns into closed
 * sessions within seconds; so does a new role, organisation, site or
 * clearance (user update, tocsin_admin_user_update), which revokes the
 * user's tokens since they carry those claims. */
#include "ctl.h"
#include "ctl_args.h"
#include "ctl_commands.h"
#include "password.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACTOR_HELP "  --actor NAME       who to name in the audit (default tocsinctl:$USER)\n"
#define COMMON_HELP                                                                        \
	"  --database URL     default DATABASE_URL (connect as the role tocsin_admin)\n"     \
	"  --json             print a JSON array of objects instead of a table\n"             \
	"Exit: 0 done, 1 refused (the message says why), 2 usage, 3 database\n"              \
	"unreachable, 4 not found.\n"

/* ------------------------------------------------------ organisations */

static int org_add(struct ctl_run *r)
{
	const char *p[] = { r->actor, r->pos[0], ctl_args_get(r->args, "--kind"),
			    ctl_args_get(r->args, "--parent") };

	return ctl_exec_print(r->cmd, r->conn,
			      "SELECT * FROM tocsin_admin_org_add($1, $2, $3, $4)", 4, p, r->o.json);
}

int ctl_admin_org_add(int argc, char **argv)
{
	struct ctl_arg args[] = { { "--kind", 0, 1, NULL }, { "--parent", 0, 0, NULL },
				  { "--actor", 0, 0, NULL }, { NULL, 0, 0, NULL } };

	return ctl_run("org add",
			 "usage: tocsinctl org add NAME --kind police|police_unit|security_company\n"
			 "                         [--parent ORG] [--actor NAME]\n"
			 "Adds an organisation (ORG: an id or the exact name) and prints it.\n"
			 ACTOR_HELP COMMON_HELP,
			 argc, argv, args, 1, 1, org_add);
}

static int org_list(struct ctl_run *r)
{
	return ctl_exec_print(r->cmd, r->conn,
			      "SELECT * FROM tocsin_admin_org_list ORDER BY id", 0, NULL, r->o.json);
}

int ctl_admin_org_list(int argc, char **argv)
{
	struct ctl_arg args[] = { { NULL, 0, 0, NULL } };

	return ctl_run("org list",
			 "usage: tocsinctl org list\n"
			 "Lists the organisations with their number of sites and active users.\n"
			 COMMON_HELP,
			 argc, argv, args, 0, 0, org_list);
}

static int org_disable(struct ctl_run *r)
{
	const char *p[] = { r->actor, r->pos[0] };

	return ctl_exec_print(r->cmd, r->conn, "SELECT * FROM tocsin_admin_org_disable($1, $2)",
			      2, p, r->o.json);
}

int ctl_admin_org_disable(int argc, char **argv)
{
	struct ctl_arg args[] = { { "--actor", 0, 0, NULL }, { NULL, 0, 0, NULL } };

	return ctl_run("org disable",
			 "usage: tocsinctl org disable ORG [--actor NAME]\n"
			 "Disables an organisation (an id or the exact name) and every user of it;\n"
			 "their live connections close within seconds. Its sites stay.\n"
			 ACTOR_HELP COMMON_HELP,
			 argc, argv, args, 1, 1, org_disable);
}

/* ---------------------------------------------------------------- sites */

/* The site fields given as options, as the JSON object the SQL functions
 * take; NULL (a usage error, after a message) for a bad --cleared. */
static char *site_fields(struct ctl_run *r)
{
	static const char *const names[] = { "slug", "name", "address", "lat",
					     "lon", "sector", "guard", "language" };
	json_t *f = json_object();
	const char *cleared = ctl_args_get(r->args, "--cleared");
	char *text;

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char opt[16];
		const char *v;

		snprintf(opt, sizeof opt, "--%s", names[i]);
		v = ctl_args_get(r->args, opt);
		if (v)
			json_object_set_new(f, names[i], json_string(v));
	}
	if (cleared) {
		if (strcmp(cleared, "yes") && strcmp(cleared, "no")) {
			fprintf(stderr, "tocsinctl %s: --cleared takes yes or no\n", r->cmd);
			json_decref(f);
			return NULL;
		}
		json_object_set_new(f, "cleared", json_boolean(!strcmp(cleared, "yes")));
	}
	text = json_dumps(f, JSON_COMPACT);
	json_decref(f);
	return text;
}

static int site_add(struct ctl_run *r)
{
	char *fields = site_fields(r);
	const char *p[] = { r->actor, fields };
	int rc;

	if (!fields)
		return CTL_USAGE;
	rc = ctl_exec_print(r->cmd, r->conn, "SELECT * FROM tocsin_admin_site_add($1, $2::jsonb)",
			    2, p, r->o.json);
	free(fields);
	return rc;
}

#define SITE_FIELDS_HELP                                                                 \
	"  --slug SLUG        short name, a-z 0-9 and -, up to 40 (consoles are\n"          \
	"                     named console.SLUG)\n"                                         \
	"  --name NAME        the building's name (unique)\n"                                \
	"  --address TEXT     postal address\n"                                              \
	"  --lat LAT --lon LON  location, WGS84 degrees\n"                                   \
	"  --sector CODE      e.g. finance, retail, transport (see the sectors table)\n"     \
	"  --guard ORG        the guarding security company (id or exact name)\n"            \
	"  --cleared yes|no   cleared for OFFICIAL-SENSITIVE alerts (default no)\n"        \
	"  --language TAG     the language its console shows first of an imported\n"       \
	"                     CAP alert's languages, e.g. es-US (default en-GB)\n"

int ctl_admin_site_add(int argc, char **argv)
{
	struct ctl_arg args[] = {
		{ "--slug", 0, 1, NULL },    { "--name", 0, 1, NULL },   { "--address", 0, 1, NULL },
		{ "--lat", 0, 1, NULL },     { "--lon", 0, 1, NULL },    { "--sector", 0, 1, NULL },
		{ "--guard", 0, 1, NULL },   { "--cleared", 0, 0, NULL }, { "--actor", 0, 0, NULL },
		{ "--language", 0, 0, NULL }, { NULL, 0, 0, NULL }
	};

	return ctl_run("site add",
			 "usage: tocsinctl site add --slug SLUG --name NAME --address TEXT --lat LAT\n"
			 "                          --lon LON --sector CODE --guard ORG\n"
			 "                          [--cleared yes|no] [--language TAG] [--actor NAME]\n"
			 "Adds a site and prints it. Then add its console: tocsinctl device add.\n"
			 SITE_FIELDS_HELP ACTOR_HELP COMMON_HELP,
			 argc, argv, args, 0, 0, site_add);
}

static int site_list(struct ctl_run *r)
{
	const char *p[] = { ctl_args_get(r->args, "--org") };

	return ctl_exec_print(r->cmd, r->conn,
			      "SELECT * FROM tocsin_admin_site_list"
			      " WHERE $1::text IS NULL OR guard_org = $1 OR guard_org_id::text = $1"
			      " ORDER BY id",
			      1, p, r->o.json);
}

int ctl_admin_site_list(int argc, char **argv)
{
	struct ctl_arg args[] = { { "--org", 0, 0, NULL }, { NULL, 0, 0, NULL } };

	return ctl_run("site list",
			 "usage: tocsinctl site list [--org ORG]\n"
			 "Lists the sites (of one guarding company with --org: id or exact name).\n"
			 COMMON_HELP,
			 argc, argv, args, 0, 0, site_list);
}

static int site_update(struct ctl_run *r)
{
	char *fields = site_fields(r);
	const char *p[] = { r->actor, r->pos[0], fields };
	int rc;

	if (!fields)
		return CTL_USAGE;
	if (!strcmp(fields, "{}")) {
		fprintf(stderr, "tocsinctl %s: nothing to change (see --help)\n", r->cmd);
		free(fields);
		return CTL_USAGE;
	}
	rc = ctl_exec_print(r->cmd, r->conn,
			    "SELECT * FROM tocsin_admin_site_update($1, $2, $3::jsonb)", 3, p,
			    r->o.json);
	free(fields);
	return rc;
}

int ctl_admin_site_update(int argc, char **argv)
{
	struct ctl_arg args[] = {
		{ "--slug", 0, 0, NULL },    { "--name", 0, 0, NULL },   { "--address", 0, 0, NULL },
		{ "--lat", 0, 0, NULL },     { "--lon", 0, 0, NULL },    { "--sector", 0, 0, NULL },
		{ "--guard", 0, 0, NULL },   { "--cleared", 0, 0, NULL }, { "--actor", 0, 0, NULL },
		{ "--language", 0, 0, NULL }, { NULL, 0, 0, NULL }
	};

	return ctl_run("site update",
			 "usage: tocsinctl site update SITE [--slug SLUG] [--name NAME] [--address TEXT]\n"
			 "                          [--lat LAT] [--lon LON] [--sector CODE] [--guard ORG]\n"
			 "                          [--cleared yes|no] [--language TAG] [--actor NAME]\n"
			 "Changes the given fields of a site (SITE: its slug or id). A new guarding\n"
			 "company takes the site's consoles along; they must sign in again.\n"
			 SITE_FIELDS_HELP ACTOR_HELP COMMON_HELP,
			 argc, argv, args, 1, 1, site_update);
}

static int site_disable(struct ctl_run *r)
{
	const char *p[] = { r->actor, r->pos[0] };

	return ctl_exec_print(r->cmd, r->conn, "SELECT * FROM tocsin_admin_site_disable($1, $2)",
			      2, p, r->o.json);
}

int ctl_admin_site_disable(int argc, char **argv)
{
	struct ctl_arg args[] = { { "--actor", 0, 0, NULL }, { NULL, 0, 0, NULL } };

	return ctl_run("site disable",
			 "usage: tocsinctl site disable SITE [--actor NAME]\n"
			 "Disables a site (its slug or id) and revokes its console devices; their\n"
			 "live connections close within seconds.\n"
			 ACTOR_HELP COMMON_HELP,
			 argc, argv, args, 1, 1, site_disable);
}

/* ---------------------------------------------------------------- users */

/* Reads a password on stdin and hashes it; 0 or -1 after a message. */
static int read_hash(const char *cmd, char hash[PASSWORD_HASH_MAX])
{
	char pw[300];
	int rc = ctl_args_read_password(cmd, pw, sizeof pw);

	if (rc == 0 && password_hash(pw, strlen(pw), hash)) {
		fprintf(stderr, "tocsinctl %s: out of memory while hashing the password\n", cmd);
		rc = -1;
	}
	sodium_memzero(pw, sizeof pw);
	return rc;
}

static int user_add(struct ctl_run *r)
{
	char hash[PASSWORD_HASH_MAX];
	const char *p[] = { r->actor, r->pos[0], ctl_args_get(r->args, "--display-name"),
			    ctl_args_get(r->args, "--role"), ctl_args_get(r->args, "--org"),
			    ctl_args_get(r->args, "--site"),
			    ctl_args_get(r->args, "--cleared") ? "true" : "false", hash };

	if (read_hash(r->cmd, hash))
		return CTL_FAILED;
	return ctl_exec_print(r->cmd, r->conn,
			      "SELECT * FROM tocsin_admin_user_add($1, $2, $3, $4, $5, $6, $7, $8)",
			      8, p, r->o.json);
}

int ctl_admin_user_add(int argc, char **argv)
{
	struct ctl_arg args[] = { { "--role", 0, 1, NULL },	    { "--org", 0, 0, NULL },
				  { "--site", 0, 0, NULL },	    { "--display-name", 0, 0, NULL },
				  { "--cleared", 1, 0, NULL },	    { "--actor", 0, 0, NULL },
				  { NULL, 0, 0, NULL } };

	return ctl_run("user add",
			 "usage: tocsinctl user add USERNAME --role ROLE [--org ORG] [--site SITE]\n"
			 "                          [--display-name NAME] [--cleared] [--actor NAME]\n"
			 "                          < PASSWORD\n"
			 "Adds a user; the password is one line on standard input (prompted for,\n"
			 "without echo, on a terminal) and stored as an argon2id hash.\n"
			 "  ROLE               controller, analyst, company_operator, site_console, admin,\n"
			 "                     inspector (approves or rejects held alerts: nothing else)\n"
			 "  --org ORG          id or exact name (a site_console's defaults to its site's\n"
			 "                     guarding company)\n"
			 "  --site SITE        slug or id; required for, and only for, site_console\n"
			 "  --cleared          cleared for OFFICIAL-SENSITIVE alerts\n"
			 ACTOR_HELP COMMON_HELP,
			 argc, argv, args, 1, 1, user_add);
}

static int user_list(struct ctl_run *r)
{
	const char *p[] = { ctl_args_get(r->args, "--org"), ctl_args_get(r->args, "--role"),
			    ctl_args_get(r->args, "--site") };

	return ctl_exec_print(r->cmd, r->conn,
			      "SELECT * FROM tocsin_admin_user_list"
			      " WHERE ($1::text IS NULL OR org = $1 OR org_id::text = $1)"
			      "   AND ($2::text IS NULL OR role = $2)"
			      "   AND ($3::text IS NULL OR site = $3 OR site_id::text = $3)"
			      " ORDER BY id",
			      3, p, r->o.json);
}

int ctl_admin_user_list(int argc, char **argv)
{
	struct ctl_arg args[] = { { "--org", 0, 0, NULL }, { "--role", 0, 0, NULL },
				  { "--site", 0, 0, NULL }, { NULL, 0, 0, NULL } };

	return ctl_run("user list",
			 "usage: tocsinctl user list [--org ORG] [--role ROLE] [--site SITE]\n"
			 "Lists users, optionally of one organisation, role or site.\n"
			 COMMON_HELP,
			 argc, argv, args, 0, 0, user_list);
}

static int user_disable(struct ctl_run *r)
{
	const char *p[] = { r->actor, r->pos[0] };

	return ctl_exec_print(r->cmd, r->conn,
			      "SELECT * FROM tocsin_admin_user_set_disabled($1, $2, true)", 2, p,
			      r->o.json);
}

int ctl_admin_user_disable(int argc, char **argv)
{
	struct ctl_arg args[] = { { "--actor", 0, 0, NULL }, { NULL, 0, 0, NULL } };

	return ctl_run("user disable",
			 "usage: tocsinctl user disable USERNAME [--actor NAME]\n"
			 "Disables a user: it cannot sign in, and its live connections close\n"
			 "within seconds.\n"
			 ACTOR_HELP COMMON_HELP,
			 argc, argv, args, 1, 1, user_disable);
}

static int user_enable(struct ctl_run *r)
{
	const char *p[] = { r->actor, r->pos[0] };

	return ctl_exec_print(r->cmd, r->conn,
			      "SELECT * FROM tocsin_admin_user_set_disabled($1, $2, false)", 2, p,
			      r->o.json);
}

int ctl_admin_user_enable(int argc, char **argv)
{
	struct ctl_arg args[] = { { "--actor", 0, 0, NULL }, { NULL, 0, 0, NULL } };

	return ctl_run("user enable",
			 "usage: tocsinctl user enable USERNAME [--actor NAME]\n"
			 "Enables a disabled user (tokens it held before stay revoked: it signs in\n"
			 "again). Refused while its organisation or site is disabled.\n"
			 ACTOR_HELP COMMON_HELP,
			 argc, argv, args, 1, 1, user_enable);
}

static int user_set_password(struct ctl_run *r)
{
	char hash[PASSWORD_HASH_MAX];
	const char *p[] = { r->actor, r->pos[0], hash };

	if (read_hash(r->cmd, hash))
		return CTL_FAILED;
	return ctl_exec_print(r->cmd, r->conn,
			      "SELECT * FROM tocsin_admin_user_set_password($1, $2, $3)", 3, p,
			      r->o.json);
}

int ctl_admin_user_set_password(int argc, char **argv)
{
	struct ctl_arg args[] = { { "--actor", 0, 0, NULL }, { NULL, 0, 0, NULL } };

	return ctl_run("user set-password",
			 "usage: tocsinctl user set-password USERNAME [--actor NAME] < PASSWORD\n"
			 "Sets a user's password (one line on standard input). The user's live\n"
			 "sessions are ended: it signs in again with the new password.\n"
			 ACTOR_HELP COMMON_HELP,
			 argc, argv, args, 1, 1, user_set_password);
}

/* The number of characters (UTF-8 code points) of s, as PostgreSQL's
 * length() counts them. */
static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* Is s empty or only blanks? (the database trims names) */
static int blank(const char *s)
{
	return s[strspn(s, " \t\r\n")] == '\0';
}

/* Checks the values user update can check without the database, naming
 * the flag: a usage error (exit 2) rather than a refusal. 0 or -1. */
static int user_update_check(const struct ctl_run *r)
{
	static const char *const roles[] = { "controller", "analyst", "company_operator",
					     "site_console", "admin", "inspector" };
	const char *role = ctl_args_get(r->args, "--role"), *cleared = ctl_args_get(r->args, "--cleared");
	const char *name = ctl_args_get(r->args, "--display-name");
	int known = 0;

	for (size_t i = 0; role && i < sizeof roles / sizeof roles[0]; i++)
		known |= !strcmp(role, roles[i]);
	if (role && !known) {
		fprintf(stderr, "tocsinctl %s: --role takes controller, analyst, company_operator, "
				"site_console, admin or inspector, not '%s'\n", r->cmd, role);
		return -1;
	}
	if (cleared && strcmp(cleared, "yes") && strcmp(cleared, "no")) {
		fprintf(stderr, "tocsinctl %s: --cleared takes yes or no, not '%s'\n", r->cmd, cleared);
		return -1;
	}
	if (name && (blank(name) || utf8_chars(name) > 200)) {
		fprintf(stderr, "tocsinctl %s: --display-name must be 1 to 200 characters\n", r->cmd);
		return -1;
	}
	if (ctl_args_get(r->args, "--org") && blank(ctl_args_get(r->args, "--org"))) {
		fprintf(stderr, "tocsinctl %s: --org needs an organisation's id or name\n", r->cmd);
		return -1;
	}
	if (ctl_args_get(r->args, "--site") && blank(ctl_args_get(r->args, "--site"))) {
		fprintf(stderr, "tocsinctl %s: --site needs a site's slug or id\n", r->cmd);
		return -1;
	}
	return 0;
}

/* The changes given as options, as the JSON object
 * tocsin_admin_user_update takes (caller frees); NULL after a message when
 * a value is bad or nothing is to change (a usage error). */
static char *user_update_fields(const struct ctl_run *r)
{
	static const char *const opts[][2] = { { "--role", "role" },
					       { "--org", "org" },
					       { "--site", "site" },
					       { "--display-name", "display_name" } };
	const char *cleared = ctl_args_get(r->args, "--cleared");
	json_t *f;
	char *text;

	if (user_update_check(r))
		return NULL;
	f = json_object();
	if (!f)
		return NULL;
	for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
		const char *v = ctl_args_get(r->args, opts[i][0]);

		if (v)
			json_object_set_new(f, opts[i][1], json_string(v));
	}
	if (cleared)
		json_object_set_new(f, "cleared", json_boolean(!strcmp(cleared, "yes")));
	if (json_object_size(f) == 0) {
		fprintf(stderr, "tocsinctl %s: nothing to change (see --help)\n", r->cmd);
		json_decref(f);
		return NULL;
	}
	text = json_dumps(f, JSON_COMPACT);
	json_decref(f);
	if (!text)
		fprintf(stderr, "tocsinctl %s: out of memory\n", r->cmd);
	return text;
}

static int user_update(struct ctl_run *r)
{
	char *fields = user_update_fields(r);
	const char *p[] = { r->actor, r->pos[0], fields };
	int rc;

	if (!fields)
		return CTL_USAGE;
	rc = ctl_exec_print(r->cmd, r->conn,
			    "SELECT * FROM tocsin_admin_user_update($1, $2, $3::jsonb)", 3, p,
			    r->o.json);
	free(fields);
	return rc;
}

int ctl_admin_user_update(int argc, char **argv)
{
	struct ctl_arg args[] = { { "--role", 0, 0, NULL },	    { "--org", 0, 0, NULL },
				  { "--site", 0, 0, NULL },	    { "--cleared", 0, 0, NULL },
				  { "--display-name", 0, 0, NULL }, { "--actor", 0, 0, NULL },
				  { NULL, 0, 0, NULL } };

	return ctl_run("user update",
			 "usage: tocsinctl user update USERNAME [--role ROLE] [--org ORG] [--site SITE]\n"
			 "                          [--cleared yes|no] [--display-name NAME]\n"
			 "                          [--actor NAME]\n"
			 "Changes the given fields of a user and prints it. A new role, organisation,\n"
			 "site or clearance ends the user's live sessions (its tokens are revoked;\n"
			 "they close with auth_revoked within seconds): it signs in again and gets\n"
			 "the new claims. A new display name ends no session.\n"
			 "  --role ROLE        controller, analyst, company_operator, site_console, admin,\n"
			 "                     inspector\n"
			 "                     (leaving site_console drops the site; becoming one\n"
			 "                     needs --site)\n"
			 "  --org ORG          id or exact name (a console moved with --site follows\n"
			 "                     its new site's guarding company unless --org is given)\n"
			 "  --site SITE        slug or id; only for a site_console\n"
			 "  --cleared yes|no   cleared for OFFICIAL-SENSITIVE alerts\n"
			 "  --display-name N   1 to 200 characters\n"
			 ACTOR_HELP COMMON_HELP,
			 argc, argv, args, 1, 1, user_update);
}

/* -------------------------------------------------------------- devices */

/* A one-time password for a console device: 20 characters from an
 * alphabet without look-alikes (about 100 bits). */
static void device_password(char out[21])
{
	static const char alphabet[] = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

	for (int i = 0; i < 20; i++)
		out[i] = alphabet[randombytes_uniform(sizeof alphabet - 1)];
	out[20] = '\0';
}

/* Prints the new device and its password, which is shown only here. */
static void print_device(PGresult *res, const char *pw, int json)
{
	if (json) {
		json_t *o = json_object();
		char *text;

		for (int c = 0; c < PQnfields(res); c++)
			json_object_set_new(o, PQfname(res, c),
					    PQgetisnull(res, 0, c) ? json_null()
								   : json_string(PQgetvalue(res, 0, c)));
		json_object_set_new(o, "password", json_string(pw));
		text = json_dumps(o, JSON_INDENT(2));
		if (text)
			printf("[%s]\n", text);
		free(text);
		json_decref(o);
		return;
	}
	ctl_print_result(res, 0);
	printf("username: %s\npassword: %s\n(the password is shown once: give it to the "
	       "building now)\n",
	       PQgetvalue(res, 0, PQfnumber(res, "username")), pw);
}

static int device_add(struct ctl_run *r)
{
	char pw[21], hash[PASSWORD_HASH_MAX];
	const char *p[] = { r->actor, ctl_args_get(r->args, "--site"), ctl_args_get(r->args, "--name"), hash };
	PGresult *res;
	int rc;

	device_password(pw);
	if (password_hash(pw, strlen(pw), hash)) {
		fprintf(stderr, "tocsinctl %s: out of memory while hashing the password\n", r->cmd);
		return CTL_FAILED;
	}
	res = ctl_exec(r->cmd, r->conn, "SELECT * FROM tocsin_admin_device_add($1, $2, $3, $4)", 4,
		       p, &rc);
	if (res && PQntuples(res) == 1)
		print_device(res, pw, r->o.json);
	PQclear(res);
	sodium_memzero(pw, sizeof pw);
	return rc;
}

int ctl_admin_device_add(int argc, char **argv)
{
	struct ctl_arg args[] = { { "--site", 0, 1, NULL }, { "--name", 0, 0, NULL },
				  { "--actor", 0, 0, NULL }, { NULL, 0, 0, NULL } };

	return ctl_run("device add",
			 "usage: tocsinctl device add --site SITE [--name NAME] [--actor NAME]\n"
			 "Registers a building console device for a site (slug or id): a\n"
			 "site_console user named console.SLUG (console.SLUG.NAME with --name;\n"
			 "console.SLUG-2 ... when taken). Prints its user name and a generated\n"
			 "password, shown only this once.\n"
			 ACTOR_HELP COMMON_HELP,
			 argc, argv, args, 0, 0, device_add);
}

static int device_list(struct ctl_run *r)
{
	const char *p[] = { ctl_args_get(r->args, "--site") };

	return ctl_exec_print(r->cmd, r->conn,
			      "SELECT * FROM tocsin_admin_user_list WHERE role = 'site_console'"
			      "   AND ($1::text IS NULL OR site = $1 OR site_id::text = $1)"
			      " ORDER BY site_id, id",
			      1, p, r->o.json);
}

int ctl_admin_device_list(int argc, char **argv)
{
	struct ctl_arg args[] = { { "--site", 0, 0, NULL }, { NULL, 0, 0, NULL } };

	return ctl_run("device list",
			 "usage: tocsinctl device list [--site SITE]\n"
			 "Lists the console devices (site_console users), of one site with --site.\n"
			 COMMON_HELP,
			 argc, argv, args, 0, 0, device_list);
}

static int device_revoke(struct ctl_run *r)
{
	const char *p[] = { r->actor, r->pos[0] };

	return ctl_exec_print(r->cmd, r->conn, "SELECT * FROM tocsin_admin_device_revoke($1, $2)",
			      2, p, r->o.json);
}

int ctl_admin_device_revoke(int argc, char **argv)
{
	struct ctl_arg args[] = { { "--actor", 0, 0, NULL }, { NULL, 0, 0, NULL } };

	return ctl_run("device revoke",
			 "usage: tocsinctl device revoke USERNAME [--actor NAME]\n"
			 "De-registers a console device: its user is disabled and its live\n"
			 "connections close within seconds.\n"
			 ACTOR_HELP COMMON_HELP,
			 argc, argv, args, 1, 1, device_revoke);
}
