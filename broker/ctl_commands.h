/* ctl_commands.h: tocsinctl's commands, one function each, defined in the
 * ctl_<group>.c files and listed in tocsinctl.c's table. Each takes the
 * arguments after its name and returns a CTL_* exit code (ctl.h). */
#ifndef TOCSIN_CTL_COMMANDS_H
#define TOCSIN_CTL_COMMANDS_H

/* ctl_audit.c */
int ctl_audit_verify(int argc, char **argv);

#endif
