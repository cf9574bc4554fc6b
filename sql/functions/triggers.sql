-- triggers.sql: the functions the tables' triggers run (the triggers
-- themselves are with their tables in sql/schema/).
--
-- deploy/migrate.sh applies this file first, before the baseline and the
-- migrations, since a trigger can only be made on a function that exists;
-- they are PL/pgSQL, whose bodies name tables only when they run, so they
-- need no table to be created. Keep them so.

-- Audit rows are never changed: only the migration role (or a superuser,
-- who can do anything anyway) may update or delete them. Also guards
-- audit_seal and delivery_batches, which are append-only like the rows.
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF pg_has_role(current_user, 'tocsin_migrator', 'MEMBER') THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    RAISE EXCEPTION 'audit rows are append-only (% refused for %)', TG_OP, current_user
        USING ERRCODE = 'insufficient_privilege';
END
$$;

-- Disabling a user also revokes their tokens, so that enabling the
-- account again does not bring back the tokens it held.
CREATE OR REPLACE FUNCTION users_disable_revokes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.disabled AND NOT OLD.disabled THEN
        NEW.tokens_valid_after := clock_timestamp();
    END IF;
    RETURN NEW;
END
$$;

-- An account whose tokens may be worth less now (disabled, tokens revoked,
-- role, organisation, site or clearance changed, deleted) is noted in
-- account_changes (sql/migrations/037_account_changes.sql), under the
-- transaction's id, for the broker's revocation sweep. SECURITY DEFINER:
-- whoever changes users (tocsinctl as tocsin_admin, a superuser by hand)
-- need not be granted the table.
CREATE OR REPLACE FUNCTION tocsin_account_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND NEW.disabled IS NOT DISTINCT FROM OLD.disabled
       AND NEW.tokens_valid_after IS NOT DISTINCT FROM OLD.tokens_valid_after
       AND NEW.role IS NOT DISTINCT FROM OLD.role
       AND NEW.org_id IS NOT DISTINCT FROM OLD.org_id
       AND NEW.site_id IS NOT DISTINCT FROM OLD.site_id
       AND NEW.cleared_sensitive IS NOT DISTINCT FROM OLD.cleared_sensitive
       AND NEW.id = OLD.id THEN
        RETURN NULL;
    END IF;
    DELETE FROM account_changes WHERE at < clock_timestamp() - interval '1 day';
    INSERT INTO account_changes (user_id) VALUES (OLD.id);
    RETURN NULL;
END
$$;

-- A site without a slug takes its console user's (console.<slug>) when
-- that user is added (trigger users_site_slug): the demo data adds sites,
-- then their consoles. (Sites made before slugs existed took theirs the
-- same way, from the consoles they had then.)
CREATE OR REPLACE FUNCTION tocsin_slug_from_console() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v text := substr(NEW.username, 9);
BEGIN
    IF NEW.role = 'site_console' AND NEW.username LIKE 'console.%'
       AND v ~ '^[a-z0-9][a-z0-9-]{0,39}$'
       AND NOT EXISTS (SELECT 1 FROM sites WHERE slug = v) THEN
        UPDATE sites SET slug = v WHERE id = NEW.site_id AND slug IS NULL;
    END IF;
    RETURN NULL;
END
$$;


