// Token lifecycle: refresh over the live connection, expiry of sessions,
// revocation (disabled users, tokens_valid_after) within 5 s, and the
// sign-in lockout per account and per address (docs/protocol.md,
// "Token lifecycle").
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  Stack, RFC3339_MS, decodeToken, login, httpRequest, newRef, openSocket, sleep, waitFor,
} from './lib/harness.mjs';

const TTL = 3; // --token-ttl of the first broker

// Expect an error frame with `code` (and ref, when given), then close `closeCode`.
async function expectErrorAndClose(s, code, closeCode, timeoutMs = 3000, ref) {
  const err = await s.next((m) => m.type === 'error', timeoutMs, `error ${code}`);
  assert.equal(err.code, code, `error frame: ${JSON.stringify(err)}`);
  if (ref !== undefined) assert.equal(err.ref, ref, `error frame: ${JSON.stringify(err)}`);
  assert.equal(typeof err.message, 'string');
  const closed = await s.waitClosed(timeoutMs);
  assert.equal(closed.code, closeCode, `close: ${JSON.stringify(closed)}`);
  assert.equal(closed.reason, code);
  return { err, closed };
}

async function refresh(s, timeoutMs = 3000) {
  return s.request({ type: 'refresh' }, timeoutMs);
}

describe('token refresh, expiry and revocation (--token-ttl 3)', { timeout: 180_000 }, () => {
  let st;

  before(async () => {
    st = await Stack.create({ label: import.meta.url, tokenTtl: TTL });
  });
  after(async () => { await st?.cleanup(); });

  // A fresh sign-in every time: tokens live 3 s here.
  const fresh = (username, password) => login(st.broker, username, password ?? {
    controller: 'controller-demo', controller2: 'controller-demo', analyst: 'analyst-demo',
    admin: 'admin-demo',
  }[username] ?? 'operator-demo');

  // The same claims with a long life: revocation must not race the 3 s TTL.
  const longLived = (token) => st.forgeToken({ ...decodeToken(token), exp: Math.floor(Date.now() / 1000) + 600 });

  it('refresh gives a new token for the same identity, with a later expiry, that works for hello', async () => {
    const first = await fresh('controller');
    const old = decodeToken(first.token);
    const s = await st.connect(first.token, { label: 'refresher' });
    await sleep(1100); // exp has one-second resolution
    const ref = newRef('refresh');
    s.send({ type: 'refresh', ref });
    const r = await s.next((m) => m.ref === ref, 3000, 'refreshed');
    assert.equal(r.type, 'refreshed', JSON.stringify(r));
    assert.match(r.token, /^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    assert.match(r.expires_at, RFC3339_MS);
    assert.notEqual(r.token, first.token);
    const claims = decodeToken(r.token);
    for (const k of ['sub', 'usr', 'role', 'org', 'site', 'clr']) {
      assert.deepEqual(claims[k], old[k], `claim ${k} kept`);
    }
    assert.ok(claims.exp > old.exp, `new exp ${claims.exp} after old ${old.exp}`);
    assert.ok(claims.iat >= old.iat + 1);
    assert.equal(claims.exp - claims.iat, TTL);
    assert.equal(claims.exp, Math.floor(Date.parse(r.expires_at) / 1000));
    await s.ping(); // the session goes on
    const s2 = await st.connect(r.token, { label: 'hello-with-refreshed' });
    assert.equal(s2.welcome.user.username, 'controller');
    s.close();
    s2.close();
  });

  it('closes a session whose token expires (auth_expired, 4401), not one that refreshes in time', async () => {
    const a = await fresh('analyst');
    const b = await fresh('analyst');
    const t0 = Date.now();
    const lazy = await st.connect(a.token, { label: 'no-refresh' });
    const keen = await st.connect(b.token, { label: 'refreshes' });
    const keenDone = (async () => {
      // Refresh each second, past the first token's expiry (2..3 s away).
      while (Date.now() - t0 < 5000) {
        await sleep(1000);
        const r = await refresh(keen);
        assert.equal(r.type, 'refreshed', JSON.stringify(r));
      }
    })();
    await expectErrorAndClose(lazy, 'auth_expired', 4401, 7000);
    const waited = Date.now() - t0;
    const expiresIn = Date.parse(a.expires_at) - t0;
    assert.ok(waited >= expiresIn - 200, `closed after ${waited} ms, before the expiry (${expiresIn} ms)`);
    assert.ok(waited <= expiresIn + 2500, `closed ${waited} ms in, token expired at ${expiresIn} ms`);
    await keenDone;
    assert.ok(Date.now() > Date.parse(b.expires_at) + 1500, 'the keen session outlived its first token');
    assert.ok(keen.isOpen, `closed: ${JSON.stringify(keen.closeInfo)}`);
    await keen.ping();
    keen.close();
  });

  it('refuses refresh once the user is disabled: auth_revoked, 4401', async () => {
    const t = await fresh('op.citadel');
    const s = await st.connect(t.token, { label: 'disabled-refresh' });
    try {
      await st.query(`UPDATE users SET disabled = true WHERE username = 'op.citadel'`);
      const ref = newRef('refresh');
      s.send({ type: 'refresh', ref });
      const { err } = await expectErrorAndClose(s, 'auth_revoked', 4401, 5000);
      // Normally the refresh's own answer; the periodic sweep may win the race.
      assert.ok(err.ref === ref || err.ref === '', JSON.stringify(err));
      const r = await httpRequest(st.broker, 'POST', '/api/login',
        { body: { username: 'op.citadel', password: 'operator-demo' } });
      assert.equal(r.status, 401, r.text);
    } finally {
      await st.query(`UPDATE users SET disabled = false WHERE username = 'op.citadel'`);
    }
  });

  it('disabling a user closes its live session with auth_revoked, 4401 within 5 s; others stay', async () => {
    const t = longLived((await fresh('op.bastion')).token);
    const other = longLived((await fresh('op.sentinel')).token);
    const s = await st.connect(t, { label: 'to-disable' });
    const bystander = await st.connect(other, { label: 'bystander' });
    let elapsed;
    try {
      const t0 = Date.now();
      await st.query(`UPDATE users SET disabled = true WHERE username = 'op.bastion'`);
      await expectErrorAndClose(s, 'auth_revoked', 4401, 6000);
      elapsed = Date.now() - t0;
      assert.ok(elapsed < 5000, `revocation took ${elapsed} ms`);
      const r = await refresh(bystander);
      assert.equal(r.type, 'refreshed', JSON.stringify(r));
      await bystander.ping();
    } finally {
      await st.query(`UPDATE users SET disabled = false WHERE username = 'op.bastion'`);
    }
    // Enabling the user again does not bring its old token back.
    const again = await openSocket(st.broker, { label: 'old-token-after-enable' });
    st.sessions.push(again);
    again.send({ type: 'hello', token: t });
    await expectErrorAndClose(again, 'auth_revoked', 4401, 6000);
    // A fresh sign-in works.
    const s2 = await st.connect((await fresh('op.bastion')).token, { label: 're-enabled' });
    await s2.ping();
    s2.close();
    bystander.close();
  });

  it('bumping tokens_valid_after closes existing sessions; a fresh sign-in works and keeps working', async () => {
    const t = longLived((await fresh('controller2')).token);
    const s1 = await st.connect(t, { label: 'bump-1' });
    const s2 = await st.connect(t, { label: 'bump-2' });
    const t0 = Date.now();
    await st.query(`SELECT tocsin_revoke_tokens('controller2')`);
    await Promise.all([
      expectErrorAndClose(s1, 'auth_revoked', 4401, 6000),
      expectErrorAndClose(s2, 'auth_revoked', 4401, 6000),
    ]);
    const elapsed = Date.now() - t0;
    assert.ok(elapsed < 5000, `revocation took ${elapsed} ms`);
    // Right after the bump (often the same second): the new token must not
    // count as issued before it.
    const n = await fresh('controller2');
    const s3 = await st.connect(n.token, { label: 'after-bump' });
    await sleep(1500);
    const r = await refresh(s3);
    assert.equal(r.type, 'refreshed', JSON.stringify(r));
    await sleep(1500); // at least one more revocation sweep
    await s3.ping();
    assert.ok(!s3.seen.some((m) => m.type === 'error'), s3.describeSeen());
    s3.close();
  });

  it('refresh before hello is refused like any request (auth_required, 4401)', async () => {
    const s = await st.openSocket({ label: 'refresh-first' });
    const ref = newRef('refresh');
    s.send({ type: 'refresh', ref });
    await expectErrorAndClose(s, 'auth_required', 4401, 3000, ref);
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await st.stop();
  });
});

describe('sign-in lockout (3 per account, 5 per address)', { timeout: 180_000 }, () => {
  let st;
  const started = new Date();
  const env = { TOCSIN_LOCKOUT_ACCOUNT: '3', TOCSIN_LOCKOUT_ADDRESS: '5', TOCSIN_LOCKOUT_MINUTES: '15' };

  before(async () => {
    Object.assign(process.env, env); // read by the broker once, at start
    try {
      st = await Stack.create({ label: `${import.meta.url}-lockout` });
    } finally {
      for (const k of Object.keys(env)) delete process.env[k];
    }
  });
  after(async () => { await st?.cleanup(); });

  const attempt = (username, password) =>
    httpRequest(st.broker, 'POST', '/api/login', { body: { username, password } });
  const forget = () => st.query('DELETE FROM signin_failures');

  function assertLocked(r) {
    assert.equal(r.status, 429, r.text);
    assert.equal(r.json?.error?.code, 'locked_out', r.text);
    assert.equal(typeof r.json.error.message, 'string');
    const ra = r.json.error.retry_after;
    assert.ok(Number.isInteger(ra) && ra > 0 && ra <= 15 * 60, `retry_after ${ra}`);
  }

  it('locks an account out after 3 wrong passwords, even for the right one, and audits it', async () => {
    await forget();
    for (let i = 0; i < 3; i++) {
      const r = await attempt('analyst', `wrong-${i}`);
      assert.equal(r.status, 401, `attempt ${i + 1}: ${r.text}`);
    }
    assertLocked(await attempt('analyst', 'analyst-demo'));
    assertLocked(await attempt('analyst', 'wrong-again'));
    // Another account from the same address is not locked (3 < 5).
    const ok = await attempt('controller', 'controller-demo');
    assert.equal(ok.status, 200, ok.text);
    const rows = await waitFor(async () => {
      const got = await st.query(
        `SELECT action, actor_username, remote_addr, detail FROM audit
          WHERE actor_username = 'analyst' AND action IN ('signin_failed', 'signin_locked', 'signin')
            AND at >= $1 ORDER BY id`, [started]);
      return got.filter((a) => a.action === 'signin_locked').length >= 2 ? got : null;
    }, { what: 'signin_locked audit rows' });
    assert.deepEqual(rows.map((a) => a.action),
      ['signin_failed', 'signin_failed', 'signin_failed', 'signin_locked', 'signin_locked']);
    const locked = rows.find((a) => a.action === 'signin_locked');
    assert.equal(locked.detail.scope, 'account_address');
    assert.ok(locked.detail.retry_after > 0);
    assert.equal(locked.remote_addr, '127.0.0.1');
    assert.ok(!JSON.stringify(rows).includes('analyst-demo'), 'a password reached the audit trail');
  });

  it('a successful sign-in clears the account counter', async () => {
    await forget();
    for (let i = 0; i < 2; i++) assert.equal((await attempt('admin', `bad-${i}`)).status, 401);
    assert.equal((await attempt('admin', 'admin-demo')).status, 200);
    // Without the reset, 2 + 2 failures would lock the account on the 4th.
    for (let i = 0; i < 2; i++) assert.equal((await attempt('admin', `bad-again-${i}`)).status, 401);
    assert.equal((await attempt('admin', 'admin-demo')).status, 200);
  });

  it('locks an address out after 5 failures across accounts', async () => {
    await forget();
    for (const u of ['op.citadel', 'op.bastion', 'op.sentinel', 'controller', 'no.such.user']) {
      const r = await attempt(u, 'not-the-password');
      assert.equal(r.status, 401, `${u}: ${r.text}`);
    }
    const r = await attempt('controller2', 'controller-demo');
    assertLocked(r);
    const row = await waitFor(() => st.query(
      `SELECT detail FROM audit WHERE action = 'signin_locked' AND actor_username = 'controller2'
          AND at >= $1`, [started]).then((x) => x[0]), { what: 'signin_locked for controller2' });
    assert.equal(row.detail.scope, 'address');
    // Cleared, the same sign-in works: the refusal was the lockout.
    await forget();
    assert.equal((await attempt('controller2', 'controller-demo')).status, 200);
  });

  // The lockout is per account and address together: a stranger who
  // guesses the controller's password from another address locks that
  // address out of the account, not the controller (it was 15 minutes for
  // everyone after 5 wrong passwords from anywhere).
  const from = (address, username, password) => new Promise((resolve, reject) => {
    const body = JSON.stringify({ username, password });
    const req = http.request({ host: '127.0.0.1', port: st.broker.port, method: 'POST', path: '/api/login',
      localAddress: address, agent: false,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => { let json; try { json = JSON.parse(text); } catch { /* not JSON */ } resolve({ status: res.statusCode, text, json }); });
    });
    req.on('error', reject);
    req.end(body);
  });

  it('a stranger\'s wrong passwords from another address do not lock the account\'s owner out', async () => {
    await forget();
    for (let i = 0; i < 3; i++) assert.equal((await from('127.0.0.2', 'controller', `guess-${i}`)).status, 401);
    const stranger = await from('127.0.0.2', 'controller', 'controller-demo');
    assertLocked(stranger);
    // the owner, from its own address: at most the account's short delay
    const ok = await waitFor(async () => {
      const r = await from('127.0.0.1', 'controller', 'controller-demo');
      if (r.status === 429) assert.ok(r.json.error.retry_after <= 60, r.text);
      return r.status === 200 ? r : null;
    }, { timeoutMs: 30_000, intervalMs: 250, what: 'the controller signed in from its own address' });
    assert.equal(ok.status, 200);
    // the stranger's address stays locked out of it
    assertLocked(await from('127.0.0.2', 'controller', 'controller-demo'));
  });

  it('a guesser from many addresses is slowed by a delay that grows with the account\'s failures', async () => {
    await forget();
    let host = 10;
    const next = () => `127.0.0.${host++}`;
    for (let i = 0; i < 3; i++) assert.equal((await from(next(), 'analyst', `guess-${i}`)).status, 401);
    const delays = [];
    for (let k = 0; k < 3; k++) {
      const r = await from(next(), 'analyst', `guess-more-${k}`);
      assertLocked(r);
      delays.push(r.json.error.retry_after);
      // once the delay has passed, one more guess is checked (and fails)
      await waitFor(async () => (await from(next(), 'analyst', `guess-after-${k}`)).status === 401,
        { timeoutMs: 30_000, intervalMs: 250, what: `a guess after delay ${k + 1}` });
    }
    assert.ok(delays[0] >= 1 && delays[1] > delays[0] && delays[2] > delays[1], `growing delays: ${delays}`);
    const rows = await st.query(`SELECT detail FROM audit WHERE action = 'signin_locked' AND actor_username = 'analyst'
                                  AND at >= $1 ORDER BY id DESC LIMIT 1`, [started]);
    assert.equal(rows[0]?.detail.scope, 'account', JSON.stringify(rows));
  });

  it('answers a locked-out sign-in fast (no password check)', async () => {
    await forget();
    const checks = [];
    for (let i = 0; i < 3; i++) {
      const t = Date.now();
      assert.equal((await attempt('op.sentinel', `bad-${i}`)).status, 401);
      checks.push(Date.now() - t);
    }
    const perCheck = checks.sort((x, y) => x - y)[1]; // median of the argon2 checks
    const times = [];
    for (let i = 0; i < 5; i++) {
      const t = Date.now();
      assertLocked(await attempt('op.sentinel', 'operator-demo'));
      times.push(Date.now() - t);
    }
    times.sort((x, y) => x - y);
    const median = times[2];
    // Well under a password check (argon2id), whatever this machine's speed.
    assert.ok(median < 200 && median < perCheck / 2,
      `locked-out median ${median} ms; a password check took ${perCheck} ms`);
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await st.stop();
  });
});

