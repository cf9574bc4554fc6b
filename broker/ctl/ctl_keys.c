/* ctl_keys.c: tocsinctl keys init / rotate / show, the broker's keys.
 *
 * `keys init` makes the keys of a fresh install (token, audit, bus, TLS
 * tickets, alert signing: ctl_alert_keys.c, CAP signing: ctl_cap_key.c)
 * with the owner, group and mode the broker needs: tocsind never makes a
 * key itself (key_file.h). On an install made before the ticket key
 * existed, it makes that one alone.
 * tocsind signs tokens with --token-key FILE and also accepts tokens signed
 * with FILE.prev (broker/token_keys.h). `keys rotate` copies FILE to
 * FILE.prev, then puts a new random key in FILE; each file is written
 * beside its final name, flushed and renamed into place, so a reader sees
 * the old file or the new one, never half of one. The new files keep the
 * owner, group and mode of the key they replace (0600 when there is
 * none). A running broker notices within a few seconds: live sessions stay
 * connected, tokens already issued keep working until they expire (unless
 * a second rotation drops their key from FILE.prev), and refresh hands out
 * tokens under the new key. Needs no database. */
#include "bus_client.h"
#include "ctl.h"
#include "ctl_commands.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_BYTES 32
#define DEFAULT_TOKEN_KEY "./var/secrets/token.key"
#define DEFAULT_KEY_DIR "/etc/tocsin"
#define DEFAULT_KEY_GROUP "tocsin"

/* Reads a 32-byte key: CTL_OK, CTL_NOT_FOUND when missing (if missing_ok,
 * *present is 0 and CTL_OK), or CTL_FAILED after a message. */
static int read_key(const char *path, unsigned char key[KEY_BYTES], int missing_ok,
		    int *present)
{
	unsigned char extra;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n, more;

	*present = 0;
	if (fd < 0 && errno == ENOENT) {
		if (missing_ok)
			return CTL_OK;
		fprintf(stderr, "tocsinctl keys: no token key at %s (tocsinctl keys init makes "
				"it; --token-key names another)\n", path);
		return CTL_NOT_FOUND;
	}
	if (fd < 0) {
		fprintf(stderr, "tocsinctl keys: cannot read %s: %s\n", path, strerror(errno));
		return CTL_FAILED;
	}
	n = read(fd, key, KEY_BYTES);
	more = n == KEY_BYTES ? read(fd, &extra, 1) : 0;
	close(fd);
	if (n != KEY_BYTES || more != 0) {
		fprintf(stderr, "tocsinctl keys: %s is not a %d-byte key\n", path, KEY_BYTES);
		return CTL_FAILED;
	}
	*present = 1;
	return CTL_OK;
}

/* Flushes the folder of path, so that a rename in it survives a crash. */
int ctl_keys_sync_dir(const char *path)
{
	char *copy = strdup(path);
	int fd, rc = -1;

	if (!copy)
		return -1;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		rc = fsync(fd);
		close(fd);
	}
	free(copy);
	return rc;
}

/* Writes len bytes to path through path.tmp and a rename, with the
 * owner, group and mode of like (a stat of the file being replaced); a
 * secret is never made readable by others, a public file may be. */
int ctl_keys_write(const char *path, const void *data, size_t len, const struct stat *like,
		   int public)
{
	char tmp[4200];
	int fd;

	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
		fprintf(stderr, "tocsinctl keys: path too long: %s\n", path);
		return -1;
	}
	unlink(tmp); /* a leftover of an interrupted rotation */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		goto fail;
	if ((geteuid() == 0 && fchown(fd, like->st_uid, like->st_gid) != 0) ||
	    fchmod(fd, like->st_mode & (public ? 0644 : 0640)) != 0 ||
	    write(fd, data, len) != (ssize_t)len ||
	    fsync(fd) != 0) {
		close(fd);
		unlink(tmp);
		goto fail;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		unlink(tmp);
		goto fail;
	}
	return 0;
fail:
	fprintf(stderr, "tocsinctl keys: cannot write %s: %s\n", path, strerror(errno));
	return -1;
}

/* A short fingerprint of a key (BLAKE2b, 8 bytes, hex), to compare keys
 * without showing them. */
static void fingerprint(const unsigned char key[KEY_BYTES], char out[17])
{
	unsigned char h[8];

	crypto_generichash(h, sizeof h, key, KEY_BYTES, NULL, 0);
	sodium_bin2hex(out, 17, h, sizeof h);
}

