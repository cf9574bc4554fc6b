// Crime records and stolen property in the browser (issue 21, items 2 and
// 4): a building console records a phone stolen at its site with the
// report form's crime part (category, when, property, serial); a company
// desk pins where it saw a handset with the same IMEI; the analyst's inbox
// gets the stolen-property match with its place, and its trail of two
// places is drawn on the crime picture's map.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, waitFor } from './lib/harness.mjs';
import {
  launch, openAs, shot, textBecomes, withoutProblems, closeAndStop, UI_TIMEOUT,
} from './lib/browser.mjs';

const IMEI = '356938035643809';
const SEEN = { lat: 51.5152, lon: -0.0921 };

describe('crime records and stolen property in the browser', { timeout: 600_000 }, () => {
  let st;
  let browser;
  const p = {};
  const problems = [];
  let operator;
  let stolenId;

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    // an operator of a company other than console.cheapside's
    operator = (await st.one(`SELECT min(u.username) AS u FROM users u
        WHERE u.role = 'company_operator' AND NOT u.disabled
          AND u.org_id <> (SELECT s.guard_org_id FROM users c JOIN sites s ON s.id = c.site_id
                            WHERE c.username = 'console.cheapside')`)).u;
    browser = await launch();
    const base = st.broker.httpUrl;
    p.con = await openAs(browser, base, 'console.cheapside', 'site_console', problems, { viewport: { width: 390, height: 844 } });
    // the refused upload below is a 400 the browser logs
    p.desk = await openAs(browser, base, operator, 'company_operator', problems, {
      viewport: { width: 1280, height: 900 }, allow: [/status of 400 \(Bad Request\)/],
    });
    p.an = await openAs(browser, base, 'analyst', 'analyst', problems, { viewport: { width: 1280, height: 900 } });
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await st?.cleanup();
  });

  it('a console records a phone stolen at its site', () => withoutProblems(problems, async () => {
    const { con } = p;
    assert.equal(await con.isHidden('#report-crime'), true, 'the crime part shows for a crime only');
    await con.selectOption('#report-kind', 'crime');
    await con.waitForSelector('#report-crime:not([hidden])');
    assert.notEqual(await con.inputValue('#report-when'), '', 'when defaults to now');
    await con.selectOption('#report-category', 'theft-from-the-person');
    await con.fill('#report-text', 'Phone taken from a visitor\'s bag in the lobby');
    await con.fill('#report-property-kind', 'mobile phone');
    await con.fill('#report-property-make', 'Samsung');
    await con.fill('#report-property-model', 'Galaxy S21');
    await con.fill('#report-property-serial', IMEI);
    await con.selectOption('#report-property-status', 'stolen');
    await con.evaluate(() => document.getElementById('report-crime').scrollIntoView({ block: 'start' }));
    await shot(con, '125-crime-form-con');
    await con.click('#report-send');
    await textBecomes(con, '#report-result', /^Crime recorded for the police at .* \(record \d+\)\.$/, 'the record stored');
    stolenId = Number(/record (\d+)/.exec(await con.textContent('#report-result'))[1]);
    const row = await st.one(`SELECT c.category, c.property_model, c.property_status, c.serial_hash, s.lat, s.lon,
                                     ST_Y(c.geom) AS y, ST_X(c.geom) AS x
                                FROM crime_records c JOIN sites s ON s.id = c.site_id WHERE c.id = $1`, [stolenId]);
    assert.equal(row.category, 'theft-from-the-person');
    assert.equal(row.property_model, 'Galaxy S21');
    assert.equal(row.property_status, 'stolen');
    assert.ok(Math.abs(row.y - row.lat) < 1e-9 && Math.abs(row.x - row.lon) < 1e-9, 'at the site without a pin');
    assert.equal(await con.isHidden('#report-crime'), true, 'the form is reset');
  }));

  it('a desk asks for the serial of a sighting, then pins where it saw the handset', () => withoutProblems(problems, async () => {
    const { desk } = p;
    await desk.selectOption('#report-kind', 'crime');
    await desk.selectOption('#report-category', 'other-theft');
    await desk.fill('#report-text', 'Handset with the reported IMEI offered for sale at the kiosk');
    await desk.fill('#report-property-kind', 'mobile phone');
    await desk.selectOption('#report-property-status', 'sighted');
    await desk.fill('#report-lat', String(SEEN.lat));
    await desk.fill('#report-lon', String(SEEN.lon));
    await desk.click('#report-send');
    await textBecomes(desk, '#report-error', /serial/, 'a sighting needs its serial');
    assert.equal(await desk.getAttribute('#report-property-serial', 'aria-invalid'), 'true');
    await desk.fill('#report-property-serial', '35 693803 564380 9');
    await desk.click('#report-send');
    await textBecomes(desk, '#report-result', /^Crime recorded/, 'the sighting stored');
  }));

  it('the analyst gets the match with its place and draws the trail of two places', () => withoutProblems(problems, async () => {
    const { an } = p;
    const item = '#inbox li[data-kind="property_match"]';
    await an.waitForSelector(item, { timeout: UI_TIMEOUT });
    await textBecomes(an, `${item} .report-kind`, 'Stolen property seen', 'the match\'s kind');
    await textBecomes(an, `${item} .report-place`, `Sighting place: ${SEEN.lat.toFixed(5)}, ${SEEN.lon.toFixed(5)}`, 'the sighting\'s place');
    assert.match(await an.textContent(`${item} .report-text`), new RegExp(`Samsung Galaxy S21 .*record ${stolenId}\\b`));
    await an.click(`${item} .report-trail`);
    await waitFor(async () => (await an.getAttribute('#crime-map', 'data-trail')) === '2', { timeoutMs: UI_TIMEOUT, what: 'the trail drawn' });
    assert.equal(await an.locator('#crime-map path.crime-trail').count(), 1, 'a line from the theft to the sighting');
    assert.equal(await an.locator('#crime-trail-list li').count(), 2);
    await textBecomes(an, '#crime-trail-list li:first-child strong', 'stolen', 'the theft first');
    await textBecomes(an, '#crime-trail-list li:last-child strong', 'sighted', 'then the sighting');
    assert.equal(await an.getAttribute('#crime-trail-list li:first-child', 'data-record-id'), String(stolenId));
    await shot(an, '125-crime-trail');
  }));

  it('a desk uploads a CSV of crimes; a bad one is refused with its line, and a console has no upload', () => withoutProblems(problems, async () => {
    const { desk, con } = p;
    assert.equal(await con.isHidden('#crime-upload-panel'), true, 'a building console does not upload');
    await desk.waitForSelector('#crime-upload-panel:not([hidden])');
    const head = 'occurred_at,category,lat,lon,text,property_kind,property_make,property_model,property_serial,property_status';
    const at = new Date(Date.now() - 3_600_000).toISOString();
    const n = Number((await st.one('SELECT count(*) AS n FROM crime_records')).n);
    await desk.setInputFiles('#crime-upload-file', { name: 'bad.csv', mimeType: 'text/csv',
      buffer: Buffer.from(`${head}\n${at},shoplifting,51.5142,-0.0885,ok,,,,,\n${at},shoplifting,48.85,2.35,Paris,,,,,\n`) });
    await desk.click('#crime-upload-send');
    await textBecomes(desk, '#crime-upload-error', /^Nothing was recorded: line 3: lat must be a number in the force's area .* \(lat\)\.$/, 'the bad line named');
    assert.equal(Number((await st.one('SELECT count(*) AS n FROM crime_records')).n), n, 'nothing of it stored');
    await desk.setInputFiles('#crime-upload-file', { name: 'week.csv', mimeType: 'text/csv',
      buffer: Buffer.from(`${head}\n${at},shoplifting,51.5142,-0.0885,ok,,,,,\n${at},other-theft,51.5150,-0.0900,,mobile phone,,,${IMEI},recovered\n`) });
    await desk.click('#crime-upload-send');
    await textBecomes(desk, '#crime-upload-result', '2 crimes recorded for the police.', 'the upload recorded');
    assert.equal(Number((await st.one('SELECT count(*) AS n FROM crime_records')).n), n + 2);
    assert.equal(Number((await st.one(`SELECT count(*) AS n FROM partner_reports WHERE kind = 'property_match'`)).n), 2,
      'the recovery in the file matched the register too');
    await desk.locator('#crime-upload-panel').scrollIntoViewIfNeeded();
    await shot(desk, '125-crime-upload-desk');
  }));

  it('stops cleanly (exit 0, no sanitizer report)', () => closeAndStop(st, Object.values(p)));
});
