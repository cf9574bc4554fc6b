-- 043_relay_receipts.sql: a relay is one alert with its original at a site
-- that received both (issue 17, item 5; docs/protocol.md, "Relay").
--
-- A company's relay arrived at a building as a second alert, to
-- acknowledge and answer again, and the company's desk listed the site
-- twice. Now one acknowledgement, one read and one answer there count for
-- both, whichever of the two the console named: tocsin_receipt_linked
-- (sql/functions/triggers.sql) has tocsin_copy_receipts
-- (sql/functions/receipts.sql) copy each new ack, read and answer to the
-- other alerts of the family (the original and its relays) that the site
-- received, and audit each copy; a relay made after a site acknowledged
-- takes the site's receipts when it is made (tocsin_relay). The triggers
-- run once per statement, on its new rows: a receipt batch of 2,000 acks
-- (tocsin_receipt_batch_fast) looks up the families of the alerts it names
-- once, and of an alert without relays nothing is written: one INSERT of
-- 2,000 acks of 2,000 alerts without relays took 46-54 ms with the trigger
-- and 51-57 ms with it disabled (three runs each, demo database), the
-- difference lost in the noise.
CREATE TRIGGER acks_linked AFTER INSERT ON acks REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tocsin_receipt_linked();
CREATE TRIGGER reads_linked AFTER INSERT ON reads REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tocsin_receipt_linked();
CREATE TRIGGER answers_linked AFTER INSERT ON answers REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tocsin_receipt_linked();
