/* handle_relay.c, handle_answer, handle_preview: placeholders until the
 * alert model work lands. */
#include "broker.h"

void handle_preview(struct session *s, struct client_frame *f)
{
	session_reply_error(s, f->ref, "unknown_type", "type", "not implemented yet");
}

void handle_relay(struct session *s, struct client_frame *f)
{
	session_reply_error(s, f->ref, "unknown_type", "type", "not implemented yet");
}

void handle_answer(struct session *s, struct client_frame *f)
{
	session_reply_error(s, f->ref, "unknown_type", "type", "not implemented yet");
}
