// Building status says where (issue 17, item 8): a status report may name
// where the trauma packs and the defibrillators are (a short text each),
// give the number of trained first-aiders, and say which of its numbers
// were carried over from the last report without being confirmed
// (`stale`; every count not listed was confirmed). All of it is stored,
// audited, on the board and its live updates, in the site's history and,
// for first-aiders, in the area totals; batched and one-by-one reports
// alike. Bad values are refused with the field named and store nothing;
// a report without them is as before.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, consoleDirectory, newRef } from './lib/harness.mjs';
import { statusMsg, expectRefused } from './lib/status-helpers.mjs';

const WHERE = {
  first_aiders: 6,
  trauma_packs_where: 'Reception desk; level 3 kitchen',
  defibrillators_where: 'Ground floor lobby, by the lifts',
  stale: ['officers', 'trauma_packs'],
};

describe('building status says where', { timeout: 180_000 }, () => {
  let st, ctl, consoles;
  const con = [];

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    consoles = (await consoleDirectory(st)).slice(0, 4);
    for (const c of consoles) con.push(await st.connectAs(c.username));
    ctl = await st.connectAs('controller');
    const b = await ctl.request({ type: 'board' });
    assert.equal(b.type, 'board', JSON.stringify(b));
    for (const s of b.sites) {
      assert.ok('first_aiders' in s && 'trauma_packs_where' in s && 'defibrillators_where' in s && 'stale' in s,
        `every board entry has the new members: ${JSON.stringify(s)}`);
    }
  });
  after(async () => { await st?.cleanup(); });

  function checkEntry(entry, want, what) {
    for (const [k, v] of Object.entries(want)) assert.deepEqual(entry[k], v, `${what}: ${k} in ${JSON.stringify(entry)}`);
  }

  it('stores where, first-aiders and what was not confirmed; the board, history and totals show them', async () => {
    const note = newRef('n');
    const r = await con[0].request(statusMsg({ ...WHERE, note }), 10000);
    assert.equal(r.type, 'status_ok', JSON.stringify(r));
    const upd = await ctl.next((m) => m.type === 'status_update' && m.site.site_id === consoles[0].site_id && m.site.note === note,
      10000, 'the live update');
    checkEntry(upd.site, WHERE, 'status_update');

    const row = await st.one(`SELECT first_aiders, trauma_packs_where, defibrillators_where, stale
                                FROM status_reports WHERE id = $1`, [r.report_id]);
    checkEntry(row, WHERE, 'stored');
    const audit = await st.one(`SELECT detail FROM audit WHERE action = 'status_report' AND detail->>'report_id' = $1`,
      [String(r.report_id)]);
    checkEntry(audit.detail, WHERE, 'audited');

    const board = await ctl.request({ type: 'board' });
    checkEntry(board.sites.find((s) => s.site_id === consoles[0].site_id), WHERE, 'board');
    const h = await ctl.request({ type: 'site_history', site_id: consoles[0].site_id, limit: 5 });
    assert.equal(h.type, 'site_history', JSON.stringify(h));
    checkEntry(h.reports.find((x) => x.report_id === r.report_id), WHERE, 'site_history');
    const site = await st.one('SELECT lat, lon FROM sites WHERE id = $1', [consoles[0].site_id]);
    const t = await ctl.request({ type: 'area_totals', lat: site.lat, lon: site.lon, radius_m: 5 });
    assert.equal(t.type, 'area_totals', JSON.stringify(t));
    assert.equal(t.first_aiders, WHERE.first_aiders, `area totals add up first-aiders: ${JSON.stringify(t)}`);
  });

  it('a burst of reports (one batch) and a report answering a report-now store them too', async () => {
    const notes = con.map(() => newRef('b'));
    const replies = await Promise.all(con.map((c, i) => c.request(statusMsg({
      first_aiders: i, trauma_packs_where: `Cupboard ${i}`, defibrillators_where: null, stale: i ? ['people'] : [],
      note: notes[i] }), 10000)));
    for (const r of replies) assert.equal(r.type, 'status_ok', JSON.stringify(r));
    const rows = await st.query(`SELECT note, first_aiders, trauma_packs_where, defibrillators_where, stale
                                   FROM status_reports WHERE note = ANY($1) ORDER BY note`, [notes]);
    assert.equal(rows.length, con.length);
    for (const [i, n] of notes.entries()) {
      checkEntry(rows.find((x) => x.note === n), { first_aiders: i, trauma_packs_where: `Cupboard ${i}`,
        defibrillators_where: null, stale: i ? ['people'] : [] }, `batched report ${i}`);
    }

    const site = await st.one('SELECT lat, lon FROM sites WHERE id = $1', [consoles[1].site_id]);
    const ask = await ctl.request({ type: 'report_now', area: { circle: { lat: site.lat, lon: site.lon, radius_m: 5 } } });
    assert.equal(ask.type, 'report_now', JSON.stringify(ask));
    const r = await con[1].request(statusMsg({ ...WHERE, in_reply_to: ask.request_id }), 10000);
    assert.equal(r.answered, true, JSON.stringify(r));
    checkEntry(await st.one(`SELECT first_aiders, trauma_packs_where, defibrillators_where, stale
                               FROM status_reports WHERE id = $1`, [r.report_id]), WHERE, 'a report-now answer');
  });

  it('a report without them is as before: nulls, and nothing unconfirmed', async () => {
    const r = await con[2].request(statusMsg(), 10000);
    assert.equal(r.type, 'status_ok', JSON.stringify(r));
    checkEntry(await st.one(`SELECT first_aiders, trauma_packs_where, defibrillators_where, stale
                               FROM status_reports WHERE id = $1`, [r.report_id]),
    { first_aiders: null, trauma_packs_where: null, defibrillators_where: null, stale: [] }, 'stored');
  });

  it('refuses bad values with the field named, storing nothing', async () => {
    const c = con[3];
    const bad = [
      [{ first_aiders: -1 }, 'first_aiders'],
      [{ first_aiders: 100001 }, 'first_aiders'],
      [{ first_aiders: '3' }, 'first_aiders'],
      [{ first_aiders: 2.5 }, 'first_aiders'],
      [{ trauma_packs_where: 'x'.repeat(201) }, 'trauma_packs_where'],
      [{ trauma_packs_where: 7 }, 'trauma_packs_where'],
      [{ defibrillators_where: ['lobby'] }, 'defibrillators_where'],
      [{ defibrillators_where: 'é'.repeat(201) }, 'defibrillators_where'],
      [{ stale: 'people' }, 'stale'],
      [{ stale: ['people', 'cctv'] }, 'stale[1]'],
      [{ stale: ['people', 'people'] }, 'stale[1]'],
      [{ stale: [3] }, 'stale[0]'],
      [{ stale: ['people', 'officers', 'trauma_packs', 'first_aid_kits', 'defibrillators', 'first_aiders', 'people'] }, 'stale'],
    ];
    for (const [over, field] of bad) await expectRefused(st, c, statusMsg(over), 'bad_field', field);
    // at the limit: accepted
    const ok = await c.request(statusMsg({ trauma_packs_where: 'é'.repeat(200), first_aiders: 100000,
      stale: ['people', 'officers', 'trauma_packs', 'first_aid_kits', 'defibrillators', 'first_aiders'] }), 10000);
    assert.equal(ok.type, 'status_ok', JSON.stringify(ok));
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await st.stop();
  });
});
