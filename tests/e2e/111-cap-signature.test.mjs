// Signed CAP (issue 23, "Signed alerts", the CAP part; docs/security.md,
// "CAP signatures"): `tocsinctl keys init` makes cap_sign.key and its
// public cap_sign.pub.pem; the broker, given the key, exports CAP
// pretty-printed with an enveloped XML Signature that `xmlsec1 --verify`
// accepts against the published key, and refuses once one character of
// the headline is changed, or against another key. The signed export is
// still valid CAP 1.2.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Stack, ROOT, run } from './lib/harness.mjs';

const TOCSINCTL = path.join(ROOT, 'build/tocsinctl');
const CAP = path.join(ROOT, 'build/tocsin-cap');
const XMLSEC = '/usr/bin/xmlsec1';

describe('CAP exports carry an XML Signature xmlsec1 checks', { timeout: 300_000 }, () => {
  let st;
  let tmp;
  let keys;
  let site;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tocsin-111-'));
    keys = path.join(tmp, 'keys');
    const group = process.getuid() === 0 ? 'root' : undefined;
    const r = await run(TOCSINCTL, ['keys', 'init', '--dir', keys, '--json', ...(group ? ['--group', group] : [])]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout)[0];
    assert.equal(out.cap_sign_key, path.join(keys, 'cap_sign.key'));
    assert.equal(out.cap_sign_public_key, path.join(keys, 'cap_sign.pub.pem'));
    st = await Stack.create({ label: import.meta.url, args: ['--cap-sign-key', out.cap_sign_key] });
    site = (await st.one("SELECT id FROM sites WHERE name = 'Threadneedle Exchange House'")).id;
  });
  after(async () => {
    await st?.cleanup();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('keys init makes the key private to the broker and the public key readable', () => {
    assert.equal(fs.statSync(path.join(keys, 'cap_sign.key')).mode & 0o777, 0o640);
    assert.equal(fs.statSync(path.join(keys, 'cap_sign.pub.pem')).mode & 0o777, 0o644);
    assert.match(fs.readFileSync(path.join(keys, 'cap_sign.key'), 'utf8'), /^-----BEGIN PRIVATE KEY-----\n/);
    assert.match(fs.readFileSync(path.join(keys, 'cap_sign.pub.pem'), 'utf8'), /^-----BEGIN PUBLIC KEY-----\n/);
  });

  it('xmlsec1 --verify accepts the export and refuses it after one character of the headline changes', async () => {
    const ctl = await st.connectAs('controller');
    const rep = await ctl.request({ type: 'publish', headline: 'Suspect package at Bank station', body: 'Keep clear',
      severity: 'severe', targets: { sites: [site] } }, 15_000);
    assert.equal(rep.type, 'published', JSON.stringify(rep));
    const token = await st.token('controller');
    const x = await st.http('GET', `/api/alerts/${rep.alert_id}/cap`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(x.status, 200, x.text);
    // pretty-printed, the signature the last child of <alert>
    assert.match(x.text, /\n  <identifier>urn:tocsin:alert:\d+<\/identifier>\n/);
    assert.match(x.text, /<Signature xmlns="http:\/\/www\.w3\.org\/2000\/09\/xmldsig#">[\s\S]*<\/Signature>\s*<\/alert>\s*$/);
    assert.match(x.text, /Algorithm="http:\/\/www\.w3\.org\/2001\/04\/xmldsig-more#ecdsa-sha256"/);
    const file = path.join(tmp, 'signed.xml');
    fs.writeFileSync(file, x.text);
    const pub = path.join(keys, 'cap_sign.pub.pem');
    const ok = await run(XMLSEC, ['--verify', '--pubkey-pem', pub, file]);
    assert.equal(ok.code, 0, `xmlsec1 accepts the export: ${ok.stderr}\n${x.text}`);
    assert.match(ok.stderr, /^OK/m);
    const valid = await run(CAP, ['validate', '--schema-only', file]);
    assert.equal(valid.code, 0, `the signed export is valid CAP 1.2: ${valid.stdout}${valid.stderr}`);

    const altered = path.join(tmp, 'altered.xml');
    assert.ok(x.text.includes('<headline>Suspect package at Bank station</headline>'));
    fs.writeFileSync(altered, x.text.replace('<headline>Suspect package at Bank station', '<headline>Suspect package at Bank statiom'));
    const bad = await run(XMLSEC, ['--verify', '--pubkey-pem', pub, altered]);
    assert.notEqual(bad.code, 0, 'xmlsec1 refuses the altered export');
    assert.match(bad.stderr, /^FAIL/m);

    const other = path.join(tmp, 'other');
    const r = await run(TOCSINCTL, ['keys', 'init', '--dir', other, ...(process.getuid() === 0 ? ['--group', 'root'] : [])]);
    assert.equal(r.code, 0, r.stderr);
    const wrong = await run(XMLSEC, ['--verify', '--pubkey-pem', path.join(other, 'cap_sign.pub.pem'), file]);
    assert.notEqual(wrong.code, 0, 'xmlsec1 refuses the export against another key');
  });
});
