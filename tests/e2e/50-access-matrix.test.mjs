// The access matrix (issue #5): docs/access-matrix.json lists every action
// against every role and scope; docs/security.md's table is generated from
// it. This file checks that the two agree, then performs every cell as a
// real demo user of that role (WebSocket or HTTP) in the cell's scope and
// compares the outcome: allowed -> the success frame (and nothing outside
// the scope in it), an error code -> exactly that code, hidden -> the
// pushed frame never reaches the session. Then: forged identity fields in
// frames are ignored and the audit names the real user; tampered, wrong-key,
// expired and revoked tokens are refused over HTTP too; a company may relay
// only what it was sent.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Stack, newRef, sleep, decodeToken, signToken, b64url, waitFor, demoPassword, ROOT,
} from './lib/harness.mjs';
import { upload, fetchImage, makePng } from './lib/images-helpers.mjs';
import { loadMatrix, problems, renderTable, tableInDoc, cells } from './lib/matrix.mjs';
import { TOCSINCTL } from './lib/bus.mjs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const M = loadMatrix();
const QUIET_MS = 800;   // how long a frame that must not come is waited for

describe('the access matrix is written down once', () => {
  it('docs/access-matrix.json is sound: every action has a cell for every role, known scopes and results', () => {
    assert.deepEqual(problems(M), []);
  });

  it('the table in docs/security.md is the one generated from docs/access-matrix.json', () => {
    assert.equal(tableInDoc(), renderTable(M),
      'docs/security.md differs from docs/access-matrix.json: run node tests/e2e/lib/matrix.mjs --write');
  });
});

