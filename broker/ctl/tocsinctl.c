/* tocsinctl: Tocsin's administration tool. This file dispatches; each
 * group of commands lives in a ctl_<group>.c file (ctl_commands.h). */
#include "ctl.h"
#include "ctl_commands.h"
#include "log.h"
#include "password.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef TOCSIN_VERSION
#define TOCSIN_VERSION "unknown" /* the Makefile gives it (mk/install.mk) */
#endif

static int hash_password(void)
{
	char line[512], hash[PASSWORD_HASH_MAX];
	size_t len;

	if (!fgets(line, sizeof line, stdin)) {
		fprintf(stderr, "tocsinctl: no password on standard input\n");
		return 1;
	}
	len = strcspn(line, "\r\n");
	line[len] = '\0';
	if (len == 0 || len > 256) {
		fprintf(stderr, "tocsinctl: the password must be 1 to 256 characters\n");
		return 1;
	}
	if (password_hash(line, len, hash)) {
		fprintf(stderr, "tocsinctl: out of memory while hashing\n");
		return 1;
	}
	sodium_memzero(line, sizeof line);
	puts(hash);
	return 0;
}

/* The commands: group and name as typed, the function, a line of help.
 * A command with no group is typed as one word. */
struct ctl_command {
	const char *group, *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static int ctl_hash_password(int argc, char **argv)
{
	if (argc == 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
		puts("usage: tocsinctl hash-password < FILE\n"
		     "Reads a password (one line) on standard input and prints its argon2id\n"
		     "hash, as stored in users.password_hash.");
		return CTL_OK;
	}
	return argc ? CTL_USAGE : hash_password();
}

static const struct ctl_command commands[] = {
	{ NULL, "hash-password", ctl_hash_password, "print the argon2id hash of a password read on stdin" },
	{ "audit", "verify", ctl_audit_verify, "walk the audit seal chain; name the first broken row" },
	{ "audit", "export", ctl_audit_export, "the DPA 2018 s.62 logs of a time window, as CSV or JSON" },
	{ "audit", "archive", ctl_audit_archive, "the sealed audit chain to a file that verify --archive checks offline" },
	{ "keys", "init", ctl_keys_init, "make the token, audit, bus, alert and CAP keys of a fresh install" },
	{ "keys", "rotate", ctl_keys_rotate, "new token signing key; the old one stays valid as FILE.prev" },
	{ "keys", "show", ctl_keys_show, "fingerprints of the token keys; the alert signing public keys" },
	{ "keys", "rotate-alert", ctl_alert_keys_rotate, "new alert signing key; old public keys stay listed" },
	{ "org", "add", ctl_admin_org_add, "add an organisation" },
	{ "org", "list", ctl_admin_org_list, "list organisations" },
	{ "org", "disable", ctl_admin_org_disable, "disable an organisation and all its users" },
	{ "site", "add", ctl_admin_site_add, "add a site (slug, name, address, location, sector, guard)" },
	{ "site", "list", ctl_admin_site_list, "list sites" },
	{ "site", "update", ctl_admin_site_update, "change a site's fields" },
	{ "site", "disable", ctl_admin_site_disable, "disable a site and revoke its consoles" },
	{ "user", "add", ctl_admin_user_add, "add a user (password on stdin)" },
	{ "user", "list", ctl_admin_user_list, "list users" },
	{ "user", "disable", ctl_admin_user_disable, "disable a user; its connections close" },
	{ "user", "enable", ctl_admin_user_enable, "enable a disabled user" },
	{ "user", "set-password", ctl_admin_user_set_password, "set a user's password (stdin)" },
	{ "user", "update", ctl_admin_user_update, "change a user's role, org, site, clearance; sessions end" },
	{ "device", "add", ctl_admin_device_add, "register a building console; prints its password" },
	{ "device", "list", ctl_admin_device_list, "list console devices" },
	{ "device", "revoke", ctl_admin_device_revoke, "de-register a console; its connections close" },
	{ "bus", "keygen", ctl_bus_keygen, "make a CURVE key pair file for the ZeroMQ bus" },
	{ "adapter", "add", ctl_bus_adapter_add, "register a bus adapter bound to a user (makes its key)" },
	{ "adapter", "list", ctl_bus_adapter_list, "list bus adapters" },
	{ "adapter", "revoke", ctl_bus_adapter_revoke, "revoke a bus adapter; its key is refused" },
	{ NULL, "publish", ctl_alerts_publish, "publish an alert over the bus (flags, --file or --cap)" },
	{ "alert", "list", ctl_alerts_list, "list alerts with their tallies" },
	{ "alert", "show", ctl_alerts_show, "one alert and the sites that have not acknowledged" },
	{ "policy", "show", ctl_release_policy_show, "the two-person release policy" },
	{ "policy", "set", ctl_release_policy_set, "change the two-person release policy (audited)" },
	{ "release", "report", ctl_release_report, "held alerts and how each ended (released alone too)" },
	{ "alert", "verify", ctl_alert_keys_verify, "check an alert's signature: kept with it (ID) or a saved frame (FILE)" },
	{ "cap", "export", ctl_cap_export, "an alert as OASIS CAP 1.2 XML (audited)" },
	{ "cap", "sender", ctl_cap_sender, "add|list|remove CAP senders whose signatures are checked (audited)" },
	{ "geocode", "add", ctl_geocode_add, "map a CAP geocode or areaDesc to sites and sectors (audited)" },
	{ "geocode", "list", ctl_geocode_list, "the CAP geocode mappings" },
	{ "geocode", "remove", ctl_geocode_remove, "remove a CAP geocode mapping (audited)" },
	{ "crime", "import", ctl_crime_import, "import a data.police.uk street-level crime CSV (idempotent)" },
	{ "crime", "stolen", ctl_crime_stolen, "the force's stolen-property register: add, list, remove (audited)" },
	{ NULL, "board", ctl_alerts_board, "the latest status of every site" },
};

/* The commands as the man page's list (tocsinctl.8's COMMANDS, built by
 * make with tocsinctl --help-man), so that the two cannot disagree. */
static void print_man(void)
{
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		printf(".TP\n.B ");
		if (commands[i].group)
			printf("%s ", commands[i].group);
		for (const char *p = commands[i].name; *p; p++)
			printf(*p == '-' ? "\\-" : "%c", *p);
		printf("\n%s\n", commands[i].summary);
	}
}

