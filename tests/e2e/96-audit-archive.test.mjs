// The sealed audit chain archived to a file and checked offline (issue 19,
// part 7): `tocsinctl audit archive --to FILE` writes every row up to the
// last seal with its seal; `tocsinctl audit verify --archive FILE
// --audit-key K` recomputes the chain with no database (none is named, and
// the database is stopped meanwhile by no one: the command is given no URL
// and DATABASE_URL is unset). An edited row, a removed line, a file cut
// short and the wrong key are each caught.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Stack, ROOT, run } from './lib/harness.mjs';
import { waitAllSealed } from './lib/audit.mjs';

const TOCSINCTL = path.join(ROOT, 'build/tocsinctl');

describe('audit archive, verified offline', { timeout: 180_000 }, () => {
  let st, dir, archive, key, lines;

  // verify --archive with no database anywhere in reach
  const verifyArchive = (file, keyFile = key) => run(TOCSINCTL, ['audit', 'verify', '--archive', file, '--audit-key', keyFile],
    { env: { DATABASE_URL: '', PGHOST: '/nonexistent', PGDATABASE: 'none' }, timeoutMs: 60_000 });
  // a copy of the archive with its lines changed by fn
  const variant = (name, fn) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, fn([...lines]).join('\n') + '\n');
    return file;
  };

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tocsin-archive-'));
    archive = path.join(dir, 'audit.jsonl');
    key = path.join(path.dirname(st.broker.keyFile), 'audit.key');
  });
  after(async () => {
    await st?.cleanup();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('archives the sealed chain: every row up to the last seal, with its seal', async () => {
    const ctl = await st.connectAs('controller');
    const site = await st.one('SELECT s.id FROM sites s JOIN users u ON u.site_id = s.id ORDER BY s.id LIMIT 1');
    const pub = await ctl.request({ type: 'publish', headline: 'Archive test, a "quoted" line\nand another', severity: 'minor', targets: { sites: [site.id] } });
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    await waitAllSealed(st);
    const r = await run(TOCSINCTL, ['audit', 'archive', '--to', archive, '--database', st.db.brokerUrl], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const { last, n } = await st.one('SELECT max(audit_id)::float8 AS last, count(*)::int AS n FROM audit_seal');
    assert.match(r.stdout, new RegExp(`audit archive: ${n} entries, up to audit row ${last}`));
    lines = fs.readFileSync(archive, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, n + 2, 'a header, an entry per sealed row, an end line');
    const head = JSON.parse(lines[0]);
    assert.equal(head.format, 'tocsin-audit-archive');
    assert.equal(head.last_sealed, last);
    assert.deepEqual(JSON.parse(lines.at(-1)), { end: true, entries: n });
    const published = lines.slice(1, -1).map((l) => JSON.parse(l)).find((e) => e.detail?.includes('Archive test'));
    assert.ok(published, 'the publish row, with its detail');
    assert.match(published.row, /\x1fsha256:[0-9a-f]{64}$/, 'its seal covers the digest of the detail');
    assert.match(published.seal, /^\\x[0-9a-f]{64}$/);
    assert.equal(fs.statSync(archive).mode & 0o777, 0o640);
  });

  it('verifies offline, without a database', async () => {
    assert.ok(lines, 'archived');
    const r = await verifyArchive(archive);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`audit chain intact: ${lines.length - 2} rows sealed, 0 awaiting`));
  });

  it('catches an edited row, a removed entry, a file cut short and the wrong key', async () => {
    assert.ok(lines, 'archived');
    const mid = Math.floor(lines.length / 2);
    const e = JSON.parse(lines[mid]);
    const edited = variant('edited.jsonl', (l) => { l[mid] = JSON.stringify({ ...e, row: e.row.replace('\x1f', '\x1f1') }); return l; }); // its time
    let r = await verifyArchive(edited);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, new RegExp(`BROKEN at audit row ${e.id}: the row or the chain before it was changed`));

    const withDetail = lines.findIndex((l, i) => i > 0 && JSON.parse(l).detail);
    const d = JSON.parse(lines[withDetail]);
    const forged = variant('detail.jsonl', (l) => { l[withDetail] = JSON.stringify({ ...d, detail: d.detail.replace(/}$/, ', "x": 1}') }); return l; });
    r = await verifyArchive(forged);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, new RegExp(`BROKEN at audit row ${d.id}: its detail is not the one sealed`));

    const removed = variant('removed.jsonl', (l) => {
      l.splice(mid, 1);
      l[l.length - 1] = JSON.stringify({ end: true, entries: lines.length - 3 });
      return l;
    });
    r = await verifyArchive(removed);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, /BROKEN at audit row \d+: the row or the chain before it was changed/);

    const cut = variant('cut.jsonl', (l) => l.slice(0, -3));
    r = await verifyArchive(cut);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, /BROKEN: the archive is cut short/);

    const cutAndEnded = variant('cut-ended.jsonl', (l) => [...l.slice(0, -3), JSON.stringify({ end: true, entries: lines.length - 4 })]);
    r = await verifyArchive(cutAndEnded);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, /BROKEN: the archive ends at audit row \d+, its header says/);

    const otherKey = path.join(dir, 'other.key');
    fs.writeFileSync(otherKey, Buffer.alloc(32, 7));
    r = await verifyArchive(archive, otherKey);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, /BROKEN at audit row \d+/);

    r = await verifyArchive(path.join(dir, 'no-such.jsonl'));
    assert.equal(r.code, 2, r.stdout + r.stderr);
    r = await verifyArchive(variant('garbage.jsonl', () => ['not json']));
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, /not a tocsin audit archive/);
  });
});
