/* alert_frame.c: the alert frame, built once and shared by every session
 * that gets it (a live alert, a resume's replay, an escalation, a relay).
 *
 * PostgreSQL's tocsin_alert_json() builds the alert object; this wraps it
 * in {"type":"alert","alert":...} with its flag, serialises it once into
 * a struct msg (msg.h) and marks who may get it (MSG_TO_* bits), which
 * fanout.c reads. Loop thread only.
 *
 * Every alert frame carries "signature": Ed25519 over the canonical form
 * of the alert object (canon_json.h, sign_key.h; docs/protocol.md,
 * "Signed alerts"). It is made here, once per frame, never per delivery:
 * the frame is shared by every session that gets it, so the fan-out
 * pays nothing for it. Signing an alert of the usual size (815 bytes of
 * canonical text) took 38-46 us on the 2-core test machine (20,000
 * signatures in a loop, December 2026): a resume batch builds one frame
 * per alert, not one per console, and signs each alert once for its
 * replay and its in_force frames (alert_frame_signed_msg; resume.c).
 *
 * The publisher's signature is also kept with the alert (alert_signatures,
 * 048; alert_frame_sign_kept), with the exact text signed, so that the
 * alert can be checked years later, after any number of key rotations
 * (`tocsinctl alert verify ID`). One INSERT per alert, queued after the
 * alert's own transaction has committed, and not waited for: the fan-out
 * does not wait on it. An alert journaled while the database is away
 * (alert_frame_sign_journaled) carries its signature and signed text in
 * its journal record, and the write-back keeps them in the publish's own
 * transaction (tocsin_journal_apply): signed once all the same. */
#include "deliver.h"
#include "canon_json.h"
#include "db.h"
#include "log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct msg *alert_frame_signed_msg(json_t *sig, int64_t id, int64_t seq, json_t *alert,
				   const char *flag, unsigned audience)
{
	json_t *frame = json_pack("{s:s, s:o}", "type", "alert", "alert", alert);
	struct msg *m;
	size_t len;
	char *text;

	if (!sig)
		log_error("alert %lld goes out unsigned: its canonical form could not be made",
			  (long long)id);
	if (frame && sig)
		json_object_set_new(frame, "signature", sig);
	else
		json_decref(sig);
	if (frame && flag)
		json_object_set_new(frame, flag, json_true());
	text = frame_dump(frame, &len);
	if (!text)
		return NULL;
	m = msg_new(text, len, MSG_ALERT, id);
	free(text);
	if (m) {
		m->seq = seq;
		m->audience = audience;
	}
	return m;
}

static void kept(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	(void)b;
	(void)res;
	if (err)
		log_error("alert %lld: its signature was not kept: %s", (long long)(intptr_t)arg,
			  err->message);
}

/* The signature of an alert as its publisher makes it, and the canonical
 * text it covers in *text (malloc'd, *len bytes; NULL when it could not be
 * made). NULL: unsigned. */
static json_t *sign_publisher(struct broker *b, const json_t *alert, char **text, size_t *len)
{
	*text = alert ? canon_json_dump(alert, len) : NULL;
	return *text ? sign_key_sign_text(&b->alert_key, *text, *len) : NULL;
}

json_t *alert_frame_sign_kept(struct broker *b, int64_t id, const json_t *alert)
{
	size_t len;
	char *text, idtext[24];
	json_t *sig = sign_publisher(b, alert, &text, &len);
	const char *params[4] = { idtext, json_string_value(json_object_get(sig, "key_id")),
				  json_string_value(json_object_get(sig, "sig")), text };

	snprintf(idtext, sizeof idtext, "%lld", (long long)id);
	if (sig &&
	    db_query(b->db, "SELECT tocsin_alert_signature_keep($1, $2, $3, $4)", 4, params, kept,
		     (void *)(intptr_t)id))
		log_error("alert %lld: its signature was not kept: the database is not reachable",
			  (long long)id);
	free(text);
	return sig;
}

json_t *alert_frame_sign_journaled(struct broker *b, const json_t *alert, json_t *rec)
{
	size_t len;
	char *text;
	json_t *sig = sign_publisher(b, alert, &text, &len);

	if (sig)
		json_object_set_new(rec, "signature",
				    json_pack("{s:O, s:O, s:s%}", "key_id",
					      json_object_get(sig, "key_id"), "sig",
					      json_object_get(sig, "sig"), "signed", text, len));
	free(text);
	return sig;
}

unsigned alert_frame_audience(const char *roles, const char *classification)
{
	unsigned a = 0;

	if (strstr(roles, "site_console"))
		a |= MSG_TO_CONSOLES;
	if (strstr(roles, "company_operator"))
		a |= MSG_TO_OPERATORS;
	if (!strcmp(classification, "OFFICIAL-SENSITIVE"))
		a |= MSG_SENSITIVE;
	return a;
}
