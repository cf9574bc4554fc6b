/* tocsinctl: Tocsin's administration tool. For now: hash-password, which
 * prints the argon2id hash of a password read from standard input, for
 * loading users. More commands arrive with the administration issue. */
#include "log.h"
#include "password.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
	"usage: tocsinctl COMMAND\n"
	"\n"
	"commands:\n"
	"  hash-password   read a password from standard input (one line) and print\n"
	"                  its argon2id hash, as stored in users.password_hash\n"
	"  help            this text\n"
	"\n"
	"exit codes: 0 success, 1 failure, 2 usage error\n";

static int hash_password(void)
{
	char line[512], hash[PASSWORD_HASH_MAX];
	size_t len;

	if (!fgets(line, sizeof line, stdin)) {
		fprintf(stderr, "tocsinctl: no password on standard input\n");
		return 1;
	}
	len = strcspn(line, "\r\n");
	line[len] = '\0';
	if (len == 0 || len > 256) {
		fprintf(stderr, "tocsinctl: the password must be 1 to 256 characters\n");
		return 1;
	}
	if (password_hash(line, len, hash)) {
		fprintf(stderr, "tocsinctl: out of memory while hashing\n");
		return 1;
	}
	sodium_memzero(line, sizeof line);
	puts(hash);
	return 0;
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0) {
		fprintf(stderr, "tocsinctl: libsodium failed to start\n");
		return 1;
	}
	if (argc == 2 && !strcmp(argv[1], "hash-password"))
		return hash_password();
	if (argc == 2 && (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help"))) {
		fputs(usage, stdout);
		return 0;
	}
	fputs(usage, stderr);
	return 2;
}