/* --token-key FILE (default TOCSIN_TOKEN_KEY, then ./var/secrets/token.key);
 * returns CTL_OK or CTL_USAGE. */
static int parse(const char *cmd, int argc, char **argv, const char **path, int *help,
		 int *json)
{
	struct ctl_opts o;
	const char *env = getenv("TOCSIN_TOKEN_KEY");

	*path = env && *env ? env : DEFAULT_TOKEN_KEY;
	argc = ctl_take_common(cmd, &o, argc, argv, help);
	if (argc < 0)
		return CTL_USAGE;
	*json = o.json;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--token-key") && i + 1 < argc) {
			*path = argv[++i];
		} else {
			fprintf(stderr, "tocsinctl %s: unknown argument '%s' (--help)\n", cmd, argv[i]);
			return CTL_USAGE;
		}
	}
	return CTL_OK;
}

/* Fingerprints as a table or JSON; note is a line for people. */
static void print_keys(const char *path, const char *prev_path, const unsigned char *cur,
		       const unsigned char *prev, int json, const char *note)
{
	char fp[17], fp_prev[17] = "";

	fingerprint(cur, fp);
	if (prev)
		fingerprint(prev, fp_prev);
	if (json) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:o}", "token_key", path, "fingerprint", fp,
				      "previous_key", prev_path, "previous_fingerprint",
				      prev ? json_string(fp_prev) : json_null());
		char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
		if (text)
			puts(text);
		free(text);
		json_decref(o);
		return;
	}
	printf("signing key   %s  %s\n", fp, path);
	printf("previous key  %s  %s\n", prev ? fp_prev : "(none)          ", prev_path);
	if (note)
		puts(note);
}

static const char rotate_help[] =
	"usage: tocsinctl keys rotate [--token-key FILE] [--json]\n"
	"Moves the broker's token signing key FILE to FILE.prev and writes a new\n"
	"random key in FILE (each written aside, flushed and renamed into place,\n"
	"keeping the owner, group and mode of the key it replaces). A running\n"
	"tocsind rereads both within a few seconds, without a restart: live\n"
	"sessions stay, tokens signed with the old key stay valid until they\n"
	"expire, and refresh gives tokens under the new key. Rotating again drops\n"
	"the key now in FILE.prev: wait at least the token lifetime (--token-ttl)\n"
	"between rotations. The broker must be able to read FILE after it dropped\n"
	"privileges (--user); otherwise it logs that and needs a restart.\n"
	"FILE: --token-key, else TOCSIN_TOKEN_KEY, else " DEFAULT_TOKEN_KEY ".\n"
	"Prints key fingerprints (never the keys). Exit: 0 rotated, 1 cannot write,\n"
	"2 usage, 4 no key at FILE.\n";

/* keys rotate: the old key to FILE.prev first, then the new one. */
int ctl_keys_rotate(int argc, char **argv)
{
	unsigned char cur[KEY_BYTES], next[KEY_BYTES];
	char prev_path[4200];
	const char *path;
	struct stat like;
	int help, json, present, rc;

	rc = parse("keys rotate", argc, argv, &path, &help, &json);
	if (rc != CTL_OK || help) {
		fputs(rotate_help, help ? stdout : stderr);
		return help && rc == CTL_OK ? CTL_OK : CTL_USAGE;
	}
	snprintf(prev_path, sizeof prev_path, "%s.prev", path);
	rc = read_key(path, cur, 0, &present);
	if (rc != CTL_OK)
		return rc;
	if (stat(path, &like) != 0) {
		fprintf(stderr, "tocsinctl keys rotate: cannot stat %s: %s\n", path, strerror(errno));
		return CTL_FAILED;
	}
	crypto_auth_keygen(next);
	/* the old key first: a broker looking in between still has it */
	if (ctl_keys_write(prev_path, cur, KEY_BYTES, &like, 0) != 0 ||
	    ctl_keys_write(path, next, KEY_BYTES, &like, 0) != 0 ||
	    ctl_keys_sync_dir(path) != 0) {
		rc = CTL_FAILED;
		goto out;
	}
	print_keys(path, prev_path, next, cur, json,
		   "rotated: a running tocsind signs with the new key within a few seconds");
	rc = CTL_OK;
out:
	sodium_memzero(cur, sizeof cur);
	sodium_memzero(next, sizeof next);
	return rc;
}

