// Never silent (10): PostgreSQL stopped and started mid-stream, and the audit
// complete afterwards. This file runs its own PostgreSQL cluster (it stops
// it). While alerts, reads and acknowledgements flow, PostgreSQL is stopped
// for TOCSIN_OUTAGE_SECONDS (default 8; the scenario is 30): the
// broker says degraded, live alerts still reach consoles (durable=journal,
// seq null), reads and acks are accepted (durable=journal). Once PostgreSQL
// is back and the journal written, every publish, delivery, read and ack of
// the outage has exactly one audit row, journal_applied has the records, and
// consoles that resume see the journaled alerts with their positions.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { consoleDirectory, httpRequest, RFC3339_MS, sleep, waitFor, DELIVERIES } from './lib/harness.mjs';
import {
  PgCluster, stackOnCluster, reconnectPg, health, waitHealth, publish, connectResume, cursorOf,
  alertFrames, duplicates, stopStack,
} from './lib/faults.mjs';

const OUTAGE_S = Number(process.env.TOCSIN_OUTAGE_SECONDS || 8);

describe(`PostgreSQL stopped for ${OUTAGE_S} s mid-stream; the audit is complete afterwards`, { timeout: 60_000 + OUTAGE_S * 3000 }, () => {
  let cluster, st, org, sites, opName, siteA, siteB, siteC;
  let ctl, cA, cA2, cB, cC, op, conns, away, awayCursor, cBCursor;
  let pre;            // published before the outage
  const J = [];       // published during the outage: { pub, targets, recipients: [site ids] }
  const acks = [];    // { alert_id, session, reply }
  const reads = [];   // { alert_id, session, reply }
  const X = [];       // published across the stop (published frames)

  before(async () => {
    cluster = await PgCluster.create('outage');
    st = await stackOnCluster(cluster, { label: '15_db_outage' });
    const consoles = await consoleDirectory(st);
    const ops = await st.query(`SELECT username, org_id FROM users WHERE role = 'company_operator' AND NOT disabled ORDER BY org_id`);
    ({ username: opName, org_id: org } = ops.find((o) => consoles.filter((c) => c.guard_org_id === o.org_id).length >= 3));
    sites = (await st.query('SELECT id FROM sites WHERE guard_org_id = $1 ORDER BY id', [org])).map((r) => r.id);
    [siteA, siteB, siteC] = consoles.filter((c) => c.guard_org_id === org);
    ctl = await st.connectAs('controller');
    cA = await st.connectAs(siteA.username, { label: 'console-A' });
    cA2 = await st.connectAs(siteA.username, { label: 'console-A#2' });
    cB = await st.connectAs(siteB.username, { label: 'console-B' });
    cC = await st.connectAs(siteC.username, { label: 'console-C' });
    op = await st.connectAs(opName, { label: 'operator' });
    conns = [cA, cA2, cB, cC, op];
  });
  after(async () => {
    await st?.cleanup();
    await cluster?.destroy();
  });

  it('before the outage: alerts are durable in the database', async () => {
    pre = await publish(ctl, { headline: `Before the outage ${Date.now()}`, severity: 'moderate',
      targets: { sites: [siteA.site_id, siteB.site_id, siteC.site_id] } });
    assert.equal(pre.durable, 'database');
    for (const s of [cA, cA2, cB, cC, op]) await s.next((m) => m.type === 'alert' && m.alert.id === pre.alert_id, 3000, 'the first alert');
    const a = await cA.request({ type: 'ack', alert_id: pre.alert_id });
    assert.equal(a.durable, 'database');
    // Its deliveries are written before the outage begins.
    // (one deliver row per batch of recipients, its count the deliveries:
    // sql/functions/delivery.sql)
    await waitFor(async () => (await st.one(`SELECT coalesce(sum((detail->>'count')::int), 0)::int AS n FROM audit
                                              WHERE action = 'deliver' AND alert_id = $1`, [pre.alert_id])).n === 5,
      { timeoutMs: 5000, what: 'the 5 deliveries of the first alert in the audit' });
    // A console that goes away before the outage, to resume after it.
    away = await st.connectAs(siteA.username, { label: 'console-A-away' });
    awayCursor = cursorOf(away);
    cBCursor = cursorOf(cB);
    assert.ok(awayCursor.seq >= pre.seq);
    away.close();
  });

  it(`PostgreSQL stopped: degraded; alerts, deliveries, reads and acks go on (journaled) for ${OUTAGE_S} s`, async () => {
    // Publishes flow while PostgreSQL goes down: some are stored, some are
    // in flight when the connection drops (journaled: outcome unknown),
    // some are journaled from the start. Each is confirmed one way or the other.
    let crossing = true;
    const crossingLoop = (async () => {
      for (let i = 0; crossing; i++) {
        ctl.send({ type: 'publish', ref: `cross-${i}`, headline: `Across the stop ${i}`, severity: 'minor',
          targets: { sites: [siteA.site_id, siteB.site_id, siteC.site_id] } });
        await sleep(8);
      }
    })();
    await sleep(200);
    const t0 = Date.now();
    await cluster.stop();
    const down = await waitHealth(st.broker, (b) => b?.db === 'down', { timeoutMs: 15000, what: 'healthz db down' });
    assert.equal(down.status, 'degraded');
    await sleep(300);
    crossing = false;
    await crossingLoop;
    await sleep(500);
    const crossSent = ctl.seen.filter((m) => typeof m.ref === 'string' && m.ref.startsWith('cross-'));
    const notPublished = crossSent.filter((m) => m.type !== 'published');
    assert.deepEqual(notPublished, [], 'every publish across the stop is confirmed');
    X.push(...crossSent);
    const byDurable = (d) => X.filter((m) => m.durable === d).length;
    console.log(`# across the stop: ${X.length} publishes, ${byDurable('database')} durable in the database, ${byDurable('journal')} in the journal`);
    assert.ok(byDurable('database') > 0 && byDurable('journal') > 0, 'publishes on both sides of the stop');
    for (const s of [cA, cA2, cB, cC, op]) {
      await waitFor(() => X.every((p) => s.seen.some((m) => m.type === 'alert' && m.alert.id === p.alert_id)),
        { timeoutMs: 5000, what: `every alert published across the stop at ${s.label}` });
    }

    // Needs the database: refused, nothing changes.
    const rc = await ctl.request({ type: 'receipts', alert_id: pre.alert_id });
    assert.equal(rc.type, 'error', JSON.stringify(rc));
    assert.equal(rc.code, 'unavailable');

    const ackOf = async (s, id) => {
      const r = await s.request({ type: 'ack', alert_id: id });
      assert.equal(r.type, 'acked', JSON.stringify(r));
      assert.equal(r.durable, 'journal', JSON.stringify(r));
      assert.equal(r.already, null);
      assert.match(r.acked_at, RFC3339_MS);
      acks.push({ alert_id: id, session: s, reply: r });
    };
    const readOf = async (s, id) => {
      const r = await s.request({ type: 'read', alert_id: id });
      assert.equal(r.type, 'read_ok', JSON.stringify(r));
      assert.equal(r.durable, 'journal', JSON.stringify(r));
      reads.push({ alert_id: id, session: s, reply: r });
    };

    // A site acknowledges, during the outage, an alert from before it.
    await ackOf(cB, pre.alert_id);

    for (let i = 0; (Date.now() - t0 < OUTAGE_S * 1000 - 500) || J.length < 3; i++) {
      const targets = i % 3 === 0 ? { sites: [siteA.site_id, siteB.site_id, siteC.site_id] }
        : i % 3 === 1 ? { sites: [siteA.site_id] } : { orgs: [org] };
      const recipients = targets.orgs ? sites : targets.sites;
      const pub = await publish(ctl, { headline: `During the outage ${i}`, body: `Journaled alert ${i}`, severity: 'moderate', targets });
      assert.equal(pub.durable, 'journal', JSON.stringify(pub));
      assert.equal(pub.seq, null);
      assert.equal(pub.recipients, recipients.length, `recipients resolved from the broker's directory: ${JSON.stringify(pub)}`);
      J.push({ pub, targets, recipients });

      // Live delivery to every connected recipient, seq null.
      const should = [cA, cA2, op, ...(recipients.includes(siteB.site_id) ? [cB] : []), ...(recipients.includes(siteC.site_id) ? [cC] : [])];
      for (const s of should) {
        const m = await s.next((x) => x.type === 'alert' && x.alert.id === pub.alert_id, 3000, `journaled alert ${i}`);
        assert.equal(m.alert.seq, null);
      }
      if (i === 0) {
        // alive and ready: a load balancer must keep a broker that serves
        // from its journal (docs/protocol.md, "GET /healthz", "GET /readyz")
        const h = await health(st.broker);
        assert.equal(h.status, 200);
        assert.deepEqual([h.body.status, h.body.db], ['degraded', 'down']);
        assert.ok(h.body.journal > 0, `healthz journal > 0: ${JSON.stringify(h.body)}`);
        const ready = await httpRequest(st.broker, 'GET', '/readyz');
        assert.equal(ready.status, 200, ready.text);
        assert.deepEqual([ready.json.ready, ready.json.db], [true, 'down']);
      }
      // Reads and acknowledgements, journaled. Site A acknowledges the first twice.
      await readOf(cA, pub.alert_id);
      await ackOf(cA, pub.alert_id);
      if (i === 0) await ackOf(cA2, pub.alert_id);
      if (recipients.includes(siteB.site_id)) await readOf(cB, pub.alert_id);
      await sleep(600);
    }
    for (const s of [cB, cC, cA2]) {
      for (const j of J) {
        if (!j.recipients.includes(s === cA2 ? siteA.site_id : s === cB ? siteB.site_id : siteC.site_id)) {
          assert.ok(!s.seen.some((m) => m.type === 'alert' && m.alert.id === j.pub.alert_id), `${s.label} got an alert not meant for it`);
        }
      }
    }
    const h = await health(st.broker);
    assert.deepEqual([h.status, h.body.db], [200, 'down']);
    assert.ok(h.body.journal >= J.length + acks.length + reads.length, `journal holds at least every publish, ack and read: ${JSON.stringify(h.body)}`);
    const outage = Date.now() - t0;
    console.log(`# outage ${(outage / 1000).toFixed(1)} s: ${J.length} alerts, ${acks.length} acks, ${reads.length} reads journaled; healthz ${JSON.stringify(h.body)}`);
    assert.ok(outage >= OUTAGE_S * 1000 - 500);
  });

  it('PostgreSQL back: the broker writes its journal and says ok with journal 0', async () => {
    assert.ok(J.length >= 3, 'the outage test ran');
    const t0 = Date.now();
    await cluster.start();
    const h = await waitHealth(st.broker, (b, status) => status === 200 && b.status === 'ok' && b.db === 'up' && b.journal === 0,
      { timeoutMs: 60000, what: 'healthz ok, journal 0' });
    console.log(`# healthy ${((Date.now() - t0) / 1000).toFixed(1)} s after PostgreSQL started: ${JSON.stringify(h)}`);
    await reconnectPg(st);
  });

  it('the audit has exactly one row per publish, delivery, read and ack of the outage; journal_applied has the records', async () => {
    assert.ok(J.length >= 3, 'the outage test ran');
    const ids = J.map((j) => j.pub.alert_id);
    // Deliveries are written in batches: let the last ones settle.
    await sleep(500);

    // Publishes: stored with a position, the recipients resolved during the outage, one audit row each.
    const rows = await st.query('SELECT id, seq FROM alerts WHERE id = ANY($1) ORDER BY seq', [ids]);
    assert.equal(rows.length, J.length, 'every journaled alert is in PostgreSQL');
    assert.ok(rows.every((r) => typeof r.seq === 'number' && r.seq > pre.seq));
    assert.deepEqual(rows.map((r) => r.id), ids, 'positions in publish order');
    for (const j of J) {
      const rec = await st.query('SELECT site_id FROM alert_recipients WHERE alert_id = $1 ORDER BY site_id', [j.pub.alert_id]);
      assert.deepEqual(rec.map((r) => r.site_id), [...j.recipients].sort((a, b) => a - b));
    }
    const xIds = X.map((p) => p.alert_id);
    const audit = await st.query(`SELECT action, alert_id, site_id, actor_username, at, detail FROM audit
                                   WHERE alert_id = ANY($1) ORDER BY id`, [[...ids, ...xIds, pre.alert_id]]);
    const rowsOf = (action, id) => audit.filter((r) => r.action === action && r.alert_id === id);
    for (const j of J) {
      const p = rowsOf('publish', j.pub.alert_id);
      assert.equal(p.length, 1, `one publish audit row for ${j.pub.alert_id}`);
      assert.equal(p[0].actor_username, 'controller');
      assert.equal(p[0].detail.journaled, true);
      assert.equal(p[0].at.toISOString(), j.pub.sent_at, 'the audit keeps the time of the publish, not of the replay');
    }

    const refused = await st.query(`SELECT alert_id, detail FROM audit WHERE action = 'journal_refused'`);
    assert.deepEqual(refused, [], 'no journal record refused');

    // Publishes across the stop: each stored once, with one audit row.
    const xRows = await st.query('SELECT id, seq FROM alerts WHERE id = ANY($1)', [xIds]);
    assert.equal(xRows.length, X.length, 'every publish confirmed across the stop is stored');
    for (const p of X.filter((x) => x.durable === 'database')) {
      assert.equal(xRows.find((r) => r.id === p.alert_id).seq, p.seq, 'a database-durable alert keeps its position');
    }
    const xAudit = await st.query(`SELECT alert_id, count(*)::int AS n FROM audit WHERE action = 'publish' AND alert_id = ANY($1) GROUP BY alert_id`, [xIds]);
    assert.equal(xAudit.length, X.length);
    assert.deepEqual(xAudit.filter((r) => r.n !== 1), [], 'one publish audit row each');

    // Deliveries: one row per alert frame a connection received (by user), none more.
    const userOf = new Map([[cA, siteA.username], [cA2, siteA.username], [cB, siteB.username], [cC, siteC.username], [op, opName]]);
    const mismatched = [];
    const deliveriesBy = new Map((await st.query(`SELECT alert_id, count(*)::int AS n FROM ${DELIVERIES} d WHERE alert_id = ANY($1) GROUP BY alert_id`,
      [[...ids, ...xIds]])).map((r) => [r.alert_id, r.n]));
    const byUser = await st.query(`SELECT d.alert_id, u.username, count(*)::int AS n FROM ${DELIVERIES} d JOIN users u ON u.id = d.user_id
                                    WHERE d.alert_id = ANY($1) GROUP BY 1, 2`, [[...ids, ...xIds]]);
    const userIdOf = new Map((await st.query('SELECT id, username FROM users')).map((r) => [r.username, r.id]));
    for (const id of [...ids, ...xIds]) {
      const want = {};
      for (const s of conns) {
        const n = alertFrames(s).filter((m) => m.alert.id === id).length;
        if (n) want[userOf.get(s)] = (want[userOf.get(s)] || 0) + n;
      }
      const have = {};
      for (const r of byUser.filter((x) => x.alert_id === id)) have[r.username] = r.n;
      const total = Object.values(want).reduce((a, b) => a + b, 0);
      // the deliver audit rows (one per batch) count the same deliveries and name the same users
      const audited = rowsOf('deliver', id).reduce((a, r) => a + r.detail.count, 0);
      const auditedUsers = new Set(rowsOf('deliver', id).flatMap((r) => r.detail.users));
      const sameUsers = Object.keys(want).every((u) => auditedUsers.has(userIdOf.get(u))) && auditedUsers.size === Object.keys(want).length;
      if (JSON.stringify(Object.entries(have).sort()) !== JSON.stringify(Object.entries(want).sort()) || (deliveriesBy.get(id) || 0) !== total
          || audited !== total || !sameUsers) {
        const p = X.find((x) => x.alert_id === id) || J.find((j) => j.pub.alert_id === id)?.pub;
        mismatched.push({ ref: p.ref, durable: p.durable, alert_id: id, sent_at: p.sent_at, clients_saw: want, deliveries_by_user: have, deliver_audited: audited, deliveries_rows: deliveriesBy.get(id) || 0 });
      }
    }
    assert.deepEqual(mismatched, [], 'deliveries (by user) and deliver audit rows (count, users) = the alert frames the clients saw');

    // Acks and reads: one audit row per request.
    for (const id of [...ids, pre.alert_id]) {
      const wantAcks = acks.filter((a) => a.alert_id === id).length;
      const wantReads = reads.filter((a) => a.alert_id === id).length;
      const preAck = id === pre.alert_id ? 1 : 0; // site A's, before the outage
      assert.equal(rowsOf('ack', id).length, wantAcks + preAck, `ack audit rows of ${id}`);
      assert.equal(rowsOf('read', id).length, wantReads, `read audit rows of ${id}`);
    }
    // The first acknowledgement of each site is kept with its journaled time.
    for (const j of J) {
      const first = acks.find((a) => a.alert_id === j.pub.alert_id);
      const k = await st.one(`SELECT to_char(acked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at, site_id
                                FROM acks WHERE alert_id = $1`, [j.pub.alert_id]);
      assert.deepEqual(k, { at: first.reply.acked_at, site_id: siteA.site_id });
    }
    const kB = await st.one('SELECT site_id FROM acks WHERE alert_id = $1 AND site_id = $2', [pre.alert_id, siteB.site_id]);
    assert.equal(kB.site_id, siteB.site_id, 'the outage ack of an earlier alert is stored');

    // journal_applied: every journaled record once, applied. (Writes sent
    // straight to the database record their ids there too, as 'direct', so
    // that a batch journaled after its outcome was lost is not applied twice.)
    const all = await st.query('SELECT kind, outcome, count(*)::int AS n FROM journal_applied GROUP BY kind, outcome ORDER BY kind');
    assert.ok(all.every((r) => r.outcome === 'applied' || r.outcome === 'direct'), JSON.stringify(all));
    const ja = all.filter((r) => r.outcome !== 'direct');
    const n = (kind) => ja.filter((r) => r.kind === kind).reduce((a, r) => a + r.n, 0);
    assert.ok(ja.every((r) => r.outcome === 'applied'), JSON.stringify(ja));
    assert.equal(n('publish'), J.length + X.filter((p) => p.durable === 'journal').length, JSON.stringify(ja));
    assert.equal(n('ack'), acks.length, JSON.stringify(ja));
    assert.equal(n('read'), reads.length, JSON.stringify(ja));
    assert.ok(n('deliveries') >= 1, JSON.stringify(ja));
    console.log(`# journal_applied: ${JSON.stringify(ja)}`);

    // Written back in runs, a transaction each, not one per record: one
    // record a transaction could not keep up with a steady stream (the
    // soak, issue 16). A row's xmin is the transaction that wrote it.
    const tx = await st.one(`SELECT count(*)::int AS records, count(DISTINCT xmin::text)::int AS transactions
                               FROM journal_applied WHERE outcome = 'applied'`);
    console.log(`# the write-back: ${tx.records} records in ${tx.transactions} transactions`);
    assert.ok(tx.records >= 10, JSON.stringify(tx));
    assert.ok(tx.transactions * 4 <= tx.records, `records share transactions: ${JSON.stringify(tx)}`);

    // Receipts agree.
    const rc = await ctl.request({ type: 'receipts', alert_id: J[0].pub.alert_id });
    assert.equal(rc.type, 'receipts', JSON.stringify(rc));
    const a = rc.sites.find((x) => x.site_id === siteA.site_id);
    assert.equal(a.acked_at, acks.find((x) => x.alert_id === J[0].pub.alert_id).reply.acked_at);
    assert.equal(a.read_at, reads.find((x) => x.alert_id === J[0].pub.alert_id && x.session === cA).reply.read_at);
    assert.match(a.delivered_at, RFC3339_MS);
    assert.deepEqual(rc.not_acknowledged, [siteB.site_id, siteC.site_id].sort((x, y) => x - y));
  });

  it('consoles that resume afterwards get the journaled alerts with their positions, in order', async () => {
    assert.ok(J.length >= 3, 'the outage test ran');
    const rows = await st.query('SELECT id, seq FROM alerts WHERE id = ANY($1)', [[...J.map((j) => j.pub.alert_id), ...X.map((p) => p.alert_id)]]);
    const seqOf = new Map(rows.map((r) => [r.id, r.seq]));
    for (const [site, cursor, label] of [[siteA, awayCursor, 'away'], [siteB, cBCursor, 'console-B']]) {
      const token = await st.token(site.username);
      const s = await connectResume(st.broker, token, cursor, { label: `${label}-resumed` });
      st.sessions.push(s);
      // "pending" when the read was cancelled: on a loaded machine the
      // resume of a backlog of ~200 alerts can outlast the main
      // connection's statement_timeout (750 ms), which loses the connection
      // (db.c); the backlog follows once it is back (seen under five
      // concurrent suites and a soak, load 10).
      assert.ok(['ok', 'pending'].includes(s.welcome.resume.status), JSON.stringify(s.welcome));
      const done = await s.next('resume_done', 30000);
      const replays = s.seen.slice(0, s.seen.indexOf(done)).filter((m) => m.type === 'alert');
      // The alerts published across the stop (to sites A, B and C) and those
      // of the outage for its site, in stream order.
      const want = [...X.map((p) => p.alert_id), ...J.filter((j) => j.recipients.includes(site.site_id)).map((j) => j.pub.alert_id)]
        .sort((a, b) => seqOf.get(a) - seqOf.get(b));
      assert.deepEqual(replays.map((m) => m.alert.id), want, `${label}: exactly the alerts for its site since its cursor, in order`);
      assert.deepEqual(duplicates(replays), []);
      for (const m of replays) {
        assert.equal(m.replay, true);
        assert.equal(m.alert.seq, seqOf.get(m.alert.id), 'with the position it got in PostgreSQL');
      }
      s.close();
    }
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await stopStack(st);
    await cluster.destroy();
  });
});
