// CAP 1.2 in and out (issue #8; adapters/cap/README.md, docs/protocol.md
// "CAP export"). The four example messages of the CAP 1.2 specification
// (tests/cap/examples) are mapped by build/tocsin-cap, published, exported
// again as CAP over GET /api/alerts/<id>/cap and tocsinctl cap export,
// checked against the OASIS schema, and mapped once more: every field the
// model holds must come back unchanged. Update and cancel chains name
// their references; only the sender's force and the recipients may export;
// invalid CAP is refused with its element and reason. The second part
// imports over the ZeroMQ bus (tests/e2e/lib/bus.mjs) and runs the watched
// folder; without bus.mjs it is skipped and says why.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Stack, ROOT, waitFor, sleep } from './lib/harness.mjs';

let bus = null;
try {
  bus = await import('./lib/bus.mjs');
} catch {
  bus = null;
}
const NO_BUS = bus ? false : 'tests/e2e/lib/bus.mjs is not there yet';

const CAP = path.join(ROOT, 'build/tocsin-cap');
const TOCSINCTL = path.join(ROOT, 'build/tocsinctl');
const EXAMPLES = path.join(ROOT, 'tests/cap/examples');
const INVALID = path.join(ROOT, 'tests/cap/invalid');
const PNG_1X1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

// Runs a program; resolves { code, out, err }.
function run(file, args, { env = {}, input, timeoutMs = 90_000 } = {}) {
  return new Promise((resolve) => {
    const fullEnv = { ...process.env, ...env };
    const child = execFile(file, args, { timeout: timeoutMs, env: fullEnv, cwd: ROOT },
      (err, stdout, stderr) => resolve({
        code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, out: stdout, err: stderr }));
    child.stdin.on('error', () => {}); // a program that exits first: EPIPE is fine
    child.stdin.end(input ?? '');
  });
}
const show = (r) => `exit ${r.code}\nstdout: ${r.out}\nstderr: ${r.err}`;

// A CAP time (whole seconds, offset -00:00) minutes from now.
const capTime = (minutes) => new Date(Date.now() + minutes * 60_000).toISOString().slice(0, 19) + '-00:00';

// The examples, made publishable today: the thunderstorm's 2003 expiry
// moved ahead; the earthquake update's original (TRI13970876.1, not in the
// specification) made from it as an Alert.
function examples(dir) {
  const read = (f) => fs.readFileSync(path.join(EXAMPLES, f), 'utf8');
  const quake = read('a3-earthquake-report-update.xml');
  const files = {
    a1: read('a1-homeland-security-advisory.xml'),
    a2: read('a2-severe-thunderstorm-warning.xml').replace('2003-06-17T16:00:00-07:00', capTime(120)),
    a3orig: quake.replace('TRI13970876.2', 'TRI13970876.1').replace('<msgType>Update</msgType>', '<msgType>Alert</msgType>')
      .replace(/ *<references>.*<\/references>\n/, '').replace('2003-06-11T20:56:00-07:00', '2003-06-11T20:30:00-07:00'),
    a3: quake,
    a4: read('a4-amber-alert-multilingual.xml'),
  };
  const paths = {};
  for (const [k, v] of Object.entries(files)) {
    paths[k] = path.join(dir, `${k}.xml`);
    fs.writeFileSync(paths[k], v);
  }
  return paths;
}

// tocsin-cap to-json FILE: the publish request, parsed.
async function toJson(file, extra = []) {
  const r = await run(CAP, ['to-json', ...extra, file]);
  assert.equal(r.code, 0, show(r));
  return { json: JSON.parse(r.out), notes: r.err };
}

// The fields of the model a publish request carries, normalised (times as
// instants, coordinates as numbers) for comparison.
function modelFields(req) {
  const out = {};
  for (const k of ['status', 'msg_type', 'category', 'urgency', 'severity', 'certainty', 'headline', 'body',
    'instruction', 'classification', 'handling']) {
    if (req[k] !== undefined) out[k] = req[k];
  }
  if (req.request) out.request = req.request;
  if (req.expires) out.expires = Date.parse(req.expires.replace(/-00:00$/, 'Z'));
  if (req.area) out.area = JSON.parse(JSON.stringify(req.area));
  if (req.images) out.images = req.images.length;
  return out;
}

