// Out of file descriptors (issue 22): the broker that cannot accept
// (EMFILE) leaves the connections in the listen queue, says so once,
// serves its signed-in consoles meanwhile, and
// accepts again once descriptors are free. The broker's RLIMIT_NOFILE is
// lowered while it runs (prlimit) to a few more than it holds.
//
// lws' own accept logged "accept: errno 24" (EMFILE) at every attempt: a
// busy loop on a listen socket that stayed readable.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { Stack, run } from './lib/harness.mjs';
import { publish, claimsFor, waitForLog, logLines, stopStack } from './lib/faults.mjs';

const SPARE = 4;       // descriptors left to the broker under the lowered limit
const CONNECTIONS = 20; // silent connections opened at once

function silent(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.on('error', reject);
  });
}

const openFiles = (pid) => fs.readdirSync(`/proc/${pid}/fd`).length;

async function setFiles(pid, n) {
  // the soft limit only: raising it back needs no privilege
  const r = await run('prlimit', ['--pid', String(pid), `--nofile=${n}:`]);
  assert.equal(r.code, 0, `prlimit: ${r.stderr}`);
}

describe('out of file descriptors', { timeout: 120_000 }, () => {
  let st, ctl, consoleS, users, orgs, pid, before0;
  const silentOnes = [];

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    users = await st.query(`SELECT u.id, u.username, u.role, u.org_id, u.site_id, u.cleared_sensitive, s.guard_org_id
                              FROM users u JOIN sites s ON s.id = u.site_id
                             WHERE u.role = 'site_console' AND NOT u.disabled ORDER BY u.id`);
    orgs = [...new Set(users.map((u) => u.guard_org_id))].sort((a, b) => a - b);
    ctl = await st.connectAs('controller');
    consoleS = await st.connect(st.forgeToken(claimsFor(users[0])), { label: 'signed-in console' });
    pid = st.broker.proc.pid;
    before0 = (await run('prlimit', ['--pid', String(pid), '--nofile', '--raw', '--noheadings', '--output', 'SOFT,HARD'])).stdout.trim().split(/\s+/);
  });
  after(async () => {
    for (const s of silentOnes) s.destroy();
    await st?.cleanup();
  });

  it('runs out, logs it once, and keeps serving the signed-in console', async () => {
    await setFiles(pid, openFiles(pid) + SPARE);
    for (let i = 0; i < CONNECTIONS; i++) silentOnes.push(await silent(st.broker.port));
    await waitForLog(st.broker, /accept: (out of file descriptors|errno 24)/, 30_000);
    const live = await publish(ctl, { headline: `Meanwhile ${Date.now()}`, severity: 'minor', targets: { orgs } });
    await consoleS.next((m) => m.type === 'alert' && m.alert.id === live.alert_id, 20_000, 'the alert, meanwhile');
    consoleS.send({ type: 'ping', ref: 'a' });
    await consoleS.next((m) => m.type === 'pong', 20_000, 'a pong');
    const lines = st.broker.stderr.split('\n').filter((l) => /errno 24|out of file descriptors/.test(l));
    assert.equal(lines.length, 1, `one line about it, not one per attempt:\n${logLines(st.broker, /files|descriptors/)}`);
  });

  it('accepts again once descriptors are free, and a console signs in', async () => {
    for (const s of silentOnes.splice(0)) s.destroy();
    await waitForLog(st.broker, /accepting again after/, 30_000);
    const s = await st.connect(st.forgeToken(claimsFor(users[1])), { label: 'after', timeoutMs: 30_000 });
    assert.equal(s.welcome.type, 'welcome');
    const lines = st.broker.stderr.split('\n').filter((l) => /errno 24|out of file descriptors/.test(l));
    assert.equal(lines.length, 2, `one line when it ran out, one when it caught up:\n${lines.join('\n')}`);
    await setFiles(pid, Number(before0[0]) || 20000);
    await stopStack(st);
  });
});
