-- audit.sql: sealing the audit trail, and the trail as the logs of the
-- Data Protection Act 2018, s.62 (docs/audit.md; the tables and the seal
-- chain are described in sql/schema/04_audit.sql).
--
-- s.62 asks for logs of collection, alteration, consultation, disclosure
-- (including transfers), combination and erasure, with the date and time of
-- each and, for consultation and disclosure, the justification, the
-- identity of the person and, for disclosure, of the recipients. Every such
-- operation writes an audit row (action, actor, time, alert, site, detail);
-- here
--   * the s.62 category of each action (tocsin_audit_category),
--   * and `tocsinctl audit export`'s rows (tocsin_audit_s62), with the
--     subject filter (tocsin_audit_concerns) and the record of each export
--     (tocsin_audit_export_record, an audit row 'audit_export').
-- Reading an alert's receipts is audited as a consultation too
-- (view_receipts: tocsin_receipts in sql/functions/receipts.sql).

-- What an erasure leaves of a detail: nothing, but a deliver row's batch
-- id, which the seal's batch digest needs (tocsin_audit_canonical).
CREATE OR REPLACE FUNCTION tocsin_audit_erased_detail(d jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN d ? 'batch' THEN jsonb_build_object('batch', d->'batch')
                ELSE '{}'::jsonb END;
$$;

-- The detail as a seal covers it (044_audit_detail_erasure): the text
-- itself below audit_digest_from.from_id; from it, 'sha256:' and the
-- SHA-256 (hex) of the text, which an erasure keeps in detail_sha256
-- (tocsin_retention_audit_detail). An erased row whose detail is not what
-- the erasure leaves ({} or the batch it names) adds that detail, so that
-- writing something into an erased detail breaks the seal too.
CREATE OR REPLACE FUNCTION tocsin_audit_canonical_detail(a audit)
RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN a.id < (SELECT f.from_id FROM audit_digest_from f) THEN a.detail::text
        WHEN a.detail_sha256 IS NULL THEN
            'sha256:' || encode(sha256(convert_to(a.detail::text, 'UTF8')), 'hex')
        ELSE 'sha256:' || a.detail_sha256
             || CASE WHEN a.detail = tocsin_audit_erased_detail(a.detail) THEN ''
                     ELSE E'\x1d' || a.detail::text END
    END;
$$;

-- The exact bytes a seal covers: every column, in a fixed order and format
-- (jsonb's text form is canonical: keys sorted, no duplicates); for a
-- deliver row naming a batch, followed by the SHA-256 (hex) of the batch's
-- canonical bytes (tocsin_delivery_batch_canonical), or, once the batch is
-- erased past its retention, the digest the erasure kept
-- (delivery_batch_digests, 051_record_retention), or 'missing' when the
-- batch row is gone without one, so the seal covers the recipients and times of every
-- delivery in it. A digest rather than the bytes: a batch holds up to
-- 16,000 deliveries (about 450 kB) and the sealer reads up to 5,000 rows at
-- a time. Older deliver rows (one per delivery, no "batch") keep their
-- canonical text and seals. STABLE, not IMMUTABLE: it reads
-- delivery_batches.
CREATE OR REPLACE FUNCTION tocsin_audit_canonical(a audit)
RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT concat_ws(E'\x1f',
        a.id::text,
        to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        a.action,
        COALESCE(a.actor_user_id::text, ''),
        COALESCE(a.actor_username, ''),
        COALESCE(a.actor_role, ''),
        COALESCE(a.actor_org_id::text, ''),
        COALESCE(a.alert_id::text, ''),
        COALESCE(a.site_id::text, ''),
        COALESCE(a.remote_addr, ''),
        tocsin_audit_canonical_detail(a))
        || CASE WHEN a.action = 'deliver' AND a.detail ? 'batch' THEN
               E'\x1e' || COALESCE(
                   (SELECT encode(sha256(tocsin_delivery_batch_canonical(b)), 'hex')
                      FROM delivery_batches b
                     WHERE a.detail->>'batch' ~ '^[0-9]{1,18}$'
                       AND b.id = (a.detail->>'batch')::bigint),
                   (SELECT e.sha256 FROM delivery_batch_digests e
                     WHERE a.detail->>'batch' ~ '^[0-9]{1,18}$'
                       AND e.batch_id = (a.detail->>'batch')::bigint),
                   'missing')
           ELSE '' END;
$$;

-- The transactions that may still commit audit rows: those holding the
-- lock on the audit table that every INSERT takes (ROW EXCLUSIVE) before
-- it runs, so before the column default draws an id, and keeps to the end
-- of its transaction (pg_locks: virtual transaction ids, "3/1234").
CREATE OR REPLACE FUNCTION tocsin_audit_writers()
RETURNS SETOF text
LANGUAGE sql VOLATILE AS $$
    SELECT DISTINCT l.virtualtransaction
      FROM pg_locks l
     WHERE l.locktype = 'relation' AND l.relation = 'audit'::regclass
       AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
       AND l.mode = 'RowExclusiveLock' AND l.granted;
$$;

-- The next rows to seal (issue 16): in id order, after the last sealed
-- one, up to an id that is settled: every row at or below it that will
-- ever exist has committed. A row must never be sealed past: the chain
-- runs in id order, and verify names an unsealed row below a sealed one
-- as inserted behind the broker's back. It used to take the rows older
-- than 3 s by their own timestamp, so a transaction that drew an id and
-- committed after a higher id was sealed (a status batch on a loaded
-- machine; a deliver row written back from the journal, dated in the
-- outage) was skipped for ever: 86 rows with two publishers at 150
-- alerts/s, 12 after a journal write-back.
--
-- Settling takes two rounds of the sealer (one a second). Each round
-- leaves a mark: the last id the sequence gave out, read first, and then
-- the transactions writing audit rows (tocsin_audit_writers). An id at or
-- below the mark was drawn before it was read, by a transaction that
-- already held the table's lock, so that transaction is among the writers
-- read after it, or has ended. At the next round, once none of those
-- writers holds the lock any more (a lock is released after its
-- transaction's commit is visible), the mark is settled, and the rows are
-- read with a snapshot taken after that check. The broker keeps the mark
-- between rounds (p_mark, p_writers: NULL at its first round, which seals
-- nothing); a broker of its own keeps its own, so two brokers sealing
-- together each seal only settled rows, and a seal one has already stored
-- is kept (tocsin_audit_seal; both compute the same seal for a row).
--
-- Nothing waits: a writer takes no lock it did not take before and pays
-- nothing, and a writer that stays open only holds back the seals above
-- the ids it drew. The other plan considered, a shared advisory lock taken
-- by a trigger on every insert (which then draws the id) and an exclusive
-- one by the sealer, cost a trigger per row and made writers queue behind
-- the sealer while it waited for the open ones. Measured on a copy of the
-- test database (pgbench, 2 shared cores): inserting 2,000 audit rows took
-- 11.7-15.9 ms with that trigger against 8.4-8.9 ms, a status batch of
-- 2,006 reports 59-71 ms against 54-63 ms; single-row writers at 100 a
-- second beside status batches at 5 a second, with a sealer taking the
-- exclusive lock once a second (lock_timeout 100 ms): p99 6.3-13.2 ms and
-- at most 19-47 ms, against 4.4-6.3 ms and 11-20 ms with no sealer. This
-- function with nothing to seal takes 0.8 ms, of which 0.2 ms is reading
-- pg_locks. Audit ids are drawn only by the column default inside an
-- INSERT (nothing calls nextval('audit_id_seq')), which is what makes the
-- table's lock a witness of every id in flight.
--
-- One row per row to seal, each with the new mark; when there is none,
-- one row with audit_id NULL carrying the mark.
CREATE OR REPLACE FUNCTION tocsin_audit_to_seal(p_limit integer, p_mark bigint, p_writers text[])
RETURNS TABLE (audit_id bigint, canonical text, prev_seal bytea, mark bigint, writers text[])
LANGUAGE plpgsql AS $$
DECLARE
    v_settled bigint := 0;
    v_mark    bigint;
    v_writers text[];
BEGIN
    IF p_mark IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM tocsin_audit_writers() w WHERE w = ANY (p_writers)) THEN
        v_settled := p_mark;
    END IF;
    v_mark := COALESCE(pg_sequence_last_value('audit_id_seq'), 0);
    v_writers := ARRAY(SELECT tocsin_audit_writers());
    RETURN QUERY
    WITH last AS (SELECT s.audit_id, s.seal FROM audit_seal s ORDER BY s.audit_id DESC LIMIT 1)
    SELECT a.id, tocsin_audit_canonical(a), (SELECT seal FROM last), v_mark, v_writers
      FROM audit a
     WHERE a.id > COALESCE((SELECT last.audit_id FROM last), 0) AND a.id <= v_settled
     ORDER BY a.id
     LIMIT p_limit;
    IF NOT FOUND THEN
        RETURN QUERY SELECT NULL::bigint, NULL::text, NULL::bytea, v_mark, v_writers;
    END IF;
END
$$;

-- Stores seals computed by the broker; a seal already present (another
-- broker sealed the same rows with the same key) is kept.
CREATE OR REPLACE FUNCTION tocsin_audit_seal(p_ids bigint[], p_seals bytea[])
RETURNS integer
LANGUAGE sql AS $$
    WITH ins AS (
        INSERT INTO audit_seal (audit_id, seal)
        SELECT * FROM unnest(p_ids, p_seals)
        ON CONFLICT DO NOTHING
        RETURNING 1)
    SELECT count(*)::integer FROM ins;
$$;

-- The s.62 category of an audit action. Actions outside s.62's six are
-- 'access' (sign-in attempts, refused adapter handshakes: who tried to get
-- in) and 'other' (broker bookkeeping such as journal_refused). Unknown,
-- future actions are 'other' until named here, except for the naming
-- patterns tocsinctl's administrative actions follow (*_added: collection;
-- *_updated, *_disabled, *_enabled, *_set, *_revoked: alteration;
-- *_erased, *_deleted: erasure; view_*: consultation; *_export:
-- disclosure). A site's history (view_site_history) is a consultation:
-- 'view_*' already falls there by pattern; it is named so that the mapping
-- does not hang on the pattern alone.
CREATE OR REPLACE FUNCTION tocsin_audit_category(p_action text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN p_action IN ('read', 'image_view', 'image_view_refused', 'view_board',
                          'view_area_totals', 'view_inbox', 'view_receipts', 'view_alert',
                          'view_site_history', 'cap_export', 'cap_export_refused')
             OR p_action LIKE 'view\_%' THEN 'consultation'
        WHEN p_action IN ('disclose', 'deliver', 'relay', 'escalate', 'audit_export')
             OR p_action LIKE '%\_export' THEN 'disclosure'
        WHEN p_action IN ('image_erased') OR p_action LIKE '%\_erased'
             OR p_action LIKE '%\_deleted' THEN 'erasure'
        WHEN p_action IN ('update', 'cancel') OR p_action LIKE '%\_updated'
             OR p_action LIKE '%\_disabled' OR p_action LIKE '%\_enabled'
             OR p_action LIKE '%\_set' OR p_action LIKE '%\_revoked'
             OR p_action IN ('adapter_revoke') THEN 'alteration'
        WHEN p_action IN ('image_attach') THEN 'combination'
        WHEN p_action IN ('publish', 'ack', 'answer', 'status_report', 'partner_report',
                          'image_upload', 'report_now', 'adapter_submit', 'adapter_add')
             OR p_action LIKE '%\_added' THEN 'collection'
        WHEN p_action IN ('signin', 'signin_failed', 'signin_locked', 'signout',
                          'adapter_refused')
            THEN 'access'
        ELSE 'other'
    END;
$$;

-- A site named by id or by its slug. (The slug is read through to_jsonb,
-- as written when sites had no slug column yet.)
CREATE OR REPLACE FUNCTION tocsin_audit_site_id(p_site text)
RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT s.id FROM sites s
     WHERE (p_site ~ '^[0-9]{1,9}$' AND s.id = p_site::integer)
        OR to_jsonb(s)->>'slug' = p_site
     ORDER BY s.id LIMIT 1;
$$;

-- Does audit row a concern the subject (p_type, p_value)? The subject is
-- what an inspector asks about (docs/audit.md, "Subjects"):
--   alert:ID   the alert itself, its updates' and relays' rows, and the
--              image views and erasures that name it;
--   site:ID|SLUG  rows about the site: its disclosures, deliveries,
--              acknowledgements, reports, and consultations that listed it
--              (area totals, report-now requests, publish recipients, status
--              board views whose scope held it: all sites, or those of the
--              company guarding it now);
--   image:ID   its upload, attachment, views, refusals and erasure;
--   report:ID  a partner or status report, and inbox reads that showed it;
--   user:NAME  what the user did, and rows about the user (deliveries to
--              their console, image views, administrative changes);
--   org:ID     what the organisation's users did, and its images' erasure.
-- p_value is the value as given; p_num its number (alert, report, org),
-- p_site and p_user the site and user it names (NULL when none). A user's
-- deliveries are found in the users a deliver row lists (its actor is the
-- broker), a site's disclosures and deliveries in the sites a disclose or
-- deliver row lists.
CREATE OR REPLACE FUNCTION tocsin_audit_concerns(a audit, p_type text, p_value text,
                                                 p_num bigint, p_site integer, p_user integer)
RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT CASE p_type
        WHEN 'alert' THEN
            a.alert_id = p_num
            OR a.detail @> jsonb_build_object('alerts', jsonb_build_array(p_num))
            OR a.detail->>'of' = p_value OR a.detail->>'relay_of' = p_value
            OR a.detail->>'references' = p_value
        WHEN 'site' THEN
            a.site_id = p_site
            OR a.detail @> jsonb_build_object('recipients', jsonb_build_array(p_site))
            OR a.detail @> jsonb_build_object('sites', jsonb_build_array(p_site))
            OR a.detail @> jsonb_build_object('asked', jsonb_build_array(p_site))
            -- a status board view shows every site in its scope
            OR (a.action = 'view_board'
                AND (a.detail->>'scope' = 'all'
                     OR COALESCE((a.detail->>'org_id')::integer, a.actor_org_id)
                        = (SELECT s.guard_org_id FROM sites s WHERE s.id = p_site)))
        WHEN 'image' THEN
            a.detail->>'image_id' = p_value OR a.detail->>'image' = p_value
            OR a.detail @> jsonb_build_object('images',
                                              jsonb_build_array(jsonb_build_object('image_id', p_value)))
        WHEN 'report' THEN
            (a.action IN ('status_report', 'partner_report', 'report_updated')
             AND a.detail->>'report_id' = p_value)
            OR a.detail @> jsonb_build_object('reports', jsonb_build_array(p_num))
        WHEN 'user' THEN
            a.actor_username = p_value OR a.actor_user_id = p_user
            OR a.detail->>'username' = p_value
            OR a.detail->>'user_id' = p_user::text
            OR a.detail->>'uploader_user_id' = p_user::text
            -- deliveries to the user's sessions
            OR (a.action = 'deliver'
                AND a.detail @> jsonb_build_object('users', jsonb_build_array(p_user)))
        WHEN 'org' THEN
            a.actor_org_id = p_num
            OR a.detail->>'uploader_org_id' = p_value
            OR a.detail->>'org_id' = p_value
        ELSE true
    END;
$$;

-- The s.62 export: audit rows with at in [p_from, p_to), of category p_kind
-- ('all' for every category), concerning the subject when one is given
-- (p_type NULL for none), in time order, with the actor's organisation and
-- the site's name resolved. Date and time are UTC.
CREATE OR REPLACE FUNCTION tocsin_audit_s62(p_from timestamptz, p_to timestamptz, p_kind text,
                                            p_type text, p_value text)
RETURNS TABLE (id bigint, date text, "time" text, at text, category text, action text,
               user_id integer, username text, role text, org_id integer, org_name text,
               remote_addr text, alert_id bigint, site_id integer, site_name text,
               object text, detail jsonb)
LANGUAGE sql STABLE AS $$
    WITH subject AS (
        SELECT CASE WHEN p_value ~ '^[0-9]{1,18}$' THEN p_value::bigint END AS num,
               CASE WHEN p_type = 'site' THEN tocsin_audit_site_id(p_value) END AS site,
               CASE WHEN p_type = 'user' THEN (SELECT u.id FROM users u WHERE u.username = p_value)
               END AS usr)
    SELECT a.id,
           to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
           to_char(a.at AT TIME ZONE 'UTC', 'HH24:MI:SS.MS'),
           to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           tocsin_audit_category(a.action), a.action,
           a.actor_user_id, a.actor_username, a.actor_role, a.actor_org_id, o.name,
           a.remote_addr, a.alert_id, a.site_id, s.name,
           CASE
               WHEN a.detail ? 'image_id' THEN 'image:' || (a.detail->>'image_id')
               WHEN a.action IN ('status_report', 'partner_report', 'report_updated')
                   THEN 'report:' || (a.detail->>'report_id')
               WHEN a.alert_id IS NOT NULL THEN 'alert:' || a.alert_id
               WHEN a.action = 'view_board' THEN 'status_board'
               WHEN a.action = 'view_area_totals' THEN 'area_totals'
               WHEN a.action = 'view_inbox' THEN 'inbox'
               WHEN a.action = 'report_now' THEN 'report_request:' || (a.detail->>'request_id')
               WHEN a.site_id IS NOT NULL THEN 'site:' || a.site_id
               WHEN a.detail ? 'username' THEN 'user:' || (a.detail->>'username')
           END,
           a.detail
      FROM audit a
      CROSS JOIN subject
      LEFT JOIN organisations o ON o.id = a.actor_org_id
      LEFT JOIN sites s ON s.id = a.site_id
     WHERE a.at >= p_from AND a.at < p_to
       AND (p_kind = 'all' OR tocsin_audit_category(a.action) = p_kind)
       AND (p_type IS NULL
            OR tocsin_audit_concerns(a, p_type, p_value, subject.num, subject.site,
                                      subject.usr))
     ORDER BY a.at, a.id;
$$;

-- The record of an export: who (tocsinctl's --actor, or its login name),
-- the window, the subject, the kind and the format. An export hands the
-- trail to someone outside the system, so it is itself a disclosure.
CREATE OR REPLACE FUNCTION tocsin_audit_export_record(p_actor text, p_detail jsonb)
RETURNS bigint
LANGUAGE sql AS $$
    INSERT INTO audit (action, actor_username, actor_role, detail)
    VALUES ('audit_export', p_actor, 'tocsinctl', p_detail)
    RETURNING id;
$$;

GRANT EXECUTE ON FUNCTION
    tocsin_audit_canonical(audit),
    tocsin_audit_writers(),
    tocsin_audit_to_seal(integer, bigint, text[]),
    tocsin_audit_seal(bigint[], bytea[]),
    tocsin_audit_category(text),
    tocsin_audit_site_id(text),
    tocsin_audit_concerns(audit, text, text, bigint, integer, integer),
    tocsin_audit_s62(timestamptz, timestamptz, text, text, text),
    tocsin_audit_export_record(text, jsonb)
    TO tocsin_broker;
