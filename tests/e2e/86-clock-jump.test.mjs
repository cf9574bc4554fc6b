// Issue 16 (8): timers on the monotonic clock. The broker's liveness sweep,
// hello deadline, per-connection message rate and stop deadline measure time
// on CLOCK_MONOTONIC (broker/base/clock.h), so a step of the wall clock (an
// NTP step, an operator's `date -s`) changes none of them. libfaketime moves
// the broker's wall clock while it runs (FakeClock, lib/faults.mjs); the
// pong's server_time shows that it did.
//
// Before: a jump forward of more than 2 x --ping-interval + 5 s dropped every
// console at the next liveness sweep; a jump back left every connection's
// message-rate bucket in debt for as long as the jump (every message dropped
// without a word), and hello deadlines and dead peers as late; a jump of an
// hour made the revocation sweep check every session again.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, consoleDirectory, openSocket, waitFor } from './lib/harness.mjs';
import { FakeClock, publish, stopStack, waitClosed, logLines } from './lib/faults.mjs';

const PING = 2;                    // --ping-interval: a sweep every 0.5 s
const HANGUP_S = 2 * PING + 5;     // a silent peer is dropped after 9 s
const AUTH_S = 3;                  // --auth-timeout
const JUMP_S = 300;                // 5 minutes

describe('the wall clock jumps while consoles are connected', { timeout: 180_000 }, () => {
  let clock, st, ctl, consoles, sessions;

  // The broker's wall clock less ours, in ms, from a fresh connection's pong
  // (a fresh one: its message rate owes nothing).
  const skew = async () => {
    const s = await st.connectAs('controller', { label: 'clock-reader' });
    try {
      const t0 = Date.now();
      const pong = await s.ping(5000);
      return Date.parse(pong.server_time) - (t0 + Date.now()) / 2;
    } finally {
      s.close();
    }
  };
  const brokerClockAt = (offsetS) => waitFor(async () => Math.abs(await skew() - offsetS * 1000) < 5000,
    { timeoutMs: 15000, intervalMs: 200, what: `the broker's wall clock ${offsetS} s from ours` });
  const everyoneGets = async (headline) => {
    const p = await publish(ctl, { headline, severity: 'minor', targets: { sites: consoles.map((c) => c.site_id) } });
    for (const s of sessions) await s.next((m) => m.type === 'alert' && m.alert.id === p.alert_id, 5000, headline);
  };
  const dropped = () => logLines(st.broker, /no answer for|auth_timeout/);
  const watchPings = (s) => {
    s.pings = 0;
    s.ws.on('ping', () => { s.pings++; });
    return s;
  };
  // Each test on its own: what an earlier one lost is connected again.
  const reconnectClosed = async () => {
    if (!ctl.isOpen) ctl = watchPings(await st.connectAs('controller'));
    for (let i = 0; i < sessions.length; i++) {
      if (!sessions[i].isOpen) sessions[i] = watchPings(await st.connectAs(consoles[i].username));
    }
  };

  before(async () => {
    clock = new FakeClock();
    // debug: the revocation sweep logs each round (revocation.c)
    st = await Stack.create({ label: import.meta.url, broker: { args: ['--ping-interval', String(PING), '--log-level', 'debug'],
      authTimeout: AUTH_S, env: clock.env() } });
    consoles = (await consoleDirectory(st)).slice(0, 3);
    ctl = watchPings(await st.connectAs('controller'));
    sessions = [];
    for (const c of consoles) sessions.push(watchPings(await st.connectAs(c.username)));
  });
  after(async () => {
    await st?.cleanup();
    clock?.remove();
  });

  it('libfaketime moves the broker\'s wall clock (the pong\'s server_time)', async () => {
    await brokerClockAt(0);
    clock.set(60);
    await brokerClockAt(60);
    clock.set(0);
    await brokerClockAt(0);
  });

  it(`${JUMP_S} s forward: the consoles stay connected, are pinged as before, and get alerts`, async () => {
    await everyoneGets(`Before the jump ${Date.now()}`);
    clock.set(JUMP_S);
    await brokerClockAt(JUMP_S);
    // Every connection is pinged once silent for an interval: a sweep has
    // looked at each of them since the jump (on the wall clock, that sweep
    // found them silent for 300 s and dropped them all).
    const mark = new Map([ctl, ...sessions].map((s) => [s, s.pings]));
    await waitFor(() => [ctl, ...sessions].every((s) => s.pings > mark.get(s) || !s.isOpen),
      { timeoutMs: 15000, intervalMs: 100, what: 'a ping to every connection after the jump' });
    for (const s of [ctl, ...sessions]) assert.ok(s.isOpen, `${s.label} still connected: ${JSON.stringify(s.closeInfo)}`);
    await everyoneGets(`After the jump forward ${Date.now()}`);
    assert.equal(dropped(), '', 'nobody dropped');
  });

  it(`${JUMP_S} s back: messages are answered, a hello deadline and a dead peer keep their time`, async () => {
    await reconnectClosed();
    clock.set(0);
    await brokerClockAt(0);
    // Each connection's message rate: answered at once.
    for (const s of [ctl, ...sessions]) await s.ping(5000);
    await everyoneGets(`After the jump back ${Date.now()}`);

    // A connection that sends no hello is closed at --auth-timeout.
    const t0 = Date.now();
    const silent = await openSocket(st.broker, { label: 'no-hello' });
    st.sessions.push(silent);
    const closed = await waitClosed(silent, (AUTH_S + 5) * 1000);
    assert.equal(closed.code, 4401, JSON.stringify(closed));
    const tookS = (Date.now() - t0) / 1000;
    assert.ok(tookS >= AUTH_S - 1, `closed after ${tookS} s, not before --auth-timeout ${AUTH_S} s`);

    // A peer that stops reading is dropped after 2 x --ping-interval + 5 s.
    const dead = sessions.pop();
    dead.ws._socket.pause();
    const t1 = Date.now();
    await waitFor(() => logLines(st.broker, /no answer for/), { timeoutMs: (HANGUP_S + 10) * 1000, intervalMs: 200,
      what: 'the broker to drop the peer that stopped reading' });
    const afterS = (Date.now() - t1) / 1000;
    assert.ok(afterS >= HANGUP_S - 3, `dropped after ${afterS} s of silence, not before ~${HANGUP_S} s`);
    dead.ws._socket.resume();
    consoles.pop();
    await everyoneGets(`After the dead peer ${Date.now()}`);
    for (const s of [ctl, ...sessions]) assert.ok(s.isOpen, `${s.label} still connected: ${JSON.stringify(s.closeInfo)}`);
  });

  // The revocation sweep checks every session again after an hour without
  // a sweep; a step of the wall clock is not an hour without one.
  it('2 hours forward: the revocation sweep goes on as before, not checking every session again', async () => {
    await reconnectClosed();
    const sweeps = () => st.broker.stderr.match(/revocation sweep: .*/g) ?? [];
    clock.set(7200);
    await brokerClockAt(7200);
    const mark = sweeps().length;
    await waitFor(() => sweeps().length >= mark + 2, { timeoutMs: 15000, intervalMs: 200, what: 'two revocation sweeps after the jump' });
    assert.deepEqual(sweeps().slice(mark).filter((l) => l.endsWith('(all)')), [], 'no sweep of every session');
    await everyoneGets(`Two hours on ${Date.now()}`);
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await stopStack(st);
  });
});
