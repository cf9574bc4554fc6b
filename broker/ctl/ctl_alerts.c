/* ctl_alerts.c: tocsinctl publish, alert list, alert show and board.
 *
 * publish builds the same JSON as the WebSocket publish frame
 * (docs/protocol.md) from flags, a JSON file or a CAP file (through
 * build/tocsin-cap to-json), and submits it to the running broker over the
 * ZeroMQ bus as a registered adapter (adapters/lib/bus_client.h): it acts
 * as the adapter's bound user, and exits 0 only once the broker answered
 * that the alert is durable. The others read PostgreSQL through the
 * tocsin_admin_* functions of sql/functions/admin.sql (show and board are
 * audited as consultations). */
#include "bus_client.h"
#include "ctl.h"
#include "ctl_args.h"
#include "ctl_commands.h"

#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define DB_HELP                                                                        \
	"  --database URL     default DATABASE_URL (the role tocsin_admin)\n"             \
	"  --json             print JSON instead of a table\n"
#define EXIT_HELP                                                                      \
	"Exit: 0 done, 1 refused, 2 usage, 3 database or broker unreachable, 4 not found.\n"

/* 1 when s is a decimal integer from lo to hi. */
static int is_int(const char *s, long long lo, long long hi)
{
	char *end;
	long long v;

	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtoll(s, &end, 10);
	return !errno && !*end && v >= lo && v <= hi;
}

/* ------------------------------------------------------------ alert list */

static int alert_list(struct ctl_run *r)
{
	const char *limit = ctl_args_get(r->args, "--limit");
	const char *p[] = { ctl_args_get(r->args, "--since"), limit ? limit : "50" };

	if (!is_int(p[1], 1, 10000)) {
		fprintf(stderr, "tocsinctl %s: --limit must be a number from 1 to 10000\n", r->cmd);
		return CTL_USAGE;
	}
	return ctl_exec_print(r->cmd, r->conn,
			      "SELECT * FROM tocsin_admin_alerts($1::timestamptz, $2::integer)", 2, p,
			      r->o.json);
}

int ctl_alerts_list(int argc, char **argv)
{
	struct ctl_arg args[] = { { "--since", 0, 0, NULL }, { "--limit", 0, 0, NULL },
				  { NULL, 0, 0, NULL } };

	return ctl_run("alert list",
			"usage: tocsinctl alert list [--since TIME] [--limit N]\n"
			"Lists alerts, newest first, with their tallies: recipient sites, sites\n"
			"delivered to, read, acknowledged, and answered.\n"
			"  --since TIME       only alerts sent at or after TIME (e.g. 2026-11-22T10:00Z)\n"
			"  --limit N          at most N alerts (1 to 10000, default 50)\n"
			DB_HELP EXIT_HELP,
			argc, argv, args, 0, 0, alert_list);
}

/* ------------------------------------------------------------ alert show */

/* A JSON value as one line of text (strings without quotes). */
static void print_value(const char *key, json_t *v)
{
	char *text;

	if (json_is_null(v))
		return;
	if (json_is_string(v)) {
		printf("%-16s %s\n", key, json_string_value(v));
		return;
	}
	text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	printf("%-16s %s\n", key, text ? text : "?");
	free(text);
}

/* The alert, its tallies and its unacknowledged sites, for a person. */
static void print_show(json_t *alert, json_t *tallies, json_t *pending)
{
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach(alert, key, v)
		print_value(key, v);
	json_object_foreach(tallies, key, v)
		print_value(key, v);
	printf("\nnot acknowledged (%zu site%s):\n", json_array_size(pending),
	       json_array_size(pending) == 1 ? "" : "s");
	json_array_foreach(pending, i, v) {
		printf("  %-6lld %-16s %-40s %s%s\n",
		       (long long)json_integer_value(json_object_get(v, "site_id")),
		       json_string_value(json_object_get(v, "slug")) ?: "-",
		       json_string_value(json_object_get(v, "name")) ?: "",
		       json_is_true(json_object_get(v, "delivered")) ? "delivered" : "not delivered",
		       json_is_true(json_object_get(v, "read")) ? ", read" : "");
	}
}