// What the alert row holds, in the same shape.
async function storedFields(st, id) {
  const { a } = await st.one('SELECT tocsin_alert_json($1::bigint) AS a', [id]);
  return {
    status: a.status, msg_type: a.msg_type, category: a.category, urgency: a.urgency, severity: a.severity,
    certainty: a.certainty, headline: a.headline, body: a.body, instruction: a.instruction,
    classification: a.classification, handling: a.handling,
    ...(a.request ? { request: a.request } : {}),
    ...(a.expires ? { expires: Date.parse(a.expires) } : {}),
    ...(a.area ? { area: a.area } : {}),
    ...(a.images.length ? { images: a.images.length } : {}),
    references: a.references,
  };
}

// Compares the fields the import gave with those stored: every one the
// request carried is stored as it was (body/instruction default to '').
function assertHeld(req, stored, what) {
  const f = modelFields(req);
  for (const [k, v] of Object.entries(f)) assert.deepEqual(stored[k], v, `${what}: ${k} held as imported`);
}

async function exportCap(st, id, username, file) {
  const token = await st.token(username);
  const r = await st.http('GET', `/api/alerts/${id}/cap`, { headers: { authorization: `Bearer ${token}` } });
  if (file && r.status === 200) fs.writeFileSync(file, r.text);
  // pretty-printed (one element per line): the checks below read it flat
  if (r.status === 200) {
    assert.match(r.text, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<alert xmlns="urn:oasis:names:tc:emergency:cap:1\.2">\n  <identifier>/);
    r.pretty = r.text;
    r.text = r.text.replace(/>\n\s*</g, '><');
  }
  return r;
}

// Export, schema check, and the round trip: the export mapped again gives
// the fields the alert holds.
async function roundTrip(st, tmp, id, name) {
  const file = path.join(tmp, `${name}.export.xml`);
  const r = await exportCap(st, id, 'controller', file);
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers['content-type'], /^application\/cap\+xml/);
  assert.equal(r.headers['cache-control'], 'no-store');
  const v = await run(CAP, ['validate', '--schema-only', file]);
  assert.equal(v.code, 0, `the export of ${name} is valid CAP 1.2: ${show(v)}\n${r.text}`);
  // an imported alert keeps its original identifier (tests/e2e/110-*)
  const { origin } = await st.one('SELECT origin FROM alerts WHERE id = $1', [id]);
  assert.ok(r.text.includes(`<identifier>${origin ? origin.identifier : `urn:tocsin:alert:${id}`}</identifier>`), r.text);
  const stored = await storedFields(st, id);
  // an update or cancel maps back through the identifiers it references
  const state = path.join(tmp, `state-export-${name}`);
  const refs = r.text.match(/<references>(.*)<\/references>/);
  for (const t of refs ? refs[1].split(' ') : []) {
    const [sender, identifier] = t.split(',');
    const ref = identifier.startsWith('urn:tocsin:alert:') ? { id: Number(identifier.split(':').pop()) }
      : await st.one("SELECT id FROM alerts WHERE origin->>'sender' = $1 AND origin->>'identifier' = $2 ORDER BY id LIMIT 1",
        [sender, identifier]);
    recordState(state, sender, identifier, Number(ref.id));
  }
  const back = await toJson(file, ['--state', state]);
  const again = modelFields(back.json);
  for (const k of Object.keys(again)) assert.deepEqual(again[k], stored[k], `${name}: ${k} survives the export`);
  if (back.json.references !== undefined) assert.equal(back.json.references, stored.references, `${name}: references`);
  return { xml: r.text, stored, file };
}

// Writes the state map the way an import would (tested over the bus below).
function recordState(dir, sender, identifier, id) {
  fs.mkdirSync(dir, { recursive: true });
  fs.appendFileSync(path.join(dir, 'ids'), `${sender}\t${identifier}\t${id}\n`);
}

function adminUrl(st) {
  return execFileSync(path.join(ROOT, 'deploy/pg-local.sh'),
    ['url', process.env.TOCSIN_TEST_VAR, 'tocsin_admin', st.db.name], { encoding: 'utf8' }).trim();
}

