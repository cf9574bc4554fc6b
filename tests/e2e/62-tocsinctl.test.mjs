// tocsinctl: administration (organisations, sites, users, console devices),
// each change audited with its actor; revocation closing live connections
// within 5 s; alert list / show / board; publish over the ZeroMQ bus; --help
// on every command; JSON output; exit codes scripts can rely on.
//
// tocsinctl connects as the role tocsin_admin (sql/schema/01_roles.sql;
// its functions are in sql/functions/admin.sql).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Stack, ROOT, login, connect, waitFor, sleep, demoPassword, decodeToken, DELIVERIES } from './lib/harness.mjs';
import { statusMsg } from './lib/status-helpers.mjs';

const TOCSINCTL = path.join(ROOT, 'build/tocsinctl');
const ACTOR = 'test:62-tocsinctl';
const REVOKE_WITHIN_MS = 5000; // issue #5: "closes its live connections within 5 seconds"

// tests/e2e/lib/bus.mjs comes from the bus engineer; without it the bus
// tests are skipped and say why.
let bus = null;
try {
  bus = await import('./lib/bus.mjs');
} catch (err) {
  bus = null;
}
const NO_BUS = bus ? false : 'tests/e2e/lib/bus.mjs is not there yet';

function adminUrl(st) {
  return execFileSync(path.join(ROOT, 'deploy/pg-local.sh'),
    ['url', process.env.TOCSIN_TEST_VAR, 'tocsin_admin', st.db.name], { encoding: 'utf8' }).trim();
}

// Runs tocsinctl; resolves { code, out, err, json } (json: stdout parsed when it is JSON).
function ctl(args, { db, input, env = {}, timeoutMs = 60_000 } = {}) {
  return new Promise((resolve) => {
    const fullEnv = { ...process.env, ...env };
    delete fullEnv.DATABASE_URL;
    if (db) fullEnv.DATABASE_URL = db;
    const child = execFile(TOCSINCTL, args, { timeout: timeoutMs, env: fullEnv }, (err, stdout, stderr) => {
      let json;
      try { json = JSON.parse(stdout); } catch { json = undefined; }
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, out: stdout, err: stderr, json });
    });
    child.stdin.on('error', () => {}); // a command that does not read stdin may exit first
    child.stdin.end(input ?? '');
  });
}

const TOCSIN_CAP = path.join(ROOT, 'build/tocsin-cap');
const NO_CAP = fs.existsSync(TOCSIN_CAP) ? false : 'build/tocsin-cap is not built';

// A CAP 1.2 alert: a 50 m circle around Threadneedle Exchange House.
const CAP_XML = `<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>tocsin-62-test-1</identifier>
  <sender>test@tocsin.example</sender>
  <sent>2026-11-22T10:00:00+00:00</sent>
  <status>Exercise</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <category>Security</category>
    <event>Suspicious package</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Observed</certainty>
    <headline>CAP via tocsinctl</headline>
    <description>From a CAP file</description>
    <area>
      <areaDesc>Threadneedle</areaDesc>
      <circle>51.5140,-0.0858 0.05</circle>
    </area>
  </info>
</alert>
`;

const show = (r) => `exit ${r.code}\nstdout: ${r.out}\nstderr: ${r.err}`;

async function auditRows(st, action, since = 0) {
  return st.query('SELECT * FROM audit WHERE action = $1 AND id > $2 ORDER BY id', [action, since]);
}

async function lastAuditId(st) {
  return Number((await st.one('SELECT COALESCE(max(id), 0) AS id FROM audit')).id);
}

// Signs in and opens a WebSocket session; the password from the test.
async function connectWith(st, username, password) {
  const l = await login(st.broker, username, password);
  const s = await connect(st.broker, l.token, { label: username });
  st.sessions.push(s);
  return s;
}

// The session is closed with auth_revoked / 4401 within REVOKE_WITHIN_MS
// of the command's return.
async function expectRevoked(session) {
  const closed = await session.waitClosed(REVOKE_WITHIN_MS);
  assert.equal(closed.code, 4401, JSON.stringify(closed));
  assert.ok(session.seen.some((m) => m.type === 'error' && m.code === 'auth_revoked'),
    `an auth_revoked error before the close: ${session.describeSeen()}`);
}

