// Sign-in over HTTP and authentication of WebSocket sessions.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Stack, RFC3339_MS, decodeToken, openSocket, signToken, b64url, waitFor, userByName,
} from './lib/harness.mjs';

// Expect an error frame with `code`, then a close with `closeCode`.
async function expectErrorAndClose(s, code, closeCode, timeoutMs = 3000) {
  const err = await s.next((m) => m.type === 'error', timeoutMs, `error ${code}`);
  assert.equal(err.code, code, `error frame: ${JSON.stringify(err)}`);
  assert.equal(typeof err.message, 'string');
  const closed = await s.waitClosed(timeoutMs);
  assert.equal(closed.code, closeCode, `close: ${JSON.stringify(closed)}`);
  return { err, closed };
}

describe('sign-in and session authentication', { timeout: 180_000 }, () => {
  let st;
  let ctl;        // the controller's sign-in answer
  let ctlUser;    // the controller's users row
  const started = new Date();

  before(async () => {
    st = await Stack.create({ label: import.meta.url, authTimeout: 1 });
    ctlUser = await userByName(st, 'controller');
  });
  after(async () => { await st?.cleanup(); });

  it('signs in with good credentials', async () => {
    const r = await st.http('POST', '/api/login', { body: { username: 'controller', password: 'controller-demo' } });
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers['content-type'] ?? '', /application\/json/);
    const { token, expires_at: expiresAt, user } = r.json;
    assert.match(token, /^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    assert.match(expiresAt, RFC3339_MS);
    assert.ok(Date.parse(expiresAt) > Date.now(), 'expires_at is in the future');
    assert.equal(user.id, ctlUser.id);
    assert.equal(user.username, 'controller');
    assert.equal(user.role, 'controller');
    assert.equal(user.org_id, ctlUser.org_id);
    assert.equal(user.org_name, ctlUser.org_name);
    assert.equal(user.display_name, ctlUser.display_name);
    assert.equal(user.site_id, null);
    const claims = decodeToken(token);
    assert.equal(claims.sub, ctlUser.id);
    assert.equal(claims.usr, 'controller');
    assert.equal(claims.role, 'controller');
    assert.equal(claims.org, ctlUser.org_id);
    assert.equal(claims.site, null);
    assert.ok(claims.exp > claims.iat);
    assert.equal(claims.exp, Math.floor(Date.parse(expiresAt) / 1000));
    // The tag is 32 bytes.
    assert.equal(Buffer.from(token.split('.')[2], 'base64url').length, 32);
    ctl = r.json;
  });

  it('a site console signs in with its site', async () => {
    const row = await st.one(`SELECT u.id, u.username, u.site_id, s.name AS site_name FROM users u
                                JOIN sites s ON s.id = u.site_id WHERE u.role = 'site_console'
                               ORDER BY u.id LIMIT 1`);
    const r = await st.http('POST', '/api/login', { body: { username: row.username, password: 'console-demo' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.user.role, 'site_console');
    assert.equal(r.json.user.site_id, row.site_id);
    assert.equal(r.json.user.site_name, row.site_name);
    assert.equal(decodeToken(r.json.token).site, row.site_id);
  });

  it('refuses a wrong password with 401 bad_credentials', async () => {
    const r = await st.http('POST', '/api/login', { body: { username: 'controller', password: 'not-the-password' } });
    assert.equal(r.status, 401, r.text);
    assert.equal(r.json?.error?.code, 'bad_credentials');
    assert.equal(r.json.token, undefined);
  });

  it('answers an unknown user exactly as a wrong password', async () => {
    const wrong = await st.http('POST', '/api/login', { body: { username: 'controller', password: 'nope-nope' } });
    const unknown = await st.http('POST', '/api/login', { body: { username: 'no.such.user', password: 'nope-nope' } });
    assert.equal(unknown.status, 401, unknown.text);
    assert.equal(unknown.json?.error?.code, 'bad_credentials');
    assert.deepEqual(unknown.json, wrong.json);
  });

  it('names a missing field with 400 missing_field', async () => {
    const r1 = await st.http('POST', '/api/login', { body: { username: 'controller' } });
    assert.equal(r1.status, 400, r1.text);
    assert.equal(r1.json?.error?.code, 'missing_field');
    assert.equal(r1.json.error.field, 'password');
    const r2 = await st.http('POST', '/api/login', { body: { password: 'controller-demo' } });
    assert.equal(r2.status, 400, r2.text);
    assert.equal(r2.json?.error?.code, 'missing_field');
    assert.equal(r2.json.error.field, 'username');
  });

  it('refuses a field of the wrong type with 400 bad_field', async () => {
    const r = await st.http('POST', '/api/login', { body: { username: 42, password: 'controller-demo' } });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json?.error?.code, 'bad_field');
    assert.equal(r.json.error.field, 'username');
  });

  it('refuses a body that is not JSON with 400 bad_json', async () => {
    const r = await st.http('POST', '/api/login', { body: '{"username": "controller", "password": ' });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json?.error?.code, 'bad_json');
  });

  it('refuses GET with 405', async () => {
    const r = await st.http('GET', '/api/login');
    assert.equal(r.status, 405, r.text);
    assert.equal(r.json?.error?.code, 'method_not_allowed');
  });

  it('refuses a body over 4 KiB with 413', async () => {
    const body = JSON.stringify({ username: 'controller', password: 'x'.repeat(5000) });
    const r = await st.http('POST', '/api/login', { body });
    assert.equal(r.status, 413, r.text);
    assert.equal(r.json?.error?.code, 'too_large');
  });

  it('audits sign-ins and failed sign-ins', async () => {
    const rows = await waitFor(async () => {
      const got = await st.query(
        `SELECT action, actor_username, actor_user_id, actor_role, detail FROM audit
          WHERE action IN ('signin', 'signin_failed') AND at >= $1 ORDER BY id`, [started]);
      const ok = got.some((a) => a.action === 'signin' && a.actor_username === 'controller');
      const bad = got.some((a) => a.action === 'signin_failed' && a.actor_username === 'controller');
      const unknown = got.some((a) => a.action === 'signin_failed' && a.actor_username === 'no.such.user');
      return ok && bad && unknown ? got : null;
    }, { timeoutMs: 5000, what: 'signin and signin_failed audit rows' });
    const ok = rows.find((a) => a.action === 'signin' && a.actor_username === 'controller');
    assert.equal(ok.actor_user_id, ctlUser.id);
    assert.equal(ok.actor_role, 'controller');
    const unknown = rows.find((a) => a.action === 'signin_failed' && a.actor_username === 'no.such.user');
    assert.equal(unknown.actor_user_id, null);
    // No password is ever written to the audit trail.
    assert.ok(!JSON.stringify(rows).includes('not-the-password'), 'a password reached the audit trail');
    const failedCtl = rows.filter((a) => a.action === 'signin_failed' && a.actor_username === 'controller');
    assert.ok(failedCtl.length >= 2, 'wrong-password attempts audited');
  });

  it('welcomes a session with a valid token', async () => {
    assert.ok(ctl, 'the good sign-in test ran first');
    const s = await st.openSocket({ label: 'hello-ok' });
    s.send({ type: 'hello', token: ctl.token });
    const w = await s.next('welcome', 3000);
    assert.equal(typeof w.session, 'number');
    assert.match(w.server_time, RFC3339_MS);
    assert.equal(w.user.id, ctlUser.id);
    assert.equal(w.user.username, 'controller');
    assert.equal(w.user.role, 'controller');
    assert.equal(w.user.org_id, ctlUser.org_id);
    assert.equal(w.user.site_id, null);
    const pong = await s.ping();
    assert.match(pong.server_time, RFC3339_MS);
    // A second hello is refused, and the session goes on.
    s.send({ type: 'hello', token: ctl.token, ref: 'again' });
    const again = await s.next((m) => m.ref === 'again', 3000);
    assert.equal(again.type, 'error');
    assert.equal(again.code, 'already_authenticated');
    await s.ping();
    s.close();
  });

  it('closes a session whose hello has no token: auth_missing, 4401', async () => {
    const s = await st.openSocket({ label: 'no-token' });
    s.send({ type: 'hello' });
    await expectErrorAndClose(s, 'auth_missing', 4401);
  });

  it('closes a session with a forged token: auth_invalid, 4401', async () => {
    const [v, payload, tag] = ctl.token.split('.');
    // Change the first character of the tag (the last one may only carry padding bits).
    const badTag = (tag[0] === 'A' ? 'B' : 'A') + tag.slice(1);
    const s1 = await st.openSocket({ label: 'bad-tag' });
    s1.send({ type: 'hello', token: `${v}.${payload}.${badTag}` });
    await expectErrorAndClose(s1, 'auth_invalid', 4401);

    // A payload changed to claim the admin role, with the original tag.
    const claims = decodeToken(ctl.token);
    const elevated = b64url(Buffer.from(JSON.stringify({ ...claims, role: 'admin' })));
    const s2 = await st.openSocket({ label: 'bad-payload' });
    s2.send({ type: 'hello', token: `${v}.${elevated}.${tag}` });
    await expectErrorAndClose(s2, 'auth_invalid', 4401);

    // Well-formed, signed with another key.
    const s3 = await st.openSocket({ label: 'other-key' });
    s3.send({ type: 'hello', token: signToken(Buffer.alloc(32, 7), claims) });
    await expectErrorAndClose(s3, 'auth_invalid', 4401);

    // Not a token at all.
    const s4 = await st.openSocket({ label: 'garbage' });
    s4.send({ type: 'hello', token: 'v1.garbage' });
    await expectErrorAndClose(s4, 'auth_invalid', 4401);
  });

  it('accepts a token forged with the real key (the forging helper is right)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { ...decodeToken(ctl.token), iat: now - 10, exp: now + 600 };
    const s = await st.openSocket({ label: 'forged-good' });
    s.send({ type: 'hello', token: st.forgeToken(claims) });
    const w = await s.next((m) => m.type === 'welcome' || m.type === 'error', 3000);
    assert.equal(w.type, 'welcome', JSON.stringify(w));
    assert.equal(w.user.id, ctlUser.id);
    s.close();
  });

  it('closes a session with an expired token: auth_expired, 4401', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { ...decodeToken(ctl.token), iat: now - 7200, exp: now - 3600 };
    const s = await st.openSocket({ label: 'expired' });
    s.send({ type: 'hello', token: st.forgeToken(claims) });
    await expectErrorAndClose(s, 'auth_expired', 4401);
  });

  it('closes a session that sends a request before hello: auth_required, 4401', async () => {
    const s = await st.openSocket({ label: 'no-hello' });
    s.send({ type: 'ping', ref: 'early' });
    const { err } = await expectErrorAndClose(s, 'auth_required', 4401);
    assert.equal(err.ref, 'early');
  });

  it('closes a session that never says hello: auth_timeout, 4401 (--auth-timeout 1)', async () => {
    const t0 = Date.now();
    const s = await st.openSocket({ label: 'silent' });
    await expectErrorAndClose(s, 'auth_timeout', 4401, 5000);
    const waited = Date.now() - t0;
    assert.ok(waited >= 800, `closed after ${waited} ms, before the 1 s auth timeout`);
  });

  it('refuses a client that does not offer the tocsin.v1 subprotocol', async () => {
    for (const protocols of [[], ['chat']]) {
      let session;
      await assert.rejects(async () => {
        session = await openSocket(st.broker, { protocols, label: `protocols=${JSON.stringify(protocols)}` });
      }, (err) => {
        // Refused at the upgrade: an HTTP error status, or the connection
        // dropped. A 101 naming a subprotocol the client did not offer means
        // the broker accepted it (ws then fails with "...subprotocol...").
        assert.ok(err instanceof Error);
        assert.ok(!/subprotocol/i.test(err.message), `the broker upgraded anyway: ${err.message}`);
        if (err.status !== undefined) assert.ok(err.status >= 400, `HTTP ${err.status}`);
        return true;
      }, `upgrade without tocsin.v1 (offered ${JSON.stringify(protocols)}) was accepted`);
      session?.terminate();
    }
    // The broker still serves.
    const s = await st.connect(ctl.token, { label: 'after-refusals' });
    await s.ping();
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await st.stop();
  });
});
