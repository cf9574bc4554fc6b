// A pending CAP import (issue 18, item 1) is closed one of two ways, for
// every desk at once: a controller publishes it (publish's
// pending_import: every controller and analyst then hears the import
// closed as published, by whom, with its alert) or rejects it with a
// reason (`import_reject`: the item closed for everyone, the reason on
// the item and in the audit). Bad input gets a typed error and changes
// nothing: no such report, a report that is not a pending import, one
// already closed, no reason (or only spaces, or too long), a role that is
// not the force's.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import * as bus from './lib/bus.mjs';
import { CAP, EXAMPLES, capAdapter, runCap as run, show } from './lib/cap.mjs';

describe('a pending CAP import is published or rejected, once, for every desk', { timeout: 300_000 }, () => {
  let st, tmp, capArgs, site, ctl, ctl2, analyst;

  // Imports example 1 under identifier ident with no geocode mapped: held
  // as a pending import; resolves its report id.
  const pending = async (ident) => {
    const f = path.join(tmp, `${ident}.xml`);
    fs.writeFileSync(f, fs.readFileSync(path.join(EXAMPLES, 'a1-homeland-security-advisory.xml'), 'utf8')
      .replace('43b080713727', ident));
    const r = await run(CAP, ['import', ...capArgs, f]);
    assert.equal(r.code, 0, show(r));
    const m = /^pending (\d+)$/.exec(r.out.trim());
    assert.ok(m, `held, not published: ${show(r)}`);
    return Number(m[1]);
  };
  const row = (id) => st.one('SELECT handled_at IS NOT NULL AS handled, handled_by, alert_id, reject_reason FROM partner_reports WHERE id = $1', [id]);

  before(async () => {
    st = await bus.startBusStack({ label: import.meta.url });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tocsin-170-'));
    ({ id: site } = await st.one("SELECT id FROM sites WHERE name = 'Threadneedle Exchange House'"));
    ({ args: capArgs } = await capAdapter(st, tmp, 'cap-reject'));
    ctl = await st.connectAs('controller');
    ctl2 = await st.connectAs('controller2');
    analyst = await st.connectAs('analyst');
  });
  after(async () => {
    for (const s of [ctl, ctl2, analyst]) s?.close();
    await st?.cleanup();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('a rejection with a reason closes the import for every desk and is audited', async () => {
    const id = await pending('REJECT-1');
    const r = await ctl.request({ type: 'import_reject', report_id: id, reason: 'Not for the City: US national advisory' });
    assert.equal(r.type, 'report_updated', JSON.stringify(r));
    assert.equal(r.report.id, id);
    assert.ok(r.report.handled_at, 'closed');
    assert.equal(r.report.reject_reason, 'Not for the City: US national advisory');
    assert.equal(r.report.alert_id, null);
    for (const other of [ctl2, analyst]) {
      const live = await other.next((m) => m.type === 'report_updated' && m.report.id === id, 20_000);
      assert.equal(live.report.reject_reason, 'Not for the City: US national advisory');
      assert.ok(live.report.handled_by, 'who rejected it');
    }
    const audit = await st.query("SELECT actor_username, detail FROM audit WHERE action = 'report_updated' AND (detail->>'report_id')::bigint = $1", [id]);
    assert.equal(audit.length, 1, JSON.stringify(audit));
    assert.equal(audit[0].actor_username, 'controller');
    assert.equal(audit[0].detail.change, 'rejected');
    assert.equal(audit[0].detail.reason, 'Not for the City: US national advisory');
    assert.equal(audit[0].detail.identifier, 'REJECT-1');
    assert.equal(audit[0].detail.sender, 'hsas@dhs.gov');
    const open = await ctl2.request({ type: 'inbox', kind: 'cap_import', handled: false });
    assert.ok(!open.reports.some((x) => x.id === id), 'no longer open');

    // closed: neither rejected again nor published
    const again = await ctl2.request({ type: 'import_reject', report_id: id, reason: 'twice' });
    assert.equal(again.type, 'error');
    assert.equal(again.code, 'not_pending', JSON.stringify(again));
    assert.equal(again.field, 'report_id');
    const pub = await ctl2.request({ type: 'publish', pending_import: id, headline: 'x', body: 'y', severity: 'minor', targets: { sites: [site] } });
    assert.equal(pub.field, 'pending_import', JSON.stringify(pub));
  });

  it('bad input gets a typed error and changes nothing', async () => {
    const id = await pending('REJECT-2');
    const cases = [
      [{ report_id: id }, 'missing_field', 'reason'],
      [{ report_id: id, reason: '' }, 'bad_field', 'reason'],
      [{ report_id: id, reason: '   \t ' }, 'bad_field', 'reason'],
      [{ report_id: id, reason: 'x'.repeat(501) }, 'bad_field', 'reason'],
      [{ report_id: id, reason: 42 }, 'bad_field', 'reason'],
      [{ reason: 'why' }, 'missing_field', 'report_id'],
      [{ report_id: 'seven', reason: 'why' }, 'bad_field', 'report_id'],
      [{ report_id: 99999999, reason: 'why' }, 'unknown_target', 'report_id'],
    ];
    for (const [frame, code, field] of cases) {
      const r = await ctl.request({ type: 'import_reject', ...frame });
      assert.equal(r.type, 'error', JSON.stringify([frame, r]));
      assert.equal(r.code, code, JSON.stringify([frame, r]));
      assert.equal(r.field, field, JSON.stringify([frame, r]));
    }
    // a report that is not a pending import
    const con = await st.connectAs('console.threadneedle');
    const sighting = await con.request({ type: 'report', kind: 'sighting', text: 'a van' });
    assert.equal(sighting.type, 'reported', JSON.stringify(sighting));
    let r = await ctl.request({ type: 'import_reject', report_id: sighting.report_id, reason: 'why' });
    assert.equal(r.code, 'not_pending', JSON.stringify(r));
    // not the force's
    r = await con.request({ type: 'import_reject', report_id: id, reason: 'why' });
    assert.equal(r.code, 'forbidden', JSON.stringify(r));
    con.close();
    const op = await st.connectAs('op.citadel');
    r = await op.request({ type: 'import_reject', report_id: id, reason: 'why' });
    assert.equal(r.code, 'forbidden', JSON.stringify(r));
    op.close();
    assert.deepEqual(await row(id), { handled: false, handled_by: null, alert_id: null, reject_reason: null });
    assert.equal(Number((await st.one("SELECT count(*) AS n FROM audit WHERE action = 'report_updated' AND (detail->>'report_id')::bigint = $1", [id])).n), 0);
    // still open: an analyst rejects it
    r = await analyst.request({ type: 'import_reject', report_id: id, reason: 'Duplicate of an earlier advisory' });
    assert.equal(r.type, 'report_updated', JSON.stringify(r));
  });

  it('a publish of the import closes it live for every desk, with the alert and who published', async () => {
    const id = await pending('PUBLISH-1');
    const pub = await ctl.request({ type: 'publish', pending_import: id, headline: 'Homeland Security Sets Code ORANGE',
      body: 'Threat level raised', severity: 'severe', targets: { sites: [site] } });
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    for (const desk of [ctl, ctl2, analyst]) {
      const live = await desk.next((m) => m.type === 'report_updated' && m.report.id === id, 20_000);
      assert.equal(live.report.alert_id, pub.alert_id);
      assert.ok(live.report.handled_at);
      assert.equal(live.report.handled_by, (await st.one("SELECT display_name FROM users WHERE username = 'controller'")).display_name);
      assert.equal(live.report.reject_reason, null);
    }
    const r = await ctl2.request({ type: 'import_reject', report_id: id, reason: 'too late' });
    assert.equal(r.code, 'not_pending', JSON.stringify(r));
  });

  it('opened again, a rejected import loses its reason and may be published', async () => {
    const id = await pending('REOPEN-1');
    let r = await ctl.request({ type: 'import_reject', report_id: id, reason: 'by mistake' });
    assert.equal(r.type, 'report_updated', JSON.stringify(r));
    r = await ctl.request({ type: 'report_update', report_id: id, handled: false });
    assert.equal(r.type, 'report_updated', JSON.stringify(r));
    assert.equal(r.report.reject_reason, null);
    assert.equal(r.report.handled_at, null);
    const pub = await ctl.request({ type: 'publish', pending_import: id, headline: 'Code ORANGE', body: 'b', severity: 'severe', targets: { sites: [site] } });
    assert.equal(pub.type, 'published', JSON.stringify(pub));
  });
});
