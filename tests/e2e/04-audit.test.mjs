// The audit trail is append-only: the broker's role may insert but neither
// update nor delete, and the trigger refuses changes by any role but the
// schema owner even when it was granted the privilege.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Stack, pgConnect } from './lib/harness.mjs';

// Run fn; expect it to fail with SQLSTATE 42501 (insufficient_privilege).
async function expectRefused(fn, what, messagePattern) {
  let err;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err, `${what} was allowed`);
  assert.equal(err.code, '42501', `${what}: ${err.code} ${err.message}`);
  if (messagePattern) assert.match(err.message, messagePattern, what);
  return err;
}

describe('the audit trail cannot be changed', { timeout: 60_000 }, () => {
  let st;
  let broker; // a client connected as tocsin_broker
  let rowId;  // an audit row written by the broker role
  const role = `t_audit_${randomBytes(4).toString('hex')}`;

  before(async () => {
    st = await Stack.create({ label: import.meta.url, startBroker: false });
    broker = await pgConnect(st.db.brokerUrl);
  });
  after(async () => {
    await broker?.end().catch(() => {});
    // Roles are cluster-wide: never leave the throwaway one behind.
    await st?.pg.query(`DROP OWNED BY ${role}`).catch(() => {});
    await st?.pg.query(`DROP ROLE IF EXISTS ${role}`).catch(() => {});
    await st?.cleanup();
  });

  it('the broker role connects as tocsin_broker and may insert audit rows', async () => {
    const { rows: [who] } = await broker.query('SELECT current_user AS u, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS su');
    assert.equal(who.u, 'tocsin_broker');
    assert.equal(who.su, false);
    const { rows: [r] } = await broker.query(
      `INSERT INTO audit (action, actor_username, detail) VALUES ('test_row', 'e2e', '{"n": 1}') RETURNING id`);
    rowId = r.id;
    assert.ok(rowId);
  });

  it('the broker role cannot UPDATE, DELETE or TRUNCATE audit rows (permission denied)', async () => {
    assert.ok(rowId, 'the insert test ran');
    await expectRefused(() => broker.query(`UPDATE audit SET action = 'tampered' WHERE id = $1`, [rowId]),
      'UPDATE by tocsin_broker', /permission denied/);
    await expectRefused(() => broker.query('DELETE FROM audit WHERE id = $1', [rowId]),
      'DELETE by tocsin_broker', /permission denied/);
    await expectRefused(() => broker.query('TRUNCATE audit'), 'TRUNCATE by tocsin_broker', /permission denied/);
    const [row] = await st.query('SELECT action FROM audit WHERE id = $1', [rowId]);
    assert.equal(row?.action, 'test_row');
  });

  it('the trigger refuses UPDATE, DELETE and TRUNCATE by a role that was granted them', async () => {
    assert.ok(rowId, 'the insert test ran');
    await st.pg.query(`CREATE ROLE ${role} NOLOGIN`);
    await st.pg.query(`GRANT SELECT, UPDATE, DELETE, TRUNCATE ON audit TO ${role}`);
    const client = await pgConnect(st.db.superUrl);
    try {
      await client.query(`SET ROLE ${role}`);
      const { rows: [who] } = await client.query('SELECT current_user AS u');
      assert.equal(who.u, role);
      await expectRefused(() => client.query(`UPDATE audit SET action = 'tampered' WHERE id = $1`, [rowId]),
        `UPDATE by ${role}`, /append-only/);
      await expectRefused(() => client.query('DELETE FROM audit WHERE id = $1', [rowId]),
        `DELETE by ${role}`, /append-only/);
      await expectRefused(() => client.query('TRUNCATE audit'), `TRUNCATE by ${role}`, /append-only/);
    } finally {
      await client.end();
    }
    const [row] = await st.query('SELECT action FROM audit WHERE id = $1', [rowId]);
    assert.equal(row?.action, 'test_row', 'the row is unchanged');
    const [{ n }] = await st.query('SELECT count(*)::int AS n FROM audit WHERE id = $1', [rowId]);
    assert.equal(n, 1, 'the row is still there');
  });

  it('a member of tocsin_migrator may still correct the trail (the trigger is not a blanket refusal)', async () => {
    await st.pg.query(`GRANT tocsin_migrator TO ${role}`);
    const client = await pgConnect(st.db.superUrl);
    try {
      await client.query(`SET ROLE ${role}`);
      const r = await client.query(`UPDATE audit SET detail = '{"n": 2}' WHERE id = $1`, [rowId]);
      assert.equal(r.rowCount, 1);
    } finally {
      await client.end();
    }
    const [row] = await st.query('SELECT detail FROM audit WHERE id = $1', [rowId]);
    assert.deepEqual(row.detail, { n: 2 });
  });
});
