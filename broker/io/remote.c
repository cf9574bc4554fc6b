/* remote.c: a request's client address, behind trusted proxies or not
 * (see remote.h). Loop thread only. */
#include "broker.h"
#include "cidr.h"
#include "log.h"
#include "remote.h"

/* Copies header h (repeated ones joined by commas) into out; 0, or -1 when
 * absent, unreadable or longer than out. */
static int header(struct lws *wsi, enum lws_token_indexes h, char *out, size_t size)
{
	int n = lws_hdr_total_length(wsi, h);

	if (n <= 0 || (size_t)n >= size)
		return -1;
	return lws_hdr_copy(wsi, out, (int)size, h) < 0 ? -1 : 0;
}

void remote_address(const struct broker *b, struct lws *wsi, char *out, size_t size)
{
	char peer[CIDR_ADDR_MAX] = "", forwarded[CIDR_FORWARDED_MAX], real[CIDR_ADDR_MAX + 16];
	const struct cidr_list *trusted = &b->conf.trusted_proxies;

	lws_get_peer_simple(wsi, peer, sizeof peer);
	if (!trusted->n || !cidr_list_match(trusted, peer)) {
		cidr_client_address(peer, NULL, NULL, trusted, out, size);
		return;
	}
	if (header(wsi, WSI_TOKEN_X_FORWARDED_FOR, forwarded, sizeof forwarded)) {
		if (lws_hdr_total_length(wsi, WSI_TOKEN_X_FORWARDED_FOR) > 0)
			log_warn("X-Forwarded-For from proxy %s is over %d bytes: not read", peer,
				 CIDR_FORWARDED_MAX - 1);
		forwarded[0] = '\0';
	}
	if (header(wsi, WSI_TOKEN_HTTP_X_REAL_IP, real, sizeof real))
		real[0] = '\0';
	cidr_client_address(peer, forwarded[0] ? forwarded : NULL, real[0] ? real : NULL, trusted,
			    out, size);
}
