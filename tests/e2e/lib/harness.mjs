// Test harness for the Tocsin end-to-end tests.
//
// tests/run-all.sh sets up one private PostgreSQL with the migrated schema and
// the demo data in database `tocsin`, marked as a template, and exports:
//   TOCSIN_TEST_VAR       the pg-local.sh var dir (build/test-var)
//   TOCSIN_PG_ADMIN_URL   superuser URL to database `postgres`
//   TOCSIN_PG_SUPERUSER   the superuser's role name
//   TOCSIN_BROKER         the broker binary (default build/san/tocsind)
//
// Each test file calls Stack.create(), which copies the template into a
// database of its own, starts a broker on a free 127.0.0.1 port with its own
// token key (ready once GET /readyz answers 200), and gives helpers to sign
// in, open WebSocket sessions and query the database. stack.stop() stops the broker with SIGTERM and fails when it
// exits non-zero or printed a sanitizer report.

import { spawn, execFile, execFileSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import pg from 'pg';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = process.env.TOCSIN_ROOT || path.resolve(here, '../../..');
export const OUTPUT_DIR = process.env.TOCSIN_TEST_OUTPUT || path.join(ROOT, 'tests/output');
export const SUBPROTOCOL = 'tocsin.v1';

// RFC 3339, UTC, milliseconds: 2026-11-22T14:15:54.123Z
export const RFC3339_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

// Passwords of the demo users (deploy/load-demo.sh).
export function demoPassword(username) {
  if (username === 'controller' || username === 'controller2') return 'controller-demo';
  if (username === 'analyst') return 'analyst-demo';
  if (username === 'admin') return 'admin-demo';
  if (username.startsWith('op.')) return 'operator-demo';
  if (username.startsWith('console.')) return 'console-demo';
  if (username.startsWith('inspector')) return 'inspector-demo'; // made by the tests that need one
  throw new Error(`no demo password known for ${username}`);
}

// bigint columns (alert ids, counts) as JavaScript numbers: alert ids are
// below 2^53 (docs/protocol.md), so they compare equal to the ids in frames.
pg.types.setTypeParser(20, (v) => Number(v));

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Runs a program; resolves { code, stdout, stderr } (never rejects on a
// non-zero exit). env adds to the process's environment.
export function run(file, args, { timeoutMs = 60000, env = {}, cwd } = {}) {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, timeout: timeoutMs, env: { ...process.env, ...env }, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
      });
  });
}

// Races a promise against a timeout that is cleared as soon as the promise
// settles, so that a finished test file does not stay alive for the rest of
// the timeout. Resolves to onTimeout's value when time runs out.
function raceTimeout(promise, ms, onTimeout) {
  let timer;
  const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve(onTimeout), ms); });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Poll fn() until it returns a truthy value; fail after timeoutMs with the
// last value seen (or the last error thrown).
export async function waitFor(fn, { timeoutMs = 5000, intervalMs = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  let lastErr;
  for (;;) {
    try {
      last = await fn();
      lastErr = undefined;
      if (last) return last;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() >= deadline) {
      const detail = lastErr ? `last error: ${lastErr.message}` : `last value: ${JSON.stringify(last)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; ${detail}`);
    }
    await sleep(intervalMs);
  }
}

function requireEnv(name) {
  const v = process.env[name];
  if (!v) {
    throw new Error(`${name} is not set: run the e2e tests through tests/run-all.sh ` +
      `(e.g. tests/run-all.sh tests/e2e/02-publish-ack.test.mjs)`);
  }
  return v;
}

function pgLocalUrl(role, dbname) {
  const script = process.env.TOCSIN_PG_LOCAL || path.join(ROOT, 'deploy/pg-local.sh');
  const varDir = requireEnv('TOCSIN_TEST_VAR');
  return execFileSync(script, ['url', varDir, role, dbname], { encoding: 'utf8', timeout: 10000 }).trim();
}

function safeName(s) {
  return path.basename(s).replace(/\.test\.mjs$/, '').replace(/[^A-Za-z0-9]+/g, '_').toLowerCase();
}

// ------------------------------------------------------------ databases

// One row per recorded delivery (alert_id, site_id, user_id, delivered_at):
// the batches of delivery_batches unnested (sql/schema/05_delivery.sql), for
// a FROM clause: `SELECT user_id FROM ${DELIVERIES} d WHERE d.alert_id = $1`.
export const DELIVERIES = `(SELECT b.alert_id, d.site_id, d.user_id, d.delivered_at
   FROM delivery_batches b
  CROSS JOIN LATERAL unnest(b.site_ids, b.user_ids, b.delivered_at) AS d (site_id, user_id, delivered_at))`;

