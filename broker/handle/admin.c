/* admin.c: administration in the browser (issue 17, item 10): the `admin`
 * frame of a signed-in administrator (docs/protocol.md "Administration").
 *
 * Each op is one of tocsinctl's changes (organisations, sites, users,
 * console devices, disabling and revoking) or the listing the admin page
 * shows; they go through tocsin_admin_web() (sql/functions/admin.sql),
 * which checks again that the acting user is an enabled admin, runs the
 * same tocsin_admin_* function tocsinctl runs and audits with that user
 * as the actor. Here: the role (only admin; everyone else gets
 * forbidden), the op, and the type and length of each member of it, from
 * the table OPS; PostgreSQL checks the values and answers typed errors
 * naming the field (a name taken is "conflict").
 *
 * A new account or password (user_add, user_password, device_add) gets a
 * one-time password made and hashed by the password worker (pwhash.h,
 * never on the loop): the job waits in `jobs` until admin_password_ready
 * (the worker's hook) runs the change with the hash; the reply carries
 * the password once, and it is never stored in clear nor logged.
 *
 * After a change the broker reads its directory again (stream_refresh: a
 * new site is a publish's target at once), and a site's board entry goes
 * to the control rooms as a status_update. Loop thread only. */
#include "broker.h"
#include "handle.h"
#include "db.h"
#include "frame_check.h"
#include "log.h"
#include "pwhash.h"
#include "stream.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A member of an op, or of its fields object. */
enum arg_kind { ARG_TEXT, ARG_REF, ARG_BOOL, ARG_NUMBER, ARG_SITE_FIELDS, ARG_USER_FIELDS };

struct arg_spec {
	const char *name;
	enum arg_kind kind;
	size_t max;           /* characters, for ARG_TEXT and ARG_REF */
	int required;
};

#define END_ARGS { NULL, ARG_TEXT, 0, 0 }

/* A site's fields (site_add, site_update) and a user's (user_update), as
 * tocsin_admin_site_fields and tocsin_admin_user_update read them. */
static const struct arg_spec site_fields[] = {
	{ "slug", ARG_TEXT, 40, 0 }, { "name", ARG_TEXT, 200, 0 }, { "address", ARG_TEXT, 300, 0 },
	{ "lat", ARG_NUMBER, 0, 0 }, { "lon", ARG_NUMBER, 0, 0 }, { "sector", ARG_TEXT, 40, 0 },
	{ "guard", ARG_REF, 200, 0 }, { "cleared", ARG_BOOL, 0, 0 }, END_ARGS,
};
static const struct arg_spec user_fields[] = {
	{ "role", ARG_TEXT, 40, 0 }, { "org", ARG_REF, 200, 0 }, { "site", ARG_REF, 200, 0 },
	{ "cleared", ARG_BOOL, 0, 0 }, { "display_name", ARG_TEXT, 200, 0 }, END_ARGS,
};

static const struct arg_spec args_none[] = { END_ARGS };
static const struct arg_spec args_org_add[] = {
	{ "name", ARG_TEXT, 200, 1 }, { "kind", ARG_TEXT, 40, 1 }, { "parent", ARG_REF, 200, 0 },
	END_ARGS,
};
static const struct arg_spec args_org[] = { { "org", ARG_REF, 200, 1 }, END_ARGS };
static const struct arg_spec args_site_add[] = { { "fields", ARG_SITE_FIELDS, 0, 1 }, END_ARGS };
static const struct arg_spec args_site_update[] = {
	{ "site", ARG_REF, 200, 1 }, { "fields", ARG_SITE_FIELDS, 0, 1 }, END_ARGS,
};
static const struct arg_spec args_site[] = { { "site", ARG_REF, 200, 1 }, END_ARGS };
static const struct arg_spec args_user_add[] = {
	{ "username", ARG_TEXT, USERNAME_MAX, 1 }, { "display_name", ARG_TEXT, 200, 0 },
	{ "role", ARG_TEXT, 40, 1 }, { "org", ARG_REF, 200, 0 }, { "site", ARG_REF, 200, 0 },
	{ "cleared", ARG_BOOL, 0, 0 }, END_ARGS,
};
static const struct arg_spec args_user_update[] = {
	{ "username", ARG_TEXT, USERNAME_MAX, 1 }, { "fields", ARG_USER_FIELDS, 0, 1 }, END_ARGS,
};
static const struct arg_spec args_user[] = { { "username", ARG_TEXT, USERNAME_MAX, 1 }, END_ARGS };
static const struct arg_spec args_device_add[] = {
	{ "site", ARG_REF, 200, 1 }, { "name", ARG_TEXT, 21, 0 }, END_ARGS,
};

/* The ops, in the order of admin_ops (the protocol's codes, checked
 * against web-client/js/vocab.js by tests/e2e/77-web-vocab). */
