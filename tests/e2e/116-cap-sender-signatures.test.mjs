// Registered CAP senders' XML Signatures (issues 18 and 23, "Signed
// alerts": the importer's part). tocsinctl cap sender add registers a
// sender's certificate (audited; a file that is no certificate is refused
// naming it); tocsin-cap asks the broker for it (bus cap_sender) and
// verifies the enveloped signature of each of that sender's documents with
// libxmlsec1. The fixtures are signed here by xmlsec1 with keys openssl
// makes here. Verified: delivered, the origin says so. Altered by one
// character, signed by another key, unsigned, a signature lifted onto
// another document, or one whose reference covers only the headline
// (which xmlsec1 --verify itself accepts): held in the control room's
// inbox marked "signature FAILED" (policy hold) or refused with nothing
// stored (policy refuse). An unregistered sender imports as before.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { run } from './lib/harness.mjs';
import * as bus from './lib/bus.mjs';
import { CAP, EXAMPLES, capAdapter, runCap, senderKeys, show, signCap } from './lib/cap.mjs';

const XMLSEC = '/usr/bin/xmlsec1';
const HELD = 'held@police.example';       // registered, --on-failure hold
const STRICT = 'strict@police.example';   // registered, --on-failure refuse

describe('CAP from registered senders: the XML Signature decides', { timeout: 300_000 }, () => {
  let st, tmp, capArgs, site, ctl, con, keys;

  const ctlRun = (args) => bus.tocsinctl(st, args);
  const imp = (file) => runCap(CAP, ['import', ...capArgs, file]);
  const file = (name, text) => {
    const f = path.join(tmp, name);
    fs.writeFileSync(f, text);
    return f;
  };
  // The Amber alert of the specification, from sender, as message id.
  const amber = (sender, id) => fs.readFileSync(path.join(EXAMPLES, 'a4-amber-alert-multilingual.xml'), 'utf8')
    .replace('KAR0-0306112239-SW', id).replace('KARO@CLETS.DOJ.CA.GOV', sender);
  // doc signed by xmlsec1 with key (a name in keys), as text.
  const sign = (doc, key, transforms) => signCap(tmp, doc, keys[key].key, transforms);
  const pending = (r) => {
    const m = /^pending (\d+)$/.exec(r.out.trim());
    assert.ok(m, `held, not published: ${show(r)}`);
    return Number(m[1]);
  };
  const alertsOf = async (id) => Number((await st.one(
    "SELECT count(*) AS n FROM alerts WHERE origin->>'identifier' = $1", [id])).n);

  before(async () => {
    st = await bus.startBusStack({ label: import.meta.url });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tocsin-116-'));
    keys = await senderKeys(tmp, ['sender', 'other']);
    site = (await st.one("SELECT id FROM sites WHERE name = 'Threadneedle Exchange House'")).id;
    ({ args: capArgs } = await capAdapter(st, tmp, 'cap-signed', [site]));
    ctl = await st.connectAs('controller');
    con = await st.connectAs('console.threadneedle');
  });
  after(async () => {
    ctl?.close();
    con?.close();
    await st?.cleanup();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('tocsinctl cap sender add, list and remove, audited; a file that is no certificate is refused naming it', async () => {
    let r = await ctlRun(['cap', 'sender', 'add', HELD, '--cert', keys.sender.cert, '--actor', 'test:116']);
    assert.equal(r.code, 0, r.stderr);
    r = await ctlRun(['cap', 'sender', 'add', STRICT, '--cert', keys.sender.cert, '--on-failure', 'refuse']);
    assert.equal(r.code, 0, r.stderr);

    r = await ctlRun(['cap', 'sender', 'add', 'x@police.example', '--cert', keys.sender.key]);
    assert.equal(r.code, 1, 'a private key is not a certificate');
    assert.match(r.stderr, new RegExp(`${keys.sender.key.replaceAll('.', '\\.')} holds no PEM certificate or public key \\(it is a private key`));
    r = await ctlRun(['cap', 'sender', 'add', 'x@police.example', '--cert', file('junk.pem', 'not a certificate\n')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /junk\.pem holds no PEM certificate or public key/);
    r = await ctlRun(['cap', 'sender', 'add', 'x@police.example', '--cert', path.join(tmp, 'missing.pem')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /missing\.pem/);
    r = await ctlRun(['cap', 'sender', 'add', 'x@police.example']);
    assert.equal(r.code, 2, '--cert is required');
    r = await ctlRun(['cap', 'sender', 'add', 'x@police.example', '--cert', keys.sender.cert, '--on-failure', 'ignore']);
    assert.equal(r.code, 2, 'hold or refuse');
    r = await ctlRun(['cap', 'sender', 'add', 'two words', '--cert', keys.sender.cert]);
    assert.equal(r.code, 1, 'a sender as CAP writes it');

    r = await ctlRun(['cap', 'sender', 'add', 'gone@police.example', '--cert', keys.other.cert]);
    assert.equal(r.code, 0, r.stderr);
    r = await ctlRun(['cap', 'sender', 'remove', 'gone@police.example']);
    assert.equal(r.code, 0, r.stderr);
    r = await ctlRun(['cap', 'sender', 'remove', 'gone@police.example']);
    assert.equal(r.code, 4, 'removing it twice: not found');

    r = await ctlRun(['cap', 'sender', 'list', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const list = JSON.parse(r.stdout);
    assert.deepEqual(list.map((s) => [s.sender, s.on_failure, s.subject]),
      [[HELD, 'hold', '/CN=sender.police.example'], [STRICT, 'refuse', '/CN=sender.police.example']]);
    assert.match(list[0].fingerprint, /^[0-9a-f]{64}$/);
    const audit = await st.query("SELECT action, actor_username, detail FROM audit WHERE action LIKE 'cap_sender_%' ORDER BY id");
    assert.deepEqual(audit.map((a) => [a.action, a.detail.sender]), [['cap_sender_added', HELD],
      ['cap_sender_added', STRICT], ['cap_sender_added', 'gone@police.example'], ['cap_sender_removed', 'gone@police.example']]);
    assert.equal(audit[0].actor_username, 'test:116');
    assert.equal(audit[0].detail.fingerprint, list[0].fingerprint);
  });

  it('a document signed by the registered key is delivered, its origin marked verified', async () => {
    const signed = await sign(amber(HELD, 'SIG-116-VALID'), 'sender');
    const f = file('valid.xml', signed);
    const xs = await run(XMLSEC, ['--verify', '--pubkey-cert-pem', keys.sender.cert, f]);
    assert.equal(xs.code, 0, `the fixture verifies with xmlsec1 itself: ${xs.stderr}`);
    const r = await imp(f);
    assert.equal(r.code, 0, show(r));
    const id = Number(r.out.trim());
    assert.ok(id > 0, show(r));
    assert.match(r.err, new RegExp(`signature verified \\(sender ${HELD}`));
    const m = await con.next((x) => x.type === 'alert' && x.alert.id === id, 20_000);
    assert.equal(m.alert.source.origin.signature, 'verified');
    assert.equal(m.alert.source.origin.sender, HELD);
  });

  it('altered by one character, signed by another key, unsigned, lifted or partial: held as "signature FAILED"', async () => {
    const cases = {};
    const altered = await sign(amber(HELD, 'SIG-116-ALTERED'), 'sender');
    assert.ok(altered.includes('Amber Alert in Los Angeles County'));
    cases.altered = altered.replace('Amber Alert in Los Angeles County', 'Amber Alert in Los Angeles Countx');
    cases.other = await sign(amber(HELD, 'SIG-116-OTHER'), 'other');
    cases.unsigned = amber(HELD, 'SIG-116-UNSIGNED');
    // a valid signature of another document, carried by this one
    const donor = await sign(amber(HELD, 'SIG-116-DONOR'), 'sender');
    const sig = donor.slice(donor.indexOf('<Signature'), donor.indexOf('</Signature>') + '</Signature>'.length);
    cases.lifted = amber(HELD, 'SIG-116-LIFTED').replace('</alert>', `${sig}\n</alert>`);
    // a reference that covers the headline alone: xmlsec1 accepts the
    // document after its description is changed; the importer does not
    const xpath = `\n<Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"><XPath xmlns:cap="urn:oasis:names:tc:emergency:cap:1.2">ancestor-or-self::cap:headline</XPath></Transform>`;
    const partial = await sign(amber(HELD, 'SIG-116-PARTIAL'), 'sender', xpath);
    const desc = /<description>[^<]*<\/description>/.exec(partial)[0];
    cases.partial = partial.replace(desc, '<description>Nothing to see: stand down</description>');
    const lax = await run(XMLSEC, ['--verify', '--pubkey-cert-pem', keys.sender.cert, file('lax.xml', cases.partial)]);
    assert.equal(lax.code, 0, `xmlsec1 alone accepts the partial signature: ${lax.stderr}`);

    for (const [name, doc] of Object.entries(cases)) {
      const f = file(`${name}.xml`, doc);
      const r = await imp(f);
      assert.equal(r.code, 0, `${name}: ${show(r)}`);
      const reportId = pending(r);
      assert.match(r.err, /signature FAILED/, name);
      const live = await ctl.next((x) => x.type === 'partner_report' && x.report.id === reportId, 20_000);
      assert.equal(live.report.kind, 'cap_import');
      assert.match(live.report.text, new RegExp(`^CAP import held: signature FAILED \\(sender ${HELD} is registered\\)`), name);
      assert.equal(live.report.cap.origin.signature, 'failed', name);
      assert.equal(await alertsOf(live.report.cap.origin.identifier), 0, `${name}: nothing delivered`);
      cases[name] = { f, reportId, live };
    }
    assert.match(cases.unsigned.live.report.text, /no XML Signature/);
    assert.match(cases.partial.live.report.text, /cannot be checked|does not verify/);

    // the same bytes again: the same pending import
    const again = await imp(cases.altered.f);
    assert.equal(again.out.trim(), `pending ${cases.altered.reportId}`, show(again));
    // the genuine document with the identifier a forgery used first still imports
    const genuine = await imp(file('genuine.xml', await sign(amber(HELD, 'SIG-116-ALTERED'), 'sender')));
    assert.equal(genuine.code, 0, show(genuine));
    assert.ok(Number(genuine.out.trim()) > 0, `the genuine one is published: ${show(genuine)}`);

    // a controller may still publish a held one after review: its origin says failed
    const cap = cases.other.live.report.cap;
    const pub = await ctl.request({ type: 'publish', pending_import: cases.other.reportId, headline: cap.headline,
      body: cap.body, severity: cap.severity, urgency: cap.urgency, certainty: cap.certainty,
      category: cap.category, targets: { sites: [site] } });
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    const m = await con.next((x) => x.type === 'alert' && x.alert.id === pub.alert_id, 20_000);
    assert.equal(m.alert.source.origin.signature, 'failed');
  });

  it('policy refuse: a failing signature is refused naming the sender, nothing stored', async () => {
    const before = Number((await st.one('SELECT count(*) AS n FROM partner_reports')).n);
    for (const [name, doc] of [['strict-unsigned', amber(STRICT, 'SIG-116-STRICT-1')],
      ['strict-other', await sign(amber(STRICT, 'SIG-116-STRICT-2'), 'other')]]) {
      const r = await imp(file(`${name}.xml`, doc));
      assert.equal(r.code, 1, `${name}: ${show(r)}`);
      assert.match(r.err, new RegExp(`rejected: signature: sender ${STRICT} is registered and its signature is (missing|not accepted)`), name);
      assert.match(r.err, /refused, nothing stored/);
    }
    assert.equal(await alertsOf('SIG-116-STRICT-1') + await alertsOf('SIG-116-STRICT-2'), 0);
    assert.equal(Number((await st.one('SELECT count(*) AS n FROM partner_reports')).n), before, 'no pending import either');
    const ok = await imp(file('strict-valid.xml', await sign(amber(STRICT, 'SIG-116-STRICT-3'), 'sender')));
    assert.equal(ok.code, 0, show(ok));
    assert.ok(Number(ok.out.trim()) > 0, show(ok));
  });

  it('an unregistered sender imports as before, unmarked', async () => {
    const r = await imp(file('unregistered.xml', amber('nobody@elsewhere.example', 'SIG-116-UNREG')));
    assert.equal(r.code, 0, show(r));
    const id = Number(r.out.trim());
    assert.ok(id > 0, show(r));
    const row = await st.one('SELECT origin FROM alerts WHERE id = $1', [id]);
    assert.equal(row.origin.sender, 'nobody@elsewhere.example');
    assert.equal(row.origin.signature, undefined);
  });
});
