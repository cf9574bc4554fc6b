/* fanout.c: who gets which server frame.
 *
 * The audience rules live here and only here: an alert goes to the
 * consoles of its recipient sites and to the operators of the companies
 * guarding them; tallies and answers go to every controller and analyst
 * of the force (the shared control room) and to a relaying company;
 * escalations go to the controllers and analysts of the organisation that
 * sent the alert. Each frame is serialised once and the same message is
 * queued on every connection that gets it. Loop thread only. */
#include "deliver.h"
#include "clock.h"

#include <stdlib.h>

static int contains(const int64_t *sorted, size_t n, int64_t id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (sorted[mid] == id)
			return 1;
		if (sorted[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* Whether a session may see a message: OFFICIAL-SENSITIVE content goes
 * to cleared users only, whatever the path. */
static int may_see(const struct session *s, const struct msg *m)
{
	return s->authed && (!(m->audience & MSG_SENSITIVE) || s->who.cleared);
}

void fanout_alert(struct broker *b, struct msg *m, const int64_t *sites, size_t n_sites,
		  const int64_t *orgs, size_t n_orgs)
{
	if (!b->metrics.fanout_since_us) /* flush_pass observes it once all is written */
		b->metrics.fanout_since_us = clock_now_us();
	for (struct session *s = b->sessions; s; s = s->next) {
		if (!s->authed || ((m->audience & MSG_SENSITIVE) && !s->who.cleared))
			continue;
		if (((m->audience & MSG_TO_CONSOLES) && s->who.role == ROLE_SITE_CONSOLE &&
		     contains(sites, n_sites, s->who.site_id)) ||
		    ((m->audience & MSG_TO_OPERATORS) && s->who.role == ROLE_COMPANY_OPERATOR &&
		     contains(orgs, n_orgs, s->who.org_id)))
			gate_deliver(s, m);
	}
}

void fanout_to_site(struct broker *b, struct msg *m, int64_t site_id)
{
	for (lws_dll2_t *d = lws_dll2_get_head(session_site_chain(b, site_id)); d; d = d->next) {
		struct session *s = lws_container_of(d, struct session, site_link);
		if (may_see(s, m) && s->who.site_id == site_id)
			gate_deliver(s, m);
	}
}

void fanout_to_company(struct broker *b, struct msg *m, int64_t org_id)
{
	for (lws_dll2_t *d = lws_dll2_get_head(&b->desks); d; d = d->next) {
		struct session *s = lws_container_of(d, struct session, desk_link);
		if (may_see(s, m) && s->who.role == ROLE_COMPANY_OPERATOR && s->who.org_id == org_id)
			session_send(s, m);
	}
}

static int is_force_desk(const struct session *s)
{
	return s->who.role == ROLE_CONTROLLER || s->who.role == ROLE_ANALYST;
}

/* A desk that hears its organisation's frames: a controller, analyst or
 * company operator. A duty inspector is on the desks list for releases
 * only (fanout_to_controllers, fanout_approvers_present). */
static int is_org_desk(const struct session *s)
{
	return is_force_desk(s) || s->who.role == ROLE_COMPANY_OPERATOR;
}

void fanout_to_org_desk(struct broker *b, struct msg *m, int64_t org)
{
	if (!org)
		return;
	for (lws_dll2_t *d = lws_dll2_get_head(&b->desks); d; d = d->next) {
		struct session *s = lws_container_of(d, struct session, desk_link);
		if (may_see(s, m) && s->who.org_id == org && is_org_desk(s))
			session_send(s, m);
	}
}

void fanout_to_force(struct broker *b, struct msg *m, uint64_t except_session)
{
	for (lws_dll2_t *d = lws_dll2_get_head(&b->desks); d; d = d->next) {
		struct session *s = lws_container_of(d, struct session, desk_link);
		if (may_see(s, m) && is_force_desk(s) && s->id != except_session)
			gate_deliver(s, m);
	}
}

void fanout_to_watchers(struct broker *b, struct msg *m, int64_t sender_org, int64_t watcher_org)
{
	for (lws_dll2_t *d = lws_dll2_get_head(&b->desks); d; d = d->next) {
		struct session *s = lws_container_of(d, struct session, desk_link);
		if (may_see(s, m) && is_org_desk(s) &&
		    (is_force_desk(s) || (sender_org && s->who.org_id == sender_org) ||
		     (watcher_org && s->who.org_id == watcher_org)))
			session_send(s, m);
	}
}

void fanout_to_controllers(struct broker *b, struct msg *m, uint64_t except_session,
			   int64_t also_user)
{
	for (lws_dll2_t *d = lws_dll2_get_head(&b->desks); d; d = d->next) {
		struct session *s = lws_container_of(d, struct session, desk_link);
		if ((s->who.role == ROLE_CONTROLLER || s->who.role == ROLE_INSPECTOR ||
		     s->who.user_id == also_user) &&
		    s->id != except_session)
			session_send(s, m);
	}
}

int fanout_approvers_present(struct broker *b, int64_t except_user, int inspectors_only)
{
	for (lws_dll2_t *d = lws_dll2_get_head(&b->desks); d; d = d->next) {
		struct session *s = lws_container_of(d, struct session, desk_link);
		if ((s->who.role == ROLE_INSPECTOR ||
		     (s->who.role == ROLE_CONTROLLER && !inspectors_only)) &&
		    s->who.user_id != except_user)
			return 1;
	}
	return 0;
}

void fanout_tally(struct broker *b, int64_t alert_id, int64_t sender_org, int64_t watcher_org,
		  const struct tally *t)
{
	size_t len;
	char *text = frame_dump(json_pack("{s:s, s:I, s:i, s:i, s:i, s:i, s:i}", "type", "tally",
					  "alert_id", (json_int_t)alert_id,
					  "recipients", (int)t->recipients,
					  "delivered", (int)t->delivered, "read", (int)t->read,
					  "acknowledged", (int)t->acknowledged,
					  "escalated", (int)t->escalated),
				&len);
	struct msg *m;

	if (!text)
		return;
	m = msg_new(text, len, MSG_CONTROL, 0);
	free(text);
	if (!m)
		return;
	fanout_to_watchers(b, m, sender_org, watcher_org);
	msg_unref(m);
}
