/* requester.h: who sent a request and where its reply goes.
 *
 * A request reaches the broker from a WebSocket session or from an adapter
 * on the ZeroMQ bus (bus.c). Handlers that serve both (handle_publish.c,
 * handle_report.c) keep a requester instead of a session: it names the
 * acting user and routes the reply, by session id (the session may close
 * while the database works) or by the adapter's ZeroMQ routing id and seq.
 * Loop thread only. */
#ifndef TOCSIN_REQUESTER_H
#define TOCSIN_REQUESTER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "token.h"

struct broker;
struct session;
struct db_error;

#define REQUESTER_PEER_MAX 255   /* a ZeroMQ routing id is at most 255 bytes */
#define ADAPTER_NAME_MAX 64

struct requester {
	uint64_t session_id;          /* the WebSocket session; 0 for the bus */
	char ref[FRAME_REF_MAX + 1];  /* the session request's ref ("" for none) */
	struct token_claims who;      /* the acting user (an adapter's bound user) */
	char remote[48];              /* the peer's address, for the audit trail */
	int via_bus;                  /* 1: an adapter on the ZeroMQ bus */
	int64_t adapter_id;           /* the bus: the adapter; 0 until known */
	char adapter[ADAPTER_NAME_MAX + 1];
	int64_t seq;                  /* the bus: the adapter's sequence number */
	unsigned char peer[REQUESTER_PEER_MAX]; /* the bus: the ROUTER routing id */
	size_t peer_len;
};

/* A requester for a session's request (ref may be NULL). */
void requester_from_session(struct requester *r, const struct session *s, const char *ref);
/* 1 when the reply would reach someone (the session is still open, or
 * the bus is up). */
int requester_present(struct broker *b, const struct requester *r);
/* Sends a reply object (stolen): to the session with "ref", or to the
 * adapter with "seq" (the adapter's; any "seq" member is replaced). */
void requester_send(struct broker *b, const struct requester *r, json_t *obj);
/* An error reply: code, field (or NULL) and message. */
void requester_error(struct broker *b, const struct requester *r, const char *code,
		     const char *field, const char *message);
/* An error from the frame_check.h helpers. */
void requester_check_error(struct broker *b, const struct requester *r,
			   const struct frame_error *err);
/* Maps a database failure to a typed error, given what the handler calls
 * a TS404 (unknown_target, unknown_alert, ...). */
void requester_db_error(struct broker *b, const struct requester *r,
			const struct db_error *err, const char *not_found_code);

/* The handlers both kinds of requester share (r is copied). */
/* handle_publish.c: takes f->u.publish.rec */
void publish_request(struct broker *b, const struct requester *r, struct client_frame *f);
/* handle_report.c */
void report_request(struct broker *b, const struct requester *r, struct client_frame *f);

#endif
