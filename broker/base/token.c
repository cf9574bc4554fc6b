/* token.c: session tokens (see token.h). */
#include "token.h"

#include <jansson.h>
#include <sodium.h>
#include <string.h>

static const char *const role_names[] = {
	[ROLE_NONE] = "none",
	[ROLE_CONTROLLER] = "controller",
	[ROLE_ANALYST] = "analyst",
	[ROLE_COMPANY_OPERATOR] = "company_operator",
	[ROLE_SITE_CONSOLE] = "site_console",
	[ROLE_ADMIN] = "admin",
	[ROLE_INSPECTOR] = "inspector",
};

const char *token_role_name(enum role role)
{
	if ((unsigned)role >= sizeof role_names / sizeof role_names[0])
		return "none";
	return role_names[role];
}

enum role token_role_from_name(const char *name)
{
	for (unsigned i = ROLE_CONTROLLER; i < sizeof role_names / sizeof role_names[0]; i++)
		if (!strcmp(name, role_names[i]))
			return (enum role)i;
	return ROLE_NONE;
}

const char *token_status_code(enum token_status status)
{
	switch (status) {
	case TOKEN_OK: return "ok";
	case TOKEN_MALFORMED: return "auth_invalid";
	case TOKEN_BAD_SIGNATURE: return "auth_invalid";
	case TOKEN_EXPIRED: return "auth_expired";
	}
	return "auth_invalid";
}

#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING

int token_sign(const unsigned char key[TOKEN_KEY_BYTES], const struct token_claims *c,
	       char *out, size_t out_size)
{
	unsigned char tag[crypto_auth_BYTES];
	json_t *payload;
	char *json;
	size_t json_len, b64_len, head_len, tag_b64_len;
	int ret = -1;

	payload = json_pack("{s:I, s:s, s:s, s:I, s:o, s:I, s:I, s:b}",
			    "sub", (json_int_t)c->user_id, "usr", c->username,
			    "role", token_role_name(c->role), "org", (json_int_t)c->org_id,
			    "site", c->site_id ? json_integer(c->site_id) : json_null(),
			    "iat", (json_int_t)c->issued_at, "exp", (json_int_t)c->expires_at,
			    "clr", c->cleared);
	if (!payload)
		return -1;
	json = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(payload);
	if (!json)
		return -1;
	json_len = strlen(json);
	b64_len = sodium_base64_ENCODED_LEN(json_len, B64);
	tag_b64_len = sodium_base64_ENCODED_LEN(sizeof tag, B64);
	/* "v1." + payload + "." + tag + NUL (encoded lengths include a NUL) */
	if (3 + b64_len + tag_b64_len > out_size)
		goto out;
	memcpy(out, "v1.", 3);
	sodium_bin2base64(out + 3, b64_len, (const unsigned char *)json, json_len, B64);
	head_len = strlen(out);
	crypto_auth(tag, (const unsigned char *)out, head_len, key);
	out[head_len] = '.';
	sodium_bin2base64(out + head_len + 1, tag_b64_len, tag, sizeof tag, B64);
	ret = (int)strlen(out);
out:
	free(json);
	return ret;
}

/* Reads an integer claim; null is accepted only where allow_null says. */
static int claim_int(json_t *obj, const char *name, int allow_null, int64_t *out)
{
	json_t *v = json_object_get(obj, name); /* borrowed */
	if (allow_null && json_is_null(v)) {
		*out = 0;
		return 0;
	}
	if (!json_is_integer(v))
		return -1;
	*out = json_integer_value(v);
	return 0;
}

static enum token_status parse_claims(const unsigned char *json, size_t len,
				      struct token_claims *c)
{
	json_t *root, *v;
	enum token_status st = TOKEN_MALFORMED;

	root = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(root))
		goto out;
	memset(c, 0, sizeof *c);
	if (claim_int(root, "sub", 0, &c->user_id) || claim_int(root, "org", 0, &c->org_id) ||
	    claim_int(root, "site", 1, &c->site_id) || claim_int(root, "iat", 0, &c->issued_at) ||
	    claim_int(root, "exp", 0, &c->expires_at))
		goto out;
	v = json_object_get(root, "usr");
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > USERNAME_MAX)
		goto out;
	memcpy(c->username, json_string_value(v), json_string_length(v) + 1);
	v = json_object_get(root, "role");
	if (!json_is_string(v) || (c->role = token_role_from_name(json_string_value(v))) == ROLE_NONE)
		goto out;
	if (c->user_id <= 0 || c->org_id <= 0 || c->site_id < 0)
		goto out;
	v = json_object_get(root, "clr"); /* optional: absent means not cleared */
	if (v && !json_is_boolean(v))
		goto out;
	c->cleared = json_is_true(v);
	st = TOKEN_OK;
out:
	json_decref(root);
	return st;
}

enum token_status token_verify(const unsigned char key[TOKEN_KEY_BYTES], const char *token,
			       size_t len, int64_t now, struct token_claims *c)
{
	unsigned char keys[1][TOKEN_KEY_BYTES];
	enum token_status st;

	memcpy(keys[0], key, TOKEN_KEY_BYTES);
	st = token_verify_any((const unsigned char (*)[TOKEN_KEY_BYTES])keys, 1, token, len, now, c,
			      NULL);
	sodium_memzero(keys, sizeof keys);
	return st;
}

/* The tag of a token is checked against each key before its payload is
 * decoded, so that nothing parses what an outsider wrote. Trying a second
 * key costs one more HMAC and needs no key id in the token: tokens issued
 * before a rotation look the same as those after it. */
enum token_status token_verify_any(const unsigned char (*keys)[TOKEN_KEY_BYTES], size_t n_keys,
				   const char *token, size_t len, int64_t now,
				   struct token_claims *c, int *which)
{
	unsigned char tag[crypto_auth_BYTES];
	unsigned char payload[TOKEN_MAX_LEN];
	size_t tag_len, payload_len, k;
	const char *dot;
	enum token_status st;

	if (which)
		*which = -1;
	if (len < 5 || len > TOKEN_MAX_LEN || memcmp(token, "v1.", 3) != 0)
		return TOKEN_MALFORMED;
	dot = memchr(token + 3, '.', len - 3);
	if (!dot || dot == token + 3)
		return TOKEN_MALFORMED;
	if (sodium_base642bin(tag, sizeof tag, dot + 1, len - (size_t)(dot + 1 - token), NULL,
			      &tag_len, NULL, B64) != 0 || tag_len != sizeof tag)
		return TOKEN_MALFORMED;
	for (k = 0; k < n_keys; k++)
		if (crypto_auth_verify(tag, (const unsigned char *)token, (size_t)(dot - token),
				       keys[k]) == 0)
			break;
	if (k == n_keys)
		return TOKEN_BAD_SIGNATURE;
	if (which)
		*which = (int)k;
	if (sodium_base642bin(payload, sizeof payload, token + 3, (size_t)(dot - token - 3), NULL,
			      &payload_len, NULL, B64) != 0)
		return TOKEN_MALFORMED;
	st = parse_claims(payload, payload_len, c);
	if (st != TOKEN_OK)
		return st;
	if (c->expires_at <= now)
		return TOKEN_EXPIRED;
	return TOKEN_OK;
}
