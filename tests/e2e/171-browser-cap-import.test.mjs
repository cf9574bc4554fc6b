// The control room's screen for a pending CAP import (issue 18, item 1),
// in Chromium. OASIS example 1 (an areaDesc only) is imported with no
// geocode mapped, so it waits in the inbox: a controller sees the CAP
// message in full (sender, codes, description, instruction, web,
// parameters, areas), targets a site with "Target and publish" and sends;
// that site's console gets the alert from its original sender, and the
// import is closed as published on every desk. A second import (example 4,
// the Amber alert in two languages, given a polygon in California that
// holds no site) shows its languages and its area drawn, and is rejected
// with a reason: it disappears from a second controller's list of open
// items, live. The audit has both.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import * as bus from './lib/bus.mjs';
import { waitFor } from './lib/harness.mjs';
import { CAP, EXAMPLES, runCap as run, show, capAdapter, ackInForce } from './lib/cap.mjs';
import { launch, openAs, textBecomes, withoutProblems, shot, UI_TIMEOUT } from './lib/browser.mjs';

const POLYGON = '34.05,-118.60 34.35,-118.60 34.35,-118.10 34.05,-118.10 34.05,-118.60';

describe('a pending CAP import is targeted and published, or rejected, in the browser', { timeout: 600_000 }, () => {
  let st, tmp, capArgs, site, browser;
  const p = {};          // pages: ctl, ctl2 (open items only), con
  const problems = [];
  let first, second;     // the two imports' report ids
  const item = (id) => `#inbox li[data-report-id="${id}"]`;

  const hold = async (file) => {
    const r = await run(CAP, ['import', ...capArgs, file]);
    assert.equal(r.code, 0, show(r));
    const m = /^pending (\d+)$/.exec(r.out.trim());
    assert.ok(m, `held as a pending import: ${show(r)}`);
    return Number(m[1]);
  };

  before(async () => {
    st = await bus.startBusStack({ label: import.meta.url });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tocsin-171-'));
    site = (await st.one("SELECT id FROM sites WHERE name = 'Threadneedle Exchange House'")).id;
    ({ args: capArgs } = await capAdapter(st, tmp, 'cap-ui'));
    await ackInForce(st, 'console.threadneedle');
    browser = await launch();
    const base = st.broker.httpUrl;
    p.ctl = await openAs(browser, base, 'controller', 'controller', problems, { viewport: { width: 1280, height: 1000 } });
    p.ctl2 = await openAs(browser, base, 'controller2', 'controller', problems, { viewport: { width: 1024, height: 900 } });
    p.con = await openAs(browser, base, 'console.threadneedle', 'site_console', problems);
  });
  after(async () => {
    await browser?.close().catch(() => {});
    await st?.cleanup();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('shows example 1 in full; targeted at a site and published, it keeps its sender', () => withoutProblems(problems, async () => {
    const { ctl, ctl2, con } = p;
    await ctl2.selectOption('#inbox-handled', 'false');
    await ctl2.click('#inbox-apply');
    await textBecomes(ctl2, '#inbox-summary', /\(open\)/, 'the second desk shows open items only');
    first = await hold(path.join(EXAMPLES, 'a1-homeland-security-advisory.xml'));
    const it1 = item(first);
    await ctl.waitForSelector(`${it1}[data-kind="cap_import"]`, { state: 'attached', timeout: UI_TIMEOUT });
    await ctl2.waitForSelector(it1, { state: 'attached', timeout: UI_TIMEOUT });
    await textBecomes(ctl, `${it1} .report-from`, 'CAP: U.S. Government, Department of Homeland Security', 'from its CAP sender, not the adapter\'s user');
    await textBecomes(ctl, `${it1} .cap-sender`, /U\.S\. Government, Department of Homeland Security — hsas@dhs\.gov · sent 2003-04-02T14:39:01-05:00 · identifier 43b080713727/, 'who sent it, when');
    await textBecomes(ctl, `${it1} .cap-codes`, /immediate · severe · likely/, 'urgency, severity, certainty');
    await textBecomes(ctl, `${it1} .cap-block[data-lang="en-US"] .cap-headline`, 'Headline: Homeland Security Sets Code ORANGE', 'the headline');
    assert.match(await ctl.textContent(`${it1} .cap-block .cap-description`), /elevated the Homeland Security Advisory System threat level to ORANGE/);
    assert.match(await ctl.textContent(`${it1} .cap-block .cap-instruction`), /A High Condition is declared/);
    assert.match(await ctl.textContent(`${it1} .cap-block .cap-web`), /http:\/\/www\.dhs\.gov\/dhspublic\/display\?theme=29/);
    assert.match(await ctl.textContent(`${it1} .cap-block .cap-parameters`), /HSAS: ORANGE/);
    assert.match(await ctl.textContent(`${it1} .cap-area-desc`), /U\.S\. nationwide and interests worldwide/);
    assert.equal(await ctl.locator(`${it1} .cap-sketch`).count(), 0, 'no polygon or circle: nothing to draw');

    await ctl.click(`${it1} button.import-publish`);
    await waitFor(async () => (await ctl.inputValue('#headline')) === 'Homeland Security Sets Code ORANGE',
      { timeoutMs: UI_TIMEOUT, what: 'the headline in the form' });
    assert.match(await ctl.inputValue('#body'), /threat level to ORANGE/);
    assert.equal(await ctl.inputValue('#severity'), 'severe');
    assert.equal(await ctl.inputValue('#classification'), 'OFFICIAL');
    assert.match(await ctl.textContent('#compose-from-report'), new RegExp(`Targeting CAP import ${first} from U\\.S\\. Government`));
    await ctl.fill('#target-filter', 'Threadneedle');
    await ctl.check(`input[name="target-site"][value="${site}"]`);
    await ctl.fill('#confirm-live', 'SEND');
    await ctl.evaluate(() => document.getElementById('compose').scrollIntoView({ block: 'start' }));
    await shot(ctl, '171-target-import');
    await ctl.click('#send');

    await textBecomes(con, '#alert-banner .headline', 'Homeland Security Sets Code ORANGE', 'the console gets the alert');
    await textBecomes(con, '#alert-banner .sender', /^U\.S\. Government, Department of Homeland Security \(imported by cap-ui/, 'from its original sender');
    const alert = await st.one("SELECT id, origin, source_adapter_id IS NOT NULL AS adapter FROM alerts WHERE headline = 'Homeland Security Sets Code ORANGE'");
    assert.equal(alert.origin.identifier, '43b080713727');
    assert.equal(alert.origin.sender, 'hsas@dhs.gov');
    assert.ok(alert.adapter);
    const recipients = await st.query('SELECT site_id FROM alert_recipients WHERE alert_id = $1', [alert.id]);
    assert.deepEqual(recipients.map((r) => r.site_id), [site]);

    await textBecomes(ctl, `${it1} .report-state`, /^Published as alert “Homeland Security Sets Code ORANGE” by PC Ada Hart/, 'closed as published here');
    assert.equal(await ctl.locator(`${it1} button.import-publish, ${it1} button.report-handle`).count(), 0, 'published: nothing more to do with it');
    await waitFor(async () => (await ctl2.locator(it1).count()) === 0, { timeoutMs: UI_TIMEOUT, what: 'gone from the open items of the other desk' });
    await ctl.locator(it1).scrollIntoViewIfNeeded();
  }, () => Promise.all([shot(p.ctl, '171-published-ctl'), shot(p.con, '171-published-con')])));

  it('shows example 4\'s languages and area drawn; rejected with a reason, it closes for every desk', () => withoutProblems(problems, async () => {
    const { ctl, ctl2 } = p;
    const amber = path.join(tmp, 'amber.xml');
    fs.writeFileSync(amber, fs.readFileSync(path.join(EXAMPLES, 'a4-amber-alert-multilingual.xml'), 'utf8')
      .replace('<areaDesc>Los Angeles County</areaDesc>', `<areaDesc>Los Angeles County</areaDesc>\n        <polygon>${POLYGON}</polygon>`));
    second = await hold(amber);
    const it2 = item(second);
    await ctl2.waitForSelector(it2, { state: 'attached', timeout: UI_TIMEOUT });
    await ctl.waitForSelector(it2, { state: 'attached', timeout: UI_TIMEOUT });
    await textBecomes(ctl, `${it2} .cap-block[data-lang="en-US"] .cap-contact`, /Contact: .+/, 'the Amber alert\'s contact');
    assert.equal(await ctl.getAttribute(`${it2} .cap-block[data-lang="en-US"]`, 'open'), '', 'the first language open');
    assert.equal(await ctl.getAttribute(`${it2} .cap-block[data-lang="es-US"]`, 'open'), null, 'the other folded');
    assert.match(await ctl.textContent(`${it2} .cap-block[data-lang="es-US"] summary`), /^es-US: Alerta Amber/);
    await ctl.waitForSelector(`${it2} svg.cap-sketch path.cap-sketch-area`, { state: 'attached' });
    assert.match(await ctl.textContent(`${it2} .cap-map figcaption`), /^Polygon of 5 points from 34\.0500, -118\.6000/);
    assert.match(await ctl.textContent(`${it2} .cap-geocodes`), /SAME=006037/);

    // no reason: refused on the page, nothing sent
    await ctl2.click(`${it2} button.import-reject-btn`);
    await textBecomes(ctl2, `${it2} .entry-error`, /Give a reason/, 'a reason is required');
    assert.equal((await st.one('SELECT handled_at FROM partner_reports WHERE id = $1', [second])).handled_at, null);
    await ctl2.fill(`${it2} input.import-reason`, 'A Californian Amber alert: nothing for the City');
    await ctl2.locator(it2).scrollIntoViewIfNeeded();
    await shot(ctl2, '171-reject-import');
    await ctl2.click(`${it2} button.import-reject-btn`);
    await waitFor(async () => (await ctl2.locator(it2).count()) === 0, { timeoutMs: UI_TIMEOUT, what: 'gone from the open items of the desk that rejected it' });
    await textBecomes(ctl, `${it2} .report-state`, /^Rejected by PS Tom Reyes \(Control Room\) at .+: A Californian Amber alert: nothing for the City$/, 'the other desk sees why, live');
    await ctl.locator(it2).scrollIntoViewIfNeeded();

    const audit = await st.query(`SELECT action, actor_username, detail FROM audit
                                   WHERE (action = 'publish' AND detail ? 'pending_import' AND detail->>'pending_import' IS NOT NULL)
                                      OR (action = 'report_updated' AND detail->>'change' = 'rejected') ORDER BY id`);
    assert.deepEqual(audit.map((a) => [a.action, a.actor_username, Number(a.detail.pending_import ?? a.detail.report_id)]),
      [['publish', 'controller', first], ['report_updated', 'controller2', second]]);
    assert.equal(audit[1].detail.reason, 'A Californian Amber alert: nothing for the City');
    assert.equal(audit[1].detail.identifier, 'KAR0-0306112239-SW');
  }, () => Promise.all([shot(p.ctl, '171-rejected-ctl'), shot(p.ctl2, '171-rejected-ctl2')])));
});
