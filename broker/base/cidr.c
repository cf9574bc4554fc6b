/* cidr.c: address ranges and the client address behind trusted proxies
 * (see cidr.h). Pure; any thread. */
#include "cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses a bare address (no prefix, no brackets, no port) of len bytes. */
static int parse_addr(const char *text, size_t len, struct cidr *out)
{
	char buf[CIDR_ADDR_MAX];

	if (len == 0 || len >= sizeof buf)
		return -1;
	memcpy(buf, text, len);
	buf[len] = '\0';
	memset(out, 0, sizeof *out);
	if (inet_pton(AF_INET, buf, out->addr) == 1) {
		out->family = 4;
		out->prefix = 32;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->family = 6;
		out->prefix = 128;
		return 0;
	}
	return -1;
}

/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as its IPv4 address. */
static void unmap(struct cidr *a)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (a->family == 6 && !memcmp(a->addr, mapped, sizeof mapped)) {
		memmove(a->addr, a->addr + 12, 4);
		memset(a->addr + 4, 0, 12);
		a->family = 4;
		a->prefix = 32;
	}
}

/* 1 when the first prefix bits of a and b are equal. */
static int same_prefix(const unsigned char *a, const unsigned char *b, unsigned prefix)
{
	unsigned whole = prefix / 8, rest = prefix % 8;

	if (memcmp(a, b, whole))
		return 0;
	return !rest || ((a[whole] ^ b[whole]) & (0xff00u >> rest) & 0xff) == 0;
}

/* 1 when no bit of a past its prefix is set (10.1.2.3/8 is a typo for a
 * host or a network, not a range). */
static int host_bits_clear(const struct cidr *a)
{
	unsigned bytes = a->family == 4 ? 4 : 16;

	for (unsigned bit = a->prefix; bit < bytes * 8; bit++)
		if (a->addr[bit / 8] & (0x80u >> (bit % 8)))
			return 0;
	return 1;
}

int cidr_parse(const char *text, struct cidr *out)
{
	const char *slash = strchr(text, '/');
	size_t len = slash ? (size_t)(slash - text) : strlen(text);
	char *end;
	long prefix;

	if (parse_addr(text, len, out))
		return -1;
	if (!slash)
		return 0;
	errno = 0;
	prefix = strtol(slash + 1, &end, 10);
	if (errno || *end || slash[1] < '0' || slash[1] > '9' || prefix < 0 ||
	    prefix > (out->family == 4 ? 32 : 128))
		return -1;
	out->prefix = (unsigned)prefix;
	return host_bits_clear(out) ? 0 : -1;
}

int cidr_list_parse(const char *text, struct cidr_list *out, char *bad, size_t bad_size)
{
	const char *p = text ? text : "";
	char item[CIDR_TEXT_MAX];

	out->n = 0;
	if (bad_size)
		bad[0] = '\0';
	for (;;) {
		size_t n;
		p += strspn(p, " \t,");
		if (!*p)
			return 0;
		n = strcspn(p, " \t,");
		snprintf(bad, bad_size, "%.*s", (int)n, p);
		if (n >= sizeof item || out->n >= CIDR_LIST_MAX)
			return -1;
		memcpy(item, p, n);
		item[n] = '\0';
		if (cidr_parse(item, &out->v[out->n]))
			return -1;
		out->n++;
		p += n;
		if (bad_size)
			bad[0] = '\0';
	}
}

void cidr_list_format(const struct cidr_list *l, char *out, size_t size)
{
	size_t len = 0;

	if (size)
		out[0] = '\0';
	for (int i = 0; i < l->n && len + 1 < size; i++) {
		char addr[CIDR_ADDR_MAX];
		const struct cidr *c = &l->v[i];
		inet_ntop(c->family == 4 ? AF_INET : AF_INET6, c->addr, addr, sizeof addr);
		len += (size_t)snprintf(out + len, size - len, "%s%s/%u", i ? " " : "", addr,
					c->prefix);
	}
}

/* The address a (normal) is in a range of l. */
static int match(const struct cidr_list *l, const struct cidr *a)
{
	for (int i = 0; i < l->n; i++)
		if (l->v[i].family == a->family && same_prefix(l->v[i].addr, a->addr, l->v[i].prefix))
			return 1;
	return 0;
}

int cidr_list_match(const struct cidr_list *l, const char *addr)
{
	struct cidr a;

	if (!addr || parse_addr(addr, strlen(addr), &a))
		return 0;
	unmap(&a);
	return match(l, &a);
}

/* Parses one word of a header (see cidr_addr_normal) into a. */
static int parse_word(const char *text, size_t len, struct cidr *a)
{
	const char *p = text, *end = text + len, *colon;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (p < end && *p == '[') { /* [v6] or [v6]:port */
		const char *close = memchr(p, ']', (size_t)(end - p));
		if (!close || (close + 1 != end && close[1] != ':'))
			return -1;
		return parse_addr(p + 1, (size_t)(close - p - 1), a);
	}
	colon = memchr(p, ':', (size_t)(end - p));
	if (colon && !memchr(colon + 1, ':', (size_t)(end - colon - 1)))
		end = colon; /* v4:port (one colon); more than one: bare v6 */
	return parse_addr(p, (size_t)(end - p), a);
}

static void format(const struct cidr *a, char *out, size_t size)
{
	char buf[CIDR_ADDR_MAX];

	if (!inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->addr, buf, sizeof buf))
		buf[0] = '\0';
	snprintf(out, size, "%s", buf);
}

int cidr_addr_normal(const char *text, size_t len, char *out, size_t size)
{
	struct cidr a;

	if (parse_word(text, len, &a))
		return -1;
	unmap(&a);
	format(&a, out, size);
	return 0;
}

void cidr_client_address(const char *peer, const char *forwarded, const char *real_ip,
			 const struct cidr_list *trusted, char *out, size_t size)
{
	struct cidr hop, next;
	const char *end;

	snprintf(out, size, "%s", peer ? peer : "");
	if (!peer || parse_addr(peer, strlen(peer), &hop))
		return;
	unmap(&hop);
	format(&hop, out, size);
	if (!match(trusted, &hop))
		return; /* not a proxy of ours: its headers are the client's own */
	if (!forwarded || !*forwarded) {
		if (real_ip && !parse_word(real_ip, strlen(real_ip), &next)) {
			unmap(&next);
			format(&next, out, size);
		}
		return;
	}
	/* right to left: each trusted hop vouches for the entry before it */
	end = forwarded + strlen(forwarded);
	while (end > forwarded) {
		const char *start = end;
		while (start > forwarded && start[-1] != ',')
			start--;
		if (parse_word(start, (size_t)(end - start), &next))
			return; /* malformed: the hop that handed it over */
		unmap(&next);
		hop = next;
		format(&hop, out, size);
		if (!match(trusted, &hop))
			return;
		end = start > forwarded ? start - 1 : start;
	}
}
