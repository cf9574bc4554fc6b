// The crime picture over HTTP (issue 21, items 3 and 5-6): POST
// /api/crime/picture and /api/crime/records. Getis-Ord Gi* checked on a
// small grid computed here from the formula, independently of the SQL;
// the day-of-week x hour table and the trend; the police.uk sample's
// picture; one cell's records; every view audited as a consultation; who
// may see what (a company's coarser view); bad requests answered with a
// typed error.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { Stack, ROOT } from './lib/harness.mjs';

const SAMPLE = path.join(ROOT, 'tests/data/crime/2025-04-city-of-london-street.csv');

// Gi* with binary weights over the cell and its 8 neighbours inside the
// grid (x: rows of counts, x[j][i]); returns z[j][i].
function giStar(x) {
  const rows = x.length, cols = x[0].length, all = x.flat(), n = all.length;
  const mean = all.reduce((a, b) => a + b, 0) / n;
  const s = Math.sqrt(all.reduce((a, b) => a + b * b, 0) / n - mean * mean);
  return x.map((row, j) => row.map((_, i) => {
    let sum = 0, w = 0;
    for (let dj = -1; dj <= 1; dj++) {
      for (let di = -1; di <= 1; di++) {
        const jj = j + dj, ii = i + di;
        if (jj >= 0 && jj < rows && ii >= 0 && ii < cols) { sum += x[jj][ii]; w += 1; }
      }
    }
    return (sum - mean * w) / (s * Math.sqrt((n * w - w * w) / (n - 1)));
  }));
}

// Two-sided p of a standard normal z by Simpson's rule on the density
// (not the SQL's polynomial).
function pTwoSided(z) {
  const a = 0, b = Math.abs(z), steps = 2000, h = (b - a) / steps;
  const phi = (t) => Math.exp(-t * t / 2) / Math.sqrt(2 * Math.PI);
  let acc = phi(a) + phi(b);
  for (let k = 1; k < steps; k++) acc += (k % 2 ? 4 : 2) * phi(a + k * h);
  return 1 - 2 * (acc * h / 3);
}

