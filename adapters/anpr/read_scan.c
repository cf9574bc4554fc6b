/* read_scan.c: a small JSON scanner for the five members of a camera read.
 *
 * Why not jansson: a read line through json_loadb() costs one allocation
 * per value and about 2 µs here; the adapter must match 50,000 reads a
 * second on one core with a margin, and a hotlist hit is about 1 % of the
 * reads. This scanner accepts exactly the JSON that jansson accepts with
 * JSON_REJECT_DUPLICATES for the five members (tests/unit/test_anpr_scan.c
 * checks that against jansson on hundreds of thousands of mutated lines),
 * with two deliberate differences: ignored members may nest at most
 * READ_DEPTH_MAX deep, and numbers in ignored members are checked for
 * syntax only (jansson also refuses ones that overflow a double or int64).
 *
 * Pure: no I/O, no allocation, never reads past the length given. */
#include "read_scan.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct cur {
	const char *p, *end;
	struct scan_error *err;
};

enum member { M_PLATE, M_CAMERA, M_LAT, M_LON, M_TIME, M_OTHER };
static const char *const member_names[] = { "plate", "camera", "lat", "lon", "time" };

/* Records the first error only, so the innermost cause is the one shown. */
static int fail(struct cur *c, const char *field, const char *message)
{
	if (!c->err->message) {
		c->err->field = field;
		c->err->message = message;
	}
	return -1;
}

/* JSON white space: space, tab, CR, LF (nothing else). */
static void skip_ws(struct cur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

/* Appends code point cp as UTF-8 to out (if there is room: *overflow is
 * set otherwise, and the caller decides whether that matters). */
static void put_utf8(uint32_t cp, char *out, size_t cap, size_t *n, int *overflow)
{
	char b[4];
	size_t k;

	if (cp < 0x80) {
		b[0] = (char)cp;
		k = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xC0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3F));
		k = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xE0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		b[2] = (char)(0x80 | (cp & 0x3F));
		k = 3;
	} else {
		b[0] = (char)(0xF0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		b[3] = (char)(0x80 | (cp & 0x3F));
		k = 4;
	}
	if (!out || *n + k >= cap) {
		*overflow = 1;
		return;
	}
	memcpy(out + *n, b, k);
	*n += k;
}

/* Four hex digits of a \u escape (the caller checked they are there). */
static int hex4(const char *p, uint32_t *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		char h = p[i];
		int d;

		if (h >= '0' && h <= '9')
			d = h - '0';
		else if (h >= 'a' && h <= 'f')
			d = h - 'a' + 10;
		else if (h >= 'A' && h <= 'F')
			d = h - 'A' + 10;
		else
			return -1;
		*v = (*v << 4) | (uint32_t)d;
	}
	return 0;
}

/* One \u escape (with its low surrogate when it is a high one); p points
 * after the 'u'. The decoded code point in *cp; 0 or -1. */
static int scan_u_escape(struct cur *c, uint32_t *cp)
{
	uint32_t lo;

	if (c->end - c->p < 4 || hex4(c->p, cp))
		return fail(c, NULL, "bad \\u escape in a string");
	c->p += 4;
	if (*cp >= 0xDC00 && *cp <= 0xDFFF)
		return fail(c, NULL, "lone low surrogate in a string");
	if (*cp >= 0xD800 && *cp <= 0xDBFF) {
		if (c->end - c->p < 6 || c->p[0] != '\\' || c->p[1] != 'u' || hex4(c->p + 2, &lo) ||
		    lo < 0xDC00 || lo > 0xDFFF)
			return fail(c, NULL, "lone high surrogate in a string");
		c->p += 6;
		*cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
	}
	if (*cp == 0)
		return fail(c, NULL, "\\u0000 in a string");
	return 0;
}

