// Issue 16: a transient error of the server is no refusal. PostgreSQL
// aborts a transaction caught in a deadlock (40P01) or a serialization
// failure (40001) and expects it to be run again; the work itself was
// sound. The functions that catch errors item by item (receipts, status,
// the journal's write-back) must let such an error through, and the broker
// must redo the work as it does after lock_timeout (db.c): kept as a
// refusal, an acknowledgement answered "acked" from the journal is lost for
// good (the soak found 8 of 72,003 so, after write-backs under load).
//
// The fault is injected where the server would raise it: a trigger on acks
// raises 40P01 for the first N inserts it sees, counted with a sequence
// (not rolled back with the failed transaction). The write-back case holds
// acks locked first, so that the acknowledgement is journaled (lock_timeout)
// and the injected deadlock meets the journal's write-back, not the live
// path.
//
// And an error after the rows: PostgreSQL can abort a statement's implicit
// transaction after it sent its rows, before the commit at the pipeline's
// Sync (the soak of b71e3fe caught one: a lock_timeout that fired as the
// publish got its lock was raised only while the backend read the Sync,
// with no statement running; the publish was confirmed "from the
// database" and its row never committed). Injected here with a deferred
// constraint trigger on alerts that fails at commit: the publish must be
// redone (a lock timeout) or refused (any other error), never confirmed.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, consoleDirectory, pgConnect, waitFor } from './lib/harness.mjs';
import { waitHealth, publish } from './lib/faults.mjs';

