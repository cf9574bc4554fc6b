// Signed alerts (issue 23): every alert frame carries an Ed25519 signature
// over the canonical form of its alert (docs/protocol.md, "Signed
// alerts"), checkable with the keys served at GET /api/keys/alerts, by
// the consoles' own code (web-client/js/signed.js, WebCrypto) and by
// `tocsinctl alert verify`; a changed byte fails; a rotation keeps old
// alerts verifiable. An alert in force (an `in_force` frame: at sign-in,
// and the control room's live list) is signed the same way.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Stack, Broker, consoleDirectory, run } from './lib/harness.mjs';
import { BrokerFiles, connectResume, publish as publishOne } from './lib/faults.mjs';
import { TOCSINCTL } from './lib/bus.mjs';
import { AlertKeys, canonical } from '../../web-client/js/signed.js';

describe('signed alerts', { timeout: 240_000 }, () => {
  let files, st, site, ctl, con;
  const keysOf = () => async () => (await st.http('GET', '/api/keys/alerts')).json;

  before(async () => {
    files = new BrokerFiles('signed');
    st = await Stack.create({ label: import.meta.url, broker: { args: files.args() } });
    [site] = await consoleDirectory(st);
    ctl = await st.connectAs('controller');
    con = await st.connectAs(site.username);
  });
  after(async () => {
    await st?.cleanup();
    files?.remove();
  });

  async function publish(fields) {
    const pub = await publishOne(ctl, { severity: 'minor', targets: { sites: [site.site_id] }, ...fields });
    const frame = await con.next((m) => m.type === 'alert' && m.alert.id === pub.alert_id, 10000, 'the alert');
    return frame;
  }

  // A frame as the socket carried it, for tocsinctl.
  function saveFrame(frame, name) {
    const file = path.join(files.dir, name);
    fs.writeFileSync(file, JSON.stringify(frame));
    return file;
  }

  let first; // the first alert's frame, kept for the rotation

  it('signs every alert; the published key verifies it in WebCrypto and tocsinctl', async () => {
    const keys = (await st.http('GET', '/api/keys/alerts')).json;
    assert.equal(keys.alg, 'Ed25519');
    assert.equal(keys.keys.length, 1);
    // text that tests the canonical form: escapes, a control character,
    // non-ASCII, an emoji, and floating-point coordinates
    const frame = await publish({
      headline: `Gas leak "east" \\ wing ${Date.now()}`,
      body: 'Line one\nline two\ttabbed \u0001 café 🚒 </script> \u2028',
      area: { polygon: [[51.51381, -0.08701], [51.5142, -0.0861], [51.5129, -0.0859], [51.51381, -0.08701]] },
    });
    assert.deepEqual(Object.keys(frame.signature).sort(), ['alg', 'key_id', 'sig']);
    assert.equal(frame.signature.key_id, keys.keys[0].key_id);
    const ak = new AlertKeys(keysOf());
    assert.equal(await ak.verify(frame.alert, frame.signature), 'valid', canonical(frame.alert));
    const file = saveFrame(frame, 'first.json');
    // the keys as anyone gets them: from the URL
    fs.writeFileSync(path.join(files.dir, 'keys.json'), JSON.stringify(keys));
    const r = await run(TOCSINCTL, ['alert', 'verify', file, '--keys', path.join(files.dir, 'keys.json')]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /verified by key /);
    first = frame;
  });

  it('a byte changed in transit fails, in the console and in tocsinctl', async () => {
    const text = JSON.stringify(first);
    const altered = JSON.parse(text.replace('Gas leak', 'Gas leek'));
    const ak = new AlertKeys(keysOf());
    assert.equal(await ak.verify(altered.alert, altered.signature), 'bad');
    const moved = structuredClone(first);
    moved.alert.area.polygon[0][0] += 0.001;
    assert.equal(await ak.verify(moved.alert, moved.signature), 'bad', 'the area is covered');
    // the keys from beside the token key this time (the broker's machine)
    const r = await run(TOCSINCTL, ['alert', 'verify', saveFrame(altered, 'altered.json')],
      { env: { TOCSIN_TOKEN_KEY: files.keyFile } });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /bad/);
    assert.equal(await ak.verify(first.alert, undefined), 'unsigned');
    assert.equal(await ak.verify(first.alert, { ...first.signature, key_id: '0000000000000000' }), 'unknown_key');
  });

  it('a replay on resume is signed too', async () => {
    const frame = await publish({ headline: `Replay me ${Date.now()}` });
    const cursor = { epoch: con.welcome.stream.epoch, seq: frame.alert.seq - 1 };
    const s = await connectResume(st.broker, await st.token(site.username), cursor, { label: 'resumer' });
    st.sessions.push(s);
    const rep = await s.next((m) => m.type === 'alert' && m.alert.id === frame.alert.id, 10000, 'the replay');
    assert.equal(rep.replay, true);
    assert.equal(await new AlertKeys(keysOf()).verify(rep.alert, rep.signature), 'valid');
  });

  it('an alert in force is signed: at a desk\'s sign-in and in the control room\'s lists', async () => {
    const ctl2 = await st.connectAs('controller2');
    const frame = await publish({ headline: `In force at sign-in ${Date.now()}` });
    const ak = new AlertKeys(keysOf());
    const live = await ctl2.next((m) => m.type === 'in_force' && m.alert_id === frame.alert.id, 10000, 'the live in_force');
    assert.equal(await ak.verify(live.alert, live.signature), 'valid', 'the control room\'s live list');
    // a console that signs in (no position) gets the alert in force, in full
    const desk = await st.connectAs(site.username, { label: 'signing in' });
    const inf = await desk.next((m) => m.type === 'in_force' && m.alert_id === frame.alert.id, 20000, 'the alert in force');
    assert.ok(inf.alert, 'carried in full');
    assert.equal(await ak.verify(inf.alert, inf.signature), 'valid', JSON.stringify(inf));
    const altered = structuredClone(inf);
    altered.alert.headline += '!';
    assert.equal(await ak.verify(altered.alert, altered.signature), 'bad');
    // tocsinctl checks a saved in_force frame like an alert frame
    const r = await run(TOCSINCTL, ['alert', 'verify', saveFrame(inf, 'in_force.json')],
      { env: { TOCSIN_TOKEN_KEY: files.keyFile } });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    // the control room's list at its sign-in
    const ctl3 = await st.connectAs('controller2', { label: 'controller signing in' });
    const listed = await ctl3.next((m) => m.type === 'in_force' && m.alert_id === frame.alert.id, 20000, 'in the list');
    assert.equal(await ak.verify(listed.alert, listed.signature), 'valid');
  });

  it('a rotation: new alerts are signed with the new key, old ones still verify', async () => {
    const r = await run(TOCSINCTL, ['keys', 'rotate-alert', '--alert-key', `${files.dir}/alert_sign.key`, '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const newId = JSON.parse(r.stdout)[0].key_id;
    assert.notEqual(newId, first.signature.key_id);
    st.closeSessions();
    await st.broker.stop();
    st.broker = new Broker({ label: `${st.label}-rotated`, databaseUrl: st.db.brokerUrl, args: files.args() });
    await st.broker.start();
    st.logins.clear();
    ctl = await st.connectAs('controller');
    con = await st.connectAs(site.username);

    const keys = (await st.http('GET', '/api/keys/alerts')).json;
    assert.deepEqual(keys.keys.map((k) => k.key_id), [first.signature.key_id, newId]);
    assert.ok(keys.keys[0].valid_until, 'the old key is closed');
    assert.equal(keys.keys[1].valid_until, null);
    const shown = await run(TOCSINCTL, ['keys', 'show', '--token-key', files.keyFile]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.ok(shown.stdout.includes(first.signature.key_id) && shown.stdout.includes(newId), shown.stdout);

    const ak = new AlertKeys(keysOf());
    assert.equal(await ak.verify(first.alert, first.signature), 'valid', 'an alert signed before the rotation');
    const frame = await publish({ headline: `After the rotation ${Date.now()}` });
    assert.equal(frame.signature.key_id, newId);
    assert.equal(await ak.verify(frame.alert, frame.signature), 'valid');
  });
});
