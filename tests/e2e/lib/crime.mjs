// The crime picture's test fixtures (122, 126): the police.uk sample
// imported with tocsinctl, and a hot cell of its picture that holds a
// console's site (where a pattern alert must arrive).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './harness.mjs';

export const SAMPLE = path.join(ROOT, 'tests/data/crime/2025-04-city-of-london-street.csv');
// April 2025, the sample's month, in 200 m cells.
export const SAMPLE_FILTER = { from: '2025-04-01', to: '2025-05-01', cell_m: 200 };

/* Imports the sample into st's database, as tocsinctl does on the host. */
export function importSample(st) {
  const url = execFileSync(path.join(ROOT, 'deploy/pg-local.sh'),
    ['url', process.env.TOCSIN_TEST_VAR, 'tocsin_admin', st.db.name], { encoding: 'utf8' }).trim();
  execFileSync(path.join(ROOT, 'build/tocsinctl'), ['crime', 'import', SAMPLE, '--database', url]);
}

/* {i, j, count, z, p, corners, site_id, username}: the first hot cell (as
 * the analyst's page gets the picture of filter) that holds a console's
 * site, by the site's id. */
export async function hotCellWithConsole(st, filter = SAMPLE_FILTER) {
  const r = await st.http('POST', '/api/crime/picture', {
    body: filter, headers: { authorization: `Bearer ${await st.token('analyst')}` },
  });
  const hot = r.json.grid.cells.filter((c) => c.z >= 1.96);
  const rows = await st.query(`
    SELECT c.i, c.j, s.id AS site_id, u.username
      FROM jsonb_to_recordset($1::jsonb) AS c(i int, j int)
      JOIN sites s ON ST_Covers(ST_MakeEnvelope(c.i * $2, c.j * $2, (c.i + 1) * $2, (c.j + 1) * $2, 27700),
                                ST_Transform(ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326), 27700))
      JOIN users u ON u.site_id = s.id AND u.role = 'site_console' AND NOT u.disabled
     ORDER BY s.id LIMIT 1`, [JSON.stringify(hot), filter.cell_m]);
  assert.equal(rows.length, 1, `a hot cell holds a demo site: ${JSON.stringify(hot.map((c) => [c.i, c.j, c.z]))}`);
  return { ...hot.find((c) => c.i === rows[0].i && c.j === rows[0].j), ...rows[0] };
}
