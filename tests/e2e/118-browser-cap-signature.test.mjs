// Registered CAP senders' signatures in the browser (issues 18 and 23):
// a console shows an import whose signature verified as "signature
// verified (sender X)" beside its source; the control room's inbox marks
// a held import whose signature failed with a "Signature FAILED" badge,
// so it is never taken for genuine.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import * as bus from './lib/bus.mjs';
import { CAP, EXAMPLES, ackInForce, capAdapter, runCap as run, senderKeys, show, signCap } from './lib/cap.mjs';
import { launch, openAs, textBecomes, withoutProblems, shot } from './lib/browser.mjs';

const SENDER = 'signed@police.example';

describe('CAP signatures shown in the browser', { timeout: 300_000 }, () => {
  let st, tmp, capArgs, keys, browser;
  const problems = [];

  const amber = (id, headline) => fs.readFileSync(path.join(EXAMPLES, 'a4-amber-alert-multilingual.xml'), 'utf8')
    .replace('KAR0-0306112239-SW', id).replace('KARO@CLETS.DOJ.CA.GOV', SENDER)
    .replace('Amber Alert in Los Angeles County', headline);
  const file = (name, text) => {
    const f = path.join(tmp, name);
    fs.writeFileSync(f, text);
    return f;
  };

  before(async () => {
    st = await bus.startBusStack({ label: import.meta.url });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tocsin-118-'));
    keys = await senderKeys(tmp, ['sender']);
    const site = (await st.one("SELECT id FROM sites WHERE name = 'Threadneedle Exchange House'")).id;
    ({ args: capArgs } = await capAdapter(st, tmp, 'cap-signed', [site]));
    const r = await bus.tocsinctl(st, ['cap', 'sender', 'add', SENDER, '--cert', keys.sender.cert]);
    assert.equal(r.code, 0, r.stderr);
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await st?.cleanup();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('a console shows a verified signature with the source', () => withoutProblems(problems, async () => {
    await ackInForce(st, 'console.threadneedle');
    const page = await openAs(browser, st.broker.httpUrl, 'console.threadneedle', 'site_console', problems);
    const signed = await signCap(tmp, amber('SIG-118-OK', 'Signed Amber Alert'), keys.sender.key);
    const r = await run(CAP, ['import', ...capArgs, file('ok.xml', signed)]);
    assert.equal(r.code, 0, show(r));
    await textBecomes(page, '#alert-banner .headline', 'Signed Amber Alert', 'the banner headline');
    await textBecomes(page, '#alert-banner .sender',
      `Los Angeles Police Dept - LAPD (imported by cap-signed, City Police Control Room; signature verified (sender ${SENDER}))`,
      'the banner sender');
    await shot(page, '118-console-verified');
  }));

  it('the control room marks a held import whose signature failed', () => withoutProblems(problems, async () => {
    const ctl = await openAs(browser, st.broker.httpUrl, 'controller', 'controller', problems, { viewport: { width: 1280, height: 800 } });
    const r = await run(CAP, ['import', ...capArgs, file('unsigned.xml', amber('SIG-118-UNSIGNED', 'Unsigned Amber Alert'))]);
    assert.equal(r.code, 0, show(r));
    const m = /^pending (\d+)$/.exec(r.out.trim());
    assert.ok(m, `held: ${show(r)}`);
    const item = `#inbox li[data-report-id="${m[1]}"]`;
    await textBecomes(ctl, `${item} .sig-failed`, 'Signature FAILED', 'the badge');
    await textBecomes(ctl, `${item} .report-text`, /^CAP import held: signature FAILED \(sender signed@police\.example is registered\).* message SIG-118-UNSIGNED\. /, 'the text');
    await ctl.locator(item).scrollIntoViewIfNeeded();
    await shot(ctl, '118-inbox-signature-failed');
  }));
});