static int alert_show(struct ctl_run *r)
{
	const char *p[] = { r->actor, r->pos[0] };
	json_t *cols[3];
	PGresult *res;
	int rc;

	if (!is_int(r->pos[0], 1, INT64_MAX)) {
		fprintf(stderr, "tocsinctl %s: the alert id must be a positive integer\n", r->cmd);
		return CTL_USAGE;
	}
	res = ctl_exec(r->cmd, r->conn, "SELECT * FROM tocsin_admin_alert_show($1, $2::bigint)", 2,
		       p, &rc);
	if (!res)
		return rc;
	if (r->o.json) {
		rc = ctl_print_result(res, 1);
	} else {
		for (int c = 0; c < 3; c++)
			cols[c] = json_loads(PQgetvalue(res, 0, c), JSON_DECODE_ANY, NULL);
		print_show(cols[0], cols[1], cols[2]);
		for (int c = 0; c < 3; c++)
			json_decref(cols[c]);
	}
	PQclear(res);
	return rc;
}

int ctl_alerts_show(int argc, char **argv)
{
	struct ctl_arg args[] = { { "--actor", 0, 0, NULL }, { NULL, 0, 0, NULL } };

	return ctl_run("alert show",
			"usage: tocsinctl alert show ID [--actor NAME]\n"
			"Shows one alert in full, its tallies and the recipient sites that have\n"
			"not acknowledged it (whether each was delivered to and read). Audited\n"
			"as a consultation (view_alert) naming the actor.\n"
			"  --actor NAME       who to name in the audit (default tocsinctl:$USER)\n"
			DB_HELP EXIT_HELP,
			argc, argv, args, 1, 1, alert_show);
}

/* ----------------------------------------------------------------- board */

static int board(struct ctl_run *r)
{
	const char *p[] = { r->actor, ctl_args_get(r->args, "--org") };

	return ctl_exec_print(r->cmd, r->conn, "SELECT * FROM tocsin_admin_board($1, $2)", 2, p,
			      r->o.json);
}

int ctl_alerts_board(int argc, char **argv)
{
	struct ctl_arg args[] = { { "--org", 0, 0, NULL }, { "--actor", 0, 0, NULL },
				  { NULL, 0, 0, NULL } };

	return ctl_run("board",
			"usage: tocsinctl board [--org ORG] [--actor NAME]\n"
			"The status board: every site's latest status report (empty columns for\n"
			"sites that never reported), of one guarding company with --org (id or\n"
			"exact name). Audited as a consultation (view_board) naming the actor.\n"
			"  --actor NAME       who to name in the audit (default tocsinctl:$USER)\n"
			DB_HELP EXIT_HELP,
			argc, argv, args, 0, 0, board);
}

/* --------------------------------------------------------------- publish */

#define PUBLISH_HELP                                                                          \
	"usage: tocsinctl publish [FIELDS] [--file F | --cap F] [BUS OPTIONS]\n"                  \
	"Publishes an alert through the running broker's ZeroMQ bus, as a registered\n"          \
	"adapter (tocsinctl adapter add NAME --user controller --out KEYFILE), acting as\n"      \
	"the adapter's user. Prints the alert id and the number of recipient sites once\n"      \
	"the broker has confirmed the alert durable.\n"                                          \
	"Fields (as the WebSocket publish frame, docs/protocol.md):\n"                           \
	"  --headline TEXT --body TEXT --instruction TEXT\n"                                     \
	"  --severity minor|moderate|severe|extreme\n"                                           \
	"  --urgency immediate|expected|future|past|unknown\n"                                   \
	"  --certainty observed|likely|possible|unlikely|unknown\n"                              \
	"  --category live_incident|planned_event|crime_pattern|offender|request|advice|\n"     \
	"             major_incident\n"                                                          \
	"  --status Actual|Exercise|Test     --msg-type alert|update|cancel --references ID\n"  \
	"  --expires TIME (RFC 3339)  --classification OFFICIAL|OFFICIAL-SENSITIVE\n"           \
	"  --handling TEXT\n"                                                                     \
	"Targets (repeatable; combined as in docs/protocol.md, Targeting):\n"                    \
	"  --site SLUG|ID     a named site (slugs are looked up in the database)\n"             \
	"  --org ID           sites guarded by this organisation\n"                             \
	"  --sector CODE      sites in this sector\n"                                           \
	"  --circle LAT,LON,RADIUS_M   the alert's area, and its sites as targets\n"            \
	"Or a whole alert from a file (flags given as well override its fields):\n"             \
	"  --file F           a JSON object with the publish frame's fields (- for stdin)\n"    \
	"  --cap F            a CAP 1.2 XML file, converted by tocsin-cap to-json\n"           \
	"                     (next to tocsinctl, or TOCSIN_CAP)\n"                              \
	"Bus:\n"                                                                                 \
	"  --bus ENDPOINT     default TOCSIN_BUS or tcp://127.0.0.1:7201\n"                     \
	"  --server-key FILE  the broker's key (.pub is enough); default\n"                     \
	"                     TOCSIN_BUS_SERVER_KEY or var/secrets/bus_server.key\n"            \
	"  --key FILE         the adapter's key pair; default TOCSIN_BUS_KEY or\n"              \
	"                     var/secrets/tocsinctl-bus.key\n"                                  \
	"  --seq-file FILE    the adapter's last sequence number (default KEYFILE.seq)\n"       \
	"  --timeout SECONDS  give up after this long without an answer (default 30)\n"        \
	"  --database URL     only to look up --site slugs (default DATABASE_URL)\n"           \
	"  --json             print the broker's reply as JSON\n"                               \
	"Exit: 0 published (durable), 1 refused by the broker (the message says why),\n"        \
	"2 usage, 3 broker (or database) unreachable, 4 unknown target.\n"

