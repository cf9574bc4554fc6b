/* requester.c: replies to a WebSocket session or to a bus adapter
 * (session.h). Loop thread only. */
#include "broker.h"
#include "session.h"
#include "log.h"

#include <string.h>

void requester_from_session(struct requester *r, const struct session *s, const char *ref)
{
	memset(r, 0, sizeof *r);
	r->session_id = s->id;
	snprintf(r->ref, sizeof r->ref, "%s", ref ? ref : "");
	r->who = s->who;
	snprintf(r->remote, sizeof r->remote, "%s", s->remote);
}

int requester_present(struct broker *b, const struct requester *r)
{
	if (r->via_bus)
		return b->bus != NULL;
	return session_find(b, r->session_id) != NULL;
}

void requester_send(struct broker *b, const struct requester *r, json_t *obj)
{
	struct session *s;

	if (!obj)
		return;
	if (r->via_bus) {
		bus_reply(b->bus, r->peer, r->peer_len, r->seq, obj);
		return;
	}
	s = session_find(b, r->session_id);
	if (!s) {
		json_decref(obj);
		return;
	}
	if (!json_object_get(obj, "ref"))
		json_object_set_new(obj, "ref", json_string(r->ref));
	session_send_json(s, obj);
}

void requester_error(struct broker *b, const struct requester *r, const char *code,
		     const char *field, const char *message)
{
	struct frame_error err = { 0 };

	frame_error_set(&err, code, field, "%s", message);
	requester_check_error(b, r, &err);
}

/* Sessions get the error frame exactly as session_send_error builds it
 * ("ref" only when the request had one); adapters get it with "seq". */
void requester_check_error(struct broker *b, const struct requester *r,
			   const struct frame_error *err)
{
	struct frame_error copy = *err;
	struct session *s;
	json_t *obj;

	if (!r->via_bus) {
		if ((s = session_find(b, r->session_id))) {
			snprintf(copy.ref, sizeof copy.ref, "%s", r->ref);
			session_send_error(s, &copy);
		}
		return;
	}
	obj = json_pack("{s:s, s:s, s:s}", "type", "error", "code", err->code, "message",
			err->message);
	if (obj && err->field[0])
		json_object_set_new(obj, "field", json_string(err->field));
	requester_send(b, r, obj);
}

void requester_db_error(struct broker *b, const struct requester *r,
			const struct db_error *err, const char *not_found_code)
{
	const char *field = err->column[0] ? err->column : NULL;

	if (err->lost)
		requester_error(b, r, "unavailable", NULL,
				"the database is not reachable; the request had no effect");
	else if (!strcmp(err->sqlstate, "TS403"))
		requester_error(b, r, "forbidden", NULL, err->message);
	else if (!strcmp(err->sqlstate, "TS404"))
		requester_error(b, r, not_found_code, field, err->message);
	else if (!strcmp(err->sqlstate, "TS409"))
		requester_error(b, r, "not_recipient", field, err->message);
	else if (!strcmp(err->sqlstate, "TS422"))
		requester_error(b, r,
				field && strcmp(field, "targets") && strcmp(field, "sites")
					? "bad_field" : "no_recipients",
				field, err->message);
	else {
		log_error("database error %s: %s", err->sqlstate, err->message);
		requester_error(b, r, "internal", NULL, "the request failed and had no effect");
	}
}

void requester_reply_object(struct session *s, const char *ref, const char *type,
			    const char *json_text)
{
	json_t *obj = json_loads(json_text, 0, NULL);

	if (!json_is_object(obj)) {
		json_decref(obj);
		log_error("%s %s: the database's answer is unreadable", type, ref);
		session_reply_error(s, ref, "internal", NULL, "the answer is unreadable");
		return;
	}
	json_object_set_new(obj, "type", json_string(type));
	json_object_set_new(obj, "ref", json_string(ref));
	session_send_json(s, obj);
}

/* The sessions' entry point, kept for the handlers that serve only them. */
void requester_reply_db_error(struct session *s, const char *ref, const struct db_error *err,
			      const char *not_found_code)
{
	struct requester r;

	requester_from_session(&r, s, ref);
	requester_db_error(session_broker(s), &r, err, not_found_code);
}
