// Issue #6 (fast): delivery records go over a database connection of their
// own (broker/delivery_log.c, b->db_records), so that a publish, an ack or a
// status report never waits behind a batch of 16,000 records. Losing that
// connection in the middle of a fan-out must lose and duplicate nothing:
// the batch in flight is journaled under the id it was sent with, and the
// broker reconnects. Tallies may then arrive out of order, so the consoles
// keep the larger of each count (web-client/js/session.js, mergeTally).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, consoleDirectory, pgConnect, waitFor, DELIVERIES } from './lib/harness.mjs';
import { publish, stopStack } from './lib/faults.mjs';
import { mergeTally } from '../../web-client/js/session.js';

describe('the tally counts a console keeps', () => {
  it('take the larger of each count, whatever order the tallies come in', () => {
    const newer = { type: 'tally', alert_id: 7, recipients: 5, delivered: 5, read: 1, acknowledged: 2, escalated: 0 };
    const older = { type: 'tally', alert_id: 7, recipients: 5, delivered: 3, read: 2, acknowledged: 1, escalated: 0 };
    const want = { type: 'tally', alert_id: 7, recipients: 5, delivered: 5, read: 2, acknowledged: 2, escalated: 0 };
    assert.deepEqual(mergeTally(mergeTally(undefined, newer), older), want);
    assert.deepEqual(mergeTally(mergeTally(undefined, older), newer), want);
    assert.deepEqual(mergeTally(undefined, older), older, 'the first tally as it came');
    assert.deepEqual(mergeTally({ delivered: 4 }, { delivered: 'x' }), { delivered: 'x' }, 'not a count: taken as sent');
  });
});

