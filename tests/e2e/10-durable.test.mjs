// Never silent (1): a publish is confirmed only once it is durable. With
// PostgreSQL up, `published` (and the alert at a console) arrives only once
// the alert row is committed; with PostgreSQL stopped, `published` says
// durable=journal and the broker's journal file holds the record, which
// reaches the database when PostgreSQL returns.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { Stack, consoleDirectory, waitFor, RFC3339_MS } from './lib/harness.mjs';
import { PgCluster, stackOnCluster, reconnectPg, health, waitHealth, publish, journalRecords, stopStack } from './lib/faults.mjs';

describe('publish confirmed only after durability (PostgreSQL up)', { timeout: 120_000 }, () => {
  let st, ctl, con, site, probe;

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    [site] = await consoleDirectory(st);
    ctl = await st.connectAs('controller');
    con = await st.connectAs(site.username);
    probe = new pg.Pool({ connectionString: st.db.superUrl, max: 8 });
    probe.on('error', () => {});
  });
  after(async () => { await probe?.end().catch(() => {}); await st?.cleanup(); });

  it('the alert row, its recipients and its publish audit row exist when published (and the alert) arrive', async () => {
    const N = 40;
    const checks = [];   // one query per published / alert frame, started the moment it arrived
    const onFrame = (who) => (data) => {
      let m;
      try { m = JSON.parse(data.toString('utf8')); } catch { return; }
      const id = m.type === 'published' ? m.alert_id : m.type === 'alert' ? m.alert?.id : null;
      if (!id) return;
      // Issued synchronously in the frame's handler: anything the broker had
      // not committed before it sent the frame is likely not visible yet.
      checks.push(probe.query(
        `SELECT a.seq,
                (SELECT count(*) FROM alert_recipients r WHERE r.alert_id = a.id) AS recipients,
                (SELECT count(*) FROM audit u WHERE u.alert_id = a.id AND u.action = 'publish') AS audits
           FROM alerts a WHERE a.id = $1`, [id]).then((r) => ({ who, frame: m, row: r.rows[0] })));
    };
    const onCtl = onFrame('controller'), onCon = onFrame('console');
    ctl.ws.on('message', onCtl);
    con.ws.on('message', onCon);

    // Publish in windows of 8 concurrent requests.
    const confirmed = [];
    for (let i = 0; i < N; i += 8) {
      const batch = [];
      for (let j = i; j < Math.min(N, i + 8); j++) {
        batch.push(publish(ctl, { headline: `Durable ${j} ${Date.now()}`, body: 'x'.repeat(j * 10), severity: 'moderate',
          targets: { sites: [site.site_id] } }));
      }
      confirmed.push(...await Promise.all(batch));
    }
    await waitFor(() => checks.length >= 2 * N, { timeoutMs: 10000, what: `${2 * N} frames checked (have ${checks.length})` });
    const results = await Promise.all(checks);

    for (const p of confirmed) {
      assert.equal(p.durable, 'database', JSON.stringify(p));
      assert.equal(typeof p.seq, 'number', JSON.stringify(p));
      assert.equal(p.recipients, 1);
      assert.match(p.sent_at, RFC3339_MS);
    }
    assert.equal(new Set(confirmed.map((p) => p.seq)).size, N, 'every alert has its own position');
    const missing = results.filter((r) => !r.row);
    assert.deepEqual(missing.map((r) => `${r.who}:${r.frame.type}:${r.frame.alert_id ?? r.frame.alert?.id}`), [],
      'frames that arrived before their alert row was committed');
    for (const r of results) {
      const seq = r.frame.type === 'published' ? r.frame.seq : r.frame.alert.seq;
      assert.equal(r.row.seq, seq, `${r.who} ${r.frame.type}: seq in the frame = seq in the row`);
      assert.equal(r.row.recipients, 1, `${r.who} ${r.frame.type}: recipients stored with the alert`);
      assert.equal(r.row.audits, 1, `${r.who} ${r.frame.type}: one publish audit row, in the same transaction`);
    }
    assert.equal(results.filter((r) => r.who === 'console').length, N, 'the console got every alert');
    ctl.ws.off('message', onCtl);
    con.ws.off('message', onCon);
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await stopStack(st);
  });
});