/* What publish was told: the alert so far, and where to send it. */
struct publish {
	json_t *alert;           /* owned */
	json_t *site_refs;       /* owned: --site values in order, strings */
	const char *file, *cap, *bus, *server_key, *key, *seq_file;
	int timeout_s;
	struct ctl_opts o;
};

/* The flags that set one string field of the alert each. */
static const struct {
	const char *opt, *field;
} string_flags[] = {
	{ "--headline", "headline" },	  { "--body", "body" },
	{ "--instruction", "instruction" }, { "--severity", "severity" },
	{ "--urgency", "urgency" },	  { "--certainty", "certainty" },
	{ "--category", "category" },	  { "--status", "status" },
	{ "--msg-type", "msg_type" },	  { "--expires", "expires" },
	{ "--classification", "classification" }, { "--handling", "handling" },
};

/* The alert's targets object, created when missing. */
static json_t *targets_of(json_t *alert)
{
	json_t *t = json_object_get(alert, "targets");

	if (!json_is_object(t)) {
		t = json_object();
		json_object_set_new(alert, "targets", t);
	}
	return t;
}

/* targets.<member>, created when missing. */
static json_t *targets_member(json_t *alert, const char *member)
{
	json_t *t = targets_of(alert), *m;

	m = json_object_get(t, member);
	if (!json_is_array(m)) {
		m = json_array();
		json_object_set_new(t, member, m);
	}
	return m;
}

/* --circle LAT,LON,RADIUS_M: the area and targets.area. */
static int set_circle(json_t *alert, const char *v)
{
	double lat, lon, radius;
	char tail;

	if (sscanf(v, "%lf,%lf,%lf%c", &lat, &lon, &radius, &tail) != 3) {
		fprintf(stderr, "tocsinctl publish: --circle takes LAT,LON,RADIUS_M "
				"(e.g. 51.514,-0.088,400)\n");
		return -1;
	}
	json_object_set_new(alert, "area",
			    json_pack("{s:{s:f,s:f,s:f}}", "circle", "lat", lat, "lon", lon,
				      "radius_m", radius));
	json_object_set_new(targets_of(alert), "area", json_true());
	return 0;
}

/* Lowercases Actual/Exercise/Test as the protocol spells them. */
static json_t *status_value(const char *v)
{
	char low[16];
	size_t i;

	for (i = 0; v[i] && i + 1 < sizeof low; i++)
		low[i] = (char)(v[i] >= 'A' && v[i] <= 'Z' ? v[i] + 32 : v[i]);
	low[i] = '\0';
	return json_string(low);
}

/* One option that targets or describes the alert; 1 when it was one, 0 when
 * not, -1 on a bad value. */
