// The crime picture's counts (issue 21's speed target;
// sql/migrations/062_crime_picture_counts.sql): the force's picture of
// the whole area is summed from counts kept per London month, plus the
// records of the partial months at its edges. It must be the picture the
// scan of the records gives, for any period (mid-month, whole months, the
// clock changes, two days), categories and cell; and the counts must
// follow every path that writes crime_records: an insert, the police.uk
// import and its re-import with changed outcomes, a console's crime
// report, a desk's upload, an update, the retention sweep's erasure (which
// must leave no count behind) and a truncate.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Stack, ROOT, consoleDirectory } from './lib/harness.mjs';

const TOCSINCTL = path.join(ROOT, 'build/tocsinctl');
const SAMPLE = path.join(ROOT, 'tests/data/crime/2025-04-city-of-london-street.csv');

const FILTERS = [
  { from: '2026-03-10', to: '2026-11-05', cell_m: 200 },
  { from: '2026-01-01', to: '2026-07-01', cell_m: 150, categories: ['robbery', 'burglary'] },
  { from: '2026-03-29', to: '2026-10-25', cell_m: 50 },
  { from: '2025-12-31', to: '2026-01-02', cell_m: 2000 },
  { from: '2025-04-01', to: '2025-05-01', cell_m: 250 },
  { from: '2025-03-15', to: '2026-12-08', cell_m: 300, categories: ['other-theft', 'fraud', 'phone-snatch'] },
  { cell_m: 100 },
];

function ctl(args, db) {
  return new Promise((resolve) => {
    execFile(TOCSINCTL, args, { timeout: 120_000, env: { ...process.env, DATABASE_URL: db } },
      (err, stdout, stderr) => resolve({ code: err ? (err.code ?? -1) : 0, out: stdout, err: stderr }));
  });
}

