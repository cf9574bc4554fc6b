/* privileges.c: dropping root (see privileges.h). Runs at start-up only,
 * before any thread. */
#include "privileges.h"
#include "log.h"
#include "paths.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* Decided before any file is read, so that a wrong --user fails at once
 * and a root broker without --user never starts by accident. */
int privileges_plan(const struct conf *c, struct run_as *ra)
{
	struct passwd *pw;

	memset(ra, 0, sizeof *ra);
	if (!c->run_user) {
		if (geteuid() == 0 && !c->allow_root) {
			fprintf(stderr, "tocsind: refusing to run as root: give --user NAME to run as "
					"that user once the keys are read, or --allow-root\n");
			return -1;
		}
		if (geteuid() == 0)
			log_warn("running as root (--allow-root)");
		return 0;
	}
	errno = 0;
	pw = getpwnam(c->run_user);
	if (!pw) {
		fprintf(stderr, "tocsind: --user %s: %s\n", c->run_user,
			errno ? strerror(errno) : "no such user");
		return -1;
	}
	if (pw->pw_uid == 0) {
		fprintf(stderr, "tocsind: --user %s is root; name an unprivileged user\n",
			c->run_user);
		return -1;
	}
	if (geteuid() != 0) {
		if (geteuid() == pw->pw_uid)
			return 0; /* already that user */
		fprintf(stderr, "tocsind: --user %s needs the broker to start as root\n",
			c->run_user);
		return -1;
	}
	ra->drop = 1;
	ra->uid = pw->pw_uid;
	ra->gid = pw->pw_gid;
	snprintf(ra->name, sizeof ra->name, "%s", c->run_user);
	return 0;
}

/* Gives path to the user unless it is theirs already. */
static int give(const struct run_as *ra, const char *path)
{
	struct stat sb;

	if (stat(path, &sb) != 0)
		return errno == ENOENT ? 0 : -1;
	if (sb.st_uid == ra->uid)
		return 0;
	if (chown(path, ra->uid, ra->gid) != 0)
		return -1;
	log_info("%s now belongs to %s (the broker's user)", path, ra->name);
	return 0;
}

/* The journal is written while PostgreSQL is away, long after the drop. */
int privileges_prepare_journal(const struct run_as *ra, const char *journal)
{
	char *copy, *dir;
	int rc = 0;

	if (!ra->drop)
		return 0;
	copy = strdup(journal);
	if (!copy) {
		log_error("out of memory");
		return -1;
	}
	dir = dirname(copy);
	if (paths_mkdir_p(dir, 0700) != 0 || give(ra, dir) != 0 || give(ra, journal) != 0) {
		log_error("cannot make the journal %s writable by %s: %s", journal, ra->name,
			  strerror(errno));
		rc = -1;
	}
	free(copy);
	return rc;
}

/* The four ids of a "Uid:" or "Gid:" line of /proc/self/status all equal
 * want. */
static int status_ids_are(const char *field, unsigned long want)
{
	char line[256];
	size_t flen = strlen(field);
	int ok = 0;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof line, f)) {
		unsigned long r, e, s, fs;
		if (strncmp(line, field, flen) != 0)
			continue;
		ok = sscanf(line + flen, "%lu %lu %lu %lu", &r, &e, &s, &fs) == 4 && r == want &&
		     e == want && s == want && fs == want;
		break;
	}
	fclose(f);
	return ok;
}

/* setgroups first (while still allowed), then gid, then uid; then proof
 * that the old ids cannot come back. */
int privileges_drop(const struct run_as *ra)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (!ra->drop)
		return 0;
	if (setgroups(1, &ra->gid) != 0 || setresgid(ra->gid, ra->gid, ra->gid) != 0 ||
	    setresuid(ra->uid, ra->uid, ra->uid) != 0) {
		log_error("cannot become user %s: %s", ra->name, strerror(errno));
		return -1;
	}
	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 || ru != ra->uid ||
	    eu != ra->uid || su != ra->uid || rg != ra->gid || eg != ra->gid || sg != ra->gid ||
	    !status_ids_are("Uid:", ra->uid) || !status_ids_are("Gid:", ra->gid) ||
	    setuid(0) == 0) {
		log_error("privilege drop to %s did not take", ra->name);
		return -1;
	}
#if defined(__SANITIZE_ADDRESS__)
	/* The sanitizer build's leak check at exit attaches to the process's
	 * threads, which a non-dumpable process (the kernel's default after a
	 * change of user) forbids. The production build stays non-dumpable,
	 * so the user's other processes cannot read the keys in its memory. */
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0)
		log_warn("cannot keep the sanitizer build dumpable: %s", strerror(errno));
#endif
	log_info("running as user %s (uid %lu, gid %lu)", ra->name, (unsigned long)ra->uid,
		 (unsigned long)ra->gid);
	return 0;
}
