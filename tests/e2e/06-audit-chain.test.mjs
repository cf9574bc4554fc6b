// The audit trail is tamper-evident: the broker seals every row in a keyed
// BLAKE2b chain, and `tocsinctl audit verify` names the first row edited,
// deleted or inserted behind the broker's back (here: by a superuser).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, waitFor } from './lib/harness.mjs';
import { verifyAudit as verify } from './lib/audit.mjs';

describe('the audit chain', { timeout: 120_000 }, () => {
  let st;
  before(async () => {
    st = await Stack.create({ label: import.meta.url });
  });
  after(async () => { await st?.cleanup(); });

  it('seals the rows the broker writes, and verify finds the chain intact', async () => {
    const ctl = await st.connectAs('controller');
    const site = await st.one("SELECT s.id FROM sites s JOIN users u ON u.site_id = s.id ORDER BY s.id LIMIT 1");
    const pub = await ctl.request({ type: 'publish', headline: 'Chain test', severity: 'minor', targets: { sites: [site.id] } });
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    const total = Number((await st.one('SELECT count(*) AS n FROM audit')).n);
    assert.ok(total >= 3, `audit rows: ${total}`);
    // rows are sealed once they are a few seconds old
    await waitFor(async () => Number((await st.one('SELECT count(*) AS n FROM audit_seal')).n) >= total,
      { timeoutMs: 20_000, intervalMs: 250, what: 'every audit row sealed' });
    const r = await verify(st);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /audit chain intact: \d+ rows sealed/);
  });

  it('names an edited row', async () => {
    const row = await st.one("SELECT id, actor_username FROM audit WHERE action = 'publish' ORDER BY id LIMIT 1");
    // a superuser can do anything, including bypass the append-only trigger
    await st.query('UPDATE audit SET actor_username = $1 WHERE id = $2', ['mallory', row.id]);
    const r = await verify(st);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, new RegExp(`BROKEN at audit row ${row.id}: the row or the chain before it was changed`));
    await st.query('UPDATE audit SET actor_username = $1 WHERE id = $2', [row.actor_username, row.id]);
    assert.equal((await verify(st)).code, 0, 'restored, the chain verifies again');
  });

  it('names a deleted row and a row inserted behind the broker\'s back', async () => {
    const ids = (await st.query('SELECT audit_id AS id FROM audit_seal ORDER BY audit_id')).map((x) => Number(x.id));
    const victim = ids[Math.floor(ids.length / 2)];
    const saved = await st.one('SELECT * FROM audit WHERE id = $1', [victim]);
    await st.query('DELETE FROM audit WHERE id = $1', [victim]);
    let r = await verify(st);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, new RegExp(`BROKEN at audit row ${victim}: the row was deleted`));
    // put it back exactly, then forge an extra row inside the sealed range
    await st.query(`INSERT INTO audit (id, at, action, actor_user_id, actor_username, actor_role, actor_org_id,
                    alert_id, site_id, remote_addr, detail)
                    SELECT id, at, action, actor_user_id, actor_username, actor_role, actor_org_id,
                           alert_id, site_id, remote_addr, detail
                      FROM json_populate_record(NULL::audit, $1::json)`, [JSON.stringify(saved)]);
    assert.equal((await verify(st)).code, 0, 'restored exactly, the chain verifies again');
    const gap = await st.one('SELECT min(a.id) + 1 AS id FROM audit a WHERE NOT EXISTS (SELECT 1 FROM audit b WHERE b.id = a.id + 1) AND a.id < (SELECT max(audit_id) FROM audit_seal)');
    if (gap.id !== null) {
      await st.query("INSERT INTO audit (id, action, actor_username) VALUES ($1, 'ack', 'forged')", [gap.id]);
      r = await verify(st);
      assert.equal(r.code, 1, r.out);
      assert.match(r.out, new RegExp(`BROKEN at audit row ${gap.id}: the row has no seal but later rows do`));
    } else {
      // no gap below the last seal: forge a seal-less row by taking a low id
      await st.query("INSERT INTO audit (id, action, actor_username) VALUES (0, 'ack', 'forged')");
      r = await verify(st);
      assert.equal(r.code, 1, r.out);
      assert.match(r.out, /BROKEN at audit row 0: the row has no seal but later rows do/);
    }
  });

  it('stops cleanly (no sanitizer report)', async () => {
    await st.stop();
  });
});
