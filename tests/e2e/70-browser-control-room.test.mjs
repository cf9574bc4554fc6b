// The control room in a real browser, with two building consoles and an
// analyst open at once (issue #7): compose from a template, draw the area
// on the map, only the consoles inside it ring (the urgent one takes the
// whole screen and rings until acknowledged); answer and acknowledge, and
// the tallies update on the controller's screen; the exercise send path
// differs visibly from the live one; the analyst publishes a crime-pattern
// alert to a sector inside a drawn polygon and reads partner reports on
// the map. A screenshot of every console is saved per test.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, waitFor, sleep } from './lib/harness.mjs';
import { distanceM, inArea } from './lib/alerts.mjs';
import { launch, openAs, textBecomes, shot, markerCentres, UI_TIMEOUT } from './lib/browser.mjs';

const INSIDE = 'console.threadneedle';   // Threadneedle Exchange House
const OUTSIDE = 'console.cheapside';     // Cheapside Galleria, about 550 m west

describe('control room, consoles and analyst in Chromium', { timeout: 600_000 }, () => {
  let st;
  let browser;
  let sites;            // id -> {id, name, lat, lon, sector}
  let siteA;
  let siteB;
  const problems = [];
  const p = {};         // pages by name

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    browser = await launch();
    const rows = await st.query(`SELECT s.id, s.name, s.lat, s.lon, x.code AS sector, u.username
                                   FROM sites s JOIN sectors x ON x.id = s.sector_id
                                   LEFT JOIN users u ON u.site_id = s.id AND u.role = 'site_console'`);
    sites = new Map(rows.map((r) => [r.id, r]));
    siteA = rows.find((r) => r.username === INSIDE);
    siteB = rows.find((r) => r.username === OUTSIDE);
    assert.ok(siteA && siteB, 'demo data has both consoles');
    const base = st.broker.httpUrl;
    p.a = await openAs(browser, base, INSIDE, 'site_console', problems);
    p.b = await openAs(browser, base, OUTSIDE, 'site_console', problems);
    p.ctl = await openAs(browser, base, 'controller', 'controller', problems);
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await st?.cleanup();
  });

  async function shots(prefix) {
    for (const [name, page] of Object.entries(p)) await shot(page, `${prefix}-${name}`);
  }

  function failWithProblems(err) {
    if (problems.length) err.message += `\npage problems:\n  ${problems.join('\n  ')}`;
    return err;
  }

  async function alertByHeadline(headline) {
    return waitFor(async () => (await st.query('SELECT id, status FROM alerts WHERE headline = $1', [headline]))[0],
      { timeoutMs: UI_TIMEOUT, what: `alert "${headline}" stored` });
  }

  async function recipients(id) {
    return (await st.query('SELECT site_id FROM alert_recipients WHERE alert_id = $1 ORDER BY site_id', [id]))
      .map((r) => r.site_id);
  }

  it('a template and a circle drawn on the map reach only the consoles inside; answer, acknowledge, tallies', async () => {
    const { ctl, a, b } = p;
    try {
      // The map is there, with the City outline and every site.
      await ctl.waitForSelector('#compose-map[data-outline="loaded"]', { state: 'attached' });
      await waitFor(async () => Number(await ctl.getAttribute('#compose-map', 'data-sites')) === sites.size,
        { timeoutMs: UI_TIMEOUT, what: 'all sites on the compose map' });

      // Template: the form is filled in, gaps marked.
      await ctl.selectOption('#template', 'suspicious_item');
      await ctl.click('#template-apply');
      assert.equal(await ctl.inputValue('#category'), 'live_incident');
      assert.equal(await ctl.inputValue('#severity'), 'severe');
      assert.equal(await ctl.inputValue('#urgency'), 'immediate');
      assert.equal(await ctl.inputValue('#request-kind'), 'choice');
      assert.match(await ctl.inputValue('#request-options'), /Checked, nothing found/);
      assert.match(await ctl.inputValue('#headline'), /\[place\]/);

      // Gaps left from the template: refused on the page, nothing sent.
      await ctl.fill('#confirm-live', 'SEND');
      await ctl.click('#send');
      await textBecomes(ctl, '#compose-error', /Fill in \[place\]/, 'the template gap error');
      assert.equal(await ctl.getAttribute('#headline', 'aria-invalid'), 'true');
      assert.equal((await st.query("SELECT count(*)::int AS n FROM alerts WHERE headline LIKE '%[place]%'"))[0].n, 0);

      const headline = `Suspicious item at Threadneedle Street ${Date.now()}`;
      await ctl.fill('#headline', headline);
      await ctl.fill('#body', 'Police are dealing with a suspicious item outside 41 Threadneedle Street. A cordon of 100 m is in place.');
      await ctl.fill('#instruction', 'Move people away from windows facing Threadneedle Street.');

      // Draw a circle: centre on site A, edge a third of the way to site B.
      await ctl.click('#draw-circle');
      await ctl.waitForSelector('#compose-map[data-drawing="circle"]', { state: 'attached' });
      const m = await markerCentres(ctl, '#compose-map');
      const pa = m[siteA.id];
      const pb = m[siteB.id];
      assert.ok(pa && pb, 'both sites have markers on the map');
      const dx = (pb.x - pa.x) / 3;
      const dy = (pb.y - pa.y) / 3;
      await ctl.mouse.click(pa.x, pa.y);
      await ctl.mouse.move(pa.x + dx / 2, pa.y + dy / 2);
      await ctl.mouse.click(pa.x + dx, pa.y + dy);
      await waitFor(async () => (await ctl.inputValue('#area-radius')) !== '', { timeoutMs: UI_TIMEOUT, what: 'radius filled from the drawing' });
      assert.equal(await ctl.isChecked('input[name="area-kind"][value="circle"]'), true);
      assert.equal(await ctl.isChecked('#target-area'), true, 'drawing ticks "every site inside the area"');
      const circle = {
        lat: Number(await ctl.inputValue('#area-lat')),
        lon: Number(await ctl.inputValue('#area-lon')),
        radius_m: Number(await ctl.inputValue('#area-radius')),
      };
      assert.ok(distanceM(circle.lat, circle.lon, siteA.lat, siteA.lon) < 30, `centre near site A: ${JSON.stringify(circle)}`);
      const abM = distanceM(siteA.lat, siteA.lon, siteB.lat, siteB.lon);
      assert.ok(circle.radius_m > abM / 6 && circle.radius_m < abM / 2, `radius about a third of A–B (${abM} m): ${circle.radius_m}`);
      await ctl.waitForSelector('#compose-map[data-areas="1"]', { state: 'attached' });
      const expected = [...sites.values()].filter((s) => inArea(s, { circle })).map((s) => s.id).sort((x, y) => x - y);
      assert.ok(expected.includes(siteA.id) && !expected.includes(siteB.id));
      await textBecomes(ctl, '#area-summary', new RegExp(`about ${expected.length} known site`), 'the area summary');
      await ctl.evaluate(() => document.getElementById('area').scrollIntoView({ block: 'start' }));
      await shot(ctl, 'control-room');

      // The preview agrees with the page.
      await ctl.click('#preview');
      await ctl.waitForSelector('#preview-result[data-state="shown"]', { state: 'attached' });
      assert.equal(Number(await ctl.getAttribute('#preview-result .preview-count', 'data-count')), expected.length);

      await ctl.fill('#confirm-live', 'SEND');
      await ctl.click('#send');
      const alert = await alertByHeadline(headline);
      assert.deepEqual(await recipients(alert.id), expected, 'the recipients are the sites inside the drawn circle');
      const sent = `#sent-alerts [data-alert-id="${alert.id}"]`;
      await textBecomes(ctl, `${sent} .recipients`, String(expected.length), 'recipients in the sent list');
      await textBecomes(ctl, `${sent} .not-acked`, new RegExp(`^Not acknowledged yet \\(${expected.length}\\): .*${siteA.name}`),
        'every recipient still to acknowledge');

      // Inside: the alert takes the whole screen and rings.
      await a.waitForSelector(`#alert-banner[data-alert-id="${alert.id}"][data-takeover="true"]`, { state: 'visible' });
      await textBecomes(a, '#alert-banner .headline', headline, 'the takeover headline');
      assert.equal(await a.getAttribute('#sound', 'data-ringing'), 'true', 'the urgent alert rings');
      const box = await a.locator('#alert-banner').boundingBox();
      const vp = a.viewportSize();
      assert.ok(box.width >= vp.width - 2 && box.height >= vp.height - 2, `takeover covers the screen: ${JSON.stringify(box)}`);
      assert.equal(await a.evaluate(() => document.activeElement?.id), 'ack', 'the keyboard is on Acknowledge');
      assert.equal(await a.evaluate(() => document.querySelector('main').inert), true, 'the page behind is inert');
      await textBecomes(a, '#announcer', new RegExp(headline.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'announced to screen readers');
      assert.equal(await a.isVisible('#alert-banner .exercise-mark'), false, 'a live alert has no exercise mark');
      await shot(a, 'console-takeover');

      // Answer, then acknowledge with the keyboard.
      await a.click('#alert-banner .answer-option[data-option="Checked, nothing found"]');
      await textBecomes(ctl, `${sent} .answers .answered`, '1', 'answers tally on the controller');
      await textBecomes(ctl, `${sent} .delivered`, '1', 'delivered: the one recipient console that is open');
      await a.focus('#ack');
      await a.keyboard.press('Enter');
      await textBecomes(ctl, `${sent} .acknowledged`, '1', 'acknowledged tally on the controller');
      // The list of sites that have not acknowledged follows.
      const others = expected.filter((id) => id !== siteA.id).map((id) => sites.get(id).name).sort((x, y) => x.localeCompare(y));
      if (others.length) {
        await textBecomes(ctl, `${sent} .not-acked`, `Not acknowledged yet (${others.length}): ${others.join(', ')}`,
          'the sites still to acknowledge');
      }
      await a.waitForSelector('#alert-banner', { state: 'hidden' });
      assert.equal(await a.getAttribute('#sound', 'data-ringing'), 'false', 'ringing stops once acknowledged');
      assert.equal(await a.evaluate(() => document.querySelector('main').inert), false);
      await textBecomes(a, `#alerts [data-alert-id="${alert.id}"] .status`, 'Acknowledged', 'history status');
      const answers = await st.query('SELECT site_id FROM answers WHERE alert_id = $1', [alert.id]).catch(() => null);
      if (answers) assert.deepEqual(answers.map((r) => r.site_id), [siteA.id]);

      // Outside: nothing rang.
      await sleep(1000);
      assert.equal(await b.isVisible('#alert-banner'), false, 'the console outside the area did not ring');
      assert.equal(await b.locator(`#alerts [data-alert-id="${alert.id}"]`).count(), 0);
      assert.equal(await b.getAttribute('#sound', 'data-ringing'), 'false');
    } catch (err) {
      throw failWithProblems(err);
    } finally {
      await shots('70-area');
    }
    assert.deepEqual(problems, []);
  });

  it('an exercise is sent and shown differently from a live alert; a live severe alert needs SEND typed', async () => {
    const { ctl, a } = p;
    try {
      // Live severe without the typed confirmation: refused on the page.
      await ctl.selectOption('#template', 'live_incident');
      await ctl.click('#template-apply');
      const live = `Live incident at Cornhill ${Date.now()}`;
      await ctl.fill('#headline', live);
      await ctl.fill('#body', 'Armed officers are deploying to Cornhill.');
      await ctl.fill('#instruction', 'Keep people inside.');
      await ctl.check('input[name="area-kind"][value="none"]');
      await ctl.uncheck('#target-area');
      await ctl.check(`input[name="target-site"][value="${siteA.id}"]`);
      assert.equal(await ctl.isVisible('#confirm-live-field'), true);
      assert.equal((await ctl.textContent('#send')).trim(), 'Send alert');
      await ctl.fill('#confirm-live', 'yes');
      await ctl.click('#send');
      await textBecomes(ctl, '#compose-error', /SEND/, 'the typed confirmation error');
      assert.equal(await ctl.getAttribute('#confirm-live', 'aria-invalid'), 'true');
      assert.equal((await st.query('SELECT count(*)::int AS n FROM alerts WHERE headline = $1', [live]))[0].n, 0);
      const liveLook = await ctl.evaluate(() => getComputedStyle(document.querySelector('.compose-panel')).backgroundImage);

      // The same as an exercise: no typed confirmation, violet stripes, EXERCISE everywhere.
      await ctl.selectOption('#status', 'exercise');
      assert.equal(await ctl.isVisible('#confirm-live-field'), false, 'no typed confirmation for an exercise');
      await textBecomes(ctl, '#exercise-banner', /^EXERCISE/, 'the exercise banner');
      await textBecomes(ctl, '#send', 'Send EXERCISE alert', 'the send button wording');
      assert.equal(await ctl.getAttribute('#compose', 'data-status'), 'exercise');
      const exLook = await ctl.evaluate(() => getComputedStyle(document.querySelector('.compose-panel')).backgroundImage);
      assert.notEqual(exLook, liveLook, 'the compose panel looks different for an exercise');
      const exercise = `EXERCISE drill at Threadneedle ${Date.now()}`;
      await ctl.fill('#headline', exercise);
      await shot(ctl, '70-exercise-compose');
      await ctl.click('#send');
      const alert = await alertByHeadline(exercise);
      assert.equal(alert.status, 'exercise');
      const sent = `#sent-alerts [data-alert-id="${alert.id}"]`;
      await ctl.waitForSelector(`${sent}[data-alert-status="exercise"]`, { state: 'attached' });
      await textBecomes(ctl, `${sent} .exercise-mark`, 'EXERCISE', 'the sent entry is marked');

      await a.waitForSelector(`#alert-banner[data-alert-id="${alert.id}"][data-alert-status="exercise"]`, { state: 'visible' });
      await textBecomes(a, '#alert-banner .exercise-mark', /^EXERCISE/, 'the console banner mark');
      assert.equal(await a.isVisible('#alert-banner .exercise-strip'), true, 'the striped strip');
      assert.match(await a.textContent('#announcer'), /EXERCISE/i, 'the announcement says exercise');
      assert.equal(await a.getAttribute(`#alerts [data-alert-id="${alert.id}"]`, 'data-alert-status'), 'exercise');
      await shot(a, 'console-exercise');
      await a.click('#ack');
      await a.waitForSelector('#alert-banner', { state: 'hidden' });
      await ctl.selectOption('#status', 'actual');
    } catch (err) {
      throw failWithProblems(err);
    } finally {
      await shots('70-exercise');
    }
    assert.deepEqual(problems, []);
  });

  it('the analyst publishes a crime pattern to a sector inside a drawn polygon and reads partner reports on the map', async () => {
    const { a, b } = p;
    try {
      p.analyst = await openAs(browser, st.broker.httpUrl, 'analyst', 'analyst', problems);
      const an = p.analyst;
      await an.waitForSelector('#compose-map[data-outline="loaded"]', { state: 'attached' });
      await an.selectOption('#template', 'crime_pattern');
      await an.click('#template-apply');
      assert.equal(await an.inputValue('#category'), 'crime_pattern');
      const headline = `Crime pattern: phone snatches around Bank ${Date.now()}`;
      await an.fill('#headline', headline);
      await an.fill('#body', 'Twelve phone snatches by cyclists around Bank over the last fortnight, mostly 17:00 to 19:00.');
      await an.fill('#instruction', 'Brief staff; report anything similar from this console.');

      // A square drawn around sites A and B (and more), closed with Finish.
      await an.click('#draw-polygon');
      const m = await markerCentres(an, '#compose-map');
      const pa = m[siteA.id];
      const pb = m[siteB.id];
      const pad = 40;
      const x0 = Math.min(pa.x, pb.x) - pad;
      const x1 = Math.max(pa.x, pb.x) + pad;
      const y0 = Math.min(pa.y, pb.y) - pad;
      const y1 = Math.max(pa.y, pb.y) + pad;
      for (const [x, y] of [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]) await an.mouse.click(x, y);
      await textBecomes(an, '#draw-hint', /4 corners/, 'the drawing hint');
      await an.click('#draw-finish');
      await waitFor(async () => (await an.inputValue('#area-polygon')).split('\n').length === 4,
        { timeoutMs: UI_TIMEOUT, what: 'the polygon in the form' });
      assert.equal(await an.isChecked('input[name="area-kind"][value="polygon"]'), true);
      const polygon = (await an.inputValue('#area-polygon')).split('\n').map((l) => l.split(',').map(Number));
      polygon.push(polygon[0]);
      await an.check(`input[name="target-sector"][value="${siteA.sector}"]`);
      const expected = [...sites.values()]
        .filter((s) => s.sector === siteA.sector && inArea(s, { polygon }))
        .map((s) => s.id).sort((x, y) => x - y);
      assert.ok(expected.includes(siteA.id));
      await an.click('#send');
      const alert = await alertByHeadline(headline);
      assert.deepEqual(await recipients(alert.id), expected, 'finance sites inside the drawn polygon');
      await a.waitForSelector(`#alerts [data-alert-id="${alert.id}"]`, { state: 'attached' });
      await textBecomes(a, `#alerts [data-alert-id="${alert.id}"] .category`, /Crime pattern/i, 'the category on the console');

      // A partner report from a console appears in the inbox and on the map.
      await a.selectOption('#report-kind', 'sighting');
      const text = `Two cyclists watching the entrance ${Date.now()}`;
      await a.fill('#report-text', text);
      await a.click('#report-send');
      await textBecomes(a, '#report-result', /.+/, 'the report was sent');
      await textBecomes(an, '#inbox li:first-child .report-text', text, 'the report in the analyst inbox');
      await an.waitForSelector('#board-map path.report-marker', { state: 'attached' });
      assert.ok(Number(await an.getAttribute('#board-map', 'data-reports')) >= 1);
      await an.locator('#board-map').scrollIntoViewIfNeeded();
      assert.equal(await an.locator('#board-map path.site-marker').count(), sites.size, 'every site on the board map');
      await an.waitForSelector(`#board-map path.area-shape[data-alert-id="${alert.id}"]`, { state: 'attached' });
      await sleep(300);   // one paint after scrolling
      await shot(an, 'analyst');
      assert.equal(await b.locator(`#alerts [data-alert-id="${alert.id}"]`).count(),
        expected.includes(siteB.id) ? 1 : 0);
    } catch (err) {
      throw failWithProblems(err);
    } finally {
      await shots('70-analyst');
    }
    assert.deepEqual(problems, []);
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    for (const page of Object.values(p)) await page.context().close().catch(() => {});
    await st.stop();
  });
});