static const char show_help[] =
	"usage: tocsinctl keys show [--token-key FILE] [--json]\n"
	"Prints the fingerprints (BLAKE2b, 8 bytes) of the token signing key FILE\n"
	"and of FILE.prev, to compare keys without showing them; then (not with\n"
	"--json) the public keys that check alert signatures, as GET\n"
	"/api/keys/alerts serves them (TOCSIN_ALERT_KEY, else alert_sign.key\n"
	"beside FILE; tocsinctl keys rotate-alert --help).\n"
	"Exit: 0, 1 unreadable, 2 usage, 4 no key at FILE.\n";

/* keys show: which keys are in place, without showing them. */
int ctl_keys_show(int argc, char **argv)
{
	unsigned char cur[KEY_BYTES], prev[KEY_BYTES];
	char prev_path[4200];
	const char *path;
	int help, json, present, has_prev, rc;

	rc = parse("keys show", argc, argv, &path, &help, &json);
	if (rc != CTL_OK || help) {
		fputs(show_help, help ? stdout : stderr);
		return help && rc == CTL_OK ? CTL_OK : CTL_USAGE;
	}
	snprintf(prev_path, sizeof prev_path, "%s.prev", path);
	rc = read_key(path, cur, 0, &present);
	if (rc == CTL_OK)
		rc = read_key(prev_path, prev, 1, &has_prev);
	if (rc == CTL_OK)
		print_keys(path, prev_path, cur, has_prev ? prev : NULL, json, NULL);
	if (rc == CTL_OK && !json) {
		char alert_path[4200];
		ctl_alert_keys_path(NULL, path, alert_path);
		rc = ctl_alert_keys_print(alert_path, 0);
	}
	sodium_memzero(cur, sizeof cur);
	sodium_memzero(prev, sizeof prev);
	return rc;
}

/* ------------------------------------------------------------ keys init */

static const char init_help[] =
	"usage: tocsinctl keys init [--dir DIR] [--group NAME] [--force] [--json]\n"
	"Makes the broker's keys in DIR (default " DEFAULT_KEY_DIR "), each random, written\n"
	"aside, flushed and renamed into place:\n"
	"  token.key            signs sign-in tokens (tocsind --token-key)\n"
	"  audit.key            seals the audit trail (--audit-key); back it up\n"
	"  bus_server.key(.pub) the ZeroMQ bus's CURVE key pair (--bus-key); adapters\n"
	"                       get bus_server.key.pub\n"
	"  alert_sign.key(.pub) the Ed25519 key signing alerts (--alert-key), and the\n"
	"                       list of its public keys (GET /api/keys/alerts)\n"
	"  cap_sign.key         signs CAP exports (--cap-sign-key; ECDSA P-256, PEM);\n"
	"                       CAP readers get cap_sign.pub.pem\n"
	"  ticket.key           seals TLS session tickets (--tls-ticket-key); give the\n"
	"                       same file to every broker behind one address\n"
	"They belong to the caller (root) and the group NAME, mode 0640 (the .pub\n"
	"0644), so that tocsind running as that group's user reads them, and rereads\n"
	"a rotated token key. NAME: --group, else " DEFAULT_KEY_GROUP " when run as root, else\n"
	"the caller's group. A missing DIR is made, mode 0750, with that group.\n"
	"When only ticket.key is missing (keys made by an older tocsinctl), makes it\n"
	"alone. Otherwise refuses when any of the files exists, unless --force, which replaces them\n"
	"all: tokens signed before stop working, and the audit rows sealed with the\n"
	"old audit key can only be verified with a copy of it.\n"
	"Prints fingerprints and the bus's public key, never a secret.\n"
	"Exit: 0 made, 1 a key exists or cannot be written, 2 usage, 4 no such group.\n";

struct init_opts {
	const char *dir;
	const char *group;
	int force;
	int json;
	gid_t gid;
};

/* --dir, --group, --force; the group resolved. CTL_OK, CTL_USAGE or
 * CTL_NOT_FOUND (after a message), or -1 after --help. */
