// The security company desk and the status board in a real browser, with
// the controller, the company operator and two of its building consoles
// open at once (issue #7): the desk lists its sites with their console's
// connection state and latest status; a force alert reaches the desk and
// its sites; the desk relays it with a note to one chosen site only, which
// acknowledges, and the desk sees the relay's tally; a building's status
// update appears on the controller's board (table and map), in the sorted
// table and in the area totals around a point clicked on the map.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, waitFor, sleep } from './lib/harness.mjs';
import { distanceM } from './lib/alerts.mjs';
import { launch, openAs, textBecomes, shot, markerCentres, UI_TIMEOUT } from './lib/browser.mjs';

const A = 'console.threadneedle';  // Citadel Security
const C = 'console.cornhill';      // Citadel Security

describe('company desk and status board in Chromium', { timeout: 600_000 }, () => {
  let st;
  let browser;
  let siteA;
  let siteC;
  let citadel;
  let sites;
  const problems = [];
  const p = {};

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    browser = await launch();
    sites = await st.query(`SELECT s.id, s.name, s.lat, s.lon, s.guard_org_id, u.username
                              FROM sites s LEFT JOIN users u ON u.site_id = s.id AND u.role = 'site_console'`);
    siteA = sites.find((s) => s.username === A);
    siteC = sites.find((s) => s.username === C);
    citadel = siteA.guard_org_id;
    assert.equal(siteC.guard_org_id, citadel);
    const base = st.broker.httpUrl;
    p.a = await openAs(browser, base, A, 'site_console', problems);
    p.c = await openAs(browser, base, C, 'site_console', problems);
    p.desk = await openAs(browser, base, 'op.citadel', 'company_operator', problems);
    p.ctl = await openAs(browser, base, 'controller', 'controller', problems);
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await st?.cleanup();
  });

  function failWithProblems(err) {
    if (problems.length) err.message += `\npage problems:\n  ${problems.join('\n  ')}`;
    return err;
  }

  async function shots(prefix) {
    for (const [name, page] of Object.entries(p)) await shot(page, `${prefix}-${name}`);
  }

  it('the desk shows its sites with the connection state of their consoles', async () => {
    const { desk } = p;
    try {
      await desk.waitForSelector('#board-panel', { state: 'visible' });
      const own = sites.filter((s) => s.guard_org_id === citadel);
      await waitFor(async () => (await desk.locator('#board tbody tr').count()) === own.length,
        { timeoutMs: UI_TIMEOUT, what: 'every Citadel site on the desk board' });
      await desk.waitForSelector(`#board tr[data-site-id="${siteA.id}"] td.console[data-online="true"]`, { state: 'attached' });
      await textBecomes(desk, `#board tr[data-site-id="${siteC.id}"] td.console`, 'Connected', 'site C connected');
      const closed = own.find((s) => s.id !== siteA.id && s.id !== siteC.id);
      await textBecomes(desk, `#board tr[data-site-id="${closed.id}"] td.console`, 'Offline', 'a site with no console open');

      // Site C's console goes away: the desk sees it offline within a poll or two.
      await p.c.context().close();
      delete p.c;
      await textBecomes(desk, `#board tr[data-site-id="${siteC.id}"] td.console`, 'Offline', 'site C offline after its console closed', 60_000);
      p.c = await openAs(browser, st.broker.httpUrl, C, 'site_console', problems);
      await textBecomes(desk, `#board tr[data-site-id="${siteC.id}"] td.console`, 'Connected', 'site C back', 60_000);
    } catch (err) {
      throw failWithProblems(err);
    } finally {
      await shots('71-presence');
    }
    assert.deepEqual(problems, []);
  });

  it('a force alert reaches the desk; the desk relays it with a note to one chosen site only', async () => {
    const { ctl, desk, a, c } = p;
    try {
      const headline = `Planned protest on Cornhill ${Date.now()}`;
      await ctl.selectOption('#template', 'planned_protest');
      await ctl.click('#template-apply');
      await ctl.fill('#headline', headline);
      await ctl.fill('#body', 'About 300 people are expected along Cornhill from 12:00 to 15:00.');
      await ctl.fill('#instruction', 'Keep entrances clear and staffed.');
      await ctl.check(`input[name="target-org"][value="${citadel}"]`);
      await ctl.click('#send');
      const orig = await waitFor(async () => (await st.query('SELECT id FROM alerts WHERE headline = $1', [headline]))[0],
        { timeoutMs: UI_TIMEOUT, what: 'the alert stored' });

      // The desk sees it (banner and history), and so do both sites.
      await desk.waitForSelector(`#alert-banner[data-alert-id="${orig.id}"]`, { state: 'visible' });
      for (const page of [a, c]) await page.waitForSelector(`#alerts [data-alert-id="${orig.id}"]`, { state: 'attached' });
      for (const page of [a, c]) await page.click('#ack');

      // Relay to site A only, with a note.
      await desk.click('#banner-relay');
      await desk.waitForSelector('#relay-dialog[open]', { state: 'attached' });
      await desk.uncheck('#relay-all');
      await desk.check(`input[name="relay-site"][value="${siteA.id}"]`);
      const note = `Extra guard at the front door please ${Date.now()}`;
      await desk.fill('#relay-note', note);
      await shot(desk, 'company-desk-relay');
      await desk.click('#relay-send');
      await desk.waitForSelector('#relay-dialog', { state: 'hidden' });
      const relay = await waitFor(async () => (await st.query(
        'SELECT id FROM alerts WHERE relay_of = $1', [orig.id]))[0],
      { timeoutMs: UI_TIMEOUT, what: 'the relay stored' });
      const relayId = Number(relay.id);
      const rec = (await st.query('SELECT site_id FROM alert_recipients WHERE alert_id = $1', [relayId])).map((r) => r.site_id);
      assert.deepEqual(rec, [siteA.id], 'the relay goes to the chosen site only');

      // Site A got the alert and acknowledged it: the relay is Citadel's
      // note on that alert (issue 17, item 5), already acknowledged there,
      // not a second alert to acknowledge and answer.
      await textBecomes(a, `#alerts [data-alert-id="${orig.id}"] .relay-note`, new RegExp(note), 'the relay note on the alert at site A');
      assert.equal(await a.locator(`#alerts [data-alert-id="${relayId}"]`).count(), 0, 'no second alert at site A');
      assert.equal(await a.isVisible('#alert-banner'), false, 'nothing waits at site A');
      const copied = await st.one('SELECT count(*)::int AS n FROM acks WHERE alert_id = $1 AND site_id = $2', [relayId, siteA.id]);
      assert.equal(copied.n, 1, 'the one acknowledgement counts for the relay');
      await textBecomes(desk, `#alerts [data-alert-id="${orig.id}"] .relayed`, /acknowledged 1 of 1/, 'the relay tally on the desk');
      // Site by site, site A once: under our sites, acknowledged.
      const ownRow = `#alerts [data-alert-id="${orig.id}"] .own-sites-status li[data-site-id="${siteA.id}"]`;
      await desk.waitForSelector(`${ownRow}[data-acked="true"]`, { state: 'attached' });
      await textBecomes(desk, ownRow, new RegExp(`^${siteA.name}: acknowledged \\d\\d:\\d\\d:\\d\\d$`), 'the site row on the desk');
      assert.equal(await desk.locator(`#alerts [data-alert-id="${orig.id}"] li[data-site-id="${siteA.id}"]`).count(), 1,
        'site A is listed once, not again under the relay');
      await textBecomes(ctl, `#sent-alerts [data-alert-id="${orig.id}"] .relays .relay-note`, new RegExp(note), 'the relay on the controller');
      await sleep(1000);
      assert.equal(await c.locator(`#alerts [data-alert-id="${relayId}"]`).count(), 0, 'site C did not get the relay');
      assert.equal(await c.isVisible('#alert-banner'), false);
    } catch (err) {
      throw failWithProblems(err);
    } finally {
      await shots('71-relay');
    }
    assert.deepEqual(problems, []);
  });

  it('the desk shows, under a force alert, its own site\'s answer and acknowledgement, live, and no other company\'s site', async () => {
    const { desk, a } = p;
    let ws;
    try {
      const other = sites.find((s) => s.guard_org_id !== citadel && s.username);
      ws = await st.connectAs('controller');
      const pub = await ws.request({ type: 'publish', headline: `Gates check ${Date.now()}`, severity: 'moderate',
        category: 'request', request: { kind: 'choice', options: ['Done', 'Unable'] },
        targets: { sites: [siteA.id, other.id] } }, 10000);
      assert.equal(pub.type, 'published', JSON.stringify(pub));
      const entry = `#alerts [data-alert-id="${pub.alert_id}"]`;
      const row = `${entry} .own-sites-status li[data-site-id="${siteA.id}"]`;
      // Before the site does anything: received, not acknowledged (from receipts).
      await desk.waitForSelector(`${row}[data-acked="false"]`, { state: 'attached', timeout: UI_TIMEOUT });
      // The building answers and acknowledges in its own browser.
      await a.waitForSelector(`#alert-banner[data-alert-id="${pub.alert_id}"]`, { state: 'visible' });
      await a.click('#alert-banner .answer-option[data-option="Done"]');
      await desk.waitForSelector(`${row}[data-answer="Done"]`, { state: 'attached', timeout: UI_TIMEOUT });
      await a.click('#ack');
      await desk.waitForSelector(`${row}[data-acked="true"]`, { state: 'attached', timeout: UI_TIMEOUT });
      await textBecomes(desk, row, new RegExp(`^${siteA.name}: acknowledged \\d\\d:\\d\\d:\\d\\d · answered “Done”$`),
        'the site\'s acknowledgement and answer on the desk');
      assert.equal(await desk.locator(`${entry} .own-sites-status li[data-site-id="${other.id}"]`).count(), 0,
        'another company\'s site is never on the desk');
      assert.equal(await desk.locator(`${entry} .own-sites-status li`).count(), 1);
      // The banner (still the protest alert, acknowledged by sites A and C) counts the desk's own sites.
      const ownCount = new Set(sites.filter((x) => x.guard_org_id === citadel).map((x) => x.id)).size;
      await textBecomes(desk, '#alert-banner .own-sites-summary', new RegExp(`^Our sites: 2 of ${ownCount} acknowledged`),
        'the banner\'s count of our sites');
      await desk.locator(`${entry} .own-sites-status`).scrollIntoViewIfNeeded();   // for the screenshot
    } catch (err) {
      throw failWithProblems(err);
    } finally {
      ws?.close();
      await shots('71-own-receipts');
    }
    assert.deepEqual(problems, []);
  });

  it('a status update appears on the board, its map, the sorted table and the area totals around a clicked point', async () => {
    const { ctl, desk, a } = p;
    try {
      await a.fill('#status-people', '120');
      await a.fill('#status-officers', '3');
      await a.fill('#status-trauma-packs', '2');
      await a.fill('#status-first-aid-kits', '5');
      await a.fill('#status-defibrillators', '1');
      await a.selectOption('#status-cctv', 'working');
      await a.selectOption('#status-state', 'heightened');
      await a.click('#status-send');
      await textBecomes(a, '#status-result', /.+/, 'status sent');

      const row = `#board tr[data-site-id="${siteA.id}"]`;
      await textBecomes(ctl, `${row} .people`, '120', 'people on the controller board');
      await ctl.waitForSelector(`${row}[data-state="heightened"]`, { state: 'attached' });
      await ctl.waitForSelector(`#board-map path.site-marker.state-heightened[data-site-id="${siteA.id}"]`, { state: 'attached' });
      await textBecomes(desk, `${row} .people`, '120', 'people on the desk board');
      await desk.waitForSelector(`#desk-map path.site-marker.state-heightened[data-site-id="${siteA.id}"]`, { state: 'attached' });
      assert.equal(await desk.locator('#desk-map path.site-marker').count(), sites.filter((s) => s.guard_org_id === citadel).length,
        'the desk map shows its own sites only');

      // Sorting by people, most first: site A leads.
      await ctl.click('#board button.sort[data-key="people"]');
      await ctl.waitForSelector('#board th[aria-sort="descending"][data-key="people"]', { state: 'attached' });
      assert.equal(await ctl.getAttribute('#board tbody tr:first-child', 'data-site-id'), String(siteA.id));

      // A click on the map next to site A: the totals around that point.
      await ctl.locator('#board-map').scrollIntoViewIfNeeded();
      const m = await markerCentres(ctl, '#board-map');
      await ctl.mouse.click(m[siteA.id].x + 3, m[siteA.id].y + 3);
      await ctl.waitForSelector('#area-totals', { state: 'visible' });
      const lat = Number(await ctl.inputValue('#totals-lat'));
      const lon = Number(await ctl.inputValue('#totals-lon'));
      const radius = Number(await ctl.inputValue('#totals-radius'));
      assert.ok(distanceM(lat, lon, siteA.lat, siteA.lon) < 40, 'the point is next to site A');
      const inside = sites.filter((s) => distanceM(lat, lon, s.lat, s.lon) <= radius).length;
      await textBecomes(ctl, '#area-totals .sites', String(inside), 'sites inside the circle');
      await textBecomes(ctl, '#area-totals .reported', '1', 'one site reported');
      await textBecomes(ctl, '#area-totals .people', '120', 'people in the area totals');
      await textBecomes(ctl, '#area-totals .officers', '3', 'officers in the area totals');
      await ctl.waitForSelector('#board-map path.mark-shape', { state: 'attached' });

      // A bad radius typed by hand: a clear error, the field marked.
      await ctl.fill('#totals-radius', '0');
      await ctl.click('#totals-send');
      await textBecomes(ctl, '#area-totals-error', /radius/i, 'the radius error');
      assert.equal(await ctl.getAttribute('#totals-radius', 'aria-invalid'), 'true');
      await ctl.locator('#board-title').scrollIntoViewIfNeeded();
      await shot(ctl, 'control-board');
      await desk.evaluate(() => document.getElementById('board-panel').scrollIntoView({ block: 'start' }));
      await sleep(300);
      await shot(desk, 'company-desk');

      // The desk's History for site A, by keyboard: the dialog shows the
      // report just sent; Escape closes it and focus returns to the button.
      const hist = `${row} button.history-open`;
      await desk.focus(hist);
      await desk.keyboard.press('Enter');
      await desk.waitForSelector('#history-dialog[open]', { state: 'attached' });
      await textBecomes(desk, '#history-reports tr:first-child td.people', '120', 'the report in the desk\'s history');
      await textBecomes(desk, '#history-reports tr:first-child td.state', 'Heightened', 'its state in the history');
      await shot(desk, 'company-desk-history');
      await desk.keyboard.press('Escape');
      await desk.waitForSelector('#history-dialog[open]', { state: 'detached' });
      assert.equal(await desk.evaluate(() => document.activeElement?.classList.contains('history-open')), true, 'focus back on History');
      // The building console's "Our history" shows the same report.
      await a.click('#our-history');
      await textBecomes(a, '#history-reports tr:first-child td.people', '120', 'the report in the console\'s history');
      await a.keyboard.press('Escape');
    } catch (err) {
      throw failWithProblems(err);
    } finally {
      await shots('71-status');
    }
    assert.deepEqual(problems, []);
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    for (const page of Object.values(p)) await page.context().close().catch(() => {});
    await st.stop();
  });
});
