/* handle_refresh.c: a new token over the live connection.
 * (Placeholder until the token lifecycle work lands.) */
#include "broker.h"

void handle_refresh(struct session *s, struct client_frame *f)
{
	session_reply_error(s, f->ref, "unknown_type", "type", "not implemented yet");
}
