// The DPA 2018 s.62 export (docs/audit.md): `tocsinctl audit export`.
//
// The file causes consultations (a status board view, an image fetch, an
// inbox read, an alert's receipts), disclosures (a publish to two sites,
// its deliveries, a relay by the guarding company) and an erasure (an
// image past its expiry, erased by the fetch that finds it so: expiry is
// brought forward in the database, as in 32-images), then exports the
// window as CSV and JSON with the broker's own database role and checks
// each record: category, action, who (user, role, organisation, address)
// and what. --subject and --kind narrow it; the erasure holds metadata only;
// bad arguments exit 2 naming the flag; each export is itself audited.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { Stack, ROOT, consoleDirectory, userByName, waitFor } from './lib/harness.mjs';
import { makePng, sha256hex, upload, fetchImage } from './lib/images-helpers.mjs';

const TOCSINCTL = path.join(ROOT, 'build/tocsinctl');

// Runs tocsinctl; resolves { code, stdout, stderr } whatever the exit code.
function ctl(args, { timeoutMs = 60_000 } = {}) {
  return new Promise((resolve) => {
    execFile(TOCSINCTL, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, DATABASE_URL: '' } },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }));
  });
}

// RFC 4180: fields separated by commas, records by CRLF, a field in double
// quotes may hold commas, quotes (doubled) and line breaks. Returns the
// records as arrays of strings; checks that every line ends in CRLF.
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i += 2; continue; }
      if (c === '"') { quoted = false; i++; continue; }
      field += c; i++; continue;
    }
    if (c === '"' && field === '') { quoted = true; i++; continue; }
    if (c === ',') { row.push(field); field = ''; i++; continue; }
    if (c === '\r' && text[i + 1] === '\n') { row.push(field); rows.push(row); row = []; field = ''; i += 2; continue; }
    assert.notEqual(c, '\n', `a bare LF outside quotes at offset ${i}: records end in CRLF`);
    assert.notEqual(c, '"', `a quote inside an unquoted field at offset ${i}`);
    field += c; i++;
  }
  assert.equal(field, '', 'the last record ends in CRLF');
  assert.equal(row.length, 0, 'the last record ends in CRLF');
  return rows;
}

// CSV records as objects keyed by the header; '' is NULL.
function csvObjects(text) {
  const [header, ...records] = parseCsv(text);
  for (const r of records) assert.equal(r.length, header.length, `record width: ${JSON.stringify(r)}`);
  return records.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]])));
}

