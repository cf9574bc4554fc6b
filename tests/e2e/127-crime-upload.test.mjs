// A company desk's CSV of crime records (issue 21, item 2: "bulk CSV
// upload from the desk"): POST /api/crime/upload stores every row as the
// company's, audited once with the ids, and matches sightings against the
// stolen-property register; a file with a bad header, a wrong column
// count, a quote out of place, bad coordinates, a time ahead, an unknown
// category, a NUL byte, bytes that are not UTF-8, or too much of it is
// refused with the line named, and nothing of it is stored.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Stack } from './lib/harness.mjs';

const HEADER = 'occurred_at,category,lat,lon,text,property_kind,property_make,property_model,property_serial,property_status';

describe('a desk\'s CSV of crime records', { timeout: 180_000 }, () => {
  let st, op, orgId, before0;
  const count = async () => Number((await st.one('SELECT count(*) AS n FROM crime_records')).n);
  const upload = async (user, body) => st.http('POST', '/api/crime/upload', {
    body, headers: { authorization: `Bearer ${await st.token(user)}`, 'content-type': 'text/csv' },
  });
  const at = (minsAgo) => new Date(Date.now() - minsAgo * 60_000).toISOString();
  const csv = (...rows) => [HEADER, ...rows].join('\r\n') + '\r\n';

  // The answer to a POST that announces `length` bytes and sends a few.
  const rawPost = (urlPath, token, length) => new Promise((resolve, reject) => {
    const sock = net.connect(st.broker.port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`no answer: ${got}`)); }, 10_000);
    sock.on('connect', () => sock.write(`POST ${urlPath} HTTP/1.1\r\nHost: 127.0.0.1\r\n`
      + `Authorization: Bearer ${token}\r\nContent-Type: text/csv\r\nContent-Length: ${length}\r\n\r\nxxxx`));
    sock.on('data', (d) => { got += d; if (/\r\n\r\n[\s\S]*\}/.test(got)) { clearTimeout(timer); sock.destroy(); resolve(got); } });
    sock.on('error', () => {});
    sock.on('close', () => { clearTimeout(timer); resolve(got); });
  });

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    ({ u: op, org_id: orgId } = await st.one(`SELECT min(username) AS u, min(org_id) AS org_id FROM users
        WHERE role = 'company_operator' AND NOT disabled AND org_id = (SELECT min(org_id) FROM users
        WHERE role = 'company_operator' AND NOT disabled)`));
    before0 = await count();
  });
  after(async () => { await st?.cleanup(); });

  it('stores every row as the company\'s, audited once with the ids', async () => {
    const r = await upload(op, csv(
      `${at(90)},shoplifting,51.5142,-0.0885,"Two bottles of perfume, ""Chanel"" brand",,,,,`,
      `${at(60)},theft-from-the-person,51.5150,-0.0901,,mobile phone,Apple,iPhone 14,35-332211-445566-7,stolen`,
      `${at(30)},criminal-damage-arson,51.5131,-0.0870,Window of the side door,,,,,`,
    ));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.added, 3);
    assert.equal(r.json.matches, undefined, 'the desk is not told of matches');
    const rows = await st.query(`SELECT id, source, org_id, category, note, property_model, property_status,
                                        serial_hash, at_precision FROM crime_records WHERE id = ANY($1) ORDER BY id`,
    [r.json.record_ids]);
    assert.equal(rows.length, 3);
    assert.ok(rows.every((x) => x.source === 'partner' && x.org_id === orgId && x.at_precision === 'minute'));
    assert.equal(rows[0].note, 'Two bottles of perfume, "Chanel" brand', 'quoted field with a comma and quotes');
    assert.equal(rows[1].property_model, 'iPhone 14');
    assert.match(rows[1].serial_hash, /^[0-9a-f]{64}$/);
    const audit = await st.query(`SELECT * FROM audit WHERE action = 'crime_records_added' AND detail->>'upload' = 'true'`);
    assert.equal(audit.length, 1);
    assert.deepEqual(audit[0].detail.record_ids.map(Number), r.json.record_ids.map(Number));
    assert.equal(audit[0].actor_org_id, orgId);
    assert.ok(!JSON.stringify(audit).includes('332211'), 'the serial is not in the audit trail');
  });

  it('matches an uploaded sighting against the register', async () => {
    const r = await upload(op, csv(`${at(5)},other-theft,51.5160,-0.0950,Seen at the market,mobile phone,,,353322114455667,sighted`));
    assert.equal(r.status, 200, r.text);
    const item = await st.one(`SELECT kind, lat, lon, crime_record_id FROM partner_reports WHERE kind = 'property_match'`);
    assert.equal(Number(item.crime_record_id), Number(r.json.record_ids[0]));
    assert.equal(item.lat, 51.516);
  });

  it('refuses a bad file with the line named, and stores nothing of it', async () => {
    const n = await count();
    const good = `${at(10)},burglary,51.5142,-0.0885,ok,,,,,`;
    const cases = [
      ['a wrong header', 'when,what\r\n' + good, 400, 'bad_csv', null, /^line 1: the header must be occurred_at,category/],
      ['no rows', HEADER + '\r\n', 400, 'bad_csv', null, /^line 1:/],
      ['a wrong column count', csv(good, good, `${at(10)},burglary,51.5142,-0.0885,ok`), 400, 'bad_csv', null, /^line 4: 10 columns expected, not 5$/],
      ['a quote out of place', csv(good, `${at(10)},burglary,51.5142,-0.0885,the "bad" one,,,,,`), 400, 'bad_csv', null, /^line 3: a quote out of place/],
      ['bad coordinates', csv(good, good, `${at(10)},burglary,48.8566,2.3522,Paris,,,,,`), 400, 'bad_field', 'lat', /^line 4: lat must be a number in the force's area/],
      ['a number that is not one', csv(`${at(10)},burglary,51.5142,west,x,,,,,`), 400, 'bad_field', 'lon', /^line 2: lon/],
      ['a time ahead', csv(good, `${new Date(Date.now() + 86_400_000).toISOString()},burglary,51.5142,-0.0885,x,,,,,`), 400, 'bad_field', 'occurred_at', /^line 3: occurred_at is in the future$/],
      ['a time that is not one', csv(`last tuesday,burglary,51.5142,-0.0885,x,,,,,`), 400, 'bad_field', 'occurred_at', /^line 2: occurred_at must be an RFC 3339 time/],
      ['an unknown category', csv(good, `${at(10)},jaywalking,51.5142,-0.0885,x,,,,,`), 400, 'bad_field', 'category', /^line 3: no crime category "jaywalking"$/],
      ['a bad status', csv(`${at(10)},burglary,51.5142,-0.0885,x,phone,,,123456,lost`), 400, 'bad_field', 'property.status', /^line 2:/],
      ['a sighting without its serial', csv(`${at(10)},burglary,51.5142,-0.0885,x,phone,,,,sighted`), 400, 'bad_field', 'property.serial', /^line 2:/],
      ['a bad serial', csv(good, `${at(10)},burglary,51.5142,-0.0885,x,phone,,,12,stolen`), 400, 'bad_field', 'property.serial', /^line 3:/],
      ['a long property', csv(`${at(10)},burglary,51.5142,-0.0885,x,${'p'.repeat(65)},,,,`), 400, 'bad_field', 'property.kind', /^line 2:/],
      ['a NUL byte', csv(good, `${at(10)},burglary,51.5142,-0.0885,x\0,,,,,`), 400, 'bad_csv', null, /^line 3: a NUL byte/],
      ['bytes that are not UTF-8', Buffer.concat([Buffer.from(csv(good)), Buffer.from([0x43, 0x61, 0x66, 0xe9, 0x0d, 0x0a])]), 400, 'bad_csv', null, /^line 3: the file must be UTF-8 text$/],
    ];
    for (const [what, body, status, code, field, message] of cases) {
      const r = await upload(op, body);
      assert.equal(r.status, status, `${what}: ${r.text.slice(0, 300)}`);
      assert.equal(r.json?.error?.code, code, `${what}: ${r.text.slice(0, 300)}`);
      assert.equal(r.json.error.field ?? null, field, `${what}: ${r.text.slice(0, 300)}`);
      assert.match(r.json.error.message, message, what);
    }
    // 10 MB of junk is refused from its Content-Length, before any of it
    // is read (a raw request: the broker answers and closes while a client
    // library would still be writing)
    const big = await rawPost('/api/crime/upload', await st.token(op), 10 * 1024 * 1024);
    assert.match(big, /^HTTP\/1\.1 413 /, big);
    assert.match(big, /"code":"too_large"/);
    assert.equal(await count(), n, 'nothing half-imported');
  });

  it('is the desk\'s alone: the force and a console are refused', async () => {
    const n = await count();
    const body = csv(`${at(10)},burglary,51.5142,-0.0885,x,,,,,`);
    for (const user of ['controller', 'console.threadneedle', 'admin']) {
      const r = await upload(user, body);
      assert.equal(r.status, 403, `${user}: ${r.text}`);
      assert.equal(r.json.error.code, 'forbidden');
    }
    const none = await st.http('POST', '/api/crime/upload', { body, headers: { 'content-type': 'text/csv' } });
    assert.equal(none.status, 401, none.text);
    assert.equal(await count(), n);
    assert.ok(n > before0);
  });
});
