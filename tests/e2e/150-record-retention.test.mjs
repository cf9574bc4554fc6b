// Alerts, delivery records, partner reports and status history erased
// after their retention (issue 19, part 7; broker/handle/retention.c,
// sql/functions/retention.sql). A first broker (the six-year defaults)
// publishes real alerts to a real console, which acknowledges one; the
// test dates some rows 400 days back (as a superuser: alerts, a delivery
// batch recorded with old times, reports), waits for every seal and
// archives the chain. A second broker on the same database and keys runs
// with every retention at 30 days and a sweep a second. Then:
//   * the old alert goes with its recipients, receipts and deliveries; an
//     alert as old but still in force, and a recent one, stay;
//   * an old delivery batch of a recent alert goes, the alert stays;
//   * old partner and status reports go, but a site's latest status stays;
//   * each erasure is audited (an erasure, by id, without the content);
//   * tocsinctl audit verify is intact (the seal of a deliver row covers
//     its batch's digest, which the erasure kept), and names the deliver
//     row when that digest is taken away; the archive written before the
//     erasure verifies offline and holds the same rows;
//   * /metrics counts what was erased, by kind, and when the sweep ran;
//   * the broker kept delivering.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Stack, Broker, ROOT, run, consoleDirectory, httpRequest, waitFor } from './lib/harness.mjs';
import { BrokerFiles } from './lib/faults.mjs';
import { verifyAudit, waitAllSealed } from './lib/audit.mjs';
import { parseProm } from './lib/prom.mjs';

const TOCSINCTL = path.join(ROOT, 'build/tocsinctl');
const SECRET = 'Retention headline that the erasure must not keep';
const OLD = "now() - interval '400 days'";

