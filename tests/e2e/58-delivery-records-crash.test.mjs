// Delivery records after a kill -9 (issue 16, item 3). Deliveries wait a
// few milliseconds in the broker's memory before they are stored in a
// batch (broker/io/delivery_log.c), so a broker killed during a fan-out
// left frames that consoles had received, and whose positions they had
// passed, with no record: "did site X receive alert Y" answered no for an
// alert the site had. A console that resumes now says where its unbroken
// run of positions began (resume.since) as well as where it is (seq): it
// holds every alert meant for it in between. The broker records, for the
// alerts of that run that have no delivery record at the site, a delivery
// to the console's user confirmed at resume (tocsin_resume_confirm in
// sql/functions/delivery.sql; docs/audit.md), and nothing for an alert
// the console does not hold.
//
// About 200 console sessions (6 per site console user); the broker is
// killed before any delivery batch of an alert is written (a superuser
// holds the batches' table locked), in the middle of a fan-out (from the
// first frame's arrival), and just after the batch was written; each time
// a new broker starts on the same database and key and every session
// resumes.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, consoleDirectory, DELIVERIES } from './lib/harness.mjs';
import {
  BrokerFiles, killBroker, startLike, connectResume, cursorOf, alertFrames, publish, claimsFor,
  inBatches, stopStack, waitFor, holdDeliveryBatches,
} from './lib/faults.mjs';

const PER_USER = 6;

