-- 049_cap_geocodes.sql: CAP areas as the world writes them (issue 18,
-- item 1).
--
-- cap_geocodes: what an administrator says a CAP <geocode> (valueName,
-- value) means here: sites, and/or every site of some sectors (tocsinctl
-- geocode add). The pseudo valueName "areaDesc" maps an area's
-- description (matched without regard to case, as the value is). Two of
-- the four OASIS examples have no polygon or circle, only an areaDesc or a
-- geocode (SAME 006037): without this they were refused. sites is an
-- array, not a foreign key: a mapping is read whole by its key when an
-- import is published, and a site that is gone is simply not a recipient
-- (tocsin_resolve_targets joins sites). A few hundred rows at most.
--
-- partner_reports.kind 'cap_import' and cap: a CAP message whose area maps
-- to no site (no polygon, circle or known geocode, or nothing inside them)
-- is held in the control room's inbox as a pending import, never refused
-- or sent nowhere: cap is the publish request the adapter would have sent
-- (the CAP fields, origin, cap_info, geocodes), and a controller publishes
-- it with targets of their choosing (publish's pending_import) or closes it
-- with a reason. Only an adapter files one (broker/handle/report.c).

CREATE TABLE cap_geocodes (
    id          serial PRIMARY KEY,
    value_name  text NOT NULL CHECK (length(value_name) BETWEEN 1 AND 100),
    value       text NOT NULL CHECK (length(value) BETWEEN 1 AND 200),
    sites       integer[] NOT NULL DEFAULT '{}',
    sectors     text[] NOT NULL DEFAULT '{}',
    added_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    added_by    text NOT NULL,
    CHECK (cardinality(sites) + cardinality(sectors) > 0)
);
CREATE UNIQUE INDEX cap_geocodes_key_idx ON cap_geocodes (value_name, lower(value));
GRANT SELECT ON cap_geocodes TO tocsin_broker;

ALTER TABLE partner_reports
    DROP CONSTRAINT partner_reports_kind_check,
    ADD CONSTRAINT partner_reports_kind_check
        CHECK (kind IN ('sighting', 'suspicious', 'crime', 'other', 'cap_import')),
    ADD COLUMN cap jsonb CHECK (cap IS NULL OR jsonb_typeof(cap) = 'object');

-- it takes the held publish request (sql/functions/bus.sql)
DROP FUNCTION IF EXISTS tocsin_bus_report(integer, bigint, text, text, double precision, double precision,
                                text, text, text);

GRANT UPDATE (cap) ON partner_reports TO tocsin_broker;