describe('tocsinctl', { timeout: 600_000 }, () => {
  let st;
  let db;
  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    db = adminUrl(st);
  });
  after(async () => { await st?.cleanup(); });

  it('prints --help for every command, exit 0', async () => {
    const help = await ctl(['help']);
    assert.equal(help.code, 0, show(help));
    const commands = help.out.split('\n').map((l) => l.match(/^ {2}(\S+(?: [a-z][a-z-]*)?) {2,}/))
      .filter(Boolean).map((m) => m[1].split(' '));
    for (const want of [['org', 'add'], ['org', 'list'], ['org', 'disable'], ['site', 'add'],
      ['site', 'list'], ['site', 'update'], ['site', 'disable'], ['user', 'add'], ['user', 'list'],
      ['user', 'disable'], ['user', 'enable'], ['user', 'set-password'], ['user', 'update'], ['device', 'add'],
      ['device', 'list'], ['device', 'revoke'], ['publish'], ['alert', 'list'], ['alert', 'show'],
      ['board']]) {
      assert.ok(commands.some((c) => c.join(' ') === want.join(' ')), `help lists ${want.join(' ')}`);
    }
    for (const c of commands) {
      const r = await ctl([...c, '--help']);
      assert.equal(r.code, 0, `${c.join(' ')} --help: ${show(r)}`);
      assert.match(r.out, /usage: tocsinctl /, `${c.join(' ')} --help prints a usage line`);
    }
  });

  it('exit codes: 2 usage, 3 unreachable, 4 not found, 1 refused', async () => {
    assert.equal((await ctl([])).code, 2, 'no command');
    assert.equal((await ctl(['frobnicate'])).code, 2, 'unknown command');
    assert.equal((await ctl(['user', 'list', '--bogus'], { db })).code, 2, 'unknown option');
    assert.equal((await ctl(['device', 'add'], { db })).code, 2, 'missing required --site');
    assert.equal((await ctl(['alert', 'list', '--limit', 'lots'], { db })).code, 2, 'bad --limit');
    assert.equal((await ctl(['alert', 'show', 'x1'], { db })).code, 2, 'bad alert id');
    assert.equal((await ctl(['site', 'update', 'cornhill'], { db })).code, 2, 'nothing to change');
    assert.equal((await ctl(['org', 'list'])).code, 2, 'no database named');
    const nodb = await ctl(['org', 'list', '--database', 'postgresql:///tocsin?host=/nonexistent-dir']);
    assert.equal(nodb.code, 3, show(nodb));
    assert.match(nodb.err, /cannot connect/);
    for (const args of [['user', 'disable', 'nobody'], ['device', 'revoke', 'console.nowhere'],
      ['site', 'disable', 'nowhere'], ['org', 'disable', 'No Such Org'], ['alert', 'show', '999999'],
      ['device', 'add', '--site', 'nowhere'], ['board', '--org', 'No Such Org']]) {
      const r = await ctl([...args, '--actor', ACTOR], { db });
      assert.equal(r.code, 4, `${args.join(' ')}: ${show(r)}`);
      assert.match(r.err, /no (user|site|organisation|alert)/, `${args.join(' ')} says what is missing`);
    }
    const dup = await ctl(['org', 'add', 'Citadel Security', '--kind', 'security_company', '--actor', ACTOR], { db });
    assert.equal(dup.code, 1, show(dup));
    assert.match(dup.err, /exists already/);
    const bad = await ctl(['site', 'update', 'cornhill', '--lat', '123', '--actor', ACTOR], { db });
    assert.equal(bad.code, 1, show(bad));
    assert.match(bad.err, /lat must be/);
  });

  it('org add, list, disable: audited with the actor, and --json parses', async () => {
    const mark = await lastAuditId(st);
    const add = await ctl(['org', 'add', 'Warden Patrols', '--kind', 'security_company', '--actor', ACTOR, '--json'], { db });
    assert.equal(add.code, 0, show(add));
    assert.ok(Array.isArray(add.json) && add.json.length === 1, show(add));
    assert.equal(add.json[0].name, 'Warden Patrols');
    const orgId = Number(add.json[0].id);
    const list = await ctl(['org', 'list', '--json'], { db });
    assert.equal(list.code, 0, show(list));
    assert.ok(list.json.some((o) => o.name === 'Warden Patrols' && o.kind === 'security_company'));
    const table = await ctl(['org', 'list'], { db });
    assert.match(table.out, /^id +name +kind/m, 'a table with a header');
    assert.match(table.out, /Warden Patrols/);
    const [row] = await auditRows(st, 'org_added', mark);
    assert.equal(row.actor_username, ACTOR);
    assert.equal(row.actor_role, 'tocsinctl');
    assert.equal(row.detail.name, 'Warden Patrols');
    assert.equal(row.detail.org_id, orgId);
    const op = await ctl(['user', 'add', 'op.warden', '--role', 'company_operator', '--org', 'Warden Patrols',
      '--actor', ACTOR], { db, input: 'warden-pass\n' });
    assert.equal(op.code, 0, show(op));
    // default actor: tocsinctl:<login name>
    const user = os.userInfo().username;
    const dis = await ctl(['org', 'disable', String(orgId)], { db, env: { USER: user } });
    assert.equal(dis.code, 0, show(dis));
    const [d] = await auditRows(st, 'org_disabled', mark);
    assert.equal(d.actor_username, `tocsinctl:${user}`);
    assert.equal((await st.one('SELECT disabled FROM organisations WHERE id = $1', [orgId])).disabled, true);
    assert.equal(d.detail.users_disabled, 1);
    assert.equal((await st.one("SELECT disabled FROM users WHERE username = 'op.warden'")).disabled, true,
      'the organisation\'s users are disabled with it');
    const en = await ctl(['user', 'enable', 'op.warden', '--actor', ACTOR], { db });
    assert.equal(en.code, 1, `enabling a user of a disabled organisation is refused: ${show(en)}`);
    assert.match(en.err, /organisation of op.warden is disabled/);
    const addTo = await ctl(['user', 'add', 'op.warden2', '--role', 'company_operator', '--org', String(orgId),
      '--actor', ACTOR], { db, input: 'x\n' });
    assert.equal(addTo.code, 1, show(addTo));
  });

  it('site add, list, update, disable: audited; a new guard takes the consoles along', async () => {
    const mark = await lastAuditId(st);
    const add = await ctl(['site', 'add', '--slug', 'pudding', '--name', 'Pudding Lane Vaults',
      '--address', '1 Pudding Lane, London EC3R 8AB', '--lat', '51.5101', '--lon', '-0.0851',
      '--sector', 'finance', '--guard', 'Citadel Security', '--cleared', 'yes', '--actor', ACTOR, '--json'], { db });
    assert.equal(add.code, 0, show(add));
    assert.equal(add.json[0].slug, 'pudding');
    const siteId = Number(add.json[0].id);
    const site = await st.one('SELECT * FROM sites WHERE id = $1', [siteId]);
    assert.equal(site.name, 'Pudding Lane Vaults');
    assert.equal(site.cleared_sensitive, true);
    const missing = await ctl(['site', 'add', '--slug', 'x', '--actor', ACTOR], { db });
    assert.equal(missing.code, 2, `missing fields are a usage error: ${show(missing)}`);
    const badSector = await ctl(['site', 'add', '--slug', 'pudding2', '--name', 'P2', '--address', 'a',
      '--lat', '51.5', '--lon', '-0.08', '--sector', 'nosuch', '--guard', 'Citadel Security', '--actor', ACTOR], { db });
    assert.equal(badSector.code, 4, show(badSector));
    assert.match(badSector.err, /no sector nosuch/);

    const list = await ctl(['site', 'list', '--org', 'Citadel Security', '--json'], { db });
    assert.equal(list.code, 0, show(list));
    assert.ok(list.json.some((s) => s.slug === 'pudding'));
    assert.ok(list.json.every((s) => s.guard_org === 'Citadel Security'));

    const dev = await ctl(['device', 'add', '--site', 'pudding', '--actor', ACTOR, '--json'], { db });
    assert.equal(dev.code, 0, show(dev));
    assert.equal((await st.one('SELECT cleared_sensitive FROM users WHERE username = $1', [dev.json[0].username])).cleared_sensitive,
      true, 'a device of a cleared site is cleared');
    const upd = await ctl(['site', 'update', 'pudding', '--guard', 'Bastion Guarding', '--address',
      '2 Pudding Lane', '--cleared', 'no', '--actor', ACTOR, '--json'], { db });
    assert.equal(upd.code, 0, show(upd));
    assert.equal(upd.json[0].guard_org, 'Bastion Guarding');
    const consoleRow = await st.one(`SELECT o.name, u.cleared_sensitive FROM users u JOIN organisations o ON o.id = u.org_id
                                      WHERE u.username = $1`, [dev.json[0].username]);
    assert.equal(consoleRow.name, 'Bastion Guarding', 'the console follows its site to the new company');
    assert.equal(consoleRow.cleared_sensitive, false, 'and its clearance');
    const badCleared = await ctl(['site', 'update', 'pudding', '--cleared', 'maybe', '--actor', ACTOR], { db });
    assert.equal(badCleared.code, 2, show(badCleared));
    const [u] = await auditRows(st, 'site_updated', mark);
    assert.equal(u.actor_username, ACTOR);
    assert.equal(u.site_id, siteId);
    assert.equal(u.detail.changes.guard, 'Bastion Guarding');
    assert.equal(u.detail.before.address, '1 Pudding Lane, London EC3R 8AB');

    const dis = await ctl(['site', 'disable', 'pudding', '--actor', ACTOR], { db });
    assert.equal(dis.code, 0, show(dis));
    assert.equal((await st.one('SELECT disabled FROM sites WHERE id = $1', [siteId])).disabled, true);
    assert.equal((await st.one('SELECT disabled FROM users WHERE username = $1', [dev.json[0].username])).disabled, true);
    // a disabled site receives no alerts, named or matched
    const ctlr = await st.connectAs('controller');
    const none = await ctlr.request({ type: 'publish', headline: 'To a disabled site', severity: 'minor',
      targets: { sites: [siteId] } });
    assert.equal(none.type, 'error', JSON.stringify(none));
    assert.equal(none.code, 'no_recipients');
    const pv = await ctlr.request({ type: 'preview', targets: { sites: [siteId, 1] } });
    assert.equal(pv.count, 1, JSON.stringify(pv));
    assert.deepEqual(pv.excluded.map((x) => [x.site_id, x.reason]), [[siteId, 'site disabled']]);
    for (const action of ['site_added', 'device_added', 'site_updated', 'site_disabled']) {
      const rows = await auditRows(st, action, mark);
      assert.equal(rows.length, 1, `one ${action} audit row`);
      assert.equal(rows[0].actor_username, ACTOR);
    }
  });

  it('user add, set-password, disable, enable: the password works, each step audited', async () => {
    const mark = await lastAuditId(st);
    const add = await ctl(['user', 'add', 'pc.vega', '--role', 'controller', '--org', 'City Police Control Room',
      '--display-name', 'PC Vega', '--cleared', '--actor', ACTOR, '--json'], { db, input: 'first-pass-62\n' });
    assert.equal(add.code, 0, show(add));
    assert.equal(add.json[0].username, 'pc.vega');
    assert.equal(add.json[0].role, 'controller');
    const hash = (await st.one("SELECT password_hash FROM users WHERE username = 'pc.vega'")).password_hash;
    assert.match(hash, /^\$argon2id\$/, 'stored as an argon2id hash');
    assert.ok(!JSON.stringify(await st.query('SELECT detail FROM audit WHERE id > $1', [mark])).includes('first-pass-62'),
      'the password is in no audit row');
    const l = await login(st.broker, 'pc.vega', 'first-pass-62');
    assert.equal(l.user.role, 'controller');

    const noPw = await ctl(['user', 'add', 'pc.nopw', '--role', 'analyst', '--org', '3', '--actor', ACTOR], { db, input: '' });
    assert.equal(noPw.code, 1, show(noPw));
    assert.match(noPw.err, /no password/);
    const badRole = await ctl(['user', 'add', 'pc.bad', '--role', 'wizard', '--org', '3', '--actor', ACTOR], { db, input: 'x\n' });
    assert.equal(badRole.code, 1, show(badRole));
    assert.match(badRole.err, /role must be/);
    const consoleNoSite = await ctl(['user', 'add', 'console.bad', '--role', 'site_console', '--actor', ACTOR], { db, input: 'x\n' });
    assert.equal(consoleNoSite.code, 1, show(consoleNoSite));
    assert.match(consoleNoSite.err, /site is needed/);

    const setpw = await ctl(['user', 'set-password', 'pc.vega', '--actor', ACTOR], { db, input: 'second-pass-62\n' });
    assert.equal(setpw.code, 0, show(setpw));
    await assert.rejects(login(st.broker, 'pc.vega', 'first-pass-62'), /HTTP 401/);
    await login(st.broker, 'pc.vega', 'second-pass-62');

    const list = await ctl(['user', 'list', '--role', 'controller', '--json'], { db });
    assert.ok(list.json.some((u) => u.username === 'pc.vega' && u.disabled === false && typeof u.id === 'number'), show(list));

    assert.equal((await ctl(['user', 'disable', 'pc.vega', '--actor', ACTOR], { db })).code, 0);
    await assert.rejects(login(st.broker, 'pc.vega', 'second-pass-62'), /HTTP 40[13]/);
    assert.equal((await ctl(['user', 'enable', 'pc.vega', '--actor', ACTOR], { db })).code, 0);
    await login(st.broker, 'pc.vega', 'second-pass-62');

    for (const action of ['user_added', 'user_password_set', 'user_disabled', 'user_enabled']) {
      const rows = await auditRows(st, action, mark);
      assert.equal(rows.length, 1, `one ${action} audit row`);
      assert.equal(rows[0].actor_username, ACTOR);
      assert.equal(rows[0].detail.username, 'pc.vega');
    }
  });

  it('a disabled user\'s live WebSocket is closed within 5 s', async () => {
    const live = await st.connectAs('controller2');
    await live.ping();
    const r = await ctl(['user', 'disable', 'controller2', '--actor', ACTOR], { db });
    assert.equal(r.code, 0, show(r));
    await expectRevoked(live);
    const [row] = await auditRows(st, 'user_disabled', 0).then((rows) => rows.filter((x) => x.detail.username === 'controller2'));
    assert.equal(row.actor_username, ACTOR);
  });

  it('device add gives a one-time password that signs in; device revoke closes its live WebSocket within 5 s', async () => {
    const mark = await lastAuditId(st);
    const add = await ctl(['device', 'add', '--site', 'cheapside', '--name', 'lobby', '--actor', ACTOR, '--json'], { db });
    assert.equal(add.code, 0, show(add));
    const dev = add.json[0];
    assert.equal(dev.username, 'console.cheapside.lobby');
    assert.equal(dev.site, 'cheapside');
    assert.equal(dev.role, 'site_console');
    assert.match(dev.password, /^[A-Za-z0-9]{20}$/);
    const again = await ctl(['device', 'add', '--site', 'cheapside', '--name', 'lobby', '--actor', ACTOR], { db });
    assert.equal(again.code, 1, `the same device name twice: ${show(again)}`);
    const second = await ctl(['device', 'add', '--site', 'cheapside', '--actor', ACTOR], { db });
    assert.equal(second.code, 0, show(second));
    assert.match(second.out, /username: console\.cheapside-2\npassword: \S{20}\n/, 'the table form shows the password once');

    const list = await ctl(['device', 'list', '--site', 'cheapside', '--json'], { db });
    assert.deepEqual(list.json.map((d) => d.username).sort(),
      ['console.cheapside', 'console.cheapside-2', 'console.cheapside.lobby']);

    const live = await connectWith(st, dev.username, dev.password);
    await live.ping();
    const rev = await ctl(['device', 'revoke', dev.username, '--actor', ACTOR], { db });
    assert.equal(rev.code, 0, show(rev));
    await expectRevoked(live);
    await assert.rejects(login(st.broker, dev.username, dev.password), /HTTP 40[13]/);
    const notDevice = await ctl(['device', 'revoke', 'controller', '--actor', ACTOR], { db });
    assert.equal(notDevice.code, 4, `a non-console is not a device: ${show(notDevice)}`);
    assert.equal((await auditRows(st, 'device_added', mark)).length, 2);
    const [r] = await auditRows(st, 'device_revoked', mark);
    assert.equal(r.actor_username, ACTOR);
    assert.equal(r.detail.username, dev.username);
  });

  it('alert list shows tallies, alert show the sites that have not acknowledged, board the latest status', async () => {
    const sites = await st.query("SELECT id, slug FROM sites WHERE slug IN ('threadneedle', 'cornhill') ORDER BY id");
    const ctlr = await st.connectAs('controller');
    const conA = await st.connectAs('console.threadneedle');
    const pub = await ctlr.request({ type: 'publish', headline: 'tocsinctl list test', body: 'b', severity: 'moderate',
      targets: { sites: sites.map((s) => s.id) } });
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    const alert = await conA.next((m) => m.type === 'alert' && m.alert.id === pub.alert_id, 10_000);
    assert.ok(alert);
    const ack = await conA.request({ type: 'ack', alert_id: pub.alert_id });
    assert.equal(ack.type, 'acked', JSON.stringify(ack));

    const row = await waitFor(async () => {
      const r = await ctl(['alert', 'list', '--limit', '5', '--json'], { db });
      const a = r.json?.find((x) => Number(x.id) === pub.alert_id);
      return a && Number(a.acknowledged) === 1 && Number(a.delivered) >= 1 ? a : null;
    }, { timeoutMs: 20_000, intervalMs: 500, what: 'alert list with the acknowledgement' });
    assert.equal(row.headline, 'tocsinctl list test');
    assert.equal(Number(row.recipients), 2);
    assert.equal(row.sender, 'controller');
    const table = await ctl(['alert', 'list'], { db });
    assert.match(table.out, /recipients +delivered +read +acknowledged +answers/);
    const since = await ctl(['alert', 'list', '--since', '2999-01-01T00:00:00Z', '--json'], { db });
    assert.deepEqual(since.json, []);

    const mark = await lastAuditId(st);
    const showJ = await ctl(['alert', 'show', String(pub.alert_id), '--actor', ACTOR, '--json'], { db });
    assert.equal(showJ.code, 0, show(showJ));
    const [detail] = showJ.json;
    assert.equal(detail.alert.id, pub.alert_id);
    assert.equal(detail.tallies.acknowledged, 1);
    assert.deepEqual(detail.not_acknowledged.map((s) => s.slug), ['cornhill']);
    const showT = await ctl(['alert', 'show', String(pub.alert_id), '--actor', ACTOR], { db });
    assert.match(showT.out, /headline +tocsinctl list test/);
    assert.match(showT.out, /not acknowledged \(1 site\):\n.*cornhill/);
    const views = await auditRows(st, 'view_alert', mark);
    assert.equal(views.length, 2);
    assert.equal(views[0].actor_username, ACTOR);
    assert.equal(Number(views[0].alert_id), pub.alert_id);

    const st1 = await conA.request(statusMsg({ people: 77, state: 'heightened' }));
    assert.notEqual(st1.type, 'error', JSON.stringify(st1));
    const board = await waitFor(async () => {
      const r = await ctl(['board', '--org', 'Citadel Security', '--actor', ACTOR, '--json'], { db });
      const s = r.json?.find((x) => x.slug === 'threadneedle');
      return s && s.state === 'heightened' ? r.json : null;
    }, { timeoutMs: 20_000, intervalMs: 500, what: 'the board with the new status' });
    const citadel = await st.one("SELECT id FROM organisations WHERE name = 'Citadel Security'");
    assert.ok(board.every((s) => Number(s.guard_org_id) === citadel.id), 'only the company\'s sites');
    assert.equal(Number(board.find((x) => x.slug === 'threadneedle').people), 77);
    const vb = (await auditRows(st, 'view_board', mark)).filter((r) => r.actor_username === ACTOR);
    assert.ok(vb.length >= 1, 'the board view is audited');
    assert.equal(vb[0].detail.scope, 'org');
  });

  it('publish: usage errors, a missing CAP converter, an unreachable broker', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tocsin-62-'));
    try {
      assert.equal((await ctl(['publish'])).code, 2, 'nothing to publish');
      assert.equal((await ctl(['publish', '--headline'])).code, 2, 'an option without its value');
      assert.equal((await ctl(['publish', '--circle', '51.5,-0.1'])).code, 2, 'bad --circle');
      assert.equal((await ctl(['publish', '--org', 'citadel'])).code, 2, '--org takes an id');
      assert.equal((await ctl(['publish', '--site', 'Bad Slug'])).code, 2, 'bad --site');
      assert.equal((await ctl(['publish', '--file', 'x.json', '--cap', 'x.xml'])).code, 2, '--file and --cap');
      const notJson = path.join(tmp, 'bad.json');
      fs.writeFileSync(notJson, '{"headline": ');
      const nj = await ctl(['publish', '--file', notJson]);
      assert.equal(nj.code, 2, show(nj));
      assert.match(nj.err, /not a JSON object/);
      const cap = await ctl(['publish', '--cap', path.join(tmp, 'a.xml')], { env: { TOCSIN_CAP: path.join(tmp, 'no-tocsin-cap') } });
      assert.equal(cap.code, 1, show(cap));
      assert.match(cap.err, /--cap needs .*no-tocsin-cap, which is not there/);
      const unknown = await ctl(['publish', '--headline', 'x', '--site', 'nowhere'], { db });
      assert.equal(unknown.code, 4, show(unknown));
      assert.match(unknown.err, /no site nowhere/);
      // Well-formed keys (the ZeroMQ reference example), nobody listening.
      const keyFile = path.join(tmp, 'client.key');
      fs.writeFileSync(keyFile, 'public Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID\nsecret D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs\n');
      const serverKey = path.join(tmp, 'server.key.pub');
      fs.writeFileSync(serverKey, 'public rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\n');
      const nokey = await ctl(['publish', '--headline', 'x', '--site', '1', '--key', path.join(tmp, 'missing.key'),
        '--server-key', serverKey]);
      assert.equal(nokey.code, 2, show(nokey));
      const port = 20000 + Math.floor(Math.random() * 20000);
      const r = await ctl(['publish', '--headline', 'x', '--severity', 'minor', '--site', '1',
        '--bus', `tcp://127.0.0.1:${port}`, '--server-key', serverKey, '--key', keyFile, '--timeout', '2']);
      assert.equal(r.code, 3, show(r));
      assert.match(r.err, /no answer from the broker/);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('publish --cap: an invalid CAP file is refused with tocsin-cap\'s reason', { skip: NO_CAP }, async () => {
    const r = await ctl(['publish', '--cap', path.join(ROOT, 'tests/cap/invalid/missing-sender.xml')]);
    assert.equal(r.code, 1, show(r));
    assert.match(r.err, /invalid: .*sender/);
    assert.match(r.err, /tocsinctl publish: .*tocsin-cap to-json .* failed/);
  });

  it('stops cleanly', async () => {
    await st.stop();
  });
});

