-- 034_journal_applied_prune.sql: journal_applied is pruned (issue 16, item
-- 7). Every delivery batch, acknowledgement and read written straight to
-- the database, and every journal record written back, leaves its record
-- id here, so the table grew without end (one row per batch every 20 ms
-- or so under load: millions a day). The broker now deletes the ids older
-- than the retention, oldest first, a bounded number at a time
-- (tocsin_journal_applied_prune, sql/functions/alerts.sql), which finds
-- them through this index instead of reading the whole table.
CREATE INDEX journal_applied_at_idx ON journal_applied (applied_at);
