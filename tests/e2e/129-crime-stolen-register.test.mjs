// The force's stolen-property register from the command line (issue 21,
// item 4): tocsinctl crime stolen add|list|remove
// (broker/ctl/ctl_crime_stolen.c, sql/functions/crime_stolen.sql). A
// serial the force adds is kept only as the keyed hash partners' serials
// get; a console's later sighting of it, however it is written, puts a
// property_match item in the control room's inbox with the place; bad
// input is refused naming the option and stores nothing; every change is
// audited; a removed entry matches nothing more.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import path from 'node:path';
import { Stack, ROOT, consoleDirectory } from './lib/harness.mjs';

const TOCSINCTL = path.join(ROOT, 'build/tocsinctl');
const IMEI = '35-209900-176148-1';

function ctl(args, db) {
  return new Promise((resolve) => {
    execFile(TOCSINCTL, args, { timeout: 60_000, env: { ...process.env, DATABASE_URL: db } },
      (err, stdout, stderr) => {
        let json;
        try { json = JSON.parse(stdout); } catch { json = undefined; }
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, out: stdout, err: stderr, json });
      });
  });
}
const show = (r) => `exit ${r.code}\nstdout: ${r.out}\nstderr: ${r.err}`;

describe('tocsinctl crime stolen: the force\'s register, matched by partners\' sightings', () => {
  let st, db, ctlSession, console_, site, entry;
  const isMatch = (m) => m.type === 'partner_report' && m.report?.kind === 'property_match';
  const sighting = (serial) => console_.request({
    type: 'crime_report', category: 'other-theft', occurred_at: new Date(Date.now() - 600_000).toISOString(),
    text: 'Handset handed in at the front desk',
    property: { kind: 'mobile phone', serial, status: 'sighted' },
  });
  const registerState = async () => st.one(`
      SELECT (SELECT count(*) FROM crime_stolen_property)::int AS entries,
             (SELECT count(*) FROM audit WHERE action LIKE 'stolen\\_property\\_%')::int AS audits`);

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    db = execFileSync(path.join(ROOT, 'deploy/pg-local.sh'),
      ['url', process.env.TOCSIN_TEST_VAR, 'tocsin_admin', st.db.name], { encoding: 'utf8' }).trim();
    site = (await consoleDirectory(st))[0];
    ctlSession = await st.connectAs('controller');
    console_ = await st.connectAs(site.username);
  });
  after(async () => { await st?.cleanup(); });

  it('adds a stolen phone, keeping only the keyed hash of its serial, audited', async () => {
    const r = await ctl(['crime', 'stolen', 'add', '--kind', 'phone', '--serial', IMEI, '--make', 'Apple',
                         '--crime-ref', 'CR/4711/26', '--reported', '2026-12-01', '--actor', 'test:129',
                         '--json'], db);
    assert.equal(r.code, 0, show(r));
    entry = Number(r.json[0].id);
    assert.ok(entry > 0, show(r));
    const row = await st.one(`SELECT g.*, g.serial_hash = tocsin_crime_serial_hash('352099001761481') AS same_hash
                                FROM crime_stolen_property g WHERE id = $1`, [entry]);
    assert.equal(row.same_hash, true, 'the hash partners\' serials get');
    assert.deepEqual([row.kind, row.make, row.crime_ref, row.added_by], ['phone', 'Apple', 'CR/4711/26', 'test:129']);
    assert.doesNotMatch(JSON.stringify(row), /176148/, 'the serial itself is not stored');
    const audit = await st.query(`SELECT actor_username, tocsin_audit_category(action) AS category, detail
                                    FROM audit WHERE action = 'stolen_property_added'`);
    assert.equal(audit.length, 1);
    assert.equal(audit[0].actor_username, 'test:129');
    assert.equal(audit[0].category, 'collection');
    assert.equal(Number(audit[0].detail.register_id), entry);
    assert.doesNotMatch(JSON.stringify(audit[0].detail), /176148/);

    const list = await ctl(['crime', 'stolen', 'list', '--json'], db);
    assert.equal(list.code, 0, show(list));
    assert.equal(list.json.length, 1);
    assert.equal(Number(list.json[0].id), entry);
    assert.equal(Number(list.json[0].sightings), 0);
    assert.doesNotMatch(list.out, /176148|serial_hash/);
  });

  it('puts a console\'s sighting of the serial in the control room\'s inbox, with the place', async () => {
    const r = await sighting('352099 001761481');
    assert.equal(r.type, 'crime_reported', JSON.stringify(r));
    const got = await ctlSession.next((m) => isMatch(m) && m.report.crime_record_id === r.record_id,
      10_000, 'the property_match at the controller');
    const rep = got.report;
    assert.equal(rep.place, 'sighting');
    assert.equal(rep.site_id, site.site_id);
    const where = await st.one('SELECT lat, lon FROM sites WHERE id = $1', [site.site_id]);
    assert.ok(Math.abs(rep.lat - where.lat) < 1e-9 && Math.abs(rep.lon - where.lon) < 1e-9, JSON.stringify(rep));
    assert.match(rep.text, new RegExp(`entry ${entry}\\b`));
    assert.match(rep.text, /phone Apple/);
    assert.match(rep.text, /CR\/4711\/26/);
    await console_.expectNothing(isMatch, 300, 'the match told to the partner');
    const inbox = await ctlSession.request({ type: 'inbox' });
    assert.ok(inbox.reports.some((x) => x.id === rep.id && x.kind === 'property_match'), 'in the inbox');
    const audit = await st.query(`SELECT detail FROM audit WHERE action = 'property_match_added'`);
    assert.equal(audit.length, 1);
    assert.equal(Number(audit[0].detail.register_id), entry);
    assert.equal(audit[0].detail.stolen_record_id, undefined);
    const list = await ctl(['crime', 'stolen', 'list', '--json'], db);
    assert.equal(Number(list.json[0].sightings), 1);
  });

  it('refuses bad input naming the option, and stores and audits nothing', async () => {
    const was = await registerState();
    const cases = [
      [['--kind', 'phone', '--serial', ''], 1, /--serial must be 4 to 40 letters and digits/],
      [['--kind', 'phone', '--serial', '12-3'], 1, /--serial must be/],
      [['--kind', 'car', '--serial', '490154203237518'], 1, /--kind must be one of phone, .*not "car"/],
      [['--kind', '', '--serial', '490154203237518'], 1, /--kind must be one of/],
      [['--kind', 'laptop', '--serial', 'C02XK1ZZJGH5', '--reported', 'yesterday'], 1, /--reported must be a date/],
      [['--kind', 'laptop', '--serial', 'C02XK1ZZJGH5', '--reported', '2999-01-01'], 1, /--reported must be a date/],
      [['--kind', 'laptop', '--serial', 'C02XK1ZZJGH5', '--make', ''], 1, /--make must be 1 to 64/],
      [['--kind', 'phone', '--serial', '352099001761481'], 1, new RegExp(`already on the register \\(entry ${entry}\\)`)],
      [['--serial', '490154203237518'], 2, /--kind/],
      [['--kind', 'phone'], 2, /--serial/],
    ];
    for (const [args, code, msg] of cases) {
      const r = await ctl(['crime', 'stolen', 'add', ...args], db);
      assert.equal(r.code, code, `${args.join(' ')}: ${show(r)}`);
      assert.match(r.err, msg, `${args.join(' ')}: ${show(r)}`);
    }
    const bad = await ctl(['crime', 'stolen', 'frob'], db);
    assert.equal(bad.code, 2, show(bad));
    assert.deepEqual(await registerState(), was);
  });

  it('removes an entry, audited as an erasure; its serial matches nothing more', async () => {
    const r = await ctl(['crime', 'stolen', 'remove', String(entry), '--actor', 'test:129'], db);
    assert.equal(r.code, 0, show(r));
    const audit = await st.query(`SELECT tocsin_audit_category(action) AS category, detail FROM audit
                                   WHERE action = 'stolen_property_deleted'`);
    assert.equal(audit.length, 1);
    assert.equal(audit[0].category, 'erasure');
    assert.equal(Number(audit[0].detail.register_id), entry);
    const again = await ctl(['crime', 'stolen', 'remove', String(entry)], db);
    assert.equal(again.code, 4, show(again));
    const notId = await ctl(['crime', 'stolen', 'remove', '12x'], db);
    assert.equal(notId.code, 2, show(notId));
    const s = await sighting(IMEI);
    assert.equal(s.type, 'crime_reported', JSON.stringify(s));
    await ctlSession.next((m) => m.type === 'partner_report' && m.report?.kind === 'crime'
      && m.report.crime_record_id === s.record_id, 10_000, 'the sighting as a crime item');
    await ctlSession.expectNothing(isMatch, 500, 'a match of a removed entry');
  });

  it('stops cleanly (exit 0, no sanitizer report)', () => st.stop());
});
