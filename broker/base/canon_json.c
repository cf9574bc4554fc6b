/* canon_json.c: the canonical text of a JSON value (see canon_json.h).
 * Pure; any thread. */
#include "canon_json.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CANON_MAX_SAFE 9007199254740991LL /* 2^53 - 1, Number.MAX_SAFE_INTEGER */

struct buf {
	char *s;
	size_t len, cap;
	int failed;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *s2;
		while (cap < b->len + n + 1)
			cap *= 2;
		if (!(s2 = realloc(b->s, cap))) {
			b->failed = 1;
			return;
		}
		b->s = s2;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

/* Shortest digits that read back as x: glibc's %.*e rounds correctly, so
 * the first precision that round-trips gives the digits ECMAScript picks
 * (the fewest, and of those the closest). digits gets them without the
 * point, *exp10 the decimal exponent of the first. */
static void shortest(double x, char digits[20], int *exp10)
{
	char tmp[40];

	for (int p = 0; p < 17; p++) {
		snprintf(tmp, sizeof tmp, "%.*e", p, x);
		if (strtod(tmp, NULL) == x || p == 16) {
			char *e = strchr(tmp, 'e');
			size_t k = 0;
			for (char *c = tmp; c < e; c++)
				if (*c >= '0' && *c <= '9')
					digits[k++] = *c;
			while (k > 1 && digits[k - 1] == '0')
				k--;
			digits[k] = '\0';
			*exp10 = atoi(e + 1);
			return;
		}
	}
}

/* ECMAScript Number::toString, steps for a finite x: k digits, n the
 * position of the point relative to them. */
int canon_json_number(double x, char *out, size_t size)
{
	char d[20];
	int e, k, n, len;

	if (!isfinite(x) || size < 32)
		return -1;
	if (x == 0)
		return snprintf(out, size, "0");
	if (x < 0) {
		len = canon_json_number(-x, out + 1, size - 1);
		out[0] = '-';
		return len < 0 ? -1 : len + 1;
	}
	shortest(x, d, &e);
	k = (int)strlen(d);
	n = e + 1;
	if (k <= n && n <= 21)
		return snprintf(out, size, "%s%.*s", d, n - k, "000000000000000000000");
	if (0 < n && n <= 21)
		return snprintf(out, size, "%.*s.%s", n, d, d + n);
	if (-6 < n && n <= 0)
		return snprintf(out, size, "0.%.*s%s", -n, "000000", d);
	if (k == 1)
		return snprintf(out, size, "%se%c%d", d, n - 1 < 0 ? '-' : '+', abs(n - 1));
	return snprintf(out, size, "%c.%se%c%d", d[0], d + 1, n - 1 < 0 ? '-' : '+', abs(n - 1));
}

/* A string as JSON.stringify writes it. */
static void put_string(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t from = 0;

	put(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[7] = "\\u00";
		const char *e = NULL;
		if (c == '"') e = "\\\"";
		else if (c == '\\') e = "\\\\";
		else if (c == '\b') e = "\\b";
		else if (c == '\f') e = "\\f";
		else if (c == '\n') e = "\\n";
		else if (c == '\r') e = "\\r";
		else if (c == '\t') e = "\\t";
		else if (c < 0x20) {
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			esc[6] = '\0';
			e = esc;
		}
		if (!e)
			continue;
		put(b, s + from, i - from);
		put(b, e, strlen(e));
		from = i + 1;
	}
	put(b, s + from, n - from);
	put(b, "\"", 1);
}

/* The next code point of a valid UTF-8 string (jansson holds only valid
 * UTF-8), as the UTF-16 unit(s) it becomes: returns the first unit and
 * sets *low to the second (0 for the BMP). */
static unsigned next_unit(const unsigned char **p, unsigned *low)
{
	const unsigned char *s = *p;
	unsigned cp;

	if (s[0] < 0x80) { cp = s[0]; *p += 1; }
	else if (s[0] < 0xE0) { cp = (s[0] & 0x1Fu) << 6 | (s[1] & 0x3Fu); *p += 2; }
	else if (s[0] < 0xF0) { cp = (s[0] & 0x0Fu) << 12 | (s[1] & 0x3Fu) << 6 | (s[2] & 0x3Fu); *p += 3; }
	else { cp = (s[0] & 0x07u) << 18 | (s[1] & 0x3Fu) << 12 | (s[2] & 0x3Fu) << 6 | (s[3] & 0x3Fu); *p += 4; }
	*low = 0;
	if (cp < 0x10000)
		return cp;
	cp -= 0x10000;
	*low = 0xDC00 + (cp & 0x3FF);
	return 0xD800 + (cp >> 10);
}

/* Member names compared as UTF-16 code units, as JCS (and JS's sort) do. */
static int utf16_cmp(const void *a, const void *b)
{
	const unsigned char *x = *(const unsigned char *const *)a;
	const unsigned char *y = *(const unsigned char *const *)b;

	while (*x && *y) {
		unsigned xl, yl, xu = next_unit(&x, &xl), yu = next_unit(&y, &yl);
		if (xu != yu)
			return xu < yu ? -1 : 1;
		if (xl != yl)
			return xl < yl ? -1 : 1;
	}
	return *x ? 1 : *y ? -1 : 0;
}

static void put_value(struct buf *b, const json_t *v);

static void put_object(struct buf *b, const json_t *v)
{
	size_t n = json_object_size(v), i = 0;
	const char **keys = malloc((n + 1) * sizeof *keys);
	const char *k;
	json_t *m;

	if (!keys) {
		b->failed = 1;
		return;
	}
	json_object_foreach((json_t *)(uintptr_t)v, k, m)
		keys[i++] = k;
	qsort(keys, n, sizeof *keys, utf16_cmp);
	put(b, "{", 1);
	for (i = 0; i < n; i++) {
		if (i)
			put(b, ",", 1);
		put_string(b, keys[i], strlen(keys[i]));
		put(b, ":", 1);
		put_value(b, json_object_get(v, keys[i]));
	}
	put(b, "}", 1);
	free(keys);
}

static void put_value(struct buf *b, const json_t *v)
{
	char num[40];
	int n;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		put_object(b, v);
		return;
	case JSON_ARRAY:
		put(b, "[", 1);
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i)
				put(b, ",", 1);
			put_value(b, json_array_get(v, i));
		}
		put(b, "]", 1);
		return;
	case JSON_STRING:
		put_string(b, json_string_value(v), json_string_length(v));
		return;
	case JSON_INTEGER:
		if (json_integer_value(v) > CANON_MAX_SAFE || json_integer_value(v) < -CANON_MAX_SAFE) {
			b->failed = 1;
			return;
		}
		n = snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
		put(b, num, (size_t)n);
		return;
	case JSON_REAL:
		n = canon_json_number(json_real_value(v), num, sizeof num);
		if (n < 0)
			b->failed = 1;
		else
			put(b, num, (size_t)n);
		return;
	case JSON_TRUE:
		put(b, "true", 4);
		return;
	case JSON_FALSE:
		put(b, "false", 5);
		return;
	case JSON_NULL:
		put(b, "null", 4);
		return;
	}
}

char *canon_json_dump(const json_t *v, size_t *len)
{
	struct buf b = { 0 };

	put_value(&b, v);
	if (b.failed || !b.s) {
		free(b.s);
		return NULL;
	}
	*len = b.len;
	return b.s;
}
