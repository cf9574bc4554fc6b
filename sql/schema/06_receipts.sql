-- 06_receipts.sql: what each recipient site did with an alert: read it,
-- acknowledged it, or let it go unacknowledged until it was escalated; and
-- the live tallies of each alert. The first read and the first
-- acknowledgement of a site are kept; every one is audited.

-- The first acknowledgement of each recipient site.
CREATE TABLE acks (
    alert_id  bigint NOT NULL,
    site_id   integer NOT NULL,
    user_id   integer NOT NULL REFERENCES users (id),
    acked_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (alert_id, site_id),
    FOREIGN KEY (alert_id, site_id) REFERENCES alert_recipients (alert_id, site_id)
);

-- The first read (the console displayed the alert) of each recipient site.
CREATE TABLE reads (
    alert_id  bigint NOT NULL,
    site_id   integer NOT NULL,
    user_id   integer NOT NULL REFERENCES users (id),
    read_at   timestamptz NOT NULL,
    PRIMARY KEY (alert_id, site_id),
    FOREIGN KEY (alert_id, site_id) REFERENCES alert_recipients (alert_id, site_id)
);

-- Each (alert, site) of a severe or extreme alert left unacknowledged too
-- long, claimed once by tocsin_escalate.
CREATE TABLE escalations (
    alert_id      bigint NOT NULL,
    site_id       integer NOT NULL,
    escalated_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (alert_id, site_id),
    FOREIGN KEY (alert_id, site_id) REFERENCES alert_recipients (alert_id, site_id)
);

-- Live counts per alert, by site. delivered counts delivered_sites (one
-- row per site reached), not the deliveries. Who watches an alert's
-- receipts: its sender, and for a relay also the organisation that sent
-- the original (watcher_org_id).
CREATE VIEW alert_tallies AS
SELECT a.id AS alert_id,
       a.sender_org_id,
       (SELECT count(*) FROM alert_recipients r WHERE r.alert_id = a.id) AS recipients,
       (SELECT count(*) FROM delivered_sites d WHERE d.alert_id = a.id) AS delivered,
       (SELECT count(*) FROM acks k WHERE k.alert_id = a.id) AS acknowledged,
       (SELECT count(*) FROM reads x WHERE x.alert_id = a.id) AS read,
       (SELECT count(*) FROM escalations e WHERE e.alert_id = a.id) AS escalated,
       a.relay_of,
       (SELECT o.sender_org_id FROM alerts o WHERE o.id = a.relay_of) AS watcher_org_id
FROM alerts a;

-- One row of tocsin_receipt_batch's result, as the set-based path
-- (tocsin_receipt_batch_fast) returns them, in an array.
CREATE TYPE tocsin_receipt_row AS (
    idx integer, err_state text, err_message text, err_field text, alert_id bigint,
    site_id integer, at text, already boolean, sender_org_id integer, recipients bigint,
    delivered bigint, acknowledged bigint, read bigint, escalated bigint,
    watcher_org_id integer);

GRANT SELECT, INSERT ON acks, reads, escalations TO tocsin_broker;
GRANT SELECT ON alert_tallies TO tocsin_broker;