describe('walking every cell of the access matrix', { timeout: 600_000 }, () => {
  let st;
  const S = {};          // one signed-in session per role (the matrix's users)
  const X = {};          // bystanders: console12 (another company's site), opB, ctl2
  const U = {};          // user rows by username
  let citadel, bastion;
  const F = {};          // fixtures: alert ids, relay ids, image ids
  const lazy = new Map();
  const once = (key, fn) => { if (!lazy.has(key)) lazy.set(key, fn()); return lazy.get(key); };

  // ------------------------------------------------------------ helpers

  // The outcome of a request: 'allowed' when the reply is okType, the
  // error code when refused, else a description that matches no cell.
  async function outcome(s, frame, okType, check) {
    const reply = await s.request(frame, 10000);
    if (reply.type === 'error') return reply.code;
    if (reply.type !== okType) return `unexpected reply ${JSON.stringify(reply).slice(0, 200)}`;
    if (check) {
      const bad = await check(reply);
      if (bad) return `leak: ${bad}`;
    }
    return 'allowed';
  }

  // 'allowed' when a frame matching pred was or is received within ms.
  async function arrives(s, pred, ms = 8000, what = 'frame') {
    if (s.seen.some((m) => { try { return pred(m); } catch { return false; } })) return 'allowed';
    try {
      await s.next(pred, ms, what);
      return 'allowed';
    } catch (err) {
      return `not received: ${err.message.slice(0, 300)}`;
    }
  }

  // 'hidden' when no frame matching pred was or is received within ms.
  async function never(s, pred, ms = QUIET_MS) {
    await sleep(ms);
    const m = s.seen.find((x) => { try { return pred(x); } catch { return false; } });
    return m ? `leaked to ${s.label}: ${JSON.stringify(m).slice(0, 300)}` : 'hidden';
  }

  async function publish(s, over = {}) {
    const r = await s.request({ type: 'publish', headline: `matrix ${newRef('a')}`, severity: 'moderate',
      targets: { sites: [1] }, ...over }, 10000);
    assert.equal(r.type, 'published', `${s.label} publish: ${JSON.stringify(r)}`);
    return r.alert_id;
  }

  const CHOICE = { kind: 'choice', options: ['Yes', 'No'] };
  const isAlert = (id) => (m) => m.type === 'alert' && m.alert?.id === id;
  const mentions = (id) => (m) => m.alert_id === id || m.relay_id === id || m.alert?.id === id;

  before(async () => {
    // Severe alerts nobody acknowledges escalate after 2 s (the fixtures
    // are moderate or minor, so only the escalation cells' alerts do).
    st = await Stack.create({ label: import.meta.url, broker: { args: ['--escalate-after', '2'] } });
    // the duty inspector is the force's to add (063): in the control
    // room's organisation, so that nothing by organisation reaches it
    execFileSync(TOCSINCTL, ['user', 'add', M.users.inspector, '--role', 'inspector', '--org', 'City Police Control Room',
      '--database', execFileSync(path.join(ROOT, 'deploy/pg-local.sh'),
        ['url', process.env.TOCSIN_TEST_VAR, 'tocsin_admin', st.db.name], { encoding: 'utf8' }).trim()],
    { input: `${demoPassword(M.users.inspector)}\n` });
    for (const role of M.roles) S[role] = await st.connectAs(M.users[role]);
    X.console12 = await st.connectAs('console.cheapside');
    X.opB = await st.connectAs('op.bastion');
    X.ctl2 = await st.connectAs('controller2');
    for (const u of [...Object.values(M.users), 'console.cheapside', 'op.bastion', 'controller2']) {
      U[u] = await st.one('SELECT * FROM users WHERE username = $1', [u]);
    }
    citadel = U['op.citadel'].org_id;
    bastion = U['op.bastion'].org_id;
    assert.equal(U['console.threadneedle'].site_id, 1);
    assert.equal(U['console.threadneedle'].org_id, citadel);
    assert.equal(U['console.cheapside'].site_id, 12);
    assert.equal(U['console.cheapside'].org_id, bastion);
    assert.notEqual(U.controller.org_id, U.analyst.org_id, 'the control room and the intelligence unit are two organisations');

    // A1: the control room asks sites 1 (Citadel) and 12 (Bastion); A12: site 12 only;
    // AN: the intelligence unit asks site 1.
    F.A1 = await publish(S.controller, { targets: { sites: [1, 12] }, request: CHOICE });
    F.A12 = await publish(S.controller, { targets: { sites: [12] }, request: CHOICE });
    F.AN = await publish(S.analyst, { targets: { sites: [1] }, request: CHOICE });
    await S.site_console.next(isAlert(F.A1), 8000, 'A1 at site 1');
    await X.console12.next(isAlert(F.A1), 8000, 'A1 at site 12');
    await X.console12.next(isAlert(F.A12), 8000, 'A12 at site 12');
    await S.site_console.next(isAlert(F.AN), 8000, 'AN at site 1');
    // R1: Citadel relays A1 to site 1; RB: Bastion relays A1 to site 12.
    const r1 = await S.company_operator.request({ type: 'relay', alert_id: F.A1, sites: [1], note: 'Citadel desks' }, 10000);
    assert.equal(r1.type, 'relayed', JSON.stringify(r1));
    F.R1 = r1.alert_id;
    const rb = await X.opB.request({ type: 'relay', alert_id: F.A1, sites: [12], note: 'Bastion desks' }, 10000);
    assert.equal(rb.type, 'relayed', JSON.stringify(rb));
    F.RB = rb.alert_id;
    await S.site_console.next(isAlert(F.R1), 8000, 'R1 at site 1');
    await X.console12.next(isAlert(F.RB), 8000, 'RB at site 12');
    // Answers: site 1 answers A1 and AN, site 12 answers A1 and RB.
    for (const [s, id] of [[S.site_console, F.A1], [S.site_console, F.AN], [X.console12, F.A1], [X.console12, F.RB], [S.site_console, F.R1]]) {
      const a = await s.request({ type: 'answer', alert_id: id, choice: 'Yes' }, 10000);
      assert.equal(a.type, 'answered', JSON.stringify(a));
    }
    // Desks have heard the tallies of their own alerts by now.
    await X.opB.next((m) => m.type === 'tally' && m.alert_id === F.RB, 10000, 'the tally of RB at Bastion');
    await S.analyst.next((m) => m.type === 'tally' && m.alert_id === F.AN, 10000, 'the tally of AN at the intelligence unit');
    await S.controller.next((m) => m.type === 'tally' && m.alert_id === F.A1, 10000, 'the tally of A1 at the control room');
  });
  after(async () => { await st?.cleanup(); });

  // ------------------------------------------------------------ fixtures made on demand

  // Images: IMG1 on an alert to site 1, IMG12 on an alert to site 12 (both
  // uploaded by the control room), IMGC a photo uploaded by the console of site 1.
  const images = () => once('images', async () => {
    const up = async (username, seed) => {
      const r = await upload(st.broker, await st.token(username), makePng(4, 4, { seed }));
      assert.equal(r.status, 201, r.text);
      return r.json.image_id;
    };
    const img = { IMG1: await up('controller', 11), IMG12: await up('controller', 12), IMGC: await up('console.threadneedle', 13) };
    // images come from the publisher's organisation: controller2 is the same control room
    await publish(X.ctl2, { targets: { sites: [1] }, images: [img.IMG1] });
    await publish(X.ctl2, { targets: { sites: [12] }, images: [img.IMG12] });
    return img;
  });

  // Resume: P1 to site 1 and P12 to site 12, published after position seq0.
  const resumeFixture = () => once('resume', async () => {
    const seq0 = Number((await st.one('SELECT head FROM stream_meta')).head);
    const epoch = (await st.one('SELECT epoch::text AS epoch FROM stream_meta')).epoch;
    const P1 = await publish(X.ctl2, { targets: { sites: [1] } });
    const P12 = await publish(X.ctl2, { targets: { sites: [12] } });
    await X.console12.next(isAlert(P12), 8000, 'P12 at site 12');
    return { seq0, epoch, P1, P12 };
  });

  async function resumeAs(role) {
    const { seq0, epoch } = await resumeFixture();
    const s = await st.openSocket({ label: `${role} resuming` });
    s.send({ type: 'hello', token: await st.token(M.users[role]), resume: { epoch, seq: seq0 } });
    const w = await s.next((m) => m.type === 'welcome' || m.type === 'error', 10000, 'welcome');
    assert.equal(w.type, 'welcome', JSON.stringify(w));
    if (w.resume?.status === 'ok') await s.next('resume_done', 10000);
    s.close();
    return { welcome: w, replayed: s.seen.filter((m) => m.type === 'alert' && m.replay).map((m) => m.alert.id) };
  }

  // A status report by a console; resolves once the control room saw it.
  async function reportStatus(consoleSession, siteId) {
    const r = await consoleSession.request({ type: 'status', people: 10, officers: 1, trauma_packs: 0,
      first_aid_kits: 1, defibrillators: 0, cctv: 'working', state: 'normal', note: newRef('n') }, 10000);
    assert.equal(r.type, 'status_ok', JSON.stringify(r));
    return r.report_id;
  }
  const subscribed = new Set();
  async function subscribe(role) {
    if (subscribed.has(role)) return;
    const b = await S[role].request({ type: 'board' }, 10000);
    assert.equal(b.type, 'board', JSON.stringify(b));
    subscribed.add(role);
  }

  const reportNow = (siteLat, siteLon) => S.controller.request({ type: 'report_now',
    area: { circle: { lat: siteLat, lon: siteLon, radius_m: 30 } } }, 10000);
  const reportNowSite1 = () => once('report_now_1', async () => {
    const r = await reportNow(51.5140, -0.0858);
    assert.equal(r.type, 'report_now', JSON.stringify(r));
    assert.deepEqual(r.asked, [1]);
    return r.request_id;
  });

  // E1: the control room's severe alert to site 1 (Citadel); E12: the
  // intelligence unit's to site 12 (Bastion). Neither is acknowledged.
  const isEscalation = (id) => (m) => m.type === 'escalation' && m.alert_id === id;
  const escalations = () => once('escalation', async () => {
    const E1 = await publish(X.ctl2, { severity: 'severe', targets: { sites: [1] } });
    const E12 = await publish(S.analyst, { severity: 'severe', targets: { sites: [12] } });
    await X.ctl2.next(isEscalation(E1), 20000, 'the escalation of E1 at the control room');
    await S.analyst.next(isEscalation(E12), 20000, 'the escalation of E12 at the intelligence unit');
    await X.opB.next(isEscalation(E12), 20000, 'the escalation of E12 at Bastion');
    await X.console12.next((m) => isAlert(E12)(m) && m.escalated === true, 20000, 'E12 escalated at site 12');
    return { E1, E12 };
  });

  // AOPS: the control room's alert (with a question) to sites 1 and 12 for
  // company operators only; ACON: the same for site consoles only. Each
  // reaches its role at site 1 first, so the other role's refusal is not
  // a race.
  const notForRole = () => once('not_for_role', async () => {
    const AOPS = await publish(X.ctl2, { targets: { sites: [1, 12], roles: ['company_operator'] }, request: CHOICE });
    const ACON = await publish(X.ctl2, { targets: { sites: [1, 12], roles: ['site_console'] }, request: CHOICE });
    await S.company_operator.next(isAlert(AOPS), 8000, 'AOPS at Citadel');
    await S.site_console.next(isAlert(ACON), 8000, 'ACON at site 1');
    return { AOPS, ACON };
  });
  // The alert of alert_not_for_role for a role: the one aimed at the other.
  const notMine = async (role) => (await notForRole())[role === 'site_console' ? 'AOPS' : 'ACON'];
  // A receipt refused must leave nothing behind: no row, no tally change.
  async function receiptOutcome(role, scope, frame, okType, table) {
    if (scope !== 'alert_not_for_role') {
      return outcome(S[role], { ...frame, alert_id: scope === 'other_site' ? F.A12 : F.A1 }, okType);
    }
    const id = await notMine(role);
    const got = await outcome(S[role], { ...frame, alert_id: id }, okType);
    const rows = await st.query(`SELECT 1 FROM ${table} WHERE alert_id = $1`, [id]);
    return rows.length ? `${got}, and ${rows.length} ${table} row(s) stored` : got;
  }

  const partnerReport = () => once('partner_report', async () => {
    const r = await S.site_console.request({ type: 'report', kind: 'sighting', text: `seen ${newRef('x')}` }, 10000);
    assert.equal(r.type, 'reported', JSON.stringify(r));
    await S.controller.next((m) => m.type === 'partner_report' && m.report?.id === r.report_id, 8000, 'the report at the control room');
    return r.report_id;
  });

  // The ids of the in_force frames a new session of the role gets.
  async function inForceAs(role) {
    const s = await st.openSocket({ label: `${role} signing in` });
    s.send({ type: 'hello', token: await st.token(M.users[role]) });
    const w = await s.next((m) => m.type === 'welcome' || m.type === 'error', 10000, 'welcome');
    assert.equal(w.type, 'welcome', JSON.stringify(w));
    assert.equal(w.in_force?.status, 'ok', JSON.stringify(w));
    const done = await s.next('in_force_done', 10000);
    s.close();
    return s.seen.slice(0, s.seen.indexOf(done)).filter((m) => m.type === 'in_force').map((m) => m.alert_id);
  }

  // Of these alert ids, those the role's user could not have been sent
  // live: a console when its site is no recipient, an operator when no
  // recipient site is its company's, either when the alert was not sent to
  // its role or is OFFICIAL-SENSITIVE and it is not cleared. (Controllers
  // and analysts list every alert in force; the admin none.)
  async function notReceivable(role, ids) {
    if (role === 'controller' || role === 'analyst') return [];
    if (role === 'admin' || role === 'inspector') return ids;
    const u = U[M.users[role]];
    const rows = await st.query(`SELECT a.id::float8 AS id FROM alerts a
                                  WHERE a.id = ANY($1::bigint[])
                                    AND ($2 = ANY (a.target_roles))
                                    AND (a.classification <> 'OFFICIAL-SENSITIVE' OR $3)
                                    AND EXISTS (SELECT 1 FROM alert_recipients r JOIN sites s ON s.id = r.site_id
                                                 WHERE r.alert_id = a.id
                                                   AND (r.site_id = $4 OR ($2 = 'company_operator' AND s.guard_org_id = $5)))`,
    [ids, role, u.cleared_sensitive, u.site_id ?? -1, u.org_id]);
    const ok = new Set(rows.map((r) => r.id));
    return ids.filter((id) => !ok.has(id));
  }

  // A live extreme alert to every company, which the default policy holds
  // (a pending release), written by the session `by`; its id.
  async function held(by) {
    const companies = (await st.query(`SELECT id FROM organisations WHERE kind = 'security_company'
                                        AND NOT disabled ORDER BY id`)).map((r) => r.id);
    const r = await by.request({ type: 'publish', headline: `matrix held ${newRef('h')}`, body: 'Held.',
      severity: 'extreme', targets: { orgs: companies } }, 10000);
    assert.equal(r.type, 'release_pending', `${by.label} publish: ${JSON.stringify(r)}`);
    return r.release.alert_id;
  }

  // ------------------------------------------------------------ one executor per action

  const exec = {
    async sign_in(role) {
      const r = await st.http('POST', '/api/login', { body: { username: M.users[role], password: demoPassword(M.users[role]) } });
      if (r.status !== 200) return r.json?.error?.code || `HTTP ${r.status}`;
      return r.json.user.role === role && r.json.user.username === M.users[role] ? 'allowed' : `leak: ${r.text}`;
    },

    refresh: (role) => outcome(S[role], { type: 'refresh' }, 'refreshed', (r) => {
      const c = decodeToken(r.token);
      return c.sub === U[M.users[role]].id && c.role === role ? null : `refreshed token for ${c.usr} (${c.role})`;
    }),

    directory: (role, scope) => outcome(S[role], { type: 'directory' }, 'directory', (r) => {
      const siteIds = r.sites.map((x) => x.id).sort((a, b) => a - b);
      const orgIds = r.orgs.map((o) => o.id);
      if (scope === 'whole_force') return siteIds.length === 34 && orgIds.length === 6 ? null : `${siteIds.length} sites, ${orgIds.length} orgs`;
      if (scope === 'own_company_sites') {
        const foreign = r.sites.filter((x) => x.guard_org_id !== citadel);
        return foreign.length === 0 && siteIds.length === 11 && orgIds.join() === String(citadel) ? null
          : `sites ${siteIds}, orgs ${orgIds}`;
      }
      if (scope === 'own_site') return siteIds.join() === '1' && orgIds.join() === String(citadel) ? null : `sites ${siteIds}, orgs ${orgIds}`;
      return `no check for scope ${scope}`;
    }),

    publish: (role) => outcome(S[role], { type: 'publish', headline: `matrix publish by ${role}`, severity: 'minor', targets: { sites: [1] } }, 'published'),

    async update(role, scope) {
      const mine = role === 'analyst' ? S.analyst : X.ctl2;
      const theirs = role === 'analyst' ? X.ctl2 : S.analyst;
      const ref = await publish(scope === 'other_org_alert' ? theirs : mine);
      return outcome(S[role], { type: 'publish', msg_type: 'update', references: ref, headline: `update by ${role}` }, 'published');
    },

    async cancel(role, scope) {
      const mine = role === 'analyst' ? S.analyst : X.ctl2;
      const theirs = role === 'analyst' ? X.ctl2 : S.analyst;
      const ref = await publish(scope === 'other_org_alert' ? theirs : mine);
      return outcome(S[role], { type: 'publish', msg_type: 'cancel', references: ref }, 'published');
    },

    preview: (role) => outcome(S[role], { type: 'preview', targets: { orgs: [bastion] } }, 'preview', (r) =>
      (r.count === 11 ? null : `count ${r.count}`)),

    async receive_alert(role, scope) {
      const toOther = scope === 'other_site' || scope === 'other_company_sites';
      const id = await publish(X.ctl2, { targets: { sites: toOther ? [12] : [1] } });
      if (scope === 'any') {
        await S.site_console.next(isAlert(id), 8000, 'the alert at site 1');
        return never(S[role], isAlert(id));
      }
      if (toOther) {
        await X.console12.next(isAlert(id), 8000, 'the alert at site 12');
        return never(S[role], isAlert(id));
      }
      return arrives(S[role], isAlert(id));
    },

    async resume(role, scope) {
      const { P1, P12 } = await resumeFixture();
      const { welcome, replayed } = await resumeAs(role);
      if (scope === 'any') return welcome.resume?.status === 'none' && replayed.length === 0 ? 'none' : `resume ${JSON.stringify(welcome.resume)}`;
      if (scope === 'own_site' || scope === 'own_company_sites') return replayed.includes(P1) ? 'allowed' : `not replayed: ${replayed}`;
      return replayed.includes(P12) ? `leak: P12 replayed to ${role}` : 'hidden';
    },

    // The alerts in force at sign-in, for a new session of the role: each
    // one the role could have received live (an independent restatement of
    // the rule), and the scope's fixture among them or not.
    async in_force(role, scope) {
      const got = await inForceAs(role);
      const bad = await notReceivable(role, got);
      if (bad.length) return `leak: in force for ${role} but not sendable to it: ${bad}`;
      if (role === 'admin' || role === 'inspector') return got.length ? `leak: ${got}` : 'hidden';
      if (scope === 'whole_force') return got.includes(F.A12) && got.includes(F.AN) ? 'allowed' : `missing: ${got}`;
      if (scope.startsWith('own')) return got.includes(F.A1) ? 'allowed' : `A1 not in force: ${got}`;
      return got.includes(F.A12) ? `leak: A12 in force for ${role}` : 'hidden';
    },

    async escalation(role, scope) {
      const { E1, E12 } = await escalations();
      if (scope === 'any') return never(S[role], (m) => m.type === 'escalation' || m.escalated === true);
      if (role === 'site_console') {
        return scope === 'own_site' ? arrives(S[role], (m) => isAlert(E1)(m) && m.escalated === true, 20000)
          : never(S[role], mentions(E12));
      }
      const own = role === 'analyst' ? E12 : E1;
      const other = role === 'analyst' ? E1 : E12;
      // (the force's desks hear every alert's tally: only the escalation is hidden)
      return scope.startsWith('own') ? arrives(S[role], isEscalation(own), 20000)
        : never(S[role], (m) => isEscalation(other)(m) || (isAlert(other)(m) && m.escalated));
    },

    ack: (role, scope) => receiptOutcome(role, scope, { type: 'ack' }, 'acked', 'acks'),
    read: (role, scope) => receiptOutcome(role, scope, { type: 'read' }, 'read_ok', 'reads'),
    answer: (role, scope) => receiptOutcome(role, scope, { type: 'answer', choice: 'No' }, 'answered', 'answers'),

    async receipts(role, scope) {
      if (scope === 'alert_not_for_role') return outcome(S[role], { type: 'receipts', alert_id: await notMine(role) }, 'receipts');
      const pick = {
        controller: { own_org_alert: F.A1, relay_of_own_alert: F.R1, other_org_alert: F.AN },
        analyst: { own_org_alert: F.AN, other_org_alert: F.A1 },
        // A1 reached site 1 (Citadel) and 12 (Bastion); A12 none of Citadel's sites.
        company_operator: { own_relay: F.R1, force_alert_to_own_sites: F.A1, other_company_relay: F.RB, other_org_alert: F.A12 },
      }[role]?.[scope] ?? F.A1;
      return outcome(S[role], { type: 'receipts', alert_id: pick }, 'receipts', (r) => {
        if (role === 'company_operator') {
          // only its own sites, its own relays, and a tally over those sites only
          const foreign = r.sites.filter((x) => x.guard_org_id !== citadel);
          const foreignRelays = r.relays.filter((x) => x.by_org_id !== citadel);
          if (foreign.length || foreignRelays.length || r.sites.length === 0
              || r.tally?.recipients !== r.sites.length
              || r.not_acknowledged.some((id) => !r.sites.some((x) => x.site_id === id))) {
            return `operator saw ${JSON.stringify(r).slice(0, 300)}`;
          }
          if (scope === 'force_alert_to_own_sites') {
            if (r.scope !== 'own_sites') return `scope ${r.scope}`;
            if (r.sites.map((x) => x.site_id).join() !== '1') return `sites ${JSON.stringify(r.sites)}`;
            if (!['Yes', 'No'].includes(r.sites[0].answer)) return `site 1's answer missing: ${JSON.stringify(r.sites[0])}`;
            if (r.relays.map((x) => x.alert_id).join() !== String(F.R1)) return `relays ${JSON.stringify(r.relays)}`;
          }
        }
        return null;
      });
    },

    // Site 1 (Citadel) answered A1 in before(); so did site 12 (Bastion).
    site_receipt(role, scope) {
      const isReceipt = (site) => (m) => m.type === 'site_receipt' && m.alert_id === F.A1 && m.site_id === site;
      if (role === 'company_operator' && scope === 'own_company_sites') {
        return arrives(S.company_operator, (m) => isReceipt(1)(m) && m.kind === 'answered' && m.answer === 'Yes');
      }
      if (role === 'company_operator') return never(S.company_operator, isReceipt(12));
      return never(S[role], (m) => m.type === 'site_receipt');
    },

    async tally(role, scope) {
      const id = {
        controller: { own_org_alert: F.A1, other_org_alert: F.AN },
        analyst: { own_org_alert: F.AN, other_org_alert: F.A1 },
        company_operator: { own_relay: F.R1, other_company_relay: F.RB, other_org_alert: F.A1 },
      }[role]?.[scope];
      const desk = (m) => (m.type === 'tally' || m.type === 'answers');
      if (id === undefined) return never(S[role], desk);
      // the force's desks watch every alert (the shared control room)
      if (scope.startsWith('own') || role === 'controller' || role === 'analyst') {
        const t = await arrives(S[role], (m) => m.type === 'tally' && m.alert_id === id);
        if (t !== 'allowed') return t;
        return arrives(S[role], (m) => m.type === 'answers' && m.alert_id === id);
      }
      return never(S[role], (m) => desk(m) && m.alert_id === id);
    },

    async relay(role, scope) {
      const frame = { type: 'relay', alert_id: F.A1, sites: [1], note: `relay by ${role}` };
      if (scope === 'other_company_sites') frame.sites = [12];
      if (scope === 'alert_not_for_company') { frame.alert_id = F.A12; delete frame.sites; }
      if (scope === 'alert_not_for_role') frame.alert_id = await notMine(role);
      return outcome(S[role], frame, 'relayed');
    },

    async receive_relay(role, scope) {
      if (role === 'controller') return arrives(S.controller, (m) => m.type === 'relay_notice' && m.relay_id === F.R1);
      if (role === 'site_console' && scope === 'own_site') return arrives(S.site_console, isAlert(F.R1));
      if (role === 'site_console') return never(S.site_console, mentions(F.RB));
      if (role === 'company_operator') return never(S.company_operator, mentions(F.RB));
      if (role === 'analyst') return arrives(S.analyst, (m) => m.type === 'relay_notice' && m.relay_id === F.R1);
      return never(S[role], (m) => m.type === 'relay_notice' || m.alert?.relay);
    },

    status_report: (role) => outcome(S[role], { type: 'status', site_id: 12, people: 5, officers: 0, trauma_packs: 0,
      first_aid_kits: 0, defibrillators: 0, cctv: 'partial', state: 'normal' }, 'status_ok', (r) =>
      (r.site_id === 1 ? null : `the report went to site ${r.site_id}`)),

    board: (role, scope) => outcome(S[role], { type: 'board' }, 'board', (r) => {
      if (scope === 'whole_force') return r.sites.length === 34 ? null : `${r.sites.length} sites`;
      const foreign = r.sites.filter((x) => x.guard_org_id !== citadel);
      return foreign.length === 0 && r.sites.length === 11 ? null : `${r.sites.length} sites, foreign ${foreign.map((x) => x.site_id)}`;
    }),

    async status_update(role, scope) {
      const upd = (site) => (m) => m.type === 'status_update' && m.site?.site_id === site;
      if (scope === 'any') {
        await subscribe('controller');
        await reportStatus(X.console12, 12);
        await S.controller.next(upd(12), 8000, 'the update at the control room');
        return never(S[role], (m) => m.type === 'status_update');
      }
      await subscribe(role);
      if (scope === 'other_company_sites') {
        await subscribe('controller');
        const before = S.controller.seen.length;
        await reportStatus(X.console12, 12);
        await S.controller.next((m) => upd(12)(m) && S.controller.seen.indexOf(m) >= before, 8000, 'the update at the control room');
        return never(S[role], upd(12));
      }
      const site = role === 'company_operator' ? 1 : 12;
      const n = S[role].seen.filter(upd(site)).length;
      await reportStatus(site === 1 ? S.site_console : X.console12, site);
      return arrives(S[role], (m) => upd(site)(m) && S[role].seen.filter(upd(site)).indexOf(m) >= n);
    },

    // Site 1 (Citadel) and site 12 (Bastion) both received A1 and reported
    // status; an allowed reply must hold that site's rows and no other's.
    async site_history(role, scope) {
      const site = { whole_force: 12, own_company_sites: 1, other_company_sites: 12, own_site: 1, other_site: 12, any: 1,
        alert_not_for_role: 1 }[scope];
      if (site === undefined) return `no site for scope ${scope}`;
      await once('history_reports', async () => { await reportStatus(S.site_console, 1); await reportStatus(X.console12, 12); });
      if (scope === 'alert_not_for_role') {
        // the site's own history, without the alert aimed at the other role
        // (and with the one aimed at this role)
        const id = await notMine(role);
        const mine = (await notForRole())[role === 'site_console' ? 'ACON' : 'AOPS'];
        const r = await S[role].request({ type: 'site_history', site_id: site, limit: 200 }, 10000);
        if (r.type !== 'site_history') return `unexpected reply ${JSON.stringify(r).slice(0, 200)}`;
        const ids = r.alerts.map((x) => x.alert_id);
        if (!ids.includes(mine)) return `its own role's alert ${mine} missing: ${ids}`;
        return ids.includes(id) ? `leak: alert ${id} listed to ${role}` : 'unlisted';
      }
      return outcome(S[role], { type: 'site_history', site_id: site, limit: 200 }, 'site_history', async (r) => {
        if (r.site?.site_id !== site) return `site ${JSON.stringify(r.site)}`;
        const reports = (await st.query('SELECT id FROM status_reports WHERE site_id = $1', [site])).map((x) => Number(x.id));
        const alerts = (await st.query('SELECT alert_id FROM alert_recipients WHERE site_id = $1', [site])).map((x) => Number(x.alert_id));
        const foreignR = r.reports.filter((x) => !reports.includes(x.report_id)).map((x) => x.report_id);
        const foreignA = r.alerts.filter((x) => !alerts.includes(x.alert_id)).map((x) => x.alert_id);
        if (foreignR.length || foreignA.length) return `reports ${foreignR} and alerts ${foreignA} are not site ${site}'s`;
        if (!r.reports.length || !r.alerts.some((x) => x.alert_id === F.A1)) return `site ${site}'s rows missing: ${JSON.stringify(r).slice(0, 300)}`;
        return null;
      });
    },

    area_totals: (role) => outcome(S[role], { type: 'area_totals', lat: 51.5145, lon: -0.09, radius_m: 5000 }, 'area_totals',
      (r) => (r.sites === 34 ? null : `${r.sites} sites`)),

    report_now: (role) => outcome(S[role], { type: 'report_now', area: { circle: { lat: 51.5140, lon: -0.0858, radius_m: 30 } } }, 'report_now',
      (r) => (r.asked.join() === '1' ? null : `asked ${r.asked}`)),

    async report_request(role, scope) {
      const rid = await reportNowSite1();
      if (role === 'site_console' && scope === 'own_site') {
        return arrives(S.site_console, (m) => m.type === 'report_request' && m.request_id === rid);
      }
      if (role === 'site_console') {
        const r = await reportNow(51.5144, -0.0938);   // site 12
        assert.equal(r.type, 'report_now', JSON.stringify(r));
        assert.deepEqual(r.asked, [12]);
        await X.console12.next((m) => m.type === 'report_request' && m.request_id === r.request_id, 8000, 'the request at site 12');
        return never(S.site_console, (m) => m.type === 'report_request' && m.request_id === r.request_id);
      }
      return never(S[role], (m) => m.type === 'report_request');
    },

    async partner_report(role) {
      const r = await S[role].request({ type: 'report', kind: 'other', text: `by ${role}`,
        site_id: 12, org_id: bastion, user_id: U['op.bastion'].id, by: 'Someone else' }, 10000);
      if (r.type === 'error') return r.code;
      if (r.type !== 'reported') return `unexpected ${JSON.stringify(r)}`;
      const row = await st.one('SELECT site_id, org_id, user_id FROM partner_reports WHERE id = $1', [r.report_id]);
      const me = U[M.users[role]];
      const want = { site_id: me.site_id ?? null, org_id: me.org_id, user_id: me.id };
      return JSON.stringify(row) === JSON.stringify(want) ? 'allowed' : `leak: stored as ${JSON.stringify(row)}, want ${JSON.stringify(want)}`;
    },

    async receive_partner_report(role) {
      const id = await partnerReport();
      const it = (m) => m.type === 'partner_report' && m.report?.id === id;
      return ['controller', 'analyst'].includes(role) ? arrives(S[role], it) : never(S[role], (m) => m.type === 'partner_report');
    },

    inbox: (role) => outcome(S[role], { type: 'inbox', limit: 5 }, 'inbox'),

    administer: (role) => outcome(S[role], { type: 'admin', op: 'list' }, 'admin',
      (r) => (Array.isArray(r.sites) && r.sites.length === 34 ? null : `sites ${JSON.stringify(r.sites).slice(0, 100)}`)),

    async report_update(role) {
      const id = await partnerReport();
      return outcome(S[role], { type: 'report_update', report_id: id, handled: role === 'controller' }, 'report_updated',
        (r) => (r.report?.id === id ? null : `report ${JSON.stringify(r.report).slice(0, 100)}`));
    },

    async image_upload(role) {
      const r = await upload(st.broker, await st.token(M.users[role]), makePng(3, 3, { seed: role.length }));
      if (r.status === 201) return 'allowed';
      const code = r.json?.error?.code || `HTTP ${r.status}`;
      const want = M.actions.find((a) => a.id === 'image_upload').http_refusal[code];
      return want === r.status ? code : `${code} with HTTP ${r.status}`;
    },

    async image_fetch(role, scope) {
      const img = await images();
      const id = { whole_force: img.IMG12, own_company_sites: img.IMG1, other_company_sites: img.IMG12,
        own_site: img.IMG1, other_site: img.IMG12, own_upload: img.IMGC }[scope];
      const r = await fetchImage(st.broker, await st.token(M.users[role]), id);
      if (r.status === 200) return 'allowed';
      const code = r.json?.error?.code || `HTTP ${r.status}`;
      const want = M.actions.find((a) => a.id === 'image_fetch').http_refusal[code];
      return want === r.status ? code : `${code} with HTTP ${r.status}`;
    },

    crime_picture: (role, scope) => crimeOutcome(role, scope),

    // A rejection (an approval would deliver an extreme alert to every
    // site, and the other cells' frames with it): the same check decides.
    async release_decide(role, scope) {
      const id = await held(scope === 'own_held_alert' ? S[role] : X.ctl2);
      return outcome(S[role], { type: 'release_reject', alert_id: id, reason: `checked by ${role}` }, 'release_decided',
        (r) => (r.release?.alert_id === id && r.release.state === 'rejected' ? null : `release ${JSON.stringify(r.release)}`));
    },

    async receive_release(role) {
      const id = await held(X.ctl2);
      const it = (m) => (m.type === 'release_pending' || m.type === 'release_decided') && m.release?.alert_id === id;
      return ['controller', 'inspector'].includes(role) ? arrives(S[role], it) : never(S[role], it);
    },

    // The record is stored as the token's (site, company, user), whatever
    // the message claims; the force's as the force's.
    async crime_report(role) {
      const r = await S[role].request({ type: 'crime_report', category: 'shoplifting',
        occurred_at: new Date(Date.now() - 60_000).toISOString(), lat: 51.514, lon: -0.089,
        site_id: 12, org_id: bastion, user_id: U['op.bastion'].id }, 10000);
      if (r.type === 'error') return r.code;
      if (r.type !== 'crime_reported') return `unexpected ${JSON.stringify(r)}`;
      const row = await st.one('SELECT site_id, org_id, user_id, source FROM crime_records WHERE id = $1', [r.record_id]);
      const me = U[M.users[role]];
      const want = { site_id: me.site_id ?? null, org_id: me.org_id, user_id: me.id,
        source: ['controller', 'analyst'].includes(role) ? 'force' : 'partner' };
      return JSON.stringify(row) === JSON.stringify(want) ? 'allowed' : `leak: stored as ${JSON.stringify(row)}, want ${JSON.stringify(want)}`;
    },

    async crime_trail(role) {
      const { id } = await once('crime-trail', () => st.one(`
        INSERT INTO crime_records (source, org_id, category, at, at_precision, geom, property_status, serial_hash)
        VALUES ('partner', (SELECT id FROM organisations WHERE name = 'Bastion Guarding'), 'robbery',
                now() - interval '1 day', 'minute', ST_SetSRID(ST_MakePoint(-0.089, 51.514), 4326), 'stolen',
                repeat('ab', 32)) RETURNING id`));
      const r = await st.http('POST', '/api/crime/trail', { body: { record_id: Number(id) },
        headers: { authorization: `Bearer ${await st.token(M.users[role])}` } });
      if (r.status === 200) return r.json.places?.[0]?.id === Number(id) ? 'allowed' : `200 with ${r.text.slice(0, 200)}`;
      const code = r.json?.error?.code || `HTTP ${r.status}`;
      const want = M.actions.find((a) => a.id === 'crime_trail').http_refusal[code];
      return want === r.status ? code : `${code} with HTTP ${r.status}`;
    },

    // Every alert of the scope must give the same outcome: the force reads
    // the control room's, the intelligence unit's and a company's relay.
    async cap_export(role, scope) {
      const ids = {
        whole_force: [F.A1, F.AN, F.RB], own_company_sites: [F.A1, F.AN], own_relay: [F.R1],
        other_company_sites: [F.A12], other_company_relay: [F.RB], own_site: [F.A1, F.R1],
        other_site: [F.A12, F.RB], unknown_alert: [UNKNOWN_ALERT],
        alert_not_for_role: scope === 'alert_not_for_role' ? [await notMine(role)] : [],
      }[scope];
      if (!ids) return `no alert for scope ${scope}`;
      const got = new Set();
      for (const id of ids) got.add(await capOutcome(await st.token(M.users[role]), id));
      return got.size === 1 ? [...got][0] : `mixed outcomes for ${ids}: ${[...got].join(', ')}`;
    },
  };

  // POST /api/crime/picture and records (sql/functions/crime_map.sql). A
  // Bastion record at a Citadel site is another partner's, for Citadel.
  async function crimeOutcome(role, scope) {
    const auth = { authorization: `Bearer ${await st.token(M.users[role])}` };
    const filter = { from: '2026-01-01', to: '2026-02-01', cell_m: 100 };
    if (scope === 'own_contributions') {
      const { record_id: id } = await once('crime-own', async () => {
        const { lat, lon } = await st.one('SELECT lat, lon FROM sites WHERE id = 1');
        return S[role].request({ type: 'crime_report', category: 'shoplifting', occurred_at: '2026-01-12T12:00:00Z',
          lat, lon }, 10000);
      });
      const r = await st.http('POST', '/api/crime/records', { body: filter, headers: auth });
      if (r.status !== 200) return r.json?.error?.code || `HTTP ${r.status}`;
      return r.json.records.some((x) => x.id === id) ? 'listed' : `record ${id} not listed to ${role}`;
    }
    if (scope === 'other_partner_records') {
      const { id } = await once('crime-other', () => st.one(`
        INSERT INTO crime_records (source, org_id, category, at, at_precision, geom)
        SELECT 'partner', (SELECT id FROM organisations WHERE name = 'Bastion Guarding'), 'shoplifting',
               '2026-01-10 12:00+00', 'minute', ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326)
          FROM sites s WHERE s.id = 1 RETURNING id`));
      const r = await st.http('POST', '/api/crime/records', { body: filter, headers: auth });
      if (r.status !== 200) return r.json?.error?.code || `HTTP ${r.status}`;
      return r.json.records.some((x) => x.id === Number(id)) ? `leak: record ${id} listed to ${role}` : 'unlisted';
    }
    const r = await st.http('POST', '/api/crime/picture', { body: filter, headers: auth });
    if (r.status === 200) {
      const want = scope === 'company_surroundings' ? 250 : 100;
      return r.json.grid?.cell_m === want ? 'allowed' : `200 with cells of ${r.json.grid?.cell_m} m`;
    }
    const code = r.json?.error?.code || `HTTP ${r.status}`;
    const want = M.actions.find((a) => a.id === 'crime_picture').http_refusal[code];
    return want === r.status ? code : `${code} with HTTP ${r.status}`;
  }

  // GET /api/alerts/<id>/cap as the token's user: 'allowed' for the CAP
  // document of that alert, else the error code when its status is the
  // matrix's http_refusal for it.
  const UNKNOWN_ALERT = 999999999999;
  async function capOutcome(token, id) {
    const r = await st.http('GET', `/api/alerts/${id}/cap`, { headers: { authorization: `Bearer ${token}` } });
    if (r.status === 200) {
      const ok = /^application\/cap\+xml/.test(String(r.headers['content-type']))
        && r.text.includes(`<identifier>urn:tocsin:alert:${id}</identifier>`);
      return ok ? 'allowed' : `200 but not alert ${id} as CAP: ${r.text.slice(0, 200)}`;
    }
    const code = r.json?.error?.code || `HTTP ${r.status}`;
    const want = M.actions.find((a) => a.id === 'cap_export').http_refusal[code];
    return want === r.status ? code : `${code} with HTTP ${r.status}`;
  }
  const hostOnly = (action) => async (role) => {
    for (const type of action.probe) {
      const r = await S[role].request({ type }, 10000);
      if (r.type !== 'error' || r.code !== 'unknown_type') return `the broker answered ${type}: ${JSON.stringify(r)}`;
    }
    return 'host_only';
  };

  it('has an executor for every action of the matrix', () => {
    const missing = M.actions.filter((a) => !exec[a.id] && !a.probe).map((a) => a.id);
    assert.deepEqual(missing, []);
  });

  for (const c of cells(M)) {
    it(`${c.action.id} × ${c.role} × ${c.scope} → ${c.result}`, async () => {
      const run = c.action.probe ? hostOnly(c.action) : exec[c.action.id];
      assert.ok(run, `no executor for ${c.action.id}`);
      const got = await run(c.role, c.scope);
      assert.equal(got, c.result, `${c.action.title} as ${M.users[c.role]} (${c.role}), scope ${c.scope}`);
    });
  }

  it('cap_export without a token, or with a forged one: 401 with www-authenticate: Bearer; every refusal is audited', async () => {
    const mark = Number((await st.one('SELECT COALESCE(max(id), 0) AS id FROM audit')).id);
    const none = await st.http('GET', `/api/alerts/${F.A1}/cap`);
    assert.equal(none.status, 401, none.text);
    assert.equal(none.json?.error?.code, 'auth_missing', none.text);
    assert.match(String(none.headers['www-authenticate']), /^Bearer/);
    const forged = await st.http('GET', `/api/alerts/${F.A1}/cap`, { headers: { authorization: 'Bearer v1.AAAA.BBBB' } });
    assert.equal(forged.status, 401, forged.text);
    assert.equal(forged.json?.error?.code, 'auth_invalid', forged.text);
    assert.equal(await capOutcome(await st.token('op.bastion'), F.R1), 'forbidden', 'Bastion reads not Citadel\'s relay');
    assert.equal(await capOutcome(await st.token('console.cheapside'), F.A1), 'allowed', 'a recipient site of another company');
    const rows = await st.query(`SELECT actor_username, alert_id, detail FROM audit
                                  WHERE id > $1 AND action = 'cap_export_refused' ORDER BY id`, [mark]);
    assert.deepEqual(rows.map((r) => [r.actor_username, Number(r.alert_id), r.detail.status]),
      [['op.bastion', F.R1, 'forbidden']], 'the refused export is audited; the requests without a valid token are not the user\'s');
  });

  it('no site console ever received an alert for another site, and no operator one for another company\'s sites', async () => {
    const recips = new Map();
    for (const r of await st.query('SELECT alert_id, array_agg(site_id) AS sites FROM alert_recipients GROUP BY alert_id')) recips.set(r.alert_id, r.sites);
    const guards = new Map((await st.query('SELECT id, guard_org_id FROM sites')).map((r) => [r.id, r.guard_org_id]));
    const check = (s, siteOk) => {
      for (const m of s.seen.filter((x) => x.type === 'alert' || x.type === 'in_force')) {
        const id = m.alert?.id ?? m.alert_id;
        const sites = recips.get(id) || [];
        assert.ok(sites.some(siteOk), `${s.label} got alert ${id} (${m.type}) for sites ${sites}`);
      }
    };
    check(S.site_console, (x) => x === 1);
    check(X.console12, (x) => x === 12);
    check(S.company_operator, (x) => guards.get(x) === citadel);
    check(X.opB, (x) => guards.get(x) === bastion);
    for (const role of ['controller', 'analyst', 'admin']) {
      assert.ok(!S[role].seen.some((m) => m.type === 'alert'), `${role} got an alert frame`);
    }
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await st.stop();
  });
});

