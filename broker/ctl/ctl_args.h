/* ctl_args.h: the named options of one tocsinctl command (ctl_args.c), and
 * who is running it, for the audit. */
#ifndef TOCSIN_CTL_ARGS_H
#define TOCSIN_CTL_ARGS_H

#include <stddef.h>

/* One option a command takes: "--site" with a value, or a flag. The parser
 * fills value ("1" for a flag). A table ends with a NULL name. */
struct ctl_arg {
	const char *name;
	int flag;
	int required; /* the command cannot run without it: a usage error */
	const char *value;
};

/* Parses argv (after ctl_take_common) against args: each option at most
 * once; the other words are positional, at least min and at most max, put
 * in pos[]. Returns their number, or -1 after a message naming cmd and the
 * offending word (a usage error), also when a required option is missing. */
int ctl_args_parse(const char *cmd, int argc, char **argv, struct ctl_arg *args,
		   const char **pos, int min, int max);

/* The value of option name, or NULL when it was not given. */
const char *ctl_args_get(const struct ctl_arg *args, const char *name);

/* Who to name in the audit: the --actor value when given, else
 * "tocsinctl:<login name>" (USER, else the password database, else the uid),
 * written to buf. */
const char *ctl_args_actor(const char *given, char *buf, size_t len);

/* Reads a password: one line from standard input (without echo on a
 * terminal, after a prompt), 1 to 256 characters, into buf (at least 258
 * bytes). 0, or -1 after a message naming cmd. */
int ctl_args_read_password(const char *cmd, char *buf, size_t len);

#endif