describe('publish while PostgreSQL is stopped: durable=journal, in the journal file, then in the database', { timeout: 180_000 }, () => {
  let cluster, st, ctl, con, site, before1;

  before(async () => {
    cluster = await PgCluster.create('durable');
    st = await stackOnCluster(cluster, { label: '10_durable_journal' });
    [site] = await consoleDirectory(st);
    ctl = await st.connectAs('controller');
    con = await st.connectAs(site.username);
  });
  after(async () => {
    await st?.cleanup();
    await cluster?.destroy();
  });

  it('publishes durably in the database first', async () => {
    before1 = await publish(ctl, { headline: `Before the outage ${Date.now()}`, severity: 'minor', targets: { sites: [site.site_id] } });
    assert.equal(before1.durable, 'database');
    assert.equal(typeof before1.seq, 'number');
    await con.next((m) => m.type === 'alert' && m.alert.id === before1.alert_id, 3000, 'the first alert');
  });

  let pub, journalLine;
  it('with PostgreSQL stopped: published durable=journal, seq null; the journal file holds the record; the console gets it', async () => {
    await cluster.stop();
    const h = await waitHealth(st.broker, (b) => b?.db === 'down', { timeoutMs: 15000, what: 'healthz db down' });
    assert.equal(h.status, 'degraded');

    const headline = `Journaled ${Date.now()}`;
    pub = await publish(ctl, { headline, body: 'Written while the database is away', severity: 'severe',
      targets: { sites: [site.site_id] } });
    assert.equal(pub.durable, 'journal', JSON.stringify(pub));
    assert.equal(pub.seq, null, JSON.stringify(pub));
    assert.equal(pub.recipients, 1);
    assert.ok(Number.isSafeInteger(pub.alert_id) && pub.alert_id > before1.alert_id, 'ids increase in time');

    // The record is in the file when published arrived (fsync'd before).
    const file = path.join(st.broker.tmpDir, 'journal', 'tocsin.journal');
    assert.ok(fs.existsSync(file), `journal file ${file} exists`);
    const recs = journalRecords(fs.readFileSync(file, 'utf8'));
    const mine = recs.filter((r) => r.k === 'publish' && r.r?.alert_id === pub.alert_id);
    assert.equal(mine.length, 1, `one publish record for ${pub.alert_id} in ${JSON.stringify(recs).slice(0, 2000)}`);
    journalLine = mine[0];
    assert.equal(typeof journalLine.jid, 'string');
    assert.equal(journalLine.r.headline, headline);
    assert.equal(journalLine.r.severity, 'severe');
    assert.deepEqual(journalLine.r.recipients, [site.site_id]);

    const got = await con.next((m) => m.type === 'alert' && m.alert.id === pub.alert_id, 3000, 'the journaled alert');
    assert.equal(got.alert.seq, null);
    assert.equal(got.alert.headline, headline);

    const h2 = await health(st.broker);
    assert.equal(h2.status, 200); // alive: it serves from its journal
    assert.equal(h2.body.status, 'degraded');
    assert.equal(h2.body.db, 'down');
    assert.ok(h2.body.journal >= 1, `healthz journal >= 1: ${JSON.stringify(h2.body)}`);
  });

  it('once PostgreSQL is back: the alert is in the database with a position, journal_applied has the record, the file is emptied', async () => {
    assert.ok(pub && journalLine, 'the outage test ran');
    await cluster.start();
    const h = await waitHealth(st.broker, (b, status) => status === 200 && b.status === 'ok' && b.journal === 0,
      { timeoutMs: 30000, what: 'healthz ok, journal 0' });
    assert.equal(h.db, 'up');
    await reconnectPg(st);
    const row = await st.one('SELECT seq, headline, severity FROM alerts WHERE id = $1', [pub.alert_id]);
    assert.equal(typeof row.seq, 'number');
    assert.ok(row.seq > before1.seq, `journaled alert got a position after ${before1.seq}: ${row.seq}`);
    assert.equal(row.severity, 'severe');
    const rec = await st.query('SELECT site_id FROM alert_recipients WHERE alert_id = $1', [pub.alert_id]);
    assert.deepEqual(rec.map((r) => r.site_id), [site.site_id]);
    const applied = await st.query('SELECT kind, outcome FROM journal_applied WHERE jid = $1', [journalLine.jid]);
    assert.deepEqual(applied, [{ kind: 'publish', outcome: 'applied' }]);
    const audits = await st.query(`SELECT detail FROM audit WHERE alert_id = $1 AND action = 'publish'`, [pub.alert_id]);
    assert.equal(audits.length, 1, 'one publish audit row');
    assert.equal(audits[0].detail.journaled, true);
    const file = path.join(st.broker.tmpDir, 'journal', 'tocsin.journal');
    assert.equal(fs.statSync(file).size, 0, 'the journal file is emptied once applied');
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await stopStack(st);
    await cluster.destroy();
  });
});
