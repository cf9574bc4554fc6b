// A write whose outcome the broker lost (the connection dropped with it in
// flight) is journaled under the id it was sent with; if it had in fact
// committed, replay skips it: no duplicate delivery, ack or audit row.
// Exercised here at the database, as the broker's role, with the same
// functions and ids the broker uses.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, pgConnect } from './lib/harness.mjs';

describe('exactly once across a lost outcome', { timeout: 60_000 }, () => {
  let st, db, alertId, site, user;
  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    db = await pgConnect(st.db.brokerUrl);
    const ctl = await st.connectAs('controller');
    const row = await st.one(`SELECT s.id AS site, u.id AS user FROM sites s JOIN users u ON u.site_id = s.id
                               ORDER BY s.id LIMIT 1`);
    site = row.site; user = row.user;
    const pub = await ctl.request({ type: 'publish', headline: 'once', severity: 'minor', targets: { sites: [site] } });
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    alertId = pub.alert_id;
  });
  after(async () => { await db?.end().catch(() => {}); await st?.cleanup(); });

  const count = async (sql, params) => Number((await st.one(sql, params)).n);

  it('a delivery batch written directly is skipped when its journaled copy is replayed', async () => {
    const at = new Date().toISOString();
    const before = await count("SELECT count(*) AS n FROM audit WHERE action = 'deliver' AND alert_id = $1", [alertId]);
    await db.query('SELECT * FROM tocsin_record_deliveries_once($1, $2::bigint[], $3::integer[], $4::integer[], $5::timestamptz[])',
      ['t-once-d1', [alertId], [site], [user], [at]]);
    const rec = { alerts: [alertId], sites: [site], users: [user], at: [at] };
    const r = await db.query('SELECT tocsin_journal_apply($1, $2, $3::jsonb) AS outcome', ['t-once-d1', 'deliveries', JSON.stringify(rec)]);
    assert.equal(r.rows[0].outcome, 'duplicate');
    assert.equal(await count("SELECT count(*) AS n FROM audit WHERE action = 'deliver' AND alert_id = $1", [alertId]), before + 1);
    // and the direct write itself is not applied twice either
    const again = await db.query('SELECT * FROM tocsin_record_deliveries_once($1, $2::bigint[], $3::integer[], $4::integer[], $5::timestamptz[])',
      ['t-once-d1', [alertId], [site], [user], [at]]);
    assert.equal(again.rows.length, 0);
    assert.equal(await count("SELECT count(*) AS n FROM audit WHERE action = 'deliver' AND alert_id = $1", [alertId]), before + 1);
  });

  it('an ack written in a batch is skipped when its journaled copy is replayed', async () => {
    const at = new Date().toISOString();
    const res = await db.query(`SELECT * FROM tocsin_receipt_batch($1::text[], $2::text[], $3::integer[], $4::bigint[],
                                 $5::text[], $6::timestamptz[])`,
      [['t-once-a1', 't-once-a2'], ['ack', 'ack'], [user, user], [alertId, 999999999], ['x', 'x'], [at, at]]);
    assert.equal(res.rows[0].err_state, null, JSON.stringify(res.rows[0]));
    assert.equal(res.rows[1].err_state, 'TS404', 'the refused item does not spoil its neighbour');
    const acksBefore = await count("SELECT count(*) AS n FROM audit WHERE action = 'ack' AND alert_id = $1", [alertId]);
    const r = await db.query('SELECT tocsin_journal_apply($1, $2, $3::jsonb) AS outcome',
      ['t-once-a1', 'ack', JSON.stringify({ user_id: user, alert_id: alertId, remote: 'x', at })]);
    assert.equal(r.rows[0].outcome, 'duplicate');
    assert.equal(await count("SELECT count(*) AS n FROM audit WHERE action = 'ack' AND alert_id = $1", [alertId]), acksBefore);
    // the refused item left no id behind: a later journaled copy would be applied (and refused again)
    assert.equal(await count("SELECT count(*) AS n FROM journal_applied WHERE jid = 't-once-a2'"), 0);
  });

  it('stops cleanly (no sanitizer report)', async () => { await st.stop(); });
});