describe('retention of alerts, deliveries and reports', { timeout: 240_000 }, () => {
  let st, files, site, ctl, con, archive;
  const a = {};        // alert ids: old, force, recent
  const r = {};        // report ids
  let oldBatch, oldAlertBatches;

  const verify = () => verifyAudit(st, { keyFile: path.join(files.dir, 'audit.key') });
  const count = async (sql, params) => (await st.one(`SELECT count(*)::int AS n FROM ${sql}`, params)).n;

  before(async () => {
    files = new BrokerFiles('retention');
    st = await Stack.create({ label: import.meta.url, broker: { args: files.args() } });
    [site] = await consoleDirectory(st);
    ctl = await st.connectAs('controller');
    con = await st.connectAs(site.username);
    archive = path.join(files.dir, 'audit.jsonl');
  });
  after(async () => {
    await st?.cleanup();
    files?.remove();
  });

  it('sets up: alerts delivered and acknowledged, rows dated 400 days back, the chain archived', async () => {
    for (const k of ['old', 'force', 'recent']) {
      const pub = await ctl.request({ type: 'publish', headline: `${SECRET} (${k})`, severity: 'minor',
        targets: { sites: [site.site_id] } });
      assert.equal(pub.type, 'published', JSON.stringify(pub));
      a[k] = Number(pub.alert_id);
      await con.next((m) => m.type === 'alert' && Number(m.alert.id) === a[k], 10_000, `the ${k} alert at the console`);
    }
    const ack = await con.request({ type: 'ack', alert_id: a.old });
    assert.equal(ack.type, 'acked', JSON.stringify(ack));
    await waitFor(async () => (await count('delivery_batches WHERE alert_id = ANY($1)', [[a.old, a.recent]])) >= 2,
      { timeoutMs: 30_000, what: 'the deliveries recorded' });
    oldAlertBatches = (await st.query('SELECT id::int FROM delivery_batches WHERE alert_id = $1', [a.old])).map((x) => x.id);

    // the old alert out of force, the in-force one with no expiry; both 400 days old
    await st.query(`UPDATE alerts SET sent_at = ${OLD}, expires = ${OLD} + interval '1 hour' WHERE id = $1`, [a.old]);
    await st.query(`UPDATE alerts SET sent_at = ${OLD}, expires = NULL WHERE id = $1`, [a.force]);
    // a delivery of the recent alert recorded with a time 400 days back
    await st.query(`SELECT tocsin_record_deliveries(ARRAY[$1]::bigint[], ARRAY[$2]::integer[], ARRAY[$3]::integer[],
                    ARRAY[${OLD}])`, [a.recent, site.site_id, site.user_id]);
    oldBatch = (await st.one('SELECT max(id)::int AS id FROM delivery_batches WHERE alert_id = $1 AND first_at < now() - interval \'300 days\'',
      [a.recent])).id;
    assert.ok(oldBatch, 'the old batch');
    const partner = async (at) => (await st.one(`INSERT INTO partner_reports (kind, text, occurred_at, received_at, org_id, user_id)
      SELECT 'sighting', $1, ${at}, ${at}, u.org_id, u.id FROM users u WHERE u.id = $2 RETURNING id::int`,
      [SECRET, site.user_id])).id;
    r.partnerOld = await partner(OLD);
    r.partnerRecent = await partner('now()');
    const status = async (at) => (await st.one(`INSERT INTO status_reports (site_id, user_id, people, officers,
      trauma_packs, first_aid_kits, defibrillators, cctv, state, note, reported_at)
      VALUES ($1, $2, 1, 1, 0, 0, 0, 'working', 'normal', $3, ${at}) RETURNING id::int`,
      [site.site_id, site.user_id, SECRET])).id;
    r.statusOld = await status(OLD);
    r.statusLatest = await status(`${OLD} + interval '1 day'`);
    r.statusRecent = await status('now()');
    await st.query(`INSERT INTO status_latest (site_id, report_id) VALUES ($1, $2)
                    ON CONFLICT (site_id) DO UPDATE SET report_id = EXCLUDED.report_id`, [site.site_id, r.statusLatest]);

    await waitAllSealed(st);
    const w = await run(TOCSINCTL, ['audit', 'archive', '--to', archive, '--database', st.db.brokerUrl], { timeoutMs: 60_000 });
    assert.equal(w.code, 0, w.stdout + w.stderr);
    assert.equal((await verify()).code, 0, 'intact before');
  });

  it('a broker with 30-day retention erases what is due and keeps the rest', async () => {
    assert.ok(a.old && fs.existsSync(archive), 'set up');
    st.closeSessions();
    await st.broker.stop();
    st.broker = new Broker({ label: `${st.label}-30days`, databaseUrl: st.db.brokerUrl, args: [...files.args(),
      '--retention-alert-days', '30', '--retention-delivery-days', '30', '--retention-report-days', '30',
      '--retention-status-days', '30', '--retention-sweep-seconds', '1'] });
    await st.broker.start();
    await waitFor(async () => (await count('alerts WHERE id = $1', [a.old])) === 0
      && (await count('status_reports WHERE id = $1', [r.statusOld])) === 0
      && (await count('partner_reports WHERE id = $1', [r.partnerOld])) === 0
      && (await count('delivery_batches WHERE id = $1', [oldBatch])) === 0,
    { timeoutMs: 60_000, intervalMs: 250, what: 'the old rows erased' });

    assert.equal(await count('alerts WHERE id = ANY($1)', [[a.force, a.recent]]), 2, 'in force and recent alerts kept');
    for (const t of ['alert_recipients', 'acks', 'delivered_sites', 'delivery_batches', 'alert_signatures'])
      assert.equal(await count(`${t} WHERE alert_id = $1`, [a.old]), 0, `${t} of the old alert erased`);
    assert.equal(await count('alert_recipients WHERE alert_id = $1', [a.force]), 1, 'the in-force alert keeps its recipients');
    assert.ok(await count('delivery_batches WHERE alert_id = $1', [a.recent]) >= 1, 'the recent delivery kept');
    assert.equal(await count('delivery_batch_digests WHERE batch_id = ANY($1)', [[...oldAlertBatches, oldBatch]]),
      oldAlertBatches.length + 1, 'each erased batch left its digest');
    assert.equal(await count('partner_reports WHERE id = $1', [r.partnerRecent]), 1, 'the recent partner report kept');
    assert.equal(await count('status_reports WHERE id = ANY($1)', [[r.statusLatest, r.statusRecent]]), 2,
      'the latest (old) and the recent status kept');
  });

  it('audits each erasure as an erasure, by id, without what was erased', async () => {
    const rows = await st.query(`SELECT action, tocsin_audit_category(action) AS category, detail, detail::text AS text
                                   FROM audit WHERE action LIKE '%\\_erased' ORDER BY id`);
    const of = (action) => rows.filter((x) => x.action === action);
    assert.ok(of('alerts_erased').some((x) => x.detail.alerts.includes(a.old)), JSON.stringify(rows));
    assert.ok(of('deliveries_erased').some((x) => x.detail.first_id <= oldBatch && x.detail.last_id >= oldBatch));
    assert.ok(of('partner_reports_erased').some((x) => x.detail.reports.includes(r.partnerOld)));
    assert.ok(of('status_reports_erased').some((x) => x.detail.reports.includes(r.statusOld)));
    for (const x of rows) {
      assert.equal(x.category, 'erasure', x.action);
      assert.ok(!x.text.includes('Retention headline'), `${x.action} holds nothing of what it erased`);
    }
    for (const x of of('alerts_erased'))
      assert.ok(!x.detail.alerts.includes(a.force) && !x.detail.alerts.includes(a.recent), `only the old alert: ${x.text}`);
  });

  it('the chain verifies after the erasure; a batch gone without its digest is still caught', async () => {
    await waitAllSealed(st);
    let v = await verify();
    assert.equal(v.code, 0, v.out);
    assert.match(v.out, /audit chain intact/);
    const deliver = await st.one(`SELECT id::int FROM audit WHERE action = 'deliver' AND detail->>'batch' = $1::text`, [oldBatch]);
    const digest = await st.one('SELECT sha256, erased_at FROM delivery_batch_digests WHERE batch_id = $1', [oldBatch]);
    await st.query('DELETE FROM delivery_batch_digests WHERE batch_id = $1', [oldBatch]);
    v = await verify();
    await st.query('INSERT INTO delivery_batch_digests (batch_id, sha256, erased_at) VALUES ($1, $2, $3)',
      [oldBatch, digest.sha256, digest.erased_at]);
    assert.equal(v.code, 1, v.out);
    assert.match(v.out, new RegExp(`BROKEN at audit row ${deliver.id}: the row or the chain before it was changed`));
    assert.equal((await verify()).code, 0, 'the digest back, intact again');
  });

  it('the archive written before the erasure verifies offline and holds the same rows', async () => {
    const v = await run(TOCSINCTL, ['audit', 'verify', '--archive', archive, '--audit-key', path.join(files.dir, 'audit.key')],
      { env: { DATABASE_URL: '', PGHOST: '/nonexistent', PGDATABASE: 'none' }, timeoutMs: 60_000 });
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /audit chain intact/);
    const entries = fs.readFileSync(archive, 'utf8').trimEnd().split('\n').slice(1, -1).map((l) => JSON.parse(l));
    const deliver = await st.one(`SELECT id::int, tocsin_audit_canonical(a) AS row FROM audit a
                                   WHERE action = 'deliver' AND detail->>'batch' = $1::text`, [oldBatch]);
    assert.equal(entries.find((e) => Number(e.id) === deliver.id)?.row, deliver.row,
      'the erased batch\'s deliver row reads the same as when it was archived');
  });

  it('/metrics counts what was erased by kind, and when the sweep last ran', async () => {
    const res = await httpRequest(st.broker, 'GET', '/metrics');
    assert.equal(res.status, 200, res.text);
    const m = parseProm(res.text);
    assert.equal(m.families.get('tocsin_retention_erased_total')?.type, 'counter');
    assert.ok(m.value('tocsin_retention_erased_total', { kind: 'alerts' }) >= 1);
    assert.ok(m.value('tocsin_retention_erased_total', { kind: 'deliveries' }) >= 1);
    assert.ok(m.value('tocsin_retention_erased_total', { kind: 'partner_reports' }) >= 1);
    assert.ok(m.value('tocsin_retention_erased_total', { kind: 'status_reports' }) >= 1);
    assert.equal(m.value('tocsin_retention_erased_total', { kind: 'audit_details' }), 0);
    assert.equal(m.value('tocsin_retention_errors_total'), 0);
    const last = m.value('tocsin_retention_last_run_timestamp_seconds');
    assert.ok(last > Date.now() / 1000 - 120 && last <= Date.now() / 1000 + 5, `last run ${last}`);
  });

  it('keeps delivering while it sweeps, and stops cleanly', async () => {
    const c2 = await st.connectAs('controller');
    const k2 = await st.connectAs(site.username);
    const pub = await c2.request({ type: 'publish', headline: 'After the sweep', severity: 'minor',
      targets: { sites: [site.site_id] } });
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    await k2.next((m) => m.type === 'alert' && m.alert.id === pub.alert_id, 10_000, 'the new alert at the console');
    await st.stop();
  });
});
