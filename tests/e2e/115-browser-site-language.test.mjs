// A site's language picks the info block (issue 18, item 2: "the console
// shows the language of its site, default en-GB, and offers the others").
// tocsinctl site update --language es-US (checked, shown by site list);
// the directory gives it to the site's console; an imported Amber alert
// (OASIS example 4, en-US and es-US) then shows its Spanish block open at
// that console in Chromium, the English one being the alert's own.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import * as bus from './lib/bus.mjs';
import { CAP, EXAMPLES, runCap as run, show, capAdapter, ackInForce } from './lib/cap.mjs';
import { launch, openAs, textBecomes, withoutProblems, shot } from './lib/browser.mjs';

describe('a console shows an import in its site\'s language', { timeout: 300_000 }, () => {
  let st, tmp, capArgs, site, browser;

  before(async () => {
    st = await bus.startBusStack({ label: import.meta.url });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tocsin-115-'));
    site = (await st.one("SELECT id FROM sites WHERE name = 'Threadneedle Exchange House'")).id;
    ({ args: capArgs } = await capAdapter(st, tmp, 'cap-lang', [site]));
  });
  after(async () => {
    await browser?.close();
    await st?.cleanup();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('tocsinctl sets a site\'s language, checked, and lists it', async () => {
    let r = await bus.tocsinctl(st, ['site', 'update', String(site), '--language', 'not a tag']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /the language must be a tag such as en-GB/);
    r = await bus.tocsinctl(st, ['site', 'list', '--json']);
    assert.equal(JSON.parse(r.stdout).find((s) => s.id === site).language, 'en-GB', 'the default');
    r = await bus.tocsinctl(st, ['site', 'update', String(site), '--language', 'es-US', '--actor', 'test:115']);
    assert.equal(r.code, 0, r.stderr);
    r = await bus.tocsinctl(st, ['site', 'list', '--json']);
    assert.equal(JSON.parse(r.stdout).find((s) => s.id === site).language, 'es-US');
    const con = await st.connectAs('console.threadneedle', { label: 'directory' });
    const d = await con.request({ type: 'directory' });
    assert.equal(d.sites.find((s) => s.id === site).language, 'es-US', 'the console learns it');
    con.close();
  });

  it('the Amber alert shows its Spanish block at a console of an es-US site', async () => {
    await ackInForce(st, 'console.threadneedle');
    browser = await launch();
    const problems = [];
    const page = await openAs(browser, st.broker.httpUrl, 'console.threadneedle', 'site_console', problems);
    await withoutProblems(problems, async () => {
      // the directory has come when the site's name is shown
      await page.waitForFunction(() => /Threadneedle/.test(document.body.textContent));
      const amber = await run(CAP, ['import', ...capArgs, path.join(EXAMPLES, 'a4-amber-alert-multilingual.xml')]);
      assert.equal(amber.code, 0, show(amber));
      await textBecomes(page, '#alert-banner .headline', 'Amber Alert in Los Angeles County', 'the alert\'s own headline');
      await textBecomes(page, '#alert-banner .cap-info .cap-site-lang[data-lang="es-US"] .cap-headline',
        'Alerta Amber en el condado de Los Ángeles', 'the site\'s language, open');
      assert.match(await page.locator('#alert-banner .cap-site-lang .cap-description').textContent(),
        /^DATE\/TIME: 06\/11\/03, 1915 HORAS\. VÍCTIMAS/);
      assert.equal(await page.locator('#alert-banner details.cap-lang').count(), 0,
        'no other language to fold: English is the alert itself');
    }, () => shot(page, '115-site-language'));
  });
});
