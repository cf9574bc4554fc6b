// Fault-injection helpers for the "never silent" tests (tests/e2e/10-16).
//
// What harness.mjs does not do, built on its classes without changing them:
//   - PgCluster: a private PostgreSQL cluster of a test's own (deploy/pg-local.sh
//     in a directory under build/), migrated and with the demo data, that the
//     test may stop and start; stackOnCluster() puts a Stack (broker + superuser
//     client) on it.
//   - BrokerFiles / restartable brokers: a token key and a journal that outlive
//     one broker process (passed as --token-key/--journal after the harness's
//     own, which they override: the broker keeps the last value of a flag), so a
//     broker can be killed with SIGKILL and started again on the same files.
//   - killBroker(): SIGKILL, then the harness's clean-up for that process.
//   - health(), publish(), cursors and alert bookkeeping used by several files.
//   - FakeClock: libfaketime preloaded into a broker, to step its wall clock.
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';
import {
  ROOT, Broker, Stack, pgConnect, httpRequest, connect, openSocket, forgeToken,
  makeKeys, newRef, run, sleep, waitFor,
} from './harness.mjs';

const execFileP = promisify(execFile);

// As harness.mjs's (not exported there): a sanitizer report in broker output.
export const SANITIZER_REPORT = /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|UndefinedBehavior|Leak)Sanitizer|ThreadSanitizer|AddressSanitizer:DEADLYSIGNAL/;

// ------------------------------------------------------------ small things

// GET /healthz: { status (HTTP), body (JSON) }.
export async function health(broker, timeoutMs = 5000) {
  const r = await httpRequest(broker, 'GET', '/healthz', { timeoutMs });
  return { status: r.status, body: r.json };
}

// Waits until /healthz satisfies pred(body, status); returns the body. On a
// timeout the error names the last answer.
export async function waitHealth(broker, pred, { timeoutMs = 30000, what = 'healthz' } = {}) {
  return waitFor(async () => {
    const h = await health(broker, 2000);
    if (pred(h.body, h.status)) return h.body;
    throw new Error(`healthz answered ${h.status} ${JSON.stringify(h.body)}`);
  }, { timeoutMs, intervalMs: 200, what });
}

// Sends publish with a fresh ref and waits for its reply; asserts `published`.
// A rate_limited error (it carries no ref: docs/protocol.md) fails at once.
export async function publish(session, fields, timeoutMs = 10000) {
  const ref = newRef('pub');
  session.send({ type: 'publish', ref, ...fields });
  const m = await session.next((x) => x.ref === ref || (x.type === 'error' && x.code === 'rate_limited'),
    timeoutMs, `the reply to publish ${ref}`);
  assert.equal(m.type, 'published', `publish ${JSON.stringify(fields).slice(0, 200)} answered ${JSON.stringify(m)}`);
  return m;
}

// The alert frames a session has received (all of them, also those taken
// from the queue by next()).
export const alertFrames = (s) => s.seen.filter((m) => m.type === 'alert');

// Counts of each alert id among frames.
export function countIds(frames) {
  const n = new Map();
  for (const f of frames) n.set(f.alert.id, (n.get(f.alert.id) || 0) + 1);
  return n;
}

// Ids that occur more than once: [[id, count], ...].
export function duplicates(frames) {
  return [...countIds(frames)].filter(([, c]) => c > 1);
}

// The position a client resumes from: the welcome's head, advanced to the
// highest seq among the alert frames it has processed.
export function cursorOf(session) {
  let seq = session.welcome?.stream?.head ?? 0;
  for (const m of alertFrames(session)) if (typeof m.alert.seq === 'number' && m.alert.seq > seq) seq = m.alert.seq;
  return { epoch: session.welcome?.stream?.epoch, seq };
}

// Open, hello with resume, and wait for the welcome (kept in s.welcome).
export async function connectResume(broker, token, resume, { label = 'resume', timeoutMs = 10000 } = {}) {
  const s = await openSocket(broker, { label, timeoutMs });
  s.send({ type: 'hello', token, resume });
  let m;
  try {
    m = await s.next((x) => x.type === 'welcome' || x.type === 'error', timeoutMs, 'welcome');
  } catch (err) {
    s.terminate();
    throw err;
  }
  if (m.type !== 'welcome') {
    s.terminate();
    throw new Error(`${label}: hello with resume refused: ${JSON.stringify(m)}`);
  }
  s.welcome = m;
  return s;
}

// Token claims for a user row ({id, username, role, org_id, site_id,
// cleared_sensitive}): hello refuses a token whose claims are not its row's.
export function claimsFor(u, ttlSeconds = 3600) {
  const now = Math.floor(Date.now() / 1000);
  return { sub: u.id, usr: u.username, role: u.role, org: u.org_id, site: u.site_id ?? null,
    clr: Boolean(u.cleared_sensitive), iat: now, exp: now + ttlSeconds };
}

