/* ctl_bus.c: tocsinctl bus keygen and adapter add|list|revoke (docs/bus.md).
 *
 * Key files are made by adapters/lib/bus_client.c (bus_key_generate), so
 * the broker, the adapters and this tool agree on one format. Adapters are
 * registered through tocsin_adapter_add / tocsin_adapter_revoke
 * (sql/functions/bus.sql), which check and audit. */
#include "bus_client.h"
#include "ctl.h"
#include "ctl_args.h"
#include "ctl_commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define COMMON_HELP "  --database URL  (default DATABASE_URL)   --json  JSON output\n"

/* Shared start of a command: common options, --help, named options and
 * positional words. Returns the number of positional words, or -1 with
 * *rc set (CTL_OK after --help). */
static int start(const char *cmd, const char *help, struct ctl_opts *o, int argc, char **argv,
		 struct ctl_arg *args, const char **pos, int min, int max, int *rc)
{
	int want_help, n;

	argc = ctl_take_common(cmd, o, argc, argv, &want_help);
	if (argc < 0) {
		*rc = CTL_USAGE;
		return -1;
	}
	if (want_help) {
		fputs(help, stdout);
		*rc = CTL_OK;
		return -1;
	}
	n = ctl_args_parse(cmd, argc, argv, args, pos, min, max);
	if (n < 0) {
		fputs(help, stderr);
		*rc = CTL_USAGE;
	}
	return n;
}

int ctl_bus_keygen(int argc, char **argv)
{
	static const char help[] =
		"usage: tocsinctl bus keygen --out FILE\n"
		"Makes a CURVE key pair for the ZeroMQ bus: FILE (mode 0600) holds the lines\n"
		"'public <z85>' and 'secret <z85>', FILE.pub only the public line. Use it as\n"
		"tocsind's --bus-key, or give FILE.pub to adapter add --public-key.\n"
		"An existing FILE is not overwritten.\n";
	struct ctl_arg args[] = { { "--out", 0, 1, NULL }, { NULL, 0, 0, NULL } };
	struct ctl_opts o;
	struct bus_key k;
	const char *pos[1], *out;
	int rc;

	if (start("bus keygen", help, &o, argc, argv, args, pos, 0, 0, &rc) < 0)
		return rc;
	out = ctl_args_get(args, "--out");
	if (access(out, F_OK) == 0) {
		fprintf(stderr, "tocsinctl bus keygen: %s exists; not overwritten\n", out);
		return CTL_FAILED;
	}
	if (bus_key_generate(out, &k))
		return CTL_FAILED;
	if (o.json)
		printf("[{\"file\":\"%s\",\"public_key\":\"%s\"}]\n", out, k.public_z85);
	else
		printf("%s\n", k.public_z85);
	return CTL_OK;
}

/* A public key read from a key file (such as FILE.pub) or given as 40
 * characters of Z85; a file of that name wins. */
static int public_key_arg(const char *given, char out[BUS_KEY_Z85])
{
	struct bus_key k;
	uint8_t raw[32];

	if (access(given, F_OK) == 0) {
		if (bus_key_load(given, &k))
			return -1;
		memcpy(out, k.public_z85, BUS_KEY_Z85);
		return 0;
	}
	if (strlen(given) != BUS_KEY_Z85 - 1 || !zmq_z85_decode(raw, given)) {
		fprintf(stderr, "tocsinctl adapter add: --public-key wants a key file or 40 "
			"characters of Z85, got '%s'\n", given);
		return -1;
	}
	memcpy(out, given, BUS_KEY_Z85);
	return 0;
}

