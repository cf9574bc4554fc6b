/* msg.h: a server frame, serialised and framed once, reference-counted,
 * and shared by every connection that gets it (queued by outq.h). Pure:
 * no libwebsockets, so it is unit-tested alone. Single-threaded: used on
 * the event loop only. */
#ifndef TOCSIN_MSG_H
#define TOCSIN_MSG_H

#include <stddef.h>
#include <stdint.h>

/* Room before the payload for the WebSocket header (>= LWS_PRE plus the
 * longest frame header, checked where libwebsockets is included). */
#define MSG_HEADROOM 32
/* The longest server frame header: FIN/opcode, 127, 64-bit length. */
#define MSG_FRAME_HDR_MAX 10

enum msg_kind {
	MSG_CONTROL = 0, /* replies, errors, tallies */
	MSG_ALERT,       /* an alert: its delivery is recorded when written */
};

#define MSG_TO_CONSOLES  1u /* site consoles of recipient sites */
#define MSG_TO_OPERATORS 2u /* operators of the companies guarding them */
#define MSG_SENSITIVE    4u /* OFFICIAL-SENSITIVE: cleared users only */

struct msg {
	unsigned refs;
	enum msg_kind kind;
	int64_t alert_id;   /* MSG_ALERT only */
	int64_t seq;        /* MSG_ALERT: stream position, 0 while only journaled */
	unsigned audience;  /* MSG_ALERT: MSG_TO_* bits (fanout.c) */
	int64_t supersedes; /* not 0: a queued message with the same key is
	                     * dropped when this one is queued (a site's board
	                     * status, of which only the latest matters) */
	size_t len;         /* payload bytes, after the headroom */
	unsigned hdr_len;   /* WebSocket frame header bytes, just before the payload */
	unsigned char buf[]; /* MSG_HEADROOM bytes, then the payload */
};

/* A new message holding a copy of payload, with one reference. */
struct msg *msg_new(const char *payload, size_t len, enum msg_kind kind, int64_t alert_id);
static inline unsigned char *msg_payload(struct msg *m) { return m->buf + MSG_HEADROOM; }
/* The whole server WebSocket frame (an unmasked, final text frame: header
 * then payload), built once in msg_new so that every connection that gets
 * the message writes the same bytes without framing them again. */
static inline unsigned char *msg_frame(struct msg *m) { return msg_payload(m) - m->hdr_len; }
static inline size_t msg_frame_len(const struct msg *m) { return m->hdr_len + m->len; }
struct msg *msg_ref(struct msg *m);
void msg_unref(struct msg *m);

#endif
