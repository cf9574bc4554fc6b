-- 017_delivery_fast.sql: cheaper delivery records (issue 6).
--
-- Every alert frame handed to a console is one row in deliveries (and one
-- 'deliver' row in audit), written in batches by tocsin_record_deliveries.
-- At 10,000 consoles that is up to 200,000 rows a second, on the same two
-- cores as the broker. The three foreign keys of deliveries cost a
-- referential-integrity trigger each per row: with them a batch of 20,000
-- took 444 ms to insert into deliveries, without them 78 ms (EXPLAIN on a
-- bench database), and the delivery batches held the broker's one database
-- pipeline long enough to delay publishes behind them by a second.
--
-- The rows stay exactly what they were, so the investigator's questions are
-- answered as before ("did site X receive alert Y, and when":
--   SELECT first_at FROM delivered_sites WHERE alert_id = Y AND site_id = X;
-- each console and time: SELECT user_id, delivered_at FROM deliveries
--   WHERE alert_id = Y AND site_id = X; and the audit's 'deliver' rows).
-- (Since sql/023 deliveries is a view over the rows written until then,
-- renamed delivery_rows, and delivery_batches, one row per alert and batch
-- of recipients; the same queries answer, and the 'deliver' audit row is
-- one per batch, its seal covering the batch: docs/audit.md.)
-- Like the audit table, deliveries no longer needs its references checked
-- row by row: only the broker writes it (its role may insert, never update
-- or delete), through tocsin_record_deliveries, with the id of an alert it
-- has already stored and those of the console a verified token names; and
-- alerts, sites and users
-- are never deleted (sites and users are disabled), and a delivery record,
-- like an audit row, must outlive what it names.

ALTER TABLE deliveries
    DROP CONSTRAINT IF EXISTS deliveries_alert_id_fkey,
    DROP CONSTRAINT IF EXISTS deliveries_site_id_fkey,
    DROP CONSTRAINT IF EXISTS deliveries_user_id_fkey;