export async function pgConnect(url) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10000, statement_timeout: 30000 });
  await client.connect();
  // An error on an idle client (the server went away) must not crash the run.
  client.on('error', () => {});
  return client;
}

// A fresh database copied from the migrated + demo template.
export async function createDatabase(label = 'db') {
  const adminUrl = requireEnv('TOCSIN_PG_ADMIN_URL');
  const superuser = requireEnv('TOCSIN_PG_SUPERUSER');
  const template = process.env.TOCSIN_TEMPLATE_DB || 'tocsin';
  const name = `t_${safeName(label).slice(0, 40)}_${randomBytes(4).toString('hex')}`;
  const admin = await pgConnect(adminUrl);
  try {
    // A copy needs the template to be idle; an earlier file's leftovers are
    // not connected to it, so a short retry covers a slow disconnect.
    await waitFor(async () => {
      await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
      return true;
    }, { timeoutMs: 10000, intervalMs: 250, what: `CREATE DATABASE ${name} TEMPLATE ${template}` });
  } finally {
    await admin.end();
  }
  return {
    name,
    superUrl: pgLocalUrl(superuser, name),
    brokerUrl: pgLocalUrl('tocsin_broker', name),
  };
}

// ------------------------------------------------------------ the broker

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// A self-signed certificate for localhost and 127.0.0.1 in dir, and a
// second key that does not belong to it: { cert, key, otherKey }.
export function makeCert(dir) {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  const otherKey = path.join(dir, 'other-key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'pipe', timeout: 30000 });
  execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-out', otherKey], { stdio: 'pipe', timeout: 30000 });
  return { cert, key, otherKey };
}

// The token, audit, alert signing and TLS ticket keys a broker reads from
// dir (tocsind never makes them: tocsinctl keys init does on a server),
// unless they are there.
export function makeKeys(dir) {
  for (const name of ['token.key', 'audit.key', 'alert_sign.key', 'ticket.key']) {
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) fs.writeFileSync(file, randomBytes(32), { mode: 0o600 });
  }
}

const SANITIZER_REPORT = /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|UndefinedBehavior|Leak)Sanitizer|ThreadSanitizer|AddressSanitizer:DEADLYSIGNAL/;

export class Broker {
  // tls: { cert, key, ca } (PEM file paths; ca what clients trust) serves
  // https and wss (--tls-cert/--tls-key); the helpers below follow it.
  // flags: false passes only args (the test's --config names the rest);
  // args may then be a function of the broker (its port, its tmpDir).
  // binary: another tocsind (an installed one); env: more variables.
  // port: this one rather than a free one picked at start.
  constructor({ label, databaseUrl, args = [], tokenTtl, maxFrame, authTimeout, tls, flags = true, binary, env = {}, port }) {
    this.label = label;
    this.tls = tls ? { ...tls, caPem: fs.readFileSync(tls.ca || tls.cert) } : null;
    this.databaseUrl = databaseUrl;
    this.extraArgs = args;
    this.tokenTtl = tokenTtl;
    this.maxFrame = maxFrame;
    this.authTimeout = authTimeout;
    this.flags = flags;
    this.env = env;
    this.fixedPort = port;
    this.binary = binary || process.env.TOCSIN_BROKER || path.join(ROOT, 'build/san/tocsind');
    this.stderr = '';
    this.exit = null; // { code, signal }
    this.stopped = false;
  }