describe('tocsinctl publish over the bus', { timeout: 600_000, skip: NO_BUS }, () => {
  let st;
  let db;
  let tmp;
  let busArgs;
  before(async () => {
    st = await bus.startBusStack({ label: `${import.meta.url}-bus` });
    db = adminUrl(st);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tocsin-62-bus-'));
    const { keyFile } = await bus.addAdapter(st, 'tocsinctl-62', 'controller');
    const ep = bus.busEndpoints(st);
    const serverKey = path.join(tmp, 'server.key.pub');
    fs.writeFileSync(serverKey, `public ${ep.serverPublicKey}\n`);
    busArgs = ['--bus', ep.ingest, '--server-key', serverKey, '--key', keyFile, '--seq-file', path.join(tmp, 'seq')];
  });
  after(async () => {
    await st?.cleanup();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('publishes from flags to a console, and alert list shows it with tallies after the ack', async () => {
    const con = await st.connectAs('console.threadneedle');
    const r = await ctl(['publish', '--headline', 'Bus publish from flags', '--body', 'from tocsinctl',
      '--severity', 'severe', '--urgency', 'immediate', '--certainty', 'observed', '--category', 'live_incident',
      '--status', 'Exercise', '--site', 'threadneedle', '--json', ...busArgs], { db });
    assert.equal(r.code, 0, show(r));
    assert.equal(r.json.type, 'published');
    assert.equal(r.json.recipients, 1);
    assert.match(r.json.durable, /^(database|journal)$/);
    const frame = await con.next((m) => m.type === 'alert' && m.alert.id === r.json.alert_id, 15_000);
    assert.equal(frame.alert.headline, 'Bus publish from flags');
    assert.equal(frame.alert.status, 'exercise');
    assert.equal(frame.alert.category, 'live_incident');
    const ack = await con.request({ type: 'ack', alert_id: r.json.alert_id });
    assert.equal(ack.type, 'acked', JSON.stringify(ack));
    const row = await waitFor(async () => {
      const l = await ctl(['alert', 'list', '--json'], { db });
      const a = l.json?.find((x) => Number(x.id) === r.json.alert_id);
      // deliveries are recorded in batches, acknowledgements at once
      return a && Number(a.acknowledged) === 1 && Number(a.delivered) === 1 ? a : null;
    }, { timeoutMs: 20_000, intervalMs: 500, what: 'the bus alert delivered and acknowledged in alert list' });
    assert.equal(Number(row.recipients), 1);
    assert.equal(Number(row.delivered), 1);
    assert.equal(row.sender, 'controller');
    const table = await ctl(['publish', '--headline', 'Table form', '--severity', 'minor', '--site', 'threadneedle', ...busArgs], { db });
    assert.equal(table.code, 0, show(table));
    assert.match(table.out, /^alert_id +recipients +durable +duplicate\n\d+ +1 +(database|journal) +no\n/);
  });

  it('publishes from a JSON file (with a circle from the flags), and refusals exit non-zero', async () => {
    const con = await st.connectAs('console.cornhill');
    const file = path.join(tmp, 'alert.json');
    fs.writeFileSync(file, JSON.stringify({ type: 'publish', headline: 'Bus publish from a file', body: 'file body',
      severity: 'moderate', targets: { sectors: ['insurance'] } }));
    const cornhill = await st.one("SELECT id, lat, lon FROM sites WHERE slug = 'cornhill'");
    const r = await ctl(['publish', '--file', file, '--circle', `${cornhill.lat},${cornhill.lon},60`, '--json', ...busArgs], { db });
    assert.equal(r.code, 0, show(r));
    const frame = await con.next((m) => m.type === 'alert' && m.alert.id === r.json.alert_id, 15_000);
    assert.equal(frame.alert.headline, 'Bus publish from a file');
    assert.equal(frame.alert.area.circle.radius_m, 60);
    const rec = await st.query('SELECT site_id FROM alert_recipients WHERE alert_id = $1', [r.json.alert_id]);
    assert.ok(rec.some((x) => x.site_id === cornhill.id), 'cornhill (insurance, inside the circle) is a recipient');

    const bad = await ctl(['publish', '--headline', '', '--severity', 'minor', '--site', 'threadneedle', ...busArgs], { db });
    assert.equal(bad.code, 1, show(bad));
    assert.match(bad.err, /refused by the broker: bad_field \(field headline\)/);
    const unknown = await ctl(['publish', '--headline', 'x', '--severity', 'minor', '--site', '999999', ...busArgs], { db });
    assert.equal(unknown.code, 4, show(unknown));
  });

  it('publishes a CAP file (through tocsin-cap) to the sites in its area', { skip: NO_CAP }, async () => {
    const con = await st.connectAs('console.threadneedle');
    const file = path.join(tmp, 'alert.xml');
    fs.writeFileSync(file, CAP_XML);
    const r = await ctl(['publish', '--cap', file, '--json', ...busArgs], { db });
    assert.equal(r.code, 0, show(r));
    const frame = await con.next((m) => m.type === 'alert' && m.alert.id === r.json.alert_id, 15_000);
    assert.equal(frame.alert.headline, 'CAP via tocsinctl');
    assert.equal(frame.alert.status, 'exercise');
    assert.equal(frame.alert.area.circle.radius_m, 50);
    const rec = await st.query(`SELECT s.slug FROM alert_recipients r JOIN sites s ON s.id = r.site_id
                                 WHERE r.alert_id = $1`, [r.json.alert_id]);
    assert.deepEqual(rec.map((x) => x.slug), ['threadneedle'], 'only the site inside the 50 m circle');
  });

  it('stops cleanly', async () => {
    await st.stop();
  });
});

// issue #5: tocsinctl user update. A token carries the user's role,
// organisation, site and clearance, so changing any of them ends the
// user's live sessions (auth_revoked / 4401 within 5 s); signed in again,
// the user has the new claims. Bad values are usage errors naming the flag.
describe('tocsinctl user update: a changed account signs in again with its new claims', { timeout: 600_000 }, () => {
  let st;
  let db;
  before(async () => {
    st = await Stack.create({ label: `${import.meta.url}-user-update` });
    db = adminUrl(st);
  });
  after(async () => { await st?.cleanup(); });

  const userRow = (username) => st.one(`SELECT u.role, o.name AS org, u.site_id, u.cleared_sensitive, u.display_name,
                                               u.tokens_valid_after
                                          FROM users u JOIN organisations o ON o.id = u.org_id WHERE u.username = $1`, [username]);
  const isAlert = (id) => (m) => m.type === 'alert' && m.alert?.id === id;

  async function publish(ctlr, over) {
    const p = await ctlr.request({ type: 'publish', headline: `62 user update ${Date.now()}`, severity: 'minor',
      targets: { sites: [1] }, ...over }, 10_000);
    assert.equal(p.type, 'published', JSON.stringify(p));
    return p.alert_id;
  }

  it('withdrawing an operator\'s clearance closes its live session within 5 s; signed in again it gets no OFFICIAL-SENSITIVE alert', async () => {
    const ctlr = await st.connectAs('controller');
    const con = await st.connectAs('console.threadneedle');   // site 1 (Citadel), cleared
    const pw = demoPassword('op.citadel');
    const before1 = await login(st.broker, 'op.citadel', pw);
    assert.equal(decodeToken(before1.token).clr, true, 'op.citadel starts cleared');
    const op = await st.connect(before1.token, { label: 'op.citadel (cleared)' });
    // The check below can fail: while cleared, the operator does get one.
    const s1 = await publish(ctlr, { classification: 'OFFICIAL-SENSITIVE' });
    await op.next(isAlert(s1), 10_000, 'the sensitive alert at the cleared operator');

    const mark = await lastAuditId(st);
    const r = await ctl(['user', 'update', 'op.citadel', '--cleared', 'no', '--actor', ACTOR, '--json'], { db });
    assert.equal(r.code, 0, show(r));
    assert.equal(r.json[0].username, 'op.citadel');
    assert.equal((await userRow('op.citadel')).cleared_sensitive, false);
    await expectRevoked(op);
    const [row] = await auditRows(st, 'user_updated', mark);
    assert.equal(row.actor_username, ACTOR);
    assert.equal(row.actor_role, 'tocsinctl');
    assert.equal(row.detail.username, 'op.citadel');
    assert.deepEqual(row.detail.changes, { cleared: { old: true, new: false } });
    assert.equal(row.detail.sessions_ended, true);

    // The old token is refused at hello too.
    await assert.rejects(connect(st.broker, before1.token, { label: 'old token' }), /auth_revoked/);
    const after1 = await login(st.broker, 'op.citadel', pw);
    assert.equal(decodeToken(after1.token).clr, false, 'the new token says not cleared');
    const op2 = await st.connect(after1.token, { label: 'op.citadel (not cleared)' });
    const s2 = await publish(ctlr, { classification: 'OFFICIAL-SENSITIVE' });
    const o2 = await publish(ctlr, {});
    await con.next(isAlert(s2), 10_000, 'the sensitive alert at the cleared console');
    await op2.next(isAlert(o2), 10_000, 'the OFFICIAL alert published after it, at the operator');
    assert.ok(!op2.seen.some(isAlert(s2)), `the uncleared operator got the sensitive alert: ${op2.describeSeen()}`);
    const deliveries = await st.query(`SELECT d.alert_id FROM ${DELIVERIES} d JOIN users u ON u.id = d.user_id
                                        WHERE u.username = 'op.citadel' AND d.alert_id = $1`, [s2]);
    assert.deepEqual(deliveries, [], 'no delivery of the sensitive alert to the operator');
  });

  it('a role change closes the live session within 5 s; signed in again the user has the new role', async () => {
    const pw = demoPassword('controller2');
    const old = await login(st.broker, 'controller2', pw);
    const live = await st.connect(old.token, { label: 'controller2 (controller)' });
    const ok = await live.request({ type: 'report_now', area: { circle: { lat: 51.5140, lon: -0.0858, radius_m: 30 } } }, 10_000);
    assert.equal(ok.type, 'report_now', `a controller may ask sites to report: ${JSON.stringify(ok)}`);
    const mark = await lastAuditId(st);
    const r = await ctl(['user', 'update', 'controller2', '--role', 'analyst', '--org', 'City Police Intelligence Unit',
      '--actor', ACTOR], { db });
    assert.equal(r.code, 0, show(r));
    assert.match(r.out, /^id +username +display_name +role/m, 'prints the user as a table');
    await expectRevoked(live);
    const u = await userRow('controller2');
    assert.equal(u.role, 'analyst');
    assert.equal(u.org, 'City Police Intelligence Unit');
    const [row] = await auditRows(st, 'user_updated', mark);
    assert.deepEqual(row.detail.changes.role, { old: 'controller', new: 'analyst' });
    assert.ok(row.detail.changes.org_id && row.detail.changes.org_id.old !== row.detail.changes.org_id.new, JSON.stringify(row.detail));
    assert.equal(row.detail.sessions_ended, true);

    const fresh = await login(st.broker, 'controller2', pw);
    assert.equal(fresh.user.role, 'analyst');
    assert.equal(decodeToken(fresh.token).role, 'analyst');
    const s = await st.connect(fresh.token, { label: 'controller2 (analyst)' });
    const no = await s.request({ type: 'report_now', area: { circle: { lat: 51.5140, lon: -0.0858, radius_m: 30 } } }, 10_000);
    assert.equal(no.type, 'error', JSON.stringify(no));
    assert.equal(no.code, 'forbidden', 'an analyst may not ask sites to report');
  });

  it('a console moved to another site follows its guarding company and signs in again', async () => {
    const live = await st.connectAs('console.cornhill');
    const before1 = await st.one("SELECT u.site_id FROM users u WHERE u.username = 'console.cornhill'");
    const r = await ctl(['user', 'update', 'console.cornhill', '--site', 'cheapside', '--actor', ACTOR, '--json'], { db });
    assert.equal(r.code, 0, show(r));
    assert.equal(r.json[0].site, 'cheapside');
    assert.equal(r.json[0].org, 'Bastion Guarding', 'the console belongs to the new site\'s guarding company');
    await expectRevoked(live);
    const [row] = (await auditRows(st, 'user_updated', 0)).filter((x) => x.detail.username === 'console.cornhill');
    assert.equal(row.detail.changes.site_id.old, before1.site_id);
    assert.equal(row.detail.changes.site_id.new, 12);
    const fresh = await login(st.broker, 'console.cornhill', demoPassword('console.cornhill'));
    assert.equal(decodeToken(fresh.token).site, 12);
  });

  it('a new display name ends no session', async () => {
    const live = await st.connectAs('analyst');
    const was = await userRow('analyst');
    const r = await ctl(['user', 'update', 'analyst', '--display-name', 'DC P. Shah', '--actor', ACTOR, '--json'], { db });
    assert.equal(r.code, 0, show(r));
    assert.equal(r.json[0].display_name, 'DC P. Shah');
    const now = await userRow('analyst');
    assert.deepEqual(now.tokens_valid_after, was.tokens_valid_after, 'the tokens are not revoked');
    const [row] = (await auditRows(st, 'user_updated', 0)).filter((x) => x.detail.username === 'analyst');
    assert.equal(row.detail.sessions_ended, false);
    await sleep(3000); // more than a revocation sweep
    await live.ping();
    assert.equal(live.closeInfo, null);
  });

  it('bad values exit 2 naming the flag, an unknown user, organisation or site exits 4, a refused change 1; nothing changes', async () => {
    const mark = await lastAuditId(st);
    const was = await userRow('op.sentinel');
    for (const [args, flag] of [
      [['--role', 'wizard'], /--role takes controller/],
      [['--cleared', 'maybe'], /--cleared takes yes or no/],
      [['--display-name', '   '], /--display-name must be 1 to 200/],
      [['--display-name', 'x'.repeat(201)], /--display-name must be 1 to 200/],
      [['--org', ''], /--org needs/],
      [['--site', ''], /--site needs/],
      [[], /nothing to change/],
      [['--colour', 'red'], /unknown option --colour/],
      [['--role'], /--role needs a value/],
    ]) {
      const r = await ctl(['user', 'update', 'op.sentinel', '--actor', ACTOR, ...args], { db });
      assert.equal(r.code, 2, `${args.join(' ')}: ${show(r)}`);
      assert.match(r.err, flag, `${args.join(' ')} names the flag`);
    }
    assert.equal((await ctl(['user', 'update', '--role', 'analyst', '--actor', ACTOR], { db })).code, 2, 'no USERNAME');
    for (const [user, args, what] of [
      ['nobody', ['--role', 'analyst'], /no user nobody/],
      ['op.sentinel', ['--org', 'No Such Org'], /no organisation No Such Org/],
      ['console.leadenhall', ['--site', 'nowhere'], /no site nowhere/],
    ]) {
      const r = await ctl(['user', 'update', user, ...args, '--actor', ACTOR], { db });
      assert.equal(r.code, 4, `${user} ${args.join(' ')}: ${show(r)}`);
      assert.match(r.err, what);
    }
    for (const [user, args, why] of [
      ['op.sentinel', ['--site', 'cheapside'], /a site is only for the site_console role/],
      ['op.sentinel', ['--role', 'site_console'], /a site_console needs a site/],
    ]) {
      const r = await ctl(['user', 'update', user, ...args, '--actor', ACTOR], { db });
      assert.equal(r.code, 1, `${user} ${args.join(' ')}: ${show(r)}`);
      assert.match(r.err, why);
    }
    assert.deepEqual(await userRow('op.sentinel'), was, 'op.sentinel is unchanged');
    // The same value again is no change: no audit row, no revocation.
    const same = await ctl(['user', 'update', 'op.sentinel', '--cleared', was.cleared_sensitive ? 'yes' : 'no', '--actor', ACTOR], { db });
    assert.equal(same.code, 0, show(same));
    assert.deepEqual(await userRow('op.sentinel'), was, 'op.sentinel is still unchanged');
    assert.deepEqual(await auditRows(st, 'user_updated', mark), [], 'no user_updated audit row');
  });

  it('stops cleanly', async () => {
    await st.stop();
  });
});
