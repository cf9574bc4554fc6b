// Never silent (11): the journal on a full disk, and a damaged journal
// (issue 16, item 2). With PostgreSQL stopped, publishes go to the journal.
// On a nearly full file system a short write left a torn line; it was
// answered `unavailable` (right) but the bytes stayed, later publishes were
// confirmed `durable: "journal"` and appended after the fragment, and after a
// kill -9 the loader stopped at the torn line and truncated everything
// after it: confirmed alerts never reached PostgreSQL. Now a failed or short
// write leaves the journal exactly as it was, every record carries its own
// checksum, and the loader skips a damaged record that good ones follow
// (loudly) and drops only a torn tail (broker/io/journal.c).
//
// The full disk is a tmpfs of 256 KiB mounted by the test under a
// temporary directory (root only; the test is skipped, saying why, where
// mount is refused).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { consoleDirectory } from './lib/harness.mjs';
import {
  PgCluster, stackOnCluster, BrokerFiles, killBroker, startLike, waitHealth, publish, reconnectPg,
  journalRecords, stopStack, waitForLog,
} from './lib/faults.mjs';

// Mounts a small tmpfs; returns its path, or the reason it could not.
function mountSmallDisk() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tocsin-fulldisk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', dir], { stdio: 'pipe', timeout: 10_000 });
    return { dir };
  } catch (err) {
    fs.rmdirSync(dir);
    return { reason: `cannot mount a tmpfs (${String(err.stderr || err.message).trim()}); run as root to test the full disk` };
  }
}

// Fills the file system that holds dir; returns the filler's path.
function fill(dir) {
  const filler = path.join(dir, 'filler');
  const fd = fs.openSync(filler, 'w');
  const chunk = Buffer.alloc(4096, 0x78);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (err) {
    if (err.code !== 'ENOSPC') throw err;
  } finally {
    fs.closeSync(fd);
  }
  return filler;
}

