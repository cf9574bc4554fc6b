/* password.c: argon2id password hashes (see password.h). */
#include "password.h"

#include <sodium.h>
#include <string.h>

int password_hash(const char *password, size_t len, char out[PASSWORD_HASH_MAX])
{
	_Static_assert(PASSWORD_HASH_MAX >= crypto_pwhash_STRBYTES, "hash buffer too small");
	if (crypto_pwhash_str(out, password, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
			      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
		return -1;
	return 0;
}

int password_matches(const char *stored_hash, const char *password, size_t len)
{
	char hash[crypto_pwhash_STRBYTES] = "";

	if (!stored_hash || strncmp(stored_hash, "$argon2id$", 10) != 0 ||
	    strlen(stored_hash) >= sizeof hash)
		return 0;
	memcpy(hash, stored_hash, strlen(stored_hash));
	return crypto_pwhash_str_verify(hash, password, len) == 0;
}

void password_burn(const char *password, size_t len)
{
	/* A hash of a random password with the same parameters as ours. */
	static const char decoy[crypto_pwhash_STRBYTES] =
		"$argon2id$v=19$m=65536,t=2,p=1$fCePGFAsSJIG+7y9yPUrQQ$"
		"FDk892fRcueTP7KrDMoetbtmb+9ekJQI9nLRy5xxuns";
	if (crypto_pwhash_str_verify(decoy, password, len) == 0) {
		/* Cannot happen for a real password; nothing to do either way. */
	}
}
