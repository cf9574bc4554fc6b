// tests/soak/soak.mjs: the load and the checks of tests/soak/soak.sh, which
// starts the system as `make run` does and runs this against it:
//
//   node tests/soak/soak.mjs --port PORT --var DIR [--minutes 60] [--consoles 200]
//        [--rate 20] [--targets 3] [--outage 30]
//
// A controller publishes --rate alerts a second, each to --targets random
// sites; --consoles site consoles (spread over the demo's console users,
// several connections per site) acknowledge every alert frame they get and
// resume from their position if their connection drops. At a third of the
// run PostgreSQL is stopped (pg-local.sh stop) for --outage seconds, at two
// thirds hung (SIGSTOP to the postmaster and every backend) as long. Then,
// once the broker says ok with an empty journal: `tocsinctl audit verify`
// finds the chain intact; every alert confirmed to the publisher is in
// `alerts` with one publish audit row; every acknowledgement answered
// `acked` is in `acks`; every alert frame a console received has its
// delivery record (by alert and user, as many as frames); no journal record
// was refused. Prints the figures; exits 0 when every check passes.
//
// Loopback only, bounded in time (the run, then at most a few minutes of
// settling), and it keeps counters, not frames, so an hour fits in memory.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '../..');
const require = createRequire(path.join(ROOT, 'tests/package.json'));
const WebSocket = require('ws');
const pg = require('pg');
const execFileP = promisify(execFile);

pg.types.setTypeParser(20, (v) => Number(v)); // alert ids are below 2^53

// ------------------------------------------------------------ arguments

function args() {
  const a = { minutes: 60, consoles: 200, rate: 20, targets: 3, outage: 30 };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '');
    if (!(k in a) && k !== 'port' && k !== 'var') throw new Error(`unknown option ${argv[i]}`);
    a[k] = k === 'var' ? argv[i + 1] : Number(argv[i + 1]);
  }
  if (!a.port || !a.var) throw new Error('--port and --var are required');
  return a;
}
const A = args();
const BASE = `http://127.0.0.1:${A.port}`;
const WS_URL = `ws://127.0.0.1:${A.port}/ws`;
const PG_LOCAL = path.join(ROOT, 'deploy/pg-local.sh');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (s) => console.log(`soak [${((Date.now() - T0) / 1000).toFixed(0).padStart(5)} s] ${s}`);
let T0 = Date.now();

async function waitFor(fn, timeoutMs, what, intervalMs = 500) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let v;
    try { v = await fn(); } catch { v = undefined; }
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

async function http(method, p, body) {
  const r = await fetch(`${BASE}${p}`, {
    method, headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined, signal: AbortSignal.timeout(10000),
  });
  return { status: r.status, json: await r.json().catch(() => undefined) };
}

const health = () => http('GET', '/healthz').then((r) => r.json);

// ------------------------------------------------------------ the database

async function pgUrl(role) {
  const a = ['url', A.var];
  if (role) a.push(role, 'tocsin');
  return (await execFileP(PG_LOCAL, a, { encoding: 'utf8' })).stdout.trim();
}

// A superuser client, made again when PostgreSQL went away under it (the
// outages do that).
let db;
async function query(sql, params, retry = true) {
  if (!db) {
    db = new pg.Client({ connectionString: await pgUrl(), statement_timeout: 300000 });
    db.on('error', () => {});
    await db.connect();
  }
  try {
    return (await db.query(sql, params)).rows;
  } catch (err) {
    await db.end().catch(() => {});
    db = null;
    if (retry && !err.code) return query(sql, params, false); // the connection, not the query
    throw err;
  }
}

// The postmaster and its children (as tests/e2e/lib/faults.mjs).
async function clusterPids() {
  const { clusterPids: pids } = await import('../e2e/lib/faults.mjs');
  return pids({ dir: A.var });
}

// ------------------------------------------------------------ counters