describe('tocsinctl audit export (DPA 2018 s.62)', { timeout: 240_000 }, () => {
  let st;
  let from, to;               // the window, RFC 3339
  let ctlWs, analystWs, opWs, conA;
  let users = {};
  let siteA, siteB;           // two consoled sites of the same company
  let alertId, relayId, imageId;
  const png = makePng(2, 2, { seed: 53, noise: true });
  const headline = `Audit export test: man photographing entrances ${Date.now()}`;
  let csvRows, jsonRows;

  const exportArgs = (...extra) => ['audit', 'export', '--database', st.db.brokerUrl,
    '--from', from, '--to', to, '--actor', 'inspector.e2e', ...extra];

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    from = (await st.one(`SELECT now() - interval '1 second' AS t`)).t.toISOString();
    const consoles = await consoleDirectory(st);
    const byOrg = new Map();
    for (const c of consoles) byOrg.set(c.guard_org_id, [...(byOrg.get(c.guard_org_id) || []), c]);
    const [orgId, sites] = [...byOrg.entries()].find(([, list]) => list.length >= 2);
    [siteA, siteB] = sites;
    const operator = (await st.one(`SELECT min(username) AS u FROM users
                                     WHERE org_id = $1 AND role = 'company_operator' AND NOT disabled`, [orgId])).u;
    for (const name of ['controller', 'analyst', operator, siteA.username]) users[name] = await userByName(st, name);
    users.operator = users[operator];
    users.conA = users[siteA.username];
    ctlWs = await st.connectAs('controller');
    analystWs = await st.connectAs('analyst');
    opWs = await st.connectAs(operator);
    conA = await st.connectAs(siteA.username);
  });
  after(async () => { await st?.cleanup(); });

  it('causes disclosures: a publish with an image to two sites, its deliveries, a relay', async () => {
    const up = await upload(st.broker, await st.token('controller'), png, 'image/png');
    assert.equal(up.status, 201, up.text);
    imageId = up.json.image_id;
    const pub = await ctlWs.request({ type: 'publish', headline, body: 'Tall man, grey coat, camera on a pole.',
      severity: 'moderate', category: 'offender', images: [imageId],
      targets: { sites: [siteA.site_id, siteB.site_id] } }, 15_000);
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    assert.equal(pub.recipients, 2);
    alertId = pub.alert_id;
    await conA.next((m) => m.type === 'alert' && m.alert.id === alertId, 10_000, 'the alert at site A');
    const rel = await opWs.request({ type: 'relay', alert_id: alertId, sites: [siteA.site_id],
      note: 'Front desk: check the side door, "now", please' }, 15_000);
    assert.equal(rel.type, 'relayed', JSON.stringify(rel));
    relayId = rel.alert_id;
    // deliveries are written in batches: wait for site A's
    // (one deliver row per batch of recipients, listing their sites:
    // tocsin_record_deliveries, sql/functions/delivery.sql)
    await waitFor(async () => (await st.query(`SELECT 1 FROM audit WHERE action = 'deliver' AND alert_id = $1
                                                  AND detail->'sites' @> to_jsonb($2::int)`, [alertId, siteA.site_id])).length > 0,
    { timeoutMs: 20_000, what: 'the deliver audit row of site A' });
  });

  it('causes consultations: the status board, an image fetch, the inbox, the receipts', async () => {
    assert.ok(alertId);
    const board = await ctlWs.request({ type: 'board' }, 15_000);
    assert.equal(board.type, 'board', JSON.stringify(board));
    const img = await fetchImage(st.broker, await st.token(siteA.username), imageId);
    assert.equal(img.status, 200, img.text);
    const inbox = await analystWs.request({ type: 'inbox', limit: 10 }, 15_000);
    assert.equal(inbox.type, 'inbox', JSON.stringify(inbox));
    const rc = await ctlWs.request({ type: 'receipts', alert_id: alertId }, 15_000);
    assert.equal(rc.type, 'receipts', JSON.stringify(rc));
    // reading the receipts is audited (tocsin_receipts, sql/functions/receipts.sql)
    const v = await st.query(`SELECT * FROM audit WHERE action = 'view_receipts' AND alert_id = $1`, [alertId]);
    assert.equal(v.length, 1);
    assert.equal(v[0].actor_user_id, users.controller.id);
    assert.equal(v[0].remote_addr, '127.0.0.1');
    assert.deepEqual(v[0].detail, { sites: 2, relays: 1 });
  });

  it('causes an erasure: the image past its expiry is erased by the fetch that finds it so', async () => {
    assert.ok(imageId);
    await st.query(`UPDATE images SET expires_at = now() - interval '1 minute' WHERE id = $1`, [imageId]);
    const r = await fetchImage(st.broker, await st.token(siteA.username), imageId);
    assert.equal(r.status, 410, r.text);
    to = new Date(Date.now() + 600_000).toISOString(); // later exports fall inside too
  });

  it('exports the window as RFC 4180 CSV with every record the test caused', async () => {
    const r = await ctl(exportArgs());
    assert.equal(r.code, 0, r.stderr);
    csvRows = csvObjects(r.stdout);
    const header = parseCsv(r.stdout)[0];
    assert.deepEqual(header, ['id', 'date', 'time', 'at', 'category', 'action', 'user_id', 'username', 'role',
      'org_id', 'org_name', 'remote_addr', 'alert_id', 'site_id', 'site_name', 'object', 'detail']);
    const find = (pred, what) => {
      const got = csvRows.filter(pred);
      assert.ok(got.length >= 1, `${what}: not in the export; actions: ${csvRows.map((x) => x.action).join(' ')}`);
      return got;
    };
    const ident = (row, u) => {
      assert.equal(row.user_id, String(u.id), `user id of ${row.action}`);
      assert.equal(row.username, u.username);
      assert.equal(row.role, u.role);
      assert.equal(row.org_id, String(u.org_id));
      assert.equal(row.org_name, u.org_name);
    };
    for (const row of csvRows) {
      assert.match(row.date, /^\d{4}-\d{2}-\d{2}$/);
      assert.match(row.time, /^\d{2}:\d{2}:\d{2}\.\d{3}$/);
      assert.equal(row.at, `${row.date}T${row.time}Z`);
      assert.ok(row.at >= from.slice(0, 23) && row.at < to, `${row.at} within the window`);
      assert.doesNotThrow(() => JSON.parse(row.detail), `detail of ${row.id} is JSON`);
    }
    for (let i = 1; i < csvRows.length; i++) {
      assert.ok(csvRows[i - 1].at <= csvRows[i].at, `oldest first: ${csvRows[i - 1].at} then ${csvRows[i].at}`);
    }

    // consultations
    const board = find((x) => x.action === 'view_board', 'the board view')[0];
    assert.equal(board.category, 'consultation');
    ident(board, users.controller);
    assert.equal(board.remote_addr, '127.0.0.1');
    assert.equal(board.object, 'status_board');
    const view = find((x) => x.action === 'image_view', 'the image fetch')[0];
    assert.equal(view.category, 'consultation');
    ident(view, users.conA);
    assert.equal(view.object, `image:${imageId}`);
    assert.equal(view.site_id, String(siteA.site_id));
    const inbox = find((x) => x.action === 'view_inbox', 'the inbox read')[0];
    assert.equal(inbox.category, 'consultation');
    ident(inbox, users.analyst);
    const receipts = find((x) => x.action === 'view_receipts', 'the receipts read')[0];
    assert.equal(receipts.category, 'consultation');
    ident(receipts, users.controller);
    assert.equal(receipts.alert_id, String(alertId));

    // disclosures: one row per alert naming its recipient sites (tocsin_publish
    // and tocsin_relay, sql/functions/alerts.sql),
    // for the alert and for the relay
    const disclosed = find((x) => x.action === 'disclose' && x.alert_id === String(alertId), 'the disclosures');
    assert.equal(disclosed.length, 1, 'one disclosure row for the alert');
    assert.deepEqual(JSON.parse(disclosed[0].detail).sites,
      [siteA.site_id, siteB.site_id].sort((a, b) => a - b), 'it names every recipient site');
    for (const d of disclosed) {
      assert.equal(d.category, 'disclosure');
      ident(d, users.controller);
      assert.equal(d.object, `alert:${alertId}`);
      assert.equal(d.site_id, '');
    }
    const relay = find((x) => x.action === 'relay' && x.alert_id === String(relayId), 'the relay')[0];
    assert.equal(relay.category, 'disclosure');
    ident(relay, users.operator);
    const rd = JSON.parse(relay.detail);
    assert.equal(rd.of, alertId);
    assert.equal(rd.note, 'Front desk: check the side door, "now", please', 'a quoted, comma-holding field survives');
    const relayed = find((x) => x.action === 'disclose' && x.alert_id === String(relayId), 'the relay disclosure');
    assert.equal(relayed.length, 1);
    assert.deepEqual(JSON.parse(relayed[0].detail).sites, [siteA.site_id]);
    assert.equal(JSON.parse(relayed[0].detail).relay_of, alertId);
    // a delivery is disclosed by the broker itself, and its record names
    // the sites and users of the batch (sql/functions/delivery.sql)
    const deliver = find((x) => x.action === 'deliver' && x.alert_id === String(alertId)
      && JSON.parse(x.detail).sites.includes(siteA.site_id), 'the delivery to site A')[0];
    assert.equal(deliver.category, 'disclosure');
    assert.equal(deliver.role, 'system');
    assert.equal(deliver.username, 'tocsind');
    assert.equal(deliver.object, `alert:${alertId}`);
    const dd = JSON.parse(deliver.detail);
    assert.ok(dd.users.includes(users.conA.id), `the console's user is listed: ${deliver.detail}`);
    assert.ok(Number.isSafeInteger(dd.batch) && dd.count >= 1, deliver.detail);
    assert.equal(find((x) => x.action === 'publish' && x.alert_id === String(alertId), 'the publish')[0].category,
      'collection');
    assert.equal(find((x) => x.action === 'image_attach', 'the attachment')[0].category, 'combination');

    // the erasure: metadata only
    const erased = find((x) => x.action === 'image_erased', 'the erasure')[0];
    assert.equal(erased.category, 'erasure');
    assert.equal(erased.role, 'system');
    assert.equal(erased.object, `image:${imageId}`);
    const meta = JSON.parse(erased.detail);
    assert.equal(meta.image_id, imageId);
    assert.equal(meta.sha256, sha256hex(png));
    assert.equal(meta.size, png.length);
    assert.equal(meta.mime, 'image/png');
    assert.deepEqual(meta.alerts, [alertId]);
    for (const bytes of [png.toString('hex'), png.toString('base64'), png.toString('base64url')]) {
      assert.ok(!erased.detail.includes(bytes), 'no image bytes in the erasure record');
    }
    assert.ok(!erased.detail.includes('photographing') && !erased.detail.includes('grey coat'),
      'no alert content in the erasure record');
  });

  it('exports the same records as a JSON array, ids as numbers and details as objects', async () => {
    const r = await ctl(exportArgs('--format', 'json'));
    assert.equal(r.code, 0, r.stderr);
    jsonRows = JSON.parse(r.stdout);
    assert.ok(Array.isArray(jsonRows));
    // the CSV export was audited in between (audit_export): compare the rest
    const csvIds = csvRows.map((x) => Number(x.id));
    assert.deepEqual(jsonRows.filter((x) => x.action !== 'audit_export').map((x) => x.id),
      csvIds.filter((id) => csvRows.find((x) => Number(x.id) === id).action !== 'audit_export'));
    const erased = jsonRows.find((x) => x.action === 'image_erased');
    assert.equal(typeof erased.id, 'number');
    assert.equal(erased.user_id, null);
    assert.equal(erased.detail.sha256, sha256hex(png));
    const view = jsonRows.find((x) => x.action === 'image_view');
    assert.equal(view.user_id, users.conA.id);
    assert.equal(view.org_name, users.conA.org_name);
    assert.equal(view.category, 'consultation');
    // --json is the same as --format json
    const j = await ctl(exportArgs('--json', '--kind', 'erasure'));
    assert.equal(j.code, 0, j.stderr);
    assert.deepEqual(JSON.parse(j.stdout).map((x) => x.action), ['image_erased']);
  });

  it('--subject narrows the export to one alert, image, user or site', async () => {
    const of = async (subject, ...extra) => {
      const r = await ctl(exportArgs('--format', 'json', '--subject', subject, ...extra));
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout);
    };
    const alert = await of(`alert:${alertId}`);
    const actions = new Set(alert.map((x) => x.action));
    for (const a of ['publish', 'disclose', 'deliver', 'relay', 'view_receipts', 'image_attach', 'image_view', 'image_erased']) {
      assert.ok(actions.has(a), `alert:${alertId} includes ${a}: ${[...actions]}`);
    }
    assert.ok(!actions.has('view_board') && !actions.has('view_inbox'), 'nothing unrelated');
    assert.ok(alert.length < jsonRows.length);

    const image = await of(`image:${imageId}`);
    assert.deepEqual([...new Set(image.map((x) => x.action))].sort(),
      ['image_attach', 'image_erased', 'image_upload', 'image_view', 'image_view_refused']);

    const analyst = await of('user:analyst');
    assert.ok(analyst.length >= 1);
    for (const x of analyst) assert.equal(x.username, 'analyst');
    assert.ok(analyst.some((x) => x.action === 'view_inbox'));

    const site = await of(`site:${siteB.site_id}`, '--kind', 'disclosure');
    assert.ok(site.length >= 1);
    for (const x of site) assert.equal(x.category, 'disclosure');
    assert.ok(site.some((x) => x.action === 'disclose' && x.alert_id === alertId && x.detail.sites.includes(siteB.site_id)));
    assert.ok(!site.some((x) => x.site_id === siteA.site_id), 'not site A\'s disclosures');
    assert.ok(!site.some((x) => x.action === 'disclose' && x.alert_id === relayId), 'not the relay to site A alone');

    // by slug (console.<slug>): the board view showed every site, site A's console viewed the image
    const slug = siteA.username.replace(/^console\./, '');
    const bySlug = await of(`site:${slug}`);
    const slugActions = new Set(bySlug.map((x) => x.action));
    for (const a of ['disclose', 'deliver', 'view_board', 'image_view']) assert.ok(slugActions.has(a), `site:${slug} includes ${a}`);
    assert.ok(!slugActions.has('view_inbox'));
    assert.ok(bySlug.every((x) => x.action === 'view_board' || x.site_id === siteA.site_id
      || (x.detail.recipients || []).includes(siteA.site_id)
      || (['deliver', 'disclose'].includes(x.action) && x.detail.sites.includes(siteA.site_id))), 'only records about site A');

    // the deliveries to a user's sessions: the deliver rows listing the user
    const toConA = await of(`user:${siteA.username}`, '--kind', 'disclosure');
    assert.ok(toConA.some((x) => x.action === 'deliver' && x.alert_id === alertId && x.detail.users.includes(users.conA.id)),
      `user:${siteA.username} includes the delivery of alert ${alertId}`);

    const none = await of('alert:999999999');
    assert.deepEqual(none, []);
    const empty = await ctl(exportArgs('--subject', 'alert:999999999'));
    assert.equal(empty.code, 0, empty.stderr);
    assert.equal(parseCsv(empty.stdout).length, 1, 'the header alone');
  });

  it('each export is itself audited (audit_export, a disclosure) with who asked and what', async () => {
    const rows = await st.query(`SELECT * FROM audit WHERE action = 'audit_export' ORDER BY id`);
    assert.ok(rows.length >= 8, `${rows.length} exports recorded`);
    assert.equal(rows[0].actor_username, 'inspector.e2e');
    assert.equal(rows[0].actor_role, 'tocsinctl');
    assert.deepEqual(rows[0].detail, { from, to, kind: 'all', format: 'csv', rows: csvRows.length });
    assert.ok(rows.some((x) => x.detail.subject === `image:${imageId}`));
    const r = await ctl(exportArgs('--format', 'json', '--kind', 'disclosure', '--subject', 'user:inspector.e2e'));
    assert.equal(r.code, 0, r.stderr);
    assert.ok(JSON.parse(r.stdout).every((x) => x.action === 'audit_export'));
  });

  it('bad arguments exit 2 with a message naming the flag; an unreachable database exits 3', async () => {
    const base = ['audit', 'export', '--database', st.db.brokerUrl];
    const cases = [
      [['--to', to], /--from is required/],
      [['--from', from], /--to is required/],
      [['--from', 'yesterday', '--to', to], /--from must be an RFC 3339 time/],
      [['--from', from, '--to', '2026-02-30'], /--to must be an RFC 3339 time/],
      [['--from', '2026-11-22T25:00:00Z', '--to', to], /--from must be/],
      [['--from', to, '--to', from], /--to must be after --from/],
      [['--from', from, '--to', to, '--subject', 'alert'], /--subject must be TYPE:VALUE/],
      [['--from', from, '--to', to, '--subject', 'alert:x1'], /--subject must be TYPE:VALUE/],
      [['--from', from, '--to', to, '--subject', 'person:bob'], /--subject must be TYPE:VALUE/],
      [['--from', from, '--to', to, '--kind', 'everything'], /--kind must be/],
      [['--from', from, '--to', to, '--format', 'xml'], /--format must be csv or json/],
      [['--from', from, '--to', to, '--format', 'csv', '--json'], /--format csv contradicts --json/],
      [['--from', from, '--to', to, '--from', from], /--from given twice/],
      [['--from', from, '--to', to, '--verbose'], /unknown option --verbose/],
      [['--from', from, '--to'], /--to needs a value/],
    ];
    for (const [args, message] of cases) {
      const r = await ctl([...base, ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code} ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.equal(r.stdout, '', 'nothing exported');
    }
    const noDb = await ctl(['audit', 'export', '--from', from, '--to', to]);
    assert.equal(noDb.code, 2, noDb.stderr);
    assert.match(noDb.stderr, /--database/);
    const down = await ctl(['audit', 'export', '--database', 'postgresql:///tocsin?host=/nonexistent-dir',
      '--from', from, '--to', to]);
    assert.equal(down.code, 3, down.stderr);
    const help = await ctl(['audit', 'export', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--subject/);
  });

  it('the broker stopped cleanly (no sanitizer report)', async () => {
    await st.stop();
  });
});
