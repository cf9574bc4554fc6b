// TLS session resumption that survives a restart and works across brokers
// (issue 22): the broker seals its session tickets with keys derived from
// --tls-ticket-key (broker/io/ticket_keys.h), so a console's ticket opens
// on the same broker after a restart and on a second broker that reads the
// same file; not on a broker with another file; a ticket of the previous
// rotation period still opens, one of two periods back does not; and a
// changed key file is picked up without a restart. Resumption is seen from
// the client: Node's `session` event (the ticket) and isSessionReused().
// And `tocsinctl keys init` makes the ticket key, also alone on an install
// whose other keys were made before it existed.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { Broker, ROOT, Stack, makeCert, run, sleep, waitFor } from './lib/harness.mjs';

// One https request over a TLS 1.3 connection offering session (a ticket
// from before, or none). Resolves { reused, ticket, tickets }: whether the
// broker resumed, the last ticket it sent and how many (the body is read
// to the end, so the tickets, sent after the handshake, have arrived).
function visit(broker, session) {
  return new Promise((resolve, reject) => {
    let ticket = null;
    let tickets = 0;
    let body = '';
    const s = tls.connect({
      host: '127.0.0.1', port: broker.port, servername: 'localhost', ca: broker.tls.caPem,
      minVersion: 'TLSv1.3', session, ALPNProtocols: ['http/1.1'],
    });
    const timer = setTimeout(() => { s.destroy(); reject(new Error('no answer within 20 s')); }, 20000);
    s.on('session', (t) => { ticket = t; tickets++; });
    s.on('secureConnect', () => {
      s.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    });
    s.on('data', (d) => { body += d; });
    s.on('end', () => {
      clearTimeout(timer);
      const reused = s.isSessionReused();
      s.destroy();
      if (!/^HTTP\/1\.1 200/.test(body)) reject(new Error(`answer: ${body.slice(0, 200)}`));
      else if (!ticket) reject(new Error(`no session ticket (${s.getProtocol()}; ${body.slice(0, 300)})`));
      else resolve({ reused, ticket, tickets });
    });
    s.on('error', (err) => { clearTimeout(timer); reject(err); });
  });
}

