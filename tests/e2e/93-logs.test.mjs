// The broker's log lines (issue 19, part 5): --log-format json gives one
// JSON object per line (ts, level, msg, and session and ref while a
// request is being handled); under systemd (JOURNAL_STREAM names the file
// stderr is) each line starts with its syslog priority, <3> error ... <7>
// debug, which journald files the line under (journalctl -p); anywhere
// else, no prefix.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  ROOT, createDatabase, httpRequest, makeKeys, openSocket, waitFor,
} from './lib/harness.mjs';

const BINARY = process.env.TOCSIN_BROKER || path.join(ROOT, 'build/san/tocsind');

function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

// A broker whose stderr and stdout are a file (as the journal's stream is
// a socket of its own); env adds to the environment, with JOURNAL_STREAM
// set to the file's "dev:ino" when journal is true.
async function brokerToFile(db, dir, { journal, args = [] }) {
  const out = path.join(dir, `broker-${journal ? 'journal' : 'plain'}.log`);
  const fd = fs.openSync(out, 'w');
  const st = fs.fstatSync(fd);
  makeKeys(dir);
  fs.mkdirSync(path.join(dir, 'journal'), { recursive: true });
  const port = await freePort();
  const proc = spawn(BINARY, ['--listen', `127.0.0.1:${port}`, '--database', db.brokerUrl,
    '--web-root', path.join(ROOT, 'web-client'), '--token-key', path.join(dir, 'token.key'),
    '--journal', path.join(dir, 'journal', `${journal ? 'j' : 'p'}.journal`), ...args], {
    cwd: ROOT, stdio: ['ignore', fd, fd],
    env: { ...process.env, TOCSIN_ALLOW_ROOT: '1', TOCSIN_CONFIG: '/dev/null', ASAN_OPTIONS: 'detect_leaks=1:exitcode=66',
      JOURNAL_STREAM: journal ? `${st.dev}:${st.ino}` : '1:1' },
  });
  fs.closeSync(fd);
  const exited = new Promise((resolve) => proc.on('exit', (code) => resolve(code)));
  const b = { port, tls: null, wsUrl: `ws://127.0.0.1:${port}/ws`, proc, exited, out, lines: () => fs.readFileSync(out, 'utf8').split('\n').filter(Boolean) };
  await waitFor(async () => (await httpRequest(b, 'GET', '/healthz', { timeoutMs: 1000 })).status === 200,
    { timeoutMs: 20_000, what: `the broker on ${port} (log ${out})` });
  return b;
}

async function stop(b) {
  b.proc.kill('SIGTERM');
  assert.equal(await b.exited, 0, fs.readFileSync(b.out, 'utf8').slice(-3000));
}

describe('log lines: JSON, and syslog priorities for the journal', { timeout: 120_000 }, () => {
  let db, dir;
  before(async () => {
    db = await createDatabase('logs');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tocsin-logs-'));
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('--log-format json: an object per line, with the session and ref of the request being handled', async () => {
    const b = await brokerToFile(db, dir, { journal: false, args: ['--log-format', 'json'] });
    try {
      const s = await openSocket(b, { label: 'bad hello' });
      s.send({ type: 'hello', ref: 'hello-"1"', token: 'v1.not.a-token' });
      await s.next((m) => m.type === 'error', 5000, 'the refusal');
      await waitFor(() => b.lines().some((l) => l.includes('hello-')), { what: 'the refusal logged' });
    } finally {
      await stop(b);
    }
    const lines = b.lines();
    assert.ok(lines.length >= 4, lines.join('\n'));
    const objs = lines.map((l) => { try { return JSON.parse(l); } catch { assert.fail(`not JSON: ${l}`); } });
    for (const o of objs) {
      assert.match(o.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.ok(['debug', 'info', 'warn', 'error'].includes(o.level), JSON.stringify(o));
      assert.equal(typeof o.msg, 'string');
    }
    const refused = objs.find((o) => o.ref === 'hello-"1"');
    assert.ok(refused, `a line with the hello's ref: ${lines.join('\n')}`);
    assert.equal(typeof refused.session, 'number');
    assert.ok(objs.some((o) => o.level === 'info' && /listening on/.test(o.msg)));
    assert.ok(!objs.some((o) => o.msg.startsWith('<')), 'no priority prefix outside the journal');
  });

  it('JOURNAL_STREAM naming stderr: a <N> priority at the start of every log line', async () => {
    const conf = path.join(dir, 'tocsind.conf');
    fs.writeFileSync(conf, 'log-level = info\n');
    const b = await brokerToFile(db, dir, { journal: true, args: ['--config', conf] });
    // an error: a reload whose settings do not parse
    fs.writeFileSync(conf, 'log-level = loud\n');
    b.proc.kill('SIGHUP');
    await waitFor(() => b.lines().some((l) => /reload done/.test(l)), { what: 'the reload' });
    await stop(b);
    const lines = b.lines();
    // conf.c's own messages (what is wrong in the file) stay as they are
    for (const l of lines.filter((x) => !x.startsWith('tocsind: '))) {
      assert.match(l, /^<[3467]>\d{4}-/, `a log line with its priority: ${l}`);
    }
    assert.ok(lines.some((l) => /^<3>.* error: reload: the settings have errors/.test(l)), 'an error is <3>');
    assert.ok(lines.some((l) => /^<4>.* warn: running as root/.test(l)), 'a warning is <4>');
    assert.ok(lines.some((l) => /^<6>.* info: listening on/.test(l)), 'information is <6>');
  });

  it('a JOURNAL_STREAM that is another file: no prefix', async () => {
    const b = await brokerToFile(db, dir, { journal: false });
    await stop(b);
    const lines = b.lines();
    assert.ok(lines.length >= 2);
    for (const l of lines) assert.match(l, /^\d{4}-\d\d-\d\dT/, l);
  });
});
