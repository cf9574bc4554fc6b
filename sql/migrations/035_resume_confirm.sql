-- 035_resume_confirm.sql: tocsin_record_deliveries takes a fifth argument,
-- p_detail (default '{}'), added to each deliver audit row's detail, so
-- that the deliveries a resuming console's position proves are recorded
-- through it marked {"confirmed": "resume"} (tocsin_resume_confirm,
-- sql/functions/delivery.sql; issue 16: a kill -9 during a fan-out left
-- frames that consoles had received without a record). The four-argument
-- function goes; sql/functions/delivery.sql creates the new one, which
-- every existing call (four arguments) reaches.
DROP FUNCTION IF EXISTS tocsin_record_deliveries(bigint[], integer[], integer[], timestamptz[]);
