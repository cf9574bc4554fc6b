// tocsinctl crime import (issue 21, items 1-2 and "Bad input"): the
// data.police.uk street-level CSV of tests/data/crime/ (City of London,
// April 2025; Open Government Licence v3.0, source data.police.uk) into
// crime_records, idempotently; a later download updates outcomes; a bad
// file is refused with its line named and nothing of it imported.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Stack, ROOT } from './lib/harness.mjs';

const TOCSINCTL = path.join(ROOT, 'build/tocsinctl');
const SAMPLE = path.join(ROOT, 'tests/data/crime/2025-04-city-of-london-street.csv');
const SAMPLE_ROWS = 683;

function adminUrl(st) {
  return execFileSync(path.join(ROOT, 'deploy/pg-local.sh'),
    ['url', process.env.TOCSIN_TEST_VAR, 'tocsin_admin', st.db.name], { encoding: 'utf8' }).trim();
}

function ctl(args, db) {
  return new Promise((resolve) => {
    const env = { ...process.env, DATABASE_URL: db };
    execFile(TOCSINCTL, args, { timeout: 120_000, env, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      let json;
      try { json = JSON.parse(stdout); } catch { json = undefined; }
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, out: stdout, err: stderr, json });
    });
  });
}

const show = (r) => `exit ${r.code}\nstdout: ${r.out}\nstderr: ${r.err}`;

