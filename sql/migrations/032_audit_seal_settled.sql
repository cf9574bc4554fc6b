-- 032_audit_seal_settled.sql: the audit sealer reads what to seal through
-- tocsin_audit_to_seal(p_limit, p_mark, p_writers) (sql/functions/audit.sql),
-- which seals only up to an id below which every transaction that drew one
-- has ended, instead of tocsin_audit_unsealed(p_limit), which took the rows
-- older than 3 s by their own timestamp and so skipped, for ever, a row
-- whose transaction committed after a higher id was sealed (issue 16: 86
-- rows left unsealed with two publishers at 150 alerts/s, 12 after a
-- journal write-back; `tocsinctl audit verify` then called them inserted
-- behind the broker's back). No table changes: the old function goes.
DROP FUNCTION IF EXISTS tocsin_audit_unsealed(integer); -- absent on a new database
