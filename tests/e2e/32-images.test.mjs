// Offender images (docs/protocol.md, "Images (HTTP)"): upload, who may see
// an image, the audit of every view and refusal, and erasure at expiry.
//
// The file's main broker sweeps expired images only every hour, so that a
// fetch after the expiry is seen erasing the image itself; a second broker
// on the same database, started with TOCSIN_IMAGE_SWEEP_SECONDS=1, shows the
// sweep. Expiry is brought forward by setting expires_at in the past as the
// database superuser: no hook in the broker.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  Stack, Broker, RFC3339_MS, consoleDirectory, userByName, waitFor, newRef, sleep,
} from './lib/harness.mjs';
import {
  IMAGE_MAX, IMAGE_ID, makePng, makeJpeg, sha256hex, request, upload, fetchImage, rawExchange,
} from './lib/images-helpers.mjs';

// Read by each broker when it starts (the harness passes our environment on).
process.env.TOCSIN_IMAGE_SWEEP_SECONDS = '3600';

const DAY_MS = 24 * 3600 * 1000;

describe('offender images', { timeout: 240_000 }, () => {
  let st;
  let t0;                       // when the file started, for audit queries
  let compA, compB;             // two companies with consoles and an operator
  let siteT, siteN;             // consoles of two of compA's sites: T is targeted, N never is
  let tok = {};                 // tokens by role name used here
  let users = {};               // user rows
  let ctlWs, conT;              // WebSocket sessions: the publishing controller, T's console
  const png = makePng(1, 1);
  const bigPng = makePng(300, 200, { noise: true, seed: 7 }); // ~180 KB: many write chunks
  const jpeg = makeJpeg();
  let imgP;                     // the controller's PNG, published to site T
  let alertP;                   // that alert's id
  let alertPSeq;                // and its stream position

  async function publishWithImages(images, extra = {}) {
    const ref = newRef('pub');
    ctlWs.send({ type: 'publish', ref, headline: `Offender image test ${ref}`, body: 'Man seen taking laptops from desks.',
      severity: 'moderate', category: 'offender', targets: { sites: [siteT.site_id] }, images, ...extra });
    return ctlWs.next((m) => m.ref === ref, 5000, `reply to ${ref}`);
  }

  async function auditRows(action, where = '', params = []) {
    return st.query(`SELECT id, at, action, actor_user_id, actor_username, actor_role, actor_org_id,
                            alert_id, site_id, remote_addr, detail
                       FROM audit WHERE action = $1 AND at >= $2 ${where} ORDER BY id`, [action, t0, ...params]);
  }

  before(async () => {
    t0 = new Date(Date.now() - 1000);
    st = await Stack.create({ label: import.meta.url });
    const consoles = await consoleDirectory(st);
    const orgs = await st.query(`SELECT o.id, o.name,
        (SELECT min(u.username) FROM users u WHERE u.org_id = o.id AND u.role = 'company_operator' AND NOT u.disabled) AS operator
        FROM organisations o WHERE o.kind = 'security_company' ORDER BY o.id`);
    const withConsoles = orgs.filter((o) => o.operator && consoles.filter((c) => c.guard_org_id === o.id).length >= 2);
    assert.ok(withConsoles.length >= 1, 'a company with two consoled sites and an operator');
    compA = withConsoles[0];
    compB = orgs.find((o) => o.operator && o.id !== compA.id);
    assert.ok(compB, 'a second company with an operator');
    [siteT, siteN] = consoles.filter((c) => c.guard_org_id === compA.id);

    for (const [key, name] of [['controller', 'controller'], ['analyst', 'analyst'], ['admin', 'admin'],
      ['opA', compA.operator], ['opB', compB.operator], ['conT', siteT.username], ['conN', siteN.username]]) {
      tok[key] = await st.token(name);
      users[key] = await userByName(st, name);
    }
    ctlWs = await st.connectAs('controller');
    conT = await st.connectAs(siteT.username);
  });
  after(async () => { await st?.cleanup(); });

  // ------------------------------------------------------------ upload

  it('stores a PNG uploaded by a controller: 201, the row, an image_upload audit row', async () => {
    const r = await upload(st.broker, tok.controller, png, 'image/png');
    assert.equal(r.status, 201, r.text);
    assert.match(r.headers['content-type'], /application\/json/);
    assert.match(r.json.image_id, IMAGE_ID);
    imgP = r.json.image_id;
    const row = await st.one('SELECT * FROM images WHERE id = $1', [imgP]);
    assert.equal(row.uploader_user_id, users.controller.id);
    assert.equal(row.uploader_org_id, users.controller.org_id);
    assert.equal(row.mime, 'image/png');
    assert.equal(row.size, png.length);
    assert.equal(row.sha256, sha256hex(png));
    assert.ok(Buffer.from(row.content).equals(png), 'stored bytes are the uploaded bytes');
    assert.equal(row.expires_at, null, 'no expiry until an alert carries it');
    assert.equal(row.erased_at, null);
    const [a] = await auditRows('image_upload', `AND detail->>'image_id' = $3`, [imgP]);
    assert.ok(a, 'image_upload audited');
    assert.equal(a.actor_user_id, users.controller.id);
    assert.equal(a.actor_role, 'controller');
    assert.equal(a.detail.sha256, sha256hex(png));
    assert.equal(a.detail.size, png.length);
  });

  it('takes a JPEG (a site console\'s report photo) and gives every upload its own id', async () => {
    const r1 = await upload(st.broker, tok.conT, jpeg, 'image/jpeg');
    assert.equal(r1.status, 201, r1.text);
    const r2 = await upload(st.broker, tok.conT, jpeg, 'Image/JPEG; charset=binary');
    assert.equal(r2.status, 201, r2.text);
    assert.notEqual(r1.json.image_id, r2.json.image_id);
    const row = await st.one('SELECT mime, size, uploader_org_id FROM images WHERE id = $1', [r1.json.image_id]);
    assert.deepEqual(row, { mime: 'image/jpeg', size: jpeg.length, uploader_org_id: siteT.guard_org_id });
  });

  it('refuses an upload without a valid token: 401 auth_missing, auth_invalid, auth_expired', async () => {
    const none = await upload(st.broker, null, png);
    assert.equal(none.status, 401, none.text);
    assert.equal(none.json.error.code, 'auth_missing');
    const basic = await request(st.broker, 'POST', '/api/images',
      { body: png, contentType: 'image/png', headers: { authorization: 'Basic Y29udHJvbGxlcjp4' } });
    assert.equal(basic.status, 401, basic.text);
    assert.equal(basic.json.error.code, 'auth_invalid');
    const [v, payload, tag] = tok.controller.split('.');
    const forged = await upload(st.broker, `${v}.${payload}.${(tag[0] === 'A' ? 'B' : 'A') + tag.slice(1)}`, png);
    assert.equal(forged.status, 401, forged.text);
    assert.equal(forged.json.error.code, 'auth_invalid');
    const now = Math.floor(Date.now() / 1000);
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    const expired = await upload(st.broker, st.forgeToken({ ...claims, iat: now - 7200, exp: now - 3600 }), png);
    assert.equal(expired.status, 401, expired.text);
    assert.equal(expired.json.error.code, 'auth_expired');
  });

  it('refuses an upload by a role that may not upload (admin): 403', async () => {
    const r = await upload(st.broker, tok.admin, png);
    assert.equal(r.status, 403, r.text);
    assert.equal(r.json.error.code, 'forbidden');
  });

  it('refuses a Content-Type other than image/jpeg or image/png: 415', async () => {
    for (const type of ['text/plain', 'image/gif', 'application/octet-stream', null]) {
      const r = await upload(st.broker, tok.controller, png, type);
      assert.equal(r.status, 415, `${type}: ${r.text}`);
      assert.equal(r.json.error.code, 'unsupported_media_type');
    }
  });

  it('refuses bytes that are not the image they claim to be: 400 bad_image', async () => {
    const cases = [
      [Buffer.from('GIF89a not a png at all'), 'image/png'],
      [Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), 'image/jpeg'],
      [png, 'image/jpeg'],
      [jpeg, 'image/png'],
      [png.subarray(0, 5), 'image/png'],
      [Buffer.alloc(0), 'image/png'],
    ];
    for (const [bytes, type] of cases) {
      const r = await upload(st.broker, tok.controller, bytes, type);
      assert.equal(r.status, 400, `${bytes.length} bytes as ${type}: ${r.text}`);
      assert.equal(r.json.error.code, 'bad_image');
    }
  });

  it('takes exactly 2 MiB and refuses 2 MiB + 1 with 413 (body read, not kept)', async () => {
    const max = Buffer.alloc(IMAGE_MAX, 0x5a);
    png.copy(max); // a PNG signature: the broker checks the type, not the whole image
    const ok = await upload(st.broker, tok.controller, max, 'image/png');
    assert.equal(ok.status, 201, ok.text);
    const back = await fetchImage(st.broker, tok.controller, ok.json.image_id);
    assert.equal(back.status, 200, back.text);
    assert.equal(back.body.length, IMAGE_MAX);
    assert.ok(back.body.equals(max), '2 MiB came back byte for byte');

    const over = Buffer.concat([max, Buffer.from([0])]);
    const r = await upload(st.broker, tok.controller, over, 'image/png');
    assert.equal(r.status, 413, r.text);
    assert.equal(r.json.error.code, 'too_large');
    // A huge declared body is refused at once, without waiting for it.
    const raw = await rawExchange(st.broker,
      `POST /api/images HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${tok.controller}\r\n` +
      'Content-Type: image/png\r\nContent-Length: 1073741824\r\n\r\n' + '\x89PNG', { waitMs: 5000 });
    assert.match(raw.text, /^HTTP\/1\.1 413 /, raw.text.slice(0, 200));
    assert.ok(raw.closedByServer, 'the broker closed the connection');
    const h = await st.http('GET', '/healthz');
    assert.equal(h.status, 200);
  });

  // ------------------------------------------------------------ fetch

  it('refuses a fetch without a token (401) and answers 404 for unknown or malformed ids', async () => {
    const none = await fetchImage(st.broker, null, imgP);
    assert.equal(none.status, 401, none.text);
    assert.equal(none.json.error.code, 'auth_missing');
    assert.match(none.headers['www-authenticate'] || '', /^Bearer/);
    const unknown = await fetchImage(st.broker, tok.controller, 'AAAAAAAAAAAAAAAAAAAAAA');
    assert.equal(unknown.status, 404, unknown.text);
    assert.equal(unknown.json.error.code, 'not_found');
    for (const bad of ['short', `${imgP}x`, '..%2f..%2fetc', '']) {
      const r = await fetchImage(st.broker, tok.controller, bad);
      assert.equal(r.status, 404, `${bad}: ${r.text}`);
    }
    const list = await request(st.broker, 'GET', '/api/images', { token: tok.controller });
    assert.equal(list.status, 405, list.text);
  });

  it('refuses a site console before any alert carries the image: 403 and image_view_refused', async () => {
    const r = await fetchImage(st.broker, tok.conT, imgP);
    assert.equal(r.status, 403, r.text);
    assert.equal(r.json.error.code, 'forbidden');
    const rows = await auditRows('image_view_refused', `AND detail->>'image_id' = $3 AND actor_user_id = $4`, [imgP, users.conT.id]);
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.equal(rows[0].detail.status, 'forbidden');
  });

  it('publishes an alert with the image to site T: the alert frame lists it with its expiry', async () => {
    const pub = await publishWithImages([imgP], { image_days: 5 });
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    alertP = pub.alert_id;
    alertPSeq = pub.seq;
    const got = await conT.next((m) => m.type === 'alert' && m.alert?.id === alertP, 3000, 'the alert at T');
    assert.equal(got.alert.images.length, 1, JSON.stringify(got.alert));
    const [im] = got.alert.images;
    assert.equal(im.id, imgP);
    assert.equal(im.expired, false);
    assert.match(im.expires_at, RFC3339_MS);
    const sentAt = Date.parse(got.alert.sent_at);
    assert.ok(Math.abs(Date.parse(im.expires_at) - sentAt - 5 * DAY_MS) < 2000,
      `expires 5 days after sending: ${im.expires_at} vs ${got.alert.sent_at}`);
    const rows = await st.query('SELECT alert_id, image_id FROM alert_images WHERE image_id = $1', [imgP]);
    assert.deepEqual(rows, [{ alert_id: alertP, image_id: imgP }]);
    const recips = await st.query('SELECT site_id FROM alert_recipients WHERE alert_id = $1', [alertP]);
    assert.deepEqual(recips.map((x) => x.site_id), [siteT.site_id]);
  });

  it('refuses to attach an unknown image, or one uploaded by another organisation', async () => {
    const unknown = await publishWithImages(['AAAAAAAAAAAAAAAAAAAAAA']);
    assert.equal(unknown.type, 'error', JSON.stringify(unknown));
    assert.equal(unknown.code, 'unknown_target');
    assert.equal(unknown.field, 'images[0]');
    const photo = await upload(st.broker, tok.conN, png, 'image/png'); // a console's report photo
    assert.equal(photo.status, 201, photo.text);
    const foreign = await publishWithImages([imgP, photo.json.image_id]);
    assert.equal(foreign.type, 'error', JSON.stringify(foreign));
    assert.equal(foreign.field, 'images[1]');
    const n = await st.one('SELECT count(*)::int AS n FROM alert_images WHERE image_id = $1', [photo.json.image_id]);
    assert.equal(n.n, 0, 'nothing attached');
  });

  it('gives the recipient console the identical bytes, no-store, and audits the view with who and when', async () => {
    const before = new Date();
    const r = await fetchImage(st.broker, tok.conT, imgP);
    const after = new Date();
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['content-type'], 'image/png');
    assert.equal(Number(r.headers['content-length']), png.length);
    assert.match(r.headers['cache-control'], /no-store/);
    assert.ok(r.body.equals(png), 'identical bytes');
    const rows = await auditRows('image_view', `AND detail->>'image_id' = $3 AND actor_user_id = $4`, [imgP, users.conT.id]);
    assert.equal(rows.length, 1, JSON.stringify(rows));
    const a = rows[0];
    assert.equal(a.actor_username, siteT.username);
    assert.equal(a.actor_role, 'site_console');
    assert.equal(a.actor_org_id, users.conT.org_id);
    assert.equal(a.site_id, siteT.site_id);
    assert.equal(a.alert_id, alertP);
    assert.deepEqual(a.detail.alerts, [alertP]);
    assert.equal(a.detail.via, 'recipient');
    assert.equal(a.remote_addr, '127.0.0.1');
    assert.ok(a.at >= new Date(before.getTime() - 1000) && a.at <= new Date(after.getTime() + 1000), `audited at ${a.at.toISOString()}`);
  });

  it('refuses the console of a site that no alert carrying it targeted (same company): 403, audited', async () => {
    const r = await fetchImage(st.broker, tok.conN, imgP);
    assert.equal(r.status, 403, r.text);
    assert.equal(r.json.error.code, 'forbidden');
    assert.ok(!r.body.includes(png), 'no image bytes in the refusal');
    const rows = await auditRows('image_view_refused', `AND detail->>'image_id' = $3 AND actor_user_id = $4`, [imgP, users.conN.id]);
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.equal(rows[0].actor_role, 'site_console');
    assert.equal(rows[0].detail.status, 'forbidden');
  });

  it('gives the image to the force (analyst, admin) and to the guarding company\'s operator; refuses another company', async () => {
    for (const who of ['analyst', 'admin', 'opA']) {
      const r = await fetchImage(st.broker, tok[who], imgP);
      assert.equal(r.status, 200, `${who}: ${r.text}`);
      assert.ok(r.body.equals(png), `${who}: identical bytes`);
    }
    const opB = await fetchImage(st.broker, tok.opB, imgP);
    assert.equal(opB.status, 403, opB.text);
    assert.equal(opB.json.error.code, 'forbidden');
    const views = await auditRows('image_view', `AND detail->>'image_id' = $3`, [imgP]);
    const via = Object.fromEntries(views.map((v) => [v.actor_username, v.detail.via]));
    assert.equal(via.analyst, 'force');
    assert.equal(via.admin, 'force');
    assert.equal(via[compA.operator], 'recipient');
    const refused = await auditRows('image_view_refused', `AND detail->>'image_id' = $3 AND actor_user_id = $4`, [imgP, users.opB.id]);
    assert.equal(refused.length, 1);
  });

  it('lets an uploader see its own report photo, and nobody else outside the force', async () => {
    const up = await upload(st.broker, tok.conN, jpeg, 'image/jpeg');
    assert.equal(up.status, 201, up.text);
    const own = await fetchImage(st.broker, tok.conN, up.json.image_id);
    assert.equal(own.status, 200, own.text);
    assert.equal(own.headers['content-type'], 'image/jpeg');
    assert.ok(own.body.equals(jpeg));
    const other = await fetchImage(st.broker, tok.conT, up.json.image_id);
    assert.equal(other.status, 403, other.text);
    const op = await fetchImage(st.broker, tok.opA, up.json.image_id);
    assert.equal(op.status, 403, op.text);
    const ctl = await fetchImage(st.broker, tok.controller, up.json.image_id);
    assert.equal(ctl.status, 200, ctl.text);
  });

  it('serves a larger image in pieces, twice on one keep-alive connection', async () => {
    const up = await upload(st.broker, tok.controller, bigPng, 'image/png');
    assert.equal(up.status, 201, up.text);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const sockets = new Set();
      for (let i = 0; i < 2; i++) {
        const r = await fetchImage(st.broker, tok.analyst, up.json.image_id, { agent });
        assert.equal(r.status, 200, r.text);
        assert.ok(r.body.equals(bigPng), `attempt ${i}: identical ${bigPng.length} bytes`);
        sockets.add(r.socket);
      }
      const health = await request(st.broker, 'GET', '/healthz', { agent });
      assert.equal(health.status, 200, 'the connection still serves JSON after an image');
      sockets.add(health.socket);
      assert.equal(sockets.size, 1, 'all three answers on one connection');
    } finally {
      agent.destroy();
    }
  });

  it('survives clients that hang up during an upload or while their fetch is in flight', async () => {
    const half = Buffer.concat([
      Buffer.from(`POST /api/images HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${tok.controller}\r\n` +
        `Content-Type: image/png\r\nContent-Length: ${bigPng.length}\r\n\r\n`, 'latin1'),
      bigPng.subarray(0, bigPng.length >> 1)]);
    const get = `GET /api/images/${imgP} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${tok.conT}\r\n\r\n`;
    for (let i = 0; i < 5; i++) {
      await rawExchange(st.broker, half, { closeAfterWrite: true });
      await rawExchange(st.broker, get, { closeAfterWrite: true });
    }
    await sleep(300);
    const h = await st.http('GET', '/healthz');
    assert.equal(h.status, 200, h.text);
    const r = await fetchImage(st.broker, tok.conT, imgP);
    assert.equal(r.status, 200, r.text);
  });

  // ------------------------------------------------------------ expiry

  it('after its expiry a fetch answers 410 and erases the image itself, before any sweep', async () => {
    await st.query(`UPDATE images SET expires_at = now() - interval '1 minute' WHERE id = $1`, [imgP]);
    const r = await fetchImage(st.broker, tok.conT, imgP);
    assert.equal(r.status, 410, r.text);
    assert.equal(r.json.error.code, 'image_expired');
    // Not a way to learn of an image either: a non-recipient still gets 403.
    const n = await fetchImage(st.broker, tok.conN, imgP);
    assert.equal(n.status, 403, n.text);
    const f = await fetchImage(st.broker, tok.analyst, imgP);
    assert.equal(f.status, 410, f.text);

    const row = await st.one('SELECT content, erased_at, size, sha256 FROM images WHERE id = $1', [imgP]);
    assert.equal(row.content, null, 'content erased');
    assert.ok(row.erased_at instanceof Date, 'erased_at set');
    assert.equal(row.size, png.length, 'metadata kept');
    const erased = await auditRows('image_erased', `AND detail->>'image_id' = $3`, [imgP]);
    assert.equal(erased.length, 1, JSON.stringify(erased));
    assert.equal(erased[0].detail.reason, 'expired (at a fetch)');
    assert.equal(erased[0].detail.sha256, sha256hex(png));
    assert.deepEqual(erased[0].detail.alerts, [alertP]);
    assert.ok(!JSON.stringify(erased[0].detail).includes(png.toString('hex')), 'no content in the audit');
    const refused = await auditRows('image_view_refused', `AND detail->>'image_id' = $3 AND detail->>'status' = 'expired'`, [imgP]);
    assert.equal(refused.length, 2, 'the 410s are audited');

    // Alert frames now say so.
    const imgs = (await st.one('SELECT tocsin_alert_images($1) AS j', [alertP])).j;
    assert.deepEqual(imgs.map((i) => [i.id, i.expired]), [[imgP, true]]);
    // A console resuming from before the alert is shown it as expired.
    const epoch = conT.welcome.stream?.epoch;
    assert.equal(typeof epoch, 'string', `welcome has the stream: ${JSON.stringify(conT.welcome)}`);
    const con = await st.openSocket({ label: 'resume-T' });
    con.send({ type: 'hello', token: tok.conT, resume: { epoch, seq: alertPSeq - 1 } });
    const again = await con.next((m) => m.type === 'alert' && m.alert?.id === alertP, 3000, 'the alert, replayed');
    assert.deepEqual(again.alert.images.map((i) => [i.id, i.expired]), [[imgP, true]]);
    con.close();
  });

  it('the sweep erases expired images nobody fetched, and never-attached ones after 90 days (TOCSIN_IMAGE_SWEEP_SECONDS=1)', async () => {
    const up = await upload(st.broker, tok.controller, bigPng, 'image/png');
    assert.equal(up.status, 201, up.text);
    const imgE = up.json.image_id;
    const pub = await publishWithImages([imgE]);
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    const exp = await st.one('SELECT expires_at FROM images WHERE id = $1', [imgE]);
    assert.ok(Math.abs(exp.expires_at.getTime() - Date.now() - 90 * DAY_MS) < 60_000, 'default: 90 days');
    const orphan = await upload(st.broker, tok.analyst, png, 'image/png');
    assert.equal(orphan.status, 201, orphan.text);
    const kept = await upload(st.broker, tok.analyst, png, 'image/png'); // young and unattached: kept

    await st.query(`UPDATE images SET expires_at = now() - interval '1 second' WHERE id = $1`, [imgE]);
    await st.query(`UPDATE images SET created_at = now() - interval '91 days' WHERE id = $1`, [orphan.json.image_id]);

    process.env.TOCSIN_IMAGE_SWEEP_SECONDS = '1';
    // a second node on the same database: its own node id (a broker
    // refuses one that is running, docs/operations.md "Two nodes")
    const sweeper = new Broker({ label: 'images-sweeper', databaseUrl: st.db.brokerUrl, args: ['--node-id', '1'] });
    let started = false;
    try {
      await sweeper.start();
      started = true;
      const rows = await waitFor(async () => {
        const got = await st.query('SELECT id, content IS NULL AS gone, erased_at FROM images WHERE id = ANY ($1) ORDER BY id',
          [[imgE, orphan.json.image_id]]);
        return got.every((x) => x.gone && x.erased_at) ? got : null;
      }, { timeoutMs: 8000, intervalMs: 200, what: 'the sweep to erase both images' });
      assert.equal(rows.length, 2);
      const audit = await auditRows('image_erased', `AND detail->>'image_id' = ANY ($3)`, [[imgE, orphan.json.image_id]]);
      const reasons = Object.fromEntries(audit.map((a) => [a.detail.image_id, a.detail.reason]));
      assert.deepEqual(reasons, { [imgE]: 'expired', [orphan.json.image_id]: 'never attached' });
      const e = audit.find((a) => a.detail.image_id === imgE);
      assert.equal(e.actor_role, 'system');
      assert.deepEqual(Object.keys(e.detail).sort(),
        ['alerts', 'created_at', 'expires_at', 'image_id', 'mime', 'reason', 'sha256', 'size', 'uploader_org_id', 'uploader_user_id']);
      assert.equal(e.detail.size, bigPng.length);
      assert.deepEqual(e.detail.alerts, [pub.alert_id]);
      await waitFor(() => /images: erased \d+ expired images?/.test(sweeper.stderr), { timeoutMs: 3000, what: 'the sweep\'s log line' });

      const k = await st.one('SELECT content IS NOT NULL AS has FROM images WHERE id = $1', [kept.json.image_id]);
      assert.equal(k.has, true, 'an unattached image younger than 90 days is kept');
      const g = await fetchImage(st.broker, tok.conT, imgE);
      assert.equal(g.status, 410, g.text);
      const imgs = (await st.one('SELECT tocsin_alert_images($1) AS j', [pub.alert_id])).j;
      assert.equal(imgs[0].expired, true);
    } finally {
      process.env.TOCSIN_IMAGE_SWEEP_SECONDS = '3600';
      if (started) await sweeper.stop(); else sweeper.kill();
    }
  });

  it('cannot attach an erased image to a new alert', async () => {
    const r = await publishWithImages([imgP]);
    assert.equal(r.type, 'error', JSON.stringify(r));
    assert.equal(r.field, 'images[0]');
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await st.stop();
  });
});
