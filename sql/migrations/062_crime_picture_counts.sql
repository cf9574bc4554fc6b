-- 062_crime_picture_counts.sql: the crime picture's counts kept per
-- month (issue 21's speed target), and the force's stolen-property
-- register (tocsinctl crime stolen).
--
-- 1. crime_picture_places and crime_picture_times. The force's picture of
--    a year over the whole City (the bench: 500,000 records, 492,475 of
--    them in this year and the previous) read every record of both years
--    and hashed each four ways (grid cell, heat point, hour, category):
--    EXPLAIN (ANALYZE, BUFFERS) gave 520 ms to the scan and 610 ms to the
--    hash tables, for 7,508 groups (p50 704 ms, p95 936 ms at load 1-3).
--    What it groups by repeats: police.uk's points are snapped to a few
--    hundred places and its times are months. So the records are also
--    counted here, by London month (the first day of it) and category,
--    and either by point (x, y: crime_records' British National Grid
--    metres, exactly, so that every grid and the metre heat are the
--    same floor(x / cell) as before) or, for records with a time, by
--    London day of week and hour. A record with a month only (police.uk's,
--    at its month's first instant) is also counted by its London day, so
--    that a period starting or ending inside a month takes those from
--    here too: the picture sums whole months from here, plus the day rows
--    of the partial months at its edges, and reads only the timed records
--    of those (tocsin_crime_groups_summed, sql/functions/crime_map.sql);
--    the bench's year reads 9,000 timed records there rather than 34,000.
--    Kept by statement triggers on crime_records (tocsin_crime_counts_kept,
--    triggers.sql) on every insert, update and delete, so the import, the
--    contributions, the uploads and the retention sweep (whose erasure
--    takes the counts with it: a count left at zero is deleted, since its
--    key says a crime of that kind happened there that month) need no
--    change. Only the force's whole-area picture reads them: a company's
--    reach, a drawn area and a cell select points the times rows do not
--    carry, and read the records as before. n has no CHECK (n >= 0):
--    PostgreSQL checks an upsert's proposed row before it finds the
--    conflict, and a deletion proposes -1.
-- (tocsin_crime_picture_of gains p_scan: sql/functions/crime_map.sql
-- makes it again)
DROP FUNCTION IF EXISTS tocsin_crime_picture_of(users, jsonb);

CREATE TABLE crime_picture_places (
    month     date NOT NULL,
    day       date NOT NULL,
    timed     boolean NOT NULL,
    category  text NOT NULL,
    x         double precision NOT NULL,
    y         double precision NOT NULL,
    n         integer NOT NULL,
    PRIMARY KEY (month, day, timed, category, x, y),
    CHECK (NOT timed OR day = month)
);

CREATE TABLE crime_picture_times (
    month     date NOT NULL,
    category  text NOT NULL,
    dow       smallint NOT NULL CHECK (dow BETWEEN 1 AND 7),
    hr        smallint NOT NULL CHECK (hr BETWEEN 0 AND 23),
    n         integer NOT NULL,
    PRIMARY KEY (month, category, dow, hr)
);

INSERT INTO crime_picture_places (month, day, timed, category, x, y, n)
SELECT date_trunc('month', at AT TIME ZONE 'Europe/London')::date,
       CASE WHEN at_precision = 'minute' THEN date_trunc('month', at AT TIME ZONE 'Europe/London')
            ELSE date_trunc('day', at AT TIME ZONE 'Europe/London') END::date,
       at_precision = 'minute', category, x, y, count(*)
  FROM crime_records GROUP BY 1, 2, 3, 4, 5, 6;
INSERT INTO crime_picture_times (month, category, dow, hr, n)
SELECT date_trunc('month', at AT TIME ZONE 'Europe/London')::date, category,
       extract(isodow FROM at AT TIME ZONE 'Europe/London'),
       extract(hour FROM at AT TIME ZONE 'Europe/London'), count(*)
  FROM crime_records WHERE at_precision = 'minute' GROUP BY 1, 2, 3, 4;

-- One trigger per event: a trigger with transition tables takes one.
CREATE TRIGGER crime_records_counted_insert AFTER INSERT ON crime_records
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tocsin_crime_counts_kept();
CREATE TRIGGER crime_records_counted_update AFTER UPDATE ON crime_records
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tocsin_crime_counts_kept();
CREATE TRIGGER crime_records_counted_delete AFTER DELETE ON crime_records
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tocsin_crime_counts_kept();

GRANT SELECT ON crime_picture_places, crime_picture_times TO tocsin_broker;
CREATE TRIGGER crime_records_counted_truncate AFTER TRUNCATE ON crime_records
    FOR EACH STATEMENT EXECUTE FUNCTION tocsin_crime_counts_kept();

-- 2. crime_stolen_property: the force's own register of stolen property
--    (tocsinctl crime stolen add|list|remove; sql/functions/
--    crime_stolen.sql), beside the partners' 'stolen' crime records. A
--    force record comes from a crime report with a serial and a date but
--    not always a place, and the picture draws only what has one, so it
--    is not a crime record. Its serial is stored as crime_records' are:
--    the HMAC of its normalised form under crime_serial_key
--    (tocsin_crime_serial_hash, 050_crime_contributions.sql says why), so
--    a partner's later sighting or recovery of it (tocsin_crime_match)
--    finds it by equality and the force's inbox gets the
--    'property_match' item. One entry per serial. Nobody but its owner
--    reads it: the SECURITY DEFINER functions do.
CREATE TABLE crime_stolen_property (
    id           bigserial PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('phone', 'laptop', 'tablet', 'bicycle', 'vehicle',
                                               'camera', 'watch', 'jewellery', 'other')),
    make         text CHECK (length(make) BETWEEN 1 AND 64),
    serial_hash  text NOT NULL UNIQUE CHECK (serial_hash ~ '^[0-9a-f]{64}$'),
    crime_ref    text CHECK (length(crime_ref) BETWEEN 1 AND 64),
    reported     date NOT NULL,
    added_by     text NOT NULL,
    added_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
REVOKE ALL ON crime_stolen_property FROM PUBLIC;

-- (tocsin_crime_inbox_item takes the match's text, which
-- tocsin_crime_match writes for either register: crime_contrib.sql
-- makes it again)
DROP FUNCTION IF EXISTS tocsin_crime_inbox_item(users, text, crime_records, crime_records, boolean);