const stats = {
  published: new Map(),        // alert_id -> durable
  confirmMs: [],               // publish round trips
  confirmMsByPhase: { normal: [], stopped: [], hung: [] },
  slow: [],                    // confirmations over 1 s: [seconds into the run, ms, phase]
  publishErrors: new Map(),    // code -> count
  unanswered: 0,
  skipped: 0,                  // publishes not sent: too many unanswered
  frames: new Map(),           // user_id -> Map(alert_id -> frames received)
  frameCount: 0,
  acked: new Map(),            // site_id -> Set(alert_id) answered acked
  ackCount: 0,
  ackErrors: new Map(),
  reconnects: 0,
};
const bump = (m, k) => m.set(k, (m.get(k) || 0) + 1);
let phase = 'normal';

// ------------------------------------------------------------ connections

// A WebSocket that signs in (and resumes after a drop, as a console does).
class Conn {
  constructor(label, token, onFrame, onClose = () => {}) {
    this.label = label;
    this.token = token;
    this.onFrame = onFrame;
    this.onClose = onClose;
    this.cursor = null;        // { epoch, seq }
    this.refs = new Map();     // ref -> what it was for
    this.n = 0;
    this.closing = false;
    this.ready = this.open();
  }

  open() {
    return new Promise((resolve) => {
      const ws = new WebSocket(WS_URL, 'tocsin.v1', { handshakeTimeout: 10000 });
      this.ws = ws;
      ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', token: this.token, ...(this.cursor ? { resume: this.cursor } : {}) })));
      ws.on('message', (data) => {
        const m = JSON.parse(data.toString('utf8'));
        if (m.type === 'welcome') {
          if (!this.cursor) this.cursor = { epoch: m.stream.epoch, seq: m.stream.head };
          resolve();
        }
        if (m.type === 'alert' && typeof m.alert.seq === 'number' && m.alert.seq > (this.cursor?.seq ?? 0)) this.cursor.seq = m.alert.seq;
        this.onFrame(this, m);
      });
      ws.on('error', () => {});
      ws.on('close', () => {
        resolve();
        if (this.closing) return;
        this.onClose(this);
        this.refs.clear();
        stats.reconnects++;
        setTimeout(() => { if (!this.closing) this.open(); }, 1000);
      });
    });
  }

  send(obj) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(obj));
  }

  request(obj, what) {
    const ref = `${this.label}-${++this.n}`;
    this.refs.set(ref, what);
    this.send({ ...obj, ref });
    return ref;
  }

  close() {
    this.closing = true;
    try { this.ws.close(1000); } catch { /* gone */ }
  }
}

async function login(username, password) {
  const r = await http('POST', '/api/login', { username, password });
  if (r.status !== 200) throw new Error(`sign-in of ${username}: HTTP ${r.status}`);
  return r.json.token;
}

// ------------------------------------------------------------ the run