static void print_usage(FILE *out)
{
	fputs("usage: tocsinctl [GROUP] COMMAND [OPTIONS]   (COMMAND --help for its options)\n"
	      "\ncommands:\n", out);
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		char name[48];
		snprintf(name, sizeof name, "%s%s%s", commands[i].group ? commands[i].group : "",
			 commands[i].group ? " " : "", commands[i].name);
		fprintf(out, "  %-24s %s\n", name, commands[i].summary);
	}
	fputs("\ncommon options: --database URL (default DATABASE_URL), --json (JSON output)\n"
	      "tocsinctl --version prints the version\n"
	      "exit codes: 0 success, 1 refused or found a problem (audit verify: broken),\n"
	      "2 usage error, 3 cannot reach the database or broker, 4 not found\n", out);
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0) {
		fprintf(stderr, "tocsinctl: libsodium failed to start\n");
		return CTL_FAILED;
	}
	if (argc == 2 && !strcmp(argv[1], "--version")) {
		printf("tocsinctl %s\n", TOCSIN_VERSION);
		return CTL_OK;
	}
	if (argc == 2 && !strcmp(argv[1], "--help-man")) {
		print_man();
		return CTL_OK;
	}
	if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help")) {
		print_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CTL_USAGE : CTL_OK;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		const struct ctl_command *c = &commands[i];
		if (!c->group && !strcmp(argv[1], c->name))
			return c->run(argc - 2, argv + 2);
		if (c->group && argc >= 3 && !strcmp(argv[1], c->group) && !strcmp(argv[2], c->name))
			return c->run(argc - 3, argv + 3);
	}
	fprintf(stderr, "tocsinctl: unknown command '%s%s%s' (tocsinctl help lists them)\n",
		argv[1], argc >= 3 ? " " : "", argc >= 3 ? argv[2] : "");
	return CTL_USAGE;
}