static int init_parse(int argc, char **argv, struct init_opts *io)
{
	struct ctl_arg args[] = { { "--dir", 0, 0, NULL }, { "--group", 0, 0, NULL },
				  { "--force", 1, 0, NULL }, { NULL, 0, 0, NULL } };
	struct ctl_opts o;
	struct group *gr;
	int help;

	argc = ctl_take_common("keys init", &o, argc, argv, &help);
	if (argc >= 0 && help) {
		fputs(init_help, stdout);
		return -1;
	}
	if (argc < 0 || ctl_args_parse("keys init", argc, argv, args, NULL, 0, 0) < 0) {
		fputs(init_help, stderr);
		return CTL_USAGE;
	}
	io->dir = ctl_args_get(args, "--dir") ? ctl_args_get(args, "--dir") : DEFAULT_KEY_DIR;
	io->group = ctl_args_get(args, "--group");
	io->force = ctl_args_get(args, "--force") != NULL;
	io->json = o.json;
	io->gid = getegid();
	if (!io->group && geteuid() == 0)
		io->group = DEFAULT_KEY_GROUP;
	if (!io->group)
		return CTL_OK;
	if (!(gr = getgrnam(io->group))) {
		fprintf(stderr, "tocsinctl keys init: no group %s (the Debian package makes the user "
				"and group tocsin; or give --group)\n", io->group);
		return CTL_NOT_FOUND;
	}
	io->gid = gr->gr_gid;
	return CTL_OK;
}

/* Gives path to the caller and the group, with mode. */
static int own(const char *path, const struct init_opts *io, mode_t mode)
{
	if (chown(path, geteuid() == 0 ? 0 : (uid_t)-1, io->gid) != 0 || chmod(path, mode) != 0) {
		fprintf(stderr, "tocsinctl keys init: cannot give %s to group %s: %s\n", path,
			io->group ? io->group : "(own)", strerror(errno));
		return -1;
	}
	return 0;
}

/* The files of keys init, in paths[] order (the ticket key last: an
 * install with all the others predates it). */
enum { KEY_TOKEN, KEY_AUDIT, KEY_BUS, KEY_BUS_PUB, KEY_ALERT, KEY_TICKET, N_KEYS };

/* DIR, made when missing; a bit (1 << KEY_*) for each file there already,
 * or -1. */
static int init_dir(const struct init_opts *io, char paths[N_KEYS][4200])
{
	static const char *const names[N_KEYS] = { "token.key", "audit.key", "bus_server.key",
						   "bus_server.key.pub", "alert_sign.key",
						   "ticket.key" };
	int found = 0;

	if (mkdir(io->dir, 0750) == 0) {
		if (own(io->dir, io, 0750) != 0)
			return -1;
	} else if (errno != EEXIST) {
		fprintf(stderr, "tocsinctl keys init: cannot make %s: %s\n", io->dir, strerror(errno));
		return -1;
	}
	for (int i = 0; i < N_KEYS; i++) {
		snprintf(paths[i], sizeof paths[i], "%s/%s", io->dir, names[i]);
		if (access(paths[i], F_OK) == 0)
			found |= 1 << i;
	}
	return found;
}

/* One 32-byte key: random, written aside and renamed into place. */
static int init_key(const char *path, const struct init_opts *io, char fp[17])
{
	unsigned char key[KEY_BYTES];
	struct stat like = { 0 };
	int rc;

	like.st_uid = geteuid();
	like.st_gid = io->gid;
	like.st_mode = 0640;
	crypto_auth_keygen(key);
	fingerprint(key, fp);
	rc = ctl_keys_write(path, key, KEY_BYTES, &like, 0);
	sodium_memzero(key, sizeof key);
	return rc == 0 ? own(path, io, 0640) : -1;
}

/* The alert signing key (ctl_alert_keys.c): a fresh list, since --force
 * replaces every key. */
