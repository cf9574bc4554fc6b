// Never silent (9): kill -9 mid-publish, then full recovery. A controller
// publishes continuously; the broker is killed with SIGKILL partway and
// started again on the same database, journal file and token key. Every
// alert the controller saw confirmed is in PostgreSQL, and a console that
// had been receiving gets, by resuming, every confirmed alert for its site
// it had not seen. The same holds when the broker dies while PostgreSQL is
// unreachable and the alerts are only in its journal.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Stack, consoleDirectory, pgConnect, sleep } from './lib/harness.mjs';
import {
  BrokerFiles, killBroker, startLike, connectResume, cursorOf, alertFrames, duplicates, publish,
  health, waitHealth, journalRecords, stopStack,
} from './lib/faults.mjs';

const TOTAL = 300;      // publishes sent in a tight loop
const KILL_AT = 80;     // kill -9 when this many are confirmed

// Takes frames until resume_done; returns { welcome, replays, done }.
async function resumeAll(broker, token, cursor, label) {
  const s = await connectResume(broker, token, cursor, { label, timeoutMs: 15000 });
  const done = await s.next('resume_done', 15000);
  const replays = s.seen.slice(0, s.seen.indexOf(done)).filter((m) => m.type === 'alert');
  return { s, done, replays };
}

describe('kill -9 mid-publish, then restart on the same database, journal and key', { timeout: 240_000 }, () => {
  let files, st, siteA, siteB, tokenA, tokenCtl;

  before(async () => {
    files = new BrokerFiles('crash');
    // The tight loop is over the default per-connection message rate: lift it.
    st = await Stack.create({ label: import.meta.url, broker: { args: [...files.args(), '--rate-limit', '100000'] } });
    [siteA, siteB] = await consoleDirectory(st);
    tokenA = await st.token(siteA.username);
    tokenCtl = await st.token('controller');
  });
  after(async () => {
    await st?.cleanup();
    files?.remove();
  });

  it('every confirmed alert is in PostgreSQL and a resuming console recovers every one it missed', async () => {
    const ctl = await st.connect(tokenCtl, { label: 'controller' });
    // Two consoles of site A: one goes away early (it misses most), one
    // stays until the kill.
    const early = await st.connect(tokenA, { label: 'console-A-early' });
    const conA = await st.connect(tokenA, { label: 'console-A' });
    early.ws.on('message', () => { if (alertFrames(early).length >= 10) early.terminate(); });
    const targets = (i) => (i % 3 === 0 ? [siteA.site_id] : i % 3 === 1 ? [siteA.site_id, siteB.site_id] : [siteB.site_id]);
    const sentTargets = new Map(); // ref -> sites
    const confirmed = [];
    let killedAfter = null;
    const broker1 = st.broker;
    ctl.ws.on('message', (data) => {
      const m = JSON.parse(data.toString('utf8'));
      if (m.type !== 'published') return;
      confirmed.push({ ...m, sites: sentTargets.get(m.ref) });
      if (confirmed.length === KILL_AT && !broker1.exit) {
        broker1.proc.kill('SIGKILL');
        killedAfter = confirmed.length;
      }
    });
    for (let i = 0; i < TOTAL; i++) {
      const ref = `crash-${i}`;
      sentTargets.set(ref, targets(i));
      ctl.send({ type: 'publish', ref, headline: `Crash ${i}`, body: `Alert ${i} of ${TOTAL}`, severity: 'moderate', targets: { sites: targets(i) } });
    }
    await broker1.exited;
    await Promise.all([ctl.closed, conA.closed, early.closed]);
    await killBroker(broker1);
    assert.equal(broker1.exit.signal, 'SIGKILL');
    assert.equal(killedAfter, KILL_AT, 'killed from the confirmation handler');
    console.log(`# killed after ${killedAfter} confirmations; ${confirmed.length} confirmed in all, ${TOTAL} sent`);
    assert.ok(confirmed.length < TOTAL, `the broker died mid-publish (${confirmed.length} of ${TOTAL} confirmed)`);
    for (const p of confirmed) assert.equal(p.durable, 'database');

    // Same database, journal and key: a new broker process.
    st.broker = await startLike(broker1);
    const h = await health(st.broker);
    assert.deepEqual([h.status, h.body.status, h.body.journal], [200, 'ok', 0]);

    // Every confirmed alert is in the database, with the position it was confirmed with.
    const ids = confirmed.map((p) => p.alert_id);
    const rows = await st.query('SELECT id, seq FROM alerts WHERE id = ANY($1)', [ids]);
    const bySeq = new Map(rows.map((r) => [r.id, r.seq]));
    const lost = confirmed.filter((p) => bySeq.get(p.alert_id) !== p.seq);
    assert.deepEqual(lost.map((p) => p.alert_id), [], 'confirmed alerts missing from PostgreSQL (or with another position)');
    const stored = (await st.one(`SELECT count(*) AS n FROM alerts WHERE headline LIKE 'Crash %'`)).n;
    console.log(`# ${stored} of the ${TOTAL} sent are in PostgreSQL (${confirmed.length} confirmed)`);
    assert.ok(stored >= confirmed.length && stored <= TOTAL);
    const audits = await st.query(`SELECT alert_id, count(*)::int AS n FROM audit WHERE action = 'publish' AND alert_id = ANY($1) GROUP BY alert_id`, [ids]);
    assert.equal(audits.length, confirmed.length, 'a publish audit row for every confirmed alert');
    assert.ok(audits.every((r) => r.n === 1), 'one each');

    // Each console resumes from the last position it processed.
    let resumed;
    for (const con of [early, conA]) {
      const seen = new Set(alertFrames(con).map((m) => m.alert.id));
      const cursor = cursorOf(con);
      const { s, done, replays } = await resumeAll(st.broker, tokenA, cursor, `${con.label}-resumed`);
      st.sessions.push(s);
      resumed = s;
      assert.equal(s.welcome.resume.status, 'ok', JSON.stringify(s.welcome));
      assert.equal(s.welcome.stream.epoch, cursor.epoch, 'same database, same epoch');
      assert.deepEqual(duplicates(replays), []);
      const replayed = new Set(replays.map((m) => m.alert.id));
      const missed = confirmed.filter((p) => p.sites.includes(siteA.site_id) && !seen.has(p.alert_id));
      const notRecovered = missed.filter((p) => !replayed.has(p.alert_id));
      assert.deepEqual(notRecovered.map((p) => `${p.alert_id}@${p.seq}`), [],
        `${con.label}: confirmed alerts for site A that it neither saw nor got on resume (cursor ${cursor.seq})`);
      assert.ok(replays.every((m) => m.alert.seq > cursor.seq && m.replay === true));
      assert.ok(replays.every((m, i) => i === 0 || m.alert.seq > replays[i - 1].alert.seq), 'in order');
      assert.ok(!replays.some((m) => seen.has(m.alert.id)), 'nothing the console had already seen');
      // The backlog is exactly what the database holds for site A after the cursor.
      const want = await st.query(`SELECT a.id FROM alerts a JOIN alert_recipients r ON r.alert_id = a.id
                                    WHERE r.site_id = $1 AND a.seq > $2 ORDER BY a.seq`, [siteA.site_id, cursor.seq]);
      assert.deepEqual(replays.map((m) => m.alert.id), want.map((r) => r.id));
      assert.equal(done.count, replays.length);
      console.log(`# ${con.label}: saw ${seen.size} live, missed ${missed.length} confirmed ones, recovered ${replays.length} by resume`);
      if (con === early) assert.ok(missed.length > 0, 'the early console missed confirmed alerts (the test exercises recovery)');
    }
    const s = resumed;

    // And the restarted broker serves live alerts again, with the same key's tokens.
    const ctl2 = await st.connect(tokenCtl, { label: 'controller-again' });
    const live = await publish(ctl2, { headline: `After the restart ${Date.now()}`, severity: 'minor', targets: { sites: [siteA.site_id] } });
    const got = await s.next((m) => m.type === 'alert' && m.alert.id === live.alert_id, 3000, 'a live alert after the restart');
    assert.equal(got.replay, undefined);
  });

  it('kill -9 while PostgreSQL is unreachable: the journaled alerts reach PostgreSQL after the restart', async () => {
    const ctl = await st.connect(tokenCtl, { label: 'controller-j' });
    const conA = await st.connect(tokenA, { label: 'console-A-j' });
    const cursor = cursorOf(conA);
    // Make the database unreachable for the broker: refuse new connections
    // to it and end the broker's.
    let jConfirmed, jRecs;
    // (ALTER DATABASE cannot name the database it runs in: from `postgres`.)
    const admin = await pgConnect(process.env.TOCSIN_PG_ADMIN_URL);
    await admin.query(`ALTER DATABASE "${st.db.name}" WITH ALLOW_CONNECTIONS false`);
    await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND usename = 'tocsin_broker'`, [st.db.name]);
    try {
      await waitHealth(st.broker, (b) => b?.db === 'down', { timeoutMs: 10000, what: 'healthz db down' });
      const confirmed = [];
      const broker2 = st.broker;
      const N = 400, KILL = 15;
      ctl.ws.on('message', (data) => {
        const m = JSON.parse(data.toString('utf8'));
        if (m.type !== 'published') return;
        confirmed.push(m);
        if (confirmed.length === KILL && !broker2.exit) broker2.proc.kill('SIGKILL');
      });
      // Journaling is quick and the broker handles a whole read's worth of
      // frames at once: send in small groups so that the kill lands mid-stream.
      for (let i = 0; i < N && !broker2.exit && ctl.isOpen; i++) {
        ctl.send({ type: 'publish', ref: `jcrash-${i}`, headline: `Journal crash ${i}`, severity: 'severe', targets: { sites: [siteA.site_id] } });
        if (i % 5 === 4) await sleep(2);
      }
      await broker2.exited;
      await Promise.all([ctl.closed, conA.closed]);
      const journal = files.journalText();
      await killBroker(broker2);
      console.log(`# journaled: ${confirmed.length} confirmed of ${N} sent before the kill`);
      assert.ok(confirmed.length >= KILL && confirmed.length < N, `killed mid-publish: ${confirmed.length}`);
      for (const p of confirmed) {
        assert.equal(p.durable, 'journal', JSON.stringify(p));
        assert.equal(p.seq, null);
      }
      const recs = journalRecords(journal).filter((r) => r.k === 'publish');
      const inFile = new Set(recs.map((r) => r.r.alert_id));
      assert.deepEqual(confirmed.filter((p) => !inFile.has(p.alert_id)).map((p) => p.alert_id), [],
        'every journal-confirmed alert is in the journal file');
      jConfirmed = confirmed;
      jRecs = recs;
    } finally {
      await admin.query(`ALTER DATABASE "${st.db.name}" WITH ALLOW_CONNECTIONS true`);
      await admin.end();
    }

    // A new broker on the same journal writes it back before it says ok.
    st.broker = await startLike(st.broker);
    await waitHealth(st.broker, (b, status) => status === 200 && b.status === 'ok' && b.journal === 0, { timeoutMs: 30000, what: 'healthz ok, journal 0' });
    assert.equal(fs.statSync(files.journal).size, 0, 'the journal file is emptied');
    const ids = jConfirmed.map((p) => p.alert_id);
    const rows = await st.query('SELECT id, seq FROM alerts WHERE id = ANY($1) ORDER BY seq', [ids]);
    assert.equal(rows.length, ids.length, 'every journal-confirmed alert is in PostgreSQL');
    assert.ok(rows.every((r) => typeof r.seq === 'number' && r.seq > cursor.seq), 'with a position');
    const applied = await st.query('SELECT jid, outcome FROM journal_applied WHERE jid = ANY($1)', [jRecs.map((r) => r.jid)]);
    assert.equal(applied.length, jRecs.length, 'journal_applied has every publish record of the file');
    assert.ok(applied.every((r) => r.outcome === 'applied'), JSON.stringify(applied.filter((r) => r.outcome !== 'applied')));
    const audits = await st.query(`SELECT alert_id, count(*)::int AS n FROM audit WHERE action = 'publish' AND alert_id = ANY($1) GROUP BY alert_id`, [ids]);
    assert.equal(audits.length, ids.length);
    assert.ok(audits.every((r) => r.n === 1), 'one publish audit row each');

    const { s, replays } = await resumeAll(st.broker, tokenA, cursor, 'console-A-j-resumed');
    st.sessions.push(s);
    assert.equal(s.welcome.resume.status, 'ok');
    assert.deepEqual(duplicates(replays), []);
    const got = new Set(replays.map((m) => m.alert.id));
    assert.deepEqual(ids.filter((id) => !got.has(id)), [], 'the resuming console gets every journaled alert');
    assert.ok(replays.every((m) => typeof m.alert.seq === 'number'), 'with its position');
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await stopStack(st);
  });
});
