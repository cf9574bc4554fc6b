/* deliver.h: who gets what, and the frames they get (deliver/).
 *
 * The audience rules live here and only here (fanout.c): an alert goes to
 * the consoles of its recipient sites and to the operators of the
 * companies guarding them; tallies go to the force's desks and the desks
 * of the organisation that sent the alert; a company hears its sites' receipts
 * (receipt_notices.c). Each frame is built once (alert_frame.c) and the
 * same message queued on every session that gets it. Loop thread only. */
#ifndef TOCSIN_DELIVER_H
#define TOCSIN_DELIVER_H

#include "broker.h"
#include "id_array.h"
#include "session.h"
#include "tally.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* ---- fanout.c */

/* Sends an alert message to the consoles of recipient sites and to the
 * operators of the companies guarding them (sites and orgs sorted). */
void fanout_alert(struct broker *b, struct msg *m, const int64_t *sites, size_t n_sites,
		  const int64_t *orgs, size_t n_orgs);
/* Sends a tally to its watchers (fanout_to_watchers): the force's desks,
 * the sending organisation's and, for a relay, the organisation that
 * sent the original (watcher_org; 0 for none). Also the delivery log's
 * tally hook (tally.h). */
void fanout_tally(struct broker *b, int64_t alert_id, int64_t sender_org, int64_t watcher_org,
		  const struct tally *t);
/* Sends a message to those who watch an alert's receipts: the force's
 * desks, and the desks of sender_org and watcher_org (a relaying
 * company's operators; 0 for none). */
void fanout_to_watchers(struct broker *b, struct msg *m, int64_t sender_org, int64_t watcher_org);
/* Sends a message to the desk of org: its controllers and analysts, or
 * its company operators. */
void fanout_to_org_desk(struct broker *b, struct msg *m, int64_t org);
/* Sends a message to every controller and analyst session (the force's
 * desks: partner reports and the inbox, the alerts in force), but
 * except_session (0: none); OFFICIAL-SENSITIVE content to cleared ones
 * only; through their gates, so that none overtakes a sign-in's list. */
void fanout_to_force(struct broker *b, struct msg *m, uint64_t except_session);
/* Sends a message to every controller and duty inspector session but
 * except_session (0: none), and to the sessions of also_user (0: none):
 * the two-person release's frames (release.c). An inspector is on the
 * desks' list for these alone: every other fan-out over it names the
 * roles it serves, or (by organisation) leaves inspectors out. */
void fanout_to_controllers(struct broker *b, struct msg *m, uint64_t except_session,
			   int64_t also_user);
/* 1 when someone other than except_user who may release a held alert is
 * signed in here: a duty inspector, or (unless inspectors_only, the
 * policy's approver) a controller. */
int fanout_approvers_present(struct broker *b, int64_t except_user, int inspectors_only);
/* Sends a message to the consoles of one site (escalated:true alerts),
 * or to the operators of one company. */
void fanout_to_site(struct broker *b, struct msg *m, int64_t site_id);
void fanout_to_company(struct broker *b, struct msg *m, int64_t org_id);

/* ---- alert_frame.c */

/* The alert frame around an alert object (stolen; built by PostgreSQL's
 * tocsin_alert_json) with its signature (sig stolen; NULL: the frame goes
 * out unsigned, logged), flag ("replay", "escalated") set true if given,
 * for the audience (MSG_TO_* bits) given. NULL when out of memory. The
 * caller signs an alert once (sign_key_sign_json, alert_frame_sign_kept)
 * for every frame that carries it (resume.c: a replay and an in_force;
 * escalation.c: the consoles' alert and the desks' escalation). */
struct msg *alert_frame_signed_msg(json_t *sig, int64_t id, int64_t seq, json_t *alert,
				   const char *flag, unsigned audience);
/* Signs an alert once as its publisher (a publish, a relay) and keeps the
 * signature and the canonical text it covers with the alert in PostgreSQL
 * (alert_signatures, `tocsinctl alert verify ID`). Returns the signature
 * object (caller owns; NULL: unsigned, logged by alert_frame_signed_msg). */
json_t *alert_frame_sign_kept(struct broker *b, int64_t id, const json_t *alert);
/* The same for an alert the journal takes while the database is away
 * (its row does not exist yet): what alert_signatures will keep goes in
 * the journal record rec, as "signature": {"key_id", "sig", "signed"},
 * which the write-back stores (tocsin_journal_apply). */
json_t *alert_frame_sign_journaled(struct broker *b, const json_t *alert, json_t *rec);
/* MSG_TO_* bits from an alert's target roles and classification. */
unsigned alert_frame_audience(const char *roles, const char *classification);

/* ---- receipt_notices.c: a company's desk hears, live, that one of its
 * sites read, acknowledged or answered an alert (site_receipt frames,
 * docs/protocol.md). The audience is the operators of the company that
 * guards the site, and only for alerts the company was sent itself (or its
 * own relays); tocsin_receipt_audience() decides, in one query per batch
 * of receipts. */
struct receipt_notices;

/* An empty set of notices; NULL when out of memory. */
struct receipt_notices *receipt_notices_new(void);
/* Adds one: kind "read", "acked" or "answered"; answer NULL unless
 * answered. Returns 0, or -1 when out of memory (n unchanged). */
int receipt_notices_add(struct receipt_notices *n, const char *kind, int64_t alert_id,
			int64_t site_id, const char *by, const char *at, const char *answer);
/* Sends them to the guarding companies' operators and frees n (NULL is
 * fine). Asks the database nothing when no operator is connected. */
void receipt_notices_send(struct broker *b, struct receipt_notices *n);

#endif
