// The ZeroMQ bus while PostgreSQL is away (docs/bus.md): an adapter's
// publish is journaled and confirmed durable "journal"; a resend of the same
// seq during the outage is a duplicate (the broker remembers it), and after
// the journal is written back the (adapter, seq) is in adapter_submissions,
// so a resend then is still a duplicate: one alert in all. The (adapter,
// seq) pairs travel in the journal's records, so a broker killed during
// the outage and started again still answers a resend as a duplicate
// (issue 16, item 7). This file runs its own PostgreSQL cluster (it stops
// it).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { consoleDirectory, sleep, waitFor } from './lib/harness.mjs';
import {
  PgCluster, stackOnCluster, reconnectPg, waitHealth, stopStack, BrokerFiles, killBroker, startLike,
} from './lib/faults.mjs';
import { prepareBus, attachBus, addAdapter, busCall } from './lib/bus.mjs';

describe('the bus while PostgreSQL is away', { timeout: 180_000 }, () => {
  let cluster, st, feed, site, con, files;

  before(async () => {
    cluster = await PgCluster.create('busout');
    const { args, bus } = await prepareBus();
    files = new BrokerFiles('busout'); // a journal that outlives a broker
    st = attachBus(await stackOnCluster(cluster, { label: '61_bus_outage', broker: { args: [...args, ...files.args()] } }), bus);
    site = (await consoleDirectory(st))[0];
    feed = await addAdapter(st, 'outage-feed', 'controller');
    con = await st.connectAs(site.username);
  });
  after(async () => {
    await st?.cleanup();
    await cluster?.destroy();
    files?.remove();
  });

  const h = `Journaled over the bus ${Date.now()}`;
  const req = { type: 'publish', headline: h, severity: 'severe', targets: { sites: [] } };
  let first;

  it('a publish during the outage is journaled, and a resend is a duplicate', async () => {
    req.targets.sites = [site.site_id];
    const before = await busCall(st, feed, 1, { ...req, headline: `${h} (before)` });
    assert.equal(before.reply.durable, 'database', before.stdout);
    await cluster.stop();
    await waitHealth(st.broker, (b) => b && b.status === 'degraded', { what: 'the broker to notice' });
    first = await busCall(st, feed, 2, req);
    assert.equal(first.reply.type, 'published', first.stdout);
    assert.equal(first.reply.durable, 'journal');
    assert.equal(first.reply.duplicate, false);
    await con.next((m) => m.type === 'alert' && m.alert.id === first.reply.alert_id, 10000);
    const again = await busCall(st, feed, 2, req);
    assert.equal(again.reply.type, 'published', again.stdout);
    assert.equal(again.reply.duplicate, true);
    assert.equal(again.reply.alert_id, first.reply.alert_id);
    await sleep(800);
    assert.equal(con.seen.filter((m) => m.type === 'alert' && m.alert.headline === h).length, 1);
  });

  it('once PostgreSQL is back the seq is recorded, and a resend is still a duplicate', async () => {
    assert.ok(first, 'the outage step ran');
    await cluster.start();
    await reconnectPg(st);
    await waitFor(async () => (await st.query(
      `SELECT 1 FROM adapter_submissions s JOIN adapters a ON a.id = s.adapter_id
        WHERE a.name = 'outage-feed' AND s.seq = 2 AND s.alert_id = $1`, [first.reply.alert_id])).length === 1,
    { timeoutMs: 60000, intervalMs: 500, what: 'the journaled submission to be recorded' });
    const later = await busCall(st, feed, 2, req);
    assert.equal(later.reply.type, 'published', later.stdout);
    assert.equal(later.reply.duplicate, true);
    assert.equal(later.reply.alert_id, first.reply.alert_id);
    assert.equal((await st.query('SELECT 1 FROM alerts WHERE headline = $1', [h])).length, 1);
  });

  it('a broker killed during the outage and started again still answers a resend as a duplicate', async () => {
    const h3 = `Journaled, then the broker died ${Date.now()}`;
    const req3 = { ...req, headline: h3 };
    await cluster.stop();
    await waitHealth(st.broker, (b) => b && b.status === 'degraded', { what: 'the broker to notice' });
    const journaled = await busCall(st, feed, 3, req3);
    assert.equal(journaled.reply.type, 'published', journaled.stdout);
    assert.equal(journaled.reply.durable, 'journal');
    await killBroker(st.broker);
    await cluster.start();
    await reconnectPg(st);
    st.broker = await startLike(st.broker);
    await waitHealth(st.broker, (b, status) => status === 200 && b.journal === 0, { timeoutMs: 60000, what: 'the journal written back' });
    const again = await busCall(st, feed, 3, req3);
    assert.equal(again.reply.type, 'published', again.stdout);
    assert.equal(again.reply.duplicate, true, again.stdout);
    assert.equal(again.reply.alert_id, journaled.reply.alert_id);
    assert.equal((await st.query('SELECT 1 FROM alerts WHERE headline = $1', [h3])).length, 1, 'one alert');
    const [sub] = await st.query(`SELECT s.alert_id FROM adapter_submissions s JOIN adapters a ON a.id = s.adapter_id
                                   WHERE a.name = 'outage-feed' AND s.seq = 3`);
    assert.equal(sub?.alert_id, journaled.reply.alert_id, 'the journaled (adapter, seq) is recorded');
  });

  it('stops cleanly', async () => {
    await stopStack(st);
  });
});
