/* cap_main.c: the tocsin-cap program: validate, to-json, import and watch
 * (adapters/cap/README.md). Logs to stderr; the JSON of to-json is the
 * only thing written to stdout besides validate's verdicts. SIGTERM and
 * SIGINT stop it between two requests (a request in flight is abandoned
 * after its resend loop sees the signal; the broker deduplicates). */
#include "bus_client.h"
#include "cap_import.h"
#include "cap_parse.h"
#include "cap_state.h"
#include "cap_verify.h"

#include <getopt.h>
#include <inttypes.h>
#include <libxml/parser.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef CAP_SCHEMA_PATH
#define CAP_SCHEMA_PATH "adapters/cap/schema/CAP-v1.2.xsd"
#endif
#ifndef TOCSIN_VERSION
#define TOCSIN_VERSION "unknown" /* the Makefile gives it (mk/install.mk) */
#endif

enum { EXIT_OK = 0, EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

static volatile sig_atomic_t stop_flag;

/* SIGTERM/SIGINT: ask the loops to stop at their next check. */
static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static const char usage_text[] =
	"NAME\n"
	"    tocsin-cap - OASIS CAP 1.2 into Tocsin alerts\n"
	"\n"
	"SYNOPSIS\n"
	"    tocsin-cap validate [--schema-only] FILE...\n"
	"    tocsin-cap to-json [--state DIR] [--targets JSON] FILE\n"
	"    tocsin-cap import [BUS OPTIONS] [FILE|-]\n"
	"    tocsin-cap watch [BUS OPTIONS] [--interval MS] DIR\n"
	"\n"
	"DESCRIPTION\n"
	"    Reads CAP 1.2 XML, checks it is well formed and valid against the\n"
	"    OASIS schema, and maps it onto a Tocsin publish request: status,\n"
	"    msgType (Update and Cancel reference the alert an earlier import made),\n"
	"    urgency, severity, certainty, category, headline, description,\n"
	"    instruction, effective, expires, one polygon or circle, and inline\n"
	"    JPEG/PNG resources (derefUri) as images. Whatever the model cannot\n"
	"    hold is listed on stderr as \"not held\". A refused document is\n"
	"    reported as ELEMENT (line N): REASON.\n"
	"\n"
	"    validate   print FILE: valid, or FILE: invalid: REASON, for each file;\n"
	"               --schema-only checks the schema alone, not the mapping\n"
	"    to-json    print the publish request JSON (for tocsinctl publish --cap)\n"
	"    import     submit one document (default stdin) over the ZeroMQ bus and\n"
	"               print the alert id, or \"pending N\" when no site could be\n"
	"               targeted and the message is held as pending import N in\n"
	"               the control room's inbox\n"
	"    watch      import each new DIR/*.xml (name order; names starting with\n"
	"               . are skipped) and move it to DIR/done, or DIR/rejected\n"
	"               with DIR/rejected/NAME.reason; files the broker could not\n"
	"               take yet stay and are retried\n"
	"\n"
	"OPTIONS\n"
	"    --schema FILE       the CAP 1.2 XSD (default " CAP_SCHEMA_PATH ")\n"
	"    --state DIR         the adapter's state: DIR/ids maps CAP sender and\n"
	"                        identifier to alert ids, DIR/seq the bus sequence\n"
	"                        (default var/cap-state)\n"
	"    --targets JSON      targets of new alerts, as in the publish frame\n"
	"                        (default: the area, and the areas' geocodes and\n"
	"                        descriptions as mapped by tocsinctl geocode add)\n"
	"  BUS OPTIONS\n"
	"    --bus ENDPOINT      the broker's ingest socket (default tcp://127.0.0.1:7201)\n"
	"    --server-key FILE   the broker's public key file (line \"public Z85\")\n"
	"    --key FILE          this adapter's key pair (tocsinctl adapter add)\n"
	"    --timeout SECONDS   wait this long for each answer (default 30)\n"
	"    --interval MS       watch: scan the folder this often (default 1000)\n"
	"\n"
	"EXIT STATUS\n"
	"    0 done; 1 refused (invalid CAP or the broker said no); 2 bad usage;\n"
	"    3 the broker did not answer.\n"
	"\n"
	"SIGNALS\n"
	"    SIGTERM or SIGINT stops cleanly between two requests.\n";

struct opts {
	const char *schema, *state, *targets, *bus, *server_key, *key;
	int timeout_s, interval_ms, schema_only;
};

/* The manual, on stdout for --help, stderr for a usage error. */
static int usage(FILE *out, int code)
{
	fputs(usage_text, out);
	return code;
}

/* Parses the options after the subcommand; returns optind or -1. */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "schema", required_argument, NULL, 's' },
		{ "state", required_argument, NULL, 'd' },
		{ "targets", required_argument, NULL, 't' },
		{ "bus", required_argument, NULL, 'b' },
		{ "server-key", required_argument, NULL, 'S' },
		{ "key", required_argument, NULL, 'k' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "interval", required_argument, NULL, 'i' },
		{ "schema-only", no_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': o->schema = optarg; break;
		case 'd': o->state = optarg; break;
		case 't': o->targets = optarg; break;
		case 'b': o->bus = optarg; break;
		case 'S': o->server_key = optarg; break;
		case 'k': o->key = optarg; break;
		case 'T': o->timeout_s = atoi(optarg); break;
		case 'i': o->interval_ms = atoi(optarg); break;
		case 'o': o->schema_only = 1; break;
		case 'h': exit(usage(stdout, EXIT_OK));
		default: return -1;
		}
	}
	if (o->timeout_s <= 0 || o->interval_ms <= 0) {
		fprintf(stderr, "tocsin-cap: --timeout and --interval must be positive\n");
		return -1;
	}
	return optind;
}

