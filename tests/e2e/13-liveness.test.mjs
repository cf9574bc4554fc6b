// Never silent (7, 8): liveness. A peer that stops answering is dropped
// after 2 x --ping-interval + 5 s while an idle but healthy one stays; a
// console that stops reading is closed with 4409 (slow_consumer) once its
// bounded queue overflows, while another console of the same site keeps
// getting every alert.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, consoleDirectory, sleep, waitFor } from './lib/harness.mjs';
import { publish, health, alertFrames, duplicates, stopStack, logLines, waitClosed } from './lib/faults.mjs';

const PING = 2;                      // --ping-interval
const HANGUP_S = 2 * PING + 5;       // 9 s: the broker's hang-up time

describe('a dead peer is reaped (--ping-interval 2)', { timeout: 120_000 }, () => {
  let st, site;

  before(async () => {
    st = await Stack.create({ label: import.meta.url, broker: { args: ['--ping-interval', String(PING)] } });
    [site] = await consoleDirectory(st);
  });
  after(async () => { await st?.cleanup(); });

  it(`closes a signed-in peer that stops reading within ~${HANGUP_S + 3} s, and keeps an idle healthy one`, async () => {
    const healthy = await st.connectAs(site.username, { label: 'healthy' });
    const dead = await st.connectAs(site.username, { label: 'dead' });
    const base = (await health(st.broker)).body.connections;
    assert.equal(base, 2, 'two connections');

    // The dead peer: its socket is no longer read, so it never answers a ping.
    dead.ws._socket.pause();
    const t0 = Date.now();
    let samples = 0;
    await waitFor(async () => { samples++; return (await health(st.broker)).body.connections === base - 1; },
      { timeoutMs: (HANGUP_S + 6) * 1000, intervalMs: 250, what: 'the broker to drop the dead peer (healthz connections)' });
    const elapsed = (Date.now() - t0) / 1000;
    console.log(`# dead peer dropped after ${elapsed.toFixed(1)} s (${samples} samples)`);
    assert.ok(elapsed >= HANGUP_S - 3, `not dropped before ~${HANGUP_S} s of silence: ${elapsed} s`);
    assert.ok(elapsed <= HANGUP_S + 3, `dropped within ${HANGUP_S + 3} s: ${elapsed} s`);

    // The healthy peer has sent nothing since its hello either, but it
    // answers the broker's pings: it stays, and is served.
    assert.ok(healthy.isOpen, `the healthy idle peer is still connected: ${JSON.stringify(healthy.closeInfo)}`);
    const ctl = await st.connectAs('controller');
    const pub = await publish(ctl, { headline: `After the reap ${Date.now()}`, severity: 'minor', targets: { sites: [site.site_id] } });
    await healthy.next((m) => m.type === 'alert' && m.alert.id === pub.alert_id, 3000, 'an alert at the healthy peer');

    // The dead peer, reading again, finds its connection gone.
    dead.ws._socket.resume();
    const closed = await waitClosed(dead, 5000);
    console.log(`# the dead peer's connection ended with ${JSON.stringify(closed)}`);
    assert.ok(!dead.seen.some((m) => m.type === 'alert' && m.alert.id === pub.alert_id), 'nothing reached the dead peer after it was dropped');

    // Still silent (pongs aside) well past the hang-up time: still kept.
    const quiet = HANGUP_S * 1000 + 4000 - (Date.now() - t0);
    if (quiet > 0) await sleep(quiet);
    assert.ok(healthy.isOpen, `the healthy peer survives ${(HANGUP_S + 4)} s without sending a message: ${JSON.stringify(healthy.closeInfo)}`);
    await healthy.ping();
    assert.equal((await health(st.broker)).body.connections, 2, 'the healthy peer and the controller');
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await stopStack(st);
  });
});

