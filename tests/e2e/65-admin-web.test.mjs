// Administration in the browser (issue 17, item 10), over the WebSocket:
// a signed-in administrator lists, adds and changes organisations, sites,
// users and console devices through the `admin` frame, which runs the
// same audited SQL functions as tocsinctl with the administrator as the
// actor. A new account's one-time password is made on the broker (argon2
// off the loop), shown once in the reply, works for sign-in, and is
// stored and logged nowhere in clear. Disabling and revoking close live
// sessions. A new site appears on the control rooms' boards at once and
// may be targeted at once. Every other role is refused, bad members get
// typed errors naming them, and nothing changes.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Stack, newRef, userByName } from './lib/harness.mjs';

describe('administration over the WebSocket', { timeout: 240_000 }, () => {
  let st, admin, adminUser, ctl;
  const slug = `basinghall-${Date.now() % 100000}`;
  const siteName = `Basinghall Court ${newRef('s')}`;
  let site;                     // the new site's row
  let device;                   // { username, password }

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    admin = await st.connectAs('admin');
    adminUser = await userByName(st, 'admin');
    ctl = await st.connectAs('controller');
    const b = await ctl.request({ type: 'board' });
    assert.equal(b.type, 'board');
  });
  after(async () => { await st?.cleanup(); });

  const op = (s, o, fields = {}) => s.request({ type: 'admin', op: o, ...fields }, 20000);
  const signIn = (username, password) => st.http('POST', '/api/login', { body: { username, password } });

  // What a refused request must not change. The audit rows are those
  // written after `before`, less the delivery records of the frames a
  // session just signed in was sent (its alerts in force: written a batch
  // later, by the records connection, whenever they come).
  const counts = () => st.one(`SELECT (SELECT coalesce(max(id), 0) FROM audit) AS audit_max, (SELECT count(*) FROM sites) AS sites,
                                      (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM organisations) AS orgs`);
  async function refused(s, frame, code, field) {
    const before = await counts();
    const r = await s.request({ type: 'admin', ...frame }, 20000);
    assert.equal(r.type, 'error', `want ${code} for ${JSON.stringify(frame)}: ${JSON.stringify(r)}`);
    assert.equal(r.code, code, JSON.stringify(r));
    if (field !== undefined) assert.equal(r.field, field, JSON.stringify(r));
    const after = await counts();
    const written = await st.query(`SELECT id, action, actor_username FROM audit WHERE id > $1 AND action <> 'deliver' ORDER BY id`,
      [before.audit_max]);
    assert.deepEqual(written, [], `${JSON.stringify(frame)} audited nothing`);
    delete before.audit_max;
    delete after.audit_max;
    assert.deepEqual(after, before, `${JSON.stringify(frame)} changed nothing`);
  }

  it('lists organisations, sites, users and sectors, never a password hash', async () => {
    const r = await op(admin, 'list');
    assert.equal(r.type, 'admin', JSON.stringify(r).slice(0, 300));
    assert.equal(r.op, 'list');
    assert.equal(r.sites.length, 34);
    assert.ok(r.orgs.some((o) => o.name === 'Citadel Security' && o.kind === 'security_company'));
    assert.ok(r.users.some((u) => u.username === 'console.threadneedle' && u.site === 'threadneedle'));
    assert.ok(r.sectors.some((x) => x.code === 'finance'));
    assert.ok(!JSON.stringify(r).includes('$argon2'), 'no hash in the listing');
  });

  it('adds a site: audited with the administrator, on the boards by name at once, a target at once', async () => {
    const r = await op(admin, 'site_add', { fields: { slug, name: siteName, address: '30 Basinghall Street, London EC2V 5BR',
      lat: 51.5166, lon: -0.0905, sector: 'finance', guard: 'Citadel Security' } });
    assert.equal(r.type, 'admin', JSON.stringify(r));
    [site] = r.rows;
    assert.equal(site.slug, slug);
    assert.equal(site.guard_org, 'Citadel Security');
    const upd = await ctl.next((m) => m.type === 'status_update' && m.site.site_id === site.id, 10000, 'the new site on the board');
    assert.equal(upd.site.site_name, siteName);
    assert.equal(upd.site.reported_at, null);
    const audit = await st.one(`SELECT actor_user_id, actor_username, actor_role, actor_org_id, remote_addr, detail
                                  FROM audit WHERE action = 'site_added' AND site_id = $1`, [site.id]);
    assert.deepEqual([audit.actor_user_id, audit.actor_username, audit.actor_role, audit.actor_org_id],
      [adminUser.id, 'admin', 'admin', adminUser.org_id]);
    assert.equal(audit.remote_addr, '127.0.0.1');
    assert.equal(audit.detail.via, 'web');
    const pub = await ctl.request({ type: 'publish', headline: `To the new site ${newRef('p')}`, severity: 'minor',
      targets: { sites: [site.id] } }, 10000);
    assert.equal(pub.type, 'published', `the new site is a target at once: ${JSON.stringify(pub)}`);
    assert.equal(pub.recipients, 1);
  });

  it('adds a console device whose one-time password signs in, and is kept nowhere in clear', async () => {
    const r = await op(admin, 'device_add', { site: slug });
    assert.equal(r.type, 'admin', JSON.stringify(r));
    assert.match(r.password, /^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$/);
    device = { username: r.rows[0].username, password: r.password };
    assert.equal(device.username, `console.${slug}`);
    const t = await signIn(device.username, device.password);
    assert.equal(t.status, 200, JSON.stringify(t.json));
    assert.equal(t.json.user.site_id, site.id);
    const con = await st.connect(t.json.token, { label: device.username });
    assert.equal((await con.ping()).type, 'pong');
    const u = await userByName(st, device.username);
    assert.match(u.password_hash, /^\$argon2id\$/);
    const found = await st.one(`SELECT count(*)::int AS n FROM audit WHERE detail::text LIKE '%' || $1 || '%'`, [device.password]);
    assert.equal(found.n, 0, 'the password is in no audit row');
    assert.ok(!fs.readFileSync(st.broker.logFile, 'utf8').includes(device.password), 'nor in the broker\'s log');
    const added = await st.one(`SELECT actor_user_id, detail FROM audit WHERE action = 'device_added' AND site_id = $1`, [site.id]);
    assert.equal(added.actor_user_id, adminUser.id);
    // Revoked: its live session closes, and it cannot sign in again.
    const rv = await op(admin, 'device_revoke', { username: device.username });
    assert.equal(rv.rows[0].disabled, true, JSON.stringify(rv));
    const closed = await con.waitClosed(10000);
    assert.equal(closed.code, 4401);
    assert.equal((await signIn(device.username, device.password)).status, 401);
  });

  it('adds a user, sets a new password, disables and enables it; organisations too', async () => {
    const name = `ctl.${Date.now() % 100000}`;
    const add = await op(admin, 'user_add', { username: name, display_name: 'PC New Starter', role: 'controller',
      org: 'City Police Control Room' });
    assert.equal(add.type, 'admin', JSON.stringify(add));
    assert.equal(add.rows[0].role, 'controller');
    assert.equal((await signIn(name, add.password)).status, 200);
    const pw = await op(admin, 'user_password', { username: name });
    assert.notEqual(pw.password, add.password);
    assert.equal((await signIn(name, add.password)).status, 401, 'the old password no longer works');
    const t = await signIn(name, pw.password);
    assert.equal(t.status, 200);
    const s = await st.connect(t.json.token, { label: name });
    const off = await op(admin, 'user_disable', { username: name });
    assert.equal(off.rows[0].disabled, true);
    assert.equal((await s.waitClosed(10000)).code, 4401, 'a disabled user\'s session closes');
    const on = await op(admin, 'user_enable', { username: name });
    assert.equal(on.rows[0].disabled, false);
    const up = await op(admin, 'user_update', { username: name, fields: { display_name: 'PC Starter' } });
    assert.equal(up.rows[0].display_name, 'PC Starter');

    const org = await op(admin, 'org_add', { name: `Warden Guarding ${newRef('o')}`, kind: 'security_company' });
    assert.equal(org.rows[0].kind, 'security_company', JSON.stringify(org));
    const dis = await op(admin, 'org_disable', { org: org.rows[0].id });
    assert.equal(dis.rows[0].disabled, true);
    const ren = await op(admin, 'site_update', { site: slug, fields: { name: `${siteName} East` } });
    assert.equal(ren.rows[0].name, `${siteName} East`);
    const upd = await ctl.next((m) => m.type === 'status_update' && m.site.site_id === site.id && m.site.site_name === `${siteName} East`,
      10000, 'the renamed site on the board');
    assert.ok(upd);
    const gone = await op(admin, 'site_disable', { site: slug });
    assert.equal(gone.rows[0].disabled, true);
  });

  it('refuses every other role, and bad members with the field named, changing nothing', async () => {
    for (const u of ['controller', 'analyst', 'op.citadel', 'console.threadneedle']) {
      const s = await st.connectAs(u);
      await refused(s, { op: 'list' }, 'forbidden');
      await refused(s, { op: 'org_add', name: 'Mine now', kind: 'police' }, 'forbidden');
    }
    await refused(admin, { op: 'explode' }, 'bad_field', 'op');
    await refused(admin, {}, 'missing_field', 'op');
    await refused(admin, { op: 'site_add' }, 'missing_field', 'fields');
    await refused(admin, { op: 'site_add', fields: [] }, 'bad_field', 'fields');
    await refused(admin, { op: 'site_add', fields: { name: 'X', colour: 'red' } }, 'bad_field', 'fields.colour');
    await refused(admin, { op: 'site_add', fields: { name: 7 } }, 'bad_field', 'fields.name');
    await refused(admin, { op: 'site_add', fields: { slug: 'another', name: 'Another' } }, 'bad_field', 'address');
    await refused(admin, { op: 'site_add', fields: { slug, name: 'Dup', address: 'x', lat: 51.5, lon: -0.09, sector: 'finance',
      guard: 'Citadel Security' } }, 'conflict', 'slug');
    await refused(admin, { op: 'site_add', fields: { slug: 'nowhere-x', name: 'Nowhere', address: 'x', lat: 51.5, lon: -0.09,
      sector: 'finance', guard: 'No Such Company' } }, 'unknown_target', 'guard');
    await refused(admin, { op: 'org_add', name: 'Citadel Security', kind: 'security_company' }, 'conflict', 'name');
    await refused(admin, { op: 'user_add', username: 'Bad Name', role: 'controller', org: 'City Police Control Room' }, 'bad_field', 'username');
    await refused(admin, { op: 'user_disable', username: 'nobody.here' }, 'unknown_target', 'username');
    await refused(admin, { op: 'device_add', site: 'no-such-site' }, 'unknown_target', 'site');
    await refused(admin, { op: 'user_update', username: 'analyst', fields: { password: 'x' } }, 'bad_field', 'fields.password');
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await st.stop();
  });
});
