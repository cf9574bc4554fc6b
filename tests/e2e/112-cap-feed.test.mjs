// The CAP feed (issue 18, item 5; docs/protocol.md, "CAP feed (HTTP)"):
// GET /api/cap/feed is an Atom feed of the alerts in force the caller may
// read, each linking to its CAP document; it validates against the Atom
// schema of RFC 4287 (tests/cap/atom/atom.rng, with xmllint), carries an
// enveloped XML Signature xmlsec1 accepts, is refused without a token,
// lists per role like every other read, and is audited as a disclosure.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Stack, ROOT, run } from './lib/harness.mjs';

const TOCSINCTL = path.join(ROOT, 'build/tocsinctl');
const ATOM_RNG = path.join(ROOT, 'tests/cap/atom/atom.rng');

const entryIds = (xml) => [...xml.matchAll(/<entry>\s*<id>urn:tocsin:alert:(\d+)<\/id>/g)].map((m) => Number(m[1]));

describe('GET /api/cap/feed: an Atom feed of the alerts in force', { timeout: 300_000 }, () => {
  let st;
  let tmp;
  let keys;
  let site;
  const ids = {};

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tocsin-112-'));
    keys = path.join(tmp, 'keys');
    const r = await run(TOCSINCTL, ['keys', 'init', '--dir', keys, ...(process.getuid() === 0 ? ['--group', 'root'] : [])]);
    assert.equal(r.code, 0, r.stderr);
    st = await Stack.create({ label: import.meta.url, args: ['--cap-sign-key', path.join(keys, 'cap_sign.key')] });
    site = (await st.one("SELECT id FROM sites WHERE name = 'Threadneedle Exchange House'")).id;
    const ctl = await st.connectAs('controller');
    const pub = async (req) => {
      const rep = await ctl.request({ type: 'publish', ...req }, 15_000);
      assert.equal(rep.type, 'published', JSON.stringify(rep));
      return rep.alert_id;
    };
    ids.kept = await pub({ headline: 'Road closed <Cheapside> & Bank', severity: 'moderate', targets: { sites: [site] } });
    ids.gone = await pub({ headline: 'Cancelled soon', severity: 'minor', targets: { sites: [site] } });
    ids.cancel = await pub({ msg_type: 'cancel', references: ids.gone });
    ids.old = await pub({ headline: 'Suspect seen', severity: 'severe', targets: { sites: [site] } });
    ids.update = await pub({ msg_type: 'update', references: ids.old, headline: 'Suspect arrested' });
  });
  after(async () => {
    await st?.cleanup();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  async function feed(username) {
    const token = await st.token(username);
    return st.http('GET', '/api/cap/feed', { headers: { authorization: `Bearer ${token}` } });
  }

  it('lists the alerts in force, validates as Atom and verifies with xmlsec1', async () => {
    const r = await feed('controller');
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers['content-type'], /^application\/atom\+xml/);
    const file = path.join(tmp, 'feed.xml');
    fs.writeFileSync(file, r.text);
    const v = await run('/usr/bin/xmllint', ['--noout', '--relaxng', ATOM_RNG, file]);
    assert.equal(v.code, 0, `the feed is valid Atom: ${v.stderr}\n${r.text}`);
    const got = entryIds(r.text);
    assert.ok(got.includes(ids.kept) && got.includes(ids.update), `${JSON.stringify(ids)} in ${got}`);
    for (const k of ['gone', 'cancel', 'old']) assert.ok(!got.includes(ids[k]), `${k} is not in force`);
    assert.deepEqual(got, [...got].sort((a, b) => b - a), 'newest first');
    assert.ok(r.text.includes(`<link rel="alternate" type="application/cap+xml" href="http://127.0.0.1:${st.broker.port}/api/alerts/${ids.kept}/cap"/>`), r.text);
    assert.ok(r.text.includes('<title>Road closed &lt;Cheapside&gt; &amp; Bank</title>'), r.text);
    const ok = await run('/usr/bin/xmlsec1', ['--verify', '--pubkey-pem', path.join(keys, 'cap_sign.pub.pem'), file]);
    assert.equal(ok.code, 0, `xmlsec1 accepts the feed: ${ok.stderr}`);
    fs.writeFileSync(file, r.text.replace('Suspect arrested', 'Suspect released'));
    const bad = await run('/usr/bin/xmlsec1', ['--verify', '--pubkey-pem', path.join(keys, 'cap_sign.pub.pem'), file]);
    assert.notEqual(bad.code, 0, 'an altered feed fails');
  });

  it('lists per role: a recipient console sees its alerts, a company guarding none sees none of them', async () => {
    const con = entryIds((await feed('console.threadneedle')).text);
    assert.ok(con.includes(ids.kept) && con.includes(ids.update), String(con));
    const other = await feed('op.bastion');
    assert.equal(other.status, 200);
    const got = entryIds(other.text);
    for (const k of ['kept', 'update']) assert.ok(!got.includes(ids[k]), `op.bastion does not see ${k}`);
    const file = path.join(tmp, 'bastion.xml');
    fs.writeFileSync(file, other.text);
    const v = await run('/usr/bin/xmllint', ['--noout', '--relaxng', ATOM_RNG, file]);
    assert.equal(v.code, 0, v.stderr);
  });

  it('is refused without a token, and audited as a disclosure', async () => {
    const none = await st.http('GET', '/api/cap/feed');
    assert.equal(none.status, 401);
    assert.equal(none.json.error.code, 'auth_missing');
    const forged = await st.http('GET', '/api/cap/feed', { headers: { authorization: 'Bearer v1.AAAA.BBBB' } });
    assert.equal(forged.status, 401);
    const post = await st.http('POST', '/api/cap/feed', { body: {} });
    assert.equal(post.status, 405);
    const row = await st.one(`SELECT actor_username, detail, tocsin_audit_category(action) AS category FROM audit
                               WHERE action = 'cap_feed_export' AND actor_username = 'console.threadneedle'
                               ORDER BY id DESC LIMIT 1`);
    assert.equal(row.category, 'disclosure');
    assert.ok(row.detail.alerts.map(Number).includes(ids.kept), JSON.stringify(row.detail));
  });
});
