-- 11_admin.sql: what tocsinctl lists (organisations, sites, users). The
-- tocsin_admin_* functions (sql/functions/admin.sql) return rows of these
-- views, so a listing and the answer to a change have the same columns.
-- Only tocsin_admin reads them.

CREATE VIEW tocsin_admin_org_list AS
SELECT o.id, o.name, o.kind, o.parent_id, o.disabled,
       (SELECT count(*) FROM sites s WHERE s.guard_org_id = o.id) AS sites,
       (SELECT count(*) FROM users u WHERE u.org_id = o.id AND NOT u.disabled) AS active_users
  FROM organisations o;

CREATE VIEW tocsin_admin_site_list AS
SELECT s.id, s.slug, s.name, s.address, s.lat, s.lon, x.code AS sector,
       s.guard_org_id, o.name AS guard_org, s.cleared_sensitive AS cleared, s.disabled
  FROM sites s JOIN sectors x ON x.id = s.sector_id JOIN organisations o ON o.id = s.guard_org_id;

CREATE VIEW tocsin_admin_user_list AS
SELECT u.id, u.username, u.display_name, u.role, u.org_id, o.name AS org, u.site_id,
       s.slug AS site, u.cleared_sensitive AS cleared, u.disabled
  FROM users u JOIN organisations o ON o.id = u.org_id LEFT JOIN sites s ON s.id = u.site_id;

GRANT SELECT ON tocsin_admin_org_list, tocsin_admin_site_list, tocsin_admin_user_list
    TO tocsin_admin;
