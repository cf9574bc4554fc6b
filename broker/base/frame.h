/* frame.h: the client side of the tocsin.v1 protocol, decoded and checked.
 *
 * frame_parse() turns one text message into a typed request or a typed
 * error (code, field, message) as listed in docs/protocol.md. It does no
 * I/O and holds no state, so it is unit-tested and fuzzed on its own.
 * Server frames are built with jansson by the handlers; frame_error_json()
 * builds the one shape every handler shares. */
#ifndef TOCSIN_FRAME_H
#define TOCSIN_FRAME_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define FRAME_REF_MAX 64
#define FRAME_HEADLINE_MAX 200
#define FRAME_BODY_MAX 4000
#define FRAME_TARGETS_MAX 1000
#define FRAME_FIELD_MAX 64
#define FRAME_MAX_DEPTH 16
#define FRAME_HISTORY_LIMIT_MAX 200
#define FRAME_HISTORY_LIMIT_DEFAULT 50

enum frame_type {
	FRAME_HELLO,
	FRAME_PUBLISH,
	FRAME_ACK,
	FRAME_PING,
	FRAME_DIRECTORY,
	FRAME_READ,
	FRAME_RECEIPTS,
	/* issue 3: these are checked by their handlers from root */
	FRAME_PREVIEW,
	FRAME_RELAY,
	FRAME_ANSWER,
	FRAME_STATUS,
	FRAME_BOARD,
	FRAME_AREA_TOTALS,
	FRAME_REPORT_NOW,
	FRAME_REPORT,
	FRAME_INBOX,
	FRAME_REFRESH, /* refresh.c checks its members */
	FRAME_SITE_HISTORY, /* checked here: site_id, limit, before */
	FRAME_REPORT_UPDATE, /* inbox.c checks its members */
	FRAME_ADMIN, /* admin.c checks its members */
	FRAME_RELEASE, /* release_approve, release_reject: release.c checks them */
	FRAME_ALERT_UNVERIFIED, /* unverified.c checks its members */
	FRAME_CRIME_REPORT, /* crime_report.c checks its members */
	FRAME_IMPORT_REJECT, /* inbox.c checks its members */
};

struct frame_publish {
	json_t *rec;           /* owned: the normalised record (frame_publish.c) */
	const char *headline;  /* borrowed from rec; NULL for an update that keeps it */
	const char *body;      /* borrowed from rec */
	const char *severity;  /* borrowed from rec */
	int64_t *orgs;         /* owned */
	size_t n_orgs;
	int64_t *sites;        /* owned */
	size_t n_sites;
};

struct client_frame {
	enum frame_type type;
	char ref[FRAME_REF_MAX + 1]; /* "" when the request had none */
	json_t *root;                /* owned: the parsed message */
	union {
		struct {
			const char *token;   /* NULL when absent */
			size_t token_len;
			int resume;          /* 1 when a resume position was given */
			const char *epoch;   /* borrowed */
			int64_t seq;
			int64_t since;       /* resume.since (<= seq), -1 when not given */
		} hello;
		struct frame_publish publish;
		struct { int64_t alert_id; } ack; /* also read and receipts */
		struct {
			int64_t site_id;
			int64_t limit;       /* 1..FRAME_HISTORY_LIMIT_MAX, default 50 */
			const char *before;  /* borrowed; NULL when absent */
		} history;
	} u;
};

struct frame_error {
	const char *code;             /* static string, e.g. "bad_field" */
	char field[FRAME_FIELD_MAX];  /* "" when no single field is at fault */
	char message[256];
	char ref[FRAME_REF_MAX + 1];  /* the request's ref when it could be read */
};

/* Checks a publish message into p (frame_publish.c); get_ids reads an id
 * array member. 0, or -1 with err filled. */
int frame_publish_check(json_t *root, struct frame_publish *p,
			int (*get_ids)(json_t *, const char *, int64_t **, size_t *,
				       struct frame_error *),
			struct frame_error *err);

/* 0 and a filled frame (release with frame_free), or -1 and a filled err. */
int frame_parse(const char *buf, size_t len, struct client_frame *out, struct frame_error *err);
void frame_free(struct client_frame *frame);

/* Sets err from its parts (printf-style message). */
void frame_error_set(struct frame_error *err, const char *code, const char *field,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* The error frame as compact JSON (malloc'd; caller frees), or NULL on OOM. */
char *frame_error_json(const struct frame_error *err);

/* Serialises a server frame (compact); caller frees. Steals obj. */
char *frame_dump(json_t *obj, size_t *len);

#endif
