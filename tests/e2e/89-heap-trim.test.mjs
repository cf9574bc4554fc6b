// Issue 22: after a wave of connections settles, the broker gives its
// heap's free pages back (base/heap_trim.c: a TLS handshake leaves holes
// in glibc's heap; make bench measured 33,765 -> 19,507 bytes per idle
// TLS connection at N = 2,000). This checks the behaviour, not a figure:
// a wave of 200 sign-ins then silence gives one trim, logged with what it
// gave back; no trim while nothing moves; a second wave within the gap
// waits for it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, consoleDirectory, waitFor, sleep } from './lib/harness.mjs';

const TRIMMED = /heap trimmed after connections settled at (\d+): (\d+) KiB given back in (\d+) ms/g;

describe('the heap is trimmed once a wave of connections has settled', { timeout: 120_000 }, () => {
  let st, dir;
  const trims = () => [...st.broker.stderr.matchAll(TRIMMED)].map((m) => ({ n: Number(m[1]), kib: Number(m[2]) }));

  before(async () => {
    st = await Stack.create({ label: import.meta.url, broker: { args: ['--log-level', 'info'] } });
    dir = await consoleDirectory(st);
  });
  after(async () => {
    await st?.cleanup();
  });

  it('a broker nobody connects to does not trim', async () => {
    await sleep(3500); // the trim's own quiet period (2 s) and a tick: the absence of an event
    assert.deepEqual(trims(), []);
  });

  it('200 consoles sign in, then nothing moves: a trim at the count it settled at; none within the gap', async () => {
    const users = dir.slice(0, 200).map((c) => c.username);
    const tokens = [];
    for (const u of users) tokens.push(await st.token(u)); // sign-ins are throttled: one at a time
    const sessions = await Promise.all(Array.from({ length: 200 }, (_, i) =>
      st.connect(tokens[i % tokens.length], { label: `wave-${i}` })));
    // On a very busy machine the wave may pause for 2 s and be trimmed
    // midway; the settled count is then trimmed after the 30 s gap.
    await waitFor(() => trims().some((t) => t.n === 200),
      { timeoutMs: 60000, intervalMs: 200, what: `a heap trim at 200 connections (so far ${JSON.stringify(trims())})` });
    const n = trims().length;
    for (const s of sessions) s.close();
    // the wave's end is a change too, but within the gap after that trim
    await sleep(3500);
    assert.equal(trims().length, n, JSON.stringify(trims()));
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await st.stop();
  });
});
