/* proto.c: the tocsin.v1 WebSocket protocol, the door of every session.
 *
 * lws calls proto_lws_callback for each event of a connection at /ws:
 * the upgrade (only from an allowed Origin), the session's opening and
 * closing (session.c), each fragment received, writeability (flush.c).
 * A complete client message (bounded by --max-frame, within the
 * per-connection rate) is decoded by frame.c and goes through the
 * dispatch table below to its handler (handle/). Loop thread only. */
#include "broker.h"
#include "doors.h"
#include "handle.h"
#include "clock.h"
#include "log.h"
#include "remote.h"

#include <stdlib.h>
#include <string.h>

/* The most of an over-size message read and dropped before the close. */
#define OVERSIZE_DRAIN_MAX ((size_t)16 * 1024 * 1024)

static void handle_ping(struct session *s, struct client_frame *f)
{
	char now_iso[CLOCK_ISO_LEN];

	clock_format_iso(clock_now_us(), now_iso);
	session_send_json(s, json_pack("{s:s, s:s, s:s}", "type", "pong", "ref", f->ref,
				       "server_time", now_iso));
}

/* Every request a signed-in session may make, by frame type (frame.h);
 * hello is the one a session makes before it is signed in. */
static void (*const dispatch_table[])(struct session *, struct client_frame *) = {
	[FRAME_HELLO] = hello_handle,
	[FRAME_PUBLISH] = publish_handle,
	[FRAME_ACK] = receipt_handle,
	[FRAME_READ] = receipt_handle,
	[FRAME_RECEIPTS] = receipt_handle_batch,
	[FRAME_PREVIEW] = relay_preview,
	[FRAME_RELAY] = relay_handle,
	[FRAME_ANSWER] = relay_answer,
	[FRAME_STATUS] = status_handle,
	[FRAME_BOARD] = status_board,
	[FRAME_AREA_TOTALS] = status_area_totals,
	[FRAME_REPORT_NOW] = status_report_now,
	[FRAME_REPORT] = report_handle,
	[FRAME_CRIME_REPORT] = crime_report_handle,
	[FRAME_INBOX] = inbox_handle,
	[FRAME_REPORT_UPDATE] = inbox_update,
	[FRAME_IMPORT_REJECT] = inbox_reject,
	[FRAME_ADMIN] = admin_handle,
	[FRAME_RELEASE] = release_handle,
	[FRAME_ALERT_UNVERIFIED] = unverified_handle,
	[FRAME_REFRESH] = refresh_handle,
	[FRAME_SITE_HISTORY] = history_handle,
	[FRAME_DIRECTORY] = directory_handle,
	[FRAME_PING] = handle_ping,
};

/* Hands the frame to its handler; what they log meanwhile names the
 * session and the frame's ref (log.h). */
static void dispatch(struct session *s, struct client_frame *f)
{
	log_context_set(s->id, f->ref);
	if (f->type != FRAME_HELLO && !s->authed)
		session_refuse_auth(s, f->ref, "auth_required", "send hello with a token first");
	else if ((size_t)f->type < sizeof dispatch_table / sizeof dispatch_table[0] &&
		 dispatch_table[f->type])
		dispatch_table[f->type](s, f);
	log_context_clear();
}

/* One complete message from the client. */
static void on_message(struct session *s)
{
	struct client_frame f;
	struct frame_error err;

	if (frame_parse(s->rx, s->rx_len, &f, &err)) {
		session_send_error(s, &err);
		return;
	}
	dispatch(s, &f);
	frame_free(&f);
}

/* Appends a fragment; returns 1 when a whole message is ready (a binary
 * one, rx_discard 2, is not kept). */
