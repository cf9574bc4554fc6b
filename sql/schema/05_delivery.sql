-- 05_delivery.sql: the record of every alert frame handed to a console or
-- operator session (issue 6 allows it compacted, as long as an
-- investigator still gets "did site X receive alert Y, and when" from
-- PostgreSQL):
--
--   SELECT first_at FROM delivered_sites WHERE alert_id = :y AND site_id = :x;
--   -- each console and time:
--   SELECT d.user_id, d.delivered_at
--     FROM delivery_batches b
--    CROSS JOIN LATERAL unnest(b.site_ids, b.user_ids, b.delivered_at)
--                       AS d(site_id, user_id, delivered_at)
--    WHERE b.alert_id = :y AND d.site_id = :x;
--
-- Both are written by tocsin_record_deliveries (sql/functions/delivery.sql),
-- with one 'deliver' audit row per batch row whose seal covers the batch
-- (docs/audit.md).

-- The first delivery of each alert to each site, kept as its own row, so
-- that tallies and receipts count sites without scanning every delivery
-- (at 10,000 consoles an acknowledgement spent 2.7 ms of its 3 ms counting
-- distinct sites over the deliveries).
CREATE TABLE delivered_sites (
    alert_id  bigint NOT NULL,
    site_id   integer NOT NULL,
    first_at  timestamptz NOT NULL,
    PRIMARY KEY (alert_id, site_id)
);

-- One row per alert and batch of recipients, holding the deliveries as
-- parallel arrays (site, user, time of each). One row per delivery was
-- too much: at 10,000 consoles and 20 alerts a second that was 200,000
-- delivery rows, 200,000 'deliver' audit rows and, a few seconds later,
-- 200,000 seals a second on the two cores the broker also runs on, so
-- delivery records fell seconds behind and acknowledgements queued behind
-- them. site_ids holds NULL for a delivery to a session that is not a site
-- console (a company operator).
--
-- Like audit rows, batch rows are never changed (the triggers below) and
-- have no foreign keys: they name what they must outlive, and a
-- referential-integrity check per delivery costs what the batches exist to
-- save. Measured when deliveries were still one row each (the three keys
-- of that table, EXPLAIN on a bench database): a batch of 20,000 took
-- 444 ms to insert with them, 78 ms without, and the delivery batches held
-- the broker's one database pipeline long enough to delay publishes behind
-- them by a second. Nothing needs the check: only the broker writes the
-- rows (its role may insert, never update or delete), through
-- tocsin_record_deliveries, with the id of an alert it has already stored
-- and those of the consoles verified tokens name; and alerts, sites and
-- users are never deleted (sites and users are disabled).
CREATE TABLE delivery_batches (
    id            bigserial PRIMARY KEY,
    alert_id      bigint NOT NULL,
    first_at      timestamptz NOT NULL,
    n             integer NOT NULL,
    site_ids      integer[] NOT NULL,
    user_ids      integer[] NOT NULL,
    delivered_at  timestamptz[] NOT NULL,
    CHECK (n >= 1 AND cardinality(site_ids) = n AND cardinality(user_ids) = n
           AND cardinality(delivered_at) = n)
);
CREATE INDEX delivery_batches_alert_idx ON delivery_batches (alert_id);
-- Stored out of line uncompressed: compressing a 4,000-delivery batch took
-- 3-5 ms of the 6-9 ms of its insert, on the cores the broker needs, for
-- arrays of ids and times that compress poorly anyway.
ALTER TABLE delivery_batches
    ALTER COLUMN site_ids SET STORAGE EXTERNAL,
    ALTER COLUMN user_ids SET STORAGE EXTERNAL,
    ALTER COLUMN delivered_at SET STORAGE EXTERNAL;

CREATE TRIGGER delivery_batches_no_update BEFORE UPDATE OR DELETE ON delivery_batches
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER delivery_batches_no_truncate BEFORE TRUNCATE ON delivery_batches
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

GRANT SELECT, INSERT ON delivered_sites, delivery_batches TO tocsin_broker;
GRANT USAGE ON SEQUENCE delivery_batches_id_seq TO tocsin_broker;