describe('TLS session tickets under the broker\'s own keys', { timeout: 240_000 }, () => {
  let st;
  let dir;
  let cert;
  let ticketKey;
  const others = [];

  // A second broker on the same database, on the same certificate, reading
  // ticketFile (node-id apart from the first's). The settings go by the
  // environment (TOCSIN_TLS_TICKET_KEY, TOCSIN_TLS_TICKET_ROTATE).
  async function another(ticketFile, label, env = {}) {
    const b = new Broker({
      label: `${st.label}-${label}`, databaseUrl: st.db.brokerUrl, tls: { cert: cert.cert, key: cert.key },
      args: ['--node-id', String(others.length + 1)], env: { TOCSIN_TLS_TICKET_KEY: ticketFile, ...env },
    });
    others.push(b);
    return b.start();
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tocsin-tickets-'));
    cert = makeCert(dir);
    ticketKey = path.join(dir, 'ticket.key');
    fs.writeFileSync(ticketKey, randomBytes(32), { mode: 0o600 });
    st = await Stack.create({
      label: import.meta.url, tls: { cert: cert.cert, key: cert.key }, env: { TOCSIN_TLS_TICKET_KEY: ticketKey },
    });
  });
  after(async () => {
    for (const b of others) b.kill();
    await st?.cleanup();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('resumes with the same broker, and each resumption gives a new ticket that resumes too', async () => {
    const first = await visit(st.broker);
    assert.equal(first.reused, false);
    // one ticket per handshake, not OpenSSL's two: a console holds one
    // connection, and each ticket costs the broker a seal and a record
    assert.equal(first.tickets, 1, 'tickets sent after a full handshake');
    const again = await visit(st.broker, first.ticket);
    assert.equal(again.reused, true, 'a ticket of this very process did not resume');
    // browsers use a TLS 1.3 ticket once: the resumed connection's ticket
    // (visit requires one) must carry the next reconnect
    assert.notDeepEqual(again.ticket, first.ticket);
    assert.equal(again.tickets, 1, 'tickets sent after a resumption');
    assert.equal((await visit(st.broker, again.ticket)).reused, true, 'the renewed ticket did not resume');
  });

  it('resumes after the broker restarts, and on a second broker reading the same key file', async () => {
    const { ticket } = await visit(st.broker);
    await st.broker.stop();
    const restarted = await another(ticketKey, 'restarted');
    assert.equal((await visit(restarted, ticket)).reused, true, 'the ticket died with the broker');
    const second = await another(ticketKey, 'second');
    assert.equal((await visit(second, ticket)).reused, true, 'the second broker refused the first\'s ticket');
    const other = path.join(dir, 'other-ticket.key');
    fs.writeFileSync(other, randomBytes(32), { mode: 0o600 });
    const stranger = await another(other, 'stranger');
    assert.equal((await visit(stranger, ticket)).reused, false, 'a broker with another key file opened the ticket');
    await stranger.stop();
    await second.stop();
  });

  it('picks up a new key file without a restart: tickets under the old key stop opening', async () => {
    const b = others[0];
    const { ticket } = await visit(b);
    assert.equal((await visit(b, ticket)).reused, true);
    fs.writeFileSync(`${ticketKey}.tmp`, randomBytes(32), { mode: 0o600 });
    fs.renameSync(`${ticketKey}.tmp`, ticketKey);
    await waitFor(async () => b.stderr.includes('TLS ticket key reread'), { timeoutMs: 20000, what: 'the reread' });
    assert.equal((await visit(b, ticket)).reused, false, 'the old key still opened tickets');
    const fresh = await visit(b);
    assert.equal((await visit(b, fresh.ticket)).reused, true, 'the new key does not resume');
    await b.stop();
  });

  it('rotates on the clock: the previous period\'s ticket opens (and is replaced), one of two periods back does not', async () => {
    const PERIOD_S = 4;
    const b = await another(ticketKey, 'rotating', { TOCSIN_TLS_TICKET_ROTATE: String(PERIOD_S) });
    const period = () => Math.floor(Date.now() / 1000 / PERIOD_S);
    const untilPeriod = async (n) => { // the clock itself is the event
      const ms = n * PERIOD_S * 1000 + 150 - Date.now();
      if (ms > 0) await sleep(ms);
    };
    // a ticket sealed wholly inside one period n, and a visit wholly inside
    // n + 1 (retried when the machine is too slow for the 4 s window)
    let sealed;
    let next;
    for (let attempt = 0; attempt < 5 && !next; attempt++) {
      const n = period();
      const v = await visit(b);
      if (period() !== n) continue;
      sealed = { n, ticket: v.ticket };
      await untilPeriod(n + 1);
      const r = await visit(b, sealed.ticket);
      if (period() === n + 1) next = r;
    }
    assert.ok(next, 'could not place a visit in the next period in five tries');
    assert.equal(next.reused, true, 'the previous period\'s ticket did not open');
    assert.notDeepEqual(next.ticket, sealed.ticket, 'no new ticket under the current key');
    await untilPeriod(sealed.n + 2);
    assert.equal((await visit(b, sealed.ticket)).reused, false, 'a ticket two periods old still opened');
    await b.stop();
  });
});

describe('tocsinctl keys init and the ticket key', { timeout: 60_000 }, () => {
  const TOCSINCTL = path.join(ROOT, 'build/tocsinctl');
  let dir;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tocsin-ticket-init-')); });
  after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

  it('makes ticket.key with the other keys, and alone where only it is missing', async () => {
    const keys = path.join(dir, 'keys');
    const group = (await run('id', ['-gn'])).stdout.trim();
    let r = await run(TOCSINCTL, ['keys', 'init', '--dir', keys, '--group', group, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const ticket = path.join(keys, 'ticket.key');
    assert.equal(JSON.parse(r.stdout)[0].ticket_key, ticket);
    assert.equal(fs.statSync(ticket).size, 32);
    assert.equal(fs.statSync(ticket).mode & 0o777, 0o640);
    // an install from before the ticket key: only that one is made
    const token = fs.readFileSync(path.join(keys, 'token.key'));
    fs.rmSync(ticket);
    r = await run(TOCSINCTL, ['keys', 'init', '--dir', keys, '--group', group]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ticket key .*ticket\.key \(the other keys kept\)/);
    assert.equal(fs.statSync(ticket).size, 32);
    assert.deepEqual(fs.readFileSync(path.join(keys, 'token.key')), token, 'the token key was replaced');
    // and with all of them there, nothing is made
    r = await run(TOCSINCTL, ['keys', 'init', '--dir', keys, '--group', group]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ticket\.key exists/);
  });
});
