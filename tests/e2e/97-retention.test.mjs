// Audit details past their retention are erased and the seal chain still
// verifies (issue 19, part 7). The broker runs with
// retention-audit-detail-days = 30 and a sweep every second; audit rows
// dated 400 days ago (written by a superuser, sealed by the broker like
// any other) lose their details, keep their digest, and the erasure is
// audited without what was erased. tocsinctl audit verify stays intact,
// and still names a row whose erased detail, digest or other column is
// changed afterwards.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, waitFor } from './lib/harness.mjs';
import { verifyAudit, waitAllSealed } from './lib/audit.mjs';

const SECRET = 'the content retention erases';

describe('retention: audit details erased, the chain intact', { timeout: 180_000 }, () => {
  let st, old, recent;

  before(async () => {
    st = await Stack.create({ label: import.meta.url,
      broker: { args: ['--retention-audit-detail-days', '30', '--retention-sweep-seconds', '1'] } });
  });
  after(async () => { await st?.cleanup(); });

  it('erases the details of sealed rows older than 30 days, and audits the erasure', async () => {
    old = (await st.query(`INSERT INTO audit (at, action, actor_username, detail)
      SELECT clock_timestamp() - interval '400 days', 'retention_test', 'tester',
             jsonb_build_object('note', $1::text, 'n', g)
        FROM generate_series(1, 3) g RETURNING id`, [SECRET])).map((r) => r.id);
    recent = (await st.one(`INSERT INTO audit (action, actor_username, detail)
      VALUES ('retention_test', 'tester', jsonb_build_object('note', $1::text)) RETURNING id`, [SECRET])).id;
    await waitFor(async () => (await st.one(`SELECT count(*)::int AS n FROM audit
        WHERE id = ANY($1) AND detail_sha256 IS NOT NULL`, [old])).n === 3,
    { timeoutMs: 60_000, intervalMs: 250, what: 'the three old details erased' });

    const rows = await st.query('SELECT id, detail, detail_sha256 FROM audit WHERE id = ANY($1) ORDER BY id', [[...old, recent]]);
    for (const r of rows.slice(0, 3)) {
      assert.deepEqual(r.detail, {}, `row ${r.id}: its detail erased`);
      assert.match(r.detail_sha256, /^[0-9a-f]{64}$/);
    }
    assert.equal(rows[3].detail.note, SECRET, 'a recent row keeps its detail');
    assert.equal(rows[3].detail_sha256, null);

    const erasure = await st.one(`SELECT detail::text AS d, detail FROM audit WHERE action = 'audit_detail_erased' ORDER BY id LIMIT 1`);
    assert.ok(erasure.detail.rows >= 3, erasure.d);
    assert.ok(erasure.detail.first_id <= Number(old[0]) && erasure.detail.last_id >= Number(old[2]), erasure.d);
    assert.ok(!erasure.d.includes(SECRET), 'the erasure record holds nothing of what was erased');
    assert.match(st.broker.stderr, /retention: erased the details of \d+ audit rows? older than 30 days/);
  });

  it('the chain still verifies after the erasure', async () => {
    assert.ok(old, 'erased');
    await waitAllSealed(st);
    const r = await verifyAudit(st);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /audit chain intact/);
  });

  it('and still catches a change to an erased row', async () => {
    assert.ok(old, 'erased');
    const id = old[1];
    const row = await st.one('SELECT detail, detail_sha256, actor_username FROM audit WHERE id = $1', [id]);
    const broken = new RegExp(`BROKEN at audit row ${id}: the row or the chain before it was changed`);
    const tamper = async (set, params) => {
      await st.query(`UPDATE audit SET ${set} WHERE id = $1`, [id, ...params]);
      const r = await verifyAudit(st);
      await st.query('UPDATE audit SET detail = $2, detail_sha256 = $3, actor_username = $4 WHERE id = $1',
        [id, row.detail, row.detail_sha256, row.actor_username]);
      return r;
    };
    for (const [set, params, what] of [
      ['detail = $2', [{ note: 'forged' }], 'something written into the erased detail'],
      ['detail_sha256 = $2', ['0'.repeat(64)], 'another digest'],
      ['actor_username = $2', ['mallory'], 'another actor'],
    ]) {
      const r = await tamper(set, params);
      assert.equal(r.code, 1, `${what}: ${r.out}`);
      assert.match(r.out, broken, what);
    }
    assert.equal((await verifyAudit(st)).code, 0, 'put back, the chain verifies again');
  });
});