static int on_receive(struct broker *b, struct session *s, const void *in, size_t len)
{
	int final = lws_is_final_fragment(s->wsi) && !lws_remaining_packet_payload(s->wsi);

	if (s->close_code)
		return 0;
	if (s->rx_len == 0 && lws_frame_is_binary(s->wsi))
		s->rx_discard = 2; /* binary: refuse the whole message */
	if (!s->rx_discard && s->rx_len + len > b->conf.max_frame) {
		struct frame_error err = { 0 };
		frame_error_set(&err, "frame_too_large", NULL,
				"messages may be at most %zu bytes", b->conf.max_frame);
		session_send_error(s, &err);
		s->rx_discard = 1;
		s->rx_len = 0;
		s->rx_dropped = 0;
	}
	if (s->rx_discard == 1) {
		/* The close waits for the end of the message: closed while the
		 * client still sent it, the socket had unread bytes, the kernel
		 * answered with a reset, and the client lost frame_too_large and
		 * the replies before it (1006 instead of 1009, for 2 MiB messages
		 * more often than not). A message that does not end is cut after
		 * OVERSIZE_DRAIN_MAX bytes. */
		s->rx_dropped += len;
		if (final || s->rx_dropped > OVERSIZE_DRAIN_MAX)
			session_close_after(s, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "frame_too_large");
		return 0;
	}
	if (!s->rx_discard) {
		if (s->rx_len + len + 1 > s->rx_cap) {
			size_t cap = s->rx_cap ? s->rx_cap : 1024;
			char *grown;
			while (cap < s->rx_len + len + 1)
				cap *= 2;
			grown = realloc(s->rx, cap);
			if (!grown) {
				session_close_after(s, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION,
						    "out of memory");
				return 0;
			}
			s->rx = grown;
			s->rx_cap = cap;
		}
		memcpy(s->rx + s->rx_len, in, len);
		s->rx_len += len;
	}
	return final;
}

/* A whole message, text or binary: handled within the client's rate, else
 * dropped with one notice a second. A binary one counts too: each got its
 * bad_frame reply outside the rate, so 1,500 one-byte binary frames got
 * 1,500 replies, signed in or not. */
static void on_complete(struct broker *b, struct session *s)
{
	int64_t now = clock_mono_us();
	int binary = s->rx_discard == 2;

	s->rx_discard = 0;
	if (admission_rate_allow(&s->rate, b->conf.rate_per_sec, now)) {
		if (binary)
			session_reply_error(s, "", "bad_frame", NULL, "binary messages are not accepted");
		else
			on_message(s);
	} else if (now - s->rate_notice_us > 1000000) {
		/* one notice a second: errors must not amplify a flood */
		s->rate_notice_us = now;
		session_reply_error(s, "", "rate_limited", NULL,
				    "too many messages; this one and others were dropped");
		log_warn("session %llu (%s): over the message rate", (unsigned long long)s->id,
			 s->who.username);
	}
	/* consoles talk rarely: give the buffer back between messages */
	free(s->rx);
	s->rx = NULL;
	s->rx_len = s->rx_cap = 0;
}

/* Refuses a browser upgrade from a page of another origin (cross-site
 * WebSocket hijacking): the session would otherwise act with the token the
 * page holds. */
static int origin_check(struct broker *b, struct lws *wsi)
{
	char origin[256] = "", peer[48] = "";

	if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) >= (int)sizeof origin)
		return -1;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) > 0 &&
	    lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) < 0)
		return -1;
	if (admission_origin_ok(origin, b->conf.origins, b->conf.n_origins))
		return 0;
	remote_address(b, wsi, peer, sizeof peer);
	log_warn("refused a WebSocket upgrade from %s with Origin '%s'", peer, origin);
	return -1;
}

int proto_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		       size_t len)
{
	struct broker *b = lws_context_user(lws_get_context(wsi));
	struct session *s = user;
	char path[64];

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) < 0 ||
		    strcmp(path, "/ws") != 0)
			return -1; /* the protocol lives at /ws only */
		return origin_check(b, wsi);
	case LWS_CALLBACK_ESTABLISHED:
		session_open(b, s, wsi);
		return 0;
	case LWS_CALLBACK_RECEIVE_PONG:
		s->heard_us = clock_mono_us();
		return 0;
	case LWS_CALLBACK_RECEIVE:
		s->heard_us = clock_mono_us();
		if (on_receive(b, s, in, len))
			on_complete(b, s);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return flush_writeable(b, s);
	case LWS_CALLBACK_CLOSED:
		session_gone(b, s);
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		listener_gone(b->listener, b, wsi); /* whichever protocol lws tells */
		return 0;
	default:
		return 0;
	}
}
