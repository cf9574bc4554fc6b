// Status reports are stored in batches (broker/status_batch.c,
// tocsin_status_batch in sql/functions/status.sql): reports sent at once
// share one transaction, yet each is stored with its own audit row and
// answered with its own status_ok, and one refused report never loses its
// neighbours.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, RFC3339_MS, consoleDirectory, newRef, pgConnect } from './lib/harness.mjs';
import { statusMsg } from './lib/status-helpers.mjs';

describe('status reports in batches', { timeout: 240_000 }, () => {
  let st, consoles, ctl;
  const sessions = new Map(); // username -> session

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    consoles = await consoleDirectory(st);
    assert.ok(consoles.length >= 3, `three consoles at least: ${consoles.length}`);
    ctl = await st.connectAs('controller');
    const board = await ctl.request({ type: 'board' });
    assert.equal(board.type, 'board', JSON.stringify(board));
    for (const c of consoles) sessions.set(c.username, await st.connectAs(c.username));
  });
  after(async () => { await st?.cleanup(); });

  // Sends every (console, message) pair without waiting, then collects the
  // reply to each.
  async function burst(pairs) {
    const sent = pairs.map(([c, msg]) => {
      const ref = newRef('status');
      sessions.get(c.username).send({ ...msg, ref });
      return { c, msg, ref };
    });
    for (const x of sent)
      x.reply = await sessions.get(x.c.username).next((m) => m.ref === x.ref, 30000, `reply ${x.ref}`);
    return sent;
  }

  it('stores every report of a burst with its own row, audit row, status_ok and live update', async () => {
    const pairs = [];
    for (const c of consoles)
      for (let k = 0; k < 3; k++)
        pairs.push([c, statusMsg({ people: 1000 + pairs.length, note: k === 1 ? undefined : `burst ${pairs.length}` })]);
    const sent = await burst(pairs);
    const ids = new Set();
    for (const x of sent) {
      assert.equal(x.reply.type, 'status_ok', JSON.stringify(x.reply));
      assert.equal(x.reply.site_id, x.c.site_id);
      assert.match(x.reply.reported_at, RFC3339_MS);
      ids.add(x.reply.report_id);
    }
    assert.equal(ids.size, sent.length, 'a report id each');

    const rows = await st.query('SELECT * FROM status_reports WHERE id = ANY($1)', [[...ids]]);
    assert.equal(rows.length, sent.length, 'every report stored');
    const byId = new Map(rows.map((r) => [Number(r.id), r]));
    for (const x of sent) {
      const row = byId.get(x.reply.report_id);
      assert.equal(row.user_id, x.c.user_id);
      assert.equal(row.site_id, x.c.site_id);
      assert.equal(row.people, x.msg.people);
      assert.equal(row.note, x.msg.note ?? null, 'an absent note is stored as NULL');
    }
    const audit = await st.query(`SELECT (detail->>'report_id')::bigint AS report_id, actor_user_id, site_id
                                    FROM audit WHERE action = 'status_report'
                                     AND (detail->>'report_id')::bigint = ANY($1)`, [[...ids]]);
    assert.equal(audit.length, sent.length, 'an audit row each');
    for (const a of audit) assert.equal(a.actor_user_id, byId.get(Number(a.report_id)).user_id);

    // The latest of each site is its highest report, and the board says so.
    const latest = await st.query('SELECT site_id, report_id FROM status_latest WHERE site_id = ANY($1)',
      [[...new Set(consoles.map((c) => c.site_id))]]);
    for (const l of latest) {
      const mine = sent.filter((x) => x.c.site_id === l.site_id).map((x) => x.reply.report_id);
      assert.equal(Number(l.report_id), Math.max(...mine), `site ${l.site_id}`);
    }
    // The control room hears each site's latest report. An update still
    // waiting to be written to it when a newer one of the same site comes
    // is replaced (outq.c), so it may not hear every report of the burst.
    const lastOf = new Map();
    for (const x of sent) lastOf.set(x.c.site_id, x.msg.people);
    for (const [siteId, people] of lastOf)
      await ctl.next((m) => m.type === 'status_update' && m.site?.site_id === siteId && m.site.people === people,
        30000, `the latest status_update of site ${siteId}`);
    // A console's reports keep their order, although batches are stored over
    // two connections at once (a site always takes the same one,
    // status_batch.c): report ids as sent, and what the control room heard
    // of them in the order sent, ending with the last.
    for (const c of consoles) {
      const mine = sent.filter((x) => x.c.username === c.username);
      const mineIds = mine.map((x) => x.reply.report_id);
      assert.deepEqual(mineIds, [...mineIds].sort((a, b) => a - b), `${c.username}: report ids in the order sent`);
      const people = mine.map((x) => x.msg.people);
      const heard = ctl.seen.filter((m) => m.type === 'status_update' && m.site?.site_id === c.site_id &&
        people.includes(m.site.people)).map((m) => people.indexOf(m.site.people));
      assert.deepEqual(heard, [...new Set(heard)].sort((a, b) => a - b), `${c.username}: updates heard in the order sent, each once`);
    }
  });

  it('answers a refused report in a burst with its error and stores its neighbours', async () => {
    const [bad, ...good] = consoles.slice(0, 3);
    const other = consoles.find((c) => c.site_id !== bad.site_id);
    assert.ok(other, 'a second site');
    const before = await st.one('SELECT count(*)::int AS n FROM status_reports WHERE user_id = $1', [bad.user_id]);
    // The console's session still names its old site: PostgreSQL refuses
    // the report (TS403), inside the batch.
    await st.query('UPDATE users SET site_id = $1 WHERE id = $2', [other.site_id, bad.user_id]);
    let sent;
    try {
      sent = await burst([good[0], bad, good[1], bad].map((c, i) => [c, statusMsg({ people: 2000 + i })]));
    } finally {
      await st.query('UPDATE users SET site_id = $1 WHERE id = $2', [bad.site_id, bad.user_id]);
    }
    for (const x of sent) {
      if (x.c === bad) {
        assert.equal(x.reply.type, 'error', JSON.stringify(x.reply));
        assert.equal(x.reply.code, 'forbidden', JSON.stringify(x.reply));
      } else {
        assert.equal(x.reply.type, 'status_ok', JSON.stringify(x.reply));
        const row = await st.one('SELECT people, user_id FROM status_reports WHERE id = $1', [x.reply.report_id]);
        assert.deepEqual([row.people, row.user_id], [x.msg.people, x.c.user_id]);
        await st.one(`SELECT 1 FROM audit WHERE action = 'status_report' AND (detail->>'report_id')::bigint = $1`,
          [x.reply.report_id]);
      }
    }
    const after1 = await st.one('SELECT count(*)::int AS n FROM status_reports WHERE user_id = $1', [bad.user_id]);
    assert.equal(after1.n, before.n, 'nothing stored for the refused reports');
  });

  // tocsin_status_batch answers from the rows the batch inserted; the batch
  // never reads status_reports (which holds every report ever made) back.
  it('a batch answers its reports in order without reading status_reports back', async () => {
    const three = consoles.slice(0, 3);
    const reports = three.map((c, i) => ({ user_id: c.user_id, site_id: c.site_id, people: 300 + i, officers: 1,
      trauma_packs: 0, first_aid_kits: 1, defibrillators: 0, cctv: 'working', state: 'normal', note: null,
      in_reply_to: null, remote: '127.0.0.1' }));
    const db = await pgConnect(st.db.brokerUrl);
    try {
      await db.query('BEGIN');
      const { rows } = await db.query('SELECT idx, err_state, report_id, site_id, site FROM tocsin_status_batch($1::jsonb)', [JSON.stringify(reports)]);
      const { rows: [scans] } = await db.query(`SELECT COALESCE(seq_scan, 0) + COALESCE(idx_scan, 0) AS n
                                                  FROM pg_stat_xact_user_tables WHERE relname = 'status_reports'`);
      await db.query('ROLLBACK');
      assert.deepEqual(rows.map((r) => [r.idx, r.err_state, r.site_id, r.site.site_id, r.site.people]),
        three.map((c, i) => [i + 1, null, c.site_id, c.site_id, 300 + i]));
      assert.ok(rows.every((r, i) => i === 0 || Number(r.report_id) > Number(rows[i - 1].report_id)), 'ids in order');
      assert.equal(Number(scans.n), 0, 'status_reports not read');
    } finally {
      await db.end().catch(() => {});
    }
  });

  it('stops cleanly (no sanitizer report)', async () => {
    await st.stop();
  });
});