describe('delivery records over their own connection', { timeout: 180_000 }, () => {
  let st, ctl, consoles, sessions;

  const backends = () => st.query(`SELECT pid, application_name FROM pg_stat_activity
                                     WHERE datname = current_database() AND application_name LIKE 'tocsind %'
                                     ORDER BY application_name`);

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    consoles = (await consoleDirectory(st)).slice(0, 12);
    ctl = await st.connectAs('controller');
    sessions = [];
    for (const c of consoles) sessions.push(await st.connectAs(c.username));
  });
  after(async () => { await st?.cleanup(); });

  it('the broker holds its connections, named in pg_stat_activity', async () => {
    // the third listens for other brokers on the database (issue 20, peers.c)
    await waitFor(async () => (await backends()).length === 3, { timeoutMs: 10000, what: 'three broker connections' });
    assert.deepEqual((await backends()).map((r) => r.application_name),
      ['tocsind database', 'tocsind delivery records database', 'tocsind peers']);
  });

  // The audit sealer (once a second) reads and seals over the records
  // connection, so that a publish on the main one never waits behind it
  // (audit_sealer.c; the revocation sweep too, revocation.c). With
  // audit_seal locked the sealer's query hangs wherever it runs: a publish
  // must still be confirmed at once.
  it('a publish does not wait behind the audit sealer', async () => {
    const db = await pgConnect(st.db.superUrl);
    try {
      await db.query('BEGIN');
      await db.query('LOCK TABLE audit_seal IN ACCESS EXCLUSIVE MODE');
      await waitFor(async () => (await st.query(`SELECT 1 FROM pg_stat_activity
                                                   WHERE wait_event_type = 'Lock' AND query ~ 'tocsin_audit_'`)).length > 0,
        { timeoutMs: 10000, what: 'the sealer waiting for the lock' });
      const [stuck] = await st.query(`SELECT application_name FROM pg_stat_activity
                                        WHERE wait_event_type = 'Lock' AND query ~ 'tocsin_audit_'`);
      assert.equal(stuck.application_name, 'tocsind delivery records database');
      const t0 = Date.now();
      const p = await publish(ctl, { headline: `While sealing is stuck ${Date.now()}`, severity: 'minor',
        targets: { sites: [consoles[0].site_id] } }, 5000);
      assert.ok(p.alert_id, JSON.stringify(p));
      console.log(`# published in ${Date.now() - t0} ms while the sealer waited for a lock`);
    } finally {
      await db.query('ROLLBACK').catch(() => {});
      await db.end().catch(() => {});
    }
  });

  // how many times the broker has logged losing the records connection
  const lost = () => (st.broker.stderr.match(/error: delivery records database: /g) ?? []).length;
  const recordsBackend = async () => (await backends()).find((r) => r.application_name === 'tocsind delivery records database');
  const recordedOnce = async (alerts, perAlert) => {
    const want = alerts.length * perAlert;
    let rows;
    await waitFor(async () => {
      [rows] = await st.query(`SELECT count(*)::int AS n, count(DISTINCT (alert_id, user_id))::int AS distinct_n
                                 FROM ${DELIVERIES} d WHERE alert_id = ANY ($1::bigint[])`, [alerts]);
      return rows.n >= want;
    }, { timeoutMs: 30000, what: `${want} delivery records` }).catch(() => {});
    assert.deepEqual(rows, { n: want, distinct_n: want }, 'one record per alert and console');
  };
  const everyoneGets = async (alerts) => {
    for (const s of sessions) {
      for (const id of alerts) await s.next((m) => m.type === 'alert' && m.alert.id === id, 10000, `alert ${id}`);
      const ids = s.seen.filter((m) => m.type === 'alert').map((m) => m.alert.id);
      assert.equal(ids.length, new Set(ids).size, `${s.label}: no alert twice`);
    }
  };

  it('losing the records connection with a batch in flight: the batch is journaled and written once; the connection comes back', async () => {
    const sites = consoles.map((c) => c.site_id);
    // Hold the batch: a transaction that locks delivery_batches against writes.
    const locker = await pgConnect(st.db.superUrl);
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE delivery_batches IN EXCLUSIVE MODE');
      const held = await publish(ctl, { headline: `Held ${Date.now()}`, severity: 'minor', targets: { sites } });
      await everyoneGets([held.alert_id]);
      let rec;
      await waitFor(async () => (rec = await recordsBackend()) &&
        (await st.query('SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1', [rec.pid]))[0]?.wait_event_type === 'Lock',
      { timeoutMs: 10000, what: 'the records batch waiting on the lock' });
      // the main connection is not held up by it
      const meanwhile = await publish(ctl, { headline: `Meanwhile ${Date.now()}`, severity: 'minor', targets: { sites } });
      await everyoneGets([meanwhile.alert_id]);
      const lostBefore = lost();
      await st.query('SELECT pg_terminate_backend($1)', [rec.pid]);
      await waitFor(() => lost() > lostBefore, { timeoutMs: 10000, what: 'the broker to see the connection go' });
      await locker.query('COMMIT');
      await recordedOnce([held.alert_id, meanwhile.alert_id], consoles.length);
    } finally {
      await locker.end();
    }
    await waitFor(async () => Boolean(await recordsBackend()), { timeoutMs: 15000, what: 'the records connection back' });
  });

  it('losing it between alerts of a fan-out loses and duplicates nothing', async () => {
    const sites = consoles.map((c) => c.site_id);
    const alerts = [];
    for (let i = 0; i < 30; i++) {
      alerts.push((await publish(ctl, { headline: `Records ${i} ${Date.now()}`, severity: 'minor', targets: { sites } })).alert_id);
      if (i === 10) {
        const rec = await recordsBackend();
        if (rec) await st.query('SELECT pg_terminate_backend($1)', [rec.pid]);
      }
    }
    await everyoneGets(alerts);
    await recordedOnce(alerts, consoles.length);
    await waitFor(async () => Boolean(await recordsBackend()), { timeoutMs: 15000, what: 'the records connection back' });
  });

  // Status reports are stored in two lanes, a site's by the parity of its id:
  // lane 0 on the main connection, lane 1 on the records one. While the
  // records connection cannot come back, lane 1 takes the main one.
  it('while the records connection is down, every site\'s status reports are stored over the main one', async () => {
    const db = (await st.one('SELECT current_database() AS d')).d;
    const odd = consoles.filter((c) => c.site_id % 2 === 1);
    const even = consoles.filter((c) => c.site_id % 2 === 0);
    assert.ok(odd.length && even.length, 'sites in both lanes');
    const lostBefore = lost();
    // no new connection to this database for the broker's role (the test's
    // own, a superuser's, is not counted), then cut the records one
    await st.query(`ALTER DATABASE "${db}" CONNECTION LIMIT 1`);
    try {
      await st.query('SELECT pg_terminate_backend($1)', [(await recordsBackend()).pid]);
      await waitFor(() => lost() > lostBefore, { timeoutMs: 10000, what: 'the broker to see the connection go' });
      const byUser = new Map(consoles.map((c, i) => [c.username, sessions[i]]));
      for (const c of [...odd, ...even]) {
        const reply = await byUser.get(c.username).request({ type: 'status', people: 700 + c.site_id, officers: 1,
          trauma_packs: 1, first_aid_kits: 1, defibrillators: 1, cctv: 'working', state: 'normal', note: null }, 10000);
        assert.equal(reply.type, 'status_ok', `${c.username} (site ${c.site_id}): ${JSON.stringify(reply)}`);
      }
      assert.equal(await recordsBackend(), undefined, 'the records connection stayed down meanwhile');
      // the audit sealer goes on over the main connection
      await waitFor(async () => (await st.query(`SELECT 1 FROM audit a LEFT JOIN audit_seal s ON s.audit_id = a.id
                                                   WHERE a.action = 'status_report' AND (a.detail->>'people')::int = 700 + $1
                                                     AND s.audit_id IS NULL`, [odd[0].site_id])).length === 0,
        { timeoutMs: 20000, what: 'the reports sealed while the records connection is down' });
    } finally {
      await st.query(`ALTER DATABASE "${db}" CONNECTION LIMIT -1`);
    }
    await waitFor(async () => Boolean(await recordsBackend()), { timeoutMs: 15000, what: 'the records connection back' });
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await stopStack(st);
  });
});
