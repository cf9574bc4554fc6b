// Issue #6 (fast): the broker writes a fan-out in slices of 1,024 sessions,
// one slice per pass of its loop (broker/ws_session.c sessions_flush), and
// a session written in one slice is listed again when more frames come for
// it. A fan-out to more sessions than two slices, then three more alerts
// sent at once (queued while the first ones are being written), must reach
// every session once each, in order. (That the loop does not sleep while
// sessions wait is not shown here: lws wakes this loop often enough that
// a sleeping one also passed. bench/README.md has the effect on latency.)
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, consoleDirectory, openSocket } from './lib/harness.mjs';
import { publish, claimsFor, stopStack } from './lib/faults.mjs';

const SESSIONS = 2600;   // more than two slices

describe('a fan-out larger than one slice of writes', { timeout: 240_000 }, () => {
  let st, ctl, socks, consoles;

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    consoles = await consoleDirectory(st);
    ctl = await st.connectAs('controller');
    socks = [];
    for (let i = 0; i < SESSIONS; i += 200) {
      const batch = [];
      for (let k = i; k < Math.min(SESSIONS, i + 200); k++) {
        const c = consoles[k % consoles.length];
        batch.push((async () => {
          const s = await openSocket(st.broker, { label: `${c.username}#${k}`, timeoutMs: 30000 });
          s.send({ type: 'hello', token: st.forgeToken(claimsFor({ id: c.user_id, username: c.username, role: 'site_console', org_id: c.guard_org_id, site_id: c.site_id, cleared_sensitive: c.cleared_sensitive })) });
          await s.next('welcome', 30000);
          return s;
        })());
      }
      socks.push(...await Promise.all(batch));
    }
  });
  after(async () => {
    for (const s of socks ?? []) s.terminate?.();
    await st?.cleanup();
  });

  it(`one alert reaches all ${SESSIONS} sessions, and the next three, sent at once, each reach them once and in order`, async () => {
    const orgs = [...new Set(consoles.map((c) => c.guard_org_id))];
    const first = await publish(ctl, { headline: `Slices ${Date.now()}`, severity: 'minor', targets: { orgs } });
    await Promise.all(socks.map((s) => s.next((m) => m.type === 'alert' && m.alert.id === first.alert_id, 20000, 'the first alert')));
    const refs = [1, 2, 3].map((i) => ({ type: 'publish', ref: `slices-${i}`, headline: `Slices ${i} ${Date.now()}`, severity: 'minor', targets: { orgs } }));
    for (const f of refs) ctl.send(f);
    const replies = [];
    for (const f of refs) replies.push(await ctl.next((m) => m.ref === f.ref, 20000, f.ref));
    assert.deepEqual(replies.map((m) => m.type), ['published', 'published', 'published']);
    const ids = replies.map((m) => m.alert_id);
    const wrong = [];
    await Promise.all(socks.map(async (s) => {
      await s.next((m) => m.type === 'alert' && m.alert.id === ids[2], 20000, 'the last alert');
      const got = s.seen.filter((m) => m.type === 'alert').map((m) => m.alert.id);
      if (JSON.stringify(got) !== JSON.stringify([first.alert_id, ...ids])) wrong.push({ s: s.label, got });
    }));
    assert.deepEqual(wrong.slice(0, 3), [], `${wrong.length} sessions did not get the four alerts once each, in order`);
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    for (const s of socks) s.close();
    socks = [];
    await stopStack(st);
  });
});