// Waits until the broker's output matches re (bounded); returns the match.
export async function waitForLog(broker, re, timeoutMs = 10000) {
  return waitFor(() => broker.stderr.match(re), { timeoutMs, intervalMs: 50, what: `broker log line ${re}` });
}

// The last lines of a broker's output that match re (for failure messages).
export function logLines(broker, re, max = 20) {
  return broker.stderr.split('\n').filter((l) => re.test(l)).slice(-max).join('\n');
}

// Stack.stop() without its lingering timer: harness.mjs's Broker.stop()
// races the exit against a sleep(15 s) that it never clears, which keeps the
// test process alive for up to 15 s after the broker is gone. Here the
// SIGTERM is sent and the exit awaited with a cleared timer first; then
// Stack.stop() does its checks (exit code 0, no sanitizer report) as usual.
export async function stopStack(st, timeoutMs = 15000) {
  st.closeSessions();
  await sleep(100);
  const b = st.broker;
  if (b && !b.exit && !b.stopped) {
    b.proc.kill('SIGTERM');
    let timer;
    await Promise.race([b.exited, new Promise((resolve) => { timer = setTimeout(resolve, timeoutMs); })]);
    clearTimeout(timer);
  }
  await st.stop(); // throws on a bad exit or a sanitizer report (or SIGKILLs after its own wait)
}

// Session.waitClosed() without its lingering timer (harness.mjs races the
// close against a sleep it never clears).
export async function waitClosed(session, timeoutMs = 3000) {
  let timer;
  const r = await Promise.race([session.closed, new Promise((resolve) => { timer = setTimeout(() => resolve(null), timeoutMs); })]);
  clearTimeout(timer);
  if (!r) throw new Error(`${session.label}: not closed within ${timeoutMs} ms; frames received: ${session.describeSeen()}`);
  return r;
}

// ------------------------------------------------------------ brokers that restart

