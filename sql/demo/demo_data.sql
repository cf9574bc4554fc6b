-- demo_data.sql: demo data for development, tests and demonstrations.
--
-- The City of London Police (a control room and an intelligence unit),
-- three security companies, 34 sites in the Square Mile and one site
-- console per site, and demo users for every role. The building names are
-- made up. Their addresses and coordinates are plausible places in the City.
--
-- Loaded by deploy/load-demo.sh in one transaction. Idempotent: every insert
-- is ON CONFLICT DO NOTHING on a unique name, so a second load changes
-- nothing and leaves rows edited since then alone. Plain SQL (no psql
-- meta-commands), so any client can run it.
--
-- Demo log-ins (LOCAL DEVELOPMENT ONLY; the hashes are argon2id from
-- libsodium's crypto_pwhash_str):
--
--   username              role               organisation                  password
--   controller            controller         City Police Control Room      controller-demo
--   controller2           controller         City Police Control Room      controller-demo
--   analyst               analyst            City Police Intelligence Unit analyst-demo
--   op.citadel            company_operator   Citadel Security              operator-demo
--   op.bastion            company_operator   Bastion Guarding              operator-demo
--   op.sentinel           company_operator   Sentinel Protective Services  operator-demo
--   console.<site slug>   site_console       the site's guarding company   console-demo
--   admin                 admin              City of London Police         admin-demo
--
-- The first site console is console.threadneedle (deploy/run.sh and
-- README.md name it).

-- Organisations -------------------------------------------------------------

INSERT INTO organisations (name, kind, parent_id)
VALUES ('City of London Police', 'police', NULL)
ON CONFLICT (name) DO NOTHING;

INSERT INTO organisations (name, kind, parent_id)
SELECT v.name, 'police_unit', f.id
  FROM (VALUES (1, 'City Police Control Room'),
               (2, 'City Police Intelligence Unit')) AS v(ord, name)
  JOIN organisations f ON f.name = 'City of London Police'
 ORDER BY v.ord
ON CONFLICT (name) DO NOTHING;

INSERT INTO organisations (name, kind)
SELECT v.name, 'security_company'
  FROM (VALUES (1, 'Citadel Security'),
               (2, 'Bastion Guarding'),
               (3, 'Sentinel Protective Services')) AS v(ord, name)
 ORDER BY v.ord
ON CONFLICT (name) DO NOTHING;

-- Sectors -------------------------------------------------------------------

INSERT INTO sectors (code, name)
SELECT v.code, v.name
  FROM (VALUES (1, 'finance',     'Banking and finance'),
               (2, 'insurance',   'Insurance'),
               (3, 'retail',      'Retail'),
               (4, 'transport',   'Transport hubs'),
               (5, 'heritage',    'Heritage and culture'),
               (6, 'legal',       'Legal'),
               (7, 'hospitality', 'Hospitality and hotels'),
               (8, 'public',      'Public sector')) AS v(ord, code, name)
 ORDER BY v.ord
ON CONFLICT (code) DO NOTHING;

-- Sites ---------------------------------------------------------------------
-- slug: the site console's user name is console.<slug>.

DROP TABLE IF EXISTS pg_temp.demo_site;
CREATE TEMP TABLE demo_site (
    ord      integer PRIMARY KEY,
    slug     text NOT NULL UNIQUE,
    name     text NOT NULL,
    address  text NOT NULL,
    lat      double precision NOT NULL,
    lon      double precision NOT NULL,
    sector   text NOT NULL,
    company  text NOT NULL
);

INSERT INTO demo_site (ord, slug, name, address, lat, lon, sector, company) VALUES
    -- Citadel Security: Bank, Bishopsgate, Leadenhall, Aldgate
    ( 1, 'threadneedle', 'Threadneedle Exchange House',     '41 Threadneedle Street, London EC2R 8AY',   51.5140, -0.0858, 'finance',     'Citadel Security'),
    ( 2, 'cornhill',     'Cornhill Mutual Tower',           '66 Cornhill, London EC3V 3NB',              51.5132, -0.0851, 'insurance',   'Citadel Security'),
    ( 3, 'limestreet',   'Lime Street Underwriting Rooms',  '52 Lime Street, London EC3M 7AF',           51.5128, -0.0815, 'insurance',   'Citadel Security'),
    ( 4, 'bishopsgate',  'Bishopsgate Plaza Offices',       '110 Bishopsgate, London EC2N 4AY',          51.5158, -0.0818, 'finance',     'Citadel Security'),
    ( 5, 'broadgate',    'Broadgate Rail Concourse',        'Liverpool Street, London EC2M 7PY',         51.5180, -0.0825, 'transport',   'Citadel Security'),
    ( 6, 'leadenhall',   'Leadenhall Arcade',               '90 Gracechurch Street, London EC3V 1LR',    51.5128, -0.0838, 'retail',      'Citadel Security'),
    ( 7, 'stmaryaxe',    'St Mary Axe Insurance Hall',      '35 St Mary Axe, London EC3A 8AA',           51.5148, -0.0800, 'insurance',   'Citadel Security'),
    ( 8, 'oldbroad',     'Old Broad Street Chambers',       '125 Old Broad Street, London EC2N 1AR',     51.5153, -0.0852, 'finance',     'Citadel Security'),
    ( 9, 'houndsditch',  'Houndsditch Trading House',       '88 Houndsditch, London EC3A 7AW',           51.5152, -0.0775, 'finance',     'Citadel Security'),
    (10, 'aldgate',      'Aldgate Square Hotel',            '10 Aldgate High Street, London EC3N 1AH',   51.5138, -0.0762, 'hospitality', 'Citadel Security'),
    (11, 'camomile',     'Camomile Street Law Centre',      '14 Camomile Street, London EC3A 7PJ',       51.5156, -0.0805, 'legal',       'Citadel Security'),
    -- Bastion Guarding: Cheapside, Guildhall, Moorgate, Barbican, Smithfield
    (12, 'cheapside',    'Cheapside Galleria',              '120 Cheapside, London EC2V 6DR',            51.5144, -0.0938, 'retail',      'Bastion Guarding'),
    (13, 'guildhall',    'Guildhall Yard Records Office',   '2 Guildhall Yard, London EC2V 5AE',         51.5157, -0.0917, 'public',      'Bastion Guarding'),
    (14, 'gresham',      'Gresham Street Bank House',       '25 Gresham Street, London EC2V 7HN',        51.5154, -0.0930, 'finance',     'Bastion Guarding'),
    (15, 'moorgate',     'Moorgate Clearing House',         '71 Moorgate, London EC2R 6BH',              51.5172, -0.0890, 'finance',     'Bastion Guarding'),
    (16, 'finsbury',     'Finsbury Circus Chambers',        '12 Finsbury Circus, London EC2M 7EB',       51.5180, -0.0870, 'legal',       'Bastion Guarding'),
    (17, 'londonwall',   'Wallside Roman Gallery',          '140 London Wall, London EC2Y 5DN',          51.5176, -0.0960, 'heritage',    'Bastion Guarding'),
    (18, 'woodst',       'Wood Street Counting House',      '100 Wood Street, London EC2V 7AN',          51.5160, -0.0945, 'insurance',   'Bastion Guarding'),
    (19, 'silkst',       'Silk Street Arts Foyer',          'Silk Street, London EC2Y 8DS',              51.5203, -0.0925, 'heritage',    'Bastion Guarding'),
    (20, 'smithfield',   'Smithfield Market Hall East',     'Charterhouse Street, London EC1A 9PS',      51.5196, -0.1010, 'retail',      'Bastion Guarding'),
    (21, 'aldersgate',   'Aldersgate Court Hotel',          '200 Aldersgate Street, London EC1A 4HD',    51.5190, -0.0975, 'hospitality', 'Bastion Guarding'),
    (22, 'bank',         'Bank Interchange Offices',        '1 Princes Street, London EC2R 8AD',         51.5136, -0.0895, 'transport',   'Bastion Guarding'),
    -- Sentinel Protective Services: St Paul's, Fleet Street, Cannon Street, Fenchurch Street
    (23, 'paternoster',  'Paternoster Heritage Rooms',      '5 Paternoster Row, London EC4M 7DX',        51.5145, -0.0990, 'heritage',    'Sentinel Protective Services'),
    (24, 'ludgate',      'Ludgate Hill Emporium',           '40 Ludgate Hill, London EC4M 7DE',          51.5139, -0.1020, 'retail',      'Sentinel Protective Services'),
    (25, 'fleetst',      'Fleet Street Law Chambers',       '150 Fleet Street, London EC4A 2DQ',         51.5142, -0.1065, 'legal',       'Sentinel Protective Services'),
    (26, 'fetterlane',   'Fetter Lane Court',               '20 Fetter Lane, London EC4A 1AA',           51.5160, -0.1080, 'legal',       'Sentinel Protective Services'),
    (27, 'cannonst',     'Cannon Street Terminal Offices',  '20 Dowgate Hill, London EC4N 6AP',          51.5113, -0.0905, 'transport',   'Sentinel Protective Services'),
    (28, 'queenvic',     'Queen Victoria Street Hotel',     '100 Queen Victoria Street, London EC4V 4BY', 51.5122, -0.0975, 'hospitality', 'Sentinel Protective Services'),
    (29, 'fenchurch',    'Fenchurch Underwriters House',    '20 Fenchurch Street, London EC3M 3BY',      51.5113, -0.0836, 'insurance',   'Sentinel Protective Services'),
    (30, 'fenchurchstn', 'Fenchurch Street Station Arcade', 'Fenchurch Place, London EC3M 4AJ',          51.5116, -0.0786, 'transport',   'Sentinel Protective Services'),
    (31, 'monument',     'Monument Yard Exchange',          '1 Monument Street, London EC3R 8BG',        51.5102, -0.0858, 'finance',     'Sentinel Protective Services'),
    (32, 'walbrook',     'Walbrook Civic Offices',          '30 Walbrook, London EC4N 8BH',              51.5124, -0.0908, 'public',      'Sentinel Protective Services'),
    (33, 'blackfriars',  'Blackfriars Bridge Hotel',        '1 New Bridge Street, London EC4V 6HR',      51.5118, -0.1040, 'hospitality', 'Sentinel Protective Services'),
    (34, 'holborn',      'Holborn Viaduct Legal Hub',       '20 Holborn Viaduct, London EC1A 2BN',       51.5173, -0.1045, 'legal',       'Sentinel Protective Services');

INSERT INTO sites (name, address, lat, lon, sector_id, guard_org_id)
SELECT d.name, d.address, d.lat, d.lon, s.id, o.id
  FROM demo_site d
  JOIN sectors s ON s.code = d.sector
  JOIN organisations o ON o.name = d.company
 ORDER BY d.ord
ON CONFLICT (name) DO NOTHING;

-- Users ---------------------------------------------------------------------

INSERT INTO users (username, display_name, password_hash, role, org_id)
SELECT v.username, v.display_name, v.password_hash, v.role, o.id
  FROM (VALUES
    (1, 'controller',  'PC Ada Hart (Control Room)',        'controller',       'City Police Control Room',
        '$argon2id$v=19$m=65536,t=2,p=1$BFxURU7QqCyZ2wFJD/xdXA$etoU2oh4u7f8wsSb/0FtHjcOO2hgdblwtw9+qayMFWI'),
    (2, 'controller2', 'PS Tom Reyes (Control Room)',       'controller',       'City Police Control Room',
        '$argon2id$v=19$m=65536,t=2,p=1$BFxURU7QqCyZ2wFJD/xdXA$etoU2oh4u7f8wsSb/0FtHjcOO2hgdblwtw9+qayMFWI'),
    (3, 'analyst',     'DC Priya Shah (Intelligence Unit)', 'analyst',          'City Police Intelligence Unit',
        '$argon2id$v=19$m=65536,t=2,p=1$GiGSEY3dfQ54EsCSv0Ryww$MBOSMF5JpVoMmRQaI1aRvMWrP5gGlz5do/+NJm58eQI'),
    (4, 'op.citadel',  'Citadel Security desk',             'company_operator', 'Citadel Security',
        '$argon2id$v=19$m=65536,t=2,p=1$724ixxG8dfiSlKhf13Y5RQ$+FWmIz0Xnehl/m/F82bBKu1X/zh5CPJxUa9j2FXunm8'),
    (5, 'op.bastion',  'Bastion Guarding desk',             'company_operator', 'Bastion Guarding',
        '$argon2id$v=19$m=65536,t=2,p=1$724ixxG8dfiSlKhf13Y5RQ$+FWmIz0Xnehl/m/F82bBKu1X/zh5CPJxUa9j2FXunm8'),
    (6, 'op.sentinel', 'Sentinel Protective Services desk', 'company_operator', 'Sentinel Protective Services',
        '$argon2id$v=19$m=65536,t=2,p=1$724ixxG8dfiSlKhf13Y5RQ$+FWmIz0Xnehl/m/F82bBKu1X/zh5CPJxUa9j2FXunm8'),
    (7, 'admin',       'Tocsin administrator (City of London Police)', 'admin', 'City of London Police',
        '$argon2id$v=19$m=65536,t=2,p=1$T0uK7oqW3GLF0KG8p1kZ9w$jvYv5nDJ/Z8/+C7M4SAbc07HK1F3Qdp4HlXay8KHuxQ')
  ) AS v(ord, username, display_name, role, org, password_hash)
  JOIN organisations o ON o.name = v.org
 ORDER BY v.ord
ON CONFLICT (username) DO NOTHING;

-- One console per site, belonging to the site's guarding company.
INSERT INTO users (username, display_name, password_hash, role, org_id, site_id)
SELECT 'console.' || d.slug, 'Front desk, ' || s.name,
       '$argon2id$v=19$m=65536,t=2,p=1$FdEOIeskyFtPS1gXR8oMmA$5yqb8FfO3w2vRmENdf4KQtbKhCZdrO9bZSA3NUX3HdA',
       'site_console', s.guard_org_id, s.id
  FROM demo_site d
  JOIN sites s ON s.name = d.name
 ORDER BY d.ord
ON CONFLICT (username) DO NOTHING;

DROP TABLE demo_site;

-- OFFICIAL-SENSITIVE clearance (cleared_sensitive, sql/schema/02_directory.sql):
-- the finance and transport sites, their consoles, the companies' operators
-- and the force's users are cleared; the rest are not, so the preview shows
-- who is left out.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns
                WHERE table_name = 'sites' AND column_name = 'cleared_sensitive') THEN
        UPDATE sites SET cleared_sensitive = true
         WHERE sector_id IN (SELECT id FROM sectors WHERE code IN ('finance', 'transport'))
           AND NOT cleared_sensitive;
        UPDATE users u SET cleared_sensitive = true
         WHERE NOT u.cleared_sensitive
           AND (u.role IN ('controller', 'analyst', 'company_operator', 'admin')
                OR u.site_id IN (SELECT id FROM sites WHERE cleared_sensitive));
    END IF;
END
$$;