describe('delivery records survive a kill -9 during a fan-out', { timeout: 300_000 }, () => {
  let files, st, consoles, ctl, sessions;
  const heldBy = new Map();  // session label -> the alert ids it received, over its resumes

  before(async () => {
    files = new BrokerFiles('records');
    st = await Stack.create({ label: import.meta.url, broker: { args: [...files.args(), '--rate-limit', '100000'] } });
    consoles = await consoleDirectory(st);
    ctl = await st.connectAs('controller');
    const specs = consoles.flatMap((c) => Array.from({ length: PER_USER }, (_, k) => ({ c, label: `${c.username}#${k}` })));
    sessions = await inBatches(specs.length, 20, async (i) => {
      const { c, label } = specs[i];
      const token = files.forge(claimsFor({ id: c.user_id, username: c.username, role: 'site_console', org_id: c.guard_org_id, site_id: c.site_id, cleared_sensitive: c.cleared_sensitive }));
      const s = await st.connect(token, { label, timeoutMs: 30_000 });
      Object.assign(s, { c, token, since: s.welcome.stream.head });
      return s;
    });
  });
  after(async () => {
    await st?.cleanup();
    files?.remove();
  });

  const everySite = () => ({ sites: consoles.map((c) => c.site_id) });

  const hold = (s) => {
    const ids = heldBy.get(s.label) || heldBy.set(s.label, new Set()).get(s.label);
    for (const m of alertFrames(s)) ids.add(m.alert.id);
  };

  // A new broker on the same database and key; every session resumes on
  // it, as its console would: from its position, with the start of its
  // unbroken run.
  async function restartAndResume(old) {
    await Promise.all(sessions.map((s) => s.closed));
    sessions.forEach(hold);
    st.broker = await startLike(old);
    sessions = await inBatches(sessions.length, 20, async (i) => {
      const was = sessions[i];
      const s = await connectResume(st.broker, was.token, { ...cursorOf(was), since: was.since },
        { label: was.label, timeoutMs: 30_000 });
      st.sessions.push(s);
      await s.next('resume_done', 30_000);
      return Object.assign(s, { c: was.c, token: was.token, since: was.since });
    });
    sessions.forEach(hold);
    ctl = await st.connectAs('controller');
  }

  // Every (alert, site, user) a session holds has a delivery record and its
  // site a delivered_sites row; and no user has a record of an alert none
  // of its sessions holds.
  async function recordsMatchWhatIsHeld(ids) {
    const held = new Set();
    for (const s of sessions) for (const id of heldBy.get(s.label) || []) if (ids.includes(id)) held.add(`${id}/${s.c.site_id}/${s.c.user_id}`);
    const records = await waitFor(async () => {
      const rows = await st.query(`SELECT DISTINCT d.alert_id, d.site_id, d.user_id FROM ${DELIVERIES} d WHERE d.alert_id = ANY($1)`, [ids]);
      const have = new Set(rows.map((r) => `${r.alert_id}/${r.site_id}/${r.user_id}`));
      return [...held].every((k) => have.has(k)) ? have : null;
    }, { timeoutMs: 30_000, intervalMs: 250, what: 'a delivery record for every alert each console holds' }).catch(async () => {
      const rows = await st.query(`SELECT DISTINCT d.alert_id, d.site_id, d.user_id FROM ${DELIVERIES} d WHERE d.alert_id = ANY($1)`, [ids]);
      const have = new Set(rows.map((r) => `${r.alert_id}/${r.site_id}/${r.user_id}`));
      const missing = [...held].filter((k) => !have.has(k));
      assert.fail(`${missing.length} of ${held.size} (alert, site, user) held by consoles have no delivery record: ${missing.slice(0, 5).join(' ')}`);
    });
    assert.deepEqual([...records].filter((k) => !held.has(k)), [], 'no record of an alert the user\'s consoles do not hold');
    const sites = await st.query('SELECT alert_id, site_id FROM delivered_sites WHERE alert_id = ANY($1)', [ids]);
    const siteSet = new Set(sites.map((r) => `${r.alert_id}/${r.site_id}`));
    const noSite = [...held].map((k) => k.split('/').slice(0, 2).join('/')).filter((k) => !siteSet.has(k));
    assert.deepEqual([...new Set(noSite)], [], 'every (alert, site) a console holds has its delivered_sites row');
  }

  it('killed before the first delivery batch of an alert is written', async () => {
    const batches = await holdDeliveryBatches(st);
    let a;
    try {
      a = await publish(ctl, { headline: `Before the batch ${Date.now()}`, severity: 'minor', targets: everySite() });
      await Promise.all(sessions.map((s) => s.next((m) => m.type === 'alert' && m.alert.id === a.alert_id, 30_000, 'the alert')));
      await batches.waited();
      await killBroker(st.broker);
    } finally {
      await batches.release();
    }
    const [{ n }] = await st.query('SELECT count(*)::int AS n FROM delivery_batches WHERE alert_id = $1', [a.alert_id]);
    assert.equal(n, 0, 'no batch of the alert was written before the kill');
    await restartAndResume(st.broker);
    await recordsMatchWhatIsHeld([a.alert_id]);
    const rows = await st.query(`SELECT detail FROM audit WHERE action = 'deliver' AND alert_id = $1`, [a.alert_id]);
    assert.ok(rows.length >= 1 && rows.every((r) => r.detail.confirmed === 'resume'),
      `the deliver rows say the deliveries were confirmed at resume: ${JSON.stringify(rows.map((r) => r.detail))}`);
  });

  it('killed in the middle of a run of fan-outs', async () => {
    const batches = await holdDeliveryBatches(st);
    const broker = st.broker;
    const tag = `Run ${Date.now()}`;
    try {
      // ten alerts sent at once; the first console to receive the fifth
      // kills the broker
      for (const s of sessions) {
        s.ws.on('message', (data) => {
          const m = JSON.parse(data.toString('utf8'));
          if (!broker.exit && m.type === 'alert' && m.alert.headline === `${tag} 5`) broker.proc.kill('SIGKILL');
        });
      }
      for (let i = 1; i <= 10; i++) {
        ctl.send({ type: 'publish', ref: `run-${i}`, headline: `${tag} ${i}`, severity: 'minor', targets: everySite() });
      }
      await broker.exited;
      await killBroker(broker);
    } finally {
      await batches.release();
    }
    const had = sessions.map((s) => alertFrames(s).filter((m) => m.alert.headline.startsWith(tag)).length);
    console.log(`# alerts of the run each session had when the broker died: ${Math.min(...had)} to ${Math.max(...had)}`);
    const ids = (await st.query(`SELECT id FROM alerts WHERE headline LIKE $1 ORDER BY seq`, [`${tag} %`])).map((r) => r.id);
    assert.ok(ids.length >= 5, `the alerts stored before the kill: ${ids.length}`);
    await restartAndResume(broker);
    await recordsMatchWhatIsHeld(ids);
  });

  it('killed just after the batch was written: nothing recorded twice', async () => {
    const a = await publish(ctl, { headline: `After the batch ${Date.now()}`, severity: 'minor', targets: everySite() });
    await Promise.all(sessions.map((s) => s.next((m) => m.type === 'alert' && m.alert.id === a.alert_id, 30_000, 'the alert')));
    await waitFor(async () => (await st.one(`SELECT count(*)::int AS n FROM ${DELIVERIES} d WHERE d.alert_id = $1`, [a.alert_id])).n === sessions.length,
      { timeoutMs: 30_000, what: 'every delivery of the alert recorded' });
    const broker = st.broker;
    await killBroker(broker);
    await restartAndResume(broker);
    await recordsMatchWhatIsHeld([a.alert_id]);
    const [{ n }] = await st.query(`SELECT count(*)::int AS n FROM ${DELIVERIES} d WHERE d.alert_id = $1`, [a.alert_id]);
    assert.equal(n, sessions.length, 'one record per frame, none added at resume');
  });

  it('a console that started afresh claims nothing from before its start', async () => {
    // an alert no console of the site received (none connected), then a
    // console that starts afresh after it and resumes at once. The alert
    // is cancelled first: one still in force would reach the new console
    // at sign-in (docs/protocol.md, "Alerts in force"), a delivery of its own.
    const [c] = consoles;
    for (const s of sessions) if (s.c.site_id === c.site_id) s.close();
    const a = await publish(ctl, { headline: `While nobody was there ${Date.now()}`, severity: 'minor', targets: { sites: [c.site_id] } });
    await publish(ctl, { msg_type: 'cancel', references: a.alert_id });
    const token = files.forge(claimsFor({ id: c.user_id, username: c.username, role: 'site_console', org_id: c.guard_org_id, site_id: c.site_id, cleared_sensitive: c.cleared_sensitive }));
    const fresh = await st.connect(token, { label: 'fresh' });
    const cursor = cursorOf(fresh);
    assert.ok(cursor.seq >= a.seq);
    fresh.close();
    const again = await connectResume(st.broker, token, { ...cursor, since: fresh.welcome.stream.head }, { label: 'fresh-again' });
    st.sessions.push(again);
    await again.next('resume_done', 10_000);
    const b = await publish(ctl, { headline: `Later ${Date.now()}`, severity: 'minor', targets: { sites: [c.site_id] } });
    await again.next((m) => m.type === 'alert' && m.alert.id === b.alert_id, 10_000, 'a later alert');
    await waitFor(async () => (await st.query('SELECT 1 FROM delivered_sites WHERE alert_id = $1', [b.alert_id])).length === 1,
      { timeoutMs: 20_000, what: 'the later alert recorded' });
    assert.deepEqual(await st.query('SELECT 1 FROM delivered_sites WHERE alert_id = $1', [a.alert_id]), [],
      'the alert sent while nobody was there has no delivery');
  });

  it('stops cleanly (no sanitizer report)', async () => {
    await stopStack(st);
  });
});