static const char *const admin_ops[] = {
	"list", "org_add", "org_disable", "site_add", "site_update", "site_disable", "user_add",
	"user_update", "user_disable", "user_enable", "user_password", "device_add",
	"device_revoke", NULL,
};
static const struct {
	const struct arg_spec *args;
	int password;             /* a one-time password is made first */
} ops[] = {
	{ args_none, 0 }, { args_org_add, 0 }, { args_org, 0 }, { args_site_add, 0 },
	{ args_site_update, 0 }, { args_site, 0 }, { args_user_add, 1 }, { args_user_update, 0 },
	{ args_user, 0 }, { args_user, 0 }, { args_user, 1 }, { args_device_add, 1 },
	{ args_user, 0 },
};
_Static_assert(sizeof ops / sizeof ops[0] == sizeof admin_ops / sizeof admin_ops[0] - 1,
	       "one entry of ops per admin op");

/* Changes waiting for their password (bounded by the worker's queue). */
struct admin_job {
	struct admin_job *next;
	uint64_t id;
	uint64_t session_id;
	char ref[FRAME_REF_MAX + 1];
	size_t op;
	json_t *args;             /* owned */
};
static struct {
	struct admin_job *head;
	uint64_t next_id;
} jobs;

/* A query on its way: who asked, and the password to show once. */
struct admin_ctx {
	uint64_t session_id;
	char ref[FRAME_REF_MAX + 1];
	size_t op;
	int has_password;
	char password[PWHASH_PASSWORD_LEN + 1];
};

static void ctx_free(struct admin_ctx *c)
{
	sodium_memzero(c, sizeof *c);
	free(c);
}

/* One member of obj by its spec, copied into out under the same name.
 * path names the member in errors ("fields.lat"). */
static int check_arg(json_t *obj, const struct arg_spec *a, const char *path, json_t *out,
		     struct frame_error *err);

/* A fields object: only the members of spec, each of its kind, and at
 * least one. */
static int check_fields(json_t *v, const struct arg_spec *spec, const char *name, json_t *out,
			struct frame_error *err)
{
	json_t *fields = json_object(), *x;
	const char *key;
	char path[FRAME_FIELD_MAX];
	size_t i;

	if (!json_is_object(v) || json_object_size(v) == 0) {
		frame_error_set(err, "bad_field", name, "%s must be an object of what to set", name);
		goto bad;
	}
	json_object_foreach(v, key, x) {
		for (i = 0; spec[i].name && strcmp(spec[i].name, key); i++)
			;
		snprintf(path, sizeof path, "%s.%.40s", name, key);
		if (!spec[i].name) {
			frame_error_set(err, "bad_field", path, "%s is not a field that can be set", path);
			goto bad;
		}
		if (check_arg(v, &spec[i], path, fields, err))
			goto bad;
	}
	json_object_set_new(out, name, fields);
	return 0;
bad:
	json_decref(fields);
	return -1;
}

static int check_arg(json_t *obj, const struct arg_spec *a, const char *path, json_t *out,
		     struct frame_error *err)
{
	json_t *v = json_object_get(obj, a->name);
	const char *text;

	if (!v || json_is_null(v)) {
		if (a->required)
			frame_error_set(err, "missing_field", path, "%s is required", path);
		return a->required ? -1 : 0;
	}
	switch (a->kind) {
	case ARG_REF: /* an id, or a name or slug */
		if (json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) <= INT32_MAX) {
			json_object_set_new(out, a->name, json_sprintf("%lld", (long long)json_integer_value(v)));
			return 0;
		}
		/* fall through */
	case ARG_TEXT:
		if (frame_check_text(obj, a->name, 1, a->max, 1, &text, err)) {
			snprintf(err->field, sizeof err->field, "%s", path);
			return -1;
		}
		json_object_set_new(out, a->name, json_string(text));
		return 0;
	case ARG_BOOL:
		if (!json_is_boolean(v))
			break;
		json_object_set(out, a->name, v);
		return 0;
	case ARG_NUMBER:
		if (!json_is_number(v))
			break;
		json_object_set(out, a->name, v);
		return 0;
	case ARG_SITE_FIELDS:
		return check_fields(v, site_fields, path, out, err);
	case ARG_USER_FIELDS:
		return check_fields(v, user_fields, path, out, err);
	}
	frame_error_set(err, "bad_field", path, "%s has the wrong type or length", path);
	return -1;
}

/* The op's members, checked, as tocsin_admin_web's p_args; NULL with err
 * filled. */
static json_t *op_args(json_t *root, size_t op, struct frame_error *err)
{
	json_t *args = json_object();

	if (!args) {
		frame_error_set(err, "internal", NULL, "out of memory");
		return NULL;
	}
	for (const struct arg_spec *a = ops[op].args; a->name; a++) {
		if (check_arg(root, a, a->name, args, err)) {
			json_decref(args);
			return NULL;
		}
	}
	return args;
}

/* A database refusal: a name taken (TS409) is "conflict", the rest as
 * for any request (TS404: unknown_target, TS422: bad_field, ...). */
static void reply_db_error(struct session *s, const char *ref, const struct db_error *err)
{
	if (!strcmp(err->sqlstate, "TS409"))
		session_reply_error(s, ref, "conflict", err->column[0] ? err->column : NULL,
				    err->message);
	else
		requester_reply_db_error(s, ref, err, "unknown_target");
}