describe('CAP 1.2: mapping, export over HTTP and tocsinctl, refusals', { timeout: 600_000 }, () => {
  let st;
  let tmp;
  let files;
  let site;
  let ctl;
  const ids = {};
  const reqs = {};

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tocsin-63-'));
    files = examples(tmp);
    site = (await st.one("SELECT id FROM sites WHERE name = 'Threadneedle Exchange House'")).id;
    ctl = await st.connectAs('controller');
  });
  after(async () => {
    await st?.cleanup();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('tocsin-cap has a man-page --help and validates the specification examples', async () => {
    const h = await run(CAP, ['--help']);
    assert.equal(h.code, 0, show(h));
    for (const s of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'OPTIONS', 'EXIT STATUS', 'SIGNALS']) assert.match(h.out, new RegExp(`^${s}`, 'm'));
    const u = await run(CAP, []);
    assert.equal(u.code, 2, show(u));
    const bad = await run(CAP, ['frobnicate']);
    assert.equal(bad.code, 2, show(bad));
    assert.match(bad.err, /unknown command frobnicate/);
    const v = await run(CAP, ['validate', ...fs.readdirSync(EXAMPLES).map((f) => path.join(EXAMPLES, f))]);
    assert.equal(v.code, 0, show(v));
    assert.equal(v.out.trim().split('\n').filter((l) => l.endsWith(': valid')).length, 4);
  });

  it('refuses malformed and schema-invalid CAP with the element, line and reason', async () => {
    const cases = [
      ['not-well-formed.xml', /document \(line 16\): not well-formed XML: Opening and ending tag mismatch/],
      ['schema-invalid.xml', /severity \(line 13\): .*'Catastrophic' is not an element of the set/],
      ['missing-sender.xml', /sent \(line 4\): .*Expected is \( sender \)/],
      ['bad-polygon.xml', /polygon \(line 18\): the polygon is not closed/],
    ];
    for (const [f, re] of cases) {
      const v = await run(CAP, ['validate', path.join(INVALID, f)]);
      assert.equal(v.code, 1, show(v));
      assert.match(v.out, re, f);
      const j = await run(CAP, ['to-json', path.join(INVALID, f)]);
      assert.equal(j.code, 1, show(j));
      assert.match(j.err, re, f);
      assert.equal(j.out, '', 'nothing on stdout for a refused document');
    }
    // schema-only passes a valid document the model cannot hold (System)
    const sys = path.join(tmp, 'system.xml');
    fs.writeFileSync(sys, fs.readFileSync(files.a1, 'utf8').replace('<status>Actual</status>', '<status>System</status>'));
    assert.equal((await run(CAP, ['validate', '--schema-only', sys])).code, 0);
    const s2 = await run(CAP, ['validate', sys]);
    assert.equal(s2.code, 1);
    assert.match(s2.out, /status \(line 6\): status System cannot be published/);
  });

  it('publishes each specification example as mapped, holding every field the model can', async () => {
    const targets = JSON.stringify({ sites: [site] });
    for (const k of ['a1', 'a2', 'a3orig', 'a4']) {
      const { json, notes } = await toJson(files[k], ['--targets', targets]);
      assert.match(notes, /not held/, `${k}: what the model cannot hold is listed on stderr`);
      reqs[k] = json;
      const rep = await ctl.request(json, 15_000);
      assert.equal(rep.type, 'published', `${k}: ${JSON.stringify(rep)}`);
      ids[k] = rep.alert_id;
      assertHeld(json, await storedFields(st, ids[k]), k);
    }
    // the update resolves its reference through the adapter's state map
    const state = path.join(tmp, 'state');
    recordState(state, 'trinet@caltech.edu', 'TRI13970876.1', ids.a3orig);
    const { json } = await toJson(files.a3, ['--state', state]);
    assert.equal(json.msg_type, 'update');
    assert.equal(json.references, ids.a3orig);
    assert.equal(json.targets, undefined, 'an update goes to the recipients of the alert it updates');
    const rep = await ctl.request(json, 15_000);
    assert.equal(rep.type, 'published', JSON.stringify(rep));
    ids.a3 = rep.alert_id;
    reqs.a3 = json;
    const stored = await storedFields(st, ids.a3);
    assertHeld(json, stored, 'a3');
    assert.equal(stored.references, ids.a3orig);
    // spot checks against the examples themselves
    assert.deepEqual((await storedFields(st, ids.a2)).area.polygon[0], [38.47, -120.14]);
    assert.equal((await storedFields(st, ids.a3)).area.circle.radius_m, 1);
    assert.equal((await storedFields(st, ids.a1)).instruction.slice(0, 17), ' A High Condition');
    // without the state the update cannot be resolved: refused with why
    const miss = await run(CAP, ['to-json', '--state', path.join(tmp, 'empty-state'), files.a3]);
    assert.equal(miss.code, 1);
    assert.match(miss.err, /references: no referenced message was imported/);
  });

  it('exports each one as valid CAP 1.2 that maps back to the same fields', async () => {
    for (const k of ['a1', 'a2', 'a3orig', 'a3', 'a4']) {
      const { xml } = await roundTrip(st, tmp, ids[k], k);
      const r = reqs[k];
      assert.match(xml, new RegExp(`<headline>${r.headline}</headline>`));
      assert.match(xml, new RegExp(`<severity>${r.severity[0].toUpperCase()}${r.severity.slice(1)}</severity>`));
      assert.match(xml, new RegExp(`<status>Actual</status>`));
    }
    const a2 = (await exportCap(st, ids.a2, 'controller')).text;
    assert.match(a2, /<polygon>38\.47,-120\.14 38\.34,-119\.95 38\.52,-119\.74 38\.62,-119\.89 38\.47,-120\.14<\/polygon>/);
    assert.match(a2, /<category>Safety<\/category>/);
    assert.match(a2, /<parameter><valueName>tocsin-category<\/valueName><value>advice<\/value><\/parameter>/);
    const a3 = (await exportCap(st, ids.a3, 'controller')).text;
    assert.match(a3, /<msgType>Update<\/msgType>/);
    assert.match(a3, /<circle>32\.9525,-115\.5527 0\.001<\/circle>/);
    const orig = await st.one('SELECT sender_org_id, tocsin_cap_time(sent_at) AS sent FROM alerts WHERE id = $1', [ids.a3orig]);
    assert.ok(a3.includes(`<references>urn:tocsin:org:${orig.sender_org_id},urn:tocsin:alert:${ids.a3orig},${orig.sent}</references>`), a3);
  });

  it('a cancel names the whole chain, oldest first', async () => {
    const rep = await ctl.request({ type: 'publish', msg_type: 'cancel', references: ids.a3, headline: 'Quake report withdrawn' }, 15_000);
    assert.equal(rep.type, 'published', JSON.stringify(rep));
    const { xml } = await roundTrip(st, tmp, rep.alert_id, 'cancel');
    assert.match(xml, /<msgType>Cancel<\/msgType>/);
    const refs = xml.match(/<references>(.*)<\/references>/)[1].split(' ');
    assert.deepEqual(refs.map((t) => t.split(',')[1]), [`urn:tocsin:alert:${ids.a3orig}`, `urn:tocsin:alert:${ids.a3}`]);
  });

  it('an alert with every field, an image and OFFICIAL-SENSITIVE round-trips', async () => {
    const token = await st.token('controller');
    const up = await st.http('POST', '/api/images', { body: Buffer.from(PNG_1X1, 'base64'),
      headers: { authorization: `Bearer ${token}`, 'content-type': 'image/png' } });
    assert.equal(up.status, 201, up.text);
    const rep = await ctl.request({ type: 'publish', headline: 'Armed robbery <Cheapside> & Bank', body: 'Two men, one "tall"',
      instruction: 'Lock the doors', severity: 'extreme', urgency: 'expected', certainty: 'possible', category: 'offender',
      status: 'exercise', expires: new Date(Math.floor(Date.now() / 1000) * 1000 + 3_600_000).toISOString(),
      area: { polygon: [[51.5135, -0.089], [51.514, -0.088], [51.513, -0.0875], [51.5135, -0.089]] },
      classification: 'OFFICIAL-SENSITIVE', handling: 'Do not share beyond the control room',
      images: [up.json.image_id], request: { kind: 'choice', options: ['Done', 'Unable'] },
      targets: { sites: [site] } }, 15_000);
    assert.equal(rep.type, 'published', JSON.stringify(rep));
    const { xml, stored } = await roundTrip(st, tmp, rep.alert_id, 'full');
    assert.match(xml, /<headline>Armed robbery &lt;Cheapside&gt; &amp; Bank<\/headline>/);
    assert.match(xml, /<status>Exercise<\/status>/);
    assert.match(xml, /<value>OFFICIAL-SENSITIVE<\/value>/);
    assert.match(xml, new RegExp(`<resource><resourceDesc>Image 1</resourceDesc><mimeType>image/png</mimeType><size>\\d+</size><uri>http://127\\.0\\.0\\.1:\\d+/api/images/${up.json.image_id}</uri></resource>`));
    assert.equal(stored.classification, 'OFFICIAL-SENSITIVE');
    assert.deepEqual(stored.request, { kind: 'choice', options: ['Done', 'Unable'] });
    assert.match(xml, /<valueName>tocsin-request<\/valueName>/);
    ids.full = rep.alert_id;
  });

  it('only the sender\'s force and the recipients may export; each export is audited', async () => {
    const since = Number((await st.one('SELECT COALESCE(max(id), 0) AS id FROM audit')).id);
    for (const u of ['controller', 'analyst', 'console.threadneedle', 'op.citadel']) {
      const r = await exportCap(st, ids.a1, u);
      assert.equal(r.status, 200, `${u}: ${r.text}`);
    }
    for (const u of ['op.bastion', 'op.sentinel']) {
      const r = await exportCap(st, ids.a1, u);
      assert.equal(r.status, 403, `${u} guards no recipient: ${r.text}`);
      assert.equal(r.json.error.code, 'forbidden');
    }
    // OFFICIAL-SENSITIVE: an uncleared console of a recipient site is refused
    const cleared = await st.one("SELECT cleared_sensitive FROM users WHERE username = 'console.threadneedle'");
    const r3 = await exportCap(st, ids.full, 'console.threadneedle');
    assert.equal(r3.status, cleared.cleared_sensitive ? 200 : 403, r3.text);
    const none = await exportCap(st, 999999999, 'controller');
    assert.equal(none.status, 404);
    assert.equal(none.json.error.code, 'not_found');
    const bad = await st.http('GET', '/api/alerts/abc/cap', { headers: { authorization: `Bearer ${await st.token('controller')}` } });
    assert.equal(bad.status, 404);
    const noauth = await st.http('GET', `/api/alerts/${ids.a1}/cap`);
    assert.equal(noauth.status, 401);
    assert.equal(noauth.json.error.code, 'auth_missing');
    assert.equal(noauth.headers['www-authenticate'], 'Bearer');
    const forged = await st.http('GET', `/api/alerts/${ids.a1}/cap`, { headers: { authorization: 'Bearer v1.AAAA.BBBB' } });
    assert.equal(forged.status, 401);
    assert.equal(forged.json.error.code, 'auth_invalid');
    const post = await st.http('POST', `/api/alerts/${ids.a1}/cap`, { body: {} });
    assert.equal(post.status, 405);
    const rows = await st.query("SELECT action, actor_username, alert_id, detail FROM audit WHERE id > $1 AND action LIKE 'cap_export%' ORDER BY id", [since]);
    const ok = rows.filter((r) => r.action === 'cap_export');
    const refused = rows.filter((r) => r.action === 'cap_export_refused');
    assert.ok(ok.length >= 4, JSON.stringify(rows));
    assert.deepEqual(ok.slice(0, 4).map((r) => r.actor_username), ['controller', 'analyst', 'console.threadneedle', 'op.citadel']);
    assert.ok(refused.some((r) => r.actor_username === 'op.bastion' && r.detail.status === 'forbidden' && Number(r.alert_id) === ids.a1));
    assert.ok(refused.some((r) => r.detail.status === 'not_found'));
  });

  it('tocsinctl cap export prints the same document and audits it', async () => {
    const db = adminUrl(st);
    const h = await run(TOCSINCTL, ['cap', 'export', '--help']);
    assert.equal(h.code, 0);
    assert.match(h.out, /usage: tocsinctl cap export ID/);
    const r = await run(TOCSINCTL, ['cap', 'export', String(ids.a2), '--actor', 'test:63-cap'], { env: { DATABASE_URL: db } });
    assert.equal(r.code, 0, show(r));
    const file = path.join(tmp, 'ctl.xml');
    fs.writeFileSync(file, r.out);
    const v = await run(CAP, ['validate', '--schema-only', file]);
    assert.equal(v.code, 0, show(v));
    const http = (await exportCap(st, ids.a2, 'controller')).pretty;
    // the same document but for image URIs (none here)
    assert.equal(r.out.trim(), http.trim());
    const row = await st.one("SELECT actor_username, actor_role FROM audit WHERE action = 'cap_export' AND actor_role = 'tocsinctl' ORDER BY id DESC LIMIT 1");
    assert.equal(row.actor_username, 'test:63-cap');
    const missing = await run(TOCSINCTL, ['cap', 'export', '999999999'], { env: { DATABASE_URL: db } });
    assert.equal(missing.code, 4, show(missing));
    const usage = await run(TOCSINCTL, ['cap', 'export', 'x'], { env: { DATABASE_URL: db } });
    assert.equal(usage.code, 2, show(usage));
  });

  it('import exits 3 when the broker does not answer, and 2 without its keys', async () => {
    const keys = path.join(tmp, 'keys-import');
    fs.mkdirSync(keys);
    for (const k of ['server', 'adapter']) {
      const g = await run(TOCSINCTL, ['bus', 'keygen', '--out', path.join(keys, `${k}.key`)]);
      assert.equal(g.code, 0, show(g));
    }
    const r = await run(CAP, ['import', '--bus', 'tcp://127.0.0.1:9', '--server-key', path.join(keys, 'server.key.pub'),
      '--key', path.join(keys, 'adapter.key'), '--state', path.join(tmp, 'state-unreachable'), '--timeout', '2',
      '--targets', JSON.stringify({ sites: [site] }), files.a1]);
    assert.equal(r.code, 3, show(r));
    assert.match(r.err, /not imported: the broker did not answer in time/);
    // the sender's registration is asked first (a registered sender's
    // signature is checked before anything is sent): no publish was sent,
    // so no publish sequence number was written down
    assert.ok(!fs.existsSync(path.join(tmp, 'state-unreachable', 'pending')), 'no publish sequence number');
    const nokey = await run(CAP, ['import', files.a1]);
    assert.equal(nokey.code, 2, show(nokey));
    assert.match(nokey.err, /--server-key and --key are required/);
  });

  it('watch moves invalid files to rejected with a reason, keeps what the broker did not take, and stops on SIGTERM', async () => {
    // no broker listens on this bus endpoint: valid files wait for it
    const dir = path.join(tmp, 'inbox-nobus');
    fs.mkdirSync(dir);
    const keys = path.join(tmp, 'keys');
    fs.mkdirSync(keys);
    for (const k of ['server', 'adapter']) {
      const g = await run(TOCSINCTL, ['bus', 'keygen', '--out', path.join(keys, `${k}.key`)]);
      assert.equal(g.code, 0, show(g));
    }
    fs.copyFileSync(path.join(INVALID, 'bad-polygon.xml'), path.join(dir, 'b-polygon.xml'));
    fs.copyFileSync(path.join(INVALID, 'not-well-formed.xml'), path.join(dir, 'a-broken.xml'));
    fs.writeFileSync(path.join(dir, '.hidden.xml'), 'not yet renamed');
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'not CAP');
    const child = spawn(CAP, ['watch', '--bus', 'tcp://127.0.0.1:9', '--server-key', path.join(keys, 'server.key.pub'),
      '--key', path.join(keys, 'adapter.key'), '--state', path.join(tmp, 'state-nobus'), '--timeout', '2',
      '--targets', JSON.stringify({ sites: [site] }),
      '--interval', '200', dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    try {
      await waitFor(() => fs.existsSync(path.join(dir, 'rejected', 'a-broken.xml.reason')) &&
        fs.existsSync(path.join(dir, 'rejected', 'b-polygon.xml.reason')),
      { timeoutMs: 30_000, intervalMs: 200, what: 'both invalid files rejected' }).catch((e) => {
        throw new Error(`${e.message}; stderr: ${err}`);
      });
      assert.match(fs.readFileSync(path.join(dir, 'rejected', 'a-broken.xml.reason'), 'utf8'),
        /^document \(line 16\): not well-formed XML/);
      assert.match(fs.readFileSync(path.join(dir, 'rejected', 'b-polygon.xml.reason'), 'utf8'),
        /^polygon \(line 18\): the polygon is not closed/);
      assert.ok(fs.existsSync(path.join(dir, 'rejected', 'a-broken.xml')));
      // a valid file: the broker never answers, so it stays to be retried
      fs.copyFileSync(files.a1, path.join(dir, 'c-good.xml'));
      await waitFor(() => /c-good\.xml: will retry: the broker did not answer/.test(err),
        { timeoutMs: 30_000, intervalMs: 200, what: 'a retry of c-good.xml' }).catch((e) => {
        throw new Error(`${e.message}; stderr: ${err}`);
      });
      assert.ok(fs.existsSync(path.join(dir, 'c-good.xml')));
      assert.ok(fs.existsSync(path.join(dir, '.hidden.xml')) && fs.existsSync(path.join(dir, 'notes.txt')));
    } finally {
      child.kill('SIGTERM');
    }
    const ex = await Promise.race([exited, sleep(20_000).then(() => null)]);
    assert.ok(ex, `tocsin-cap watch stops within 20 s of SIGTERM; stderr: ${err}`);
    assert.equal(ex.code, 0, err);
    assert.match(err, /stopped watching/);
  });

  it('stops cleanly', async () => {
    await st.stop();
  });
});

