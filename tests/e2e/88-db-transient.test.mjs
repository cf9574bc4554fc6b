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
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, consoleDirectory, pgConnect } from './lib/harness.mjs';
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
      CREATE TRIGGER test_fault_ack BEFORE INSERT ON acks FOR EACH ROW EXECUTE FUNCTION test_fault_ack();`);
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

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await st.stop();
  });
});
