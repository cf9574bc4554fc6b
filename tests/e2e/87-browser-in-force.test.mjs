// Alerts in force on the desks, in Chromium (issue 17, items 1-5, 6 for
// the console and the list of 7), with several browser contexts at once:
//   - a building console opened after a severe (exercise) ANPR alert was
//     published shows it from the alerts in force and takes the screen
//     over; headline, severity, the exercise or live marking, what to do,
//     its signature's mark (✓ Verified: issue 23) and Acknowledge are all
//     on the screen without scrolling, at 1280x800, 1024x768 and 390x844
//     (a phone);
//   - a severe, immediate alert displaces a moderate one at once, rings,
//     and the moderate one waits visibly;
//   - a second controller, from the shared control room's list, cancels
//     the first controller's alert: the console shows a calm stand-down
//     (what was cancelled, no second acknowledgement) and the alert leaves
//     its queue;
//   - a company's relay is the company's note on the force's alert: one
//     acknowledgement counts for both, and the desk lists the site once;
//   - while the browser blocks sound, the console says so in a banner.
// Screenshots of each size go to <test output>/screenshots/ (the ones in
// docs/screenshots/ were taken from them).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, demoPassword, waitFor } from './lib/harness.mjs';
import { publish } from './lib/faults.mjs';
import { upload, makePng } from './lib/images-helpers.mjs';
import {
  launch, openAs, newContext, signIn, watch, textBecomes, shot, withProblems, UI_TIMEOUT,
} from './lib/browser.mjs';

const SIZES = [
  { width: 1280, height: 800 },
  { width: 1024, height: 768 },
  { width: 390, height: 844 },
];
const SITE_A = 'console.threadneedle';   // site 1, guarded by Citadel Security

const LONG_BODY = 'ANPR camera CoL-07 on London Wall read a hotlisted vehicle, a grey Ford Transit van, '
  + 'registration LD21 XKT, travelling east at 08:14. The vehicle is linked to a series of commercial '
  + 'burglaries in the City over the last fortnight and was last seen with two occupants. '.repeat(6);
const LONG_INSTRUCTION = 'Close the vehicle gates, keep the loading bay shut and staffed, do not approach the '
  + 'occupants, and call 999 quoting the alert if the van is seen near the building. '.repeat(3);

