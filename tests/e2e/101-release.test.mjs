// Two-person release (issue 23): a live severe or extreme alert that the
// force's policy holds (by default: to more than 10 sites, a whole sector,
// or every company) reaches nobody until a second controller approves it;
// the author can never approve their own; reject, expiry and break glass
// do what docs/protocol.md says and are audited; a cancel is never held.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { Stack, consoleDirectory, newRef, run, ROOT } from './lib/harness.mjs';
import { TOCSINCTL } from './lib/bus.mjs';

describe('two-person release', { timeout: 240_000 }, () => {
  let st, companies, site, ctl, ctl2, con;

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    [site] = await consoleDirectory(st);
    companies = (await st.query(`SELECT id FROM organisations
                                  WHERE kind = 'security_company' AND NOT disabled ORDER BY id`)).map((r) => r.id);
    ctl = await st.connectAs('controller');
    ctl2 = await st.connectAs('controller2');
    con = await st.connectAs(site.username);
  });
  after(async () => { await st?.cleanup(); });

  const toAll = (headline, extra = {}) => ({ type: 'publish', headline, body: 'Evacuate now.', severity: 'extreme',
    targets: { orgs: companies }, ...extra });
  const audits = (id, action) => st.query('SELECT * FROM audit WHERE alert_id = $1 AND action = $2', [id, action]);

  async function hold(session, headline, extra) {
    const ref = newRef('hold');
    session.send({ ...toAll(headline, extra), ref });
    const r = await session.next((m) => m.ref === ref, 10000, 'the answer to a held publish');
    assert.equal(r.type, 'release_pending', JSON.stringify(r));
    return r.release;
  }

  let approved; // the alert released in the first test

  it('holds a live extreme alert to every company until another controller approves it', async () => {
    const headline = `Missile threat ${Date.now()}`;
    const rel = await hold(ctl, headline);
    assert.equal(rel.state, 'pending');
    assert.equal(rel.author.username, 'controller');
    assert.equal(rel.alert.headline, headline);
    assert.match(rel.held_because, /every security company/);
    assert.ok(rel.recipient_count > 10, `recipients ${rel.recipient_count}`);
    assert.equal(rel.recipients.length, rel.recipient_count);
    assert.ok(rel.recipients.some((r) => r.site_id === site.site_id && r.name));
    // the other controller is shown exactly what will be sent
    const seen = await ctl2.next((m) => m.type === 'release_pending' && m.release.alert_id === rel.alert_id, 10000, 'release_pending at controller2');
    assert.deepEqual(seen.release, rel);
    // not sent: no console has it, the database has no such alert
    await con.expectNothing((m) => m.type === 'alert' && m.alert.headline === headline, 1000, 'a held alert at a console');
    assert.equal((await st.query('SELECT 1 FROM alerts WHERE id = $1', [rel.alert_id])).length, 0);
    assert.equal((await audits(rel.alert_id, 'release_held')).length, 1);

    // the author cannot approve (nor reject) it
    for (const type of ['release_approve', 'release_reject']) {
      const ref = newRef('own');
      ctl.send({ type, ref, alert_id: rel.alert_id, reason: 'I am sure' });
      const err = await ctl.next((m) => m.ref === ref, 10000, `${type} by the author`);
      assert.equal(err.type, 'error');
      assert.equal(err.code, 'own_alert', JSON.stringify(err));
    }
    assert.equal((await audits(rel.alert_id, 'release_refused')).length, 2);
    await con.expectNothing((m) => m.type === 'alert' && m.alert.headline === headline, 500, 'still held');

    // the second controller releases it: delivered, in the author's name
    const ref = newRef('approve');
    ctl2.send({ type: 'release_approve', ref, alert_id: rel.alert_id, reason: 'confirmed with Gold command' });
    const pub = await ctl2.next((m) => m.ref === ref, 10000, 'published');
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    assert.equal(pub.alert_id, rel.alert_id);
    const got = await con.next((m) => m.type === 'alert' && m.alert.id === rel.alert_id, 10000, 'the released alert');
    assert.equal(got.alert.headline, headline);
    assert.equal(got.alert.sender.display_name, 'PC Ada Hart (Control Room)');
    // the author sees who released it
    const told = await ctl.next((m) => m.type === 'release_decided' && m.release.alert_id === rel.alert_id, 10000, 'release_decided');
    assert.equal(told.release.state, 'approved');
    assert.equal(told.release.decided_by.username, 'controller2');
    assert.equal(told.release.reason, 'confirmed with Gold command');
    assert.equal((await audits(rel.alert_id, 'release_approved')).length, 1);
    assert.equal((await audits(rel.alert_id, 'publish')).length, 1);
    // approving twice does nothing more
    const ref2 = newRef('again');
    ctl2.send({ type: 'release_approve', ref: ref2, alert_id: rel.alert_id });
    assert.equal((await ctl2.next((m) => m.ref === ref2, 10000, 'a second approval')).code, 'not_pending');
    approved = rel.alert_id;
  });

  it('a cancel is never held; an update follows the policy', async () => {
    const ref = newRef('cancel');
    ctl.send({ type: 'publish', ref, msg_type: 'cancel', references: approved, headline: 'Stand down' });
    const pub = await ctl.next((m) => m.ref === ref, 10000, 'the cancel');
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    await con.next((m) => m.type === 'alert' && m.alert.id === pub.alert_id, 10000, 'the cancel at the console');
    const upd = await hold(ctl, `Update ${Date.now()}`, { msg_type: 'update', references: approved, targets: undefined });
    assert.equal(upd.state, 'pending');
  });

  it('exercises, tests and lesser severities are never held', async () => {
    for (const extra of [{ status: 'exercise' }, { status: 'test' }, { severity: 'moderate' }]) {
      const ref = newRef('free');
      ctl.send({ ...toAll(`Not held ${JSON.stringify(extra)} ${Date.now()}`, extra), ref });
      const pub = await ctl.next((m) => m.ref === ref, 10000, 'published');
      assert.equal(pub.type, 'published', `${JSON.stringify(extra)}: ${JSON.stringify(pub)}`);
    }
  });

  it('a rejected alert is never sent, and tells the author why', async () => {
    const headline = `Rejected ${Date.now()}`;
    const rel = await hold(ctl, headline);
    const ref = newRef('reject');
    ctl2.send({ type: 'release_reject', ref, alert_id: rel.alert_id });
    assert.equal((await ctl2.next((m) => m.ref === ref, 10000, 'reject without reason')).code, 'missing_field');
    ctl2.send({ type: 'release_reject', ref, alert_id: rel.alert_id, reason: 'wrong area selected' });
    const dec = await ctl2.next((m) => m.ref === ref && m.type !== 'error', 10000, 'rejected');
    assert.equal(dec.type, 'release_decided');
    assert.equal(dec.release.state, 'rejected');
    const told = await ctl.next((m) => m.type === 'release_decided' && m.release.alert_id === rel.alert_id, 10000, 'the author told');
    assert.equal(told.release.reason, 'wrong area selected');
    await con.expectNothing((m) => m.type === 'alert' && m.alert.headline === headline, 1000, 'a rejected alert');
    assert.equal((await audits(rel.alert_id, 'release_rejected')).length, 1);
    const ref2 = newRef('late');
    ctl2.send({ type: 'release_approve', ref: ref2, alert_id: rel.alert_id });
    assert.equal((await ctl2.next((m) => m.ref === ref2, 10000, 'approve after reject')).code, 'not_pending');
  });

  it('a held alert expires unsent, and the author is told', async () => {
    const headline = `Expires ${Date.now()}`;
    const rel = await hold(ctl, headline);
    // its time is up now (the policy's default is 10 minutes)
    await st.query("UPDATE pending_releases SET expires_at = now() WHERE alert_id = $1", [rel.alert_id]);
    const told = await ctl.next((m) => m.type === 'release_decided' && m.release.alert_id === rel.alert_id, 30000, 'expired');
    assert.equal(told.release.state, 'expired');
    assert.equal((await audits(rel.alert_id, 'release_expired')).length, 1);
    const ref = newRef('late');
    ctl2.send({ type: 'release_approve', ref, alert_id: rel.alert_id });
    assert.equal((await ctl2.next((m) => m.ref === ref, 10000, 'approve after expiry')).code, 'not_pending');
    await con.expectNothing((m) => m.type === 'alert' && m.alert.headline === headline, 500, 'an expired alert');
  });

  it('break glass: alone only when no other controller is signed in; delivered, audited, raised at the next sign-in', async () => {
    const alone = { release_alone: { justification: 'no second controller on shift; threat is imminent' } };
    let ref = newRef('glass');
    ctl.send({ ...toAll(`Refused alone ${Date.now()}`, alone), ref });
    const refused = await ctl.next((m) => m.ref === ref, 10000, 'release_alone with controller2 signed in');
    assert.equal(refused.code, 'release_alone_refused', JSON.stringify(refused));
    ref = newRef('short');
    ctl.send({ ...toAll('x', { release_alone: { justification: 'hurry' } }), ref });
    assert.equal((await ctl.next((m) => m.ref === ref, 10000, 'a short justification')).code, 'bad_field');

    ctl2.close();
    await ctl2.waitClosed(10000);
    const headline = `Released alone ${Date.now()}`;
    ref = newRef('glass2');
    ctl.send({ ...toAll(headline, alone), ref });
    const pub = await ctl.next((m) => m.ref === ref, 10000, 'published alone');
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    await con.next((m) => m.type === 'alert' && m.alert.id === pub.alert_id, 10000, 'delivered at once');
    const [a] = await audits(pub.alert_id, 'release_alone');
    assert.equal(a.detail.justification, alone.release_alone.justification);
    const report = await st.query('SELECT * FROM tocsin_release_report(now() - interval \'1 hour\', now() + interval \'1 hour\')');
    assert.ok(report.some((r) => String(r.alert_id) === String(pub.alert_id) && r.state === 'released_alone'), JSON.stringify(report));
    // the next controller to sign in is shown it
    ctl2 = await st.connectAs('controller2');
    const raised = await ctl2.next((m) => m.type === 'release_decided' && m.release.alert_id === pub.alert_id, 10000, 'raised at sign-in');
    assert.equal(raised.release.state, 'released_alone');
    assert.equal(raised.release.reason, alone.release_alone.justification);
  });

  it('tocsinctl: policy show and set (audited), release report', async () => {
    const db = execFileSync(path.join(ROOT, 'deploy/pg-local.sh'),
      ['url', process.env.TOCSIN_TEST_VAR, 'tocsin_admin', st.db.name], { encoding: 'utf8' }).trim();
    const ctlr = (args) => run(TOCSINCTL, [...args, '--database', db, '--json']);
    let r = await ctlr(['policy', 'show']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout)[0], { ...JSON.parse(r.stdout)[0], severities: '{severe,extreme}', max_sites: 10, expiry_s: 600 });
    r = await ctlr(['policy', 'set', '--max-sites', '40', '--all-companies', 'false', '--actor', 'Insp Kaur']);
    assert.equal(r.code, 0, r.stderr);
    const [row] = await st.query("SELECT * FROM audit WHERE action = 'release_policy_set' ORDER BY id DESC LIMIT 1");
    assert.equal(row.actor_username, 'Insp Kaur');
    assert.equal(row.detail.after.max_sites, 40);
    // 34 sites, every company, no sector: no longer held
    const ref = newRef('loose');
    ctl.send({ ...toAll(`Under the new policy ${Date.now()}`), ref });
    assert.equal((await ctl.next((m) => m.ref === ref, 10000, 'published')).type, 'published');
    r = await ctlr(['policy', 'set', '--expiry', '5']);
    assert.equal(r.code, 1, 'an expiry under 30 s is refused');
    r = await ctlr(['release', 'report']);
    assert.equal(r.code, 0, r.stderr);
    const states = JSON.parse(r.stdout).map((x) => x.state);
    for (const s of ['approved', 'rejected', 'expired', 'released_alone', 'pending']) assert.ok(states.includes(s), `${s} in ${states}`);
  });

  it('only controllers decide', async () => {
    const analyst = await st.connectAs('analyst');
    const ref = newRef('an');
    analyst.send({ type: 'release_approve', ref, alert_id: approved });
    assert.equal((await analyst.next((m) => m.ref === ref, 10000, 'analyst approves')).code, 'forbidden');
    const bad = newRef('bad');
    ctl2.send({ type: 'release_approve', ref: bad, alert_id: 'x' });
    assert.equal((await ctl2.next((m) => m.ref === bad, 10000, 'a bad id')).code, 'bad_field');
  });
});
