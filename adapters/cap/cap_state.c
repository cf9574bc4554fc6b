/* cap_state.c: the CAP identifier to alert id map (cap_state.h). Small
 * and append-only: a read is a scan of the file, which is fine for the
 * thousands of messages an adapter sees, and a crash can at worst lose
 * the last line (the alert exists; a later Update of it is refused with
 * its reason rather than misrouted). */
#include "cap_state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void ids_path(const char *dir, char *buf, size_t size)
{
	snprintf(buf, size, "%s/ids", dir);
}

static void pending_path(const char *dir, char *buf, size_t size)
{
	snprintf(buf, size, "%s/pending", dir);
}

int cap_state_open(const char *dir)
{
	if (mkdir(dir, 0700) && errno != EEXIST) {
		fprintf(stderr, "tocsin-cap: cannot create the state directory %s: %s\n", dir,
			strerror(errno));
		return -1;
	}
	return 0;
}

/* The number of the last "sender TAB identifier TAB n" line of path. */
static int lookup_in(const char *path, const char *sender, const char *identifier, int64_t *alert_id)
{
	char *line = NULL;
	size_t cap = 0, ls = strlen(sender), li = strlen(identifier);
	int found = 1;
	FILE *f;

	f = fopen(path, "r");
	if (!f) {
		if (errno == ENOENT)
			return 1;
		fprintf(stderr, "tocsin-cap: cannot read %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (getline(&line, &cap, f) > 0) {
		if (!strncmp(line, sender, ls) && line[ls] == '\t' &&
		    !strncmp(line + ls + 1, identifier, li) && line[ls + 1 + li] == '\t') {
			*alert_id = strtoll(line + ls + li + 2, NULL, 10);
			found = *alert_id != 0 ? 0 : 1; /* < 0: held, -report id */
		}
	}
	free(line);
	fclose(f);
	return found;
}

/* Appends "sender TAB identifier TAB n" to path and fsyncs it. */
static int append_to(const char *path, const char *sender, const char *identifier, int64_t alert_id)
{
	char line[2048];
	int fd, n, rc = 0;

	if (strpbrk(sender, "\t\n") || strpbrk(identifier, "\t\n"))
		return 0; /* schema-valid but unusable as a key: never referenced */
	n = snprintf(line, sizeof line, "%s\t%s\t%" PRId64 "\n", sender, identifier, alert_id);
	if (n < 0 || (size_t)n >= sizeof line)
		return 0; /* too long to be a CAP key worth remembering */
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, line, (size_t)n) != n || fsync(fd)) {
		fprintf(stderr, "tocsin-cap: cannot record in %s: %s\n", path, strerror(errno));
		rc = -1;
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

int cap_state_lookup(const char *dir, const char *sender, const char *identifier,
		     int64_t *alert_id)
{
	char path[4096];

	ids_path(dir, path, sizeof path);
	return lookup_in(path, sender, identifier, alert_id);
}

int cap_state_record(const char *dir, const char *sender, const char *identifier,
		     int64_t alert_id)
{
	char path[4096];

	ids_path(dir, path, sizeof path);
	return append_to(path, sender, identifier, alert_id);
}

int cap_state_pending(const char *dir, const char *sender, const char *identifier,
		      int64_t *seq)
{
	char path[4096];

	pending_path(dir, path, sizeof path);
	return lookup_in(path, sender, identifier, seq);
}

int cap_state_set_pending(const char *dir, const char *sender, const char *identifier,
			  int64_t seq)
{
	char path[4096];

	pending_path(dir, path, sizeof path);
	return append_to(path, sender, identifier, seq);
}