describe('a stalled reader is closed with 4409; others keep flowing', { timeout: 240_000 }, () => {
  // The byte cap is what the slow console hits (an alert frame here is
  // 4.3 KB: about 15 fill 64 KiB). The frame cap applies to every session,
  // the controller too, whose window of 16 publishes brings back 16
  // published frames and their tallies (small): at 32 it overflowed on a
  // machine with both cores held by other processes (the flush lagged),
  // closing the controller instead.
  const MAX_MSGS = 256, MAX_BYTES = 65536;
  let st, site, other;

  before(async () => {
    st = await Stack.create({ label: `${import.meta.url}-slow`.replace('.test.mjs', ''),
      // The controller floods: lift the per-connection message rate for it.
      broker: { args: ['--queue-max-msgs', String(MAX_MSGS), '--queue-max-bytes', String(MAX_BYTES), '--rate-limit', '100000'] } });
    [site, other] = await consoleDirectory(st);
  });
  after(async () => { await st?.cleanup(); });

  it('closes the console that stops reading with 4409 slow_consumer; another console gets every alert', async () => {
    const ctl = await st.connectAs('controller');
    const slow = await st.connectAs(site.username, { label: 'slow' });
    const fast = await st.connectAs(site.username, { label: 'fast' });
    const fastOther = await st.connectAs(other.username, { label: 'fast-other-site' });
    slow.ws._socket.pause();

    const body = 'B'.repeat(3900);
    const confirmed = [];
    const MAX = 4000;
    const overflowed = () => /outbound queue full/.test(st.broker.stderr);
    let sent = 0;
    const t0 = Date.now();
    // Publish in windows of 16 until the broker closes the slow console
    // (its log says so), then 20 more; at most MAX.
    let extra = -1;
    while (sent < MAX && extra !== 0) {
      const n = Math.min(16, MAX - sent, extra > 0 ? extra : 16);
      const batch = [];
      for (let i = 0; i < n; i++, sent++) {
        batch.push(publish(ctl, { headline: `Flood ${sent}`, body, severity: 'minor',
          targets: { sites: sent % 10 === 0 ? [site.site_id, other.site_id] : [site.site_id] } }, 20000));
      }
      confirmed.push(...await Promise.all(batch));
      if (extra > 0) extra -= n;
      else if (extra < 0 && overflowed()) extra = 20;
    }
    const secs = (Date.now() - t0) / 1000;
    console.log(`# published ${confirmed.length} alerts (${(confirmed.length * 4.3 / 1024).toFixed(1)} MB of frames per console) in ${secs.toFixed(1)} s`);
    assert.ok(overflowed(), `the slow console's queue overflowed after ${confirmed.length} alerts: ${logLines(st.broker, /session/, 10)}`);
    const line = logLines(st.broker, /outbound queue full/);
    assert.equal(line.split('\n').length, 1, `only one session closed as too slow: ${line}`);
    assert.match(line, new RegExp(`session ${slow.welcome.session} \\(${site.username.replace('.', '\\.')}\\)`), 'the slow session is the one closed');

    // The fast console of the same site got every alert, once, in order, and is still open.
    await waitFor(() => alertFrames(fast).length >= confirmed.length, { timeoutMs: 30000,
      what: `all ${confirmed.length} alerts at the fast console (have ${alertFrames(fast).length})` });
    await sleep(200);
    const fa = alertFrames(fast);
    assert.deepEqual(duplicates(fa), []);
    assert.deepEqual(new Set(fa.map((m) => m.alert.id)), new Set(confirmed.map((p) => p.alert_id)), 'every alert at the fast console');
    assert.ok(fast.isOpen, `the fast console stays open: ${JSON.stringify(fast.closeInfo)}`);
    assert.ok(fa.every((m, i) => i === 0 || m.alert.seq > fa[i - 1].alert.seq), 'in order');
    const wantOther = confirmed.filter((_, i) => i % 10 === 0).map((p) => p.alert_id);
    await waitFor(() => alertFrames(fastOther).length >= wantOther.length, { timeoutMs: 10000, what: 'the other site\'s alerts' });
    assert.deepEqual(alertFrames(fastOther).map((m) => m.alert.id), wantOther);
    await fast.ping();

    // The slow console, reading again, gets what was already in the socket buffers, then the close 4409.
    slow.ws._socket.resume();
    const closed = await waitClosed(slow, 30000);
    assert.equal(closed.code, 4409, `close code: ${JSON.stringify(closed)}`);
    assert.equal(closed.reason, 'slow_consumer');
    const sa = alertFrames(slow);
    console.log(`# the slow console had ${sa.length} of ${confirmed.length} alerts before its close`);
    assert.ok(sa.length < confirmed.length, 'the slow console did not get everything');
    assert.deepEqual(duplicates(sa), []);
    assert.ok(sa.every((m, i) => i === 0 || m.alert.seq > sa[i - 1].alert.seq), 'what it got is in order (a resume continues from there)');
    const h = await health(st.broker);
    assert.equal(h.body.connections, 3, `the slow console is gone, the others stay: ${JSON.stringify(h.body)}`);
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await stopStack(st);
  });
});