-- A relay and the alert it relays are one alert at a site that received
-- both (migration 043, issue 17): the new acks, reads or answers of one
-- are copied to the others of its family that the site received
-- (tocsin_copy_receipts, sql/functions/receipts.sql, which also audits
-- each copy). So the tallies and receipts of the relay and of the
-- original both count the one acknowledgement, and neither escalates. The
-- copies do not copy again (pg_trigger_depth).
--
-- Once per statement, over its new rows (a transition table), not once
-- per row: the receipt batch stores up to 2,000 acks in one INSERT
-- (tocsin_receipt_batch_fast). Most alerts have no relay: then one look
-- at the alerts named, and nothing is written.
CREATE OR REPLACE FUNCTION tocsin_receipt_linked() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() > 1 OR NOT EXISTS (
        SELECT 1 FROM (SELECT DISTINCT alert_id FROM new_rows) n
          JOIN alerts a ON a.id = n.alert_id
         WHERE a.relay_of IS NOT NULL
            OR EXISTS (SELECT 1 FROM alerts x WHERE x.relay_of = a.id)) THEN
        RETURN NULL;
    END IF;
    IF TG_TABLE_NAME = 'acks' THEN
        PERFORM tocsin_copy_receipts('ack', array_agg(alert_id), array_agg(site_id),
                                     array_agg(user_id), array_agg(acked_at), NULL, NULL)
           FROM new_rows;
    ELSIF TG_TABLE_NAME = 'reads' THEN
        PERFORM tocsin_copy_receipts('read', array_agg(alert_id), array_agg(site_id),
                                     array_agg(user_id), array_agg(read_at), NULL, NULL)
           FROM new_rows;
    ELSE
        PERFORM tocsin_copy_receipts('answer', array_agg(alert_id), array_agg(site_id),
                                     array_agg(user_id), array_agg(answered_at),
                                     array_agg(choice), array_agg(number))
           FROM new_rows;
    END IF;
    RETURN NULL;
END
$$;

-- The crime picture's counts (062_crime_picture_counts.sql) follow
-- crime_records: a statement's rows (new_rows +1, old_rows -1; an update
-- both, so a changed time, place or category moves its count) are summed
-- per key and added, and a count that reaches zero is deleted, so an
-- erased record leaves nothing behind. One upsert per statement, not per
-- row: importing 100,000 rows adds two grouped inserts. SECURITY
-- DEFINER: the broker's role reads the counts but may not write them.
CREATE OR REPLACE FUNCTION tocsin_crime_counts_kept() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_rows    text := CASE TG_OP
        WHEN 'INSERT' THEN 'SELECT at, at_precision, category, x, y, 1 AS k FROM new_rows'
        WHEN 'DELETE' THEN 'SELECT at, at_precision, category, x, y, -1 AS k FROM old_rows'
        ELSE 'SELECT at, at_precision, category, x, y, 1 AS k FROM new_rows UNION ALL '
             'SELECT at, at_precision, category, x, y, -1 FROM old_rows' END;
    v_london  text := '(r.at AT TIME ZONE ''Europe/London'')';
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM crime_picture_places;
        DELETE FROM crime_picture_times;
        RETURN NULL;
    END IF;
    EXECUTE format('
        INSERT INTO crime_picture_places AS p (month, day, timed, category, x, y, n)
        SELECT date_trunc(''month'', %2$s)::date,
               date_trunc(CASE WHEN r.at_precision = ''minute'' THEN ''month'' ELSE ''day'' END,
                          %2$s)::date,
               r.at_precision = ''minute'', r.category, r.x, r.y, sum(r.k)
          FROM (%1$s) r GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(r.k) <> 0
        ON CONFLICT (month, day, timed, category, x, y) DO UPDATE SET n = p.n + EXCLUDED.n',
        v_rows, v_london);
    EXECUTE format('
        INSERT INTO crime_picture_times AS t (month, category, dow, hr, n)
        SELECT date_trunc(''month'', %2$s)::date, r.category, extract(isodow FROM %2$s),
               extract(hour FROM %2$s), sum(r.k)
          FROM (%1$s) r WHERE r.at_precision = ''minute''
         GROUP BY 1, 2, 3, 4 HAVING sum(r.k) <> 0
        ON CONFLICT (month, category, dow, hr) DO UPDATE SET n = t.n + EXCLUDED.n', v_rows, v_london);
    IF TG_OP <> 'INSERT' THEN
        EXECUTE format('
            WITH m AS (SELECT DISTINCT date_trunc(''month'', %2$s)::date AS month FROM (%1$s) r)
            DELETE FROM crime_picture_places p USING m WHERE p.month = m.month AND p.n = 0',
            v_rows, v_london);
        EXECUTE format('
            WITH m AS (SELECT DISTINCT date_trunc(''month'', %2$s)::date AS month FROM (%1$s) r)
            DELETE FROM crime_picture_times t USING m WHERE t.month = m.month AND t.n = 0',
            v_rows, v_london);
    END IF;
    RETURN NULL;
END
$$;
