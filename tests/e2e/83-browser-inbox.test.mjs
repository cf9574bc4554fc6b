// The partner reports inbox is a work queue (issue 17, item 9), in three
// browser contexts at once: a building console on a phone (390x844) puts
// a pin where it saw something; the controller (1280x800) and the analyst
// (1024x768) find the report by its place, filter and search the inbox,
// assign it, mark it handled (each sees the other's change at once), and
// the controller publishes an alert from it with its text and place
// filled in, after which the report is linked to that alert.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, waitFor, newRef } from './lib/harness.mjs';
import {
  launch, openAs, shot, textBecomes, withoutProblems, closeAndStop, UI_TIMEOUT,
} from './lib/browser.mjs';

const PLACE = { lat: 51.5147, lon: -0.0935 };   // Cheapside, near the Galleria

describe('the inbox as a work queue, in the browser', { timeout: 600_000 }, () => {
  let st;
  let browser;
  const p = {};          // pages: con (390), an (1024), ctl (1280)
  const problems = [];
  let text;
  let reportId;
  const item = () => `#inbox li[data-report-id="${reportId}"]`;

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    browser = await launch();
    const base = st.broker.httpUrl;
    p.con = await openAs(browser, base, 'console.cheapside', 'site_console', problems, { viewport: { width: 390, height: 844 } });
    p.an = await openAs(browser, base, 'analyst', 'analyst', problems, { viewport: { width: 1024, height: 768 } });
    p.ctl = await openAs(browser, base, 'controller', 'controller', problems, { viewport: { width: 1280, height: 800 } });
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await st?.cleanup();
  });

  async function shots(prefix) {
    for (const [name, page] of Object.entries(p)) await shot(page, `${prefix}-${name}`);
  }

  it('a console pins the place of a sighting; the force sees where', () => withoutProblems(problems, async () => {
    const { con, ctl, an } = p;
    await con.waitForSelector('#report-map[data-outline="loaded"]', { state: 'attached' });
    await con.locator('#report-map').scrollIntoViewIfNeeded();
    const box = await con.locator('#report-map').boundingBox();
    await con.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await con.waitForSelector('#report-map path.pin-marker', { state: 'attached' });
    assert.match(await con.inputValue('#report-lat'), /^51\.5\d+$/, 'the click fills the latitude');
    assert.match(await con.textContent('#report-place-note'), /placed at 51\.5/);
    // The typed fields are the other way in, and the pin follows them.
    await con.fill('#report-lat', String(PLACE.lat));
    await con.fill('#report-lon', String(PLACE.lon));
    await textBecomes(con, '#report-place-note', `The report is placed at ${PLACE.lat.toFixed(5)}, ${PLACE.lon.toFixed(5)}.`, 'the typed place');
    await con.waitForSelector('#report-map path.pin-marker', { state: 'attached' });
    await con.evaluate(() => document.querySelector('.report-place').scrollIntoView({ block: 'start' }));
    await shot(con, '83-report-pin-con');
    // Outside the force's area: refused on the page.
    await con.fill('#report-lon', '2.35');
    await con.selectOption('#report-kind', 'sighting');
    text = `Grey van, two men filming the loading bay ${newRef('v')}`;
    await con.fill('#report-text', text);
    await con.click('#report-send');
    await textBecomes(con, '#report-error', /force's area/, 'a place outside the area is refused');
    assert.equal(await con.getAttribute('#report-lon', 'aria-invalid'), 'true');
    await con.fill('#report-lon', String(PLACE.lon));
    await con.click('#report-send');
    await textBecomes(con, '#report-result', /^Report sent/, 'the report was sent');
    assert.equal(await con.inputValue('#report-lat'), '', 'the place is cleared with the form');

    const row = await waitFor(async () => (await st.query('SELECT id, lat, lon, place FROM partner_reports WHERE text = $1', [text]))[0],
      { timeoutMs: UI_TIMEOUT, what: 'the report stored' });
    reportId = Number(row.id);
    assert.deepEqual({ lat: row.lat, lon: row.lon, place: row.place }, { ...PLACE, place: 'sighting' });
    for (const page of [ctl, an]) {
      await page.waitForSelector(`${item()}[data-place="sighting"]`, { state: 'attached' });
      await textBecomes(page, `${item()} .report-place`, `Sighting place: ${PLACE.lat.toFixed(5)}, ${PLACE.lon.toFixed(5)}`, 'where it was seen');
      await page.waitForSelector(`#board-map path.report-marker.place-sighting[data-report-id="${reportId}"]`, { state: 'attached' });
    }
  }, () => shots('83-pinned')));

  it('filters and searches the inbox', () => withoutProblems(problems, async () => {
    const { ctl, con } = p;
    const other = `Shoplifter seen leaving with perfume ${newRef('c')}`;
    await con.selectOption('#report-kind', 'crime');
    await con.fill('#report-text', other);
    await con.click('#report-send');
    // a crime goes on the crime map too: it needs its category
    await textBecomes(con, '#report-error', /category/, 'a crime without its category is refused');
    await con.selectOption('#report-category', 'shoplifting');
    await con.click('#report-send');
    await textBecomes(con, '#report-result', /^Crime recorded/, 'the crime recorded');
    await ctl.waitForSelector(`#inbox li[data-kind="crime"]`, { state: 'attached' });

    await ctl.selectOption('#inbox-kind', 'crime');
    await ctl.click('#inbox-apply');
    await waitFor(async () => (await ctl.locator(item()).count()) === 0, { timeoutMs: UI_TIMEOUT, what: 'the sighting filtered out' });
    await textBecomes(ctl, '#inbox li:first-child .report-text', other, 'the crime shown');
    await ctl.click('#inbox-reset');
    await ctl.fill('#inbox-q', 'GREY VAN');
    await ctl.click('#inbox-apply');
    await waitFor(async () => (await ctl.locator('#inbox li').count()) === 1, { timeoutMs: UI_TIMEOUT, what: 'one report found' });
    await ctl.waitForSelector(item(), { state: 'attached' });
    await textBecomes(ctl, '#inbox-summary', /1 report \(with “GREY VAN”\), 1 open/, 'the summary says what is shown');
    await ctl.click('#inbox-reset');
    await waitFor(async () => (await ctl.locator('#inbox li').count()) === 2, { timeoutMs: UI_TIMEOUT, what: 'both reports again' });
  }));

  it('assigns and marks handled; each desk sees the other\'s change', () => withoutProblems(problems, async () => {
    const { ctl, an } = p;
    const analystId = (await st.one(`SELECT id FROM users WHERE username = 'analyst'`)).id;
    await ctl.selectOption(`${item()} select.report-assign`, String(analystId));
    await textBecomes(an, `${item()} .report-state`, 'Assigned to DC Priya Shah (Intelligence Unit)', 'the analyst sees the assignment');
    assert.equal(await an.inputValue(`${item()} select.report-assign`), String(analystId));
    await an.click(`${item()} button.report-handle`);
    await ctl.waitForSelector(`${item()}[data-handled="true"]`, { state: 'attached' });
    await textBecomes(ctl, `${item()} .report-state`, /^Handled by DC Priya Shah \(Intelligence Unit\) at .* · Assigned to DC Priya Shah/, 'the controller sees it handled');
    await textBecomes(an, `${item()} button.report-handle`, 'Open again', 'the button now reopens');
    const row = await st.one('SELECT assigned_to, handled_by FROM partner_reports WHERE id = $1', [reportId]);
    assert.deepEqual(row, { assigned_to: analystId, handled_by: analystId });
  }, () => shots('83-worked')));

  it('publishes an alert from the report, its text and place filled in, and links them', () => withoutProblems(problems, async () => {
    const { ctl } = p;
    await ctl.click(`${item()} button.report-publish`);
    await waitFor(async () => (await ctl.inputValue('#body')) === text, { timeoutMs: UI_TIMEOUT, what: 'the report text in the form' });
    assert.match(await ctl.inputValue('#headline'), /^Sighting/);
    assert.equal(await ctl.isChecked('input[name="area-kind"][value="circle"]'), true);
    assert.equal(Number(await ctl.inputValue('#area-lat')), PLACE.lat);
    assert.equal(Number(await ctl.inputValue('#area-lon')), PLACE.lon);
    assert.equal(await ctl.inputValue('#area-radius'), '200');
    assert.equal(await ctl.isChecked('#target-area'), true, 'the sites around the place are the recipients');
    await ctl.evaluate(() => document.getElementById('compose').scrollIntoView({ block: 'start' }));
    await shot(ctl, '83-publish-from-report');
    const headline = `Sighting near Cheapside ${newRef('h')}`;
    await ctl.fill('#headline', headline);
    await ctl.click('#send');
    const alert = await waitFor(async () => (await st.query('SELECT id FROM alerts WHERE headline = $1', [headline]))[0],
      { timeoutMs: UI_TIMEOUT, what: 'the alert stored' });
    await waitFor(async () => Number((await st.one('SELECT alert_id FROM partner_reports WHERE id = $1', [reportId])).alert_id) === Number(alert.id),
      { timeoutMs: UI_TIMEOUT, what: 'the report linked to the alert' });
    await textBecomes(ctl, `${item()} .report-state`, new RegExp(`Linked to alert “${headline}”`), 'the link shown');
    await textBecomes(p.an, `${item()} .report-state`, /Linked to alert/, 'the analyst sees the link');
    const recipients = (await st.query('SELECT site_id FROM alert_recipients WHERE alert_id = $1', [alert.id])).map((r) => r.site_id);
    assert.ok(recipients.includes(12), `Cheapside Galleria is inside the 200 m circle: ${recipients}`);
  }, async () => {
    await p.ctl.locator(item()).scrollIntoViewIfNeeded().catch(() => {});
    await shots('83-linked');
  }));

  it('stops cleanly (exit 0, no sanitizer report)', () => closeAndStop(st, Object.values(p)));
});
