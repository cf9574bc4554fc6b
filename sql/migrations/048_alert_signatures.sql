-- 048_alert_signatures.sql: the signature an alert was delivered with,
-- kept with it, so that an investigator can check the alert years later
-- against the listed public keys (issue 23; `tocsinctl alert verify ID`,
-- docs/security.md, "Signed alerts").
--
-- One row per alert the broker published or relayed while PostgreSQL was
-- up (an alert journaled during an outage has none: its frames were
-- signed, but the row would need the alert, which is not stored yet).
-- signed is the canonical form the broker signed (docs/protocol.md,
-- "Signed alerts"), byte for byte: the alert object as it was sent, not
-- as the alerts row reads today (a cancel, a renamed sender change the
-- latter); sha256 is its digest in hex, for a report to quote. key_id and
-- sig are the signature object's members. Written once, after the alert's
-- own transaction (broker/deliver/alert_frame.c): an INSERT of about 1 KB
-- per alert, a few thousand a day; read by its key only.

CREATE TABLE alert_signatures (
    alert_id   bigint PRIMARY KEY REFERENCES alerts (id),
    key_id     text NOT NULL,
    sig        text NOT NULL,
    signed     text NOT NULL,
    sha256     text NOT NULL,
    signed_at  timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT ON alert_signatures TO tocsin_broker;
GRANT SELECT ON alert_signatures TO tocsin_admin;