  get httpUrl() { return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`; }
  get wsUrl() { return `${this.tls ? 'wss' : 'ws'}://127.0.0.1:${this.port}/ws`; }

  async start() {
    if (!fs.existsSync(this.binary)) {
      throw new Error(`broker binary ${this.binary} does not exist (make san)`);
    }
    this.tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tocsin-e2e-'));
    this.keyFile = path.join(this.tmpDir, 'token.key');
    makeKeys(this.tmpDir);
    fs.mkdirSync(path.join(this.tmpDir, 'journal'));
    fs.mkdirSync(OUTPUT_DIR, { recursive: true });
    let n = 0;
    do {
      this.logFile = path.join(OUTPUT_DIR, `${safeName(this.label)}${n ? '-' + n : ''}.broker.log`);
      n++;
    } while (Broker.usedLogs.has(this.logFile));
    Broker.usedLogs.add(this.logFile);

    // A port picked free may be taken before the broker binds it: retry.
    for (let attempt = 1; ; attempt++) {
      this.port = this.fixedPort || await freePort();
      try {
        await this.#spawnAndWait();
        return this;
      } catch (err) {
        if (attempt < 3 && !this.fixedPort && this.exit && /address already in use|EADDRINUSE|bind/i.test(this.stderr)) continue;
        throw err;
      }
    }
  }

  async #spawnAndWait() {
    const args = this.flags ? [
      '--listen', `127.0.0.1:${this.port}`,
      '--database', this.databaseUrl,
      '--web-root', path.join(ROOT, 'web-client'),
      '--token-key', this.keyFile,
      // Each broker has its own journal (used while PostgreSQL is unreachable).
      '--journal', path.join(this.tmpDir, 'journal', 'tocsin.journal'),
    ] : [];
    if (this.tokenTtl != null) args.push('--token-ttl', String(this.tokenTtl));
    if (this.maxFrame != null) args.push('--max-frame', String(this.maxFrame));
    if (this.authTimeout != null) args.push('--auth-timeout', String(this.authTimeout));
    if (this.tls && this.flags) args.push('--tls-cert', this.tls.cert, '--tls-key', this.tls.key);
    args.push(...(typeof this.extraArgs === 'function' ? this.extraArgs(this) : this.extraArgs));
    this.args = args;
    this.stderr = '';
    this.exit = null;
    this.log = fs.createWriteStream(this.logFile, { flags: 'a' });
    this.log.write(`# ${new Date().toISOString()} ${this.binary} ${args.join(' ')}\n`);
    const env = {
      ...process.env,
      ASAN_OPTIONS: 'abort_on_error=0:detect_leaks=1:exitcode=66',
      UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
      // The tests run as root in CI; tocsind refuses root without --user
      // or this (tests that check --user pass it in args).
      TOCSIN_ALLOW_ROOT: '1',
      // Only the flags above: not a configuration file the machine may have.
      TOCSIN_CONFIG: '/dev/null',
      ...this.env,
    };
    this.proc = spawn(this.binary, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout.on('data', (d) => { this.stderr += d; this.log.write(d); });
    this.proc.stderr.on('data', (d) => { this.stderr += d; this.log.write(d); });
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => { this.exit = { code, signal }; resolve(this.exit); });
      this.proc.on('error', (err) => {
        this.stderr += `\n[harness] spawn failed: ${err.message}\n`;
        this.exit = { code: -1, signal: null };
        resolve(this.exit);
      });
    });

    const deadline = Date.now() + 20000;
    for (;;) {
      if (this.exit) {
        throw new Error(`broker exited before answering /readyz (${JSON.stringify(this.exit)}); ` +
          `log ${this.logFile}:\n${this.tail()}`);
      }
      try {
        // ready: its database connected once and gave the stream's epoch
        const r = await httpRequest(this, 'GET', '/readyz', { timeoutMs: 1000 });
        if (r.status === 200) return;
      } catch { /* not listening yet */ }
      if (Date.now() > deadline) {
        this.proc.kill('SIGKILL');
        throw new Error(`broker did not answer GET /readyz with 200 within 20 s; log ${this.logFile}:\n${this.tail()}`);
      }
      await sleep(100);
    }
  }

  tail(lines = 40) {
    return this.stderr.split('\n').slice(-lines).join('\n');
  }

  key() {
    return fs.readFileSync(this.keyFile);
  }

  // SIGTERM, bounded wait; throws when the broker does not stop, exits
  // non-zero or printed a sanitizer report.
  async stop({ timeoutMs = 15000 } = {}) {
    if (this.stopped) return this.exit;
    this.stopped = true;
    if (!this.exit) {
      this.proc.kill('SIGTERM');
      const r = await raceTimeout(this.exited, timeoutMs, 'timeout');
      if (r === 'timeout') {
        this.proc.kill('SIGKILL');
        await this.exited;
        await this.#closeLog();
        throw new Error(`broker did not exit within ${timeoutMs} ms of SIGTERM; log ${this.logFile}:\n${this.tail()}`);
      }
    }
    await this.#closeLog();
    fs.rmSync(this.tmpDir, { recursive: true, force: true });
    const problems = [];
    if (this.exit.code !== 0) problems.push(`exit ${JSON.stringify(this.exit)} (want code 0)`);
    const m = this.stderr.match(SANITIZER_REPORT);
    if (m) problems.push(`sanitizer report (${m[0]})`);
    if (problems.length) {
      const at = m ? this.stderr.slice(Math.max(0, m.index - 200), m.index + 3000) : this.tail();
      throw new Error(`broker stopped badly: ${problems.join('; ')}; log ${this.logFile}:\n${at}`);
    }
    return this.exit;
  }

  // For after() hooks: make sure no broker outlives its test file.
  kill() {
    if (this.proc && !this.exit) this.proc.kill('SIGKILL');
  }

  async #closeLog() {
    // Let the pipes drain before closing the log.
    await sleep(50);
    await new Promise((resolve) => this.log.end(resolve));
  }
}
Broker.usedLogs = new Set();

