/* ctl_alert_keys.c: the alert signing key (base/sign_key.h) from the
 * command line: made by `keys init`, replaced by `keys rotate-alert`,
 * listed by `keys show`, and `alert verify ID|FILE` checks an alert kept
 * in the database (alert_signatures, 048) or saved as a frame.
 *
 * FILE is the 32-byte Ed25519 seed, FILE.pub the JSON list of every public
 * key used and when (sign_key.h). A rotation writes FILE.pub first (the
 * old key closed with valid_until, the new one added), then FILE: a reader
 * in between finds the new key listed before anything is signed with it.
 * Each file is written aside, flushed and renamed into place. The broker
 * reads both at start: a rotation takes effect at its next restart, and
 * alerts signed before it stay verifiable with the old key, which stays
 * listed. Only verify ID needs the database. */
#include "clock.h"
#include "ctl.h"
#include "ctl_commands.h"
#include "canon_json.h"
#include "sign_check.h"
#include "sign_key.h"

#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_TOKEN_KEY "./var/secrets/token.key"

/* FILE: --alert-key, TOCSIN_ALERT_KEY, or alert_sign.key beside the token
 * key (token_key, else TOCSIN_TOKEN_KEY, else its default), as tocsind
 * decides it. */
void ctl_alert_keys_path(const char *given, const char *token_key, char out[4200])
{
	const char *env = getenv("TOCSIN_ALERT_KEY"), *tok = getenv("TOCSIN_TOKEN_KEY"), *slash;

	if (given || (env && *env)) {
		snprintf(out, 4200, "%s", given ? given : env);
		return;
	}
	tok = token_key ? token_key : tok && *tok ? tok : DEFAULT_TOKEN_KEY;
	slash = strrchr(tok, '/');
	snprintf(out, 4200, "%.*salert_sign.key", slash ? (int)(slash - tok + 1) : 0, tok);
}

/* FILE.pub as it is, or a list of the key in FILE alone, or an empty list
 * when there is no FILE either (*has_key 0). NULL after a message. */
static json_t *read_list(const char *path, int *has_key)
{
	unsigned char seed[32], pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	char pub[4300], id[SIGN_KEY_ID_LEN + 1], b64[64];
	json_error_t err;
	json_t *list;
	FILE *f;

	snprintf(pub, sizeof pub, "%s.pub", path);
	*has_key = 0;
	list = json_load_file(pub, JSON_REJECT_DUPLICATES, &err);
	if (!list && access(pub, F_OK) == 0) {
		fprintf(stderr, "tocsinctl keys: %s: %s\n", pub, err.text);
		return NULL;
	}
	if (!list)
		list = json_pack("{s:s, s:[]}", "alg", "Ed25519", "keys");
	if (!(f = fopen(path, "rb")))
		return list;
	*has_key = fread(seed, 1, sizeof seed, f) == sizeof seed;
	fclose(f);
	if (!*has_key)
		return list;
	crypto_sign_seed_keypair(pk, sk, seed);
	sodium_memzero(seed, sizeof seed);
	sodium_memzero(sk, sizeof sk);
	sign_key_id(pk, id);
	for (size_t i = 0; i < json_array_size(json_object_get(list, "keys")); i++)
		if (json_equal(json_object_get(json_array_get(json_object_get(list, "keys"), i),
					       "key_id"), json_string(id)))
			return list;
	sodium_bin2base64(b64, sizeof b64, pk, sizeof pk, sodium_base64_VARIANT_ORIGINAL);
	json_array_append_new(json_object_get(list, "keys"),
			      json_pack("{s:s, s:s, s:n, s:n}", "key_id", id, "public_key", b64,
					"valid_from", "valid_until"));
	return list;
}

/* A new key in FILE, the old one (if any) closed in FILE.pub. like: the
 * owner, group and mode of the secret (the .pub gets them, readable by
 * all). The new key's id in key_id. */