static int take_field(struct publish *p, const char *opt, const char *v)
{
	for (size_t i = 0; i < sizeof string_flags / sizeof string_flags[0]; i++) {
		if (strcmp(opt, string_flags[i].opt))
			continue;
		json_object_set_new(p->alert, string_flags[i].field,
				    !strcmp(opt, "--status") ? status_value(v) : json_string(v));
		return 1;
	}
	if (!strcmp(opt, "--references") || !strcmp(opt, "--org")) {
		if (!is_int(v, 1, INT64_MAX)) {
			fprintf(stderr, "tocsinctl publish: %s takes a numeric id (got '%s')\n", opt, v);
			return -1;
		}
		if (!strcmp(opt, "--org"))
			json_array_append_new(targets_member(p->alert, "orgs"),
					      json_integer(strtoll(v, NULL, 10)));
		else
			json_object_set_new(p->alert, "references", json_integer(strtoll(v, NULL, 10)));
		return 1;
	}
	if (!strcmp(opt, "--sector")) {
		json_array_append_new(targets_member(p->alert, "sectors"), json_string(v));
		return 1;
	}
	if (!strcmp(opt, "--site")) {
		if (strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(v) || !*v) {
			fprintf(stderr, "tocsinctl publish: --site takes a slug or an id (got '%s')\n", v);
			return -1;
		}
		json_array_append_new(p->site_refs, json_string(v));
		return 1;
	}
	if (!strcmp(opt, "--circle"))
		return set_circle(p->alert, v) ? -1 : 1;
	return 0;
}

/* The bus options; 1 when opt was one. */
static int take_bus_opt(struct publish *p, const char *opt, const char *v)
{
	if (!strcmp(opt, "--file"))
		p->file = v;
	else if (!strcmp(opt, "--cap"))
		p->cap = v;
	else if (!strcmp(opt, "--bus"))
		p->bus = v;
	else if (!strcmp(opt, "--server-key"))
		p->server_key = v;
	else if (!strcmp(opt, "--key"))
		p->key = v;
	else if (!strcmp(opt, "--seq-file"))
		p->seq_file = v;
	else if (!strcmp(opt, "--timeout")) {
		if (!is_int(v, 1, 3600)) {
			fprintf(stderr, "tocsinctl publish: --timeout takes 1 to 3600 seconds\n");
			return -1;
		}
		p->timeout_s = atoi(v);
	} else
		return 0;
	return 1;
}

/* Reads the options into p (fields into p->alert, which the file's
 * fields are merged under later). CTL_OK or CTL_USAGE after a message. */
static int parse_publish(struct publish *p, int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		int took;

		if (strncmp(argv[i], "--", 2) || i + 1 >= argc) {
			fprintf(stderr, "tocsinctl publish: %s '%s' (see --help)\n",
				strncmp(argv[i], "--", 2) ? "unexpected argument" : "no value for",
				argv[i]);
			return CTL_USAGE;
		}
		took = take_field(p, argv[i], argv[i + 1]);
		if (took == 0)
			took = take_bus_opt(p, argv[i], argv[i + 1]);
		if (took < 0)
			return CTL_USAGE;
		if (took == 0) {
			fprintf(stderr, "tocsinctl publish: unknown option %s (see --help)\n", argv[i]);
			return CTL_USAGE;
		}
		i++;
	}
	if (p->file && p->cap) {
		fprintf(stderr, "tocsinctl publish: give --file or --cap, not both\n");
		return CTL_USAGE;
	}
	if (!p->file && !p->cap && json_object_size(p->alert) == 0 &&
	    json_array_size(p->site_refs) == 0) {
		fprintf(stderr, "tocsinctl publish: nothing to publish (see --help)\n");
		return CTL_USAGE;
	}
	return CTL_OK;
}

/* Runs `tocsin-cap to-json FILE` and returns what it printed (caller
 * frees), or NULL after a message. */
static char *cap_to_json(const char *file)
{
	char self[PATH_MAX], tool[PATH_MAX + 16], buf[65536], verb[] = "to-json";
	const char *path = getenv("TOCSIN_CAP");
	char *out = NULL, *args[] = { NULL, verb, NULL, NULL };
	size_t len = 0;
	ssize_t n, got;
	int fds[2], status;
	pid_t pid;
	posix_spawn_file_actions_t fa;

	if (!path) {
		n = readlink("/proc/self/exe", self, sizeof self - 1);
		self[n > 0 ? n : 0] = '\0';
		snprintf(tool, sizeof tool, "%s/tocsin-cap", n > 0 ? dirname(self) : "build");
		path = tool;
	}
	if (access(path, X_OK)) {
		fprintf(stderr, "tocsinctl publish: --cap needs %s, which is not there "
				"(build it with make, or set TOCSIN_CAP)\n", path);
		return NULL;
	}
	/* posix_spawn takes writable strings: the tool and the file copied */
	args[0] = strdup(path);
	args[2] = strdup(file);
	if (!args[0] || !args[2]) {
		fprintf(stderr, "tocsinctl publish: out of memory\n");
		goto out;
	}
	if (pipe(fds)) {
		fprintf(stderr, "tocsinctl publish: pipe: %m\n");
		goto out;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	status = posix_spawn(&pid, path, &fa, NULL, args, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	if (status) {
		fprintf(stderr, "tocsinctl publish: cannot run %s: %s\n", path, strerror(status));
		close(fds[0]);
		goto out;
	}
	while ((got = read(fds[0], buf, sizeof buf)) > 0) {
		char *grown = len + (size_t)got <= (1u << 22) ? realloc(out, len + (size_t)got + 1) : NULL;
		if (!grown) {
			free(out);
			out = NULL;
			break;
		}
		out = grown;
		memcpy(out + len, buf, (size_t)got);
		len += (size_t)got;
		out[len] = '\0';
	}
	close(fds[0]);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "tocsinctl publish: %s to-json %s failed (its message is above)\n",
			path, file);
		free(out);
		out = NULL;
		goto out;
	}
	if (!out)
		fprintf(stderr, "tocsinctl publish: %s printed nothing usable\n", path);
out:
	free(args[0]);
	free(args[2]);
	return out;
}