/* The answer: the listing, or the changed rows (and the password, once).
 * A change also refreshes the broker's directory and tells the boards
 * about a site. */
static void admin_done(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct admin_ctx *c = arg;
	struct session *s = session_find(b, c->session_id);
	json_t *obj = err ? NULL : json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	json_t *board = json_object_get(obj, "board");

	if (err) {
		if (s)
			reply_db_error(s, c->ref, err);
		goto out;
	}
	if (c->op != 0) {
		stream_refresh(b);
		if (json_is_object(board))
			status_board_changed(b, board);
		json_object_del(obj, "board");
	}
	if (!s)
		goto out;
	if (!json_is_object(obj)) {
		session_reply_error(s, c->ref, "internal", NULL, "the answer is unreadable");
		goto out;
	}
	json_object_set_new(obj, "type", json_string("admin"));
	json_object_set_new(obj, "ref", json_string(c->ref));
	json_object_set_new(obj, "op", json_string(admin_ops[c->op]));
	if (c->has_password)
		json_object_set_new(obj, "password", json_string(c->password));
	session_send_json(s, obj);
	obj = NULL;
out:
	json_decref(obj);
	ctx_free(c);
}

/* Runs op with args (p_args) for session s; password, when given, goes
 * back in the reply. */
static void run_op(struct broker *b, struct session *s, const char *ref, size_t op, json_t *args,
		   const char *password)
{
	struct admin_ctx *c = calloc(1, sizeof *c);
	char user[24], *text = json_dumps(args, JSON_COMPACT);
	const char *params[4] = { user, admin_ops[op], text, s->remote };

	if (!c || !text) {
		session_reply_error(s, ref, "internal", NULL, "out of memory");
		goto out;
	}
	c->session_id = s->id;
	snprintf(c->ref, sizeof c->ref, "%s", ref);
	c->op = op;
	if (password) {
		c->has_password = 1;
		snprintf(c->password, sizeof c->password, "%s", password);
	}
	snprintf(user, sizeof user, "%lld", (long long)s->who.user_id);
	if (!db_query(b->db, "SELECT tocsin_admin_web($1, $2, $3::jsonb, $4)", 4, params, admin_done,
		      c))
		c = NULL; /* admin_done has it */
	else
		session_reply_error(s, ref, "unavailable", NULL,
				    "the database is not reachable; nothing was changed");
out:
	if (text)
		sodium_memzero(text, strlen(text)); /* it holds the hash */
	free(text);
	if (c)
		ctx_free(c);
}

/* Waits for a one-time password before the change runs. */
static void wait_for_password(struct broker *b, struct session *s, struct client_frame *f,
			      size_t op, json_t *args)
{
	struct admin_job *j = calloc(1, sizeof *j);

	if (!j) {
		session_reply_error(s, f->ref, "internal", NULL, "out of memory");
		json_decref(args);
		return;
	}
	j->id = ++jobs.next_id;
	j->session_id = s->id;
	memcpy(j->ref, f->ref, sizeof j->ref);
	j->op = op;
	j->args = args;
	if (!b->pwhash || pwhash_submit(b->pwhash, j->id)) {
		session_reply_error(s, f->ref, "unavailable", NULL,
				    "too many passwords are being made; retry in a moment");
		json_decref(args);
		free(j);
		return;
	}
	j->next = jobs.head;
	jobs.head = j;
}

void admin_password_ready(struct broker *b, uint64_t job, const char *password, const char *hash)
{
	struct admin_job **p = &jobs.head, *j;
	struct session *s;

	while (*p && (*p)->id != job)
		p = &(*p)->next;
	if (!(j = *p))
		return;
	*p = j->next;
	s = session_find(b, j->session_id);
	if (s && !hash)
		session_reply_error(s, j->ref, "internal", NULL,
				    "the password could not be made; nothing was changed");
	else if (s) {
		json_object_set_new(j->args, "hash", json_string(hash));
		run_op(b, s, j->ref, j->op, j->args, password);
	}
	json_decref(j->args);
	free(j);
}

void admin_free(void)
{
	struct admin_job *j;

	while ((j = jobs.head)) {
		jobs.head = j->next;
		json_decref(j->args);
		free(j);
	}
}

void admin_handle(struct session *s, struct client_frame *f)
{
	struct frame_error err = { 0 };
	const char *name;
	json_t *args;
	size_t op;

	if (s->who.role != ROLE_ADMIN) {
		session_reply_error(s, f->ref, "forbidden", NULL,
				    "only an administrator administers Tocsin");
		return;
	}
	if (frame_check_enum(f->root, "op", admin_ops, NULL, &name, &err))
		goto bad;
	for (op = 0; strcmp(admin_ops[op], name); op++)
		;
	if (!(args = op_args(f->root, op, &err)))
		goto bad;
	if (ops[op].password) {
		wait_for_password(session_broker(s), s, f, op, args);
		return;
	}
	run_op(session_broker(s), s, f->ref, op, args, NULL);
	json_decref(args);
	return;
bad:
	session_reply_check_error(s, f->ref, &err);
}