// ------------------------------------------------------------ HTTP

// A small HTTP client that keeps going when the server answers (and closes)
// before the whole request body was sent, as it may for an over-size body.
export function httpRequest(broker, method, urlPath, { body, headers = {}, timeoutMs = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const payload = body == null ? null : (typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body));
    const h = { ...headers };
    if (payload != null) {
      h['content-length'] = Buffer.byteLength(payload);
      if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['content-type'] = 'application/json';
    }
    const req = (broker.tls ? https : http).request({
      host: '127.0.0.1', port: broker.port, method, path: urlPath, headers: h, agent: false,
      ...(broker.tls ? { ca: broker.tls.caPem, servername: 'localhost' } : {}),
    });
    const timer = setTimeout(() => req.destroy(new Error(`${method} ${urlPath}: no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('response', (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
      res.on('error', (err) => { clearTimeout(timer); reject(err); });
    });
    req.on('error', (err) => {
      // EPIPE / ECONNRESET after a response arrived is handled above.
      clearTimeout(timer);
      reject(err);
    });
    if (payload != null) req.write(payload);
    req.end();
  });
}

export async function login(broker, username, password) {
  const r = await httpRequest(broker, 'POST', '/api/login', { body: { username, password } });
  if (r.status !== 200 || !r.json || typeof r.json.token !== 'string') {
    throw new Error(`sign-in of ${username} failed: HTTP ${r.status} ${r.text}`);
  }
  return r.json; // { token, expires_at, user }
}

// ------------------------------------------------------------ tokens

export function b64url(buf) {
  return Buffer.from(buf).toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function decodeToken(token) {
  const [v, payload] = token.split('.');
  if (v !== 'v1') throw new Error(`not a v1 token: ${token}`);
  return JSON.parse(Buffer.from(payload.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8'));
}

// v1.<payload>.<tag>, tag = HMAC-SHA-512-256 (first 32 bytes of HMAC-SHA-512).
export function signToken(key, claims) {
  const payload = b64url(Buffer.from(JSON.stringify(claims), 'utf8'));
  const signed = `v1.${payload}`;
  const tag = createHmac('sha512', key).update(signed).digest().subarray(0, 32);
  return `${signed}.${b64url(tag)}`;
}

// keyFile: a path or a Broker. claims are complete token claims.
export function forgeToken(keyFile, claims) {
  const key = keyFile instanceof Broker ? keyFile.key() : fs.readFileSync(keyFile);
  if (key.length !== 32) throw new Error(`token key has ${key.length} bytes, want 32`);
  return signToken(key, claims);
}

// ------------------------------------------------------------ WebSocket

let refCounter = 0;
export const newRef = (prefix = 'r') => `${prefix}-${++refCounter}`;

export class Session {
  constructor(ws, label) {
    this.ws = ws;
    this.label = label;
    this.queue = [];   // frames received and not yet taken by next()
    this.seen = [];    // every frame received, for diagnostics
    this.waiters = new Set();
    this.closeInfo = null;
    this.closed = new Promise((resolve) => { this._resolveClosed = resolve; });
    ws.on('message', (data, isBinary) => {
      let msg;
      const text = data.toString('utf8');
      try { msg = JSON.parse(text); } catch { msg = { type: '<unparseable>', raw: text, binary: isBinary }; }
      this.queue.push(msg);
      this.seen.push(msg);
      for (const w of [...this.waiters]) w.check();
    });
    ws.on('close', (code, reason) => {
      this.closeInfo = { code, reason: reason.toString('utf8') };
      this._resolveClosed(this.closeInfo);
      for (const w of [...this.waiters]) w.check();
    });
    ws.on('error', (err) => { this.lastError = err; });
  }

  get isOpen() { return this.ws.readyState === WebSocket.OPEN; }

  send(obj) {
    this.ws.send(JSON.stringify(obj));
  }

  sendRaw(data, opts = {}) {
    this.ws.send(data, opts);
  }

  // Take the first frame (queued or yet to come) for which pred is true.
  next(pred = () => true, timeoutMs = 2000, what) {
    if (typeof pred === 'string') { const t = pred; pred = (m) => m.type === t; what = what || `a ${t} frame`; }
    what = what || String(pred);
    return new Promise((resolve, reject) => {
      const w = {
        check: () => {
          const i = this.queue.findIndex((m) => { try { return pred(m); } catch { return false; } });
          if (i >= 0) {
            const [m] = this.queue.splice(i, 1);
            done();
            resolve(m);
          } else if (this.closeInfo) {
            done();
            reject(new Error(`${this.label}: connection closed (${JSON.stringify(this.closeInfo)}) ` +
              `while waiting for ${what}; frames received: ${this.describeSeen()}`));
          }
        },
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.label}: no ${what} within ${timeoutMs} ms; frames received: ${this.describeSeen()}`));
      }, timeoutMs);
      const done = () => { clearTimeout(timer); this.waiters.delete(w); };
      this.waiters.add(w);
      w.check();
    });
  }

  // Fails if a frame matching pred is queued or arrives within ms.
  async expectNothing(pred = () => true, ms = 500, what) {
    what = what || String(pred);
    await sleep(ms);
    const m = this.queue.find((x) => { try { return pred(x); } catch { return false; } });
    if (m) throw new Error(`${this.label}: expected no ${what} but got ${JSON.stringify(m)}`);
  }

  // Send a request with a fresh ref and wait for the frame echoing that ref.
  async request(obj, timeoutMs = 5000) {
    const ref = obj.ref || newRef(obj.type || 'req');
    this.send({ ...obj, ref });
    return this.next((m) => m.ref === ref, timeoutMs, `a reply with ref ${ref}`);
  }

  async ping(timeoutMs = 3000) {
    const ref = newRef('ping');
    this.send({ type: 'ping', ref });
    const m = await this.next((x) => x.ref === ref, timeoutMs, `pong ${ref}`);
    if (m.type !== 'pong') throw new Error(`${this.label}: ping ${ref} answered with ${JSON.stringify(m)}`);
    return m;
  }

  // Wait for the close (bounded); resolves { code, reason }.
  async waitClosed(timeoutMs = 3000) {
    const r = await raceTimeout(this.closed, timeoutMs, null);
    if (!r) throw new Error(`${this.label}: not closed within ${timeoutMs} ms; frames received: ${this.describeSeen()}`);
    return r;
  }

  describeSeen(max = 12) {
    const s = this.seen.slice(-max).map((m) => JSON.stringify(m));
    return s.length ? s.join(' | ') : '(none)';
  }

  close() {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      try { this.ws.close(1000); } catch { /* already going */ }
    }
  }

  terminate() {
    try { this.ws.terminate(); } catch { /* gone */ }
  }
}

