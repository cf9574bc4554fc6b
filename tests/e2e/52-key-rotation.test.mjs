// Token key rotation without dropping sessions (issue #5): `tocsinctl keys
// rotate` moves the signing key to FILE.prev and writes a new one; the
// running broker picks both up without a restart; live sessions stay,
// tokens of the previous key keep working until they expire, refresh and
// sign-in give tokens under the new key, and a token under neither key is
// refused. Also: expired, tampered and revoked tokens are refused at hello,
// a revoked one at once (not only by the revocation sweep).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ROOT, Stack, b64url, decodeToken, login, openSocket, signToken, waitFor,
} from './lib/harness.mjs';

const TOCSINCTL = path.join(ROOT, 'build/tocsinctl');

// Runs tocsinctl; resolves { code, stdout, stderr }.
function ctl(args, { env = {} } = {}) {
  return new Promise((resolve) => {
    execFile(TOCSINCTL, args, { timeout: 30000, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

// Whether token's tag is HMAC-SHA-512-256 of "v1.<payload>" under key.
function signedWith(token, key) {
  const at = token.lastIndexOf('.');
  const tag = createHmac('sha512', key).update(token.slice(0, at)).digest().subarray(0, 32);
  return b64url(tag) === token.slice(at + 1);
}

// hello with token on a fresh socket: resolves the first frame and, for
// an error, the close.
async function hello(st, token, label) {
  const s = await openSocket(st.broker, { label });
  st.sessions.push(s);
  s.send({ type: 'hello', token });
  const first = await s.next((m) => m.type === 'welcome' || m.type === 'error', 10000, `${label}: welcome or error`);
  if (first.type === 'welcome') return { first, session: s };
  const closed = await s.waitClosed(10000);
  return { first, closed, session: s };
}

async function expectRefused(st, token, code, label) {
  const r = await hello(st, token, label);
  assert.equal(r.first.type, 'error', `${label}: ${JSON.stringify(r.first)}`);
  assert.equal(r.first.code, code, `${label}: ${JSON.stringify(r.first)}`);
  assert.equal(r.closed.code, 4401, `${label}: close ${JSON.stringify(r.closed)}`);
  assert.equal(r.closed.reason, code);
  return r;
}

describe('token key rotation (tocsinctl keys rotate) with live sessions', { timeout: 240_000 }, () => {
  let st;
  let keyFile;
  let prevFile;
  let key0;
  let key1;
  let key2;
  let oldToken;
  let live;
  let liveConsole;
  let refreshed;

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    keyFile = st.broker.keyFile;
    prevFile = `${keyFile}.prev`;
    key0 = fs.readFileSync(keyFile);
    oldToken = (await login(st.broker, 'controller', 'controller-demo')).token;
    live = await st.connect(oldToken, { label: 'live-controller' });
    liveConsole = await st.connectAs('console.threadneedle');
  });
  after(async () => { await st?.cleanup(); });

  // Rotates, then waits until the broker says it reread the keys (the
  // check runs every 2 s; the machine is shared and slow).
  async function rotate() {
    const seen = (st.broker.stderr.match(/token keys reread/g) || []).length;
    const r = await ctl(['keys', 'rotate', '--token-key', keyFile]);
    assert.equal(r.code, 0, `keys rotate: ${r.stdout} ${r.stderr}`);
    assert.match(r.stdout, /signing key\s+[0-9a-f]{16}/);
    await waitFor(() => (st.broker.stderr.match(/token keys reread/g) || []).length > seen,
      { timeoutMs: 20000, intervalMs: 200, what: 'the broker to reread the token keys' });
    return r;
  }

  it('keys show prints fingerprints, never the key', async () => {
    const r = await ctl(['keys', 'show', '--token-key', keyFile, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.match(j.fingerprint, /^[0-9a-f]{16}$/);
    assert.equal(j.previous_fingerprint, null);
    assert.ok(!r.stdout.includes(key0.toString('hex')));
    assert.ok(!r.stdout.includes(key0.toString('base64')));
  });

  it('rotates: FILE.prev holds the old key, FILE a new one (0600); live sessions stay', async () => {
    await rotate();
    key1 = fs.readFileSync(keyFile);
    assert.equal(key1.length, 32);
    assert.ok(!key1.equals(key0), 'a new key');
    assert.ok(fs.readFileSync(prevFile).equals(key0), 'the old key moved to FILE.prev');
    assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
    assert.equal(fs.statSync(prevFile).mode & 0o777, 0o600);
    assert.ok(!fs.existsSync(`${keyFile}.tmp`) && !fs.existsSync(`${prevFile}.tmp`));
    await live.ping();
    await liveConsole.ping();
  });

  it('a token issued before the rotation still opens a session', async () => {
    assert.ok(signedWith(oldToken, key0));
    const r = await hello(st, oldToken, 'old-token-after-rotation');
    assert.equal(r.first.type, 'welcome', JSON.stringify(r.first));
    r.session.close();
  });

  it('the old token still works as a bearer token over HTTP; one under neither key does not', async () => {
    const get = (token) => st.http('GET', '/api/images/AAAAAAAAAAAAAAAAAAAAAA', { headers: { authorization: `Bearer ${token}` } });
    const ok = await get(oldToken);
    assert.notEqual(ok.status, 401, `old token over HTTP: ${ok.status} ${ok.text}`);
    assert.equal(ok.status, 404, ok.text);
    const bad = await get(signToken(randomBytes(32), decodeToken(oldToken)));
    assert.equal(bad.status, 401, bad.text);
    assert.equal(bad.json.error.code, 'auth_invalid');
  });

  it('refresh on the live session gives a token under the new key, which works for hello', async () => {
    const r = await live.request({ type: 'refresh' }, 10000);
    assert.equal(r.type, 'refreshed', JSON.stringify(r));
    refreshed = r.token;
    assert.ok(signedWith(refreshed, key1), 'signed with the new key');
    assert.ok(!signedWith(refreshed, key0));
    const h = await hello(st, refreshed, 'refreshed-token');
    assert.equal(h.first.type, 'welcome', JSON.stringify(h.first));
    h.session.close();
    await live.ping();
  });

  it('a fresh sign-in gives a token under the new key', async () => {
    const t = (await login(st.broker, 'analyst', 'analyst-demo')).token;
    assert.ok(signedWith(t, key1));
  });

  it('refuses a token under neither key, a tampered one and an expired one (auth_invalid / auth_expired, 4401)', async () => {
    const claims = decodeToken(oldToken);
    await expectRefused(st, signToken(randomBytes(32), claims), 'auth_invalid', 'stranger-key');
    // the payload of a genuine token changed under its tag (role raised)
    const [, , tag] = refreshed.split('.');
    const raised = b64url(Buffer.from(JSON.stringify({ ...decodeToken(refreshed), role: 'admin' })));
    await expectRefused(st, `v1.${raised}.${tag}`, 'auth_invalid', 'tampered');
    // expired, under the previous key and under the current one
    const past = Math.floor(Date.now() / 1000) - 60;
    await expectRefused(st, signToken(key0, { ...claims, iat: past - 60, exp: past }), 'auth_expired', 'expired-prev-key');
    await expectRefused(st, signToken(key1, { ...claims, iat: past - 60, exp: past }), 'auth_expired', 'expired-new-key');
  });

  it('a second rotation retires the first key: its tokens are refused, the next key\'s still work', async () => {
    await rotate();
    key2 = fs.readFileSync(keyFile);
    assert.ok(fs.readFileSync(prevFile).equals(key1));
    await expectRefused(st, oldToken, 'auth_invalid', 'first-key-token-after-second-rotation');
    const r = await hello(st, refreshed, 'second-key-token');
    assert.equal(r.first.type, 'welcome', JSON.stringify(r.first));
    r.session.close();
    // the session that signed in before both rotations is still here
    await live.ping();
    await liveConsole.ping();
    const again = await live.request({ type: 'refresh' }, 10000);
    assert.equal(again.type, 'refreshed');
    assert.ok(signedWith(again.token, key2));
  });

  it('a broken key file is refused by the broker, which keeps signing with the keys it has', async () => {
    const seen = (st.broker.stderr.match(/changed but cannot be used/g) || []).length;
    const tmp = `${keyFile}.bad`;
    fs.writeFileSync(tmp, 'short', { mode: 0o600 });
    fs.renameSync(tmp, keyFile);
    try {
      await waitFor(() => (st.broker.stderr.match(/changed but cannot be used/g) || []).length > seen,
        { timeoutMs: 20000, intervalMs: 200, what: 'the broker to refuse the broken key' });
      const t = (await login(st.broker, 'controller2', 'controller-demo')).token;
      assert.ok(signedWith(t, key2), 'still the last good key');
      await live.ping();
    } finally {
      fs.writeFileSync(tmp, key2, { mode: 0o600 });
      fs.renameSync(tmp, keyFile);
    }
  });

  it('tocsinctl keys: usage and missing-key errors have their exit codes', async () => {
    const missing = path.join(os.tmpdir(), `no-such-${randomBytes(4).toString('hex')}.key`);
    let r = await ctl(['keys', 'rotate', '--token-key', missing]);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /no token key at/);
    assert.ok(!fs.existsSync(missing) && !fs.existsSync(`${missing}.prev`));
    r = await ctl(['keys', 'rotate', '--bogus']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown argument '--bogus'/);
    r = await ctl(['keys', 'rotate', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /usage: tocsinctl keys rotate/);
    const bad = path.join(os.tmpdir(), `short-${randomBytes(4).toString('hex')}.key`);
    fs.writeFileSync(bad, 'x'.repeat(31));
    try {
      r = await ctl(['keys', 'rotate', '--token-key', bad]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /is not a 32-byte key/);
    } finally { fs.rmSync(bad, { force: true }); }
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await st.stop();
  });
});

describe('revocation at hello: refused at once, not after the sweep', { timeout: 120_000 }, () => {
  let st;
  before(async () => { st = await Stack.create({ label: `${import.meta.url}-hello` }); });
  after(async () => { await st?.cleanup(); });

  it('a revoked token gets auth_revoked, 4401, and never a welcome', async () => {
    const t = (await login(st.broker, 'op.citadel', 'operator-demo')).token;
    // the second of the bump itself counts as revoked (tocsin_token_floor,
    // sql/functions/tokens.sql): no sleep needed
    await st.query(`SELECT tocsin_revoke_tokens('op.citadel')`);
    const r = await expectRefused(st, t, 'auth_revoked', 'revoked-token');
    assert.match(r.first.message, /revoked/);
    assert.ok(!r.session.seen.some((m) => m.type === 'welcome'));
    // a fresh sign-in (iat at or after the floor) works
    const fresh = (await login(st.broker, 'op.citadel', 'operator-demo')).token;
    const ok = await hello(st, fresh, 'after-revocation');
    assert.equal(ok.first.type, 'welcome', JSON.stringify(ok.first));
    ok.session.close();
  });

  it('a disabled user\'s token gets auth_revoked at hello', async () => {
    const t = (await login(st.broker, 'op.bastion', 'operator-demo')).token;
    await st.query(`UPDATE users SET disabled = true WHERE username = 'op.bastion'`);
    try {
      const r = await expectRefused(st, t, 'auth_revoked', 'disabled-user');
      assert.match(r.first.message, /disabled/);
    } finally {
      await st.query(`UPDATE users SET disabled = false WHERE username = 'op.bastion'`);
    }
  });

  it('hello with a resume position still resumes after the revocation check (ref, epoch and seq kept)', async () => {
    const ctlr = await st.connectAs('controller');
    const site = (await st.one(`SELECT site_id FROM users WHERE username = 'console.threadneedle'`)).site_id;
    const pub = await ctlr.request({ type: 'publish', headline: 'rotation test', severity: 'minor', targets: { sites: [site] } }, 10000);
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    const { epoch } = await st.one('SELECT epoch::text AS epoch FROM stream_meta');
    const s = await openSocket(st.broker, { label: 'resume-after-check' });
    st.sessions.push(s);
    const t = (await login(st.broker, 'console.threadneedle', 'console-demo')).token;
    s.send({ type: 'hello', ref: 'resume-1', token: t, resume: { epoch, seq: 0 } });
    const w = await s.next((m) => m.type === 'welcome' || m.type === 'error', 10000, 'welcome');
    assert.equal(w.type, 'welcome', JSON.stringify(w));
    assert.equal(w.ref, 'resume-1');
    assert.equal(w.resume.status, 'ok', JSON.stringify(w));
    assert.equal(w.resume.from, 0);
    const done = await s.next((m) => m.type === 'resume_done', 10000, 'resume_done');
    assert.ok(done.count >= 1, JSON.stringify(done));
    assert.ok(s.seen.some((m) => m.type === 'alert' && m.replay === true && m.alert?.headline === 'rotation test'),
      s.describeSeen());
    s.close();
    ctlr.close();
  });

  it('a second hello while the first is checked is refused without closing', async () => {
    const t = (await login(st.broker, 'analyst', 'analyst-demo')).token;
    const s = await openSocket(st.broker, { label: 'double-hello' });
    st.sessions.push(s);
    s.send({ type: 'hello', token: t, ref: 'h1' });
    s.send({ type: 'hello', token: t, ref: 'h2' });
    const err = await s.next((m) => m.ref === 'h2', 10000, 'the second hello answered');
    assert.equal(err.type, 'error');
    assert.equal(err.code, 'already_authenticated');
    const w = await s.next((m) => m.type === 'welcome', 10000, 'welcome');
    assert.equal(w.ref, 'h1');
    await s.ping();
    s.close();
  });

  it('stops cleanly', async () => { await st.stop(); });
});

describe('tocsinctl keys init: the keys of a fresh install', { timeout: 120_000 }, () => {
  let dir;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tocsin-keys-init-')); });
  after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

  it('makes token, audit, bus and alert keys, group-readable by the broker\'s group, and refuses to overwrite them', async () => {
    const keys = path.join(dir, 'etc-tocsin');
    const group = process.getuid() === 0 ? 'tocsin' : sh('id', ['-gn']);
    let r = await ctl(['keys', 'init', '--dir', keys, '--group', group, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout)[0];
    const gid = Number(sh('getent', ['group', group]).split(':')[2]);
    for (const [name, mode, size] of [['token.key', 0o640, 32], ['audit.key', 0o640, 32],
      ['bus_server.key', 0o640, null], ['bus_server.key.pub', 0o644, null],
      ['alert_sign.key', 0o640, 32], ['alert_sign.key.pub', 0o644, null]]) {
      const s = fs.statSync(path.join(keys, name));
      assert.equal(s.mode & 0o777, mode, `${name} mode ${(s.mode & 0o777).toString(8)}`);
      assert.equal(s.gid, gid, `${name} group`);
      assert.equal(s.uid, process.getuid(), `${name} owner`);
      if (size) assert.equal(s.size, size, name);
    }
    assert.equal(fs.statSync(keys).mode & 0o777, 0o750);
    assert.equal(fs.statSync(keys).gid, gid);
    assert.match(fs.readFileSync(path.join(keys, 'bus_server.key'), 'utf8'), /^public \S{40}\nsecret \S{40}\n$/);
    assert.equal(fs.readFileSync(path.join(keys, 'bus_server.key.pub'), 'utf8'), `public ${out.bus_public_key}\n`);
    assert.notEqual(out.token_fingerprint, out.audit_fingerprint);
    // the alert key's public list names the key init made, and signs from now
    const pub = JSON.parse(fs.readFileSync(path.join(keys, 'alert_sign.key.pub'), 'utf8'));
    assert.deepEqual(pub.keys.map((k) => [k.key_id, k.valid_until]), [[out.alert_key_id, null]]);
    assert.doesNotMatch(r.stdout, /secret/);
    // the same fingerprint as keys show
    r = await ctl(['keys', 'show', '--token-key', path.join(keys, 'token.key'), '--json']);
    assert.equal(JSON.parse(r.stdout).fingerprint, out.token_fingerprint);

    const before = fs.readFileSync(path.join(keys, 'audit.key'));
    r = await ctl(['keys', 'init', '--dir', keys, '--group', group]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /token\.key exists/);
    assert.match(r.stderr, /nothing made \(--force replaces them\)/);
    assert.deepEqual(fs.readFileSync(path.join(keys, 'audit.key')), before, 'an existing key is kept');
    r = await ctl(['keys', 'init', '--dir', keys, '--group', group, '--force']);
    assert.equal(r.code, 0, r.stderr);
    assert.notDeepEqual(fs.readFileSync(path.join(keys, 'audit.key')), before);
    r = await ctl(['keys', 'init', '--dir', path.join(dir, 'other'), '--group', 'no-such-group-tocsin']);
    assert.equal(r.code, 4);
    assert.match(r.stderr, /no group no-such-group-tocsin/);
    assert.ok(!fs.existsSync(path.join(dir, 'other')));
  });
});

// A command's output, trimmed.
function sh(file, args) {
  return execFileSync(file, args, { encoding: 'utf8' }).trim();
}
