// lib/cap.mjs: build/tocsin-cap for the CAP tests (110-113): run it, and
// register a CAP adapter on a bus stack with the arguments its import
// needs.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { ROOT } from './harness.mjs';
import * as bus from './bus.mjs';

export const CAP = path.join(ROOT, 'build/tocsin-cap');
export const EXAMPLES = path.join(ROOT, 'tests/cap/examples');

// Runs a program; resolves { code, out, err }.
export function runCap(file, args) {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 90_000, cwd: ROOT, maxBuffer: 16 << 20 }, (err, out, errOut) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, out, err: errOut }));
  });
}

export const show = (r) => `exit ${r.code}\nstdout: ${r.out}\nstderr: ${r.err}`;

// Registers adapter `name` (bound to the controller) and returns it with
// the arguments of `tocsin-cap import` (state in tmp, targets the sites;
// without sites, the document's own area and geocodes).
export async function capAdapter(st, tmp, name, sites) {
  const adapter = await bus.addAdapter(st, name, 'controller');
  const ep = bus.busEndpoints(st);
  const serverKey = path.join(tmp, 'server.key.pub');
  fs.writeFileSync(serverKey, `public ${ep.serverPublicKey}\n`);
  const args = ['--bus', ep.ingest, '--server-key', serverKey, '--key', adapter.keyFile,
    '--state', path.join(tmp, 'state'), '--timeout', '60',
    ...(sites ? ['--targets', JSON.stringify({ sites })] : [])];
  return { adapter, args };
}

// A console signs in to the alerts in force for its site (issue 17), the
// most urgent on the banner: acknowledges them all as that console, so
// that the banner of a page opened next shows what comes after.
export async function ackInForce(st, username) {
  const earlier = await st.connectAs(username, { label: 'ack-in-force' });
  await earlier.next('in_force_done', 20000);
  for (const m of earlier.seen.filter((x) => x.type === 'in_force')) {
    const r = await earlier.request({ type: 'ack', alert_id: m.alert_id ?? m.alert.id });
    if (r.type !== 'acked') throw new Error(`ack of an alert in force: ${JSON.stringify(r)}`);
  }
  earlier.close();
}
