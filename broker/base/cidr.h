/* cidr.h: address ranges (10.0.0.0/8, fd00::/8, 127.0.0.1) and the client
 * address of a request that came through trusted proxies.
 *
 * Behind a reverse proxy every request comes from the proxy's address:
 * the sign-in lockout, the per-address connection cap and every audit row
 * would name the proxy, and 20 bad passwords would lock the whole force
 * out. So the broker believes X-Forwarded-For (or X-Real-IP) from the
 * peers it is told to trust (trusted-proxies, conf.c), and from no one
 * else. The rule is the usual right-to-left one: the proxy next to us
 * appended the address it saw last, so the list is read from its end,
 * skipping our own trusted proxies, and the first address that is not one
 * of them is the client; anything to its left was written by the client
 * and is ignored. Pure: no I/O; io/remote.c reads the headers. */
#ifndef TOCSIN_CIDR_H
#define TOCSIN_CIDR_H

#include <stddef.h>

#define CIDR_LIST_MAX 32
#define CIDR_TEXT_MAX 64      /* "ffff:...:ffff/128" and a NUL */
#define CIDR_ADDR_MAX 46      /* INET6_ADDRSTRLEN */
#define CIDR_FORWARDED_MAX 2048 /* the longest X-Forwarded-For read */

struct cidr {
	unsigned char addr[16]; /* network order; IPv4 in the first 4 bytes */
	int family;             /* 4 or 6 */
	unsigned prefix;        /* 0..32 or 0..128 */
};

struct cidr_list {
	struct cidr v[CIDR_LIST_MAX];
	int n;
};

/* "A.B.C.D[/N]" or an IPv6 address "[/N]" (no prefix: the one host).
 * Host bits past the prefix must be zero (10.1.2.3/8 is refused: it is a
 * typo for a host or a network). 0, or -1 when malformed. */
int cidr_parse(const char *text, struct cidr *out);

/* A list separated by spaces or commas; an empty list is valid. 0, or -1
 * with the first bad item copied into bad. */
int cidr_list_parse(const char *text, struct cidr_list *out, char *bad, size_t bad_size);

/* The list as text, separated by spaces ("" when empty). */
void cidr_list_format(const struct cidr_list *l, char *out, size_t size);

/* 1 when the address (text, as inet_ntop writes it; an IPv4-mapped IPv6
 * address counts as its IPv4 address) is in a range of the list. */
int cidr_list_match(const struct cidr_list *l, const char *addr);

/* An address as one word of a header: "1.2.3.4", "1.2.3.4:5678",
 * "[2001:db8::1]", "[2001:db8::1]:443" or "2001:db8::1", with blanks
 * around, into its normal text form (inet_ntop). 0, or -1. */
int cidr_addr_normal(const char *text, size_t len, char *out, size_t size);

/* The client address of a request from peer (the socket's address): the
 * peer itself unless it is in trusted; then the right-to-left walk of
 * forwarded (X-Forwarded-For, NULL when absent; repeated headers joined
 * by commas) or, without it, real_ip (X-Real-IP). A malformed entry stops
 * the walk at the trusted hop that handed it over. Writes the normal text
 * form into out (CIDR_ADDR_MAX bytes are enough). */
void cidr_client_address(const char *peer, const char *forwarded, const char *real_ip,
			 const struct cidr_list *trusted, char *out, size_t size);

#endif