describe('tocsinctl crime import', () => {
  let st, db, dir;
  const lines = fs.readFileSync(SAMPLE, 'utf8').split('\r\n');
  const write = (name, text) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
  };
  const count = async () => Number((await st.one('SELECT count(*) AS n FROM crime_records')).n);

  before(async () => {
    st = await Stack.create({ label: import.meta.url, startBroker: false });
    db = adminUrl(st);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tocsin-120-'));
  });
  after(async () => {
    await st?.cleanup();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('imports the sample, and a second import adds nothing', async () => {
    const first = await ctl(['crime', 'import', SAMPLE, '--json', '--actor', 'test:120'], db);
    assert.equal(first.code, 0, show(first));
    assert.deepEqual(first.json, [{ rows_read: SAMPLE_ROWS, added: SAMPLE_ROWS, updated: 0,
                                    unchanged: 0, skipped_no_location: 0 }]);
    assert.equal(await count(), SAMPLE_ROWS, 'exact duplicate rows are crimes too: all 683 kept');
    const second = await ctl(['crime', 'import', SAMPLE, '--json', '--actor', 'test:120'], db);
    assert.equal(second.code, 0, show(second));
    assert.deepEqual(second.json, [{ rows_read: SAMPLE_ROWS, added: 0, updated: 0,
                                     unchanged: SAMPLE_ROWS, skipped_no_location: 0 }]);
    assert.equal(await count(), SAMPLE_ROWS);
    const audit = await st.query(`SELECT actor_username, detail FROM audit
                                   WHERE action = 'crime_records_added' ORDER BY id`);
    assert.equal(audit.length, 2);
    assert.equal(audit[0].actor_username, 'test:120');
    assert.equal(audit[0].detail.added, SAMPLE_ROWS);
    assert.equal(audit[1].detail.added, 0);
    const r = await st.one(`SELECT category, at_precision, to_char(at AT TIME ZONE 'Europe/London', 'YYYY-MM-DD HH24:MI') AS at,
                                   round(ST_X(geom)::numeric, 6) AS lon, round(ST_Y(geom)::numeric, 6) AS lat, outcome
                              FROM crime_records WHERE police_crime_id = $1`,
                            ['b7dc0ac996bc0c0570819482bc06dc7a17d4150ab1de42ab3c433e5241146463']);
    assert.deepEqual(r, { category: 'other-theft', at_precision: 'month', at: '2025-04-01 00:00',
                          lon: '-0.107682', lat: '51.517786', outcome: 'Unable to prosecute suspect' });
  });

  it('a later download of the month updates the outcomes that changed, and adds nothing', async () => {
    const changed = lines.map((l, i) => (i >= 1 && i <= 3
      ? l.replace(/,[^,]*,$/, ',Court result unavailable (test 120),') : l));
    assert.notDeepEqual(changed, lines);
    const f = write('later.csv', changed.join('\r\n'));
    const r = await ctl(['crime', 'import', f, '--json'], db);
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(r.json, [{ rows_read: SAMPLE_ROWS, added: 0, updated: 3,
                                unchanged: SAMPLE_ROWS - 3, skipped_no_location: 0 }]);
    const outcomes = await st.query(`SELECT police_crime_id FROM crime_records
                                      WHERE outcome = 'Court result unavailable (test 120)' ORDER BY id`);
    assert.deepEqual(outcomes.map((o) => o.police_crime_id), lines.slice(1, 4).map((l) => l.split(',')[0]));
    assert.equal(await count(), SAMPLE_ROWS);
  });

  // Column i (0-based) of a sample line set to v (the sample's lines hold no quotes).
  const setColumn = (line, i, v) => line.split(',').map((c, k) => (k === i ? v : c)).join(',');
  // A new month, good rows first, then the bad one: none of it may stay.
  const newMonth = lines.slice(1, 40).map((l) => l.replace(',2025-04,', ',2025-03,'));
  const bad = [
    ['a wrong header', ['Crime ID,Month,Longitude,Latitude', ...newMonth], /line 1: not the police\.uk street-level header/],
    ['a wrong column count', [lines[0], ...newMonth, newMonth[0] + ',extra'], /line 41: wrong number of columns/],
    ['bad coordinates', [lines[0], ...newMonth, setColumn(newMonth[1], 4, '-0.1x7682')], /line 41: the longitude must be a number/],
    ['a latitude off the Earth', [lines[0], ...newMonth, setColumn(newMonth[1], 5, '91.517786')], /line 41: the latitude must be a number from -90 to 90/],
    ['a month in the future', [lines[0], ...newMonth, setColumn(newMonth[2], 1, '2099-01')], /line 41: the month 2099-01 is in the future/],
    ['an unknown crime type', [lines[0], ...newMonth, setColumn(newMonth[2], 9, 'Jaywalking')], /line 41: "Jaywalking" is not a police\.uk crime type/],
    ['an open quote', [lines[0], ...newMonth, setColumn(newMonth[2], 6, '"On or near')], /line 41: a quote is not closed/],
  ];
  for (const [what, body, message] of bad) {
    it(`refuses ${what} with the line named, and imports nothing of the file`, async () => {
      const before = await count();
      const r = await ctl(['crime', 'import', write('bad.csv', body.join('\r\n'))], db);
      assert.equal(r.code, 1, show(r));
      assert.match(r.err, message, show(r));
      assert.equal(await count(), before, 'nothing half-imported');
    });
  }

  it('refuses 10 MB of junk on its first line, and a file with a NUL byte', async () => {
    const before = await count();
    const junk = Buffer.alloc(10 * 1024 * 1024);
    for (let i = 0; i < junk.length; i++) junk[i] = 32 + ((i * 7919) % 90);
    let r = await ctl(['crime', 'import', write('junk.csv', junk)], db);
    assert.equal(r.code, 1, show(r));
    assert.match(r.err, /line 1: not the police\.uk street-level header/);
    r = await ctl(['crime', 'import', write('nul.csv', `${lines[0]}\r\n${newMonth[0]}\0\r\n`)], db);
    assert.equal(r.code, 1, show(r));
    assert.match(r.err, /line 2: a NUL byte/);
    r = await ctl(['crime', 'import', write('latin1.csv', Buffer.concat([Buffer.from(`${lines[0]}\r\n`),
      Buffer.from(setColumn(newMonth[0], 6, 'On or n\xe9ar'), 'latin1')]))], db);
    assert.equal(r.code, 1, show(r));
    assert.match(r.err, /line 2: not UTF-8 text/);
    assert.equal(await count(), before);
  });

  it('skips rows without a location, as police.uk publishes them', async () => {
    const noLoc = setColumn(setColumn(setColumn(newMonth[5], 4, ''), 5, ''), 6, 'No location');
    const r = await ctl(['crime', 'import', write('noloc.csv', [lines[0], newMonth[4], noLoc].join('\n')), '--json'], db);
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(r.json, [{ rows_read: 2, added: 1, updated: 0, unchanged: 0, skipped_no_location: 1 }]);
  });
});