describe('identity comes from the token, never from the frame', { timeout: 180_000 }, () => {
  let st;
  let ctl, con;
  let ctlUser, conUser, bastionOp;

  before(async () => {
    st = await Stack.create({ label: `${import.meta.url}-identity` });
    ctl = await st.connectAs('controller');
    con = await st.connectAs('console.threadneedle');
    ctlUser = await st.one(`SELECT * FROM users WHERE username = 'controller'`);
    conUser = await st.one(`SELECT * FROM users WHERE username = 'console.threadneedle'`);
    bastionOp = await st.one(`SELECT * FROM users WHERE username = 'op.bastion'`);
  });
  after(async () => { await st?.cleanup(); });

  const forged = () => ({
    sender: { user_id: bastionOp.id, display_name: 'Forged', org_id: bastionOp.org_id, org_name: 'Forged' },
    user_id: bastionOp.id, org_id: bastionOp.org_id, role: 'admin', site_id: 12, username: 'op.bastion', by: 'Forged',
  });

  it('a publish with forged sender, user_id, org_id and role is stored, sent and audited as the real user', async () => {
    const r = await ctl.request({ type: 'publish', headline: 'identity check', severity: 'minor', targets: { sites: [1] }, ...forged() });
    assert.equal(r.type, 'published', JSON.stringify(r));
    const a = await con.next((m) => m.type === 'alert' && m.alert.id === r.alert_id, 8000, 'the alert');
    assert.deepEqual(a.alert.sender, { user_id: ctlUser.id, display_name: ctlUser.display_name, org_id: ctlUser.org_id,
      org_name: 'City Police Control Room' });
    const row = await st.one('SELECT sender_user_id, sender_org_id FROM alerts WHERE id = $1', [r.alert_id]);
    assert.deepEqual(row, { sender_user_id: ctlUser.id, sender_org_id: ctlUser.org_id });
    const audit = await st.query(`SELECT actor_user_id, actor_username, actor_role, actor_org_id FROM audit
                                   WHERE alert_id = $1 AND action IN ('publish', 'disclose')`, [r.alert_id]);
    assert.ok(audit.length >= 2);
    for (const x of audit) {
      assert.deepEqual(x, { actor_user_id: ctlUser.id, actor_username: 'controller', actor_role: 'controller', actor_org_id: ctlUser.org_id });
    }
    // ack, read and answer with a forged site and user count for the console's own site and user.
    for (const [type, extra, ok] of [['ack', {}, 'acked'], ['read', {}, 'read_ok']]) {
      const x = await con.request({ type, alert_id: r.alert_id, ...extra, ...forged() });
      assert.equal(x.type, ok, JSON.stringify(x));
    }
    const acks = await st.query('SELECT site_id, user_id FROM acks WHERE alert_id = $1', [r.alert_id]);
    assert.deepEqual(acks, [{ site_id: 1, user_id: conUser.id }]);
    const rows = await waitFor(async () => {
      const got = await st.query(`SELECT action, actor_user_id, actor_role, site_id FROM audit
                                   WHERE alert_id = $1 AND action IN ('ack', 'read') ORDER BY action`, [r.alert_id]);
      return got.length === 2 ? got : null;
    }, { timeoutMs: 10000, what: 'ack and read audit rows' });
    for (const { action, ...x } of rows) assert.deepEqual(x, { actor_user_id: conUser.id, actor_role: 'site_console', site_id: 1 }, action);
  });

  it('an answer, a status report and a partner report with forged fields are the console\'s own', async () => {
    const p = await ctl.request({ type: 'publish', headline: 'who answers', severity: 'minor', targets: { sites: [1] }, request: { kind: 'choice', options: ['A', 'B'] } });
    assert.equal(p.type, 'published', JSON.stringify(p));
    const ans = await con.request({ type: 'answer', alert_id: p.alert_id, choice: 'A', ...forged() });
    assert.equal(ans.type, 'answered', JSON.stringify(ans));
    assert.deepEqual(await st.query('SELECT site_id, user_id FROM answers WHERE alert_id = $1', [p.alert_id]), [{ site_id: 1, user_id: conUser.id }]);
    const s = await con.request({ type: 'status', people: 1, officers: 0, trauma_packs: 0, first_aid_kits: 0, defibrillators: 0,
      cctv: 'down', state: 'lockdown', ...forged() });
    assert.equal(s.type, 'status_ok', JSON.stringify(s));
    assert.equal(s.site_id, 1);
    assert.deepEqual(await st.one('SELECT site_id, user_id FROM status_reports WHERE id = $1', [s.report_id]), { site_id: 1, user_id: conUser.id });
    const rep = await con.request({ type: 'report', kind: 'other', text: 'forged fields', ...forged() });
    assert.equal(rep.type, 'reported', JSON.stringify(rep));
    const live = await ctl.next((m) => m.type === 'partner_report' && m.report.id === rep.report_id, 8000, 'the report');
    assert.equal(live.report.by, conUser.display_name);
    assert.equal(live.report.site_id, 1);
    assert.equal(live.report.org_id, conUser.org_id);
    const audit = await st.query(`SELECT action, actor_user_id, actor_org_id, site_id FROM audit
                                   WHERE action IN ('answer', 'status_report', 'partner_report') ORDER BY id`);
    assert.deepEqual(audit.map((a) => a.action), ['answer', 'status_report', 'partner_report']);
    for (const a of audit) {
      assert.equal(a.actor_user_id, conUser.id, JSON.stringify(a));
      assert.equal(a.actor_org_id, conUser.org_id, JSON.stringify(a));
      assert.equal(a.site_id, 1, JSON.stringify(a));
    }
  });

  it('a hello with forged user fields beside the token is the token\'s user', async () => {
    const s = await st.openSocket({ label: 'forged-hello' });
    s.send({ type: 'hello', token: await st.token('console.threadneedle'), user: { id: bastionOp.id, role: 'admin' }, role: 'admin', site_id: 12 });
    const w = await s.next((m) => m.type === 'welcome' || m.type === 'error', 8000, 'welcome');
    assert.equal(w.type, 'welcome', JSON.stringify(w));
    assert.equal(w.user.id, conUser.id);
    assert.equal(w.user.role, 'site_console');
    assert.equal(w.user.site_id, 1);
    const d = await s.request({ type: 'directory' });
    assert.deepEqual(d.sites.map((x) => x.id), [1]);
    s.close();
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await st.stop();
  });
});

