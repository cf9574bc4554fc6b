-- 03_alerts.sql: the alert stream. Alerts shaped by OASIS CAP 1.2 (status,
-- message type, category, urgency, severity, certainty, expiry, area),
-- targeting by organisation, sector, site, role and area, OFFICIAL-SENSITIVE
-- clearance, update and cancel, relay by security companies, and requests
-- with answers; the sites each alert was meant for; and the broker's
-- journal records already written.

-- The stream: one row. head is the last position given out; taking the
-- next one locks the row until commit, so positions are in commit order
-- even with several brokers writing (a resuming console can never skip an
-- alert that commits late). epoch names the stream: a client that sees a
-- different epoch reloads (docs/protocol.md).
CREATE TABLE stream_meta (
    id     boolean PRIMARY KEY DEFAULT true CHECK (id),
    epoch  text NOT NULL,
    head   bigint NOT NULL
);
INSERT INTO stream_meta (epoch, head)
VALUES (md5(random()::text || clock_timestamp()::text), 0);

-- id is given by the broker (so that an alert journaled while the database
-- is away keeps it); seq is the alert's position in the stream
-- (docs/protocol.md), taken from stream_meta.head by tocsin_publish and
-- tocsin_relay in the alert's own transaction, so it has no default.
CREATE TABLE alerts (
    id              bigserial PRIMARY KEY,
    seq             bigint NOT NULL UNIQUE,
    sender_user_id  integer NOT NULL REFERENCES users (id),
    sender_org_id   integer NOT NULL REFERENCES organisations (id),
    headline        text NOT NULL CHECK (length(headline) BETWEEN 1 AND 200),
    body            text NOT NULL CHECK (length(body) <= 4000),
    severity        text NOT NULL CHECK (severity IN ('minor', 'moderate', 'severe', 'extreme')),
    targets         jsonb NOT NULL,
    sent_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    status          text NOT NULL DEFAULT 'actual'
        CHECK (status IN ('actual', 'exercise', 'test')),
    msg_type        text NOT NULL DEFAULT 'alert'
        CHECK (msg_type IN ('alert', 'update', 'cancel')),
    -- the alert an update or cancel replaces
    references_id   bigint REFERENCES alerts (id),
    category        text NOT NULL DEFAULT 'advice'
        CHECK (category IN ('live_incident', 'planned_event', 'crime_pattern', 'offender',
                            'request', 'advice', 'major_incident')),
    urgency         text NOT NULL DEFAULT 'unknown'
        CHECK (urgency IN ('immediate', 'expected', 'future', 'past', 'unknown')),
    certainty       text NOT NULL DEFAULT 'unknown'
        CHECK (certainty IN ('observed', 'likely', 'possible', 'unlikely', 'unknown')),
    instruction     text NOT NULL DEFAULT '' CHECK (length(instruction) <= 2000),
    effective       timestamptz,
    expires         timestamptz,
    area            jsonb,
    classification  text NOT NULL DEFAULT 'OFFICIAL'
        CHECK (classification IN ('OFFICIAL', 'OFFICIAL-SENSITIVE')),
    handling        text NOT NULL DEFAULT '' CHECK (length(handling) <= 500),
    request         jsonb,
    target_roles    text[] NOT NULL DEFAULT '{site_console,company_operator}',
    -- a relay is an alert of its own: the alert a company passed on, and
    -- its note
    relay_of        bigint REFERENCES alerts (id),
    relay_note      text,
    cancelled_at    timestamptz,
    CHECK ((msg_type = 'alert') = (references_id IS NULL) OR relay_of IS NOT NULL)
);
CREATE INDEX alerts_relay_of_idx ON alerts (relay_of) WHERE relay_of IS NOT NULL;
CREATE INDEX alerts_references_idx ON alerts (references_id) WHERE references_id IS NOT NULL;

-- The recipients as resolved at publish time: the audit of who was meant
-- to get the alert.
--
-- No foreign keys (issue 6). Every alert stores one row per recipient site
-- inside its publish transaction, and the alert reaches no console before
-- that transaction commits. The two keys cost a referential integrity
-- check per row: for an alert to 1,034 sites (the bench's city), 2,068
-- checks, about a third of tocsin_publish's time (26 ms without them
-- against 40 ms with them, on a loaded bench machine). The rows need no
-- check row by row: only the broker writes them, through tocsin_publish and
-- tocsin_relay, with the id of the alert they have just inserted and site
-- ids they have just selected from sites; and alerts and sites are never
-- deleted (sites are disabled). The keys that matter for access stay:
-- acks, reads, answers and escalations reference alert_recipients
-- (alert_id, site_id), so only a recipient site can acknowledge, read or
-- answer an alert.
CREATE TABLE alert_recipients (
    alert_id  bigint NOT NULL,
    site_id   integer NOT NULL,
    PRIMARY KEY (alert_id, site_id)
);
CREATE INDEX alert_recipients_site_idx ON alert_recipients (site_id, alert_id);

-- Every answer to a request; the latest per site counts.
CREATE TABLE answers (
    id           bigserial PRIMARY KEY,
    alert_id     bigint NOT NULL,
    site_id      integer NOT NULL,
    user_id      integer NOT NULL REFERENCES users (id),
    choice       text,
    number       bigint,
    answered_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    FOREIGN KEY (alert_id, site_id) REFERENCES alert_recipients (alert_id, site_id),
    CHECK ((choice IS NULL) <> (number IS NULL))
);
CREATE INDEX answers_alert_site_idx ON answers (alert_id, site_id, id DESC);

-- Journal records already written: replay of the broker's local journal
-- (kept while the database is away) is idempotent across crashes. The
-- broker names every publish, delivery batch, acknowledgement and read
-- with a record id before it sends it; the direct write records that id
-- here in the same transaction (outcome 'direct'), so that if the
-- connection drops before the broker hears the outcome, it journals the
-- same record under the same id, and replay finds the id and skips what
-- had in fact committed.
CREATE TABLE journal_applied (
    jid         text PRIMARY KEY,
    kind        text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    outcome     text NOT NULL
);

GRANT SELECT ON stream_meta TO tocsin_broker;
GRANT UPDATE (head) ON stream_meta TO tocsin_broker;
GRANT SELECT, INSERT ON alerts, alert_recipients, answers, journal_applied TO tocsin_broker;
GRANT UPDATE (cancelled_at, target_roles) ON alerts TO tocsin_broker;
GRANT USAGE ON SEQUENCE alerts_id_seq, answers_id_seq TO tocsin_broker, tocsin_admin;
