// The revocation sweep asks what changed, not about every session (issue
// 16, broker/session/revocation.c): an idle sweep sends PostgreSQL no
// per-session data, counted (not timed) from the broker's debug line for
// each sweep (how many accounts changed, how many sessions it checked);
// a revoked token, a disabled account, and an account changed by hand in
// SQL still close their sessions within 5 s, and nobody else's.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, consoleDirectory, waitFor } from './lib/harness.mjs';
import { claimsFor } from './lib/faults.mjs';

const SWEEP = /revocation sweep: (\d+) accounts changed, (\d+) sessions checked/g;

describe('the incremental revocation sweep', { timeout: 180_000 }, () => {
  let st;
  let consoles;
  const sessions = new Map();   // username -> Session

  // The sweeps so far: [{ changed, checked }], from the broker's output.
  const sweepsSoFar = () => [...st.broker.stderr.matchAll(SWEEP)].map((m) => ({ changed: Number(m[1]), checked: Number(m[2]) }));

  before(async () => {
    st = await Stack.create({ label: import.meta.url, broker: { args: ['--log-level', 'debug'] } });
    consoles = (await consoleDirectory(st)).slice(0, 20);
    for (const c of consoles) {
      const token = st.forgeToken(claimsFor({ id: c.user_id, username: c.username, role: 'site_console',
        org_id: c.guard_org_id, site_id: c.site_id, cleared_sensitive: c.cleared_sensitive }));
      sessions.set(c.username, await st.connect(token, { label: c.username }));
    }
  });
  after(async () => { await st?.cleanup(); });

  it('an idle sweep checks no session: after the new sessions\' one check, only "what changed since"', async () => {
    // every sweep since the start: each new session is checked once (by the
    // first sweep, which checks all, or as new), then three idle ones
    const seen = await waitFor(() => {
      const after = sweepsSoFar();
      const firstIdle = after.findIndex((x) => x.checked === 0);
      return firstIdle >= 0 && after.length - firstIdle >= 3 ? after : null;
    }, { timeoutMs: 30_000, intervalMs: 200, what: 'three idle sweeps after the sessions signed in' });
    const checkedAll = seen.reduce((n, x) => n + x.checked, 0);
    assert.equal(checkedAll, consoles.length, `the 20 new sessions checked once, then none: ${JSON.stringify(seen)}`);
    const firstIdle = seen.findIndex((x) => x.checked === 0);
    assert.deepEqual(seen.slice(firstIdle).filter((x) => x.checked || x.changed), [], JSON.stringify(seen));
    for (const s of sessions.values()) assert.ok(s.isOpen, `${s.label} still open`);
  });

  async function closedWithin5s(username, why) {
    const s = sessions.get(username);
    const t0 = Date.now();
    const err = await s.next((m) => m.type === 'error', 8000, `auth_revoked for ${username} (${why})`);
    assert.equal(err.code, 'auth_revoked', JSON.stringify(err));
    const closed = await s.waitClosed(8000);
    assert.equal(closed.code, 4401);
    assert.ok(Date.now() - t0 < 5000 + 1000, `${why}: closed ${Date.now() - t0} ms after`);
    return err;
  }

  it('a revoked token is closed within 5 s, with one check of that account\'s sessions only', async () => {
    const from = sweepsSoFar().length;
    await st.query(`SELECT tocsin_revoke_tokens($1)`, [consoles[0].username]);
    await closedWithin5s(consoles[0].username, 'tocsin_revoke_tokens');
    const seen = sweepsSoFar().slice(from);
    assert.equal(seen.reduce((n, x) => n + x.checked, 0), 1, `one session checked: ${JSON.stringify(seen)}`);
    for (const c of consoles.slice(1)) assert.ok(sessions.get(c.username).isOpen, `${c.username} still open`);
  });

  it('a disabled account, and an account changed by hand in SQL, are closed within 5 s', async () => {
    await st.query(`UPDATE users SET disabled = true WHERE id = $1`, [consoles[1].user_id]);
    await closedWithin5s(consoles[1].username, 'disabled');
    await st.query(`UPDATE users SET cleared_sensitive = NOT cleared_sensitive WHERE id = $1`, [consoles[2].user_id]);
    const err = await closedWithin5s(consoles[2].username, 'clearance changed by hand');
    assert.match(err.message, /changed/);
    for (const c of consoles.slice(3)) assert.ok(sessions.get(c.username).isOpen, `${c.username} still open`);
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await st.stop();
  });
});
