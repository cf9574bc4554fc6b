/* remote.h: the one place that decides a request's client address.
 *
 * The peer of the socket, unless it is one of trusted-proxies (conf.c):
 * then the address its X-Forwarded-For (read right to left) or X-Real-IP
 * names (cidr.h has the rule). Every user of a client address takes it
 * from here: the per-address connection cap (session.c), the sign-in
 * lockout and the HTTP API's audit rows (http_api.c), every session's
 * audit rows (s->remote). Loop thread only. */
#ifndef TOCSIN_REMOTE_H
#define TOCSIN_REMOTE_H

#include <libwebsockets.h>
#include <stddef.h>

struct broker;

/* The client address of the request on wsi (HTTP, or a WebSocket while
 * its upgrade headers are still there), in out (48 bytes are enough). */
void remote_address(const struct broker *b, struct lws *wsi, char *out, size_t size);

#endif
