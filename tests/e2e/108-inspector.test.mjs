// The duty inspector (issue 23): a role the force adds with `tocsinctl user
// add --role inspector`. An inspector sees every pending release live (and
// those open at sign-in), approves or rejects one, and is given nothing
// else: no publish, no alerts, no tallies of the organisation's alerts.
// The release policy may ask for an inspector as the second person
// (`tocsinctl policy set --approver inspector`, audited): a controller's
// approval is then refused, and break glass is refused only while an
// inspector is signed in.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { Stack, consoleDirectory, newRef, run, waitFor, ROOT } from './lib/harness.mjs';
import { TOCSINCTL } from './lib/bus.mjs';

describe('the duty inspector', { timeout: 240_000 }, () => {
  let st, db, companies, site, ctl, ctl2, con, insp;

  const ctlr = (args, input) => {
    if (input === undefined) return run(TOCSINCTL, [...args, '--database', db, '--json']);
    try {
      return { code: 0, stdout: execFileSync(TOCSINCTL, [...args, '--database', db, '--json'], { input, encoding: 'utf8' }) };
    } catch (e) {
      return { code: e.status, stdout: e.stdout, stderr: e.stderr };
    }
  };

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    db = execFileSync(path.join(ROOT, 'deploy/pg-local.sh'),
      ['url', process.env.TOCSIN_TEST_VAR, 'tocsin_admin', st.db.name], { encoding: 'utf8' }).trim();
    [site] = await consoleDirectory(st);
    companies = (await st.query(`SELECT id FROM organisations
                                  WHERE kind = 'security_company' AND NOT disabled ORDER BY id`)).map((r) => r.id);
    ctl = await st.connectAs('controller');
    con = await st.connectAs(site.username);
  });
  after(async () => { await st?.cleanup(); });

  const toAll = (headline, extra = {}) => ({ type: 'publish', headline, body: 'Evacuate now.', severity: 'extreme',
    targets: { orgs: companies }, ...extra });

  async function hold(headline, extra) {
    const ref = newRef('hold');
    ctl.send({ ...toAll(headline, extra), ref });
    const r = await ctl.next((m) => m.ref === ref, 10000, 'the answer to a held publish');
    assert.equal(r.type, 'release_pending', JSON.stringify(r));
    return r.release;
  }

  it('tocsinctl user add --role inspector makes one; an unknown role is refused', async () => {
    const r = ctlr(['user', 'add', 'inspector.kaur', '--role', 'inspector', '--org', 'City Police Control Room',
      '--display-name', 'Insp Sam Kaur', '--actor', 'Supt Reid'], 'inspector-demo\n');
    assert.equal(r.code, 0, JSON.stringify(r));
    assert.equal((await st.one("SELECT role FROM users WHERE username = 'inspector.kaur'")).role, 'inspector');
    const bad = ctlr(['user', 'update', 'inspector.kaur', '--role', 'sergeant']);
    assert.equal((await bad).code, 2, 'a role tocsinctl does not know is a usage error');
  });

  it('sees a pending release live, and those open at sign-in', async () => {
    const early = await hold(`Held before the inspector came ${Date.now()}`);
    insp = await st.connectAs('inspector.kaur');
    const open = await insp.next((m) => m.type === 'release_pending' && m.release.alert_id === early.alert_id,
      10000, 'the open release at sign-in');
    assert.deepEqual(open.release, early);
    const live = await hold(`Held with the inspector on duty ${Date.now()}`);
    const seen = await insp.next((m) => m.type === 'release_pending' && m.release.alert_id === live.alert_id,
      10000, 'release_pending at the inspector');
    assert.deepEqual(seen.release, live);
    // rejects the early one with a reason: the author hears it
    const rej = await insp.request({ type: 'release_reject', alert_id: early.alert_id, reason: 'Wrong area' });
    assert.equal(rej.type, 'release_decided', JSON.stringify(rej));
    assert.equal(rej.release.state, 'rejected');
    assert.equal(rej.release.decided_by.username, 'inspector.kaur');
    await ctl.next((m) => m.type === 'release_decided' && m.release.alert_id === early.alert_id, 10000, 'the author told');
    // approves the live one: it is delivered, in the author's name
    const ok = await insp.request({ type: 'release_approve', alert_id: live.alert_id, reason: 'Checked with Gold' });
    assert.equal(ok.type, 'published', JSON.stringify(ok));
    const a = await con.next((m) => m.type === 'alert' && m.alert.id === live.alert_id, 10000, 'the released alert');
    assert.equal(a.alert.sender.user_id, (await st.one("SELECT id FROM users WHERE username = 'controller'")).id);
    const [row] = await st.query("SELECT actor_username, actor_role FROM audit WHERE action = 'release_approved' AND alert_id = $1",
      [live.alert_id]);
    assert.deepEqual(row, { actor_username: 'inspector.kaur', actor_role: 'inspector' });
  });

  it('is given nothing else: no publish, no alerts, no tallies, no board', async () => {
    const pub = await insp.request(toAll(`An inspector's own ${Date.now()}`));
    assert.equal(pub.type, 'error');
    assert.equal(pub.code, 'forbidden');
    for (const frame of [{ type: 'board' }, { type: 'inbox' }, { type: 'receipts', alert_id: 1 }]) {
      const r = await insp.request(frame);
      assert.equal(r.type, 'error', `${frame.type}: ${JSON.stringify(r)}`);
    }
    const minor = await ctl.request({ type: 'publish', headline: `Not for inspectors ${Date.now()}`, body: '',
      severity: 'minor', targets: { sites: [site.site_id] } });
    assert.equal(minor.type, 'published', JSON.stringify(minor));
    await con.next((m) => m.type === 'alert' && m.alert.id === minor.alert_id, 10000, 'the console has it');
    await insp.expectNothing((m) => m.alert_id === minor.alert_id || m.alert?.id === minor.alert_id, 1500,
      'any frame of an alert of the inspector\'s organisation');
  });

  it('policy set --approver inspector (audited): a controller may no longer release; an inspector may', async () => {
    let r = await ctlr(['policy', 'set', '--approver', 'inspector', '--actor', 'Supt Reid']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout)[0].approver, 'inspector');
    const [row] = await st.query("SELECT detail FROM audit WHERE action = 'release_policy_set' ORDER BY id DESC LIMIT 1");
    assert.equal(row.detail.before.approver, 'controller');
    assert.equal(row.detail.after.approver, 'inspector');
    r = await ctlr(['policy', 'set', '--approver', 'sergeant']);
    assert.equal(r.code, 1, 'an unknown approver is refused');

    ctl2 = await st.connectAs('controller2');
    const rel = await hold(`Inspector only ${Date.now()}`);
    const no = await ctl2.request({ type: 'release_approve', alert_id: rel.alert_id });
    assert.equal(no.type, 'error', JSON.stringify(no));
    assert.equal(no.code, 'forbidden');
    assert.equal((await st.query('SELECT 1 FROM alerts WHERE id = $1', [rel.alert_id])).length, 0, 'not sent');
    const yes = await insp.request({ type: 'release_approve', alert_id: rel.alert_id });
    assert.equal(yes.type, 'published', JSON.stringify(yes));
  });

  it('break glass: refused while an inspector is signed in, allowed with controllers only', async () => {
    const justification = { release_alone: { justification: 'Bomb threat, no inspector reachable' } };
    let r = await ctl.request(toAll(`Alone with an inspector on ${Date.now()}`, justification));
    assert.equal(r.type, 'error', JSON.stringify(r));
    assert.equal(r.code, 'release_alone_refused');
    insp.close();
    await insp.closed;
    await waitFor(async () => /tocsin_connections\{role="inspector"\} 0\b/.test((await st.http('GET', '/metrics')).text),
      { timeoutMs: 10000, what: 'the broker has let the inspector go' });
    // controller2 is signed in, but the policy asks for an inspector
    r = await ctl.request(toAll(`Alone without an inspector ${Date.now()}`, justification));
    assert.equal(r.type, 'published', JSON.stringify(r));
    assert.ok(ctl2);
  });
});
