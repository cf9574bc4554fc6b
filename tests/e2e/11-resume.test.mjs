// Never silent (2-4): resume after a disconnect. A console that reconnects
// with the last position it processed gets exactly the alerts for its site
// that it missed, in order, flagged replay, then resume_done, then live
// alerts; a position that cannot be resumed gets a clear "reload" answer; a
// malformed resume is refused with bad_field; and alerts published while a
// console resumes arrive exactly once.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, consoleDirectory, RFC3339_MS, sleep, waitFor } from './lib/harness.mjs';
import { publish, connectResume, cursorOf, alertFrames, duplicates, stopStack, waitClosed } from './lib/faults.mjs';

describe('resume after a disconnect', { timeout: 180_000 }, () => {
  let st, ctl, siteA, siteB, tokenA, epoch;

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    const consoles = await consoleDirectory(st);
    siteA = consoles[0];
    siteB = consoles.find((c) => c.site_id !== siteA.site_id);
    ctl = await st.connectAs('controller');
    tokenA = await st.token(siteA.username);
  });
  after(async () => { await st?.cleanup(); });

  const pubTo = (site, headline, extra = {}) => publish(ctl, { headline, severity: 'moderate', targets: { sites: [site.site_id] }, ...extra });

  it('a plain hello gets the stream position and resume status none', async () => {
    const s = await st.connect(tokenA, { label: 'plain' });
    const w = s.welcome;
    assert.equal(typeof w.stream?.epoch, 'string', JSON.stringify(w));
    assert.ok(w.stream.epoch.length > 0);
    assert.equal(typeof w.stream.head, 'number');
    assert.deepEqual(w.resume, { status: 'none' });
    epoch = w.stream.epoch;
    s.close();
  });

  it('gets exactly the 3 alerts for its site missed while away, in order, replay:true, then resume_done, then live alerts', async () => {
    // Connected: one alert arrives live and sets the cursor.
    const con = await st.connect(tokenA, { label: 'console-A' });
    const first = await pubTo(siteA, `Before the disconnect ${Date.now()}`);
    const live0 = await con.next((m) => m.type === 'alert' && m.alert.id === first.alert_id, 3000, 'the first alert');
    assert.equal(live0.replay, undefined, 'a live alert is not flagged replay');
    const cursor = cursorOf(con);
    assert.equal(cursor.seq, first.seq);
    assert.equal(cursor.epoch, epoch);
    con.close();
    await waitClosed(con, 3000);

    // Missed: 3 for site A, 1 for site B.
    const missed = [];
    missed.push(await pubTo(siteA, `Missed 1 ${Date.now()}`));
    const other = await pubTo(siteB, `For another site ${Date.now()}`);
    missed.push(await pubTo(siteA, `Missed 2 ${Date.now()}`, { severity: 'severe' }));
    missed.push(await pubTo(siteA, `Missed 3 ${Date.now()}`, { body: 'With a body' }));
    const seqs = missed.map((p) => p.seq);
    assert.deepEqual([...seqs].sort((a, b) => a - b), seqs, 'positions increase in publish order');

    const back = await connectResume(st.broker, tokenA, cursor, { label: 'console-A-resumed' });
    st.sessions.push(back);
    const w = back.welcome;
    assert.equal(w.stream.epoch, epoch);
    assert.ok(w.stream.head >= missed[2].seq, `head ${w.stream.head} >= ${missed[2].seq}`);
    assert.deepEqual(w.resume, { status: 'ok', from: cursor.seq, count: 3 });

    const done = await back.next('resume_done', 5000);
    assert.equal(done.count, 3);
    assert.equal(done.seq, missed[2].seq);
    // Everything before resume_done, in arrival order.
    const upto = back.seen.slice(0, back.seen.indexOf(done));
    const replayed = upto.filter((m) => m.type === 'alert');
    assert.deepEqual(replayed.map((m) => m.alert.id), missed.map((p) => p.alert_id), 'the 3 missed alerts, in order, and nothing else');
    assert.deepEqual(replayed.map((m) => m.alert.seq), seqs);
    for (const [i, m] of replayed.entries()) {
      assert.equal(m.replay, true, `replay flag: ${JSON.stringify(m)}`);
      assert.match(m.alert.sent_at, RFC3339_MS);
      assert.equal(m.alert.headline.startsWith(`Missed ${i + 1}`), true);
    }
    assert.equal(replayed[1].alert.severity, 'severe');
    assert.equal(replayed[2].alert.body, 'With a body');
    assert.ok(!back.seen.some((m) => m.type === 'alert' && m.alert.id === other.alert_id), 'no alert for the other site');

    // Then a live alert, not flagged replay.
    const live = await pubTo(siteA, `After the resume ${Date.now()}`);
    const got = await back.next((m) => m.type === 'alert' && m.alert.id === live.alert_id, 3000, 'the live alert');
    assert.equal(got.replay, undefined);
    assert.equal(got.alert.seq, live.seq);
    assert.equal(alertFrames(back).length, 4, `exactly 3 replays and 1 live alert: ${back.describeSeen()}`);
    back.close();
  });

  it('a resume from the current head gets count 0 and resume_done at once', async () => {
    const head = (await st.one('SELECT head FROM stream_meta')).head;
    const s = await connectResume(st.broker, tokenA, { epoch, seq: head }, { label: 'at-head' });
    st.sessions.push(s);
    assert.deepEqual(s.welcome.resume, { status: 'ok', from: head, count: 0 });
    const done = await s.next('resume_done', 3000);
    assert.equal(done.count, 0);
    assert.equal(done.seq, head);
    s.close();
  });

  it('refuses a position beyond the head: reload, unknown_position; live alerts still flow', async () => {
    const head = (await st.one('SELECT head FROM stream_meta')).head;
    const s = await connectResume(st.broker, tokenA, { epoch, seq: head + 1000 }, { label: 'beyond-head' });
    st.sessions.push(s);
    assert.equal(s.welcome.resume.status, 'reload', JSON.stringify(s.welcome));
    assert.equal(s.welcome.resume.reason, 'unknown_position');
    assert.equal(s.welcome.stream.epoch, epoch);
    assert.equal(s.welcome.stream.head, head, 'the client restarts at stream.head');
    const live = await pubTo(siteA, `After a reload ${Date.now()}`);
    const got = await s.next((m) => m.type === 'alert' && m.alert.id === live.alert_id, 3000, 'a live alert after reload');
    assert.equal(got.replay, undefined);
    assert.equal(alertFrames(s).length, 1, `no backlog after a reload: ${s.describeSeen()}`);
    s.close();
  });

  it('refuses another epoch: reload, epoch_changed', async () => {
    const s = await connectResume(st.broker, tokenA, { epoch: `x${epoch.slice(1)}`, seq: 1 }, { label: 'other-epoch' });
    st.sessions.push(s);
    assert.equal(s.welcome.resume.status, 'reload', JSON.stringify(s.welcome));
    assert.equal(s.welcome.resume.reason, 'epoch_changed');
    assert.equal(s.welcome.stream.epoch, epoch);
    await s.expectNothing((m) => m.type === 'alert', 300, 'a backlog after epoch_changed');
    s.close();
  });

  it('refuses a malformed resume with bad_field; the connection stays open and not signed in', async () => {
    const cases = [
      [{ epoch, seq: -1 }, 'resume.seq'],
      [{ epoch, seq: '5' }, 'resume.seq'],
      [{ epoch, seq: 1.5 }, 'resume.seq'],
      [{ epoch }, 'resume.seq'],
      [{ epoch: 5, seq: 1 }, 'resume.epoch'],
      [{ seq: 1 }, 'resume.epoch'],
    ];
    for (const [resume, field] of cases) {
      const s = await st.openSocket({ label: `bad-resume ${JSON.stringify(resume)}` });
      s.send({ type: 'hello', ref: 'h-bad', token: tokenA, resume });
      const e = await s.next((m) => m.type === 'error' || m.type === 'welcome', 3000, 'the answer to a malformed resume');
      assert.equal(e.type, 'error', `${JSON.stringify(resume)}: ${JSON.stringify(e)}`);
      assert.equal(e.code, 'bad_field', JSON.stringify(e));
      assert.equal(e.field, field, JSON.stringify(e));
      assert.equal(e.ref, 'h-bad');
      await sleep(100);
      assert.ok(s.isOpen, `${JSON.stringify(resume)}: the connection stays open (${JSON.stringify(s.closeInfo)})`);
      // Not signed in: a good hello now succeeds.
      s.send({ type: 'hello', token: tokenA });
      const w = await s.next((m) => m.type === 'welcome' || m.type === 'error', 3000, 'welcome after a good hello');
      assert.equal(w.type, 'welcome', JSON.stringify(w));
      assert.deepEqual(w.resume, { status: 'none' });
      s.close();
    }
  });

  it('a resume while alerts are being published sends each alert once and misses none', async () => {
    // Several rounds, each reconnecting at a different moment of a burst.
    for (let round = 0; round < 6; round++) {
      const con = await st.connect(tokenA, { label: `race-${round}` });
      const cursor = cursorOf(con);
      con.close();
      await waitClosed(con, 3000);
      const before = [];
      for (let i = 0; i < 5; i++) before.push(await pubTo(siteA, `Race ${round} missed ${i}`));

      // A burst of 40 publishes in groups of 8 sent at once, a group every
      // few ms; the hello with resume goes out on an already open socket in
      // the middle of a group (publishes in flight on the database
      // connection while the backlog is read), a little later each round.
      const s = await st.openSocket({ label: `race-${round}-resumed` });
      const burst = [];
      for (let i = 0; i < 40; i++) {
        burst.push(pubTo(siteA, `Race ${round} burst ${i}`));
        if (i === 3 + round * 6) s.send({ type: 'hello', token: tokenA, resume: cursor });
        if (i % 8 === 7) await sleep(3);
      }
      const confirmed = [...before, ...(await Promise.all(burst))];
      s.welcome = await s.next('welcome', 10000);
      assert.equal(s.welcome.resume.status, 'ok', JSON.stringify(s.welcome));
      const done = await s.next('resume_done', 10000);
      const want = new Set(confirmed.map((p) => p.alert_id));
      await waitFor(() => want.size === new Set(alertFrames(s).map((m) => m.alert.id).filter((id) => want.has(id))).size,
        { timeoutMs: 10000, what: `round ${round}: all ${want.size} alerts at the resumed console (have ${alertFrames(s).length})` });
      await sleep(300); // anything sent twice would be here by now
      const frames = alertFrames(s);
      assert.deepEqual(duplicates(frames), [], `round ${round}: alerts sent twice`);
      const got = new Set(frames.map((m) => m.alert.id));
      const missing = [...want].filter((id) => !got.has(id));
      assert.deepEqual(missing, [], `round ${round}: alerts never sent`);
      assert.equal(frames.length, want.size, `round ${round}: nothing else`);
      // Replays come before resume_done, live alerts after; positions only go up.
      const doneAt = s.seen.indexOf(done);
      const replays = s.seen.slice(0, doneAt).filter((m) => m.type === 'alert');
      const lives = s.seen.slice(doneAt).filter((m) => m.type === 'alert');
      assert.ok(replays.every((m) => m.replay === true), `round ${round}: replays flagged`);
      assert.ok(lives.every((m) => m.replay === undefined), `round ${round}: live alerts not flagged`);
      assert.equal(done.count, replays.length, `round ${round}: resume_done.count`);
      assert.equal(s.welcome.resume.count, replays.length, `round ${round}: welcome resume.count`);
      const order = frames.map((m) => m.alert.seq);
      for (let i = 1; i < order.length; i++) {
        assert.ok(order[i] > order[i - 1], `round ${round}: positions in order: ${order.join(',')}`);
      }
      console.log(`# round ${round}: ${replays.length} replayed, ${lives.length} live`);
      s.close();
    }
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await stopStack(st);
  });
});