static int init_alert_key(const char *path, const struct init_opts *io, char id[17])
{
	struct stat like = { 0 };
	char pub[4300];

	like.st_uid = geteuid();
	like.st_gid = io->gid;
	like.st_mode = 0640;
	snprintf(pub, sizeof pub, "%s.pub", path);
	if (io->force && ((unlink(path) != 0 && errno != ENOENT) ||
			  (unlink(pub) != 0 && errno != ENOENT))) {
		fprintf(stderr, "tocsinctl keys init: cannot replace %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (ctl_alert_keys_make(path, &like, id) != 0)
		return -1;
	return own(path, io, 0640) == 0 && own(pub, io, 0644) == 0 ? 0 : -1;
}

/* The bus's key pair, in the format the broker and adapters share. */
static int init_bus_key(char paths[N_KEYS][4200], const struct init_opts *io, struct bus_key *k)
{
	if (io->force && ((unlink(paths[KEY_BUS]) != 0 && errno != ENOENT) ||
			  (unlink(paths[KEY_BUS_PUB]) != 0 && errno != ENOENT))) {
		fprintf(stderr, "tocsinctl keys init: cannot replace %s: %s\n", paths[KEY_BUS],
			strerror(errno));
		return -1;
	}
	if (bus_key_generate(paths[KEY_BUS], k) != 0)
		return -1;
	return own(paths[KEY_BUS], io, 0640) == 0 && own(paths[KEY_BUS_PUB], io, 0644) == 0 ? 0 : -1;
}

/* An install made before the ticket key: that one alone. */
static int init_ticket_only(const struct init_opts *io, char paths[N_KEYS][4200])
{
	char fp[17];

	if (init_key(paths[KEY_TICKET], io, fp) != 0 || ctl_keys_sync_dir(paths[KEY_TICKET]) != 0)
		return CTL_FAILED;
	if (io->json)
		printf("[{\"ticket_key\":\"%s\"}]\n", paths[KEY_TICKET]);
	else
		printf("ticket key %s (the other keys kept)\n", paths[KEY_TICKET]);
	return CTL_OK;
}

/* Says which files are there; 1 when that stops keys init. */
static int refuse(const struct init_opts *io, char paths[N_KEYS][4200], int found)
{
	for (int i = 0; i < N_KEYS; i++)
		if (found & (1 << i))
			fprintf(stderr, "tocsinctl keys init: %s exists%s\n", paths[i],
				io->force ? "; replaced (--force)" : "");
	if (found && !io->force)
		fputs("tocsinctl keys init: nothing made (--force replaces them)\n", stderr);
	return found && !io->force;
}

/* keys init: the keys of a fresh install (the ticket key's fingerprint is
 * not printed: no command compares it). */
int ctl_keys_init(int argc, char **argv)
{
	char paths[N_KEYS][4200], token_fp[17], audit_fp[17], ticket_fp[17], alert_id[17],
	     cap_key[4200], cap_pub[4200];
	struct init_opts io;
	struct bus_key k;
	int rc = init_parse(argc, argv, &io), found;

	if (rc != CTL_OK)
		return rc < 0 ? CTL_OK : rc;
	found = init_dir(&io, paths);
	if (found < 0)
		return CTL_FAILED;
	if (found == (1 << KEY_TICKET) - 1 && !io.force)
		return init_ticket_only(&io, paths);
	if (refuse(&io, paths, found))
		return CTL_FAILED;
	if (init_key(paths[KEY_TOKEN], &io, token_fp) != 0 ||
	    init_key(paths[KEY_AUDIT], &io, audit_fp) != 0 ||
	    init_key(paths[KEY_TICKET], &io, ticket_fp) != 0 || init_bus_key(paths, &io, &k) != 0 ||
	    init_alert_key(paths[KEY_ALERT], &io, alert_id) != 0 ||
	    ctl_cap_key_init(io.dir, io.gid, cap_key, cap_pub, sizeof cap_key) != 0 ||
	    ctl_keys_sync_dir(paths[KEY_TOKEN]) != 0)
		return CTL_FAILED;
	if (io.json)
		printf("[{\"token_key\":\"%s\",\"token_fingerprint\":\"%s\",\"audit_key\":\"%s\","
		       "\"audit_fingerprint\":\"%s\",\"bus_key\":\"%s\",\"bus_public_key\":\"%s\","
		       "\"alert_key\":\"%s\",\"alert_key_id\":\"%s\",\"ticket_key\":\"%s\","
		       "\"cap_sign_key\":\"%s\",\"cap_sign_public_key\":\"%s\"}]\n",
		       paths[KEY_TOKEN], token_fp, paths[KEY_AUDIT], audit_fp, paths[KEY_BUS],
		       k.public_z85, paths[KEY_ALERT], alert_id, paths[KEY_TICKET], cap_key, cap_pub);
	else
		printf("token key  %s  %s\naudit key  %s  %s\nbus key    %s  public %s\n"
		       "alert key  %s  %s (public keys in %s.pub)\nticket key %s\n"
		       "CAP key    %s  public %s\n", token_fp, paths[KEY_TOKEN], audit_fp,
		       paths[KEY_AUDIT], paths[KEY_BUS], k.public_z85, alert_id, paths[KEY_ALERT],
		       paths[KEY_ALERT], paths[KEY_TICKET], cap_key, cap_pub);
	sodium_memzero(&k, sizeof k);
	return CTL_OK;
}
