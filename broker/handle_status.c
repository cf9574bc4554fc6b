/* handle_status.c: building status, the board, area totals, report-now.
 * (Placeholder until the status work lands: answers "unknown_type".) */
#include "broker.h"

static void not_yet(struct session *s, struct client_frame *f)
{
	session_reply_error(s, f->ref, "unknown_type", "type", "not implemented yet");
}

void handle_status(struct session *s, struct client_frame *f) { not_yet(s, f); }
void handle_board(struct session *s, struct client_frame *f) { not_yet(s, f); }
void handle_area_totals(struct session *s, struct client_frame *f) { not_yet(s, f); }
void handle_report_now(struct session *s, struct client_frame *f) { not_yet(s, f); }