int ctl_alert_keys_make(const char *path, const struct stat *like, char key_id[SIGN_KEY_ID_LEN + 1])
{
	unsigned char seed[32], pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	char pub[4300], b64[64], now[CLOCK_ISO_LEN], *text = NULL;
	struct stat pub_like = *like;
	json_t *list, *keys, *e;
	int has_key, rc = -1;
	size_t i;

	if (!(list = read_list(path, &has_key)))
		return -1;
	clock_format_iso(clock_now_us(), now);
	keys = json_object_get(list, "keys");
	json_array_foreach(keys, i, e)
		if (json_is_null(json_object_get(e, "valid_until")) || !json_object_get(e, "valid_until"))
			json_object_set_new(e, "valid_until", json_string(now));
	randombytes_buf(seed, sizeof seed);
	crypto_sign_seed_keypair(pk, sk, seed);
	sodium_memzero(sk, sizeof sk);
	sign_key_id(pk, key_id);
	sodium_bin2base64(b64, sizeof b64, pk, sizeof pk, sodium_base64_VARIANT_ORIGINAL);
	json_array_append_new(keys, json_pack("{s:s, s:s, s:s, s:n}", "key_id", key_id,
					      "public_key", b64, "valid_from", now, "valid_until"));
	snprintf(pub, sizeof pub, "%s.pub", path);
	pub_like.st_mode = 0644;
	text = json_dumps(list, JSON_INDENT(2));
	if (text && ctl_keys_write(pub, text, strlen(text), &pub_like, 1) == 0 &&
	    ctl_keys_write(path, seed, sizeof seed, like, 0) == 0 && ctl_keys_sync_dir(path) == 0)
		rc = 0;
	sodium_memzero(seed, sizeof seed);
	free(text);
	json_decref(list);
	return rc;
}

/* The public keys of FILE as a table or JSON (keys show). */
int ctl_alert_keys_print(const char *path, int json)
{
	int has_key;
	json_t *list = read_list(path, &has_key), *e;
	size_t i;

	if (!list)
		return CTL_FAILED;
	if (json) {
		char *text = json_dumps(list, JSON_COMPACT);
		if (text)
			puts(text);
		free(text);
	} else {
		printf("alert keys    %s%s\n", path, has_key ? "" : "  (no signing key: "
			"tocsinctl keys rotate-alert makes one)");
		json_array_foreach(json_object_get(list, "keys"), i, e)
			printf("  %s  %s  from %s  until %s\n",
			       json_string_value(json_object_get(e, "key_id")),
			       json_string_value(json_object_get(e, "public_key")),
			       json_string_value(json_object_get(e, "valid_from")) ?: "-",
			       json_string_value(json_object_get(e, "valid_until")) ?: "(signing)");
	}
	json_decref(list);
	return CTL_OK;
}

static const char rotate_help[] =
	"usage: tocsinctl keys rotate-alert [--alert-key FILE] [--json]\n"
	"Puts a new Ed25519 key that signs alerts in FILE and lists it in FILE.pub,\n"
	"where the key it replaces stays with its valid_until, so that alerts signed\n"
	"with it stay verifiable (GET /api/keys/alerts serves FILE.pub). Makes the\n"
	"first key when FILE does not exist. tocsind reads FILE at start: restart it.\n"
	"FILE: --alert-key, else TOCSIN_ALERT_KEY, else alert_sign.key beside the\n"
	"token key (TOCSIN_TOKEN_KEY, else " DEFAULT_TOKEN_KEY ").\n"
	"Exit: 0 made, 1 cannot write, 2 usage.\n";

/* keys rotate-alert */
int ctl_alert_keys_rotate(int argc, char **argv)
{
	struct ctl_arg args[] = { { "--alert-key", 0, 0, NULL }, { NULL, 0, 0, NULL } };
	struct ctl_opts o;
	struct stat like = { 0 };
	char path[4200], id[SIGN_KEY_ID_LEN + 1];
	int help;

	argc = ctl_take_common("keys rotate-alert", &o, argc, argv, &help);
	if (argc >= 0 && help) {
		fputs(rotate_help, stdout);
		return CTL_OK;
	}
	if (argc < 0 || ctl_args_parse("keys rotate-alert", argc, argv, args, NULL, 0, 0) < 0) {
		fputs(rotate_help, stderr);
		return CTL_USAGE;
	}
	ctl_alert_keys_path(ctl_args_get(args, "--alert-key"), NULL, path);
	if (stat(path, &like) != 0) {
		like.st_uid = geteuid();
		like.st_gid = getegid();
		like.st_mode = 0640;
	}
	if (ctl_alert_keys_make(path, &like, id) != 0) {
		fprintf(stderr, "tocsinctl keys rotate-alert: cannot write %s: %s\n", path,
			strerror(errno));
		return CTL_FAILED;
	}
	if (o.json)
		printf("[{\"alert_key\":\"%s\",\"key_id\":\"%s\"}]\n", path, id);
	else
		printf("alert key  %s  %s\nrestart tocsind to sign with it\n", id, path);
	return CTL_OK;
}