/* validate: one verdict line per file on stdout; 1 when any is invalid. */
static int cmd_validate(const struct cap_schema *s, const struct opts *o, int argc, char **argv)
{
	int bad = 0;

	if (argc < 1)
		return usage(stderr, EXIT_USAGE);
	for (int i = 0; i < argc; i++) {
		struct cap_alert a;
		struct cap_problem p;
		char reason[512];
		size_t len;
		char *xml = cap_read_file(argv[i], &len);

		if (!xml) {
			bad = 1;
			continue;
		}
		if (o->schema_only ? cap_validate(s, xml, len, &p) : cap_parse(s, xml, len, &a, &p)) {
			cap_problem_format(&p, reason, sizeof reason);
			printf("%s: invalid: %s\n", argv[i], reason);
			bad = 1;
			free(xml);
			continue;
		}
		if (!o->schema_only)
			cap_alert_free(&a);
		printf("%s: valid\n", argv[i]);
		free(xml);
	}
	return bad ? EXIT_REFUSED : EXIT_OK;
}

/* to-json: the publish request for tocsinctl publish --cap; refusals and
 * what is not held on stderr. */
static int cmd_to_json(const struct cap_schema *s, const struct opts *o, int argc, char **argv)
{
	struct cap_alert a;
	struct cap_problem p;
	json_t *req, *note, *targets = NULL;
	char reason[512];
	size_t len, i;
	char *xml, *out;
	int rc = EXIT_OK;

	if (argc != 1)
		return usage(stderr, EXIT_USAGE);
	if (!(xml = cap_read_file(argv[0], &len)))
		return EXIT_REFUSED;
	if (cap_parse(s, xml, len, &a, &p)) {
		cap_problem_format(&p, reason, sizeof reason);
		fprintf(stderr, "tocsin-cap: %s: invalid: %s\n", argv[0], reason);
		free(xml);
		return EXIT_REFUSED;
	}
	free(xml);
	json_array_foreach(a.notes, i, note)
		fprintf(stderr, "tocsin-cap: not held: %s\n", json_string_value(note));
	json_array_foreach(a.images, i, note)
		fprintf(stderr, "tocsin-cap: not held: image \"%s\": to-json cannot upload it; use import\n",
			json_string_value(json_object_get(note, "caption")));
	req = json_object();
	json_object_update(req, a.publish);
	json_object_set_new(req, "type", json_string("publish"));
	if (strcmp(json_string_value(json_object_get(a.publish, "msg_type")), "alert")) {
		int64_t id = 0;
		int found = 1;
		for (size_t r = a.n_refs; r-- > 0 && found == 1;)
			found = cap_state_lookup(o->state, a.refs[r].sender, a.refs[r].identifier, &id);
		if (found) {
			fprintf(stderr, "tocsin-cap: %s: invalid: references: no referenced message was imported with --state %s\n",
				argv[0], o->state);
			rc = EXIT_REFUSED;
		}
		json_object_set_new(req, "references", json_integer(id));
	} else if (o->targets) {
		json_error_t je;
		targets = json_loads(o->targets, 0, &je);
		if (!json_is_object(targets)) {
			fprintf(stderr, "tocsin-cap: --targets must be a JSON object: %s\n", je.text);
			rc = EXIT_USAGE;
		}
		json_object_set_new(req, "targets", targets);
	} else if (json_object_get(a.publish, "area")) {
		json_object_set_new(req, "targets", json_pack("{s:b}", "area", 1));
	}
	if (rc == EXIT_OK) {
		out = json_dumps(req, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
		if (out)
			puts(out);
		free(out);
	}
	json_decref(req);
	cap_alert_free(&a);
	return rc;
}

/* Opens the bus and the state for import and watch. */
static struct bus_client *open_bus(const struct opts *o)
{
	struct bus_key server, mine;

	if (!o->server_key || !o->key) {
		fprintf(stderr, "tocsin-cap: --server-key and --key are required\n");
		return NULL;
	}
	if (bus_key_load(o->server_key, &server) || bus_key_load(o->key, &mine))
		return NULL;
	if (!mine.secret_z85[0]) {
		fprintf(stderr, "tocsin-cap: %s holds no secret key\n", o->key);
		return NULL;
	}
	if (cap_state_open(o->state))
		return NULL;
	return bus_client_open(o->bus, server.public_z85, &mine);
}

/* import and watch: both submit over the bus with the same options. */
static int cmd_import(const struct cap_schema *s, const struct opts *o, int argc, char **argv,
		      int watch)
{
	struct cap_importer im = { .schema = s, .state_dir = o->state,
				   .timeout_ms = o->timeout_s * 1000, .stop = &stop_flag };
	json_error_t je;
	int rc = EXIT_OK;

	if (argc > 1 || (watch && argc != 1))
		return usage(stderr, EXIT_USAGE);
	if (o->targets)
		im.targets = json_loads(o->targets, 0, &je); /* json_is_object evaluates twice */
	if (o->targets && !json_is_object(im.targets)) {
		fprintf(stderr, "tocsin-cap: --targets must be a JSON object: %s\n", je.text);
		json_decref(im.targets);
		return EXIT_USAGE;
	}
	if (!(im.bus = open_bus(o))) {
		json_decref(im.targets);
		return EXIT_USAGE;
	}
	if (watch) {
		rc = cap_watch(&im, argv[0], o->interval_ms) ? EXIT_REFUSED : EXIT_OK;
	} else {
		const char *path = argc ? argv[0] : "-";
		char reason[600] = "";
		int64_t id = 0;
		size_t len;
		char *xml = cap_read_file(path, &len);

		if (!xml) {
			rc = EXIT_REFUSED;
		} else {
			switch (cap_import_doc(&im, xml, len, &id, reason, sizeof reason)) {
			case CAP_IMPORTED:
				printf("%" PRId64 "\n", id);
				break;
			case CAP_HELD: /* in the control room's inbox: not an alert id */
				printf("pending %" PRId64 "\n", id);
				fprintf(stderr, "tocsin-cap: %s: held as pending import %" PRId64 " in the control room's inbox: %s\n",
					path, id, reason);
				break;
			case CAP_REJECTED:
				fprintf(stderr, "tocsin-cap: %s: rejected: %s\n", path, reason);
				rc = EXIT_REFUSED;
				break;
			case CAP_RETRY:
			case CAP_STOPPED:
				fprintf(stderr, "tocsin-cap: %s: not imported: %s\n", path, reason);
				rc = EXIT_UNREACHABLE;
				break;
			}
			free(xml);
		}
	}
	bus_client_close(im.bus);
	json_decref(im.targets);
	return rc;
}

/* The schema make install put in place (CAP_SCHEMA_INSTALLED) when it is
 * there, else the one of the source tree this was built from. */
static const char *default_schema(void)
{
#ifdef CAP_SCHEMA_INSTALLED
	if (access(CAP_SCHEMA_INSTALLED, R_OK) == 0)
		return CAP_SCHEMA_INSTALLED;
#endif
	return CAP_SCHEMA_PATH;
}

int main(int argc, char **argv)
{
	struct opts o = { .schema = default_schema(), .state = "var/cap-state",
			  .bus = "tcp://127.0.0.1:7201", .timeout_s = 30, .interval_ms = 1000 };
	struct sigaction sa = { .sa_handler = on_signal };
	struct cap_schema *schema;
	struct cap_problem err;
	const char *cmd;
	int first, rc;

	if (argc == 2 && !strcmp(argv[1], "--version")) {
		printf("tocsin-cap %s\n", TOCSIN_VERSION);
		return EXIT_OK;
	}
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help"))
		return usage(argc < 2 ? stderr : stdout, argc < 2 ? EXIT_USAGE : EXIT_OK);
	cmd = argv[1];
	if (strcmp(cmd, "validate") && strcmp(cmd, "to-json") && strcmp(cmd, "import") &&
	    strcmp(cmd, "watch")) {
		fprintf(stderr, "tocsin-cap: unknown command %s (see tocsin-cap --help)\n", cmd);
		return EXIT_USAGE;
	}
	first = parse_opts(argc - 1, argv + 1, &o);
	if (first < 0)
		return usage(stderr, EXIT_USAGE);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL); /* no SA_RESTART: waits end at once */
	sigaction(SIGINT, &sa, NULL);
	xmlInitParser();
	schema = cap_schema_load(o.schema, &err);
	if (!schema) {
		fprintf(stderr, "tocsin-cap: %s\n", err.reason);
		xmlCleanupParser();
		return EXIT_USAGE;
	}
	argc -= first + 1;
	argv += first + 1;
	if (!strcmp(cmd, "validate"))
		rc = cmd_validate(schema, &o, argc, argv);
	else if (!strcmp(cmd, "to-json"))
		rc = cmd_to_json(schema, &o, argc, argv);
	else
		rc = cmd_import(schema, &o, argc, argv, !strcmp(cmd, "watch"));
	cap_schema_free(schema);
	cap_verify_end();
	xmlCleanupParser();
	return rc;
}