/* The alert from --file or --cap, with the flags' fields laid over it.
 * CTL_OK, or an exit code after a message. */
static int load_base(struct publish *p)
{
	json_error_t err;
	json_t *base;
	char *text;

	if (!p->file && !p->cap)
		return CTL_OK;
	if (p->cap) {
		text = cap_to_json(p->cap);
		if (!text)
			return CTL_FAILED;
	} else {
		text = ctl_read_file("publish", p->file, 1u << 22, NULL);
		if (!text)
			return CTL_USAGE;
	}
	base = json_loads(text, 0, &err);
	free(text);
	if (!json_is_object(base)) {
		fprintf(stderr, "tocsinctl publish: %s is not a JSON object%s%s (line %d)\n",
			p->cap ? "tocsin-cap's output" : p->file, base ? "" : ": ",
			base ? "" : err.text, err.line);
		json_decref(base);
		return p->cap ? CTL_FAILED : CTL_USAGE;
	}
	json_object_del(base, "type");
	json_object_del(base, "ref");
	json_object_del(base, "seq");
	/* the flags' targets add to the file's */
	if (json_is_object(json_object_get(base, "targets")) &&
	    json_is_object(json_object_get(p->alert, "targets"))) {
		json_object_update_recursive(json_object_get(base, "targets"),
					     json_object_get(p->alert, "targets"));
		json_object_del(p->alert, "targets");
	}
	json_object_update(base, p->alert);
	json_decref(p->alert);
	p->alert = base;
	return CTL_OK;
}

/* Turns --site slugs into ids (one query; ids pass as they are). */
static int resolve_sites(struct publish *p)
{
	size_t i, cap = 2;
	json_t *v, *sites;
	char *list;
	const char *params[1];
	PGconn *conn;
	PGresult *res;
	int rc = CTL_OK, any_slug = 0;

	if (json_array_size(p->site_refs) == 0)
		return CTL_OK;
	sites = targets_member(p->alert, "sites");
	json_array_foreach(p->site_refs, i, v) {
		cap += strlen(json_string_value(v)) + 1;
		if (!is_int(json_string_value(v), 1, INT32_MAX))
			any_slug = 1;
	}
	if (!any_slug) {
		json_array_foreach(p->site_refs, i, v)
			json_array_append_new(sites, json_integer(strtoll(json_string_value(v), NULL, 10)));
		return CTL_OK;
	}
	list = malloc(cap + 1);
	if (!list)
		return CTL_FAILED;
	strcpy(list, "{");
	json_array_foreach(p->site_refs, i, v) {
		strcat(list, i ? "," : "");
		strcat(list, json_string_value(v)); /* [a-z0-9-] only: checked */
	}
	strcat(list, "}");
	params[0] = list;
	conn = ctl_connect("publish", &p->o, &rc);
	res = conn ? ctl_exec("publish", conn,
			      "SELECT x.ref, s.id FROM unnest($1::text[]) WITH ORDINALITY AS x(ref, i)"
			      "  LEFT JOIN sites s ON s.slug = x.ref OR s.id::text = x.ref"
			      " ORDER BY x.i", 1, params, &rc)
		   : NULL;
	for (int r = 0; res && r < PQntuples(res); r++) {
		if (PQgetisnull(res, r, 1)) {
			fprintf(stderr, "tocsinctl publish: no site %s\n", PQgetvalue(res, r, 0));
			rc = CTL_NOT_FOUND;
			break;
		}
		json_array_append_new(sites, json_integer(strtoll(PQgetvalue(res, r, 1), NULL, 10)));
	}
	PQclear(res);
	PQfinish(conn);
	free(list);
	return rc;
}

