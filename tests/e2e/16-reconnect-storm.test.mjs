// Never silent (11): a reconnect storm. 1,020 console connections (the 34
// demo site consoles, 30 connections each; TOCSIN_STORM_PER_CONSOLE changes
// the 30) are connected, dropped, alerts are published while they are away,
// and all of them reconnect at once with resume: every connection gets every
// alert for its site exactly once, in order, within a bounded time, and live
// alerts flow to all of them afterwards.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, waitFor, sleep } from './lib/harness.mjs';
import { publish, health, waitHealth, connect, connectResume, claimsFor, inBatches, duplicates, alertFrames, stopStack } from './lib/faults.mjs';

const PER_CONSOLE = Number(process.env.TOCSIN_STORM_PER_CONSOLE || 30);
const STORM_BOUND_MS = 60_000;

describe(`a reconnect storm of ${PER_CONSOLE} connections per site console`, { timeout: 300_000 }, () => {
  let st, ctl, users, orgs, conns, sessions, epoch;

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    users = await st.query(`SELECT u.id, u.username, u.role, u.org_id, u.site_id, u.cleared_sensitive, s.guard_org_id
                              FROM users u JOIN sites s ON s.id = u.site_id
                             WHERE u.role = 'site_console' AND NOT u.disabled ORDER BY u.id`);
    assert.equal(users.length, 34, 'the demo data has 34 site consoles');
    orgs = [...new Set(users.map((u) => u.guard_org_id))].sort((a, b) => a - b);
    ctl = await st.connectAs('controller');
    // One token per console user, shared by its connections.
    for (const u of users) u.token = st.forgeToken(claimsFor(u, 3600));
    conns = users.flatMap((u) => Array.from({ length: PER_CONSOLE }, (_, k) => ({ user: u, k })));
    assert.ok(conns.length >= 1000 || PER_CONSOLE !== 30, `at least 1,000 connections (${conns.length})`);
  });
  after(async () => {
    for (const c of conns || []) c.session?.terminate();
    await st?.cleanup();
  });

  it(`connects ${34 * PER_CONSOLE} consoles, and every one gets a live alert`, async () => {
    const t0 = Date.now();
    await inBatches(conns.length, 100, async (i) => {
      const c = conns[i];
      c.session = await connect(st.broker, c.user.token, { label: `${c.user.username}#${c.k}`, timeoutMs: 30000 });
      return c.session;
    });
    console.log(`# ${conns.length} connections signed in in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const epochs = new Set(conns.map((c) => c.session.welcome.stream.epoch));
    assert.equal(epochs.size, 1);
    [epoch] = epochs;
    const h = await health(st.broker);
    assert.equal(h.body.connections, conns.length + 1, JSON.stringify(h.body));

    const live = await publish(ctl, { headline: `Everyone ${Date.now()}`, severity: 'minor', targets: { orgs } });
    assert.equal(live.recipients, 34);
    await Promise.all(conns.map((c) => c.session.next((m) => m.type === 'alert' && m.alert.id === live.alert_id, 20000, 'the live alert')));
    for (const c of conns) c.cursor = { epoch, seq: live.seq };
  });

  let missed;   // [{ pub, sites: Set }]
  it('drops them all, and publishes while they are away', async () => {
    assert.ok(conns[0].cursor, 'the connect test ran');
    // Half close properly, half vanish (as a network drop would).
    conns.forEach((c, i) => (i % 2 ? c.session.close() : c.session.terminate()));
    await waitHealth(st.broker, (b) => b.connections === 1, { timeoutMs: 30000, what: 'every console connection gone' });
    for (const c of conns) c.old = c.session;

    const siteIds = [...new Set(users.map((u) => u.site_id))].sort((a, b) => a - b);
    const sitesOf = (org) => new Set(users.filter((u) => u.guard_org_id === org).map((u) => u.site_id));
    const plan = [
      { targets: { orgs }, sites: new Set(siteIds), severity: 'moderate' },
      { targets: { orgs: [orgs[1]] }, sites: sitesOf(orgs[1]), severity: 'minor' },
      { targets: { sites: siteIds.slice(0, 3) }, sites: new Set(siteIds.slice(0, 3)), severity: 'moderate' },
      { targets: { orgs: [orgs[2]], sites: [siteIds[0]] }, sites: new Set([...sitesOf(orgs[2]), siteIds[0]]), severity: 'minor' },
      { targets: { orgs }, sites: new Set(siteIds), severity: 'minor' },
    ];
    missed = [];
    for (const [i, p] of plan.entries()) {
      const pub = await publish(ctl, { headline: `While away ${i} ${Date.now()}`, severity: p.severity, targets: p.targets });
      assert.equal(pub.recipients, p.sites.size);
      missed.push({ pub, sites: p.sites });
    }
  });

  it(`all reconnect at once with resume: each gets exactly the alerts for its site it missed, within ${STORM_BOUND_MS / 1000} s`, async () => {
    assert.ok(missed, 'the previous test ran');
    const t0 = Date.now();
    // Every connection at once, no batching.
    const results = await Promise.allSettled(conns.map(async (c) => {
      c.session = await connectResume(st.broker, c.user.token, c.cursor, { label: `${c.user.username}#${c.k}-resumed`, timeoutMs: STORM_BOUND_MS });
      c.done = await c.session.next('resume_done', STORM_BOUND_MS);
      return c;
    }));
    const elapsed = Date.now() - t0;
    const failed = results.filter((r) => r.status === 'rejected');
    assert.deepEqual(failed.slice(0, 5).map((r) => r.reason.message), [], `${failed.length} of ${conns.length} reconnects failed`);
    console.log(`# ${conns.length} connections resumed in ${(elapsed / 1000).toFixed(1)} s`);
    assert.ok(elapsed <= STORM_BOUND_MS, `the storm is absorbed within ${STORM_BOUND_MS} ms: ${elapsed} ms`);

    const wrong = [];
    for (const c of conns) {
      const s = c.session;
      const want = missed.filter((m) => m.sites.has(c.user.site_id)).map((m) => m.pub.alert_id);
      const replays = s.seen.slice(0, s.seen.indexOf(c.done)).filter((m) => m.type === 'alert');
      const got = replays.map((m) => m.alert.id);
      const ok = s.welcome.resume.status === 'ok' && s.welcome.resume.count === want.length && c.done.count === want.length &&
        JSON.stringify(got) === JSON.stringify(want) && replays.every((m) => m.replay === true);
      if (!ok) wrong.push({ conn: s.label, resume: s.welcome.resume, done: c.done, want, got });
    }
    assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} connections did not get exactly their missed alerts`);
    const h = await health(st.broker);
    assert.equal(h.body.connections, conns.length + 1, JSON.stringify(h.body));
  });

  it('then every connection gets a live alert exactly once, and the deliveries are audited', async () => {
    assert.ok(conns.every((c) => c.done), 'the storm test ran');
    const live = await publish(ctl, { headline: `After the storm ${Date.now()}`, severity: 'minor', targets: { orgs } });
    await Promise.all(conns.map((c) => c.session.next((m) => m.type === 'alert' && m.alert.id === live.alert_id, 20000, 'the live alert after the storm')));
    await sleep(300);
    const dup = conns.filter((c) => duplicates(alertFrames(c.session)).length > 0);
    assert.deepEqual(dup.slice(0, 3).map((c) => `${c.session.label}: ${JSON.stringify(duplicates(alertFrames(c.session)))}`), [],
      `${dup.length} connections got an alert twice`);
    // Every replayed and live delivery is recorded, one per connection, in
    // deliver audit rows that each cover a batch of recipients
    // (sql/functions/delivery.sql).
    const first = missed[0].pub.alert_id;
    const audited = async (id) => (await st.one(`SELECT coalesce(sum((detail->>'count')::int), 0)::int AS n, count(*)::int AS rows
                                                   FROM audit WHERE action = 'deliver' AND alert_id = $1`, [id]));
    for (const id of [first, live.alert_id]) {
      await waitFor(async () => (await audited(id)).n === conns.length,
        { timeoutMs: 20000, what: `${conns.length} deliveries in the deliver audit rows of alert ${id}` });
    }
    for (const id of [first, live.alert_id]) {
      const a = await audited(id);
      assert.equal(a.n, conns.length, 'no more than one per connection');
      // the live alert went out at once: a few batches, not a row per delivery
      if (id === live.alert_id) assert.ok(a.rows < conns.length / 10, `compacted: ${a.rows} deliver rows for ${conns.length} deliveries`);
      const d = await st.one('SELECT COALESCE(sum(n), 0)::int AS n FROM delivery_batches WHERE alert_id = $1', [id]);
      assert.equal(d.n, conns.length, 'the delivery batches hold one delivery per connection');
    }
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    for (const c of conns) c.session?.close();
    await sleep(500);
    await stopStack(st, 30000);
  });
});
