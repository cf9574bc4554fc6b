// Two nodes while PostgreSQL is away (issue 20, docs/operations.md "Two
// nodes"): a private cluster, node A and node B on it, a site console on
// each. With PostgreSQL stopped, alerts a controller publishes on A are
// journaled and reach A's console at once; B's console does not see them
// (the nodes hear each other only through PostgreSQL). When PostgreSQL
// returns, A writes its journal back and B's console gets them, in stream
// order, once; A's console is not sent them again.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { consoleDirectory, waitFor } from './lib/harness.mjs';
import { BrokerFiles, PgCluster, stackOnCluster, reconnectPg, waitHealth, publish } from './lib/faults.mjs';
import { startNode, waitNodes, connectTo, arrivals, assertInOrderOnce } from './lib/nodes.mjs';

const JOURNALED = 4;

describe('two nodes while PostgreSQL is away', { timeout: 300_000 }, () => {
  let cluster, st, files, nodeA, nodeB, consoles;

  before(async () => {
    cluster = await PgCluster.create('nodes-out');
    files = new BrokerFiles('nodes-out');
    st = await stackOnCluster(cluster, { label: 'nodes-outage', broker: { args: ['--token-key', files.keyFile, '--node-id', '1'] } });
    nodeA = st.broker;
    nodeB = await startNode(st, files, 2);
    await waitNodes(st, [1, 2]);
    consoles = await consoleDirectory(st);
  });
  after(async () => {
    await st?.cleanup();
    nodeB?.kill();
    await cluster?.destroy();
    files?.remove();
  });

  it('alerts journaled on A reach B\'s console when PostgreSQL returns, in order, once', async () => {
    const site = consoles[0];
    const ctlA = await connectTo(st, nodeA, 'controller');
    const conA = await connectTo(st, nodeA, site.username);
    const conB = await connectTo(st, nodeB, site.username);
    const targets = { sites: [site.site_id] };
    const first = await publish(ctlA, { headline: 'Before the outage', severity: 'minor', targets });
    await conB.next((m) => m.type === 'alert' && m.alert.id === first.alert_id, 10_000, 'the first alert on B');

    await cluster.stop();
    await waitHealth(nodeA, (b) => b?.db === 'down', { timeoutMs: 15_000, what: 'A: healthz db down' });
    const journaled = [];
    for (let i = 0; i < JOURNALED; i++) {
      const p = await publish(ctlA, { headline: `During the outage ${i}`, severity: 'minor', targets });
      assert.equal(p.durable, 'journal', JSON.stringify(p));
      journaled.push(p.alert_id);
    }
    await waitFor(() => journaled.every((id) => arrivals(conA).some((f) => f.id === id)),
      { timeoutMs: 10_000, what: 'A\'s console to have the journaled alerts at once' });
    await conB.expectNothing((m) => m.type === 'alert' && journaled.includes(m.alert.id), 1000,
      'a journaled alert of A on B while PostgreSQL is away');

    await cluster.start();
    await reconnectPg(st);
    await waitFor(() => journaled.every((id) => arrivals(conB).some((f) => f.id === id)),
      { timeoutMs: 60_000, what: 'B\'s console to have A\'s journaled alerts once PostgreSQL is back' });
    const rows = await st.query('SELECT id::text AS id, seq::int AS seq FROM alerts WHERE id = ANY($1::bigint[]) ORDER BY seq',
      [journaled]);
    assert.equal(rows.length, JOURNALED, 'all written back');
    const onB = arrivals(conB).filter((f) => journaled.includes(f.id) || f.id === first.alert_id);
    assertInOrderOnce(assert, onB, 'B\'s console');
    assert.deepEqual(onB.slice(1).map((f) => f.id), rows.map((r) => Number(r.id)), 'B got them in the order written back');
    // a fresh alert goes out after them, and A's console never got the
    // journaled ones twice
    const last = await publish(ctlA, { headline: 'After the outage', severity: 'minor', targets });
    for (const c of [conA, conB]) {
      await c.next((m) => m.type === 'alert' && m.alert.id === last.alert_id, 10_000, 'the alert after the outage');
      const ids = arrivals(c).map((f) => f.id);
      assert.equal(new Set(ids).size, ids.length, `${c.label}: an alert came twice: ${JSON.stringify(arrivals(c))}`);
    }
  });

  it('both nodes stop cleanly (exit 0, no sanitizer report)', async () => {
    await nodeB.stop();
    await st.stop();
  });
});