describe('tokens: tampered, wrong-key, expired and revoked tokens are refused, over HTTP too', { timeout: 180_000 }, () => {
  let st;
  let image;     // an image the controller may fetch

  before(async () => {
    st = await Stack.create({ label: `${import.meta.url}-tokens` });
    const r = await upload(st.broker, await st.token('controller'), makePng(2, 2));
    assert.equal(r.status, 201, r.text);
    image = r.json.image_id;
  });
  after(async () => { await st?.cleanup(); });

  // One byte of the decoded payload flipped (the JSON stays valid: a digit of "sub").
  function flipPayloadByte(token) {
    const [v, payload, tag] = token.split('.');
    const json = Buffer.from(payload, 'base64url').toString('utf8');
    const flipped = json.replace(/"sub":(\d)/, (_, d) => `"sub":${(Number(d) + 1) % 10}`);
    assert.notEqual(flipped, json);
    return `${v}.${b64url(Buffer.from(flipped, 'utf8'))}.${tag}`;
  }
  function flipTagByte(token) {
    const [v, payload, tag] = token.split('.');
    const raw = Buffer.from(tag, 'base64url');
    raw[5] ^= 0x01;
    return `${v}.${payload}.${b64url(raw)}`;
  }

  async function refusedOverHttp(token, code) {
    const f = await fetchImage(st.broker, token, image);
    assert.equal(f.status, 401, `fetch: ${f.text}`);
    assert.equal(f.json?.error?.code, code, f.text);
    assert.match(String(f.headers['www-authenticate']), /^Bearer/);
    const u = await upload(st.broker, token, makePng(2, 2, { seed: 9 }));
    assert.equal(u.status, 401, `upload: ${u.text}`);
    assert.equal(u.json?.error?.code, code, u.text);
  }

  async function refusedAtHello(token, code) {
    const s = await st.openSocket({ label: `hello ${code}` });
    s.send({ type: 'hello', token });
    const e = await s.next((m) => m.type === 'error', 8000, code);
    assert.equal(e.code, code, JSON.stringify(e));
    const c = await s.waitClosed(8000);
    assert.equal(c.code, 4401);
  }

  it('the genuine token works for both (the checks below can fail)', async () => {
    const t = await st.token('controller');
    const f = await fetchImage(st.broker, t, image);
    assert.equal(f.status, 200, f.text);
    const s = await st.connect(t, { label: 'genuine' });
    s.close();
  });

  it('a payload byte flipped: auth_invalid at hello and over HTTP', async () => {
    const bad = flipPayloadByte(await st.token('controller'));
    await refusedAtHello(bad, 'auth_invalid');
    await refusedOverHttp(bad, 'auth_invalid');
  });

  it('a tag byte flipped: auth_invalid at hello and over HTTP', async () => {
    const bad = flipTagByte(await st.token('controller'));
    await refusedAtHello(bad, 'auth_invalid');
    await refusedOverHttp(bad, 'auth_invalid');
  });

  it('signed with another key: auth_invalid over HTTP', async () => {
    const claims = decodeToken(await st.token('analyst'));
    await refusedOverHttp(signToken(Buffer.alloc(32, 9), claims), 'auth_invalid');
  });

  it('expired (signed with the real key): auth_expired over HTTP', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { ...decodeToken(await st.token('analyst')), iat: now - 7200, exp: now - 60 };
    await refusedOverHttp(st.forgeToken(claims), 'auth_expired');
  });

  it('revoked (tokens_valid_after bumped): auth_revoked at hello, and over HTTP', async () => {
    const now = Math.floor(Date.now() / 1000);
    const old = st.forgeToken({ ...decodeToken(await st.token('analyst')), iat: now - 60, exp: now + 600 });
    const f = await fetchImage(st.broker, old, image);
    assert.equal(f.status, 200, `before the revocation: ${f.text}`);
    await st.query(`SELECT tocsin_revoke_tokens('analyst')`);
    await refusedOverHttp(old, 'auth_revoked');
    await refusedAtHello(old, 'auth_revoked');
    // A fresh sign-in works again.
    const fresh = (await st.http('POST', '/api/login', { body: { username: 'analyst', password: 'analyst-demo' } })).json.token;
    const ok = await fetchImage(st.broker, fresh, image);
    assert.equal(ok.status, 200, ok.text);
  });

  // The CAP export checks the token's iat against revocations
  // (tocsin_cap_export_token, sql/functions/cap.sql), as the image
  // endpoints do: a lost device's token stops exporting.
  it('a revoked token cannot export CAP either (401 auth_revoked)', async () => {
    const ctl = await st.connectAs('controller');
    const p = await ctl.request({ type: 'publish', headline: 'cap after revocation', severity: 'minor', targets: { sites: [1] } }, 10000);
    assert.equal(p.type, 'published', JSON.stringify(p));
    const now = Math.floor(Date.now() / 1000);
    const old = st.forgeToken({ ...decodeToken(await st.token('console.threadneedle')), iat: now - 60, exp: now + 600 });
    const get = () => st.http('GET', `/api/alerts/${p.alert_id}/cap`, { headers: { authorization: `Bearer ${old}` } });
    const before = await get();
    assert.equal(before.status, 200, `before the revocation: ${before.text}`);
    await st.query(`SELECT tocsin_revoke_tokens('console.threadneedle')`);
    const after = await get();
    assert.equal(after.status, 401, after.text);
    assert.equal(after.json?.error?.code, 'auth_revoked', after.text);
  });

  it('a disabled user\'s token: auth_revoked over HTTP', async () => {
    const t = await st.token('controller2');
    await st.query(`UPDATE users SET disabled = true WHERE username = 'controller2'`);
    try {
      await refusedOverHttp(t, 'auth_revoked');
    } finally {
      await st.query(`UPDATE users SET disabled = false WHERE username = 'controller2'`);
    }
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await st.stop();
  });
});

