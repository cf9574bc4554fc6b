/* privileges.h: not running as root.
 *
 * Started as root, the broker reads every secret it needs (token keys,
 * audit key, TLS certificate and key, bus key) and binds its port and bus
 * endpoints, then becomes
 * --user NAME (its primary group, no supplementary groups) before it
 * connects anywhere or accepts anyone, and checks that it can no longer
 * become root. As root without --user it refuses to start unless
 * --allow-root says so. */
#ifndef TOCSIN_PRIVILEGES_H
#define TOCSIN_PRIVILEGES_H

#include <sys/types.h>

#include "conf.h"

struct run_as {
	int drop;          /* 1: become uid/gid once listening */
	uid_t uid;
	gid_t gid;
	char name[64];
};

/* Decides from the settings and who we are. Returns 0, or -1 after
 * printing why the broker must not start. */
int privileges_plan(const struct conf *c, struct run_as *ra);

/* Makes the journal's folder (created if missing) and the journal file,
 * if there is one, belong to the user, so that it stays writable after
 * the drop. Returns 0, or -1 after logging. */
int privileges_prepare_journal(const struct run_as *ra, const char *journal);

/* Becomes the user and checks it: the real, effective and saved ids are
 * the user's, /proc/self/status agrees, and setuid(0) fails. Returns 0
 * (also when there is nothing to drop), or -1 after logging. */
int privileges_drop(const struct run_as *ra);

#endif