describe('the crime picture summed from counts is the picture of the records', () => {
  let st, adminDb, dir;

  // the picture of filter f for the analyst, summed and scanned
  const both = (f) => st.one(`
      SELECT tocsin_crime_picture_of(u, x) AS summed, tocsin_crime_picture_of(u, x, true) AS scanned
        FROM users u, tocsin_crime_filter(u, $1::jsonb) x WHERE u.username = 'analyst'`,
    [JSON.stringify(f)]);
  const sameForAll = async (what) => {
    for (const f of FILTERS) {
      const p = await both(f);
      assert.deepEqual(p.summed, p.scanned, `${what}: the picture of ${JSON.stringify(f)}`);
    }
  };
  // the counts are exactly the records grouped, with no zero left over
  const countsExact = async (what) => {
    const r = await st.one(`
      WITH want_p AS (SELECT date_trunc('month', at AT TIME ZONE 'Europe/London')::date AS month,
                             date_trunc(CASE WHEN at_precision = 'minute' THEN 'month' ELSE 'day' END,
                                        at AT TIME ZONE 'Europe/London')::date AS day,
                             at_precision = 'minute' AS timed, category, x, y, count(*)::integer AS n
                        FROM crime_records GROUP BY 1, 2, 3, 4, 5, 6),
           want_t AS (SELECT date_trunc('month', at AT TIME ZONE 'Europe/London')::date AS month, category,
                             extract(isodow FROM at AT TIME ZONE 'Europe/London')::smallint AS dow,
                             extract(hour FROM at AT TIME ZONE 'Europe/London')::smallint AS hr,
                             count(*)::integer AS n
                        FROM crime_records WHERE at_precision = 'minute' GROUP BY 1, 2, 3, 4)
      SELECT (SELECT count(*) FROM ((SELECT * FROM want_p EXCEPT SELECT * FROM crime_picture_places)
                                    UNION ALL (SELECT * FROM crime_picture_places EXCEPT SELECT * FROM want_p)) d) AS places_off,
             (SELECT count(*) FROM ((SELECT * FROM want_t EXCEPT SELECT * FROM crime_picture_times)
                                    UNION ALL (SELECT * FROM crime_picture_times EXCEPT SELECT * FROM want_t)) d) AS times_off,
             (SELECT count(*) FROM crime_records) AS records,
             (SELECT count(*) FROM crime_picture_places) AS places`);
    assert.equal(Number(r.places_off), 0, `${what}: crime_picture_places differs from the records`);
    assert.equal(Number(r.times_off), 0, `${what}: crime_picture_times differs from the records`);
    return r;
  };

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    // as for the broker's role (tocsin_crime_api): compiling the picture's
    // plans took over a second of each call here
    await st.query('SET jit = off');
    adminDb = execFileSync(path.join(ROOT, 'deploy/pg-local.sh'),
      ['url', process.env.TOCSIN_TEST_VAR, 'tocsin_admin', st.db.name], { encoding: 'utf8' }).trim();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tocsin-128-'));
    // records with a time every 7 h 13 min from June 2025 to November 2026
    // (through both clock changes of each year), at 40 places, in four
    // categories; and police.uk-like months at five snapped points
    await st.query(`
      INSERT INTO crime_records (source, category, at, at_precision, geom)
      SELECT 'force', (ARRAY['robbery', 'burglary', 'violent-crime', 'phone-snatch'])[1 + g % 4],
             timestamptz '2025-06-01 00:20+01' + g * interval '7 hours 13 minutes', 'minute',
             ST_Transform(ST_SetSRID(ST_MakePoint(532000 + (g % 40) * 97.5, 181000 + (g % 40) * 41.25),
                                     27700), 4326)
        FROM generate_series(0, 1800) g`);
    await st.query(`
      INSERT INTO crime_records (source, category, at, at_precision, geom, import_key)
      SELECT 'police_uk', (ARRAY['other-theft', 'robbery', 'shoplifting'])[1 + g % 3],
             -- a quarter of them inside the month: a month-only record need not be on the 1st
             (m + CASE WHEN g % 4 = 0 THEN interval '9 days 13 hours' ELSE interval '0' END)::timestamp
               AT TIME ZONE 'Europe/London', 'month',
             ST_SetSRID(ST_MakePoint(-0.095 + (g % 5) * 0.002, 51.512 + (g % 5) * 0.001), 4326),
             'test128#' || m::date || '#' || g
        FROM generate_series(date '2025-05-01', date '2026-11-01', interval '1 month') m,
             generate_series(1, 25) g`);
  });
  after(async () => {
    await st?.cleanup();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('sums the same picture as the scan for every period, category set and cell', async () => {
    await countsExact('after the inserts');
    await sameForAll('after the inserts');
    // the summed picture has what it should: not two empty pictures alike
    const p = await both(FILTERS[0]);
    assert.ok(p.summed.records > 500 && p.summed.times.timed > 500, JSON.stringify(p.summed.trend));
    assert.ok(p.summed.trend.previous > 0 && p.summed.heat.length > 10 && p.summed.grid.cells.length > 10);
  });

  it('answers POST /api/crime/picture from the counts as the scan would', async () => {
    const f = FILTERS[0];
    const r = await st.http('POST', '/api/crime/picture', {
      body: f, headers: { authorization: `Bearer ${await st.token('analyst')}` } });
    assert.equal(r.status, 200, r.text);
    const p = await both(f);
    assert.deepEqual(r.json, p.scanned);
  });

  it('follows the police.uk import and its re-import with changed outcomes', async () => {
    const first = await ctl(['crime', 'import', SAMPLE, '--json'], adminDb);
    assert.equal(first.code, 0, first.err);
    const text = fs.readFileSync(SAMPLE, 'utf8').replaceAll('Investigation complete; no suspect identified',
                                                          'Unable to prosecute suspect');
    const again = await ctl(['crime', 'import', path.join(dir, 'x.csv'), '--json'],
      (fs.writeFileSync(path.join(dir, 'x.csv'), text), adminDb));
    assert.equal(again.code, 0, again.err);
    assert.ok(JSON.parse(again.out)[0].updated > 0, again.out);
    await countsExact('after the imports');
    await sameForAll('after the imports');
  });

  it('follows a console\'s crime report and a desk\'s upload', async () => {
    const site = (await consoleDirectory(st))[0];
    const c = await st.connectAs(site.username);
    const r = await c.request({ type: 'crime_report', category: 'robbery',
                                occurred_at: new Date(Date.now() - 3_600_000).toISOString() });
    assert.equal(r.type, 'crime_reported', JSON.stringify(r));
    const op = (await st.one(`SELECT min(username) AS u FROM users WHERE role = 'company_operator'
                                AND NOT disabled`)).u;
    const csv = 'occurred_at,category,lat,lon,text,property_kind,property_make,property_model,property_serial,property_status\n'
      + '2026-10-25T00:30:00Z,fraud,51.514,-0.09,,,,,,\n2026-03-29T01:30:00Z,fraud,51.513,-0.091,,,,,,\n';
    const up = await st.http('POST', '/api/crime/upload', {
      body: csv, headers: { authorization: `Bearer ${await st.token(op)}`, 'content-type': 'text/csv' } });
    assert.equal(up.status, 200, up.text);
    await countsExact('after the contributions');
    await sameForAll('after the contributions');
  });

  it('moves the counts with an update of time, category or place', async () => {
    await st.query(`UPDATE crime_records SET at = at + interval '40 days', category = 'fraud'
                     WHERE id % 7 = 0`);
    await st.query(`UPDATE crime_records SET geom = ST_Translate(geom, 0.001, 0) WHERE id % 11 = 0`);
    await countsExact('after the updates');
    await sameForAll('after the updates');
  });

  it('erases the counts with the records the retention sweep erases, leaving no zero', async () => {
    // the retention of 400 days erases what is older than early November 2025
    let n;
    do {
      n = (await st.one('SELECT tocsin_crime_erase_expired(400, 500) AS n')).n;
    } while (n > 0);
    const left = await st.one(`SELECT min(month) AS m, count(*) FILTER (WHERE n = 0) AS zeros
                                 FROM crime_picture_places`);
    const cut = await st.one(`SELECT date_trunc('month', (now() - interval '400 days') AT TIME ZONE 'Europe/London')::date AS m`);
    assert.ok(left.m >= cut.m, `counts of erased months left: ${left.m} < ${cut.m}`);
    assert.equal(Number(left.zeros), 0, 'a count at zero still says a crime was there');
    const zt = await st.one(`SELECT count(*) FILTER (WHERE n = 0) AS zeros,
                                    count(*) FILTER (WHERE month < $1) AS old FROM crime_picture_times`, [cut.m]);
    assert.deepEqual([Number(zt.zeros), Number(zt.old)], [0, 0]);
    await countsExact('after the erasure');
    await sameForAll('after the erasure');
  });

  it('empties the counts with a truncate', async () => {
    await st.query('TRUNCATE crime_records CASCADE');
    const r = await countsExact('after the truncate');
    assert.equal(Number(r.places), 0);
    await sameForAll('after the truncate');
  });

  it('stops cleanly (exit 0, no sanitizer report)', () => st.stop());
});
