-- 046_release.sql: two-person release of high-impact live alerts (issue
-- 23). Hawaii, January 2018: a live missile alert reached every phone
-- because one operator picked the wrong item and nobody else had to agree.
--
-- release_policy: one row, the force's rule (tocsinctl policy set,
-- audited). A live alert (status actual: exercises and tests never) whose
-- severity is in severities is held when it reaches more than max_sites
-- sites, or names a sector (a whole sector), or names every security
-- company (all companies). A held alert waits expiry_s seconds at most.
--
-- pending_releases: one row per held publish, from the hold to its end.
-- alert_id is the id the broker gave the alert; the alert itself is
-- stored (alerts) and delivered only when another controller approves,
-- through the same tocsin_publish as any alert. rec is the publish
-- record as the broker would have stored it then. state: pending, then
-- approved, rejected or expired; released_alone for a break-glass publish
-- (delivered at once, listed for review with its justification).
-- A few rows a day at most: no index beyond the key and the pending one.

CREATE TABLE release_policy (
    one          boolean PRIMARY KEY DEFAULT true CHECK (one),
    severities   text[] NOT NULL DEFAULT '{severe,extreme}',
    max_sites    integer NOT NULL DEFAULT 10 CHECK (max_sites >= 0),
    whole_sector boolean NOT NULL DEFAULT true,
    all_companies boolean NOT NULL DEFAULT true,
    expiry_s     integer NOT NULL DEFAULT 600 CHECK (expiry_s BETWEEN 30 AND 86400),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    updated_by   text NOT NULL DEFAULT 'default'
);
INSERT INTO release_policy DEFAULT VALUES;

CREATE TABLE pending_releases (
    alert_id        bigint PRIMARY KEY,
    author_user_id  integer NOT NULL REFERENCES users (id),
    rec             jsonb NOT NULL,
    held_because    text NOT NULL,
    recipients      integer[] NOT NULL,
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'approved', 'rejected', 'expired',
                                     'released_alone')),
    held_at         timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    decided_by      integer REFERENCES users (id),
    decided_at      timestamptz,
    reason          text,
    CHECK (state = 'pending' OR decided_at IS NOT NULL)
);
CREATE INDEX pending_releases_pending_idx ON pending_releases (expires_at)
    WHERE state = 'pending';

GRANT SELECT ON release_policy TO tocsin_broker;
GRANT SELECT, UPDATE ON release_policy TO tocsin_admin;
GRANT SELECT, INSERT, UPDATE ON pending_releases TO tocsin_broker;
GRANT SELECT ON pending_releases TO tocsin_admin;
