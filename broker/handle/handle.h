/* handle.h: the handlers, the only place that decides (handle/).
 *
 * One file per request or job. A request handler takes the session and
 * its decoded frame (frame.h; the frame and what it owns stay the
 * caller's unless the handler says it takes a member); the protocol's
 * dispatch table (proto.c) calls it. The jobs run on timers from start
 * (escalation, the audit sealer, the image expiry sweep, the metrics
 * probe). Handlers reach
 * down only: the frames and their audience (deliver.h), the sessions
 * (session.h), the database, journal and bus (io/). Loop thread only. */
#ifndef TOCSIN_HANDLE_H
#define TOCSIN_HANDLE_H

#include "broker.h"
#include "deliver.h"
#include "session.h"
#include "status_batch.h"

/* hello.c: signs a session in (token, then the revocation check). */
void hello_handle(struct session *s, struct client_frame *f);

/* resume.c: hello's welcome and a resuming session's backlog. */
void resume_start(struct session *s, struct client_frame *f);
/* Starts the resumes that waited for the database and the journal: the
 * journal's drained hook (journal.h). */
void resume_pending_all(struct broker *b);

/* in_force.c: the alerts in force (docs/protocol.md, "Alerts in force").
 * in_force_frame: one alert in force for a session signing in, with the
 * alert's text (NULL: only its id, the backlog carried it), its signature
 * object's text (sign_key.h; with the alert, as an alert frame has it)
 * and the session's state (a JSON object's text, whose members join the
 * frame); delivery 1 records its writing as a delivery of the alert
 * (consoles and operators). NULL when out of memory. */
struct msg *in_force_frame(int64_t id, int64_t seq, const char *alert, const char *signature,
			   const char *state, int delivery);
/* The end of a sign-in's list: status "ok" (count frames came) or
 * "unavailable". */
void in_force_done(struct session *s, const char *status, int count);
/* A new alert, update or relay, to the force's desks (alert and its
 * signature sig borrowed; sig NULL: unsigned), but except_session: the
 * publisher has its `published` (and in a flood its queue would hold
 * every alert twice). */
void in_force_live(struct broker *b, int64_t id, json_t *alert, json_t *sig,
		   int recipients, uint64_t except_session);
/* Tells who had them that the alerts an update or cancel ended left
 * force (at: the update's or cancel's time). */
void in_force_ended_by(struct broker *b, int64_t alert_id, const char *at);
/* The expiry job: tells who had them that alerts expired. */
void in_force_start(struct broker *b);

/* publish.c: takes f->u.publish.rec. publish_request serves every
 * requester (a session or a bus adapter; r is copied). */
void publish_handle(struct session *s, struct client_frame *f);
void publish_request(struct broker *b, const struct requester *r, struct client_frame *f);
/* Publishes a record publish_request named (alert_id, user_id, remote,
 * at): the database, or the journal. Takes rec; r is copied. */
void publish_record(struct broker *b, const struct requester *r, json_t *rec);

/* unverified.c: a console's report of an alert whose signature failed
 * its check (audited). */
void unverified_handle(struct session *s, struct client_frame *f);

/* release.c: two-person release. release_check asks the policy about a
 * session's publish (root: the frame, for release_alone) and holds it,
 * or publishes it (publish_record); takes rec and returns 0, or returns
 * -1 without taking it when the database cannot be asked. */
int release_check(struct broker *b, const struct requester *r, json_t *rec, json_t *root);
/* release_approve and release_reject (controllers). */
void release_handle(struct session *s, struct client_frame *f);
/* The expiry job, from start. */
void release_start(struct broker *b);
/* A controller signed in: the releases waiting, and those released alone
 * in the last 24 hours. */
void release_sign_in(struct session *s);

/* receipt.c: ack and read, one at a time or as a receipts frame. */
void receipt_handle(struct session *s, struct client_frame *f);
void receipt_handle_batch(struct session *s, struct client_frame *f);
/* Writes the acks and reads still waiting for a batch (at stop), and
 * frees the queue (after the loop). */
void receipt_flush(struct broker *b);
void receipt_free(struct broker *b);

/* relay.c: the preview of who an alert would reach, a company's relay to
 * its sites, and a console's answer to a request. */
void relay_preview(struct session *s, struct client_frame *f);
void relay_handle(struct session *s, struct client_frame *f);
void relay_answer(struct session *s, struct client_frame *f);
/* The relay_notice of relay alert (its object, with "relay") to the desk
 * of watcher_org, the organisation that sent the original; sites are the
 * relay's recipients. The notice carries the relay alert whole with sig,
 * the relay's own signature (borrowed; NULL: unsigned), so that a desk
 * checks the note it shows. Also for a relay another node made (nodes.c). */
void relay_notice(struct broker *b, const json_t *alert, json_t *sig, const int64_t *sites,
		  size_t n, int64_t watcher_org, const char *classification);

/* status.c: building status, the board, area totals, report-now. */
void status_handle(struct session *s, struct client_frame *f);
void status_board(struct session *s, struct client_frame *f);
void status_area_totals(struct session *s, struct client_frame *f);
void status_report_now(struct session *s, struct client_frame *f);
/* A site added or changed by an administrator: its board entry (as
 * tocsin_board_site writes it) goes to the boards that may see it, as a
 * status_update, so it appears, by its name, without a reload. */
