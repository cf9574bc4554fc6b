// CAP areas as the world writes them (issue 18, item 1). Two of the four
// OASIS examples have no polygon or circle: example 1 only an areaDesc,
// example 4 a SAME geocode. With the administrator's mapping (tocsinctl
// geocode add, audited) both import without --targets and reach the
// mapped sites; a message whose area maps to nothing, or an Update of a
// message never seen here, is held in the control room's inbox as a
// pending import (kind cap_import, the whole request kept) that a
// controller targets and publishes with pending_import, keeping the
// import's origin and adapter as the alert's source. Released once only.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import * as bus from './lib/bus.mjs';
import { CAP, EXAMPLES, runCap as run, show } from './lib/cap.mjs';

describe('CAP geocodes map to sites; what maps to nothing waits in the inbox', { timeout: 300_000 }, () => {
  let st, tmp, capArgs, site, sector, ctl;

  const ctlRun = (args) => bus.tocsinctl(st, args);
  const imp = (file) => run(CAP, ['import', ...capArgs, file]);
  const write = (name, text) => {
    const f = path.join(tmp, name);
    fs.writeFileSync(f, text);
    return f;
  };

  before(async () => {
    st = await bus.startBusStack({ label: import.meta.url });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tocsin-114-'));
    ({ id: site, sector } = await st.one(
      "SELECT s.id, x.code AS sector FROM sites s JOIN sectors x ON x.id = s.sector_id WHERE s.name = 'Threadneedle Exchange House'"));
    const adapter = await bus.addAdapter(st, 'cap-geo', 'controller');
    const ep = bus.busEndpoints(st);
    const serverKey = path.join(tmp, 'server.key.pub');
    fs.writeFileSync(serverKey, `public ${ep.serverPublicKey}\n`);
    capArgs = ['--bus', ep.ingest, '--server-key', serverKey, '--key', adapter.keyFile,
      '--state', path.join(tmp, 'state'), '--timeout', '60'];
    ctl = await st.connectAs('controller');
  });
  after(async () => {
    ctl?.close();
    await st?.cleanup();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('tocsinctl geocode add, list and remove, audited; bad input named', async () => {
    let r = await ctlRun(['geocode', 'add', 'SAME', '006037', '--sites', String(site), '--actor', 'test:114']);
    assert.equal(r.code, 0, r.stderr);
    r = await ctlRun(['geocode', 'add', 'areaDesc', 'u.s. nationwide and interests worldwide', '--sectors', sector]);
    assert.equal(r.code, 0, r.stderr);
    r = await ctlRun(['geocode', 'add', 'ONS', 'E05000001', '--sites', '999999']);
    assert.equal(r.code, 4, 'an unknown site is not found');
    assert.match(r.stderr, /no site with id 999999/);
    r = await ctlRun(['geocode', 'add', 'ONS', 'E05000001', '--sectors', 'no-such-sector']);
    assert.equal(r.code, 4);
    assert.match(r.stderr, /no sector no-such-sector/);
    r = await ctlRun(['geocode', 'add', 'ONS', 'E05000001']);
    assert.equal(r.code, 2, 'nothing to map to is a usage error');
    r = await ctlRun(['geocode', 'add', 'ONS', 'E05000002', '--sites', String(site)]);
    assert.equal(r.code, 0, r.stderr);
    r = await ctlRun(['geocode', 'remove', 'ONS', 'e05000002']);
    assert.equal(r.code, 0, r.stderr);
    r = await ctlRun(['geocode', 'remove', 'ONS', 'E05000002']);
    assert.equal(r.code, 4, 'removing it twice: not found');
    r = await ctlRun(['geocode', 'list', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const list = JSON.parse(r.stdout);
    assert.deepEqual(list.map((g) => `${g.value_name}=${g.value}`).sort(),
      ['SAME=006037', 'areaDesc=u.s. nationwide and interests worldwide']);
    const audit = await st.query("SELECT action, actor_username, detail FROM audit WHERE action LIKE 'geocode_%' ORDER BY id");
    assert.deepEqual(audit.map((a) => a.action), ['geocode_added', 'geocode_added', 'geocode_added', 'geocode_removed']);
    assert.equal(audit[0].actor_username, 'test:114');
    assert.deepEqual(audit[0].detail, { value_name: 'SAME', value: '006037', sites: [site], sectors: [] });
  });

  it('examples 1 and 4 import without --targets and reach the mapped sites', async () => {
    const con = await st.connectAs('console.threadneedle');
    for (const f of ['a1-homeland-security-advisory.xml', 'a4-amber-alert-multilingual.xml']) {
      const r = await imp(path.join(EXAMPLES, f));
      assert.equal(r.code, 0, show(r));
      const id = Number(r.out.trim());
      assert.ok(id > 0, show(r));
      const m = await con.next((x) => x.type === 'alert' && x.alert.id === id, 20_000);
      assert.equal(m.alert.source.adapter, 'cap-geo');
      const sites = await st.query('SELECT site_id FROM alert_recipients WHERE alert_id = $1 ORDER BY site_id', [id]);
      if (f.startsWith('a4')) {
        assert.deepEqual(sites.map((s) => s.site_id), [site], 'SAME 006037 is the one mapped site');
      } else {
        const inSector = await st.query('SELECT s.id FROM sites s JOIN sectors x ON x.id = s.sector_id WHERE x.code = $1 AND NOT s.disabled ORDER BY s.id', [sector]);
        assert.deepEqual(sites.map((s) => s.site_id), inSector.map((s) => s.id), 'the areaDesc maps to the sector');
      }
    }
    con.close();
  });

  it('an area that maps to nothing is held in the inbox; a controller targets and publishes it once', async () => {
    const unmapped = write('unmapped.xml', fs.readFileSync(path.join(EXAMPLES, 'a4-amber-alert-multilingual.xml'), 'utf8')
      .replace('KAR0-0306112239-SW', 'KAR0-UNMAPPED-1').replaceAll('006037', '006999')
      .replaceAll('Los Angeles County', 'Nowhere County'));
    const r = await imp(unmapped);
    assert.equal(r.code, 0, show(r));
    const m = /^pending (\d+)$/.exec(r.out.trim());
    assert.ok(m, `held, not published: ${show(r)}`);
    const reportId = Number(m[1]);
    assert.match(r.err, /held as pending import/);
    assert.equal(Number((await st.one("SELECT count(*) AS n FROM alerts WHERE origin->>'identifier' = 'KAR0-UNMAPPED-1'")).n), 0);

    const live = await ctl.next((x) => x.type === 'partner_report' && x.report.id === reportId, 20_000);
    assert.equal(live.report.kind, 'cap_import');
    assert.match(live.report.text, /SAME=006999/);
    assert.match(live.report.text, /areaDesc=Nowhere County/);
    assert.equal(live.report.cap.origin.identifier, 'KAR0-UNMAPPED-1');
    assert.equal(live.report.cap.cap_info.length, 2, 'both languages are held');
    assert.deepEqual(live.report.cap.targets.geocodes, ['areaDesc=Nowhere County', 'SAME=006999',
      'areaDesc=condado de Los Ángeles'], 'the codes of both info blocks');
    const inbox = await ctl.request({ type: 'inbox', kind: 'cap_import' });
    assert.ok(inbox.reports.some((x) => x.id === reportId && x.kind === 'cap_import'), JSON.stringify(inbox));

    // a second import of the same message is the same pending import
    const again = await imp(unmapped);
    assert.equal(again.out.trim(), `pending ${reportId}`, show(again));

    const cap = live.report.cap;
    const frame = { type: 'publish', pending_import: reportId, headline: cap.headline, body: cap.body,
      severity: cap.severity, urgency: cap.urgency, certainty: cap.certainty, category: cap.category,
      targets: { sites: [site] } };
    const pub = await ctl.request(frame);
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    const row = await st.one('SELECT a.origin, a.cap_info IS NOT NULL AS has_info, ad.name FROM alerts a JOIN adapters ad ON ad.id = a.source_adapter_id WHERE a.id = $1', [pub.alert_id]);
    assert.equal(row.origin.identifier, 'KAR0-UNMAPPED-1');
    assert.equal(row.name, 'cap-geo', 'the source is the adapter that imported it');
    assert.ok(row.has_info);
    const rep = await st.one('SELECT handled_at IS NOT NULL AS handled, alert_id FROM partner_reports WHERE id = $1', [reportId]);
    assert.deepEqual(rep, { handled: true, alert_id: pub.alert_id });

    const twice = await ctl.request(frame);
    assert.equal(twice.type, 'error', JSON.stringify(twice));
    assert.equal(twice.field, 'pending_import');
    const notPending = await ctl.request({ ...frame, pending_import: 999999 });
    assert.equal(notPending.field, 'pending_import', JSON.stringify(notPending));
  });

  it('an Update of a message never seen here is held, linked when its original arrives, and published as its update', async () => {
    const quake = fs.readFileSync(path.join(EXAMPLES, 'a3-earthquake-report-update.xml'), 'utf8');
    const upd = write('upd.xml', quake);
    const r = await imp(upd);
    assert.equal(r.code, 0, show(r));
    const m = /^pending (\d+)$/.exec(r.out.trim());
    assert.ok(m, show(r));
    const reportId = Number(m[1]);
    let rep = await st.one('SELECT kind, text, cap, alert_id FROM partner_reports WHERE id = $1', [reportId]);
    assert.equal(rep.kind, 'cap_import');
    assert.match(rep.text, /refers to a message never imported here \(trinet@caltech\.edu,TRI13970876\.1\)/);
    assert.equal(rep.cap.msg_type, 'update');
    assert.deepEqual(rep.cap.cap_references, ['trinet@caltech.edu,TRI13970876.1,2003-06-11T20:30:00-07:00']);
    assert.equal(rep.alert_id, null);

    // the original arrives (its area mapped by its description)
    const desc = /<areaDesc>(.*)<\/areaDesc>/.exec(quake)[1];
    const g = await ctlRun(['geocode', 'add', 'areaDesc', desc, '--sites', String(site)]);
    assert.equal(g.code, 0, g.stderr);
    const orig = write('orig.xml', quake.replace('TRI13970876.2', 'TRI13970876.1').replace('<msgType>Update</msgType>', '<msgType>Alert</msgType>')
      .replace(/ *<references>.*<\/references>\n/, '').replace('2003-06-11T20:56:00-07:00', '2003-06-11T20:30:00-07:00'));
    const o = await imp(orig);
    assert.equal(o.code, 0, show(o));
    const origId = Number(o.out.trim());
    assert.ok(origId > 0, show(o));
    rep = await st.one('SELECT alert_id, handled_at FROM partner_reports WHERE id = $1', [reportId]);
    assert.deepEqual(rep, { alert_id: origId, handled_at: null }, 'linked, still open');
    const audit = await st.one("SELECT detail FROM audit WHERE action = 'report_updated' AND (detail->>'report_id')::bigint = $1", [reportId]);
    assert.equal(Number(audit.detail.alert_id), origId);

    const pub = await ctl.request({ type: 'publish', msg_type: 'update', references: origId,
      pending_import: reportId, headline: 'Earthquake: update' });
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    const row = await st.one("SELECT references_id, origin->>'identifier' AS ident FROM alerts WHERE id = $1", [pub.alert_id]);
    assert.deepEqual(row, { references_id: origId, ident: 'TRI13970876.2' });
    rep = await st.one('SELECT handled_at IS NOT NULL AS handled, alert_id FROM partner_reports WHERE id = $1', [reportId]);
    assert.deepEqual(rep, { handled: true, alert_id: pub.alert_id });
  });

  it('only an adapter files a cap_import; a partner console cannot', async () => {
    const con = await st.connectAs('console.threadneedle');
    const r = await con.request({ type: 'report', kind: 'cap_import', text: 'x', cap: {} });
    assert.equal(r.type, 'error');
    assert.equal(r.field, 'kind');
    const r2 = await con.request({ type: 'report', kind: 'sighting', text: 'x', cap: {} });
    assert.equal(r2.field, 'cap');
    con.close();
  });
});
