/* msg.c: a server frame serialised once and shared by every connection
 * that gets it (see msg.h). Pure. */
#include "msg.h"

#include <stdlib.h>
#include <string.h>

/* Writes the RFC 6455 header of a final, unmasked text frame of len bytes
 * just before the payload; returns its length. */
static unsigned frame_header(unsigned char *payload, size_t len)
{
	unsigned char *h;

	if (len < 126) {
		h = payload - 2;
		h[1] = (unsigned char)len;
	} else if (len < 65536) {
		h = payload - 4;
		h[1] = 126;
		h[2] = (unsigned char)(len >> 8);
		h[3] = (unsigned char)len;
	} else {
		h = payload - 10;
		h[1] = 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	}
	h[0] = 0x81; /* FIN, text */
	return (unsigned)(payload - h);
}

struct msg *msg_new(const char *payload, size_t len, enum msg_kind kind, int64_t alert_id)
{
	struct msg *m = malloc(sizeof *m + MSG_HEADROOM + len);

	if (!m)
		return NULL;
	m->refs = 1;
	m->kind = kind;
	m->alert_id = alert_id;
	m->seq = 0;
	m->audience = MSG_TO_CONSOLES | MSG_TO_OPERATORS;
	m->supersedes = 0;
	m->len = len;
	memcpy(m->buf + MSG_HEADROOM, payload, len);
	m->hdr_len = frame_header(m->buf + MSG_HEADROOM, len);
	return m;
}

struct msg *msg_ref(struct msg *m)
{
	m->refs++;
	return m;
}

void msg_unref(struct msg *m)
{
	if (m && --m->refs == 0)
		free(m);
}
