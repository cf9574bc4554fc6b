/* revocation.c: closes the sessions of disabled users and revoked tokens.
 * (Placeholder until the token lifecycle work lands.) */
#include "broker.h"

void revocation_start(struct broker *b)
{
	(void)b;
}
