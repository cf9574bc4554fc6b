// The retention of crime records (issue 21, item 6): tocsind erases the
// records older than crime-retention-days every crime-sweep-seconds
// (broker/handle/crime_sweep.c, tocsin_crime_erase_expired), oldest
// first, and audits each erasure (crime_records_erased, an erasure under
// DPA 2018 s.62) with the ids it erased. Records inside the retention stay.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, waitFor } from './lib/harness.mjs';

describe('crime records past their retention are erased, and the erasure audited', () => {
  let st;
  let oldIds;

  before(async () => {
    st = await Stack.create({ label: import.meta.url, startBroker: false });
    // three records well past a 30-day retention, two inside it
    oldIds = (await st.query(`
      INSERT INTO crime_records (source, category, at, at_precision, geom)
      SELECT 'force', 'robbery', now() - (40 + g) * interval '1 day', 'minute',
             ST_SetSRID(ST_MakePoint(-0.09, 51.515), 4326)
        FROM generate_series(1, 3) g RETURNING id`)).map((r) => Number(r.id)).sort((a, b) => a - b);
    await st.query(`
      INSERT INTO crime_records (source, category, at, at_precision, geom)
      SELECT 'force', 'burglary', now() - g * interval '1 day', 'minute',
             ST_SetSRID(ST_MakePoint(-0.09, 51.515), 4326)
        FROM generate_series(1, 2) g`);
    const { Broker } = await import('./lib/harness.mjs');
    st.broker = new Broker({ label: 'crime-retention', databaseUrl: st.db.brokerUrl,
                             args: ['--crime-retention-days', '30', '--crime-sweep-seconds', '1'] });
    await st.broker.start();
  });
  after(async () => { await st?.cleanup(); });

  it('erases the three old records within a few sweeps and audits them once', async () => {
    await waitFor(async () => Number((await st.one(`SELECT count(*) AS n FROM crime_records`)).n) === 2,
      { timeoutMs: 30_000, what: 'the old records erased' });
    const left = await st.query(`SELECT category FROM crime_records`);
    assert.deepEqual(left.map((r) => r.category), ['burglary', 'burglary']);
    const audit = await st.query(`SELECT actor_role, tocsin_audit_category(action) AS category, detail
                                    FROM audit WHERE action = 'crime_records_erased'`);
    assert.equal(audit.length, 1, 'one audit row for the sweep that erased them; none for empty sweeps');
    assert.equal(audit[0].category, 'erasure');
    assert.equal(audit[0].actor_role, 'retention');
    assert.equal(audit[0].detail.records, 3);
    assert.equal(audit[0].detail.retention_days, 30);
    assert.deepEqual(audit[0].detail.record_ids, oldIds);
    assert.deepEqual(audit[0].detail.by_source, { force: 3 });
  });

  it('stops cleanly (exit 0, no sanitizer report)', () => st.stop());
});
