// Helpers for tests of the ZeroMQ bus (docs/bus.md). The npm `zeromq`
// package needs native binaries from GitHub, so the clients are C:
// build/tocsin-bus-probe (tests/bus/probe.c) and build/tocsinctl.
//
//   const st = await startBusStack({ label: import.meta.url });
//   const a = await addAdapter(st, 'cap-feed', 'controller');   // { name, keyFile }
//   const reply = await busCall(st, a, 1, { type: 'publish', ... });
//   const f = await busFollow(st, a, { topics: ['ack'] });  ... await f.next(pred); f.stop();
//   const { ingest, events, serverPublicKey } = busEndpoints(st);
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Stack, ROOT, run, sleep } from './harness.mjs';

export const PROBE = path.join(ROOT, 'build/tocsin-bus-probe');
export const TOCSINCTL = path.join(ROOT, 'build/tocsinctl');

async function freePort() {
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

// run: tocsinctl and the adapters (harness.mjs), for the bus tests too.
export { run };

export async function tocsinctl(st, args, opts) {
  return run(TOCSINCTL, [...args, '--database', st.db.superUrl], opts);
}

// A broker key and two free endpoints: { args (tocsind flags), bus }.
export async function prepareBus() {
  const dir = fs.mkdtempSync(path.join(fs.realpathSync(process.env.TMPDIR || '/tmp'), 'tocsin-bus-'));
  const keyFile = path.join(dir, 'bus_server.key');
  const gen = await run(TOCSINCTL, ['bus', 'keygen', '--out', keyFile]);
  if (gen.code !== 0) throw new Error(`tocsinctl bus keygen failed: ${gen.stderr}`);
  const ingestPort = await freePort();
  let eventsPort = await freePort();
  while (eventsPort === ingestPort) eventsPort = await freePort();
  const ingest = `tcp://127.0.0.1:${ingestPort}`;
  const events = `tcp://127.0.0.1:${eventsPort}`;
  return {
    args: ['--bus-ingest', ingest, '--bus-events', events, '--bus-key', keyFile],
    bus: { ingest, events, keyFile, serverPublicKey: gen.stdout.trim(), dir, followers: new Set() },
  };
}

// Gives a Stack the bus prepared for its broker; its cleanup() also ends
// the followers, so a failed test leaves none behind.
export function attachBus(st, bus) {
  st.bus = bus;
  const cleanup = st.cleanup.bind(st);
  st.cleanup = async () => {
    for (const f of st.bus.followers) f.stop();
    await cleanup();
  };
  return st;
}

// A Stack whose broker runs with the bus on two free ports and a fresh
// broker key (in a temporary folder). opts as Stack.create.
export async function startBusStack(opts = {}) {
  const { args, bus } = await prepareBus();
  const { broker: brokerOpts = {}, ...rest } = opts;
  const st = await Stack.create({
    ...rest,
    broker: { ...brokerOpts, args: [...(brokerOpts.args || []), ...args] },
  });
  return attachBus(st, bus);
}

export function busEndpoints(st) {
  const { ingest, events, serverPublicKey } = st.bus;
  return { ingest, events, serverPublicKey };
}

// Registers an adapter bound to username; its key file goes beside the
// broker key. Waits until the broker has loaded it (it reloads every 2 s)
// unless wait is false.
export async function addAdapter(st, name, username, { wait = true } = {}) {
  const keyFile = path.join(st.bus.dir, `${name}.key`);
  const r = await tocsinctl(st, ['adapter', 'add', name, '--user', username, '--out', keyFile]);
  if (r.code !== 0) throw new Error(`tocsinctl adapter add ${name} failed (${r.code}): ${r.stderr}`);
  const a = { name, keyFile, username };
  if (wait) await waitAdapterLoaded(st, a);
  return a;
}

// Pings until the broker answers this adapter (its key is loaded).
export async function waitAdapterLoaded(st, adapter, timeoutMs = 20000) {
  const r = await busCall(st, adapter, 1, { type: 'ping' }, { timeoutMs, resendMs: 500 });
  if (r.code !== 0 || r.reply?.type !== 'pong') {
    throw new Error(`adapter ${adapter.name} not accepted by the broker: ${r.stderr}`);
  }
}

// Makes a key pair that is registered nowhere.
export async function strayKey(st, name) {
  const keyFile = path.join(st.bus.dir, `${name}.key`);
  const r = await run(TOCSINCTL, ['bus', 'keygen', '--out', keyFile]);
  if (r.code !== 0) throw new Error(`keygen failed: ${r.stderr}`);
  return { name, keyFile, publicKey: r.stdout.trim() };
}

function baseArgs(st, adapter) {
  return ['--endpoint', st.bus.ingest, '--server-key', st.bus.serverPublicKey, '--key', adapter.keyFile];
}

// One request: resolves { code, reply (parsed or null), stdout, stderr }.
// code 3: no reply in time. raw: send req (a string) as it is.
export async function busCall(st, adapter, seq, req, { timeoutMs = 15000, resendMs = 1000, raw = false, noReply = false } = {}) {
  const args = ['call', ...baseArgs(st, adapter), '--seq', String(seq), '--timeout-ms', String(timeoutMs),
    '--resend-ms', String(resendMs)];
  if (raw) args.push('--raw');
  if (noReply) args.push('--no-reply');
  args.push(typeof req === 'string' ? req : JSON.stringify(req));
  const r = await run(PROBE, args, { timeoutMs: timeoutMs + 30000 });
  let reply = null;
  if (r.code === 0 && r.stdout.trim()) {
    try { reply = JSON.parse(r.stdout.trim().split('\n').pop()); } catch { reply = null; }
  }
  return { ...r, reply };
}

// Follows the PUB stream with the adapter's key. Returns { events (array
// of {topic, event}), next(pred, timeoutMs), stop() }; resolves once the
// probe has subscribed (and a moment for the subscription to reach the
// broker).
// verify: a file of the broker's public alert keys; each alert event's
// line then says how its signature checked ("verified").
export async function busFollow(st, adapter, { topics = [], settleMs = 1500, verify } = {}) {
  const args = ['follow', '--endpoint', st.bus.events, '--server-key', st.bus.serverPublicKey,
    '--key', adapter.keyFile, '--timeout-ms', '600000'];
  for (const t of topics) args.push('--topic', t);
  if (verify) args.push('--verify', verify);
  const proc = spawn(PROBE, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const f = { events: [], stderr: '', proc, waiters: [] };
  let buf = '';
  proc.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try { f.events.push(JSON.parse(line)); } catch { /* partial */ }
      for (const w of [...f.waiters]) w();
    }
  });
  let ready;
  const readyP = new Promise((resolve) => { ready = resolve; });
  proc.stderr.on('data', (d) => { f.stderr += d; if (f.stderr.includes('ready')) ready(); });
  proc.on('exit', () => ready());
  f.next = (pred = () => true, timeoutMs = 10000) => new Promise((resolve, reject) => {
    const check = () => {
      const hit = f.events.find(pred);
      if (hit) {
        f.waiters = f.waiters.filter((w) => w !== check);
        clearTimeout(timer);
        resolve(hit);
        return true;
      }
      return false;
    };
    const timer = setTimeout(() => {
      f.waiters = f.waiters.filter((w) => w !== check);
      reject(new Error(`no matching bus event within ${timeoutMs} ms; saw ${JSON.stringify(f.events).slice(0, 2000)}; stderr ${f.stderr}`));
    }, timeoutMs);
    if (!check()) f.waiters.push(check);
  });
  f.stop = () => {
    st.bus.followers.delete(f);
    try { proc.kill('SIGTERM'); } catch { /* gone */ }
  };
  st.bus.followers.add(f);
  await readyP;
  await sleep(settleMs); // the CURVE handshake and the subscription reach the broker
  return f;
}