describe('alerts in force on the desks', { timeout: 900_000 }, () => {
  let st, browser, ctlWs, site, citadel, image;
  const problems = [];
  const base = () => st.broker.httpUrl;

  before(async () => {
    st = await Stack.create({ label: import.meta.url, broker: { args: ['--rate-limit', '100000'] } });
    site = await st.one(`SELECT s.id, s.name FROM sites s JOIN users u ON u.site_id = s.id WHERE u.username = $1`, [SITE_A]);
    citadel = (await st.one(`SELECT id FROM organisations WHERE name = 'Citadel Security'`)).id;
    browser = await launch();
    ctlWs = await st.connectAs('controller');
    const up = await upload(st.broker, await st.token('controller'), makePng(320, 120, { seed: 7 }));
    assert.equal(up.status, 201, up.text);
    image = up.json.image_id;
  });
  after(async () => {
    await browser?.close().catch(() => {});
    await st?.cleanup();
  });

  const failWithProblems = (err) => withProblems(err, problems);

  // A console of site A on a new browser (a context of its own) at size.
  async function newConsole(size) {
    return openAs(browser, base(), SITE_A, 'site_console', problems, { viewport: size });
  }

  // Each element on the screen without scrolling: inside the viewport,
  // nothing scrolled.
  async function allOnScreen(page, selectors, what) {
    const vp = page.viewportSize();
    const scrolled = await page.evaluate(() => [document.scrollingElement.scrollTop,
      document.getElementById('alert-banner').scrollTop]);
    assert.deepEqual(scrolled, [0, 0], `${what}: nothing scrolled`);
    for (const sel of selectors) {
      const box = await page.locator(sel).boundingBox();
      assert.ok(box && box.width > 0 && box.height > 0, `${what}: ${sel} is shown`);
      assert.ok(box.x >= 0 && box.y >= 0 && box.x + box.width <= vp.width + 1 && box.y + box.height <= vp.height + 1,
        `${what}: ${sel} at ${JSON.stringify(box)} is not inside ${vp.width}x${vp.height}`);
    }
  }

  const sizeName = (size) => `${size.width}x${size.height}`;

  for (const size of SIZES) {
    it(`at ${sizeName(size)}: a console opened after an alert was published shows it in force and takes over; a more urgent one displaces a moderate one; a colleague's cancel is a calm stand-down`, async () => {
      const pages = [];
      try {
        // A severe EXERCISE ANPR alert, published before the console opens.
        const anpr = await publish(ctlWs, {
          headline: `EXERCISE ANPR hit: LD21 XKT eastbound on London Wall towards the building ${sizeName(size)} ${Date.now()}`,
          body: LONG_BODY, instruction: LONG_INSTRUCTION, severity: 'severe', urgency: 'immediate',
          status: 'exercise', category: 'offender', certainty: 'observed', images: [image],
          area: { circle: { lat: 51.5167, lon: -0.0900, radius_m: 600 } },
          targets: { sites: [site.id] },
        });
        const con = await newConsole(size);
        pages.push(con);
        await con.waitForSelector(`#alert-banner[data-alert-id="${anpr.alert_id}"][data-takeover="true"]`, { state: 'visible' });
        await con.waitForSelector('#alert-banner figure.image[data-state="shown"]', { state: 'attached' });
        await textBecomes(con, '#alert-banner .exercise-strip', /^EXERCISE · EXERCISE · EXERCISE — not a real incident$/, 'the exercise strip');
        // signed, and checked like a live alert (issue 23)
        await textBecomes(con, '#alert-banner .signature-mark', /^✓ Verified: signed by the broker$/, 'the in-force alert verified');
        await allOnScreen(con, ['#alert-banner .exercise-strip', '#alert-banner .severity', '#alert-banner .exercise-mark',
          '#alert-banner .headline', '#alert-banner .signature-mark', '#alert-banner .instruction', '#ack'],
        `the ANPR takeover at ${sizeName(size)}`);
        await shot(con, `in-force-takeover-${sizeName(size)}`);
        await con.click('#ack');
        await con.waitForSelector('#alert-banner', { state: 'hidden' });

        // A moderate alert waits; a severe, immediate one takes over at once.
        const moderate = await publish(ctlWs, { headline: `Moderate: suspicious parcel at the post room ${Date.now()}`,
          severity: 'moderate', instruction: 'Keep staff away from the post room.', targets: { sites: [site.id] } });
        await con.waitForSelector(`#alert-banner[data-alert-id="${moderate.alert_id}"][data-takeover="false"]`, { state: 'visible' });
        const severe = await publish(ctlWs, { headline: `Armed suspect reported in Threadneedle Street ${Date.now()}`,
          body: 'Police are on scene.', instruction: 'Lock the front doors now and keep everyone inside.',
          severity: 'severe', urgency: 'immediate', targets: { sites: [site.id] } });
        await con.waitForSelector(`#alert-banner[data-alert-id="${severe.alert_id}"][data-takeover="true"]`, { state: 'visible' });
        await con.waitForSelector('#sound[data-ringing="true"]', { state: 'attached' });
        await textBecomes(con, '#alert-banner .pending-count', /^1 more alert waiting: “Moderate: suspicious parcel/, 'the displaced alert waits visibly');
        await textBecomes(con, '#alert-banner .live-mark', 'LIVE', 'the live marking');
        await allOnScreen(con, ['#alert-banner .live-mark', '#alert-banner .severity', '#alert-banner .headline',
          '#alert-banner .instruction', '#alert-banner .pending-count', '#ack'], `the displacing takeover at ${sizeName(size)}`);
        await shot(con, `in-force-displaced-${sizeName(size)}`);

        // The second controller, in the shared control room, cancels it.
        const ctl2 = await openAs(browser, base(), 'controller2', 'controller', problems, { viewport: size });
        pages.push(ctl2);
        const entry = `#sent-alerts [data-alert-id="${severe.alert_id}"]`;
        await ctl2.waitForSelector(`${entry}[data-in-force="true"]`, { state: 'attached' });
        await textBecomes(ctl2, `${entry} .sent-by`, /^Sent by PC Ada Hart/, 'the colleague\'s alert in the list');
        ctl2.once('dialog', (d) => d.accept());
        await ctl2.click(`${entry} .cancel`);
        await ctl2.waitForSelector(`${entry}[data-cancelled="true"]`, { state: 'attached' });
        await shot(ctl2, `in-force-control-room-${sizeName(size)}`);
        const cancel = await waitFor(async () => (await st.query(
          `SELECT id::float8 AS id FROM alerts WHERE msg_type = 'cancel' AND references_id = $1`, [severe.alert_id]))[0],
        { timeoutMs: UI_TIMEOUT, what: 'the cancel stored' });
        const who = await st.one(`SELECT actor_username FROM audit WHERE action = 'cancel' AND alert_id = $1`, [cancel.id]);
        assert.equal(who.actor_username, 'controller2', 'the cancel is audited as the second controller');

        // The console: a calm stand-down, not another alarm; the alert left the queue.
        await con.waitForSelector(`#alert-banner[data-alert-id="${cancel.id}"][data-stand-down="true"]`, { state: 'visible' });
        assert.equal(await con.getAttribute('#alert-banner', 'data-takeover'), 'false', 'a stand-down never takes over');
        await textBecomes(con, '#alert-banner .headline', 'Stand down — all clear', 'the stand-down');
        await textBecomes(con, '#alert-banner .kind-mark', /^Cancelled: Armed suspect reported/, 'what was cancelled');
        await textBecomes(con, '#ack', 'Close', 'no second acknowledgement');
        await con.waitForSelector('#sound[data-ringing="false"]', { state: 'attached' });
        await textBecomes(con, `#alerts [data-alert-id="${severe.alert_id}"] .status`, 'Cancelled', 'the cancelled alert in the history');
        await shot(con, `in-force-stand-down-${sizeName(size)}`);
        await con.click('#ack');
        await con.waitForSelector(`#alert-banner[data-alert-id="${moderate.alert_id}"]`, { state: 'visible' });
        const acks = await st.query('SELECT 1 FROM acks WHERE alert_id = $1', [cancel.id]);
        assert.equal(acks.length, 0, 'closing a stand-down acknowledges nothing');
        await con.click('#ack');
        await con.waitForSelector('#alert-banner', { state: 'hidden' });
      } catch (err) {
        throw failWithProblems(err);
      } finally {
        for (const p of pages) await p.context().close().catch(() => {});
      }
      assert.deepEqual(problems, []);
    });
  }

  for (const size of SIZES) {
    it(`at ${sizeName(size)}: a relay is the company's note on the force's alert: one acknowledgement counts for both, the desk lists the site once`, async () => {
      const pages = [];
      try {
        const con = await newConsole(size);
        const desk = await openAs(browser, base(), 'op.citadel', 'company_operator', problems, { viewport: size });
        pages.push(con, desk);
        const orig = await publish(ctlWs, { headline: `Hostile reconnaissance reported near Bank ${Date.now()}`,
          severity: 'moderate', category: 'live_incident', targets: { orgs: [citadel] },
          request: { kind: 'choice', options: ['Done', 'Unable'] } });
        // (earlier alerts are in force too: the desk relays from the history)
        await con.waitForSelector(`#alerts [data-alert-id="${orig.alert_id}"]`, { state: 'attached' });
        await desk.click(`#alerts [data-alert-id="${orig.alert_id}"] button.relay`);
        await desk.waitForSelector('#relay-dialog[open]', { state: 'attached' });
        await desk.uncheck('#relay-all');
        await desk.check(`input[name="relay-site"][value="${site.id}"]`);
        const note = `Lock the side doors ${Date.now()}`;
        await desk.fill('#relay-note', note);
        await desk.click('#relay-send');
        await desk.waitForSelector('#relay-dialog', { state: 'hidden' });
        const relay = await waitFor(async () => (await st.query('SELECT id::float8 AS id FROM alerts WHERE relay_of = $1', [orig.alert_id]))[0],
          { timeoutMs: UI_TIMEOUT, what: 'the relay stored' });

        // One alert at the building, with the company's note on it.
        await textBecomes(con, '#alert-banner .relay-note', new RegExp(`^Relayed by Citadel Security: ${note}$`), 'the note on the banner');
        assert.equal(await con.getAttribute('#alert-banner', 'data-alert-id'), String(orig.alert_id));
        assert.equal(await con.locator(`#alerts [data-alert-id="${relay.id}"]`).count(), 0, 'not a second alert');
        assert.equal(await con.locator('#alert-banner .pending-count').isVisible(), false, 'nothing else waits');
        await shot(con, `in-force-relay-note-${sizeName(size)}`);
        await con.click('#alert-banner .answer-option[data-option="Done"]');
        await con.click('#ack');
        await con.waitForSelector('#alert-banner', { state: 'hidden' });
        const rows = await st.query(`SELECT alert_id::float8 AS id FROM acks WHERE site_id = $1 AND alert_id = ANY($2::bigint[])`,
          [site.id, [orig.alert_id, relay.id]]);
        assert.equal(rows.length, 2, 'the one acknowledgement counts for the alert and its relay');
        const answers = await st.query(`SELECT DISTINCT alert_id::float8 AS id FROM answers WHERE site_id = $1 AND alert_id = ANY($2::bigint[])`,
          [site.id, [orig.alert_id, relay.id]]);
        assert.equal(answers.length, 2, 'the one answer counts for both');

        // The desk: site A once, acknowledged and answered; the relay's tally counts it.
        const item = `#alerts [data-alert-id="${orig.alert_id}"]`;
        await desk.waitForSelector(`${item} .own-sites-status li[data-site-id="${site.id}"][data-acked="true"]`, { state: 'attached' });
        await textBecomes(desk, `${item} .relayed`, /acknowledged 1 of 1/, 'the relay\'s tally');
        assert.equal(await desk.locator(`${item} li[data-site-id="${site.id}"]`).count(), 1, 'the site is listed once');
        await shot(desk, `in-force-relay-desk-${sizeName(size)}`);
      } catch (err) {
        throw failWithProblems(err);
      } finally {
        for (const p of pages) await p.context().close().catch(() => {});
      }
      assert.deepEqual(problems, []);
    });
  }

  it('a console whose browser blocks sound says so until a click turns it on; a kiosk allowed to play sound does not', async () => {
    // Headless Chromium plays sound whatever --autoplay-policy says, so the
    // policy is put back by hand: every AudioContext starts suspended and
    // resumes only after a user activation, as in a browser that was not
    // set up as the README says. Chromium starts an allowed context on its
    // own, after the constructor: a suspend() there can lose that race
    // (on a busy machine the context then ran, and the banner never came),
    // so any start without a user activation is suspended again.
    const host = new URL(base()).host;
    const ctx = await newContext(browser, host, 'console, sound blocked', problems, { viewport: SIZES[0] });
    try {
      await ctx.addInitScript(() => {
        const Real = window.AudioContext;
        window.AudioContext = class extends Real {
          constructor(...args) {
            super(...args);
            this.allowed = false;
            super.suspend();
            this.addEventListener('statechange', () => {
              if (this.state === 'running' && !this.allowed) super.suspend();
            });
          }

          resume() {
            if (!navigator.userActivation?.isActive) {
              return Promise.reject(new DOMException('The AudioContext was not allowed to start', 'NotAllowedError'));
            }
            this.allowed = true;
            return super.resume();
          }
        };
      });
      const page = await ctx.newPage();
      watch(page, 'console, sound blocked', problems);
      await signIn(page, base(), SITE_A, demoPassword(SITE_A), 'console.html');
      await page.waitForSelector('#conn[data-state="connected"]', { state: 'attached' });
      await page.waitForSelector('#sound-blocked', { state: 'visible' });
      await textBecomes(page, '#sound-blocked', /Sound is blocked by this browser/, 'the banner');
      assert.equal(await page.getAttribute('#sound', 'data-state'), 'blocked');
      await shot(page, 'in-force-sound-blocked');
      await page.click('#sound-unblock');
      await page.waitForSelector('#sound-blocked', { state: 'hidden' });
      assert.equal(await page.getAttribute('#sound', 'data-state'), 'on');
    } catch (err) {
      throw failWithProblems(err);
    } finally {
      await ctx.close().catch(() => {});
    }
    // The test browser is started as a kiosk should be (lib/browser.mjs:
    // --autoplay-policy=no-user-gesture-required): no banner, sound on.
    const kiosk = await newConsole(SIZES[0]);
    try {
      await kiosk.waitForSelector('#sound[data-state="on"]', { state: 'attached' });
      assert.equal(await kiosk.isVisible('#sound-blocked'), false);
    } finally {
      await kiosk.context().close().catch(() => {});
    }
    assert.deepEqual(problems, []);
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await st.stop();
  });
});
