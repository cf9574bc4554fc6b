/* receipt_notices.c: site_receipt frames to the desk of the company that
 * guards the site (see deliver.h). A notice is a live hint: if the
 * database cannot say who may see it, it is dropped and logged, and the
 * desk still gets the truth from `receipts`. Loop thread only. */
#include "deliver.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct notice {
	char kind[10];
	int64_t alert_id, site_id;
	char by[USERNAME_MAX + 1];
	char at[40];
	char answer[48];
	int has_answer;
};

struct receipt_notices {
	struct notice *items;
	size_t n, cap;
};

struct receipt_notices *receipt_notices_new(void)
{
	return calloc(1, sizeof(struct receipt_notices));
}

static void notices_free(struct receipt_notices *n)
{
	if (n)
		free(n->items);
	free(n);
}

int receipt_notices_add(struct receipt_notices *n, const char *kind, int64_t alert_id,
			int64_t site_id, const char *by, const char *at, const char *answer)
{
	struct notice *it;

	if (n->n == n->cap) {
		size_t cap = n->cap ? n->cap * 2 : 16;
		struct notice *grown = realloc(n->items, cap * sizeof *grown);
		if (!grown)
			return -1;
		n->items = grown;
		n->cap = cap;
	}
	it = &n->items[n->n++];
	memset(it, 0, sizeof *it);
	snprintf(it->kind, sizeof it->kind, "%s", kind);
	it->alert_id = alert_id;
	it->site_id = site_id;
	snprintf(it->by, sizeof it->by, "%s", by ? by : "");
	snprintf(it->at, sizeof it->at, "%s", at ? at : "");
	if (answer) {
		snprintf(it->answer, sizeof it->answer, "%s", answer);
		it->has_answer = 1;
	}
	return 0;
}

/* Whether any company operator is signed in: if none, nobody to tell. */
static int any_operator(const struct broker *b)
{
	for (const lws_dll2_t *d = b->desks.head; d; d = d->next)
		if (lws_container_of(d, struct session, desk_link)->who.role == ROLE_COMPANY_OPERATOR)
			return 1;
	return 0;
}

/* One notice as a frame, queued on the guarding company's operators
 * (cleared ones only when the alert is OFFICIAL-SENSITIVE). */
static void send_one(struct broker *b, const struct notice *it, int64_t org,
		     const char *site_name, int sensitive)
{
	json_t *o = json_pack("{s:s, s:I, s:I, s:s, s:s, s:s, s:s}", "type", "site_receipt",
			      "alert_id", (json_int_t)it->alert_id, "site_id",
			      (json_int_t)it->site_id, "site_name", site_name, "kind", it->kind,
			      "by", it->by, "at", it->at);
	struct msg *m = NULL;
	size_t len;
	char *text;

	if (o)
		json_object_set_new(o, "answer",
				    it->has_answer ? json_string(it->answer) : json_null());
	text = o ? frame_dump(o, &len) : NULL; /* frame_dump takes o */
	if (text)
		m = msg_new(text, len, MSG_CONTROL, 0);
	if (m) {
		if (sensitive)
			m->audience |= MSG_SENSITIVE;
		fanout_to_company(b, m, org);
		msg_unref(m);
	}
	free(text);
}

/* Columns: idx (1-based position), guard_org_id, site_name, sensitive. */
static void audience_ready(struct broker *b, void *arg, PGresult *res,
			   const struct db_error *err)
{
	struct receipt_notices *n = arg;

	if (err) {
		log_warn("site_receipt notices dropped (%zu): %s", n->n,
			 err->lost ? "database lost" : err->message);
	} else {
		for (int row = 0; row < PQntuples(res); row++) {
			long idx = strtol(PQgetvalue(res, row, 0), NULL, 10);
			if (idx < 1 || (size_t)idx > n->n)
				continue;
			send_one(b, &n->items[idx - 1], strtoll(PQgetvalue(res, row, 1), NULL, 10),
				 PQgetvalue(res, row, 2), !strcmp(PQgetvalue(res, row, 3), "t"));
		}
	}
	notices_free(n);
}

/* Appends "v" or ",v" to a growing PostgreSQL array literal. */
static int append_id(char **buf, size_t *len, size_t *cap, int64_t v)
{
	if (*len + 24 > *cap) {
		size_t cap2 = (*cap + 24) * 2;
		char *grown = realloc(*buf, cap2);
		if (!grown)
			return -1;
		*buf = grown;
		*cap = cap2;
	}
	*len += (size_t)snprintf(*buf + *len, *cap - *len, "%s%lld", *len > 1 ? "," : "",
				 (long long)v);
	return 0;
}

void receipt_notices_send(struct broker *b, struct receipt_notices *n)
{
	char *alerts = NULL, *sites = NULL;
	size_t la = 1, ca = 0, ls = 1, cs = 0;
	int ok = 1;

	if (!n || !n->n || !any_operator(b)) {
		notices_free(n);
		return;
	}
	for (size_t i = 0; ok && i < n->n; i++)
		ok = !append_id(&alerts, &la, &ca, n->items[i].alert_id) &&
		     !append_id(&sites, &ls, &cs, n->items[i].site_id);
	if (ok) {
		alerts[0] = sites[0] = '{';
		alerts[la++] = sites[ls++] = '}';
		alerts[la] = sites[ls] = '\0';
	}
	{
		const char *params[2] = { alerts, sites };
		if (!ok || db_query(b->db,
				    "SELECT idx, guard_org_id, site_name, sensitive"
				    "  FROM tocsin_receipt_audience($1::bigint[], $2::integer[])",
				    2, params, audience_ready, n)) {
			log_warn("site_receipt notices dropped (%zu): %s", n->n,
				 ok ? "database not connected" : "out of memory");
			notices_free(n);
		}
	}
	free(alerts);
	free(sites);
}