async function main() {
  await waitFor(async () => (await health())?.status === 'ok', 60000, 'the broker ok');
  const users = await query(`SELECT u.id, u.username, u.site_id FROM users u
                              WHERE u.role = 'site_console' AND NOT u.disabled ORDER BY u.site_id, u.id`);
  const sites = [...new Set(users.map((u) => u.site_id))];
  await db.end().catch(() => {});
  db = null;
  const tokens = new Map();
  for (const u of users) tokens.set(u.username, await login(u.username, 'console-demo'));
  log(`${users.length} console users on ${sites.length} sites; opening ${A.consoles} consoles`);

  const consoles = [];
  for (let i = 0; i < A.consoles; i++) {
    const u = users[i % users.length];
    const c = new Conn(`c${i}`, tokens.get(u.username), (conn, m) => {
      if (m.type === 'alert') {
        const f = stats.frames.get(u.id) || stats.frames.set(u.id, new Map()).get(u.id);
        bump(f, m.alert.id);
        stats.frameCount++;
        conn.request({ type: 'ack', alert_id: m.alert.id }, m.alert.id);
      } else if (m.ref && conn.refs.has(m.ref)) {
        const id = conn.refs.get(m.ref);
        conn.refs.delete(m.ref);
        if (m.type === 'acked') {
          (stats.acked.get(u.site_id) || stats.acked.set(u.site_id, new Set()).get(u.site_id)).add(id);
          stats.ackCount++;
        } else {
          bump(stats.ackErrors, m.code || m.type);
        }
      }
    });
    consoles.push(c);
    if (i % 20 === 19) await Promise.all(consoles.slice(-20).map((x) => x.ready));
  }
  await Promise.all(consoles.map((c) => c.ready));

  const sent = new Map(); // ref -> sent at
  const ctl = new Conn('ctl', await login('controller', 'controller-demo'), (conn, m) => {
    if (!m.ref || !sent.has(m.ref)) return;
    const { at, phase: ph } = sent.get(m.ref);
    const ms = Date.now() - at;
    sent.delete(m.ref);
    conn.refs.delete(m.ref);
    if (m.type === 'published') {
      stats.published.set(m.alert_id, m.durable);
      stats.confirmMs.push(ms);
      stats.confirmMsByPhase[ph].push(ms);
      if (ms > 1000) stats.slow.push([Math.round((at - T0) / 100) / 10, ms, ph]);
    } else {
      bump(stats.publishErrors, m.code || m.type);
    }
  }, () => {
    // its unanswered publishes will never be answered: counted, not waited for
    stats.unanswered += sent.size;
    sent.clear();
  });
  await ctl.ready;

  // The outages, in the background.
  const runMs = A.minutes * 60000;
  const outages = (async () => {
    await sleep(runMs / 3);
    log(`PostgreSQL stopped (pg-local.sh stop) for ${A.outage} s`);
    phase = 'stopped';
    await execFileP(PG_LOCAL, ['stop', A.var]);
    await sleep(A.outage * 1000);
    await execFileP(PG_LOCAL, ['start', A.var]);
    phase = 'normal';
    log('PostgreSQL started');
    await sleep(Math.max(0, runMs * 2 / 3 - (Date.now() - T0)));
    log(`PostgreSQL hung (SIGSTOP) for ${A.outage} s`);
    const pids = await clusterPids();
    phase = 'hung';
    for (const p of pids) try { process.kill(p, 'SIGSTOP'); } catch { /* gone */ }
    stopped = pids;
    await sleep(A.outage * 1000);
    for (const p of pids) try { process.kill(p, 'SIGCONT'); } catch { /* gone */ }
    stopped = [];
    phase = 'normal';
    log('PostgreSQL running again (SIGCONT)');
  })();

  // The publisher: --rate a second, each to --targets random sites.
  T0 = Date.now();
  let i = 0;
  let lastReport = Date.now();
  while (Date.now() - T0 < runMs) {
    const due = T0 + (i * 1000) / A.rate;
    if (due > Date.now()) await sleep(due - Date.now());
    i++;
    if (sent.size > 200) { stats.skipped++; continue; } // bounded: never an unbounded backlog
    const targets = [];
    while (targets.length < Math.min(A.targets, sites.length)) {
      const s = sites[Math.floor(Math.random() * sites.length)];
      if (!targets.includes(s)) targets.push(s);
    }
    const ref = ctl.request({ type: 'publish', headline: `Soak ${i}`, body: `Soak alert ${i}`, severity: 'minor',
      targets: { sites: targets } }, 'publish');
    sent.set(ref, { at: Date.now(), phase });
    if (Date.now() - lastReport > 60000) {
      lastReport = Date.now();
      const h = await health().catch(() => null);
      log(`${stats.published.size} confirmed, ${stats.frameCount} frames, ${stats.ackCount} acks, ${stats.reconnects} reconnects; healthz ${JSON.stringify(h)}`);
    }
  }
  await outages;
  log(`publishing stopped after ${i} attempts; waiting for the last answers`);
  await waitFor(() => sent.size === 0, 30000, 'the last publish answers').catch(() => {});
  stats.unanswered += sent.size;
  await waitFor(async () => { const h = await health(); return h?.status === 'ok' && h.journal === 0; }, 600000, 'healthz ok, journal 0');
  // acknowledgements of the last frames
  await waitFor(() => consoles.every((c) => c.refs.size === 0), 30000, 'the last ack answers').catch(() => {});
  for (const c of [...consoles, ctl]) c.close();
  return check();
}