/* One raw UTF-8 sequence starting at a byte >= 0x80 (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF). Its code point in *cp. */
static int scan_utf8(struct cur *c, uint32_t *cp)
{
	const unsigned char *u = (const unsigned char *)c->p;
	size_t left = (size_t)(c->end - c->p), k;
	uint32_t min;

	if (u[0] >= 0xC2 && u[0] <= 0xDF) {
		k = 2;
		*cp = u[0] & 0x1F;
		min = 0x80;
	} else if (u[0] >= 0xE0 && u[0] <= 0xEF) {
		k = 3;
		*cp = u[0] & 0x0F;
		min = 0x800;
	} else if (u[0] >= 0xF0 && u[0] <= 0xF4) {
		k = 4;
		*cp = u[0] & 0x07;
		min = 0x10000;
	} else {
		return fail(c, NULL, "invalid UTF-8 in a string");
	}
	if (left < k)
		return fail(c, NULL, "invalid UTF-8 in a string");
	for (size_t i = 1; i < k; i++) {
		if ((u[i] & 0xC0) != 0x80)
			return fail(c, NULL, "invalid UTF-8 in a string");
		*cp = (*cp << 6) | (u[i] & 0x3F);
	}
	if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF))
		return fail(c, NULL, "invalid UTF-8 in a string");
	c->p += k;
	return 0;
}

/* A JSON string at c->p (the opening quote), decoded into out (cap bytes
 * with the NUL; out may be NULL to only check it). *overflow is set when
 * it did not fit. 0 or -1. */
static int scan_string(struct cur *c, char *out, size_t cap, size_t *len, int *overflow)
{
	size_t n = 0;

	*overflow = 0;
	c->p++; /* the opening quote */
	for (;;) {
		uint32_t cp;
		unsigned char ch;

		if (c->p >= c->end)
			return fail(c, NULL, "unterminated string");
		ch = (unsigned char)*c->p;
		if (ch == '"') {
			c->p++;
			break;
		}
		if (ch < 0x20)
			return fail(c, NULL, "control character in a string");
		if (ch == '\\') {
			if (c->end - c->p < 2)
				return fail(c, NULL, "unterminated string");
			c->p += 2;
			switch (c->p[-1]) {
			case '"': cp = '"'; break;
			case '\\': cp = '\\'; break;
			case '/': cp = '/'; break;
			case 'b': cp = '\b'; break;
			case 'f': cp = '\f'; break;
			case 'n': cp = '\n'; break;
			case 'r': cp = '\r'; break;
			case 't': cp = '\t'; break;
			case 'u':
				if (scan_u_escape(c, &cp))
					return -1;
				break;
			default:
				return fail(c, NULL, "bad escape in a string");
			}
		} else if (ch >= 0x80) {
			if (scan_utf8(c, &cp))
				return -1;
		} else {
			cp = ch;
			c->p++;
		}
		put_utf8(cp, out, cap, &n, overflow);
	}
	if (out)
		out[*overflow ? 0 : n] = '\0';
	*len = *overflow ? 0 : n;
	return 0;
}

/* ASCII digits only: isdigit() would follow the locale. */
static int is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* A JSON number at c->p (RFC 8259 grammar: no leading zeros, no '+', no
 * bare '.'); its text in [*start, c->p). */
static int scan_number(struct cur *c, const char **start)
{
	*start = c->p;
	if (c->p < c->end && *c->p == '-')
		c->p++;
	if (c->p >= c->end || !is_digit(*c->p))
		return fail(c, NULL, "bad number");
	if (*c->p == '0') {
		c->p++;
		if (c->p < c->end && is_digit(*c->p))
			return fail(c, NULL, "bad number (leading zero)");
	} else {
		while (c->p < c->end && is_digit(*c->p))
			c->p++;
	}
	if (c->p < c->end && *c->p == '.') {
		c->p++;
		if (c->p >= c->end || !is_digit(*c->p))
			return fail(c, NULL, "bad number");
		while (c->p < c->end && is_digit(*c->p))
			c->p++;
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		c->p++;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		if (c->p >= c->end || !is_digit(*c->p))
			return fail(c, NULL, "bad number");
		while (c->p < c->end && is_digit(*c->p))
			c->p++;
	}
	return 0;
}

/* true, false or null, spelled exactly. */
static int scan_literal(struct cur *c, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n))
		return fail(c, NULL, "unexpected character");
	c->p += n;
	return 0;
}

static int skip_value(struct cur *c, int depth);