void status_board_changed(struct broker *b, json_t *site);
/* What another node's status reports changed (nodes.c): the rows of
 * tocsin_status_reported (site_id, guard_org_id, site, request_id,
 * requested_by, progress) to the boards and report-now askers here. */
void status_reported(struct broker *b, PGresult *res);
/* Another node's report-now requests (nodes.c): the rows of
 * tocsin_report_requests_of (request_id, asked, by_name, requested_at)
 * to the consoles asked here. */
void status_requested(struct broker *b, PGresult *res);
/* The status batch's hook (status_batch.h): answers one stored report. */
void status_stored(struct broker *b, struct status_report *r, PGresult *res, int row,
		   const struct db_error *err);

/* report.c: partner reports; report_request serves every requester. */
void report_handle(struct session *s, struct client_frame *f);
void report_request(struct broker *b, const struct requester *r, struct client_frame *f);
/* The kind of a report (sighting, suspicious, crime, other) in obj's
 * member name: 0, or -1 with err filled; absent is fine when !required
 * (*out NULL). */
int report_kind_check(json_t *obj, const char *name, int required, const char **out,
		      struct frame_error *err);
/* The place of a sighting (members lat and lon): both or neither, inside
 * the force's area (report.c's PLACE_*); absent is fine (*has 0). */
int report_place_check(json_t *root, double *lat, double *lon, int *has, struct frame_error *err);
/* Sends {"type": type, "report": report_json} to every controller and
 * analyst session but except_session (0: none). */
void report_to_force(struct broker *b, const char *type, const char *report_json,
		     uint64_t except_session);

/* crime_report.c: crime records from partners and the force (a
 * crime_report frame), and the stolen-property matches they make. */
void crime_report_handle(struct session *s, struct client_frame *f);

/* inbox.c: the force's inbox, filtered, and working a report (handled,
 * assigned, linked to an alert, a pending CAP import rejected). */
void inbox_handle(struct session *s, struct client_frame *f);
void inbox_update(struct session *s, struct client_frame *f);
/* import_reject: a pending CAP import closed with a reason. */
void inbox_reject(struct session *s, struct client_frame *f);
/* A publish released pending import report_id: every controller and
 * analyst desk hears it closed (report_updated). */
void inbox_announce(struct broker *b, int64_t report_id);

/* admin.c: administration from the browser (the `admin` frame, role
 * admin), through tocsin_admin_web(); admin_password_ready is the
 * password worker's hook (pwhash.h). */
void admin_handle(struct session *s, struct client_frame *f);
void admin_password_ready(struct broker *b, uint64_t job, const char *password,
			  const char *hash);
/* Drops the changes still waiting for a password (at stop, after the
 * password worker). */
void admin_free(void);

/* history.c: a site's history (status reports, alerts received). */
void history_handle(struct session *s, struct client_frame *f);
/* directory.c: who is who (organisations, sites, connections). */
void directory_handle(struct session *s, struct client_frame *f);
/* refresh.c: a new token over the live connection. */
void refresh_handle(struct session *s, struct client_frame *f);

/* The jobs, each on its own timer from start. */
/* escalation.c: severe alerts unacknowledged in time. */
void escalation_start(struct broker *b);
/* This node leads now: look for what is due at once. */
void escalation_lead(struct broker *b);
/* Re-sends and raises the escalations of rows as tocsin_escalate (or
 * tocsin_escalations_of, for another node's) returns them. */
void escalation_send(struct broker *b, PGresult *res);
/* audit_sealer.c: seals the audit trail. */
void audit_sealer_start(struct broker *b);
/* Frees the sealer's mark (at stop). */
void audit_sealer_free(struct broker *b);
/* image_sweep.c: erases expired images. */
void image_sweep_start(struct broker *b);

/* retention.c: erases alerts, delivery records, partner reports, status
 * history and audit details past their retention-*-days. */
void retention_start(struct broker *b);
/* crime_sweep.c: erases crime records past their retention. */
void crime_sweep_start(struct broker *b);
/* applied_prune.c: journal_applied's record ids past their retention. */
void applied_prune_start(struct broker *b);
/* metrics_probe.c: the database's figures for /metrics; kick: a scrape
 * asks for fresh ones. */
void metrics_probe_start(struct broker *b);
void metrics_probe_kick(struct broker *b);

/* nodes.c: the other brokers on the same database (peers.h), and alerts
 * fanned out in stream order. nodes_start makes the state (b->nodes), -1
 * when out of memory. */
int nodes_start(struct broker *b);
void nodes_free(struct broker *b);
/* Fans a durable alert out (m->seq its position, 0 while journaled), in
 * stream order: at once when it is the next position here, else after the
 * other nodes' alerts before it (read from the database). publish.c and
 * relay.c send their alerts through it. */
void nodes_fan_out(struct broker *b, struct msg *m, const int64_t *sites, size_t n_sites,
		   const int64_t *orgs, size_t n_orgs);
/* The peers' hooks (peers.h), registered by server.c. */
void nodes_alerts(struct broker *b, const int64_t *ids, size_t n);
void nodes_receipts(struct broker *b, const int64_t *ids, size_t n);
void nodes_status(struct broker *b, const int64_t *ids, size_t n);
void nodes_requests(struct broker *b, const int64_t *ids, size_t n);
void nodes_reports(struct broker *b, const int64_t *ids, size_t n);
void nodes_escalations(struct broker *b, const int64_t *ids, size_t n);
void nodes_linked(struct broker *b);
void nodes_leading(struct broker *b, int leading);

#endif