let stopped = [];

// ------------------------------------------------------------ the checks

// Polls a count (column n) until done(n), or until it has not moved for
// 10 s (stuck, not slow), or for 3 minutes at most.
async function settle(sql, params, done, what) {
  let last = -1, same = 0, n = 0;
  const deadline = Date.now() + 180000;
  while (Date.now() < deadline) {
    n = (await query(sql, params))[0].n;
    if (done(n)) return n;
    same = n === last ? same + 1 : 0;
    if (same >= 20) break;
    last = n;
    await sleep(500);
  }
  log(`${what}: ${n} after settling`);
  return n;
}

async function check() {
  const results = [];
  const ok = (name, pass, detail) => { results.push({ name, pass }); console.log(`  ${pass ? 'PASS' : 'FAIL'}  ${name}: ${detail}`); };
  const ids = [...stats.published.keys()];
  // frames of alerts whose confirmation never came (a dropped publisher
  // connection) are counted apart: they are checked against nothing
  let orphans = 0;
  for (const m of stats.frames.values()) {
    for (const [id, n] of m) if (!stats.published.has(id)) { orphans += n; m.delete(id); }
  }
  const wantFrames = stats.frameCount - orphans;
  const DELIVERIES = `(SELECT b.alert_id, d.site_id, d.user_id FROM delivery_batches b
     CROSS JOIN LATERAL unnest(b.site_ids, b.user_ids) AS d (site_id, user_id)
     WHERE b.alert_id = ANY ($1::bigint[]))`;
  await settle(`SELECT count(*)::int AS n FROM ${DELIVERIES} x`, [ids], (n) => n >= wantFrames,
    `delivery records (of ${wantFrames} frames)`);
  // every audit row sealed (the sealer runs once a second); a count that
  // stops moving means rows it passed over, which verify then names
  const unsealedSql = `SELECT count(*)::int AS n, min(a.id) AS first FROM audit a
                        WHERE NOT EXISTS (SELECT 1 FROM audit_seal s WHERE s.audit_id = a.id)`;
  await settle(unsealedSql, [], (n) => n === 0, 'unsealed audit rows');
  const unsealed = (await query(unsealedSql))[0];

  console.log('\nsoak: results');
  const durable = (d) => [...stats.published.values()].filter((x) => x === d).length;
  const pct = (a, p) => (a.length ? [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(a.length * p))] : 0);
  console.log(`  ${ids.length} alerts confirmed (${durable('database')} database, ${durable('journal')} journal), ` +
    `${stats.unanswered} unanswered, ${stats.skipped} not sent (backlog), errors ${JSON.stringify(Object.fromEntries(stats.publishErrors))}`);
  for (const [ph, a] of Object.entries(stats.confirmMsByPhase)) {
    if (a.length) console.log(`  confirmation ms while ${ph}: p50 ${pct(a, 0.5)}, p99 ${pct(a, 0.99)}, max ${Math.max(...a)} (${a.length})`);
  }
  if (stats.slow.length) {
    const runs = []; // consecutive slow confirmations, as [from s, to s, worst ms, phase]
    for (const [t, ms, ph] of stats.slow) {
      const r = runs[runs.length - 1];
      if (r && t - r[1] < 2) { r[1] = t; r[2] = Math.max(r[2], ms); } else runs.push([t, t, ms, ph]);
    }
    console.log(`  confirmations over 1 s: ${stats.slow.length}, sent at ${runs.map(([a, b, w, ph]) => `${a}-${b} s (${ph}, worst ${w} ms)`).join(', ')}`);
  }
  console.log(`  ${stats.frameCount} alert frames received (${orphans} of unconfirmed alerts), ${stats.ackCount} acks ` +
    `answered acked, ack errors ${JSON.stringify(Object.fromEntries(stats.ackErrors))}, ${stats.reconnects} reconnections`);

  const v = await execFileP(path.join(ROOT, 'build/tocsinctl'),
    ['audit', 'verify', '--database', await pgUrl('tocsin_broker'), '--audit-key', path.join(A.var, 'secrets/audit.key')],
    { encoding: 'utf8', timeout: 600000 }).then((r) => ({ code: 0, out: r.stdout + r.stderr }), (e) => ({ code: e.code, out: `${e.stdout}${e.stderr}` }));
  ok('tocsinctl audit verify', v.code === 0 && /audit chain intact/.test(v.out),
    `${v.out.trim()}${unsealed.n ? ` (${unsealed.n} rows left unsealed, the first ${unsealed.first})` : ''}`);

  const stored = new Set((await query('SELECT id FROM alerts WHERE id = ANY ($1::bigint[])', [ids])).map((r) => r.id));
  const missing = ids.filter((id) => !stored.has(id));
  ok('every confirmed alert in alerts', missing.length === 0, `${stored.size} of ${ids.length}${missing.length ? `; missing ${missing.slice(0, 5)}` : ''}`);
  const pubAudit = await query(`SELECT alert_id, count(*)::int AS n FROM audit WHERE action = 'publish'
                                  AND alert_id = ANY ($1::bigint[]) GROUP BY 1`, [ids]);
  const badAudit = pubAudit.filter((r) => r.n !== 1).length + (ids.length - pubAudit.length);
  ok('one publish audit row per alert', badAudit === 0, `${pubAudit.length} alerts audited, ${badAudit} not exactly once`);

  const ackRows = await query('SELECT alert_id, site_id FROM acks WHERE alert_id = ANY ($1::bigint[])', [ids]);
  const have = new Set(ackRows.map((r) => `${r.alert_id}/${r.site_id}`));
  let wantAcks = 0, lostAcks = 0;
  for (const [site, set] of stats.acked) for (const id of set) { wantAcks++; if (!have.has(`${id}/${site}`)) lostAcks++; }
  ok('every acknowledgement answered acked in acks', lostAcks === 0, `${wantAcks - lostAcks} of ${wantAcks} (site, alert)`);

  const rows = await query(`SELECT alert_id, user_id, count(*)::int AS n FROM ${DELIVERIES} x GROUP BY 1, 2`, [ids]);
  const recorded = new Map(rows.map((r) => [`${r.alert_id}/${r.user_id}`, r.n]));
  let lost = 0, extra = 0, total = 0;
  for (const [user, m] of stats.frames) {
    for (const [id, n] of m) {
      const r = recorded.get(`${id}/${user}`) || 0;
      total += n;
      if (r < n) lost += n - r;
      if (r > n) extra += r - n;
      recorded.delete(`${id}/${user}`);
    }
  }
  for (const n of recorded.values()) extra += n;
  ok('every alert frame received has its delivery record', lost === 0 && extra === 0,
    `${total} frames, ${lost} without a record, ${extra} records more than frames`);

  const refused = (await query(`SELECT count(*)::int AS n FROM audit WHERE action = 'journal_refused'`))[0].n;
  ok('no journal record refused', refused === 0, `${refused} journal_refused audit rows`);
  // Why, when any was: the next reader needs the reason, not the count.
  if (refused > 0) {
    const why = await query(`SELECT detail->>'kind' AS kind, detail->>'reason' AS reason, count(*)::int AS n
                               FROM audit WHERE action = 'journal_refused'
                              GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 10`);
    for (const r of why) console.log(`        ${r.n} ${r.kind}: ${r.reason}`);
  }
  const failed = results.filter((r) => !r.pass).length;
  console.log(`soak: ${results.length - failed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

function thaw() {
  for (const p of stopped) try { process.kill(p, 'SIGCONT'); } catch { /* gone */ }
  stopped = [];
}
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { thaw(); process.exit(130); });

main().then(async (code) => {
  await db?.end().catch(() => {});
  process.exit(code);
}, async (err) => {
  thaw();
  console.error(`soak: ${err.stack || err}`);
  await db?.end().catch(() => {});
  process.exit(2);
});