describe('the journal on a full disk, and a damaged journal', { timeout: 240_000 }, () => {
  let cluster, st, files, disk, ctl, site;

  before(async () => {
    disk = mountSmallDisk();
    files = new BrokerFiles('fulldisk');
    cluster = await PgCluster.create('fulldisk');
    const journal = disk.dir ? path.join(disk.dir, 'tocsin.journal') : files.journal;
    st = await stackOnCluster(cluster, { label: '18_journal_full_disk',
      broker: { args: ['--token-key', files.keyFile, '--journal', journal, '--rate-limit', '100000'] } });
    files.journal = journal;
    [site] = await consoleDirectory(st);
    ctl = await st.connectAs('controller');
  });
  after(async () => {
    await st?.cleanup();
    await cluster?.destroy();
    if (disk?.dir) {
      try { execFileSync('umount', [disk.dir], { stdio: 'pipe', timeout: 10_000 }); } catch { /* already gone */ }
      fs.rmSync(disk.dir, { recursive: true, force: true });
    }
    files?.remove();
  });

  const alert = (headline, body = '') => ({ headline, body, severity: 'minor', targets: { sites: [site.site_id] } });

  // Sends a publish and returns the reply, whatever it is.
  async function tryPublish(fields) {
    return ctl.request({ type: 'publish', ...fields }, 10_000);
  }

  async function restartWithDatabase() {
    await killBroker(st.broker);
    await cluster.start();
    st.broker = await startLike(st.broker);
    await waitHealth(st.broker, (b, status) => status === 200 && b.status === 'ok' && b.journal === 0,
      { timeoutMs: 60_000, what: 'the journal written back' });
    await reconnectPg(st);
    ctl = await st.connectAs('controller');
  }

  it('a write refused by a full disk leaves the journal as it was; every alert confirmed after it reaches PostgreSQL', async (t) => {
    if (!disk.dir) { t.skip(disk.reason); return; }
    await cluster.stop();
    await waitHealth(st.broker, (b) => b.db === 'down', { what: 'the broker sees the database down' });
    const confirmed = [await publish(ctl, alert('Before the disk fills'))];
    assert.equal(confirmed[0].durable, 'journal');
    const before = fs.readFileSync(files.journal);
    const filler = fill(disk.dir);
    try {
      // a record longer than what is left of the journal's last page
      const refused = await tryPublish(alert('The disk is full', 'x'.repeat(3500)));
      assert.equal(refused.type, 'error', JSON.stringify(refused));
      assert.equal(refused.code, 'unavailable', JSON.stringify(refused));
    } finally {
      fs.rmSync(filler);
    }
    const after = fs.readFileSync(files.journal);
    if (!after.equals(before)) {
      console.log(`# the refused write left ${after.length - before.length} bytes in the journal`);
    }
    for (let i = 0; i < 5; i++) {
      const p = await publish(ctl, alert(`After the disk was freed ${i}`));
      assert.equal(p.durable, 'journal');
      confirmed.push(p);
    }
    await restartWithDatabase();
    const ids = confirmed.map((p) => p.alert_id);
    const rows = await st.query('SELECT id FROM alerts WHERE id = ANY($1)', [ids]);
    assert.deepEqual(rows.map((r) => r.id).sort(), [...ids].sort(), 'every alert confirmed durable: "journal" is in PostgreSQL');
    const [{ n }] = await st.query(`SELECT count(*)::int AS n FROM alerts WHERE headline = 'The disk is full'`);
    assert.equal(n, 0, 'the refused alert was not published');
    assert.ok(after.equals(before), 'the refused write left the journal exactly as it was');
  });

  it('a damaged record that good ones follow is skipped, loudly; a torn tail is dropped; records without a checksum still load', async () => {
    if (!cluster.running) await cluster.start();
    await cluster.stop();
    await waitHealth(st.broker, (b) => b.db === 'down', { what: 'the broker sees the database down' });
    const q = [];
    for (let i = 0; i < 3; i++) q.push(await publish(ctl, alert(`Journal record ${i}`)));
    await killBroker(st.broker);
    const lines = fs.readFileSync(files.journal, 'utf8').split('\n').filter(Boolean);
    const recs = journalRecords(lines.join('\n'));
    const at = (id) => recs.findIndex((r) => r.k === 'publish' && r.r.alert_id === id);
    assert.ok(q.every((p) => at(p.alert_id) >= 0), 'the three publishes are in the journal');
    // the first as an older broker wrote it (no checksum), the second cut in
    // the middle, and half a record at the end
    const first = lines[at(q[0].alert_id)], second = lines[at(q[1].alert_id)];
    lines[at(q[0].alert_id)] = first.slice(first.indexOf('{'));
    lines[at(q[1].alert_id)] = second.slice(0, 40) + second.slice(80);
    const torn = lines[at(q[2].alert_id)];
    fs.writeFileSync(files.journal, lines.join('\n') + '\n' + torn.slice(0, torn.length / 2));
    await cluster.start();
    st.broker = await startLike(st.broker);
    await waitHealth(st.broker, (b, status) => status === 200 && b.status === 'ok' && b.journal === 0,
      { timeoutMs: 60_000, what: 'the journal written back' });
    await reconnectPg(st);
    const rows = await st.query('SELECT id FROM alerts WHERE id = ANY($1)', [q.map((p) => p.alert_id)]);
    assert.deepEqual(rows.map((r) => r.id).sort(), [q[0].alert_id, q[2].alert_id].sort(),
      'the record without a checksum and the one after the damaged record are written back');
    await waitForLog(st.broker, /journal: .*damaged record.*skipped/);
    await waitForLog(st.broker, /journal: .*torn record at the end.*dropped/);
    ctl = await st.connectAs('controller');
    assert.equal((await publish(ctl, alert('After the repair'))).durable, 'database');
  });

  it('stops cleanly (no sanitizer report)', async () => {
    await stopStack(st);
  });
});
