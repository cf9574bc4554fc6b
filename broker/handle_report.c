/* handle_report.c: partner reports and the inbox.
 * (Placeholder until the reports work lands: answers "unknown_type".) */
#include "broker.h"

void handle_report(struct session *s, struct client_frame *f)
{
	session_reply_error(s, f->ref, "unknown_type", "type", "not implemented yet");
}

void handle_inbox(struct session *s, struct client_frame *f)
{
	session_reply_error(s, f->ref, "unknown_type", "type", "not implemented yet");
}
