/* images.c: offender images: expiry and erasure.
 * (Placeholder until the images work lands.) */
#include "broker.h"

void images_start(struct broker *b)
{
	(void)b;
}
