/* cap_watch.c: the watched folder. Every interval the folder is scanned
 * for *.xml files (in name order; names starting with "." are skipped, so
 * a writer can write ".x.xml" and rename it into place); each is imported
 * and moved to DIR/done, or to DIR/rejected beside NAME.reason. A file the
 * broker could not take yet (no answer, unavailable) stays and is tried
 * again at the next scan. */
#include "cap_import.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int is_xml(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return d->d_name[0] != '.' && n > 4 && !strcmp(d->d_name + n - 4, ".xml");
}

static int ensure_dir(const char *path)
{
	if (mkdir(path, 0755) && errno != EEXIST) {
		fprintf(stderr, "tocsin-cap: cannot create %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Writes NAME.reason beside the rejected file. */
static void write_reason(const char *dir, const char *name, const char *reason)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/rejected/%s.reason", dir, name);
	f = fopen(path, "w");
	if (!f || fprintf(f, "%s\n", reason) < 0 || fclose(f)) {
		fprintf(stderr, "tocsin-cap: cannot write %s: %s\n", path, strerror(errno));
		if (f)
			fclose(f);
	}
}

/* Imports one file and moves it; returns the outcome. */
static enum cap_outcome take_file(const struct cap_importer *im, const char *dir,
				  const char *name)
{
	char path[4096], dest[4096], reason[600] = "";
	int64_t id = 0;
	size_t len;
	char *xml;
	enum cap_outcome out;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	xml = cap_read_file(path, &len);
	if (!xml)
		return CAP_RETRY;
	out = cap_import_doc(im, xml, len, &id, reason, sizeof reason);
	free(xml);
	if (out == CAP_IMPORTED) {
		snprintf(dest, sizeof dest, "%s/done/%s", dir, name);
		fprintf(stderr, "tocsin-cap: %s: alert %" PRId64 "\n", name, id);
	} else if (out == CAP_HELD) {
		snprintf(dest, sizeof dest, "%s/done/%s", dir, name);
		fprintf(stderr, "tocsin-cap: %s: held as pending import %" PRId64 ": %s\n", name, id,
			reason);
	} else if (out == CAP_REJECTED) {
		snprintf(dest, sizeof dest, "%s/rejected/%s", dir, name);
		fprintf(stderr, "tocsin-cap: %s: rejected: %s\n", name, reason);
		write_reason(dir, name, reason);
	} else {
		if (out == CAP_RETRY)
			fprintf(stderr, "tocsin-cap: %s: will retry: %s\n", name, reason);
		return out;
	}
	if (rename(path, dest))
		fprintf(stderr, "tocsin-cap: cannot move %s to %s: %s\n", path, dest,
			strerror(errno));
	return out;
}

/* Sleeps interval_ms unless a stop signal comes first. */
static void nap(const struct cap_importer *im, int interval_ms)
{
	struct timespec ts = { interval_ms / 1000, (long)(interval_ms % 1000) * 1000000L };

	while (!*im->stop && nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int cap_watch(const struct cap_importer *im, const char *dir, int interval_ms)
{
	char sub[4096];

	snprintf(sub, sizeof sub, "%s/done", dir);
	if (ensure_dir(sub))
		return -1;
	snprintf(sub, sizeof sub, "%s/rejected", dir);
	if (ensure_dir(sub))
		return -1;
	fprintf(stderr, "tocsin-cap: watching %s\n", dir);
	while (!*im->stop) {
		struct dirent **list = NULL;
		int n = scandir(dir, &list, is_xml, alphasort), retry = 0;

		if (n < 0) {
			fprintf(stderr, "tocsin-cap: cannot read %s: %s\n", dir, strerror(errno));
			return -1;
		}
		for (int i = 0; i < n; i++) {
			if (!*im->stop && !retry && take_file(im, dir, list[i]->d_name) == CAP_RETRY)
				retry = 1; /* keep the order: later files wait too */
			free(list[i]);
		}
		free(list);
		nap(im, interval_ms);
	}
	fprintf(stderr, "tocsin-cap: stopped watching %s\n", dir);
	return 0;
}
