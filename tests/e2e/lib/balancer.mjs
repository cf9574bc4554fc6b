// nginx as the load balancer in front of several brokers (issue 20):
// deploy/nginx-tocsin.conf as written, but for its addresses (127.0.0.1
// and free ports), run unprivileged (as the tocsin user) with a prefix of
// its own, in the foreground, stopped by the test.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { ROOT, waitFor, sleep, freePort } from './harness.mjs';

const EXAMPLE = path.join(ROOT, 'deploy/nginx-tocsin.conf');

// The example with its upstream servers replaced by nodes' ports and its
// listen line by port.
export function balancerConf(port, nodePorts) {
  const text = fs.readFileSync(EXAMPLE, 'utf8');
  const servers = nodePorts.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=5s;`).join('\n');
  const out = text
    .replace(/upstream tocsin \{[^}]*\}/, `upstream tocsin {\n${servers}\n}`)
    .replace(/listen 127\.0\.0\.1:\d+;/, `listen 127.0.0.1:${port};`);
  if (out === text) throw new Error(`${EXAMPLE}: no upstream or listen line to replace`);
  return out;
}

export class Balancer {
  constructor(nodes, label = 'balancer') {
    this.nodes = nodes;
    this.label = label;
    this.tls = null;
    this.stderr = '';
  }

  get httpUrl() { return `http://127.0.0.1:${this.port}`; }
  get wsUrl() { return `ws://127.0.0.1:${this.port}/ws`; }

  async start() {
    this.port = await freePort();
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tocsin-nginx-'));
    const conf = path.join(this.dir, 'nginx.conf');
    fs.writeFileSync(path.join(this.dir, 'tocsin.conf'), balancerConf(this.port, this.nodes.map((n) => n.port)));
    fs.writeFileSync(conf, [
      'worker_processes 1;', // one round-robin: the consoles split evenly
      `pid ${this.dir}/nginx.pid;`,
      `error_log ${this.dir}/error.log info;`,
      'events { worker_connections 1024; }',
      'http {',
      '  access_log off;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${this.dir}/${t};`),
      `  include ${this.dir}/tocsin.conf;`,
      '}', ''].join('\n'));
    const uid = Number(execFileSync('id', ['-u', 'tocsin']).toString());
    const gid = Number(execFileSync('id', ['-g', 'tocsin']).toString());
    execFileSync('chown', ['-R', `${uid}:${gid}`, this.dir]);
    this.proc = spawn('/usr/sbin/nginx', ['-e', `${this.dir}/error.log`, '-p', this.dir, '-c', conf, '-g', 'daemon off;'],
      { uid, gid, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout.on('data', (d) => { this.stderr += d; });
    this.proc.stderr.on('data', (d) => { this.stderr += d; });
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => { this.exit = { code, signal }; resolve(this.exit); }));
    await waitFor(async () => {
      if (this.exit) throw new Error(`nginx exited: ${this.stderr}${this.log()}`);
      try {
        const r = await fetch(`${this.httpUrl}/healthz`, { signal: AbortSignal.timeout(1000) });
        return r.status === 200;
      } catch { return false; }
    }, { timeoutMs: 20_000, intervalMs: 100, what: 'nginx to answer /healthz through a node' });
    return this;
  }

  log() {
    try { return fs.readFileSync(path.join(this.dir, 'error.log'), 'utf8'); } catch { return ''; }
  }

  async stop() {
    if (this.proc && !this.exit) {
      this.proc.kill('SIGQUIT');
      await Promise.race([this.exited, sleep(10_000)]);
      if (!this.exit) this.proc.kill('SIGKILL');
    }
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