// Open a WebSocket; resolves a Session when the upgrade succeeded, rejects
// (err.status set when the server answered HTTP) when it was refused.
export function openSocket(broker, { protocols = [SUBPROTOCOL], label = 'ws', timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(broker.wsUrl, protocols, {
      handshakeTimeout: timeoutMs, maxPayload: 16 << 20,
      ...(broker.tls ? { ca: broker.tls.caPem, servername: 'localhost' } : {}),
    });
    const session = new Session(ws, label);
    let settled = false;
    ws.on('open', () => { if (!settled) { settled = true; resolve(session); } });
    ws.on('unexpected-response', (req, res) => {
      if (settled) return;
      settled = true;
      const err = new Error(`${label}: upgrade refused with HTTP ${res.statusCode}`);
      err.status = res.statusCode;
      res.resume();
      req.destroy();
      reject(err);
    });
    ws.on('error', (e) => { if (!settled) { settled = true; reject(e); } });
    ws.on('close', (code) => {
      if (!settled) { settled = true; reject(new Error(`${label}: closed (${code}) during the upgrade`)); }
    });
  });
}

// Open, send hello with token, resolve on welcome. The welcome frame is
// kept in session.welcome (and not left in the queue).
export async function connect(broker, token, { label = 'session', timeoutMs = 5000 } = {}) {
  const s = await openSocket(broker, { label, timeoutMs });
  s.send({ type: 'hello', token });
  let m;
  try {
    m = await s.next((x) => x.type === 'welcome' || x.type === 'error', timeoutMs, 'welcome');
  } catch (err) {
    s.terminate();
    throw err;
  }
  if (m.type !== 'welcome') {
    s.terminate();
    throw new Error(`${label}: hello refused: ${JSON.stringify(m)}`);
  }
  s.welcome = m;
  return s;
}

