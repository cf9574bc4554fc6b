// The audit seal does not cry wolf (issue 16, item 1). The sealer chains
// rows in id order; it used to take every row older than 3 s by its own
// timestamp, so a row whose transaction committed after a higher id had
// been sealed was skipped for ever, and `tocsinctl audit verify` called it
// "inserted behind the broker's back". It now seals only up to an id below
// which every transaction that drew one has ended
// (tocsin_audit_to_seal, sql/functions/audit.sql). Here: a broker-role
// transaction that commits late, two publishers, receipts, status and
// delivery batches under CPU load, and a journal written back after an
// outage; verify is intact each time, and a row inserted, edited or deleted
// behind the broker's back is still named.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Stack, consoleDirectory, newRef, pgConnect, sleep, waitFor } from './lib/harness.mjs';
import { PgCluster, stackOnCluster, reconnectPg, waitHealth, publish, stopStack } from './lib/faults.mjs';
import { verifyAudit, waitAllSealed } from './lib/audit.mjs';
import { statusMsg } from './lib/status-helpers.mjs';

// Busy loops on every core for at most limitMs (they stop by themselves).
function cpuLoad(limitMs) {
  const code = `const end = Date.now() + ${limitMs}; while (Date.now() < end) {}`;
  const procs = [0, 1].map(() => spawn(process.execPath, ['-e', code], { stdio: 'ignore' }));
  return () => { for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL'); };
}

async function intact(st, what) {
  await waitAllSealed(st, { what: `every audit row sealed ${what}` });
  const r = await verifyAudit(st);
  assert.equal(r.code, 0, `${what}: ${r.out}`);
  assert.match(r.out, /audit chain intact: \d+ rows sealed/);
}

describe('the audit seal under late commits and concurrent writers', { timeout: 240_000 }, () => {
  let st, consoles, ctl, ctl2;

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    consoles = (await consoleDirectory(st)).slice(0, 12);
    ctl = await st.connectAs('controller');
    ctl2 = await st.connectAs('controller2');
  });
  after(async () => { await st?.cleanup(); });

  it('a row whose transaction commits after later rows is sealed in its place', async () => {
    const late = await pgConnect(st.db.brokerUrl);
    let id;
    try {
      // A broker-role transaction draws an audit id and stays open, as a
      // status batch on a loaded machine can, while later rows commit.
      await late.query('BEGIN');
      ({ rows: [{ id }] } = await late.query(
        `SELECT tocsin_audit_export_record('late-writer', '{"test": "late commit"}'::jsonb)::float8 AS id`));
      for (let i = 0; i < 5; i++) {
        await publish(ctl, { headline: `After the late row ${i}`, severity: 'minor', targets: { sites: [consoles[0].site_id] } });
      }
      // The later rows are older than the old 3 s grace before the late
      // one commits: the old sealer sealed past it within that time.
      const sealedPast = async () => Number((await st.one('SELECT COALESCE(max(audit_id), 0)::float8 AS m FROM audit_seal')).m) > id;
      await waitFor(sealedPast, { timeoutMs: 8000, intervalMs: 250, what: 'a seal past the late row' }).catch(() => {});
      await late.query('COMMIT');
    } finally {
      await late.end().catch(() => {});
    }
    await intact(st, 'after the late commit');
    const [{ n }] = await st.query('SELECT count(*)::int AS n FROM audit_seal WHERE audit_id = $1', [id]);
    assert.equal(n, 1, `the late row ${id} is sealed`);
  });

  it('two publishers, acknowledgements, status and delivery batches under CPU load: intact', async () => {
    const stopLoad = cpuLoad(90_000);
    const sessions = [];
    try {
      for (const c of consoles) sessions.push(await st.connectAs(c.username));
      // every console acknowledges what it receives and reports its status
      for (const s of sessions) {
        s.ws.on('message', (data) => {
          const m = JSON.parse(data.toString('utf8'));
          if (m.type === 'alert' && !m.replay) s.send({ type: 'ack', ref: newRef('ack'), alert_id: m.alert.id });
        });
      }
      const sites = consoles.map((c) => c.site_id);
      const publisher = async (session, name) => {
        const refs = [];
        for (let i = 0; i < 150; i++) {
          const ref = newRef('pub');
          refs.push(ref);
          session.send({ type: 'publish', ref, headline: `${name} ${i}`, severity: 'minor',
            targets: { sites: [sites[i % sites.length], sites[(i + 5) % sites.length]] } });
          if (i % 10 === 9) await sleep(80); // about 120 a second, under the rate limit
        }
        for (const ref of refs) {
          const m = await session.next((x) => x.ref === ref, 60_000, `the reply to ${ref}`);
          assert.equal(m.type, 'published', JSON.stringify(m));
        }
      };
      const reporter = async () => {
        for (let k = 0; k < 6; k++) {
          for (const s of sessions) s.send({ ...statusMsg({ people: 100 + k }), ref: newRef('status') });
          await sleep(400);
        }
      };
      await Promise.all([publisher(ctl, 'Publisher one'), publisher(ctl2, 'Publisher two'), reporter()]);
    } finally {
      stopLoad();
    }
    await intact(st, 'after the concurrent writers');
    for (const s of sessions) s.close();
  });

  it('a row inserted, edited or deleted behind the broker\'s back is still named', async () => {
    const [row] = await st.query(`SELECT * FROM audit WHERE action = 'publish' AND id < (SELECT max(audit_id) FROM audit_seal)
                                   ORDER BY id DESC LIMIT 1`);
    await st.query('UPDATE audit SET actor_username = $1 WHERE id = $2', ['mallory', row.id]);
    let r = await verifyAudit(st);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, new RegExp(`BROKEN at audit row ${row.id}: the row or the chain before it was changed`));
    await st.query('UPDATE audit SET actor_username = $1 WHERE id = $2', [row.actor_username, row.id]);

    await st.query('CREATE TEMP TABLE saved AS SELECT * FROM audit WHERE id = $1', [row.id]);
    await st.query('DELETE FROM audit WHERE id = $1', [row.id]);
    r = await verifyAudit(st);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, new RegExp(`BROKEN at audit row ${row.id}: the row was deleted`));
    await st.query('INSERT INTO audit SELECT * FROM saved');
    assert.equal((await verifyAudit(st)).code, 0, 'put back, the chain verifies again');

    // a row with an id inside the sealed range
    await st.query("INSERT INTO audit (id, action, actor_username) VALUES (0, 'ack', 'forged')");
    r = await verifyAudit(st);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /BROKEN at audit row 0: the row has no seal but later rows do/);
    await st.query('DELETE FROM audit WHERE id = 0');
  });

  it('stops cleanly (no sanitizer report)', async () => {
    await stopStack(st);
  });
});

