// Retention erases an alert with its whole thread or not at all, and in
// bounded batches (issue 19, part 7; tocsin_retention_alerts and
// tocsin_retention_partner_reports, sql/functions/retention.sql). The
// broker runs with 30-day retention and a sweep a second from the start;
// each thread is dated back in one statement, so the sweep never sees half
// of it old.
//   * an original and its update, both 400 days old and out of force, go
//     together, in one audited erasure;
//   * an original 400 days old whose update is recent stays, with the
//     update: erasing it alone would leave an update of nothing;
//   * 12,000 old partner reports go in batches of at most 5,000, one
//     audit row each, while the broker keeps answering;
//   * a kind that fails (the broker refused its function) is counted on
//     /metrics and logged, and does not stop the others.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, consoleDirectory, waitFor } from './lib/harness.mjs';

const OLD = "now() - interval '400 days'";

describe('retention: whole threads, bounded batches', { timeout: 240_000 }, () => {
  let st, site, ctl;

  before(async () => {
    st = await Stack.create({ label: import.meta.url, broker: { args: [
      '--retention-alert-days', '30', '--retention-report-days', '30', '--retention-sweep-seconds', '1'] } });
    [site] = await consoleDirectory(st);
    ctl = await st.connectAs('controller');
  });
  after(async () => { await st?.cleanup(); });

  const publish = async (fields) => {
    const targets = fields.references ? {} : { targets: { sites: [site.site_id] } }; // an update goes where its alert went
    const pub = await ctl.request({ type: 'publish', severity: 'minor', ...targets, ...fields });
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    return Number(pub.alert_id);
  };
  const exists = async (ids) => (await st.query('SELECT id::float8 AS id FROM alerts WHERE id = ANY($1) ORDER BY id', [ids]))
    .map((r) => r.id);

  it('erases an old thread whole, and keeps one with a recent member', async () => {
    const o1 = await publish({ headline: 'Thread one' });
    const u1 = await publish({ headline: 'Thread one, updated', msg_type: 'update', references: o1 });
    const o2 = await publish({ headline: 'Thread two' });
    const u2 = await publish({ headline: 'Thread two, updated', msg_type: 'update', references: o2 });
    // thread two's original only, then thread one whole, each in one statement
    await st.query(`UPDATE alerts SET sent_at = ${OLD}, expires = ${OLD} + interval '1 hour' WHERE id = $1`, [o2]);
    await st.query(`UPDATE alerts SET sent_at = ${OLD}, expires = ${OLD} + interval '1 hour' WHERE id = ANY($1)`, [[o1, u1]]);
    await waitFor(async () => (await exists([o1, u1])).length === 0, { timeoutMs: 60_000, what: 'thread one erased' });
    const rows = await st.query(`SELECT detail FROM audit WHERE action = 'alerts_erased' AND detail->'alerts' @> $1::jsonb`,
      [JSON.stringify([o1])]);
    assert.equal(rows.length, 1);
    assert.deepEqual(rows[0].detail.alerts.map(Number).sort(), [o1, u1].sort(), 'the original and its update in one erasure');
    // a few more sweeps: thread two stays whole
    const runs = async () => Number((await st.one(`SELECT count(*) AS n FROM audit WHERE action = 'alerts_erased'`)).n);
    const lastRun = async () => Number((await st.http('GET', '/metrics')).text
      .match(/^tocsin_retention_last_run_timestamp_seconds (\S+)$/m)[1]);
    const first = await lastRun();
    await waitFor(async () => (await lastRun()) > first, { timeoutMs: 30_000, what: 'another sweep' });
    assert.deepEqual(await exists([o2, u2]), [o2, u2].sort((a, b) => a - b), 'thread two kept');
    assert.equal(await runs(), 1, 'nothing else erased');
  });

  it('erases 12,000 old partner reports in batches of at most 5,000, each audited', async () => {
    await st.query(`INSERT INTO partner_reports (kind, text, occurred_at, received_at, org_id, user_id)
      SELECT 'sighting', 'old report ' || g, ${OLD}, ${OLD}, u.org_id, u.id
        FROM users u, generate_series(1, 12000) g WHERE u.id = $1`, [site.user_id]);
    await waitFor(async () => Number((await st.one(`SELECT count(*) AS n FROM partner_reports
        WHERE received_at < now() - interval '300 days'`)).n) === 0, { timeoutMs: 90_000, what: 'the old reports erased' });
    const rows = await st.query(`SELECT (detail->>'rows')::int AS n FROM audit WHERE action = 'partner_reports_erased' ORDER BY id`);
    assert.ok(rows.length >= 3, `three batches at least: ${JSON.stringify(rows)}`);
    assert.ok(rows.every((r) => r.n >= 1 && r.n <= 5000), JSON.stringify(rows));
    assert.equal(rows.reduce((s, r) => s + r.n, 0), 12000);
    const h = await st.http('GET', '/healthz');
    assert.equal(h.status, 200);
  });

  it('a kind that fails is counted and logged, and the others are still swept', async () => {
    await st.query('REVOKE EXECUTE ON FUNCTION tocsin_retention_alerts(timestamptz, integer) FROM tocsin_broker');
    const errors = async () => Number((await st.http('GET', '/metrics')).text.match(/^tocsin_retention_errors_total (\S+)$/m)[1]);
    try {
      await waitFor(async () => (await errors()) >= 1, { timeoutMs: 30_000, what: 'the alerts kind failing' });
      assert.match(st.broker.stderr, /retention sweep of alerts failed: permission denied/);
      const { id } = await st.one(`INSERT INTO partner_reports (kind, text, occurred_at, received_at, org_id, user_id)
        SELECT 'sighting', 'old report', ${OLD}, ${OLD}, u.org_id, u.id FROM users u WHERE u.id = $1 RETURNING id`,
      [site.user_id]);
      await waitFor(async () => Number((await st.one('SELECT count(*) AS n FROM partner_reports WHERE id = $1', [id])).n) === 0,
        { timeoutMs: 60_000, what: 'the report erased though the alerts fail' });
      assert.ok((await errors()) >= 2, 'the alerts kind failed again meanwhile');
    } finally {
      await st.query('GRANT EXECUTE ON FUNCTION tocsin_retention_alerts(timestamptz, integer) TO tocsin_broker');
    }
  });

  it('stops cleanly (exit 0, no sanitizer report)', () => st.stop());
});