/* An ignored object or array ('{' or '[' at c->p). */
static int skip_container(struct cur *c, int depth)
{
	char close = *c->p == '{' ? '}' : ']';
	int object = close == '}';

	if (depth >= READ_DEPTH_MAX)
		return fail(c, NULL, "nested too deeply");
	c->p++;
	skip_ws(c);
	if (c->p < c->end && *c->p == close) {
		c->p++;
		return 0;
	}
	for (;;) {
		if (object) {
			size_t len;
			int overflow;

			if (c->p >= c->end || *c->p != '"')
				return fail(c, NULL, "expected a member name");
			if (scan_string(c, NULL, 0, &len, &overflow))
				return -1;
			skip_ws(c);
			if (c->p >= c->end || *c->p != ':')
				return fail(c, NULL, "expected ':'");
			c->p++;
			skip_ws(c);
		}
		if (skip_value(c, depth + 1))
			return -1;
		skip_ws(c);
		if (c->p < c->end && *c->p == ',') {
			c->p++;
			skip_ws(c);
			continue;
		}
		if (c->p < c->end && *c->p == close) {
			c->p++;
			return 0;
		}
		return fail(c, NULL, object ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

/* Any JSON value, checked and ignored. */
static int skip_value(struct cur *c, int depth)
{
	const char *start;
	size_t len;
	int overflow;

	if (c->p >= c->end)
		return fail(c, NULL, "expected a value");
	switch (*c->p) {
	case '"':
		return scan_string(c, NULL, 0, &len, &overflow);
	case '{':
	case '[':
		return skip_container(c, depth);
	case 't':
		return scan_literal(c, "true");
	case 'f':
		return scan_literal(c, "false");
	case 'n':
		return scan_literal(c, "null");
	default:
		return scan_number(c, &start);
	}
}

/* The value of "lat" or "lon": a number within +-limit. */
static int scan_coordinate(struct cur *c, enum member m, double limit, double *out)
{
	const char *name = member_names[m], *start;
	char buf[64];
	size_t n;

	if (c->p >= c->end || !(*c->p == '-' || is_digit(*c->p))) {
		if (skip_value(c, 1))
			return -1;
		return fail(c, name, m == M_LAT ? "must be a number from -90 to 90"
						: "must be a number from -180 to 180");
	}
	if (scan_number(c, &start))
		return -1;
	n = (size_t)(c->p - start);
	if (n >= sizeof buf)
		return fail(c, name, "number too long");
	memcpy(buf, start, n);
	buf[n] = '\0';
	*out = strtod(buf, NULL);
	if (!isfinite(*out) || *out < -limit || *out > limit)
		return fail(c, name, m == M_LAT ? "must be a number from -90 to 90"
						: "must be a number from -180 to 180");
	return 0;
}

/* The value of "plate", "camera" or "time": a string that fits. */
static int scan_text(struct cur *c, enum member m, char *out, size_t cap, size_t *len)
{
	const char *name = member_names[m];
	int overflow;

	if (c->p >= c->end || *c->p != '"') {
		if (skip_value(c, 1))
			return -1;
		return fail(c, name, "must be a string");
	}
	if (scan_string(c, out, cap, len, &overflow))
		return -1;
	if (overflow)
		return fail(c, name, m == M_PLATE  ? "too long"
				     : m == M_CAMERA ? "must be 1 to 64 bytes"
						     : "must be an RFC 3339 time");
	return 0;
}

/* Which of the five members a (decoded) name is. */
static enum member member_of(const char *name, size_t len, int overflow)
{
	if (overflow)
		return M_OTHER;
	for (int m = 0; m < M_OTHER; m++)
		if (strlen(member_names[m]) == len && !memcmp(member_names[m], name, len))
			return (enum member)m;
	return M_OTHER;
}

/* One member's value into r; seen[] catches duplicates. */
static int scan_member_value(struct cur *c, enum member m, struct anpr_read *r, size_t lens[],
			     int seen[])
{
	if (m == M_OTHER)
		return skip_value(c, 1);
	if (seen[m])
		return fail(c, member_names[m], "appears twice");
	seen[m] = 1;
	switch (m) {
	case M_PLATE:
		return scan_text(c, m, r->plate_raw, sizeof r->plate_raw, &lens[m]);
	case M_CAMERA:
		return scan_text(c, m, r->camera, sizeof r->camera, &lens[m]);
	case M_TIME:
		return scan_text(c, m, r->time, sizeof r->time, &lens[m]);
	case M_LAT:
		return scan_coordinate(c, m, 90.0, &r->lat);
	case M_LON:
		return scan_coordinate(c, m, 180.0, &r->lon);
	default:
		return -1;
	}
}

/* The members of the top-level object, up to and including its '}'. */
static int scan_members(struct cur *c, struct anpr_read *r, size_t lens[], int seen[])
{
	skip_ws(c);
	if (c->p < c->end && *c->p == '}') {
		c->p++;
		return 0;
	}
	for (;;) {
		char name[16];
		size_t len;
		int overflow;
		enum member m;

		if (c->p >= c->end || *c->p != '"')
			return fail(c, NULL, "expected a member name");
		if (scan_string(c, name, sizeof name, &len, &overflow))
			return -1;
		m = member_of(name, len, overflow);
		skip_ws(c);
		if (c->p >= c->end || *c->p != ':')
			return fail(c, NULL, "expected ':'");
		c->p++;
		skip_ws(c);
		if (scan_member_value(c, m, r, lens, seen))
			return -1;
		skip_ws(c);
		if (c->p < c->end && *c->p == ',') {
			c->p++;
			skip_ws(c);
			continue;
		}
		if (c->p < c->end && *c->p == '}') {
			c->p++;
			return 0;
		}
		return fail(c, NULL, "expected ',' or '}'");
	}
}

/* The checks on the values once the JSON is known to be sound. */
static int check_values(struct cur *c, struct anpr_read *r, const size_t lens[])
{
	if (plate_normalise(r->plate_raw, lens[M_PLATE], r->plate) < 0)
		return fail(c, "plate",
			    "must be 1 to 15 letters and digits (spaces and hyphens are ignored)");
	if (lens[M_CAMERA] == 0)
		return fail(c, "camera", "must be 1 to 64 bytes");
	for (size_t i = 0; i < lens[M_CAMERA]; i++)
		if ((unsigned char)r->camera[i] < 0x20 || r->camera[i] == 0x7F)
			return fail(c, "camera", "must not contain control characters");
	if (!read_time_ok(r->time, lens[M_TIME]))
		return fail(c, "time", "must be an RFC 3339 time");
	return 0;
}

/* The whole line must be one object: text after it is an error, so two
 * reads glued together are never half-taken. */
int read_scan(const char *line, size_t len, struct anpr_read *r, struct scan_error *err)
{
	struct cur c = { line, line + len, err };
	size_t lens[M_OTHER] = { 0 };
	int seen[M_OTHER] = { 0 };

	err->field = NULL;
	err->message = NULL;
	memset(r, 0, sizeof *r);
	skip_ws(&c);
	if (c.p >= c.end || *c.p != '{')
		return fail(&c, NULL, "not a JSON object");
	c.p++;
	if (scan_members(&c, r, lens, seen))
		return -1;
	skip_ws(&c);
	if (c.p != c.end)
		return fail(&c, NULL, "text after the object");
	for (int m = 0; m < M_OTHER; m++)
		if (!seen[m])
			return fail(&c, member_names[m], "missing");
	return check_values(&c, r, lens);
}

/* n digits at s as a number, or -1. */
/* Fixed-width fields of a time, so "1a" or " 1" never pass as numbers. */
static int digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* The read time goes into the alert body as given, so only its shape and
 * ranges are checked here. */
int read_time_ok(const char *s, size_t len)
{
	size_t i = 19;

	if (len < 20 || len > READ_TIME_MAX)
		return 0;
	if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
		return 0;
	if (digits(s, 4) < 0 || digits(s + 5, 2) < 1 || digits(s + 5, 2) > 12 ||
	    digits(s + 8, 2) < 1 || digits(s + 8, 2) > 31 || digits(s + 11, 2) < 0 ||
	    digits(s + 11, 2) > 23 || digits(s + 14, 2) < 0 || digits(s + 14, 2) > 59 ||
	    digits(s + 17, 2) < 0 || digits(s + 17, 2) > 60)
		return 0;
	if (s[i] == '.') {
		size_t f = ++i;

		while (i < len && is_digit(s[i]))
			i++;
		if (i == f)
			return 0;
	}
	if (i + 1 == len && s[i] == 'Z')
		return 1;
	if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':' &&
	    digits(s + i + 1, 2) >= 0 && digits(s + i + 1, 2) <= 23 &&
	    digits(s + i + 4, 2) >= 0 && digits(s + i + 4, 2) <= 59)
		return 1;
	return 0;
}