static const char verify_help[] =
	"usage: tocsinctl alert verify ID|FILE [--keys KEYS] [--actor NAME] [--json]\n"
	"Checks the Ed25519 signature of an alert.\n"
	"ID: an alert in the database (--database URL, default DATABASE_URL): the\n"
	"signature kept with it when it was published, over the text it signed,\n"
	"and that text against the alert as the database holds it now (audited\n"
	"as a consultation, view_alert, naming --actor).\n"
	"FILE (\"-\": standard input): an alert saved as the broker sent it: an\n"
	"alert frame ({\"type\":\"alert\",\"alert\":…,\"signature\":…}), an in_force\n"
	"frame (the same members), or a bus event carrying alert and signature.\n"
	"KEYS: the public keys, as GET /api/keys/alerts serves them; default\n"
	"FILE.pub of the alert key (keys rotate-alert --help says where).\n"
	"Prints \"verified by key K\" or \"NOT VERIFIED: why\".\n"
	"Exit: 0 verified, 1 not verified, 2 usage, 3 database unreachable,\n"
	"4 no such alert.\n";

/* What one check found, to print. */
struct verdict {
	long long alert_id;
	enum sign_check c;
	const char *key_id; /* the signature's, if any */
	const char *sha256; /* of the signed text (ID), or NULL */
	char why[200];      /* "" unless not verified */
};

static void explain(struct verdict *v)
{
	switch (v->c) {
	case SIGN_CHECK_VALID:
		break;
	case SIGN_CHECK_UNSIGNED:
		snprintf(v->why, sizeof v->why, "no signature (unsigned)");
		break;
	case SIGN_CHECK_UNKNOWN_KEY:
		snprintf(v->why, sizeof v->why, "signed by key %s, which the keys do not list "
			 "(unknown_key)", v->key_id ? v->key_id : "?");
		break;
	case SIGN_CHECK_BAD:
		snprintf(v->why, sizeof v->why, "the alert does not match its signature (bad)");
		break;
	}
}

static int report(const struct verdict *v, int json)
{
	if (json) {
		json_t *o = json_pack("{s:I, s:s, s:s*, s:s*, s:s*}", "alert_id",
				      (json_int_t)v->alert_id, "result", sign_check_name(v->c),
				      "key_id", v->key_id, "sha256", v->sha256, "why",
				      v->why[0] ? v->why : NULL);
		char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

		if (text)
			printf("[%s]\n", text);
		free(text);
		json_decref(o);
	} else if (v->c == SIGN_CHECK_VALID && !v->why[0]) {
		printf("alert %lld: verified by key %s\n", v->alert_id, v->key_id);
		if (v->sha256)
			printf("  sha256 of the signed form: %s\n", v->sha256);
	} else {
		printf("alert %lld: NOT VERIFIED: %s\n", v->alert_id, v->why);
	}
	return v->c == SIGN_CHECK_VALID && !v->why[0] ? CTL_OK : CTL_FAILED;
}

/* A member of what was signed that the database must still hold as it
 * was: all but those an alert's later life changes (its seq once the
 * journal is written back, cancelled, and the names of its sender and of
 * a relaying organisation, which their owners may rename). */
static int may_change(const char *member)
{
	static const char *const later[] = { "seq", "cancelled", NULL };

	for (size_t i = 0; later[i]; i++)
		if (!strcmp(member, later[i]))
			return 1;
	return 0;
}

/* 1 when a and b have the same canonical text (500 and 500.0 alike). */
static int same(const json_t *a, const json_t *b)
{
	size_t la = 0, lb = 0;
	char *ta = a ? canon_json_dump(a, &la) : NULL, *tb = b ? canon_json_dump(b, &lb) : NULL;
	int eq = ta && tb && la == lb && !memcmp(ta, tb, la);

	free(ta);
	free(tb);
	return eq || (!a && !b);
}

/* The first member of signed (an object) that now differs, or NULL. For
 * sender and relay, their ids and the relay's note only. */
static const char *changed_member(json_t *signed_alert, const json_t *now)
{
	static const char *const ids[] = { "user_id", "org_id", "of", "note", "by_org_id", NULL };
	const char *k;
	json_t *v;

	json_object_foreach(signed_alert, k, v) {
		if (may_change(k))
			continue;
		if (!strcmp(k, "sender") || !strcmp(k, "relay")) {
			const json_t *w = json_object_get(now, k);
			if (json_is_object(v) != json_is_object(w))
				return k;
			for (size_t i = 0; json_is_object(v) && ids[i]; i++)
				if (!same(json_object_get(v, ids[i]), json_object_get(w, ids[i])))
					return k;
			continue;
		}
		if (!same(v, json_object_get(now, k)))
			return k;
	}
	return NULL;
}

/* alert verify ID: the kept signature over the kept text, then that text
 * against the alert as stored now. */
