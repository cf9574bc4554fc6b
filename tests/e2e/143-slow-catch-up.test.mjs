// Issue 16: a slow catch-up must not stall the broker after an outage.
// The catch-up (handle/nodes.c) reads the stream past this node's own
// journaled alerts once they are written back. It runs on the main
// connection, whose statement_timeout is 750 ms, and a cancelled statement
// loses that connection (db.c): the one-hour soak of 0448b70 saw the
// catch-up, 500 alerts a read, cancelled 94 times in 20 minutes after its
// first outage, the journal's write-back restarted at each, and the
// journal growing from 12,829 to 162,947 records.
//
// Here the read is made slow where the server does it: tocsin_alerts_after
// is wrapped to sleep 4 ms per row it returns, so a read of the 300 alerts
// journaled during the outage takes 1.2 s and is cancelled. The broker must
// shrink its reads until they pass: the journal drains and a new alert
// still reaches the console (with reads of a fixed 500, every catch-up is
// cancelled and the new alert never arrives).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { consoleDirectory, waitFor } from './lib/harness.mjs';
import { PgCluster, stackOnCluster, reconnectPg, waitHealth, publish } from './lib/faults.mjs';

const JOURNALED = 300;
const SLEEP_PER_ROW_S = 0.004;

describe('a slow catch-up after an outage shrinks until it passes', { timeout: 300_000 }, () => {
  let cluster, st, ctl, con, site;

  before(async () => {
    cluster = await PgCluster.create('catchup');
    st = await stackOnCluster(cluster, { label: 'slow-catch-up' });
    await st.query(`
      ALTER FUNCTION tocsin_alerts_after(bigint, integer) RENAME TO test_alerts_after_real;
      CREATE FUNCTION tocsin_alerts_after(p_after bigint, p_limit integer)
      RETURNS TABLE (head bigint, alert_id bigint, seq bigint, recipient_sites integer[],
                     recipient_orgs integer[], sender_org_id integer, target_roles text[],
                     classification text, alert json, watcher_org_id integer)
      LANGUAGE plpgsql AS $$
      DECLARE n bigint;
      BEGIN
          RETURN QUERY SELECT * FROM test_alerts_after_real(p_after, p_limit);
          GET DIAGNOSTICS n = ROW_COUNT;
          PERFORM pg_sleep(${SLEEP_PER_ROW_S} * n);
      END $$;
      GRANT EXECUTE ON FUNCTION tocsin_alerts_after(bigint, integer) TO tocsin_broker;`);
    [site] = await consoleDirectory(st);
    ctl = await st.connectAs('controller');
    con = await st.connectAs(site.username);
  });
  after(async () => {
    await st?.cleanup();
    await cluster?.destroy();
  });

  it('the journal drains and a new alert reaches the console', async () => {
    const targets = { sites: [site.site_id] };
    const first = await publish(ctl, { headline: 'Before the outage', severity: 'minor', targets });
    assert.equal(first.durable, 'database');
    await con.next((m) => m.type === 'alert' && m.alert.id === first.alert_id, 10_000, 'the first alert');

    await cluster.stop();
    await waitHealth(st.broker, (b) => b?.db === 'down', { timeoutMs: 15_000, what: 'healthz db down' });
    for (let i = 0; i < JOURNALED; i++) {
      const p = await publish(ctl, { headline: `During the outage ${i}`, severity: 'minor', targets });
      assert.equal(p.durable, 'journal', JSON.stringify(p));
    }
    await cluster.start();
    await reconnectPg(st);
    await waitHealth(st.broker, (b, status) => status === 200 && b.status === 'ok' && b.journal === 0,
      { timeoutMs: 120_000, what: 'healthz ok, journal 0' });
    assert.equal((await st.one(`SELECT count(*)::int AS n FROM alerts WHERE headline LIKE 'During the outage %'`)).n,
      JOURNALED);

    const after = await publish(ctl, { headline: 'After the outage', severity: 'minor', targets });
    assert.equal(after.durable, 'database');
    await con.next((m) => m.type === 'alert' && m.alert.id === after.alert_id, 60_000,
      'the alert published after the outage (the catch-up must pass the journaled ones)');
  });
});