// A token is the broker's own, but the users row is the truth: a token
// whose role, organisation, site or clearance disagrees with the row (a
// row changed by hand in SQL, or a token signed with the broker's key by
// someone else) must not widen what the session sees. hello refuses it
// (auth_revoked, 4401), and directory answers from the row.
describe('the token\'s claims against the users row', { timeout: 180_000 }, () => {
  let st;
  let con, op;

  before(async () => {
    st = await Stack.create({ label: `${import.meta.url}-claims` });
    con = await st.one(`SELECT * FROM users WHERE username = 'console.threadneedle'`);
    op = await st.one(`SELECT * FROM users WHERE username = 'op.bastion'`);
  });
  after(async () => { await st?.cleanup(); });

  const claimsOf = (u, over = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return { sub: u.id, usr: u.username, role: u.role, org: u.org_id, site: u.site_id ?? null,
      clr: Boolean(u.cleared_sensitive), iat: now, exp: now + 600, ...over };
  };

  it('a token that matches its row is welcomed', async () => {
    const s = await st.connect(st.forgeToken(claimsOf(con)), { label: 'matching claims' });
    await s.ping();
    s.close();
  });

  for (const [what, over] of [
    ['a role', { role: 'controller', site: null }],
    ['an organisation', (u) => ({ org: u.org_id + 1 })],
    ['a site', { site: 12 }],
    ['a clearance', (u) => ({ clr: !u.cleared_sensitive })],
  ]) {
    it(`a token claiming ${what} its row does not have: auth_revoked, 4401, no welcome`, async () => {
      const token = st.forgeToken(claimsOf(con, typeof over === 'function' ? over(con) : over));
      const s = await st.openSocket({ label: `claims: ${what}` });
      s.send({ type: 'hello', token });
      await expectErrorAndClose(s, 'auth_revoked', 4401, 10000);
      assert.ok(!s.seen.some((m) => m.type === 'welcome'), s.describeSeen());
    });
  }

  // The row changes under a live session (by hand, so nothing revokes the
  // token): directory answers what the row allows, never what the token
  // says. The revocation sweep may close the session first: that widens
  // nothing either.
  it('directory answers from the users row, not from the token', async () => {
    const s = await st.connectAs('op.bastion', { label: 'operator demoted by hand' });
    await st.query(`UPDATE users SET role = 'site_console', site_id = 1,
                           org_id = (SELECT guard_org_id FROM sites WHERE id = 1) WHERE id = $1`, [op.id]);
    try {
      s.send({ type: 'directory', ref: 'dir-after' });
      const r = await s.next((m) => m.ref === 'dir-after' || m.code === 'auth_revoked', 10000, 'directory');
      if (r.type === 'directory') {
        assert.deepEqual(r.sites.map((x) => x.id), [1], `the row's one site, not Bastion's: ${JSON.stringify(r.sites.map((x) => x.id))}`);
        assert.ok(r.sites.every((x) => x.consoles_online === undefined), 'no company desk presence for a console');
      } else {
        assert.equal(r.code, 'auth_revoked', JSON.stringify(r));
      }
    } finally {
      await st.query(`UPDATE users SET role = $2, site_id = $3, org_id = $4 WHERE id = $1`,
        [op.id, op.role, op.site_id, op.org_id]);
    }
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await st.stop();
  });
});