describe('the audit seal after a journal is written back', { timeout: 240_000 }, () => {
  let cluster, st, consoles, ctl, sessions;

  before(async () => {
    cluster = await PgCluster.create('sealjournal');
    st = await stackOnCluster(cluster, { label: '07_audit_seal_journal' });
    consoles = (await consoleDirectory(st)).slice(0, 8);
    ctl = await st.connectAs('controller');
    sessions = [];
    for (const c of consoles) sessions.push(await st.connectAs(c.username));
  });
  after(async () => {
    await st?.cleanup();
    await cluster?.destroy();
  });

  it('deliveries, acknowledgements and publishes journaled in an outage, written back beside new writes: intact', async () => {
    await publish(ctl, { headline: `Before ${Date.now()}`, severity: 'minor', targets: { sites: consoles.map((c) => c.site_id) } });
    await waitAllSealed(st, { what: 'the rows from before the outage sealed' });
    await cluster.stop();
    await waitHealth(st.broker, (b) => b.db === 'down', { what: 'the broker sees the database down' });
    const journaled = [];
    for (let i = 0; i < 20; i++) {
      const p = await publish(ctl, { headline: `In the outage ${i}`, severity: 'minor', targets: { sites: consoles.map((c) => c.site_id) } });
      assert.equal(p.durable, 'journal');
      journaled.push(p.alert_id);
    }
    for (const [k, s] of sessions.entries()) {
      for (const id of journaled.slice(0, 5)) {
        await s.next((m) => m.type === 'alert' && m.alert.id === id, 10_000, `alert ${id} at ${consoles[k].username}`);
        const a = await s.request({ type: 'ack', alert_id: id });
        assert.equal(a.durable, 'journal', JSON.stringify(a));
      }
    }
    // the journaled rows are dated in the outage, older than any grace, and
    // are written back while sign-ins and status reports commit beside them
    await sleep(3500);
    await cluster.start();
    await reconnectPg(st);
    let going = true;
    const beside = (async () => {
      for (let k = 0; going; k++) {
        for (const s of sessions) s.send({ ...statusMsg({ people: 10 + k }), ref: newRef('status') });
        await st.login('controller2', 'controller-demo').catch(() => {});
        st.logins.clear();
        await sleep(100);
      }
    })();
    try {
      await waitHealth(st.broker, (b) => b.status === 'ok' && b.journal === 0, { timeoutMs: 60_000, what: 'the journal written back' });
    } finally {
      going = false;
      await beside;
    }
    await intact(st, 'after the write-back');
  });

  it('stops cleanly (no sanitizer report)', async () => {
    await stopStack(st);
  });
});
