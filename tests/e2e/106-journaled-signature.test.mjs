// An alert of a database outage is proved like any other (issue 23). While
// PostgreSQL is stopped, a publish is journaled ("durable": "journal") and
// its frame signed; the journal record carries that signature and the
// text it covers, and when PostgreSQL returns the write-back keeps them in
// alert_signatures, so that `tocsinctl alert verify ID` says verified:
// a controller's alert and an adapter's over the bus (whose source names
// the adapter and the origin it gave, built apart while journaled). A
// journal record from a broker before this (no signature) still loads and
// is written back; verify then says that no signature is kept. This file
// runs its own PostgreSQL cluster (it stops it).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { consoleDirectory, run, waitFor } from './lib/harness.mjs';
import {
  PgCluster, stackOnCluster, reconnectPg, waitHealth, publish, BrokerFiles, journalRecords,
  startLike,
} from './lib/faults.mjs';
import { TOCSINCTL, prepareBus, attachBus, addAdapter, busCall } from './lib/bus.mjs';
import { canonical } from '../../web-client/js/signed.js';

describe('an alert journaled during an outage keeps its signature', { timeout: 240_000 }, () => {
  let cluster, files, st, site, ctl, con, adminUrl, frame, pub, feed, busFrame;

  before(async () => {
    cluster = await PgCluster.create('jsig');
    files = new BrokerFiles('jsig');
    const { args, bus } = await prepareBus();
    st = attachBus(await stackOnCluster(cluster, { label: '106_journaled_signature',
      broker: { args: [...args, ...files.args()] } }), bus);
    [site] = await consoleDirectory(st);
    feed = await addAdapter(st, 'jsig-feed', 'controller'); // an adapter's alert has a source
    ctl = await st.connectAs('controller');
    con = await st.connectAs(site.username);
    adminUrl = await cluster.url('tocsin_admin', 'tocsin');
  });
  after(async () => {
    await st?.cleanup();
    await cluster?.destroy();
    files?.remove();
  });

  const verify = (id, ...more) => run(TOCSINCTL, ['alert', 'verify', String(id), ...more],
    { env: { TOCSIN_TOKEN_KEY: files.keyFile, DATABASE_URL: adminUrl } });

  it('journaled while PostgreSQL is stopped: the record carries the signature it went out with', async () => {
    await cluster.stop();
    await waitHealth(st.broker, (h) => h?.db === 'down', { timeoutMs: 30000, what: 'healthz db down' });
    pub = await publish(ctl, { headline: `In the outage ${Date.now()}`, body: 'Café "north" gate 🚧',
      severity: 'minor', targets: { sites: [site.site_id] } });
    assert.equal(pub.durable, 'journal', JSON.stringify(pub));
    frame = await con.next((m) => m.type === 'alert' && m.alert.id === pub.alert_id, 10000, 'the journaled alert');
    assert.ok(frame.signature?.sig, 'the frame is signed');
    const rec = journalRecords(files.journalText()).find((r) => r.k === 'publish' && r.r.alert_id === pub.alert_id);
    assert.ok(rec, 'the publish is in the journal');
    assert.deepEqual(rec.r.signature, { key_id: frame.signature.key_id, sig: frame.signature.sig,
      signed: canonical(frame.alert) });
    // and an adapter's, over the bus
    const b = await busCall(st, feed, 1, { type: 'publish', headline: `Over the bus in the outage ${Date.now()}`,
      severity: 'minor', targets: { sites: [site.site_id] }, origin: { sender: 'feed@example.org', identifier: 'x-1', sent: new Date().toISOString() } });
    assert.equal(b.reply?.durable, 'journal', b.stdout + b.stderr);
    busFrame = await con.next((m) => m.type === 'alert' && m.alert.id === b.reply.alert_id, 10000, 'the adapter\'s alert');
    assert.equal(busFrame.alert.source.kind, 'adapter');
  });

  it('written back when PostgreSQL returns: alert_signatures has it, verify ID says verified', async () => {
    await cluster.start();
    await reconnectPg(st);
    await waitFor(async () => (await st.query('SELECT 1 FROM alerts WHERE id = $1', [pub.alert_id])).length === 1,
      { timeoutMs: 60000, what: 'the journaled alert written back' });
    const rows = await st.query('SELECT key_id, sig, signed, sha256 FROM alert_signatures WHERE alert_id = $1',
      [pub.alert_id]);
    assert.equal(rows.length, 1, 'the signature is kept with the alert, in the publish\'s transaction');
    assert.equal(rows[0].key_id, frame.signature.key_id);
    assert.equal(rows[0].sig, frame.signature.sig);
    assert.equal(rows[0].signed, canonical(frame.alert));
    const digest = createHash('sha256').update(rows[0].signed, 'utf8').digest('hex');
    assert.equal(rows[0].sha256, digest);
    const r = await verify(pub.alert_id);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`alert ${pub.alert_id}: verified by key ${frame.signature.key_id}`));
    assert.ok(r.stdout.includes(digest), r.stdout);
    await waitFor(async () => (await st.query('SELECT 1 FROM alert_signatures WHERE alert_id = $1',
      [busFrame.alert.id])).length === 1, { timeoutMs: 60000, what: 'the adapter\'s alert written back with its signature' });
    const b = await verify(busFrame.alert.id);
    assert.equal(b.code, 0, b.stdout + b.stderr);
    assert.match(b.stdout, /verified by key/);
  });

  it('a journal record from a broker before this (no signature) still loads and is written back', async () => {
    const [u] = await st.query("SELECT id FROM users WHERE username = 'controller'");
    const id = Number(pub.alert_id) + 1000;
    const at = new Date().toISOString();
    const old = {
      jid: `0-old-${Date.now()}`, k: 'publish',
      r: { headline: 'From an older broker', body: '', severity: 'minor', status: 'actual', msg_type: 'alert',
        category: 'advice', urgency: 'unknown', certainty: 'unknown', classification: 'OFFICIAL',
        targets: { sites: [site.site_id] }, alert_id: id, user_id: u.id, remote: '127.0.0.1', at,
        recipients: [site.site_id] },
    };
    st.closeSessions();
    await st.broker.stop();
    fs.writeFileSync(files.journal, `${JSON.stringify(old)}\n`); // the oldest format: no checksum either
    st.broker = await startLike(st.broker);
    await waitFor(async () => (await st.query('SELECT 1 FROM journal_applied WHERE jid = $1 AND outcome = $2',
      [old.jid, 'applied'])).length === 1, { timeoutMs: 60000, what: 'the old record written back' });
    assert.equal((await st.query('SELECT 1 FROM alerts WHERE id = $1', [id])).length, 1);
    const r = await verify(id);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /NOT VERIFIED: no signature is kept with it/);
  });
});