// A token key and journal that outlive one broker process.
export class BrokerFiles {
  constructor(label = 'broker') {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `tocsin-${label}-`));
    this.keyFile = path.join(this.dir, 'token.key');
    this.journal = path.join(this.dir, 'journal', 'tocsin.journal');
    makeKeys(this.dir);
  }

  // Flags that override the harness's per-process key and journal.
  args() {
    return ['--token-key', this.keyFile, '--journal', this.journal];
  }

  journalText() {
    return fs.existsSync(this.journal) ? fs.readFileSync(this.journal, 'utf8') : null;
  }

  forge(claims) {
    return forgeToken(this.keyFile, claims);
  }

  remove() {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// The journal lines of a file: [{jid, k, r}]. A line is the record's
// checksum, a space and the record (broker/io/journal.c), or, as older
// brokers wrote it, the record alone. A last line without its newline that
// does not parse is a torn tail (a kill -9 inside the broker's write
// loop): dropped, as the broker drops it when it reads the journal.
export function journalRecords(text) {
  if (!text) return [];
  const lines = text.split('\n').filter(Boolean);
  const parse = (l) => JSON.parse(l.slice(l.indexOf('{')));
  if (!text.endsWith('\n') && lines.length) {
    try {
      parse(lines[lines.length - 1]);
    } catch {
      lines.pop();
    }
  }
  return lines.map(parse);
}

// kill -9 a broker the harness started, and do the harness's clean-up of
// that process (its log, its temporary directory). Throws if it printed a
// sanitizer report before it died.
export async function killBroker(broker) {
  if (!broker.exit) broker.proc.kill('SIGKILL');
  await broker.exited;
  broker.stopped = true;
  await sleep(50);
  await new Promise((resolve) => broker.log.end(resolve));
  fs.rmSync(broker.tmpDir, { recursive: true, force: true });
  const m = broker.stderr.match(SANITIZER_REPORT);
  if (m) throw new Error(`broker printed a sanitizer report before it was killed: ${broker.stderr.slice(Math.max(0, m.index - 200), m.index + 3000)}`);
  return broker.exit;
}

// A new broker process like `old` (same database, same extra flags: with
// BrokerFiles, the same key and journal), on a new port, with its own log.
export async function startLike(old, extraArgs = []) {
  const b = new Broker({
    label: old.label, databaseUrl: old.databaseUrl, args: [...old.extraArgs, ...extraArgs],
    tokenTtl: old.tokenTtl, maxFrame: old.maxFrame, authTimeout: old.authTimeout, env: old.env,
  });
  await b.start();
  return b;
}

// ------------------------------------------------------------ a PostgreSQL of one's own

// A private cluster under build/ (deploy/pg-local.sh), migrated, with the
// demo data in database `tocsin` (empty: an empty `tocsin`, for a
// restore). Stopping it is the test's to do.
export class PgCluster {
  static async create(label = 'pg', { empty = false } = {}) {
    const c = new PgCluster();
    const base = path.join(ROOT, 'build');
    fs.mkdirSync(base, { recursive: true });
    // The socket path must stay under 100 characters (pg-local.sh).
    let parent = base;
    if (path.join(base, 'pg-xxxxxx', 'run', '.s.PGSQL.5432').length >= 100) parent = os.tmpdir();
    c.dir = fs.mkdtempSync(path.join(parent, `pg-${label.slice(0, 12)}-`));
    fs.chmodSync(c.dir, 0o755);
    c.script = process.env.TOCSIN_PG_LOCAL || path.join(ROOT, 'deploy/pg-local.sh');
    c.running = false;
    try {
      await c.start();
      c.superUrl = await c.url();
      c.brokerUrl = await c.url('tocsin_broker', 'tocsin');
      if (!empty) {
        await c.run(path.join(ROOT, 'deploy/migrate.sh'), [c.superUrl]);
        await c.run(path.join(ROOT, 'deploy/load-demo.sh'), [c.superUrl]);
      }
    } catch (err) {
      await c.destroy(); // nothing may outlive a failed start
      throw err;
    }
    return c;
  }

  async run(cmd, args, timeout = 120000) {
    try {
      return (await execFileP(cmd, args, { encoding: 'utf8', timeout })).stdout;
    } catch (err) {
      throw new Error(`${path.basename(cmd)} ${args.join(' ')} failed: ${err.message}\n${err.stdout || ''}${err.stderr || ''}`);
    }
  }

  async url(role, db) {
    const args = ['url', this.dir];
    if (role) args.push(role, db || 'tocsin');
    return (await this.run(this.script, args)).trim();
  }

  async start() {
    await this.run(this.script, ['start', this.dir]);
    this.running = true;
  }

  // Fast shutdown (sessions are terminated), as pg-local.sh does it.
  async stop() {
    await this.run(this.script, ['stop', this.dir]);
    this.running = false;
  }

  logTail(lines = 30) {
    try {
      return fs.readFileSync(path.join(this.dir, 'log', 'postgresql.log'), 'utf8').split('\n').slice(-lines).join('\n');
    } catch { return '(no log)'; }
  }

  // Stop and remove; never throws. TOCSIN_KEEP_PG=1 (as for tests/run-all.sh)
  // leaves it running for a look: deploy/pg-local.sh url|stop <dir>.
  async destroy() {
    if (!this.dir) return;
    if (process.env.TOCSIN_KEEP_PG === '1') {
      if (!this.kept) console.log(`# TOCSIN_KEEP_PG=1: PostgreSQL left running in ${this.dir}`);
      this.kept = true;
      return;
    }
    try { await this.run(this.script, ['stop', this.dir], 90000); } catch { /* already stopped */ }
    this.running = false;
    fs.rmSync(this.dir, { recursive: true, force: true });
    this.dir = null;
  }
}

// A Stack (harness.mjs) whose database is `tocsin` on a private cluster.
export async function stackOnCluster(cluster, { label, broker: brokerOpts = {} } = {}) {
  const st = new Stack();
  st.label = label;
  st.db = { name: 'tocsin', superUrl: cluster.superUrl, brokerUrl: cluster.brokerUrl };
  st.pg = await pgConnect(cluster.superUrl);
  st.sessions = [];
  st.logins = new Map();
  st.broker = new Broker({ label, databaseUrl: cluster.brokerUrl, ...brokerOpts });
  try {
    await st.broker.start();
  } catch (err) {
    await st.cleanup();
    throw err;
  }
  return st;
}

// Replace a Stack's superuser client (after its server went away).
export async function reconnectPg(st) {
  await st.pg?.end().catch(() => {});
  st.pg = await pgConnect(st.db.superUrl);
}

// ------------------------------------------------------------ delivery records held back

// Holds delivery_batches locked (a superuser's EXCLUSIVE lock: reads pass,
// inserts wait), so that no delivery batch is written until release().
// waited() resolves once the broker's batch is waiting on the lock.
// release() first ends the broker backends of this database: after a
// kill -9 their queries still wait in PostgreSQL and would commit once the
// lock goes, where a crash before they were sent would have lost them.
export async function holdDeliveryBatches(st) {
  const lock = await pgConnect(st.db.superUrl);
  await lock.query('BEGIN');
  await lock.query('LOCK TABLE delivery_batches IN EXCLUSIVE MODE');
  return {
    waited: () => waitFor(async () => (await st.query(`SELECT 1 FROM pg_locks
        WHERE relation = 'delivery_batches'::regclass AND NOT granted`)).length > 0,
    { timeoutMs: 30_000, intervalMs: 50, what: 'a delivery batch waiting on the lock' }),
    release: async () => {
      await st.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                       WHERE datname = current_database() AND application_name LIKE 'tocsind%'`);
      await lock.query('ROLLBACK').catch(() => {});
      await lock.end().catch(() => {});
    },
  };
}

// ------------------------------------------------------------ many connections

// Opens count connections with limited parallelism; fn(i) resolves a Session.
export async function inBatches(count, parallel, fn) {
  const out = new Array(count);
  let next = 0;
  async function worker() {
    while (next < count) {
      const i = next++;
      out[i] = await fn(i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker));
  return out;
}

export { connect, newRef, sleep, waitFor };

// ------------------------------------------------------------ a broker's wall clock, moved

// libfaketime (Debian's faketime, preloaded into the broker) moves the
// broker's CLOCK_REALTIME, as an NTP step or an operator's `date -s` would,
// and leaves CLOCK_MONOTONIC alone (FAKETIME_DONT_FAKE_MONOTONIC). The offset
// lives in a file that libfaketime reads at every call (FAKETIME_NO_CACHE),
// so set() moves the clock of a running broker. The MT build of the library,
// as the sign-in workers read the clock too; an ASan broker gets its ASan
// runtime preloaded first, which ASan requires.
export class FakeClock {
  constructor(label = 'clock') {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `tocsin-${label}-`));
    this.file = path.join(this.dir, 'faketime');
    this.set(0);
  }

  static library() {
    for (const d of fs.readdirSync('/usr/lib')) {
      const lib = path.join('/usr/lib', d, 'faketime/libfaketimeMT.so.1');
      if (fs.existsSync(lib)) return lib;
    }
    throw new Error('libfaketime is not installed (Debian package faketime: deploy/install-deps.sh --test)');
  }

  // The broker's environment: binary is the broker it is for.
  env(binary = process.env.TOCSIN_BROKER || path.join(ROOT, 'build/san/tocsind')) {
    const asan = execFileSync('ldd', [binary], { encoding: 'utf8' }).match(/=>\s*(\S*libasan\.so\S*)/);
    return {
      LD_PRELOAD: [...(asan ? [asan[1]] : []), FakeClock.library()].join(' '),
      FAKETIME_TIMESTAMP_FILE: this.file,
      FAKETIME_NO_CACHE: '1',
      FAKETIME_DONT_FAKE_MONOTONIC: '1',
    };
  }

  // The broker's wall clock is now offsetSeconds from the real one; the
  // file is replaced whole, so a read never sees half of it.
  set(offsetSeconds) {
    const tmp = `${this.file}.new`;
    fs.writeFileSync(tmp, `${offsetSeconds < 0 ? '-' : '+'}${Math.abs(offsetSeconds)}\n`);
    fs.renameSync(tmp, this.file);
  }

  remove() {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------ a hung PostgreSQL

// The pids of a PgCluster's postmaster (postmaster.pid's first line) and
// of its children: every backend, the checkpointer, the WAL writer...
export function clusterPids(cluster) {
  const pm = Number(fs.readFileSync(path.join(cluster.dir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
  return [pm, ...childrenOf(pm)];
}

function childrenOf(pid) {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      // pid (comm) state ppid ...: comm may hold spaces and parentheses
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(d));
    } catch { /* gone meanwhile */ }
  }
  return out;
}

// SIGSTOPs processes, as a database that stops answering without closing
// anything: its sockets stay open and the kernel still accepts
// connections. Returns thaw(), which SIGCONTs them (again harmless); call
// it in after() too, or a stopped cluster outlives the test.
export function freeze(pids) {
  const stopped = [];
  for (const p of pids) {
    try { process.kill(p, 'SIGSTOP'); stopped.push(p); } catch { /* gone */ }
  }
  return () => {
    for (const p of stopped) {
      try { process.kill(p, 'SIGCONT'); } catch { /* gone */ }
    }
  };
}

// The whole cluster hung: the postmaster first (it forks nothing more),
// then every child.
export function freezeCluster(cluster) {
  const thawPostmaster = freeze(clusterPids(cluster).slice(0, 1));
  const thawChildren = freeze(clusterPids(cluster).slice(1));
  return () => { thawChildren(); thawPostmaster(); };
}

// `tocsinctl audit verify` on a stack's database with its broker's audit
// key: { code, out }.
export async function auditVerify(st) {
  const keyFile = path.join(path.dirname(st.broker.keyFile), 'audit.key');
  const r = await run(path.join(ROOT, 'build/tocsinctl'),
    ['audit', 'verify', '--database', st.db.brokerUrl, '--audit-key', keyFile]);
  return { code: r.code, out: r.stdout + r.stderr };
}