describe('a deadlock (40P01) is redone, never refused: live and journaled acknowledgements are stored', { timeout: 120_000 }, () => {
  let st, ctl, consoleA, site;

  // The next `n` inserts into acks fail with 40P01.
  const injectDeadlocks = async (n) => {
    await st.query(`SELECT setval('test_fault_seq', 1, false)`);
    await st.query('UPDATE test_fault SET n = $1', [n]);
  };
  const stored = (alertId) => st.query('SELECT 1 FROM acks WHERE alert_id = $1 AND site_id = $2', [alertId, site.site_id]);
  const refused = () => st.query(`SELECT detail FROM audit WHERE action = 'journal_refused'`);
  const journalEmpty = () => waitHealth(st.broker, (b, status) => status === 200 && b.status === 'ok' && b.journal === 0,
    { timeoutMs: 60000, what: 'healthz ok, journal 0' });
  const published = async (headline) => {
    const p = await publish(ctl, { headline, severity: 'moderate', targets: { sites: [site.site_id] } });
    await consoleA.next((m) => m.type === 'alert' && m.alert.id === p.alert_id, 10000, `alert ${p.alert_id}`);
    return p;
  };

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    await st.query(`
      CREATE TABLE test_fault (n integer NOT NULL);
      INSERT INTO test_fault VALUES (0);
      CREATE SEQUENCE test_fault_seq;
      CREATE FUNCTION test_fault_ack() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
      BEGIN
          IF nextval('test_fault_seq') <= (SELECT n FROM test_fault) THEN
              RAISE EXCEPTION 'deadlock detected (injected by the test)' USING ERRCODE = '40P01';
          END IF;
          RETURN NEW;
      END $$;
      CREATE TRIGGER test_fault_ack BEFORE INSERT ON acks FOR EACH ROW EXECUTE FUNCTION test_fault_ack();
      CREATE TABLE test_commit_fault (n integer NOT NULL, code text NOT NULL);
      INSERT INTO test_commit_fault VALUES (0, '55P03');
      CREATE SEQUENCE test_commit_fault_seq;
      CREATE FUNCTION test_commit_fault() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
      DECLARE f test_commit_fault;
      BEGIN
          SELECT * INTO f FROM test_commit_fault;
          IF nextval('test_commit_fault_seq') <= f.n THEN
              RAISE EXCEPTION 'failed at commit (injected by the test)' USING ERRCODE = f.code;
          END IF;
          RETURN NULL;
      END $$;
      CREATE CONSTRAINT TRIGGER test_commit_fault AFTER INSERT ON alerts
          DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_commit_fault();`);
    [site] = await consoleDirectory(st);
    ctl = await st.connectAs('controller');
    consoleA = await st.connectAs(site.username);
  });
  after(async () => {
    await st?.cleanup();
  });

  it('a live acknowledgement meets a deadlock: answered acked, then stored once; nothing refused', async () => {
    const p = await published(`Deadlock, live ${Date.now()}`);
    // two: the receipt batch's set-based try, then its item-by-item one
    await injectDeadlocks(2);
    const mark = st.broker.stderr.length;
    const a = await consoleA.request({ type: 'ack', alert_id: p.alert_id }, 15000);
    assert.equal(a.type, 'acked', JSON.stringify(a));
    assert.match(st.broker.stderr.slice(mark), /the server gave up on a query \(deadlock detected \(injected by the test\)\)/);
    await journalEmpty();
    assert.equal((await stored(p.alert_id)).length, 1, 'the acknowledgement is stored');
    assert.deepEqual(await refused(), [], 'no journal record refused');
  });

  it('a journaled acknowledgement meets a deadlock on its write-back: written again, stored once; nothing refused', async () => {
    const p = await published(`Deadlock, journaled ${Date.now()}`);
    await injectDeadlocks(1);
    const locker = await pgConnect(st.db.superUrl);
    let a;
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE acks IN EXCLUSIVE MODE');
      a = await consoleA.request({ type: 'ack', alert_id: p.alert_id }, 15000);
      assert.equal(a.type, 'acked', JSON.stringify(a));
      assert.equal(a.durable, 'journal', JSON.stringify(a));
      await locker.query('COMMIT');
    } finally {
      await locker.end();
    }
    await journalEmpty();
    const [{ last_value: tries }] = await st.query('SELECT last_value FROM test_fault_seq');
    assert.ok(Number(tries) >= 2, `the write-back met the injected deadlock and wrote again (${tries} inserts tried)`);
    assert.equal((await stored(p.alert_id)).length, 1, 'the acknowledgement is stored');
    assert.deepEqual(await refused(), [], 'no journal record refused');
    const audit = await st.query(`SELECT count(*)::int AS n FROM audit WHERE action = 'ack' AND alert_id = $1`, [p.alert_id]);
    assert.equal(audit[0].n, 1, 'one ack audit row');
  });

  // The next `n` publishes fail at their commit, with SQLSTATE code.
  const injectCommitFaults = async (n, code) => {
    await st.query(`SELECT setval('test_commit_fault_seq', 1, false)`);
    await st.query('UPDATE test_commit_fault SET n = $1, code = $2', [n, code]);
  };

  it('a publish whose transaction is aborted by a lock timeout after its rows: redone, stored once, never confirmed unstored', async () => {
    await injectCommitFaults(1, '55P03');
    const mark = st.broker.stderr.length;
    const p = await publish(ctl, { headline: `Aborted after its rows ${Date.now()}`, severity: 'moderate', targets: { sites: [site.site_id] } });
    await consoleA.next((m) => m.type === 'alert' && m.alert.id === p.alert_id, 10000, `alert ${p.alert_id}`);
    await journalEmpty();
    assert.match(st.broker.stderr.slice(mark), /the server gave up on a query \(failed at commit \(injected by the test\)\)/);
    assert.equal((await st.query('SELECT 1 FROM alerts WHERE id = $1', [p.alert_id])).length, 1,
      `confirmed ${JSON.stringify(p)}: the alert is stored`);
    const audit = await st.query(`SELECT count(*)::int AS n FROM audit WHERE action = 'publish' AND alert_id = $1`, [p.alert_id]);
    assert.equal(audit[0].n, 1, 'one publish audit row');
  });

  it('a publish whose commit fails for good after its rows: refused with an error, not confirmed', async () => {
    await injectCommitFaults(1, 'P0001');
    ctl.send({ type: 'publish', ref: 'commit-fails', headline: `Refused at commit ${Date.now()}`, severity: 'moderate',
      targets: { sites: [site.site_id] } });
    const r = await ctl.next((m) => m.ref === 'commit-fails', 10000, 'the reply to the publish');
    assert.equal(r.type, 'error', JSON.stringify(r));
    await injectCommitFaults(0, 'P0001');
  });

  // The write-back pipelines its runs, each its own transaction: when an
  // earlier run is rolled back (here at its commit, as a lock timeout that
  // fires at the Sync does), a later run already sent must not be applied
  // without it. The 60-minute soak of 83510dd had 111 acknowledgements
  // refused so ("no alert with id ...": the ack's run ran, the publish's
  // run had been rolled back) and 16 (site, alert) pairs lost.
  it('a write-back run rolled back at its commit: the runs after it wait for it; nothing refused', async () => {
    const locker = await pgConnect(st.db.superUrl);
    let p, a;
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE alerts IN EXCLUSIVE MODE');
      p = await publish(ctl, { headline: `Held back ${Date.now()}`, severity: 'moderate', targets: { sites: [site.site_id] } });
      assert.equal(p.durable, 'journal', JSON.stringify(p));
      await consoleA.next((m) => m.type === 'alert' && m.alert.id === p.alert_id, 10000, `alert ${p.alert_id}`);
      a = await consoleA.request({ type: 'ack', alert_id: p.alert_id }, 15000);
      assert.equal(a.type, 'acked', JSON.stringify(a));
      // let the write-back meet the lock a few times: each loss halves its
      // runs, so the publish, its deliveries and the ack go in runs of
      // their own, several in flight
      const mark = st.broker.stderr.length;
      await waitFor(() => (st.broker.stderr.slice(mark).match(/the server gave up on a query/g) || []).length >= 7,
        { timeoutMs: 60000, intervalMs: 200, what: 'seven write-backs meeting the lock' });
      await injectCommitFaults(1, '55P03');
      await locker.query('COMMIT');
    } finally {
      await locker.end();
    }
    await journalEmpty();
    assert.deepEqual(await refused(), [], 'no journal record refused');
    assert.equal((await st.query('SELECT 1 FROM alerts WHERE id = $1', [p.alert_id])).length, 1, 'the alert is stored');
    assert.equal((await stored(p.alert_id)).length, 1, 'the acknowledgement is stored');
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await st.stop();
  });
});
