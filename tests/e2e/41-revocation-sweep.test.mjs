// The revocation sweep asks what changed, not about every session (issue
// 16, broker/session/revocation.c): an idle sweep sends PostgreSQL no
// per-session data, counted (not timed) by the calls of the functions it
// uses (pg_stat_user_functions, track_functions on for this database);
// a revoked token, a disabled account, and an account changed by hand in
// SQL still close their sessions within 5 s, and nobody else's.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, Broker, consoleDirectory, waitFor } from './lib/harness.mjs';
import { claimsFor } from './lib/faults.mjs';

describe('the incremental revocation sweep', { timeout: 180_000 }, () => {
  let st;
  let consoles;
  const sessions = new Map();   // username -> Session

  // Calls of the sweep's functions so far, as the statistics say.
  async function calls() {
    const rows = await st.query(`SELECT funcname, calls::int AS calls FROM pg_stat_user_functions
                                  WHERE funcname IN ('tocsin_account_changes', 'tocsin_token_check_batch',
                                                     'tocsin_revoked')`);
    const by = Object.fromEntries(rows.map((r) => [r.funcname, r.calls]));
    return { changes: by.tocsin_account_changes ?? 0, perSession: (by.tocsin_token_check_batch ?? 0) + (by.tocsin_revoked ?? 0) };
  }
  // Waits until the sweep has run `n` more times.
  async function sweeps(n, what) {
    const from = (await calls()).changes;
    return waitFor(async () => { const c = await calls(); return c.changes >= from + n ? c : null; },
      { timeoutMs: 30_000, intervalMs: 200, what });
  }

  before(async () => {
    st = await Stack.create({ label: import.meta.url, startBroker: false });
    await st.query(`ALTER DATABASE "${st.db.name}" SET track_functions = 'all'`);
    st.broker = new Broker({ label: st.label, databaseUrl: st.db.brokerUrl });
    await st.broker.start();
    consoles = (await consoleDirectory(st)).slice(0, 20);
    for (const c of consoles) {
      const token = st.forgeToken(claimsFor({ id: c.user_id, username: c.username, role: 'site_console',
        org_id: c.guard_org_id, site_id: c.site_id, cleared_sensitive: c.cleared_sensitive }));
      sessions.set(c.username, await st.connect(token, { label: c.username }));
    }
  });
  after(async () => { await st?.cleanup(); });

  it('an idle sweep sends no per-session data: after the new sessions\' one check, only "what changed since"', async () => {
    // the sweep after the hellos checks the new sessions once
    const settled = await sweeps(2, 'two sweeps after the sessions signed in');
    const idle = await sweeps(3, 'three idle sweeps');
    assert.equal(idle.perSession, settled.perSession,
      `no per-session check while nothing changed (${JSON.stringify({ settled, idle })})`);
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
    const before = await calls();
    await st.query(`SELECT tocsin_revoke_tokens($1)`, [consoles[0].username]);
    await closedWithin5s(consoles[0].username, 'tocsin_revoke_tokens');
    const after = await sweeps(2, 'two sweeps after the revocation');
    assert.ok(after.perSession - before.perSession <= 2, `per-session checks: ${JSON.stringify({ before, after })}`);
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