static int verify_id(const char *id, const struct ctl_opts *o, const char *actor,
		     const json_t *keys)
{
	struct verdict v = { .alert_id = strtoll(id, NULL, 10) };
	const char *p[] = { actor, id };
	json_t *sig = NULL, *signed_alert = NULL, *now = NULL;
	const char *text, *member;
	PGresult *res = NULL;
	int rc;
	PGconn *conn = ctl_connect("alert verify", o, &rc);

	if (!conn)
		return rc;
	res = ctl_exec("alert verify", conn,
		       "SELECT * FROM tocsin_admin_alert_signature($1, $2::bigint)", 2, p, &rc);
	if (!res)
		goto out;
	if (PQgetisnull(res, 0, 1)) {
		v.c = SIGN_CHECK_UNSIGNED;
		snprintf(v.why, sizeof v.why, "no signature is kept with it (published while the "
			 "database was unreachable, or before signatures were kept)");
		rc = report(&v, o->json);
		goto out;
	}
	text = PQgetvalue(res, 0, 2);
	v.key_id = PQgetvalue(res, 0, 0);
	v.sha256 = PQgetvalue(res, 0, 3);
	sig = json_pack("{s:s, s:s, s:s}", "alg", "Ed25519", "key_id", v.key_id, "sig",
			PQgetvalue(res, 0, 1));
	v.c = sign_check_text(keys, text, strlen(text), sig);
	explain(&v);
	if (v.c == SIGN_CHECK_BAD)
		snprintf(v.why, sizeof v.why, "the text kept with it does not match its signature "
			 "(bad): the stored signature or signed form was altered");
	signed_alert = json_loads(text, 0, NULL);
	now = json_loads(PQgetvalue(res, 0, 5), 0, NULL);
	if (v.c == SIGN_CHECK_VALID && (!signed_alert || !now))
		snprintf(v.why, sizeof v.why, "the signed form or the alert cannot be read as JSON");
	else if (v.c == SIGN_CHECK_VALID && (member = changed_member(signed_alert, now)))
		snprintf(v.why, sizeof v.why, "its %s in the database differs from what was signed "
			 "(altered after it was sent)", member);
	rc = report(&v, o->json);
out:
	PQclear(res);
	PQfinish(conn);
	json_decref(sig);
	json_decref(signed_alert);
	json_decref(now);
	return rc;
}

/* alert verify FILE */
static int verify_file(const char *path, const struct ctl_opts *o, const json_t *keys)
{
	struct verdict v = { 0 };
	json_error_t err;
	json_t *frame, *alert;
	size_t len;
	char *text = ctl_read_file("alert verify", path, 1 << 22, &len);
	int rc;

	if (!text)
		return CTL_FAILED;
	frame = json_loadb(text, len, 0, &err);
	free(text);
	if (!frame) {
		fprintf(stderr, "tocsinctl alert verify: %s: %s\n", path, err.text);
		return CTL_FAILED;
	}
	alert = json_object_get(frame, "alert");
	v.alert_id = json_integer_value(json_object_get(alert, "id"));
	v.key_id = json_string_value(json_object_get(json_object_get(frame, "signature"), "key_id"));
	v.c = sign_check_json(keys, alert, json_object_get(frame, "signature"));
	explain(&v);
	rc = report(&v, o->json);
	json_decref(frame);
	return rc;
}

/* 1 when word names an alert by id rather than a file. */
static int is_alert_id(const char *word)
{
	size_t n = strspn(word, "0123456789");

	return n > 0 && n <= 16 && !word[n] && access(word, F_OK) != 0;
}

/* alert verify ID|FILE */
int ctl_alert_keys_verify(int argc, char **argv)
{
	struct ctl_arg args[] = { { "--keys", 0, 0, NULL }, { "--actor", 0, 0, NULL },
				  { NULL, 0, 0, NULL } };
	const char *pos[1];
	struct ctl_opts o;
	char path[4200], actor[160];
	json_t *keys = NULL;
	json_error_t err;
	int help, has_key, rc;

	argc = ctl_take_common("alert verify", &o, argc, argv, &help);
	if (argc >= 0 && help) {
		fputs(verify_help, stdout);
		return CTL_OK;
	}
	if (argc < 0 || ctl_args_parse("alert verify", argc, argv, args, pos, 1, 1) < 1) {
		fputs(verify_help, stderr);
		return CTL_USAGE;
	}
	if (sodium_init() < 0)
		return CTL_FAILED;
	if (ctl_args_get(args, "--keys")) {
		keys = json_load_file(ctl_args_get(args, "--keys"), 0, &err);
		if (!keys)
			fprintf(stderr, "tocsinctl alert verify: %s: %s\n",
				ctl_args_get(args, "--keys"), err.text);
	} else {
		ctl_alert_keys_path(NULL, NULL, path);
		keys = read_list(path, &has_key);
	}
	if (!keys)
		return CTL_FAILED;
	ctl_args_actor(ctl_args_get(args, "--actor"), actor, sizeof actor);
	rc = is_alert_id(pos[0]) ? verify_id(pos[0], &o, actor, keys)
				 : verify_file(pos[0], &o, keys);
	json_decref(keys);
	return rc;
}
