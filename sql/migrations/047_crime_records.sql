-- 047_crime_records.sql: the crime picture (issue 21): crime records from
-- data.police.uk and from partners, with PostGIS for their geometry.
--
-- PostGIS (Debian's postgresql-15-postgis-3, deploy/install-deps.sh) is
-- created here, by the migration role (a superuser), so that every
-- database deploy/migrate.sh makes has it, and the copies the tests make
-- (CREATE DATABASE ... TEMPLATE) inherit it.
--
-- crime_categories: police.uk's 14 street-level crime types under the
-- slugs of its API (name is the text of the CSV's "Crime type"), plus the
-- force's own categories (police_uk false).
--
-- crime_records: one crime.
--   source      'police_uk' (tocsinctl crime import), 'partner' (a company
--               desk or a building console), 'force';
--   at          when: the first instant of the month for police.uk rows
--               (at_precision 'month'), the time a partner gives
--               ('minute'); the grid and the trend read `at`, the
--               day-of-week x hour table only 'minute' rows;
--   geom        the point (WGS 84); x and y the same in British National
--               Grid metres (EPSG:27700), stored, for the hotspot grid's
--               cells and the heat (a square in metres is a square on the
--               ground). Plain numbers rather than a second geometry: the
--               picture groups 500,000 rows by floor(x / cell), and
--               reading two float8 columns costs a fraction of detoasting
--               a geometry per row;
--   import_key  police.uk rows only: the row's fingerprint (month, Crime
--               ID, point, location, LSOA, crime type: not the outcome,
--               which changes between downloads) and its ordinal among the
--               file's identical rows (exact duplicates and Crime IDs that
--               repeat are real: anti-social behaviour has no Crime ID and
--               the same point and type may be two incidents). Importing a
--               month again finds every row by its key: adds nothing, and
--               updates the outcome where it changed;
--   serial_hash a property serial (an IMEI, a frame number) as the hex
--               SHA-256 of its normalised form (tocsin_crime_serial_hash):
--               a match is an equality, and the serial itself, which
--               identifies a person's device, is not stored.
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE crime_categories (
    code       text PRIMARY KEY,
    name       text NOT NULL UNIQUE,
    police_uk  boolean NOT NULL
);

INSERT INTO crime_categories (code, name, police_uk) VALUES
    ('anti-social-behaviour', 'Anti-social behaviour', true),
    ('bicycle-theft', 'Bicycle theft', true),
    ('burglary', 'Burglary', true),
    ('criminal-damage-arson', 'Criminal damage and arson', true),
    ('drugs', 'Drugs', true),
    ('other-theft', 'Other theft', true),
    ('possession-of-weapons', 'Possession of weapons', true),
    ('public-order', 'Public order', true),
    ('robbery', 'Robbery', true),
    ('shoplifting', 'Shoplifting', true),
    ('theft-from-the-person', 'Theft from the person', true),
    ('vehicle-crime', 'Vehicle crime', true),
    ('violent-crime', 'Violence and sexual offences', true),
    ('other-crime', 'Other crime', true),
    ('phone-snatch', 'Mobile phone snatch', false),
    ('fraud', 'Fraud', false);

CREATE TABLE crime_records (
    id               bigserial PRIMARY KEY,
    source           text NOT NULL CHECK (source IN ('police_uk', 'partner', 'force')),
    org_id           integer REFERENCES organisations (id),
    site_id          integer REFERENCES sites (id),
    user_id          integer REFERENCES users (id),
    category         text NOT NULL REFERENCES crime_categories (code),
    at               timestamptz NOT NULL,
    at_precision     text NOT NULL CHECK (at_precision IN ('month', 'minute')),
    geom             geometry(Point, 4326) NOT NULL,
    x                double precision GENERATED ALWAYS AS (ST_X(ST_Transform(geom, 27700))) STORED,
    y                double precision GENERATED ALWAYS AS (ST_Y(ST_Transform(geom, 27700))) STORED,
    location         text,
    outcome          text,
    police_crime_id  text,
    lsoa_code        text,
    import_key       text UNIQUE,
    property_kind    text,
    property_make    text,
    serial_hash      text CHECK (serial_hash ~ '^[0-9a-f]{64}$'),
    note             text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz,
    CHECK ((source = 'police_uk') = (import_key IS NOT NULL)),
    CHECK (source <> 'partner' OR org_id IS NOT NULL)
);

-- No spatial index: every read of the picture selects by time first (a
-- year of the City is half the table in the bench) and groups what it
-- reads; a GiST index on geom made importing 100,000 rows 2.5 s slower
-- (3.3 s against 0.8 s for the bare inserts, on the shared bench machine
-- under load) and served no query.
CREATE INDEX crime_records_at_idx ON crime_records (at);
CREATE INDEX crime_records_serial_idx ON crime_records (serial_hash) WHERE serial_hash IS NOT NULL;

GRANT SELECT ON crime_categories TO tocsin_broker;
GRANT SELECT, INSERT ON crime_records TO tocsin_broker;
GRANT USAGE ON SEQUENCE crime_records_id_seq TO tocsin_broker;
