/* audit_chain.c: audit seals (see audit_chain.h). */
#include "audit_chain.h"

#include <sodium.h>
#include <string.h>

void audit_chain_seal(const unsigned char key[AUDIT_KEY_BYTES], const unsigned char *prev,
		      const char *canonical, size_t len, unsigned char out[AUDIT_SEAL_BYTES])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, key, AUDIT_KEY_BYTES, AUDIT_SEAL_BYTES);
	if (prev)
		crypto_generichash_update(&st, prev, AUDIT_SEAL_BYTES);
	crypto_generichash_update(&st, (const unsigned char *)canonical, len);
	crypto_generichash_final(&st, out, AUDIT_SEAL_BYTES);
}

int audit_chain_parse_seal(const char *text, unsigned char out[AUDIT_SEAL_BYTES])
{
	size_t n;

	if (!text || strncmp(text, "\\x", 2) != 0 || strlen(text) != 2 + 2 * AUDIT_SEAL_BYTES)
		return -1;
	if (sodium_hex2bin(out, AUDIT_SEAL_BYTES, text + 2, 2 * AUDIT_SEAL_BYTES, NULL, &n, NULL) != 0 ||
	    n != AUDIT_SEAL_BYTES)
		return -1;
	return 0;
}
