-- 060_site_language.sql: a site's preferred language (issue 18, item 2:
-- "the console shows the language of its site, default en-GB, and offers
-- the others"). An imported CAP message may carry one info block per
-- language (OASIS example 4: en-US and es-US); the console of a site whose
-- language is es-US shows the Spanish block first. A BCP 47 tag as CAP's
-- <language> writes it (RFC 3066); set with tocsinctl site add|update
-- --language, given to consoles in the directory (broker/handle/
-- directory.c). The view tocsinctl site list reads shows it (last, so the
-- view is replaced, not rebuilt).

ALTER TABLE sites
    ADD COLUMN language text NOT NULL DEFAULT 'en-GB'
        CHECK (language ~ '^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$');

CREATE OR REPLACE VIEW tocsin_admin_site_list AS
SELECT s.id, s.slug, s.name, s.address, s.lat, s.lon, x.code AS sector,
       s.guard_org_id, o.name AS guard_org, s.cleared_sensitive AS cleared, s.disabled,
       s.language
  FROM sites s JOIN sectors x ON x.id = s.sector_id JOIN organisations o ON o.id = s.guard_org_id;
