/* ctl_args.c: option tables, the audit actor and password input for the
 * tocsinctl commands that take named options (ctl_admin.c, ctl_alerts.c). */
#include "ctl_args.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static struct ctl_arg *find(struct ctl_arg *args, const char *name)
{
	for (struct ctl_arg *a = args; a && a->name; a++)
		if (!strcmp(a->name, name))
			return a;
	return NULL;
}

int ctl_args_parse(const char *cmd, int argc, char **argv, struct ctl_arg *args,
		   const char **pos, int min, int max)
{
	int n = 0;

	for (int i = 0; i < argc; i++) {
		const char *w = argv[i];
		struct ctl_arg *a;

		if (w[0] == '-' && w[1] == '-' && w[2]) {
			a = find(args, w);
			if (!a) {
				fprintf(stderr, "tocsinctl %s: unknown option %s (see --help)\n", cmd, w);
				return -1;
			}
			if (a->value) {
				fprintf(stderr, "tocsinctl %s: %s given twice\n", cmd, w);
				return -1;
			}
			if (a->flag) {
				a->value = "1";
			} else if (i + 1 >= argc) {
				fprintf(stderr, "tocsinctl %s: %s needs a value\n", cmd, w);
				return -1;
			} else {
				a->value = argv[++i];
			}
		} else if (n < max) {
			pos[n++] = w;
		} else {
			fprintf(stderr, "tocsinctl %s: unexpected argument '%s' (see --help)\n", cmd, w);
			return -1;
		}
	}
	for (struct ctl_arg *a = args; a && a->name; a++) {
		if (a->required && !a->value) {
			fprintf(stderr, "tocsinctl %s: %s is required (see --help)\n", cmd, a->name);
			return -1;
		}
	}
	if (n < min) {
		fprintf(stderr, "tocsinctl %s: missing argument (see --help)\n", cmd);
		return -1;
	}
	return n;
}

const char *ctl_args_get(const struct ctl_arg *args, const char *name)
{
	for (const struct ctl_arg *a = args; a && a->name; a++)
		if (!strcmp(a->name, name))
			return a->value;
	return NULL;
}

const char *ctl_args_actor(const char *given, char *buf, size_t len)
{
	const char *user = getenv("USER");
	struct passwd *pw;

	if (given) {
		snprintf(buf, len, "%s", given);
		return buf;
	}
	if (!user || !*user) {
		pw = getpwuid(getuid());
		user = pw ? pw->pw_name : NULL;
	}
	if (user)
		snprintf(buf, len, "tocsinctl:%s", user);
	else
		snprintf(buf, len, "tocsinctl:uid%u", (unsigned)getuid());
	return buf;
}

/* Echo off while a password is typed on a terminal; restored after. */
static int echo_off(struct termios *saved)
{
	struct termios t;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, saved))
		return 0;
	t = *saved;
	t.c_lflag &= ~(tcflag_t)ECHO;
	return tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) == 0;
}

int ctl_args_read_password(const char *cmd, char *buf, size_t len)
{
	struct termios saved;
	int restore;
	size_t n;
	char *got;

	if (isatty(STDIN_FILENO))
		fputs("password: ", stderr);
	restore = echo_off(&saved);
	got = fgets(buf, (int)len, stdin);
	if (restore) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
		fputc('\n', stderr);
	}
	if (!got) {
		fprintf(stderr, "tocsinctl %s: no password on standard input\n", cmd);
		return -1;
	}
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	if (n == 0 || n > 256) {
		fprintf(stderr, "tocsinctl %s: the password must be 1 to 256 characters\n", cmd);
		return -1;
	}
	return 0;
}