// ------------------------------------------------------------ the stack

// One test file's world: its database, its broker, a superuser client, and
// signed-in sessions. Stack.create({ label: import.meta.url, maxFrame: 4096 })
export class Stack {
  static async create({ label, broker: brokerOpts = {}, startBroker = true, ...rest } = {}) {
    const st = new Stack();
    st.label = safeName(label ? (label.startsWith('file:') ? fileURLToPath(label) : label) : 'test');
    st.db = await createDatabase(st.label);
    st.pg = await pgConnect(st.db.superUrl);
    st.sessions = [];
    st.logins = new Map();
    if (startBroker) {
      st.broker = new Broker({ label: st.label, databaseUrl: st.db.brokerUrl, ...rest, ...brokerOpts });
      try {
        await st.broker.start();
      } catch (err) {
        // Nothing may keep the test process alive after a failed start.
        await st.cleanup();
        throw err;
      }
    }
    return st;
  }

  async query(sql, params) {
    return (await this.pg.query(sql, params)).rows;
  }

  async one(sql, params) {
    const rows = await this.query(sql, params);
    if (rows.length !== 1) throw new Error(`expected one row, got ${rows.length}: ${sql}`);
    return rows[0];
  }

  http(method, urlPath, opts) {
    return httpRequest(this.broker, method, urlPath, opts);
  }

  // Sign in once per user and file; the answer ({token, user, expires_at})
  // is reused.
  async login(username, password = demoPassword(username)) {
    const key = `${username}\0${password}`;
    if (!this.logins.has(key)) this.logins.set(key, await login(this.broker, username, password));
    return this.logins.get(key);
  }

  async token(username) {
    return (await this.login(username)).token;
  }

  async connect(token, opts = {}) {
    const s = await connect(this.broker, token, opts);
    this.sessions.push(s);
    return s;
  }

  // opts.fresh: sign in again rather than reuse the cached token (after a
  // change to the account: hello refuses a token whose claims are not
  // the account's).
  async connectAs(username, opts = {}) {
    if (opts.fresh) this.logins.delete(`${username}\0${demoPassword(username)}`);
    return this.connect(await this.token(username), { label: username, ...opts });
  }

  async openSocket(opts = {}) {
    const s = await openSocket(this.broker, opts);
    this.sessions.push(s);
    return s;
  }

  forgeToken(claims) {
    return forgeToken(this.broker, claims);
  }

  closeSessions() {
    for (const s of this.sessions) s.close();
    this.sessions = [];
  }

  // Close everything; throws what broker.stop() throws.
  async stop() {
    this.closeSessions();
    await sleep(100);
    try {
      if (this.broker) await this.broker.stop();
    } finally {
      await this.pg.end().catch(() => {});
    }
  }

  // Safety net for after(): never throws, never leaves a broker running.
  async cleanup() {
    for (const s of this.sessions) s.terminate();
    if (this.broker) this.broker.kill();
    await this.pg?.end().catch(() => {});
  }
}

// ------------------------------------------------------------ demo data

// Site consoles with their site and guarding company.
export async function consoleDirectory(stack) {
  return stack.query(`
    SELECT u.id AS user_id, u.username, s.id AS site_id, s.name AS site_name,
           s.guard_org_id, o.name AS org_name, u.cleared_sensitive
      FROM users u
      JOIN sites s ON s.id = u.site_id
      JOIN organisations o ON o.id = s.guard_org_id
     WHERE u.role = 'site_console' AND NOT u.disabled
     ORDER BY s.id, u.id`);
}

export async function userByName(stack, username) {
  return stack.one(`SELECT u.*, o.name AS org_name FROM users u JOIN organisations o ON o.id = u.org_id
                     WHERE u.username = $1`, [username]);
}
