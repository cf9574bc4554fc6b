// The client's address behind a reverse proxy (issue 19, part 3): with
// trusted-proxies, the address a trusted peer's X-Forwarded-For (read
// right to left) or X-Real-IP names is the one the sign-in lockout, the
// per-address connection cap and the audit use; from any other peer those
// headers are the client's own word and are ignored. (The nginx of
// deploy/nginx in front of the broker, with a browser: 92-nginx.)
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import {
  Stack, Session, SUBPROTOCOL, consoleDirectory, demoPassword, newRef, waitFor,
} from './lib/harness.mjs';

// A tocsin.v1 session opened with extra request headers (as a proxy would
// send them), signed in with token; resolves the Session after welcome,
// or the Session closed or refused.
function connectWith(broker, token, headers, label) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(broker.wsUrl, [SUBPROTOCOL], { headers, handshakeTimeout: 10_000 });
    const s = new Session(ws, label);
    ws.on('error', reject);
    ws.on('open', async () => {
      s.send({ type: 'hello', token });
      try {
        const m = await s.next((x) => x.type === 'welcome' || x.type === 'error', 10_000, 'welcome');
        s.first = m;
        resolve(s);
      } catch (err) {
        s.first = { closed: s.closeInfo };
        if (s.closeInfo) resolve(s); else reject(err);
      }
    });
  });
}

async function lastAudit(st, action, username) {
  return st.one(`SELECT remote_addr FROM audit WHERE action = $1 AND actor_username = $2
                  ORDER BY id DESC LIMIT 1`, [action, username]);
}

describe('X-Forwarded-For from a peer that is not a trusted proxy', { timeout: 120_000 }, () => {
  let st;
  before(async () => { st = await Stack.create({ label: import.meta.url }); });
  after(async () => { await st?.cleanup(); });

  it('is ignored by the sign-in and its audit row (a forgery)', async () => {
    const r = await st.http('POST', '/api/login', {
      body: { username: 'analyst', password: 'wrong' },
      headers: { 'x-forwarded-for': '203.0.113.7', 'x-real-ip': '203.0.113.8' },
    });
    assert.equal(r.status, 401);
    assert.equal((await lastAudit(st, 'signin_failed', 'analyst')).remote_addr, '127.0.0.1');
  });

  it('is ignored by a WebSocket session and the audit rows it writes', async () => {
    const token = await st.token('controller');
    const s = await connectWith(st.broker, token, { 'x-forwarded-for': '203.0.113.9' }, 'forged');
    assert.equal(s.first.type, 'welcome', JSON.stringify(s.first));
    const [site] = await consoleDirectory(st);
    const pub = await s.request({ type: 'publish', headline: `Forged ${Date.now()}`, severity: 'minor', targets: { sites: [site.site_id] } });
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    const row = await st.one(`SELECT remote_addr FROM audit WHERE action = 'publish' AND alert_id = $1`, [pub.alert_id]);
    assert.equal(row.remote_addr, '127.0.0.1');
    s.close();
  });
});

describe('behind a trusted proxy', { timeout: 120_000 }, () => {
  let st, site;
  before(async () => {
    st = await Stack.create({ label: `${import.meta.url}-trusted`, broker: {
      args: ['--trusted-proxies', '10.9.0.0/16 127.0.0.1', '--lockout-address', '3',
        '--max-connections-per-address', '2'] } });
    [site] = await consoleDirectory(st);
  });
  after(async () => { await st?.cleanup(); });

  it('takes the client from X-Forwarded-For, right to left, and X-Real-IP', async () => {
    // what the client wrote itself (left) is not believed; our own proxy
    // hops (right) are skipped
    let r = await st.http('POST', '/api/login', {
      body: { username: 'analyst', password: 'wrong' },
      headers: { 'x-forwarded-for': '192.0.2.66, 203.0.113.10, 10.9.1.1' },
    });
    assert.equal(r.status, 401);
    assert.equal((await lastAudit(st, 'signin_failed', 'analyst')).remote_addr, '203.0.113.10');
    // the header twice (two proxies that each added a line): one list
    r = await st.http('POST', '/api/login', {
      body: { username: 'analyst', password: 'wrong' },
      headers: { 'x-forwarded-for': ['192.0.2.66', '203.0.113.11'] },
    });
    assert.equal(r.status, 401);
    assert.equal((await lastAudit(st, 'signin_failed', 'analyst')).remote_addr, '203.0.113.11');
    r = await st.http('POST', '/api/login', {
      body: { username: 'analyst', password: demoPassword('analyst') },
      headers: { 'x-real-ip': '198.51.100.20' },
    });
    assert.equal(r.status, 200, r.text);
    assert.equal((await lastAudit(st, 'signin', 'analyst')).remote_addr, '198.51.100.20');
  });

  it('locks out the client that failed, not everyone behind the proxy', async () => {
    const from = (ip) => ({ 'x-forwarded-for': ip });
    for (const user of ['op.citadel', 'op.bastion', 'op.sentinel']) {
      const r = await st.http('POST', '/api/login', { body: { username: user, password: 'wrong' }, headers: from('203.0.113.40') });
      assert.equal(r.status, 401, r.text);
    }
    const locked = await st.http('POST', '/api/login', {
      body: { username: 'controller2', password: demoPassword('controller2') }, headers: from('203.0.113.40') });
    assert.equal(locked.status, 429, locked.text);
    assert.equal(locked.json.error.code, 'locked_out');
    // another client through the same proxy signs in
    const other = await st.http('POST', '/api/login', {
      body: { username: 'controller2', password: demoPassword('controller2') }, headers: from('203.0.113.41') });
    assert.equal(other.status, 200, other.text);
  });

  it('caps connections per client, and audits the client of a session', async () => {
    const token = await st.token('controller');
    const a1 = await connectWith(st.broker, token, { 'x-forwarded-for': '203.0.113.50' }, 'a1');
    const a2 = await connectWith(st.broker, token, { 'x-forwarded-for': '203.0.113.50' }, 'a2');
    assert.equal(a1.first.type, 'welcome');
    assert.equal(a2.first.type, 'welcome');
    const a3 = await connectWith(st.broker, token, { 'x-forwarded-for': '203.0.113.50' }, 'a3');
    assert.equal(a3.first.code ?? a3.first.type, 'too_many_connections', JSON.stringify(a3.first));
    const closed = await a3.waitClosed(5000);
    assert.equal(closed.code, 4429);
    const b1 = await connectWith(st.broker, token, { 'x-forwarded-for': '203.0.113.51' }, 'b1');
    assert.equal(b1.first.type, 'welcome', JSON.stringify(b1.first));

    const pub = await b1.request({ type: 'publish', ref: newRef('pub'), headline: `Proxied ${Date.now()}`, severity: 'minor',
      targets: { sites: [site.site_id] } });
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    const row = await waitFor(() => st.query(`SELECT remote_addr FROM audit WHERE action = 'publish' AND alert_id = $1`, [pub.alert_id])
      .then((rows) => rows[0]), { what: 'the publish audit row' });
    assert.equal(row.remote_addr, '203.0.113.51');
    for (const s of [a1, a2, b1]) s.close();
  });
});
