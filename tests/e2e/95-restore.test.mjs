// Backup and restore (issue 19, part 7), as docs/operations.md says to do
// it: pg_dump -Fc of a live database, deploy/restore.sh into an empty
// database on a fresh cluster, the broker started on it with the same
// keys. The restored stream is behind what a console saw (an alert was
// published after the dump): the restore gives the stream a new epoch, so
// that console is told to reload (epoch_changed) instead of resuming past
// positions the restored stream will give out again; the audit trail
// verifies with the same audit key, the new-epoch row included.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { consoleDirectory, ROOT, run } from './lib/harness.mjs';
import { BrokerFiles, PgCluster, stackOnCluster, publish, connectResume, cursorOf } from './lib/faults.mjs';
import { verifyAudit, waitAllSealed } from './lib/audit.mjs';

describe('backup with pg_dump, restore into a fresh cluster', { timeout: 600_000 }, () => {
  let src, dst, st, back, files, dir, dump, site;
  let before_ = {}; // what the console had seen on the source

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tocsin-restore-'));
    fs.chmodSync(dir, 0o755); // pg_dump runs as us, but keep it readable
    dump = path.join(dir, 'tocsin.dump');
    files = new BrokerFiles('restore');
    src = await PgCluster.create('restore-src');
    st = await stackOnCluster(src, { label: `${import.meta.url}-source`, broker: { args: files.args() } });
  });
  after(async () => {
    await st?.cleanup();
    await back?.cleanup();
    await src?.destroy();
    await dst?.destroy();
    files?.remove();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('dumps a live database; an alert is published after the dump', async () => {
    site = (await consoleDirectory(st))[0];
    const ctl = await st.connectAs('controller');
    const con = await st.connect(await st.token(site.username), { label: 'console' });
    const pub = (headline) => publish(ctl, { headline, severity: 'moderate', targets: { sites: [site.site_id] } });
    const kept = await pub(`Before the backup ${Date.now()}`);
    await con.next((m) => m.type === 'alert' && m.alert.id === kept.alert_id, 10_000, 'the first alert');
    await waitAllSealed(st);
    const d = await run('pg_dump', ['-Fc', '-f', dump, '-d', src.superUrl], { timeoutMs: 120_000 });
    assert.equal(d.code, 0, d.stderr);
    const lost = await pub(`After the backup ${Date.now()}`);
    await con.next((m) => m.type === 'alert' && m.alert.id === lost.alert_id, 10_000, 'the second alert');
    before_ = { kept, lost, cursor: cursorOf(con), epoch: con.welcome.stream.epoch };
    assert.equal(before_.cursor.seq, lost.seq);
    await st.stop();
  });

  it('restores into an empty database with deploy/restore.sh, which sets a new epoch', async () => {
    assert.ok(before_.cursor, 'the dump was made');
    dst = await PgCluster.create('restore-dst', { empty: true });
    const r = await run(path.join(ROOT, 'deploy/restore.sh'), [dump, dst.superUrl], { timeoutMs: 240_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /new epoch is [0-9a-f]{32}/);
    // a second restore into the same database is refused: never a merge
    const again = await run(path.join(ROOT, 'deploy/restore.sh'), [dump, dst.superUrl], { timeoutMs: 120_000 });
    assert.equal(again.code, 1, again.stdout + again.stderr);
    assert.match(again.stderr, /already has \d+ tables/);
  });

  it('the broker on the restored database: a new epoch, the console told to reload, the audit intact', async () => {
    assert.ok(dst, 'restored');
    back = await stackOnCluster(dst, { label: `${import.meta.url}-restored`, broker: { args: files.args() } });
    const epoch = (await back.one('SELECT epoch FROM stream_meta')).epoch;
    assert.notEqual(epoch, before_.epoch, 'the restore changed the epoch');
    const row = await back.one(`SELECT detail FROM audit WHERE action = 'stream_new_epoch'`);
    assert.equal(row.detail.old_epoch, before_.epoch);
    assert.equal(row.detail.new_epoch, epoch);
    // what was dumped is there, what came after is not
    const ids = (await back.query('SELECT id FROM alerts')).map((r) => String(r.id));
    assert.ok(ids.includes(String(before_.kept.alert_id)), 'the alert from before the dump is restored');
    assert.ok(!ids.includes(String(before_.lost.alert_id)), 'the alert after the dump is not');

    const s = await connectResume(back.broker, await back.token(site.username), before_.cursor, { label: 'console-after-restore' });
    back.sessions.push(s);
    assert.equal(s.welcome.resume.status, 'reload', JSON.stringify(s.welcome));
    assert.equal(s.welcome.resume.reason, 'epoch_changed');
    assert.equal(s.welcome.stream.epoch, epoch);

    await waitAllSealed(back);
    const v = await verifyAudit(back, { keyFile: path.join(files.dir, 'audit.key') });
    assert.equal(v.code, 0, v.out);
    assert.doesNotMatch(v.out, /deleted|edited|behind/i, v.out);
  });
});