describe('CAP 1.2 over the bus: import, update and cancel by CAP reference, images, watched folder', { timeout: 600_000, skip: NO_BUS }, () => {
  let st;
  let tmp;
  let files;
  let site;
  let capArgs;
  const ids = {};

  const imp = (file, extra = []) => run(CAP, ['import', ...capArgs, ...extra, file]);

  before(async () => {
    st = await bus.startBusStack({ label: `${import.meta.url}-bus` });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tocsin-63-bus-'));
    files = examples(tmp);
    site = (await st.one("SELECT id FROM sites WHERE name = 'Threadneedle Exchange House'")).id;
    const { keyFile } = await bus.addAdapter(st, 'cap-63', 'controller');
    const ep = bus.busEndpoints(st);
    const serverKey = path.join(tmp, 'server.key.pub');
    fs.writeFileSync(serverKey, `public ${ep.serverPublicKey}\n`);
    capArgs = ['--bus', ep.ingest, '--server-key', serverKey, '--key', keyFile, '--state', path.join(tmp, 'state'),
      '--timeout', '60', '--targets', JSON.stringify({ sites: [site] })];
  });
  after(async () => {
    await st?.cleanup();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('imports each specification example and exports it back', async () => {
    const con = await st.connectAs('console.threadneedle');
    for (const k of ['a1', 'a2', 'a3orig', 'a3', 'a4']) {
      const r = await imp(files[k]);
      assert.equal(r.code, 0, `${k}: ${show(r)}`);
      ids[k] = Number(r.out.trim());
      assert.ok(ids[k] > 0, r.out);
      assert.match(r.err, /not held/);
      const { json } = await toJson(files[k], ['--state', path.join(tmp, 'state')].concat(k === 'a3' ? [] : ['--targets', '{"sites":[1]}']));
      assertHeld(json, await storedFields(st, ids[k]), k);
      await roundTrip(st, tmp, ids[k], `bus-${k}`);
      await con.next((m) => m.type === 'alert' && m.alert.id === ids[k], 15_000);
    }
    assert.equal((await storedFields(st, ids.a3)).references, ids.a3orig);
    // the audit names the adapter's user
    const row = await st.one('SELECT actor_username FROM audit WHERE action = $1 AND alert_id = $2', ['publish', ids.a1]);
    assert.equal(row.actor_username, 'controller');
    // importing the same CAP message again publishes nothing new
    const again = await imp(files.a1);
    assert.equal(again.code, 0, show(again));
    assert.equal(Number(again.out.trim()), ids.a1);
    assert.match(again.err, /imported before as alert/);
  });

  it('a retry after a lost answer resends the same sequence number: one alert, not two', async () => {
    const f = path.join(tmp, 'dup.xml');
    fs.writeFileSync(f, fs.readFileSync(files.a1, 'utf8').replace('43b080713727', 'DUP-1')
      .replace('Homeland Security Sets Code ORANGE', 'Exactly once over the bus'));
    // (the adapter's one state folder: its sequence numbers are the adapter's)
    const ids = path.join(tmp, 'state', 'ids');
    const first = await imp(f);
    assert.equal(first.code, 0, show(first));
    // as if the adapter crashed after the broker published but before it
    // recorded the alert: the map line is lost, the pending seq is not
    fs.writeFileSync(ids, fs.readFileSync(ids, 'utf8').split('\n').filter((l) => !l.includes('\tDUP-1\t')).join('\n'));
    const again = await imp(f);
    assert.equal(again.code, 0, show(again));
    assert.equal(Number(again.out.trim()), Number(first.out.trim()));
    const n = await st.one("SELECT count(*)::int AS n FROM alerts WHERE headline = 'Exactly once over the bus'");
    assert.equal(n.n, 1);
  });

  it('a CAP Cancel referencing the thunderstorm cancels that alert', async () => {
    const cancel = path.join(tmp, 'cancel.xml');
    fs.writeFileSync(cancel, `<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>KSTO1055887203-C</identifier>
  <sender>KSTO@NWS.NOAA.GOV</sender>
  <sent>2003-06-17T15:30:00-07:00</sent>
  <status>Actual</status>
  <msgType>Cancel</msgType>
  <scope>Public</scope>
  <references>KSTO@NWS.NOAA.GOV,KSTO1055887203,2003-06-17T14:57:00-07:00</references>
</alert>
`);
    const r = await imp(cancel);
    assert.equal(r.code, 0, show(r));
    const id = Number(r.out.trim());
    const s = await storedFields(st, id);
    assert.equal(s.msg_type, 'cancel');
    assert.equal(s.references, ids.a2);
    const c = await st.one('SELECT cancelled_at IS NOT NULL AS c FROM alerts WHERE id = $1', [ids.a2]);
    assert.equal(c.c, true);
    const { xml } = await roundTrip(st, tmp, id, 'bus-cancel');
    assert.match(xml, /<msgType>Cancel<\/msgType>/);
  });

  it('an inline image (derefUri) is uploaded over the bus and exported as a resource', async () => {
    const f = path.join(tmp, 'image.xml');
    fs.writeFileSync(f, fs.readFileSync(files.a1, 'utf8').replace('43b080713727', 'IMG-1')
      .replace('<area>', `<resource><resourceDesc>Suspect</resourceDesc><mimeType>image/png</mimeType><derefUri>${PNG_1X1}</derefUri></resource>\n    <area>`));
    const r = await imp(f);
    assert.equal(r.code, 0, show(r));
    const id = Number(r.out.trim());
    const { a } = await st.one('SELECT tocsin_alert_json($1::bigint) AS a', [id]);
    assert.equal(a.images.length, 1);
    const { xml } = await roundTrip(st, tmp, id, 'bus-image');
    assert.ok(xml.includes(`/api/images/${a.images[0].id}</uri>`), xml);
  });

  it('refuses invalid CAP with element and reason, and says what the broker refused', async () => {
    const bad = await imp(path.join(INVALID, 'schema-invalid.xml'));
    assert.equal(bad.code, 1, show(bad));
    assert.match(bad.err, /rejected: severity \(line 13\)/);
    const old = path.join(tmp, 'expired.xml');
    fs.writeFileSync(old, fs.readFileSync(path.join(EXAMPLES, 'a2-severe-thunderstorm-warning.xml'), 'utf8').replace('KSTO1055887203', 'OLD-1'));
    const r = await imp(old);
    assert.equal(r.code, 1, show(r));
    assert.match(r.err, /expires/);
    // an Update of a message never imported here is no longer refused: it
    // is held in the control room's inbox (114-cap-geocodes)
  });

  it('watches a folder: good files to done, bad ones to rejected with a reason; stops on SIGTERM', async () => {
    const dir = path.join(tmp, 'inbox');
    fs.mkdirSync(dir);
    const child = spawn(CAP, ['watch', ...capArgs, '--interval', '200', dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    try {
      const good = fs.readFileSync(files.a4, 'utf8').replace('KAR0-0306112239-SW', 'WATCH-GOOD');
      fs.writeFileSync(path.join(dir, '.good.xml'), good);
      fs.renameSync(path.join(dir, '.good.xml'), path.join(dir, 'good.xml'));
      fs.copyFileSync(path.join(INVALID, 'bad-polygon.xml'), path.join(dir, 'bad.xml'));
      await waitFor(() => fs.existsSync(path.join(dir, 'done', 'good.xml')) && fs.existsSync(path.join(dir, 'rejected', 'bad.xml')),
        { timeoutMs: 60_000, intervalMs: 200, what: 'the watched files moved' }).catch((e) => {
        throw new Error(`${e.message}; stderr: ${err}`);
      });
      assert.ok(!fs.existsSync(path.join(dir, 'good.xml')));
      const reason = fs.readFileSync(path.join(dir, 'rejected', 'bad.xml.reason'), 'utf8');
      assert.match(reason, /^polygon \(line 18\): the polygon is not closed/);
      const row = await st.query("SELECT id FROM alerts WHERE headline = 'Amber Alert in Los Angeles County' ORDER BY id");
      assert.ok(row.length >= 2, 'the watched file was published');
    } finally {
      child.kill('SIGTERM');
    }
    const ex = await Promise.race([exited, sleep(20_000).then(() => null)]);
    assert.ok(ex, `tocsin-cap watch stops within 20 s of SIGTERM; stderr: ${err}`);
    assert.equal(ex.code, 0, err);
    assert.match(err, /stopped watching/);
  });

  it('stops cleanly', async () => {
    await st.stop();
  });
});
