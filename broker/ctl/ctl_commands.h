/* ctl_commands.h: tocsinctl's commands, one function each, defined in the
 * ctl_<group>.c files and listed in tocsinctl.c's table. Each takes the
 * arguments after its name and returns a CTL_* exit code (ctl.h). */
#ifndef TOCSIN_CTL_COMMANDS_H
#define TOCSIN_CTL_COMMANDS_H

#include <stddef.h>
#include <sys/types.h>

/* ctl_audit.c */
int ctl_audit_verify(int argc, char **argv);
int ctl_audit_export(int argc, char **argv);

/* ctl_audit_archive.c; the second is verify's --archive (0, 1 broken, 2) */
int ctl_audit_archive(int argc, char **argv);
int ctl_audit_archive_verify(const char *file, const char *keyfile);

/* ctl_admin.c */
int ctl_admin_org_add(int argc, char **argv);
int ctl_admin_org_list(int argc, char **argv);
int ctl_admin_org_disable(int argc, char **argv);
int ctl_admin_site_add(int argc, char **argv);
int ctl_admin_site_list(int argc, char **argv);
int ctl_admin_site_update(int argc, char **argv);
int ctl_admin_site_disable(int argc, char **argv);
int ctl_admin_user_add(int argc, char **argv);
int ctl_admin_user_list(int argc, char **argv);
int ctl_admin_user_disable(int argc, char **argv);
int ctl_admin_user_enable(int argc, char **argv);
int ctl_admin_user_set_password(int argc, char **argv);
int ctl_admin_user_update(int argc, char **argv);
int ctl_admin_device_add(int argc, char **argv);
int ctl_admin_device_list(int argc, char **argv);
int ctl_admin_device_revoke(int argc, char **argv);

/* ctl_geocode.c */
int ctl_geocode_add(int argc, char **argv);
int ctl_geocode_list(int argc, char **argv);
int ctl_geocode_remove(int argc, char **argv);

/* ctl_alerts.c */
int ctl_alerts_list(int argc, char **argv);
int ctl_alerts_show(int argc, char **argv);
int ctl_alerts_board(int argc, char **argv);
int ctl_alerts_publish(int argc, char **argv);

/* ctl_keys.c */
int ctl_keys_init(int argc, char **argv);
int ctl_keys_rotate(int argc, char **argv);
int ctl_keys_show(int argc, char **argv);
/* the helpers ctl_alert_keys.c shares with it */
struct stat;
int ctl_keys_write(const char *path, const void *data, size_t len, const struct stat *like,
		   int public);
int ctl_keys_sync_dir(const char *path);

/* ctl_release.c */
int ctl_release_policy_show(int argc, char **argv);
int ctl_release_policy_set(int argc, char **argv);
int ctl_release_report(int argc, char **argv);

/* ctl_alert_keys.c */
int ctl_alert_keys_rotate(int argc, char **argv);
int ctl_alert_keys_verify(int argc, char **argv);
void ctl_alert_keys_path(const char *given, const char *token_key, char out[4200]);
int ctl_alert_keys_make(const char *path, const struct stat *like, char key_id[17]);
int ctl_alert_keys_print(const char *path, int json);

/* ctl_cap_key.c: cap_sign.key and cap_sign.pub.pem in dir (keys init);
 * 0, or -1 after a message. */
int ctl_cap_key_init(const char *dir, gid_t gid, char *key_path, char *pub_path, size_t size);

/* ctl_cap.c */
int ctl_cap_export(int argc, char **argv);

/* ctl_cap_sender.c: cap sender add|list|remove */
int ctl_cap_sender(int argc, char **argv);

/* ctl_crime.c */
int ctl_crime_import(int argc, char **argv);

/* ctl_crime_stolen.c: add|list|remove, by its first word */
int ctl_crime_stolen(int argc, char **argv);

/* ctl_bus.c */
int ctl_bus_keygen(int argc, char **argv);
int ctl_bus_adapter_add(int argc, char **argv);
int ctl_bus_adapter_list(int argc, char **argv);
int ctl_bus_adapter_revoke(int argc, char **argv);

#endif