describe('a company relays only what it was sent', { timeout: 180_000 }, () => {
  let st;
  let ctl, op;
  const quietConsoles = [];

  before(async () => {
    st = await Stack.create({ label: `${import.meta.url}-relay`, broker: { args: ['--escalate-after', '2'] } });
    ctl = await st.connectAs('controller');
    op = await st.connectAs('op.citadel');
    for (const c of ['console.cornhill', 'console.leadenhall']) quietConsoles.push(await st.connectAs(c));
  });
  after(async () => { await st?.cleanup(); });

  it('an alert the force sent to consoles only: the operator may not relay it (forbidden), no other site hears it', async () => {
    const p = await ctl.request({ type: 'publish', headline: 'consoles only', severity: 'minor',
      targets: { sites: [1], roles: ['site_console'] } });
    assert.equal(p.type, 'published', JSON.stringify(p));
    const r = await op.request({ type: 'relay', alert_id: p.alert_id, note: 'pass it on' });
    assert.equal(r.type, 'error', `the operator was never sent alert ${p.alert_id}: ${JSON.stringify(r)}`);
    assert.equal(r.code, 'forbidden');
    for (const c of quietConsoles) assert.equal(await never(c, (m) => m.type === 'alert'), 'hidden');
    assert.equal((await st.one('SELECT count(*)::int AS n FROM alerts WHERE relay_of = $1', [p.alert_id])).n, 0);
  });

  it('an OFFICIAL-SENSITIVE alert: an operator who is not cleared may not relay it (forbidden)', async () => {
    const p = await ctl.request({ type: 'publish', headline: 'sensitive', severity: 'minor',
      classification: 'OFFICIAL-SENSITIVE', targets: { sites: [1] } });
    assert.equal(p.type, 'published', JSON.stringify(p));
    // An operator signed in while not cleared. (A session whose account
    // changes under it is closed by the revocation sweep within seconds,
    // docs/security.md: so the account changes first, then signs in, and
    // signs in again once cleared; using one session across the change
    // raced the sweep.)
    await st.query(`UPDATE users SET cleared_sensitive = false WHERE username = 'op.citadel'`);
    try {
      const uncleared = await st.connectAs('op.citadel', { label: 'op.citadel (not cleared)', fresh: true });
      const r = await uncleared.request({ type: 'relay', alert_id: p.alert_id, note: 'pass it on' });
      assert.equal(r.type, 'error', JSON.stringify(r));
      assert.equal(r.code, 'forbidden');
      uncleared.close();
    } finally {
      await st.query(`UPDATE users SET cleared_sensitive = true WHERE username = 'op.citadel'`);
    }
    // Cleared again, the same operator may.
    op.close();
    op = await st.connectAs('op.citadel', { fresh: true });
    const ok = await op.request({ type: 'relay', alert_id: p.alert_id, sites: [1], note: 'cleared' });
    assert.equal(ok.type, 'relayed', JSON.stringify(ok));
  });

  it('escalation of a consoles-only alert still reaches the guarding company (docs/security.md: arguable, by design)', async () => {
    const p = await ctl.request({ type: 'publish', headline: 'consoles only, severe', severity: 'severe',
      targets: { sites: [2], roles: ['site_console'] } });
    assert.equal(p.type, 'published', JSON.stringify(p));
    assert.equal(await never(op, (m) => m.type === 'alert' && m.alert?.id === p.alert_id), 'hidden', 'not sent to the operator');
    const e = await op.next((m) => m.type === 'escalation' && m.alert_id === p.alert_id, 20000, 'the escalation at Citadel');
    assert.equal(e.site_id, 2);
    assert.equal(e.alert.id, p.alert_id, 'the escalation carries the whole alert');
  });

  async function never(s, pred, ms = QUIET_MS) {
    await sleep(ms);
    const m = s.seen.find(pred);
    return m ? `leaked: ${JSON.stringify(m)}` : 'hidden';
  }

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await st.stop();
  });
});
