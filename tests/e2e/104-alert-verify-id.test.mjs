// An alert checked years later (issue 23): the broker keeps the signature
// it delivered an alert with, and the canonical text it signed, with the
// alert (alert_signatures, 048), so that `tocsinctl alert verify ID`
// proves what was sent against the listed public keys, and says NOT
// VERIFIED when the stored alert or its kept signature was altered; a
// saved frame with one byte changed fails the same way (verify FILE); a
// cancel (which changes the alert's "cancelled") and a key rotation keep
// an old alert verifiable.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Stack, Broker, consoleDirectory, run, waitFor } from './lib/harness.mjs';
import { BrokerFiles, publish as publishOne } from './lib/faults.mjs';
import { TOCSINCTL } from './lib/bus.mjs';
import { canonical } from '../../web-client/js/signed.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

describe('alert verify ID', { timeout: 240_000 }, () => {
  let files, st, site, ctl, con, db;

  before(async () => {
    files = new BrokerFiles('verify-id');
    st = await Stack.create({ label: import.meta.url, broker: { args: files.args() } });
    [site] = await consoleDirectory(st);
    ctl = await st.connectAs('controller');
    con = await st.connectAs(site.username);
    db = execFileSync(path.join(ROOT, 'deploy/pg-local.sh'),
      ['url', process.env.TOCSIN_TEST_VAR, 'tocsin_admin', st.db.name], { encoding: 'utf8' }).trim();
  });
  after(async () => {
    await st?.cleanup();
    files?.remove();
  });

  async function publish(fields) {
    const pub = await publishOne(ctl, { severity: 'minor', targets: { sites: [site.site_id] }, ...fields });
    const frame = await con.next((m) => m.type === 'alert' && m.alert.id === pub.alert_id, 10000, 'the alert');
    // kept after the alert's own transaction, without holding the fan-out
    await waitFor(async () => (await st.query('SELECT 1 FROM alert_signatures WHERE alert_id = $1',
      [frame.alert.id])).length === 1, { timeoutMs: 20000, what: `alert ${frame.alert.id}'s kept signature` });
    return frame;
  }

  // tocsinctl alert verify, with the keys from beside the token key (the
  // broker's machine) and the database as tocsin_admin.
  const verify = (what, ...more) => run(TOCSINCTL, ['alert', 'verify', String(what), ...more],
    { env: { TOCSIN_TOKEN_KEY: files.keyFile, DATABASE_URL: db } });

  let first; // kept for the rotation

  it('keeps the exact text it signed; verify ID says by which key, and its digest', async () => {
    first = await publish({
      headline: `Gas leak "east" wing ${Date.now()}`,
      body: 'Line one\nline two café 🚒',
      area: { circle: { lat: 51.5074, lon: -0.0870, radius_m: 500 } },
    });
    const [row] = await st.query('SELECT key_id, sig, signed, sha256 FROM alert_signatures WHERE alert_id = $1',
      [first.alert.id]);
    assert.equal(row.signed, canonical(first.alert), 'the canonical form of the alert as the console got it');
    assert.equal(row.key_id, first.signature.key_id);
    assert.equal(row.sig, first.signature.sig);
    const digest = createHash('sha256').update(row.signed, 'utf8').digest('hex');
    assert.equal(row.sha256, digest);
    const r = await verify(first.alert.id);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`alert ${first.alert.id}: verified by key ${first.signature.key_id}`));
    assert.ok(r.stdout.includes(digest), r.stdout);
    const j = await verify(first.alert.id, '--json');
    assert.equal(j.code, 0, j.stderr);
    assert.deepEqual(JSON.parse(j.stdout)[0],
      { alert_id: first.alert.id, result: 'valid', key_id: first.signature.key_id, sha256: digest });
    const audited = await st.query(
      "SELECT detail FROM audit WHERE action = 'view_alert' AND alert_id = $1", [first.alert.id]);
    assert.deepEqual(audited.map((a) => a.detail), [{ verify: true }, { verify: true }]);
  });

  it('a cancel changes the alert, not what was signed: it still verifies', async () => {
    const c = await publish({ msg_type: 'cancel', references: first.alert.id, headline: 'Stand down', targets: undefined });
    assert.equal((await verify(c.alert.id)).code, 0, 'the cancel itself');
    const r = await verify(first.alert.id);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  it('NOT VERIFIED when the alert\'s text in the database was altered', async () => {
    const f = await publish({ headline: `To be altered ${Date.now()}`, body: 'Evacuate the east wing' });
    await st.query("UPDATE alerts SET body = 'Evacuate the west wing' WHERE id = $1", [f.alert.id]);
    const r = await verify(f.alert.id);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`alert ${f.alert.id}: NOT VERIFIED: its body in the database differs`));
    const j = JSON.parse((await verify(f.alert.id, '--json')).stdout)[0];
    assert.equal(j.result, 'valid', 'the kept signature itself holds');
    assert.match(j.why, /body/);
  });

  it('NOT VERIFIED when the kept signed text was altered to match', async () => {
    const f = await publish({ headline: `Kept text altered ${Date.now()}`, body: 'Shelter in place' });
    await st.query("UPDATE alerts SET body = 'Leave now' WHERE id = $1", [f.alert.id]);
    await st.query("UPDATE alert_signatures SET signed = replace(signed, 'Shelter in place', 'Leave now') WHERE alert_id = $1",
      [f.alert.id]);
    const r = await verify(f.alert.id);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /NOT VERIFIED: the text kept with it does not match its signature \(bad\)/);
  });

  it('NOT VERIFIED: no kept signature, and no such alert', async () => {
    const f = await publish({ headline: `Unkept ${Date.now()}` });
    await st.query('DELETE FROM alert_signatures WHERE alert_id = $1', [f.alert.id]);
    const r = await verify(f.alert.id);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /NOT VERIFIED: no signature is kept with it/);
    const none = await verify(9_000_000_000);
    assert.equal(none.code, 4, none.stdout + none.stderr);
  });

  it('a saved frame with one byte changed is NOT VERIFIED (verify FILE)', async () => {
    const file = path.join(files.dir, 'frame.json');
    const text = JSON.stringify(first);
    fs.writeFileSync(file, text);
    const ok = await verify(file);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, new RegExp(`verified by key ${first.signature.key_id}`));
    const at = text.indexOf('Gas leak') + 2;
    fs.writeFileSync(file, text.slice(0, at) + 'z' + text.slice(at + 1));
    const bad = await verify(file);
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    assert.match(bad.stdout, new RegExp(`alert ${first.alert.id}: NOT VERIFIED: the alert does not match its signature \\(bad\\)`));
  });

  it('after a key rotation an old alert still verifies by id, a new one by the new key', async () => {
    const r = await run(TOCSINCTL, ['keys', 'rotate-alert', '--alert-key', `${files.dir}/alert_sign.key`, '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const newId = JSON.parse(r.stdout)[0].key_id;
    st.closeSessions();
    await st.broker.stop();
    st.broker = new Broker({ label: `${st.label}-rotated`, databaseUrl: st.db.brokerUrl, args: files.args() });
    await st.broker.start();
    st.logins.clear();
    ctl = await st.connectAs('controller');
    con = await st.connectAs(site.username);
    const after = await publish({ headline: `After the rotation ${Date.now()}` });
    assert.equal(after.signature.key_id, newId);
    const old = await verify(first.alert.id);
    assert.equal(old.code, 0, old.stdout + old.stderr);
    assert.match(old.stdout, new RegExp(`verified by key ${first.signature.key_id}`));
    const now = await verify(after.alert.id);
    assert.equal(now.code, 0, now.stdout + now.stderr);
    assert.match(now.stdout, new RegExp(`verified by key ${newId}`));
  });
});
