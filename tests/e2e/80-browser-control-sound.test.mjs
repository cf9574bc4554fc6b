// Sound where people are (issue 17, item 6): the control room chimes when
// a partner report comes in and when a request's answers reach every
// recipient, and rings on an escalation; a visible mute (#sound) silences
// it, and the choice persists in the browser. Three controller pages at
// once, at 1280x800, 1024x768 and 390x844, each with its Web Audio
// instrumented (listenToTones): a tone counts only once an oscillator is
// started. With --escalate-after 2 a severe alert nobody acknowledges
// escalates within seconds.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, waitFor, newRef } from './lib/harness.mjs';
import {
  launch, openAs, shot, textBecomes, listenToTones, tones, withoutProblems, closeAndStop, UI_TIMEOUT,
} from './lib/browser.mjs';

const SIZES = [
  { name: '1280', viewport: { width: 1280, height: 800 } },
  { name: '1024', viewport: { width: 1024, height: 768 } },
  { name: '390', viewport: { width: 390, height: 844 } },
];

describe('control room sound, three browser contexts at once', { timeout: 600_000 }, () => {
  let st;
  let browser;
  let ctl2;         // a colleague in the same control room (WebSocket)
  let con1;         // the console of site 1 (WebSocket)
  const pages = [];
  const problems = [];

  before(async () => {
    st = await Stack.create({ label: import.meta.url, broker: { args: ['--escalate-after', '2'] } });
    browser = await launch();
    for (const s of SIZES) {
      pages.push(await openAs(browser, st.broker.httpUrl, 'controller', 'controller', problems,
        { viewport: s.viewport, initScript: listenToTones }));
    }
    ctl2 = await st.connectAs('controller2');
    con1 = await st.connectAs('console.threadneedle');
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await st?.cleanup();
  });

  /* Waits until a page has played a tone of `type` after `since` tones. */
  async function played(page, since, type, what) {
    return waitFor(async () => (await tones(page)).slice(since).some((t) => t.type === type),
      { timeoutMs: UI_TIMEOUT, intervalMs: 150, what });
  }

  async function escalate(headline) {
    const r = await ctl2.request({ type: 'publish', headline, severity: 'severe', targets: { sites: [12] } }, 10000);
    assert.equal(r.type, 'published', JSON.stringify(r));
    return r.alert_id;
  }

  it('chimes on a partner report and a complete answer tally, rings on an escalation, on every page', () => withoutProblems(problems, async () => {
    for (const page of pages) {
      assert.equal(await page.isVisible('#sound'), true, 'the sound button is visible');
      assert.equal(await page.getAttribute('#sound', 'aria-pressed'), 'true', 'sound is on by default');
    }
    let before = await Promise.all(pages.map((p) => tones(p).then((t) => t.length)));

    // A partner report from site 1: a chime, and it is in the inbox.
    const text = `Sighting ${newRef('s')}`;
    const rep = await con1.request({ type: 'report', kind: 'sighting', text }, 10000);
    assert.equal(rep.type, 'reported', JSON.stringify(rep));
    for (const [i, page] of pages.entries()) {
      await played(page, before[i], 'sine', `the report chime at ${SIZES[i].name}`);
      await textBecomes(page, '#inbox li:first-child .report-text', text, 'the report in the inbox');
    }

    // A question to site 1 only: its one answer completes the tally.
    before = await Promise.all(pages.map((p) => tones(p).then((t) => t.length)));
    const q = await ctl2.request({ type: 'publish', headline: `Question ${newRef('q')}`, severity: 'minor',
      targets: { sites: [1] }, request: { kind: 'choice', options: ['Done', 'Unable'] } }, 10000);
    assert.equal(q.type, 'published', JSON.stringify(q));
    await con1.next((m) => m.type === 'alert' && m.alert.id === q.alert_id, 10000, 'the question at site 1');
    const ans = await con1.request({ type: 'answer', alert_id: q.alert_id, choice: 'Done' }, 10000);
    assert.equal(ans.type, 'answered', JSON.stringify(ans));
    for (const [i, page] of pages.entries()) await played(page, before[i], 'sine', `the answers chime at ${SIZES[i].name}`);

    // A severe alert nobody acknowledges: the escalation rings.
    before = await Promise.all(pages.map((p) => tones(p).then((t) => t.length)));
    await escalate(`Escalating ${newRef('e')}`);
    for (const [i, page] of pages.entries()) await played(page, before[i], 'square', `the escalation ring at ${SIZES[i].name}`);
  }, async () => {
    for (const [i, page] of pages.entries()) await shot(page, `80-sound-${SIZES[i].name}`);
  }));

  it('the mute is visible, survives a reload and silences only that browser', () => withoutProblems(problems, async () => {
    const [muted, other] = pages;
    await muted.click('#sound');
    await textBecomes(muted, '#sound', 'Sound off', 'the muted button says so');
    assert.equal(await muted.getAttribute('#sound', 'aria-pressed'), 'false');
    await muted.reload({ waitUntil: 'load' });
    await muted.waitForSelector('#conn[data-state="connected"]', { state: 'attached' });
    await textBecomes(muted, '#sound', 'Sound off', 'still muted after a reload');
    assert.equal(await muted.getAttribute('#sound', 'aria-pressed'), 'false');

    const beforeOther = (await tones(other)).length;
    const headline = `Escalating while muted ${newRef('m')}`;
    const id = await escalate(headline);
    await played(other, beforeOther, 'square', 'the escalation ring on the page that is not muted');
    await muted.waitForSelector(`#sent-alerts [data-alert-id="${id}"].has-escalation`, { state: 'attached' });
    assert.deepEqual(await tones(muted), [], 'the muted page played nothing');
    await shot(muted, '80-sound-muted');

    await muted.click('#sound');
    await textBecomes(muted, '#sound', 'Sound on', 'sound back on');
    await played(muted, 0, 'square', 'the test tone when sound is turned back on');
  }));

  it('stops cleanly (exit 0, no sanitizer report)', () => closeAndStop(st, pages));
});
