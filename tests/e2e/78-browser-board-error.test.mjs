// The control room shows a board the broker could not read next to the
// board (#board-error), and the rest of the page keeps working. The
// database function behind `board` is renamed for the test, so the
// broker answers `board` with an error frame. (The control room's
// handler for it had been lost: the error threw inside the page.)
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack } from './lib/harness.mjs';
import { launch, openAs, textBecomes, shot } from './lib/browser.mjs';

describe('control room: a board error', { timeout: 300_000 }, () => {
  let st;
  let browser;
  let page;
  const problems = [];

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    browser = await launch();
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await st?.cleanup();
  });

  it('is shown in #board-error, with no page error', async () => {
    await st.query('ALTER FUNCTION tocsin_board(integer, text) RENAME TO tocsin_board_hidden');
    try {
      page = await openAs(browser, st.broker.httpUrl, 'controller', 'controller', problems);
      await page.waitForSelector('#board-error:not([hidden])', { state: 'attached' });
      await textBecomes(page, '#board-error', /^The board could not be loaded: /, 'the board error');
      await textBecomes(page, '#conn', 'Connected', 'the page is still connected');
    } finally {
      await st.query('ALTER FUNCTION tocsin_board_hidden(integer, text) RENAME TO tocsin_board');
      if (page) {
        await page.locator('#board-error').scrollIntoViewIfNeeded().catch(() => {});
        await shot(page, '78-board-error');
      }
    }
    assert.deepEqual(problems, []);
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await page?.context().close().catch(() => {});
    await st.stop();
  });
});
