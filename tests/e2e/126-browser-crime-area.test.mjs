// A crime-pattern alert from an area drawn on the analyst's crime map
// (issue 21, item 5: "from a hot cell or a drawn area"): the analyst draws
// a polygon around a hot cell that holds a console's site, the page lists
// the records inside (the count the broker gives for that area), and the
// alert it prefills (area, categories, wording) reaches that console.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, waitFor } from './lib/harness.mjs';
import { importSample, hotCellWithConsole, SAMPLE_FILTER as FILTER } from './lib/crime.mjs';
import {
  launch, openAs, shot, textBecomes, withoutProblems, closeAndStop, UI_TIMEOUT,
} from './lib/browser.mjs';

describe('a crime-pattern alert from a drawn area', { timeout: 600_000 }, () => {
  let st;
  let browser;
  let an;
  let target;            // {i, j, site_id, username}: a hot cell holding a console's site
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

  it('draws an area around a hot cell and lists the records inside', () => withoutProblems(problems, async () => {
    await an.fill('#crime-from', FILTER.from);
    await an.fill('#crime-to', FILTER.to);
    await an.selectOption('#crime-cell', String(FILTER.cell_m));
    await an.click('#crime-show');
    await textBecomes(an, '#crime-summary', /^683 records;/, 'the picture');
    const cell = `#crime-map path.crime-cell[data-i="${target.i}"][data-j="${target.j}"]`;
    await an.click('#crime-draw');
    await an.waitForSelector('#crime-map.drawing', { state: 'attached' });
    // where the cell is once the button and the map's focus scrolled the page
    await an.locator('#crime-map').scrollIntoViewIfNeeded();
    const box = await an.locator(cell).boundingBox();
    assert.ok(box, 'the hot cell is on screen');
    const m = 25;
    const corners = [[box.x - m, box.y - m], [box.x + box.width + m, box.y - m],
      [box.x + box.width + m, box.y + box.height + m], [box.x - m, box.y + box.height + m]];
    for (const [x, y] of corners) await an.mouse.click(x, y);
    await waitFor(async () => (await an.getAttribute('#crime-map', 'data-draft-points')) === '4',
      { timeoutMs: UI_TIMEOUT, what: 'four corners' });
    await an.click('#crime-draw-finish');
    await textBecomes(an, '#crime-cell-title', 'Drawn area', 'the drawn area\'s records');
    assert.equal(await an.isHidden('#crime-draw-finish'), true);
    const shown = Number(/^(\d+) records? inside$/.exec(await an.textContent('#crime-cell-stats'))[1]);
    assert.ok(shown > 0, 'records inside');
    await textBecomes(an, '#crime-pattern', 'Crime-pattern alert for this area', 'the button names the area');
    assert.equal(await an.isDisabled('#crime-pattern'), false);
    await waitFor(async () => Number(await an.getAttribute('#crime-map', 'data-records')) === Math.min(shown, 500),
      { timeoutMs: UI_TIMEOUT, what: 'the area\'s records on the map' });
    await shot(an, '126-crime-drawn-area');
  }));

  it('publishes a crime-pattern alert for the area, which a console inside receives', () => withoutProblems(problems, async () => {
    const con = await st.connectAs(target.username);
    const shown = Number(/^(\d+)/.exec(await an.textContent('#crime-cell-stats'))[1]);
    await an.click('#crime-pattern');
    await waitFor(async () => (await an.inputValue('#category')) === 'crime_pattern', { timeoutMs: UI_TIMEOUT, what: 'the template applied' });
    const body = await an.inputValue('#body');
    assert.match(body, new RegExp(`^There have been ${shown} recorded crimes .* over 2025-04-01 to 2025-05-01, mostly `));
    assert.match(body, /This area was drawn on the force's crime map around them\.$/);
    assert.equal(await an.isChecked('input[name="area-kind"][value="polygon"]'), true);
    const lines = (await an.inputValue('#area-polygon')).split('\n');
    assert.equal(lines.length, 4, 'the four corners drawn');
    // the broker counts the same records inside the drawn polygon
    const corners = lines.map((l) => l.split(',').map(Number));
    const polygon = [...corners, corners[0]];
    const r = await st.http('POST', '/api/crime/picture', {
      body: { ...FILTER, area: { polygon } }, headers: { authorization: `Bearer ${await st.token('analyst')}` },
    });
    assert.equal(r.json.records, shown, 'the page\'s count is the broker\'s for that polygon');
    await an.waitForSelector(`#preview-result li[data-site-id="${target.site_id}"]`, { state: 'attached' });
    const headline = await an.inputValue('#headline');
    await an.click('#send');
    const { alert } = await con.next((m) => m.type === 'alert' && m.alert?.category === 'crime_pattern', UI_TIMEOUT, 'the crime-pattern alert');
    assert.equal(alert.headline, headline);
    assert.deepEqual(alert.area?.polygon, polygon);
  }));

  it('stops cleanly (exit 0, no sanitizer report)', () => closeAndStop(st, [an]));
});
