// Acknowledgements and reads arriving together are stored as one batch
// (tocsin_receipt_batch, sql/functions/receipts.sql): set-wise when every
// item qualifies, item by item when one does not. Either way each console
// gets its own answer, the first record per site is kept, every request is
// audited once with "first", and the sender's tally counts sites, not
// requests.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, consoleDirectory, RFC3339_MS, sleep, waitFor } from './lib/harness.mjs';
import { QUIET_MS } from './lib/alerts.mjs';
import { publish } from './lib/faults.mjs';

describe('receipts in one batch', { timeout: 180_000 }, () => {
  let st, ctl, sites, outsider;
  const sessions = [];            // { username, site_id, session }

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    const consoles = await consoleDirectory(st);
    assert.ok(consoles.length >= 8, 'demo data: at least 8 site consoles');
    sites = consoles.slice(0, 6);
    outsider = consoles[consoles.length - 1];
    ctl = await st.connectAs('controller');
    for (const c of sites) sessions.push({ ...c, session: await st.connectAs(c.username) });
    // a second desk of the first site, signed in as the same console
    sessions.push({ ...sites[0], session: await st.connectAs(sites[0].username) });
    sessions.push({ ...outsider, session: await st.connectAs(outsider.username) });
  });
  after(async () => { await st?.cleanup(); });

  // Sends one request from every recipient session in the same tick and
  // returns the answers in the same order.
  const together = (make) => Promise.all(sessions.slice(0, -1).map((x) => x.session.request(make(x), 10_000)));

  async function alertFor(label) {
    const pub = await publish(ctl, { headline: `${label} ${Date.now()}`, severity: 'moderate',
      targets: { sites: sites.map((s) => s.site_id) } });
    assert.equal(pub.recipients, sites.length);
    for (const x of sessions.slice(0, -1)) {
      await x.session.next((m) => m.type === 'alert' && m.alert.id === pub.alert_id, 5000, 'the alert');
    }
    return pub.alert_id;
  }

  function checkAnswers(answers, alertId, type, timeField) {
    const recipients = sessions.slice(0, -1);
    const firstPerSite = new Map();
    recipients.forEach((x, i) => {
      const a = answers[i];
      assert.equal(a.type, type, JSON.stringify(a));
      assert.equal(a.alert_id, alertId);
      assert.match(a[timeField], RFC3339_MS);
      assert.equal(a.durable, 'database');
      if (!a.already) {
        assert.ok(!firstPerSite.has(x.site_id), `two first ${type}s for site ${x.site_id}`);
        firstPerSite.set(x.site_id, a[timeField]);
      }
    });
    assert.equal(firstPerSite.size, sites.length, `one first ${type} per site`);
    // the two desks of one site are told the same kept time
    const [d1, d2] = [answers[0], answers[recipients.length - 1]];
    assert.equal(d1[timeField], d2[timeField]);
    assert.notEqual(d1.already, d2.already);
  }

  async function checkAudit(alertId, action) {
    const rows = await st.query(
      `SELECT site_id, (detail->>'first')::boolean AS first FROM audit
        WHERE alert_id = $1 AND action = $2 ORDER BY id`, [alertId, action]);
    const expected = sessions.slice(0, -1).length;
    assert.equal(rows.length, expected, `one ${action} audit row per request`);
    for (const s of sites) {
      assert.equal(rows.filter((r) => r.site_id === s.site_id && r.first).length, 1,
        `one first ${action} for site ${s.site_id}`);
    }
  }

  it('all qualify: every console answered, one record per site, every request audited', async () => {
    const alertId = await alertFor('Batch ack');
    const acks = await together(() => ({ type: 'ack', alert_id: alertId }));
    checkAnswers(acks, alertId, 'acked', 'acked_at');
    const kept = await st.query('SELECT site_id FROM acks WHERE alert_id = $1 ORDER BY site_id', [alertId]);
    assert.deepEqual(kept.map((r) => r.site_id), sites.map((s) => s.site_id).sort((a, b) => a - b));
    await checkAudit(alertId, 'ack');
    await ctl.next((m) => m.type === 'tally' && m.alert_id === alertId && m.acknowledged === sites.length,
      5000, `tally acknowledged=${sites.length}`);
  });

  it('reads and acks mixed in one batch, then again: the second time all already', async () => {
    const alertId = await alertFor('Batch read');
    const recipients = sessions.slice(0, -1);
    const answers = await Promise.all(recipients.flatMap((x) => [
      x.session.request({ type: 'read', alert_id: alertId }, 10_000),
      x.session.request({ type: 'ack', alert_id: alertId }, 10_000),
    ]));
    checkAnswers(answers.filter((_, i) => i % 2 === 0), alertId, 'read_ok', 'read_at');
    checkAnswers(answers.filter((_, i) => i % 2 === 1), alertId, 'acked', 'acked_at');
    await checkAudit(alertId, 'read');
    await checkAudit(alertId, 'ack');
    const again = await Promise.all(recipients.map((x) => x.session.request({ type: 'ack', alert_id: alertId }, 10_000)));
    for (const a of again) {
      assert.equal(a.type, 'acked', JSON.stringify(a));
      assert.equal(a.already, true);
    }
    await waitFor(async () => (await st.one(
      `SELECT count(*)::int AS n FROM audit WHERE alert_id = $1 AND action = 'ack'`, [alertId])).n === recipients.length * 2,
    { what: 'the repeated acks audited' });
    const tally = await st.one('SELECT acknowledged::int, read::int FROM alert_tallies WHERE alert_id = $1', [alertId]);
    assert.deepEqual(tally, { acknowledged: sites.length, read: sites.length });
  });

  it('an unknown alert and a site that was not a recipient are refused alone; the others are stored', async () => {
    const alertId = await alertFor('Batch unknown');
    // sessions: the six sites, the first site's second desk, the outsider
    const answers = await Promise.all(sessions.map((x, i) =>
      x.session.request({ type: 'ack', alert_id: i === 1 ? alertId + 999_999 : alertId }, 10_000)));
    answers.forEach((a, i) => {
      if (i === 1 || i === sessions.length - 1) {
        assert.equal(a.type, 'error', JSON.stringify(a));
        assert.notEqual(a.code, 'internal', JSON.stringify(a));
      } else {
        assert.equal(a.type, 'acked', JSON.stringify(a));
      }
    });
    const kept = await st.query('SELECT site_id FROM acks WHERE alert_id = $1 ORDER BY site_id', [alertId]);
    assert.deepEqual(kept.map((r) => r.site_id),
      sites.filter((_, i) => i !== 1).map((s) => s.site_id).sort((a, b) => a - b),
      'every recipient site but the refused one acknowledged, the outsider not');
    const audited = await st.one(`SELECT count(*)::int AS n FROM audit WHERE alert_id = $1 AND action = 'ack'`, [alertId]);
    assert.equal(audited.n, sessions.length - 2, 'the stored acks audited, the refused not');
  });

  // The site's other desks stop ringing: site_acked goes to them (found
  // through the broker's per-site chains of consoles, ws_session.c), not to
  // the desk that acknowledged, nor to any other site's.
  it('an acknowledgement tells the site\'s other desk (site_acked), and no one else', async () => {
    const alertId = await alertFor('Site acked');
    const [first, other] = sessions;
    const twin = sessions[sessions.length - 2];
    assert.equal(twin.site_id, first.site_id, 'the second desk of the first site');
    const reply = await first.session.request({ type: 'ack', alert_id: alertId }, 10_000);
    assert.equal(reply.type, 'acked', JSON.stringify(reply));
    const note = await twin.session.next((m) => m.type === 'site_acked' && m.alert_id === alertId, 5000, 'site_acked');
    assert.equal(note.site_id, first.site_id);
    assert.equal(note.by, first.username);
    await sleep(QUIET_MS);
    const told = (x) => x.session.seen.some((m) => m.type === 'site_acked' && m.alert_id === alertId);
    assert.equal(told(first), false, 'not the desk that acknowledged');
    assert.deepEqual(sessions.filter((x) => x.site_id !== first.site_id && told(x)).map((x) => x.username), [],
      'no desk of another site');
  });

  // A batch the broker sent when the connection dropped is journaled and
  // sent again under the same jids; it must store nothing twice. The set-wise
  // path declines a batch with a jid already applied
  // (tocsin_receipt_batch_fast looks for one with a join on journal_applied;
  // were that test wrong, its insert into journal_applied would fail and the
  // batch fall back all the same), and
  // the per-item path answers each item TS208.
  it('the same batch sent twice under the same jids: the second stores nothing and says why', async () => {
    const alertId = await alertFor('Batch replay');
    const items = sites.map((s, i) => ({ jid: `replay-${alertId}-${i}`, kind: 'ack', user: s.user_id }));
    const call = () => st.query(`SELECT * FROM tocsin_receipt_batch($1::text[], $2::text[], $3::integer[],
                                   $4::bigint[], $5::text[], $6::timestamptz[])`,
      [items.map((x) => x.jid), items.map((x) => x.kind), items.map((x) => x.user),
        items.map(() => alertId), items.map(() => '127.0.0.1'), items.map(() => null)]);
    const first = await call();
    assert.equal(first.length, items.length);
    assert.ok(first.every((r) => r.err_state === null), JSON.stringify(first.find((r) => r.err_state)));
    const before = await st.one(`SELECT (SELECT count(*) FROM acks WHERE alert_id = $1)::int AS acks,
                                        (SELECT count(*) FROM audit WHERE alert_id = $1 AND action = 'ack')::int AS audited`, [alertId]);
    assert.deepEqual(before, { acks: sites.length, audited: sites.length });
    const again = await call();
    assert.deepEqual(again.map((r) => r.err_state), items.map(() => 'TS208'), 'each item: already written');
    const after = await st.one(`SELECT (SELECT count(*) FROM acks WHERE alert_id = $1)::int AS acks,
                                       (SELECT count(*) FROM audit WHERE alert_id = $1 AND action = 'ack')::int AS audited`, [alertId]);
    assert.deepEqual(after, before, 'nothing stored or audited twice');
  });
});