/* Prints the broker's answer; returns the exit code it means. */
static int report_reply(json_t *reply, int json)
{
	const char *type = json_string_value(json_object_get(reply, "type"));
	const char *code = json_string_value(json_object_get(reply, "code"));
	const char *field = json_string_value(json_object_get(reply, "field"));
	char *text;

	if (type && !strcmp(type, "published")) {
		if (json) {
			text = json_dumps(reply, JSON_INDENT(2));
			puts(text ? text : "{}");
			free(text);
		} else {
			printf("alert_id          recipients  durable   duplicate\n%-16lld  %-10lld  %-8s  %s\n",
			       (long long)json_integer_value(json_object_get(reply, "alert_id")),
			       (long long)json_integer_value(json_object_get(reply, "recipients")),
			       json_string_value(json_object_get(reply, "durable")) ?: "?",
			       json_is_true(json_object_get(reply, "duplicate")) ? "yes" : "no");
		}
		return CTL_OK;
	}
	fprintf(stderr, "tocsinctl publish: refused by the broker: %s%s%s%s: %s\n",
		code ? code : "error", field ? " (field " : "", field ? field : "", field ? ")" : "",
		json_string_value(json_object_get(reply, "message")) ?: "no message");
	if (code && !strcmp(code, "unknown_target"))
		return CTL_NOT_FOUND;
	if (code && !strcmp(code, "unavailable"))
		return CTL_UNREACHABLE;
	return CTL_FAILED;
}

/* Sends the alert as the adapter and waits for the durable answer. */
static int submit(struct publish *p)
{
	struct bus_key server, client;
	struct bus_client *c;
	char seq_file[PATH_MAX];
	json_t *reply;
	int64_t seq;
	int rc;

	if (bus_key_load(p->server_key, &server) || bus_key_load(p->key, &client)) {
		fprintf(stderr, "tocsinctl publish: need the broker's key (--server-key) and an "
				"adapter key (--key; tocsinctl adapter add NAME --user USER --out FILE)\n");
		return CTL_USAGE;
	}
	snprintf(seq_file, sizeof seq_file, "%s%s", p->seq_file ? p->seq_file : p->key,
		 p->seq_file ? "" : ".seq");
	seq = bus_seq_next(seq_file);
	if (seq < 0)
		return CTL_FAILED;
	c = bus_client_open(p->bus, server.public_z85, &client);
	if (!c)
		return CTL_UNREACHABLE;
	json_object_set_new(p->alert, "type", json_string("publish"));
	reply = bus_client_call(c, p->alert, seq, 2000, p->timeout_s * 1000);
	bus_client_close(c);
	if (!reply) {
		fprintf(stderr, "tocsinctl publish: no answer from the broker at %s within %d s "
				"(is it running with the bus on, and the adapter key registered?)\n",
			p->bus, p->timeout_s);
		return CTL_UNREACHABLE;
	}
	rc = report_reply(reply, p->o.json);
	json_decref(reply);
	return rc;
}

static const char *env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);
	return v && *v ? v : fallback;
}

int ctl_alerts_publish(int argc, char **argv)
{
	struct publish p = { .alert = json_object(), .site_refs = json_array(), .timeout_s = 30 };
	int want_help, rc;

	argc = ctl_take_common("publish", &p.o, argc, argv, &want_help);
	if (argc < 0) {
		rc = CTL_USAGE;
	} else if (want_help) {
		fputs(PUBLISH_HELP, stdout);
		rc = CTL_OK;
	} else {
		p.bus = env_or("TOCSIN_BUS", "tcp://127.0.0.1:7201");
		p.server_key = env_or("TOCSIN_BUS_SERVER_KEY", "var/secrets/bus_server.key");
		p.key = env_or("TOCSIN_BUS_KEY", "var/secrets/tocsinctl-bus.key");
		rc = parse_publish(&p, argc, argv);
		if (rc == CTL_OK)
			rc = load_base(&p);
		if (rc == CTL_OK)
			rc = resolve_sites(&p);
		if (rc == CTL_OK)
			rc = submit(&p);
	}
	json_decref(p.alert);
	json_decref(p.site_refs);
	return rc;
}