int ctl_bus_adapter_add(int argc, char **argv)
{
	static const char help[] =
		"usage: tocsinctl adapter add NAME --user USERNAME (--out KEYFILE | --public-key KEY)\n"
		"Registers an adapter for the ZeroMQ bus. It acts as USERNAME: a controller or\n"
		"analyst to publish, a site console or company operator to send reports.\n"
		"  --out KEYFILE      make a new key pair: KEYFILE (0600) and KEYFILE.pub\n"
		"  --public-key KEY   register a key made elsewhere (40 characters of Z85, or a\n"
		"                     key file such as FILE.pub)\n"
		"NAME: 1 to 64 of A-Z a-z 0-9 . _ -. Exit 1 if the name or key exists, 4 if\n"
		"there is no such user.\n" COMMON_HELP;
	struct ctl_arg args[] = { { "--user", 0, 1, NULL }, { "--out", 0, 0, NULL },
				  { "--public-key", 0, 0, NULL }, { NULL, 0, 0, NULL } };
	struct ctl_opts o;
	struct bus_key k;
	const char *pos[1], *out, *given, *params[3];
	int rc = CTL_OK;
	PGconn *conn;

	if (start("adapter add", help, &o, argc, argv, args, pos, 1, 1, &rc) < 0)
		return rc;
	out = ctl_args_get(args, "--out");
	given = ctl_args_get(args, "--public-key");
	if (!out == !given) {
		fprintf(stderr, "tocsinctl adapter add: give exactly one of --out and --public-key\n");
		return CTL_USAGE;
	}
	if (out && access(out, F_OK) == 0) {
		fprintf(stderr, "tocsinctl adapter add: %s exists; not overwritten\n", out);
		return CTL_FAILED;
	}
	conn = ctl_connect("adapter add", &o, &rc);
	if (!conn)
		return rc;
	memset(&k, 0, sizeof k);
	if (given ? public_key_arg(given, k.public_z85) : bus_key_generate(out, &k)) {
		PQfinish(conn);
		return given ? CTL_USAGE : CTL_FAILED;
	}
	params[0] = pos[0];
	params[1] = ctl_args_get(args, "--user");
	params[2] = k.public_z85;
	rc = ctl_exec_print("adapter add", conn,
			    "SELECT adapter_id, name, username, role, public_key"
			    "  FROM tocsin_adapter_add($1, $2, $3)",
			    3, params, o.json);
	if (rc != CTL_OK && out) { /* not registered: the key files are of no use */
		char pub[4096];
		snprintf(pub, sizeof pub, "%s.pub", out);
		unlink(out);
		unlink(pub);
	}
	PQfinish(conn);
	return rc;
}

int ctl_bus_adapter_list(int argc, char **argv)
{
	static const char help[] =
		"usage: tocsinctl adapter list\n"
		"Lists the bus adapters: name, bound user and role, public key, when added and\n"
		"revoked.\n" COMMON_HELP;
	struct ctl_arg args[] = { { NULL, 0, 0, NULL } };
	struct ctl_opts o;
	const char *pos[1];
	int rc = CTL_OK;
	PGconn *conn;

	if (start("adapter list", help, &o, argc, argv, args, pos, 0, 0, &rc) < 0)
		return rc;
	conn = ctl_connect("adapter list", &o, &rc);
	if (!conn)
		return rc;
	rc = ctl_exec_print("adapter list", conn,
			    "SELECT a.id, a.name, u.username AS user, u.role, a.public_key,"
			    "       a.created_at AS added, a.revoked_at AS revoked"
			    "  FROM adapters a JOIN users u ON u.id = a.user_id ORDER BY a.id",
			    0, NULL, o.json);
	PQfinish(conn);
	return rc;
}

int ctl_bus_adapter_revoke(int argc, char **argv)
{
	static const char help[] =
		"usage: tocsinctl adapter revoke NAME\n"
		"Revokes a bus adapter: the broker refuses its key within about 2 seconds and\n"
		"answers its further requests 'forbidden'. Exit 4 if there is no such adapter.\n"
		COMMON_HELP;
	struct ctl_arg args[] = { { NULL, 0, 0, NULL } };
	struct ctl_opts o;
	const char *pos[1];
	int rc = CTL_OK;
	PGconn *conn;

	if (start("adapter revoke", help, &o, argc, argv, args, pos, 1, 1, &rc) < 0)
		return rc;
	conn = ctl_connect("adapter revoke", &o, &rc);
	if (!conn)
		return rc;
	rc = ctl_exec_print("adapter revoke", conn,
			    "SELECT adapter_id, name, revoked_at FROM tocsin_adapter_revoke($1)", 1,
			    pos, o.json);
	PQfinish(conn);
	return rc;
}
