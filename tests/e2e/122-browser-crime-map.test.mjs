// The crime picture in the browser (issue 21, items 3 and 5): the
// analyst's page draws the heat layer (leaflet.heat) and the Gi* hotspot
// grid of the police.uk sample, shows the prevalent times and the trend,
// opens a hot cell with its records clustered (leaflet.markercluster), and
// publishes a crime-pattern alert prefilled from the cell (area, wording,
// the sites inside as the preview) that a console of a site in that cell
// receives.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, waitFor } from './lib/harness.mjs';
import { importSample, hotCellWithConsole, SAMPLE_FILTER as FILTER } from './lib/crime.mjs';
import {
  launch, openAs, shot, textBecomes, withoutProblems, closeAndStop, UI_TIMEOUT,
} from './lib/browser.mjs';

describe('the crime picture on the analyst\'s page', { timeout: 600_000 }, () => {
  let st;
  let browser;
  let an;
  let target;            // {i, j, count, z, site_id, username}: a hot cell with a console's site
  const problems = [];

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    importSample(st);
    target = await hotCellWithConsole(st, FILTER);
    browser = await launch();
    an = await openAs(browser, st.broker.httpUrl, 'analyst', 'analyst', problems, { viewport: { width: 1280, height: 900 } });
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await st?.cleanup();
  });

  const cellPath = () => `#crime-map path.crime-cell[data-i="${target.i}"][data-j="${target.j}"]`;

  it('draws the heat layer and the hotspot grid of April 2025', () => withoutProblems(problems, async () => {
    await an.fill('#crime-from', FILTER.from);
    await an.fill('#crime-to', FILTER.to);
    await an.selectOption('#crime-cell', String(FILTER.cell_m));
    await an.click('#crime-show');
    await textBecomes(an, '#crime-summary', /^683 records; \d+ hot cells? of \d+\.$/, 'the summary');
    await an.waitForSelector('#crime-map canvas.leaflet-heatmap-layer', { state: 'attached' });
    assert.ok(Number(await an.getAttribute('#crime-map', 'data-heat-points')) > 50, 'heat points drawn');
    assert.ok(await an.locator('#crime-map path.crime-cell.hot-99').count() >= 1, 'a cell hot at p < 0.01');
    await an.waitForSelector(cellPath(), { state: 'attached' });
    assert.equal(await an.getAttribute(cellPath(), 'data-count'), String(target.count));
    await textBecomes(an, '#crime-trend', /^683 records in this period, 0 in the one before \(2025-03-02 to 2025-04-01\)\.$/, 'the trend');
    assert.ok(await an.locator('#crime-trend-table tbody tr').count() >= 10, 'the trend by category');
    assert.equal(await an.getAttribute('#crime-times', 'data-timed'), '0', 'police.uk gives months only');
    assert.equal(await an.locator('#crime-times tbody tr').count(), 7);
    await an.locator('#crime-map').scrollIntoViewIfNeeded();
  }, () => shot(an, '122-crime-heat-grid')));

  it('opens a hot cell: its records, clustered', () => withoutProblems(problems, async () => {
    await an.locator(cellPath()).click();
    await an.waitForSelector('#crime-cell-detail:not([hidden])', { state: 'attached' });
    await textBecomes(an, '#crime-cell-stats', new RegExp(`^${target.count} records?; Gi\\* z ${target.z}, p `), 'the cell\'s figures');
    await waitFor(async () => Number(await an.getAttribute('#crime-map', 'data-records')) === target.count,
      { timeoutMs: UI_TIMEOUT, what: 'the cell\'s records on the map' });
    assert.equal(await an.locator('#crime-records li').count(), Math.min(target.count, 50));
    await textBecomes(an, '#crime-records li:first-child .muted', /^April 2025 · On or near /, 'a police.uk record\'s month, in London');
    assert.ok(await an.locator('#crime-map .marker-cluster').count() >= 1, 'the snapped points cluster');
    assert.equal(await an.isDisabled('#crime-pattern'), false, 'a hot cell may become an alert');
  }, () => shot(an, '122-crime-cell')));

  it('publishes a crime-pattern alert for the cell, which a console there receives', () => withoutProblems(problems, async () => {
    const con = await st.connectAs(target.username);
    await an.click('#crime-pattern');
    await waitFor(async () => (await an.inputValue('#category')) === 'crime_pattern', { timeoutMs: UI_TIMEOUT, what: 'the template applied' });
    const headline = await an.inputValue('#headline');
    assert.match(headline, /^Crime pattern: /);
    assert.doesNotMatch(headline, /\[/, 'no gap left in the headline');
    const body = await an.inputValue('#body');
    assert.match(body, new RegExp(`^There have been ${target.count} recorded crimes .* over 2025-04-01 to 2025-05-01, mostly `));
    assert.match(body, /Getis-Ord Gi\* z = /);
    assert.equal(await an.isChecked('input[name="area-kind"][value="polygon"]'), true);
    assert.equal(await an.isChecked('#target-area'), true);
    assert.equal((await an.inputValue('#area-polygon')).split('\n').length, 4, 'the cell\'s four corners');
    await an.waitForSelector(`#preview-result li[data-site-id="${target.site_id}"]`, { state: 'attached' });
    await an.evaluate(() => document.getElementById('area').scrollIntoView({ block: 'start' }));
    await shot(an, '122-crime-pattern-form');
    await an.locator('#preview-result').scrollIntoViewIfNeeded();
    await shot(an, '122-crime-pattern-preview');
    await an.click('#send');
    const { alert } = await con.next((m) => m.type === 'alert' && m.alert?.category === 'crime_pattern', UI_TIMEOUT, 'the crime-pattern alert');
    assert.equal(alert.headline, headline);
    assert.ok(Array.isArray(alert.area?.polygon), 'the alert carries the cell as its area');
    const rec = await st.query(`SELECT r.site_id FROM alert_recipients r JOIN alerts a ON a.id = r.alert_id
                                 WHERE a.headline = $1`, [headline]);
    assert.ok(rec.some((x) => x.site_id === target.site_id));
  }));

  it('stops cleanly (exit 0, no sanitizer report)', () => closeAndStop(st, [an]));
});