describe('the crime picture over HTTP', () => {
  let st;
  const post = async (user, view, body, headers = {}) => st.http('POST', `/api/crime/${view}`, {
    body, headers: { authorization: `Bearer ${await st.token(user)}`, ...headers },
  });

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
  });
  after(async () => { await st?.cleanup(); });

  // Counts x[j][i] in 100 m cells from British National Grid (532000,
  // 181000): the City. The first and last rows and columns hold a record,
  // so the grid is exactly these 25 cells.
  const X = [
    [0, 1, 0, 0, 0],
    [2, 9, 3, 0, 0],
    [1, 4, 2, 0, 0],
    [0, 0, 0, 0, 0],
    [0, 0, 0, 0, 1],
  ];
  const I0 = 5320, J0 = 1810;

  it('computes Gi* z and p of every cell as the formula does by hand', async () => {
    await st.query(`
      INSERT INTO crime_records (source, category, at, at_precision, geom)
      SELECT 'force', 'robbery', '2026-06-17 21:30+01', 'minute',
             ST_Transform(ST_SetSRID(ST_MakePoint(($1 + c.i + 0.5) * 100, ($2 + c.j + 0.5) * 100), 27700), 4326)
        FROM jsonb_to_recordset($3::jsonb) AS c(i int, j int, n int), generate_series(1, c.n)`,
    [I0, J0, JSON.stringify(X.flatMap((row, j) => row.map((n, i) => ({ i, j, n }))))]);
    // the previous period (May): three older crimes, one in the grid's extent
    await st.query(`
      INSERT INTO crime_records (source, category, at, at_precision, geom)
      SELECT 'force', 'burglary', '2026-05-20 03:10+01', 'minute',
             ST_Transform(ST_SetSRID(ST_MakePoint(532150, 181150), 27700), 4326)
        FROM generate_series(1, 3)`);
    const r = await post('analyst', 'picture', { from: '2026-06-01', to: '2026-07-01', cell_m: 100 });
    assert.equal(r.status, 200, r.text);
    const grid = r.json.grid;
    assert.equal(grid.cell_m, 100);
    assert.equal(grid.n, 25);
    const z = giStar(X);
    const byCell = new Map(grid.cells.map((c) => [`${c.i - I0},${c.j - J0}`, c]));
    let checked = 0;
    X.forEach((row, j) => row.forEach((n, i) => {
      const c = byCell.get(`${i},${j}`);
      if (n === 0 && Math.abs(z[j][i]) < 1.96) { assert.equal(c, undefined); return; }
      assert.ok(c, `cell ${i},${j} (count ${n}, z ${z[j][i]}) is in the answer`);
      assert.equal(c.count, n);
      assert.ok(Math.abs(c.z - z[j][i]) < 1e-3, `cell ${i},${j}: z ${c.z}, by hand ${z[j][i]}`);
      assert.ok(Math.abs(c.p - pTwoSided(z[j][i])) < 1e-4, `cell ${i},${j}: p ${c.p}, by hand ${pTwoSided(z[j][i])}`);
      assert.equal(c.corners.length, 5);
      checked++;
    }));
    assert.ok(checked >= 8);
    // the hottest cell first: the 9, with its neighbours 1, 2, 3, 4, 2, 1
    assert.deepEqual([grid.cells[0].i - I0, grid.cells[0].j - J0], [1, 1]);
    assert.ok(grid.cells[0].z > 1.96 && grid.cells[0].p < 0.05);
    // prevalent times: all 23 on a Wednesday at 21:00 (London)
    assert.deepEqual(r.json.times, { timed: 23, cells: [[3, 21, 23]] });
    assert.deepEqual(r.json.trend.by_category, { robbery: [23, 0], burglary: [0, 3] });
    assert.equal(r.json.trend.current, 23);
    assert.equal(r.json.trend.previous, 3);
    assert.deepEqual(r.json.previous, { from: '2026-05-02', to: '2026-06-01' });
    assert.equal(r.json.heat.reduce((a, h) => a + h[2], 0), 23);
  });

  it('shows one cell\'s records, and audits both views as consultations', async () => {
    const r = await post('analyst', 'records', { from: '2026-06-01', to: '2026-07-01', cell_m: 100, cell: [I0 + 1, J0 + 1] });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.records.length, 9);
    assert.ok(r.json.records.every((x) => x.category === 'robbery' && x.source === 'force'));
    const audit = await st.query(`SELECT action, tocsin_audit_category(action) AS category, detail
                                    FROM audit WHERE action LIKE 'view_crime_%' ORDER BY id`);
    assert.deepEqual(audit.map((a) => [a.action, a.category]),
      [['view_crime_picture', 'consultation'], ['view_crime_records', 'consultation']]);
    assert.equal(audit[0].detail.records, 23);
    assert.equal(audit[0].detail.filter.cell_m, 100);
    assert.equal(audit[1].detail.record_ids.length, 9);
  });

  it('draws the police.uk sample: heat, grid and a cell\'s records agree', async () => {
    const url = execFileSync(path.join(ROOT, 'deploy/pg-local.sh'),
      ['url', process.env.TOCSIN_TEST_VAR, 'tocsin_admin', st.db.name], { encoding: 'utf8' }).trim();
    execFileSync(path.join(ROOT, 'build/tocsinctl'), ['crime', 'import', SAMPLE, '--database', url]);
    const filter = { from: '2025-04-01', to: '2025-05-01', cell_m: 200 };
    const r = await post('analyst', 'picture', filter);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.records, 683);
    assert.equal(r.json.heat.reduce((a, h) => a + h[2], 0), 683);
    assert.equal(r.json.grid.cells.reduce((a, c) => a + c.count, 0), 683);
    assert.deepEqual(r.json.times, { timed: 0, cells: [] }, 'police.uk rows have months only');
    const hot = r.json.grid.cells[0];
    assert.ok(hot.z > 2.58, `the hottest cell is significant at 1 %: z ${hot.z}`);
    const rec = await post('analyst', 'records', { ...filter, cell: [hot.i, hot.j] });
    assert.equal(rec.status, 200, rec.text);
    assert.equal(rec.json.records.length, hot.count);
    const only = await post('analyst', 'picture', { ...filter, categories: ['robbery'] });
    assert.equal(only.json.records, 21);
    // a drawn area: the hot cell's own corners select exactly its records
    const inArea = await post('analyst', 'picture', { ...filter, area: { polygon: hot.corners } });
    assert.equal(inArea.status, 200, inArea.text);
    assert.equal(inArea.json.records, hot.count);
  });

  it('gives a company a coarser view of its own sites\' surroundings, without other partners\' records', async () => {
    const { id: otherOrg } = await st.one(`SELECT id FROM organisations WHERE name = 'Bastion Guarding'`);
    const { lat, lon } = await st.one(`SELECT s.lat, s.lon FROM sites s JOIN organisations o ON o.id = s.guard_org_id
                                        WHERE o.name = 'Citadel Security' ORDER BY s.id LIMIT 1`);
    await st.query(`INSERT INTO crime_records (source, org_id, category, at, at_precision, geom, note)
                    VALUES ('partner', $1, 'shoplifting', '2025-04-10 14:00+01', 'minute',
                            ST_SetSRID(ST_MakePoint($2, $3), 4326), 'another company''s record')`, [otherOrg, lon, lat]);
    const filter = { from: '2025-04-01', to: '2025-05-01', cell_m: 100 };
    const all = await post('analyst', 'picture', filter);
    const company = await post('op.citadel', 'picture', filter);
    assert.equal(company.status, 200, company.text);
    assert.equal(company.json.grid.cell_m, 250, 'a company\'s cells are at least 250 m');
    assert.ok(company.json.records > 0 && company.json.records < all.json.records,
      `only the surroundings of its sites: ${company.json.records} of ${all.json.records}`);
    const cell = company.json.grid.cells.find((c) => c.count > 0);
    const rec = await post('op.citadel', 'records', { ...filter, cell_m: 250, cell: [cell.i, cell.j] });
    assert.equal(rec.status, 200, rec.text);
    assert.ok(rec.json.records.every((x) => x.source === 'police_uk'), 'no other partner\'s record');
    const everywhere = await post('op.citadel', 'records', filter);
    assert.ok(!everywhere.json.records.some((x) => x.note), 'no other partner\'s record anywhere');
    const force = await post('analyst', 'records', filter);
    assert.ok(force.json.records.some((x) => x.note === 'another company\'s record'));
    const consoleUser = await post('console.cornhill', 'picture', filter);
    assert.equal(consoleUser.status, 403, consoleUser.text);
    assert.equal(consoleUser.json.error.code, 'forbidden');
  });

  it('answers bad requests with a typed error and changes nothing', async () => {
    const before = (await st.one(`SELECT count(*)::int AS n FROM audit`)).n;
    let r = await st.http('POST', '/api/crime/picture', { body: {} });
    assert.equal(r.status, 401);
    assert.equal(r.json.error.code, 'auth_missing');
    r = await post('analyst', 'picture', { cell_m: 5 });
    assert.equal(r.status, 400);
    assert.deepEqual([r.json.error.code, r.json.error.field], ['bad_field', 'cell_m']);
    r = await post('analyst', 'picture', { categories: ['jaywalking'] });
    assert.deepEqual([r.status, r.json.error?.field], [400, 'categories'], r.text);
    r = await post('analyst', 'picture', { from: 'yesterday' });
    assert.deepEqual([r.status, r.json.error?.field], [400, 'from'], r.text);
    r = await post('analyst', 'picture', { area: { polygon: [[1, 2]] } });
    assert.deepEqual([r.status, r.json.error?.field], [400, 'area.polygon'], r.text);
    r = await post('analyst', 'picture', '{"from": ');
    assert.deepEqual([r.status, r.json.error.code], [400, 'bad_json']);
    r = await post('analyst', 'picture', '[]');
    assert.deepEqual([r.status, r.json.error.code], [400, 'bad_json']);
    r = await post('analyst', 'heatmap', {});
    assert.equal(r.status, 404);
    r = await post('analyst', 'picture', 'x'.repeat(20000));
    assert.equal(r.status, 413);
    r = await st.http('GET', '/api/crime/picture', { headers: { authorization: `Bearer ${await st.token('analyst')}` } });
    assert.equal(r.status, 405);
    assert.equal((await st.one(`SELECT count(*)::int AS n FROM audit`)).n, before, 'no audit row for a refused request');
    assert.equal((await st.http('GET', '/healthz')).status, 200, 'the broker is still up');
  });
});
