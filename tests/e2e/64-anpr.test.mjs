// The ANPR hotlist adapter (issue #8, adapters/anpr; the ASan+UBSan build
// build/san/tocsin-anpr) against the real broker with the ZeroMQ bus: a
// read of a hotlisted plate
// alerts exactly the sites within --radius-m of the camera (the expected
// set computed here from the sites' coordinates in the database), their
// consoles and companies' operators get it and nobody else does; a burst of
// 50 reads of one plate yields exactly one alert; a plate not on the
// hotlist and an expired entry yield none; malformed lines are counted and
// skipped; the hotlist image is uploaded once and attached; SIGHUP reloads
// the hotlist; a broker that stops answering gets the same seq again and
// publishes once; a restart goes on with new sequence numbers; with no
// broker a full queue drops hits while reading goes on; --zmq reads from a
// PULL socket; bad options exit 2; SIGTERM exits 0.
//
// Reads are processed in order, so "nothing was published for X" is shown
// by writing X, then a hotlisted sentinel read, and waiting for the
// sentinel's alert: X was matched before it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ROOT, waitFor, sleep } from './lib/harness.mjs';
import { startBusStack, addAdapter } from './lib/bus.mjs';
import { siteRows, connectWorld, distanceM, expectDelivery, recipientsOf, drain } from './lib/alerts.mjs';
import { makeJpeg } from './lib/images-helpers.mjs';
import { launch, openAs, textBecomes, withoutProblems, shot } from './lib/browser.mjs';

// The sanitizer build (mk/anpr.mk, TEST_EXTRA): a memory error fails the test.
const ANPR = process.env.TOCSIN_ANPR || path.join(ROOT, 'build/san/tocsin-anpr');
const SANITIZER_REPORT = /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|UndefinedBehavior|Leak)Sanitizer/;
const SAN_ENV = { ...process.env, ASAN_OPTIONS: 'abort_on_error=0:detect_leaks=1:exitcode=66', UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1' };
const PUSH = path.join(ROOT, 'build/anpr-push');
const RADIUS = 300;
const TIME = '2026-11-22T10:00:00Z';
// an entry that expires in three days, less a minute (its image: 3 days)
const HOT6_EXPIRES = new Date(Date.now() + 3 * 86400000 - 60000).toISOString();

const read = (plate, lat, lon, camera = 'cam-e2e') => JSON.stringify({ plate, camera, lat, lon, time: TIME });

// The adapter as a child process with its stdin open.
class Adapter {
  constructor(args, label) {
    this.stderr = '';
    this.stdout = '';
    this.label = label;
    this.proc = spawn(ANPR, args, { stdio: ['pipe', 'pipe', 'pipe'], env: SAN_ENV });
    this.proc.stdout.on('data', (d) => { this.stdout += d; });
    this.proc.stderr.on('data', (d) => { this.stderr += d; });
    this.exited = new Promise((resolve) => this.proc.on('close', (code, signal) => resolve({ code, signal })));
  }

  write(...lines) { this.proc.stdin.write(lines.map((l) => `${l}\n`).join('')); }

  async waitLog(re, timeoutMs = 20000) {
    await waitFor(() => re.test(this.stderr), { timeoutMs, what: `${this.label} log ${re}; log:\n${this.stderr}` });
  }

  async stop(signal = 'SIGTERM', timeoutMs = 20000) {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    let timer;
    const r = await Promise.race([this.exited, new Promise((resolve) => { timer = setTimeout(() => resolve(null), timeoutMs); })]);
    clearTimeout(timer);
    if (!r) {
      this.proc.kill('SIGKILL');
      throw new Error(`${this.label} did not stop within ${timeoutMs} ms of ${signal}; log:\n${this.stderr}`);
    }
    await sleep(50); // the last of stderr
    assert.doesNotMatch(this.stderr, SANITIZER_REPORT, `${this.label}: sanitizer report`);
    return r;
  }

  kill() { if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL'); }
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

describe('ANPR hotlist adapter', { timeout: 280_000 }, () => {
  let st;
  let sites;
  let world;
  let adapter;
  let anpr;
  let dir;
  let hotlist;
  let stateFile;
  let camA;          // { lat, lon, expected: [site ids] } for the first hit
  let firstHit;      // the first hit's alert id: its source in the control room
  let camB;          // another camera, for the burst

  // The sites within RADIUS of (lat, lon), by the same great-circle
  // distance the broker uses for area targeting.
  const inside = (lat, lon) => sites.filter((s) => distanceM(s.lat, s.lon, lat, lon) <= RADIUS)
    .map((s) => s.id).sort((a, b) => a - b);

  const alertsFor = (plate) => st.query(
    `SELECT id, headline, body, severity, targets FROM alerts WHERE headline LIKE $1 ORDER BY id`,
    [`Hotlisted vehicle ${plate}:%`]);

  async function oneAlertFor(plate, what) {
    const rows = await waitFor(async () => { const r = await alertsFor(plate); return r.length ? r : null; },
      { timeoutMs: 30000, what: `an alert for ${plate} (${what}); adapter log:\n${anpr?.stderr}` });
    return rows;
  }

  before(async () => {
    st = await startBusStack({ label: import.meta.url });
    adapter = await addAdapter(st, 'anpr-e2e', 'controller');
    sites = await siteRows(st);
    // Camera A: a point near a site with a few (not all) neighbours within
    // RADIUS; camera B: near another such site, with a different set.
    const candidates = sites.map((s) => ({ lat: s.lat + 0.0002, lon: s.lon - 0.0002 }))
      .map((c) => ({ ...c, expected: inside(c.lat, c.lon) }))
      .filter((c) => c.expected.length >= 2 && c.expected.length <= sites.length - 5);
    assert.ok(candidates.length >= 2, 'the demo data has sites with neighbours within the radius');
    camA = candidates[0];
    camB = candidates.find((c) => JSON.stringify(c.expected) !== JSON.stringify(camA.expected)) || candidates[1];

    dir = fs.mkdtempSync(path.join(st.bus.dir, 'anpr-'));
    fs.writeFileSync(path.join(dir, 'hot1.jpg'), makeJpeg());
    fs.writeFileSync(path.join(dir, 'hot6.jpg'), Buffer.concat([makeJpeg(), Buffer.from([0])]));
    hotlist = path.join(dir, 'hotlist.jsonl');
    fs.writeFileSync(hotlist, [
      { plate: 'HOT1 AAA', reason: 'Stolen in an aggravated burglary', severity: 'severe', image: 'hot1.jpg', expires: '2099-01-01T00:00:00Z' },
      { plate: 'HOT2 BBB', reason: 'Wanted driver', severity: 'extreme' },
      { plate: 'HOT3 CCC', reason: 'Sentinel one', severity: 'minor' },
      { plate: 'HOT4 DDD', reason: 'Same image as HOT1', severity: 'moderate', image: 'hot1.jpg' },
      { plate: 'HOT5 EEE', reason: 'Sentinel two', severity: 'minor' },
      { plate: 'FAR1 GGG', reason: 'Seen far away', severity: 'minor', image: 'hot1.jpg' },
      { plate: 'FRZ1 HHH', reason: 'Read while the broker was frozen', severity: 'moderate' },
      { plate: 'HOT6 FFF', reason: 'Wanted for three days', severity: 'moderate', image: 'hot6.jpg', expires: HOT6_EXPIRES },
      { plate: 'OLD1 XXX', reason: 'No longer wanted', severity: 'severe', expires: '2020-01-01T00:00:00Z' },
    ].map((e) => JSON.stringify(e)).join('\n') + '\nnot json\n');
    stateFile = path.join(dir, 'anpr.seq');
    world = await connectWorld(st);
    anpr = new Adapter(['--hotlist', hotlist, '--bus-ingest', st.bus.ingest,
      '--bus-server-key', st.bus.serverPublicKey, '--bus-key', adapter.keyFile, '--state', stateFile,
      '--radius-m', String(RADIUS), '--timeout-seconds', '60'], 'tocsin-anpr');
    await anpr.waitLog(/hotlist .* loaded: 8 plates \(10 lines, 1 expired, 1 bad, 0 repeated\)/);
  });

  after(async () => {
    anpr?.kill();
    await st?.cleanup();
  });

  it('a hotlisted read alerts exactly the sites within the radius, with the image', async () => {
    drain([...world.bySite.values(), ...world.operators.values()]);
    anpr.write(read('hot1aaa', camA.lat, camA.lon, 'cam-A'));
    const [a] = await oneAlertFor('HOT1AAA', 'first hit');
    assert.equal(a.severity, 'severe');
    assert.match(a.headline, /^Hotlisted vehicle HOT1AAA: Stolen in an aggravated burglary$/);
    for (const s of ['HOT1AAA', '"hot1aaa"', 'cam-A', TIME, 'Stolen in an aggravated burglary']) {
      assert.ok(a.body.includes(s), `the body names ${s}: ${a.body}`);
    }
    assert.equal(a.targets.area, true);
    assert.deepEqual(await recipientsOf(st, a.id), camA.expected, 'recipients = sites within the radius');
    const companies = [...new Set(camA.expected.map((id) => sites.find((s) => s.id === id).guard_org_id))];
    const got = await expectDelivery(world, a.id, { consoleSites: camA.expected, operatorOrgs: companies, waitMs: 10000 });
    const frame = got[`site:${camA.expected[0]}`].alert;
    assert.equal(frame.category, 'offender');
    assert.equal(frame.urgency, 'immediate');
    assert.equal(frame.certainty, 'observed');
    assert.equal(frame.area.circle.radius_m, RADIUS);
    assert.ok(Math.abs(frame.area.circle.lat - camA.lat) < 1e-9 && Math.abs(frame.area.circle.lon - camA.lon) < 1e-9);
    assert.equal(frame.images.length, 1, 'the hotlist image is attached');
    // the camera is the source, by name and place (issue 18, item 3)
    assert.deepEqual(frame.source, { kind: 'adapter', adapter: 'anpr-e2e', origin: {
      identifier: `anpr:cam-A:${TIME}`, sender: 'anpr:cam-A', sent: TIME.replace(/(\.\d+)?Z$/, '+00:00'),
      sender_name: `ANPR camera cam-A at ${camA.lat.toFixed(6)}, ${camA.lon.toFixed(6)}` } });
    firstHit = a.id;
    const img = await st.one('SELECT ai.image_id, i.mime, i.size FROM alert_images ai JOIN images i ON i.id = ai.image_id WHERE ai.alert_id = $1', [a.id]);
    assert.equal(img.mime, 'image/jpeg');
    assert.equal(img.size, makeJpeg().length);
    // Published as the adapter's user, and remembered under its sequence number.
    const sub = await st.one(`SELECT s.seq, a.name FROM adapter_submissions s JOIN adapters a ON a.id = s.adapter_id
                               WHERE s.alert_id = $1`, [a.id]);
    assert.equal(sub.name, 'anpr-e2e');
    assert.equal(String(sub.seq), fs.readFileSync(stateFile, 'utf8').trim(), 'the state file holds the last seq used');
  });

  it('a burst of 50 reads of one plate yields exactly one alert', async () => {
    const burst = [];
    for (let i = 0; i < 50; i++) burst.push(read(i % 2 ? 'HOT2 BBB' : 'hot2-bbb', camB.lat + i * 1e-5, camB.lon, `cam-B${i % 5}`));
    anpr.write(...burst);
    const [b] = await oneAlertFor('HOT2BBB', 'burst');
    assert.equal(b.severity, 'extreme');
    assert.deepEqual(await recipientsOf(st, b.id), camB.expected);
    // A sentinel read after the burst: once it has alerted, all 50 were matched.
    anpr.write(read('HOT3 CCC', camA.lat, camA.lon));
    await oneAlertFor('HOT3CCC', 'sentinel after the burst');
    assert.equal((await alertsFor('HOT2BBB')).length, 1, 'one alert for 50 reads');
    await sleep(1500);
    assert.equal((await alertsFor('HOT2BBB')).length, 1, 'still one alert');
  });

  it('a plate not on the hotlist, an expired entry and malformed lines publish nothing', async () => {
    const before = (await st.one('SELECT count(*)::int AS n FROM alerts')).n;
    anpr.write(
      read('NOT ON LIST', camA.lat, camA.lon),
      read('old1 xxx', camA.lat, camA.lon),
      'this is not json',
      '{"plate":"HOT4 DDD","camera":"c","lat":95,"lon":0,"time":"2026-11-22T10:00:00Z"}',
      '{"plate":"HOT4 DDD","camera":"c","lat":51.5,"lon":0}',
      '{"plate":"HOT4.DDD","camera":"c","lat":51.5,"lon":0,"time":"2026-11-22T10:00:00Z"}',
      '{"plate":"HOT4 DDD","camera":"c","lat":51.5,"lon":0,"time":"yesterday"}',
      '{"plate":"HOT4 DDD"',
      `{"plate":"HOT4 DDD","x":"${'y'.repeat(9000)}"}`,
      '\u0000\u0001\u00ff',
      '',
      read('HOT5 EEE', camA.lat, camA.lon),
    );
    await oneAlertFor('HOT5EEE', 'sentinel after the non-hits');
    const after = (await st.one('SELECT count(*)::int AS n FROM alerts')).n;
    assert.equal(after, before + 1, 'only the sentinel was published');
    assert.equal((await alertsFor('HOT4DDD')).length, 0, 'malformed reads of a hotlisted plate publish nothing');
    assert.equal((await alertsFor('OLD1XXX')).length, 0, 'an expired entry publishes nothing');
    assert.match(anpr.stderr, /malformed, skipped .*: not a JSON object/);
    assert.match(anpr.stderr, /malformed, skipped .*: lat: must be a number from -90 to 90/);
    assert.match(anpr.stderr, /malformed, skipped .*: time: missing/);
    assert.match(anpr.stderr, /malformed, skipped .*: plate: must be 1 to 15 letters and digits/);
    assert.match(anpr.stderr, /malformed, skipped .*: time: must be an RFC 3339 time/);
    assert.match(anpr.stderr, /malformed, skipped .*: line longer than 8192 bytes/);
    assert.equal(anpr.proc.exitCode, null, 'the adapter is still running');
  });

  it('the image is uploaded once for two plates that share it', async () => {
    anpr.write(read('HOT4 DDD', camB.lat, camB.lon));
    const [d] = await oneAlertFor('HOT4DDD', 'second plate with the same image');
    const [a] = await alertsFor('HOT1AAA');
    const ids = await st.query('SELECT alert_id, image_id FROM alert_images WHERE alert_id = ANY($1) ORDER BY alert_id', [[a.id, d.id]]);
    assert.equal(ids.length, 2);
    assert.equal(ids[0].image_id, ids[1].image_id, 'one image id for both alerts');
    assert.equal((await st.one("SELECT count(*)::int AS n FROM audit WHERE action = 'image_upload'")).n, 1);
  });

  it('a camera with no site within the radius: no alert, an item in the control room\'s inbox', async () => {
    const before = (await st.one('SELECT count(*)::int AS n FROM alerts')).n;
    // in the force's area, kilometres from every site (issue 18: the
    // control room never heard of that vehicle)
    anpr.write(read('FAR1 GGG', 51.65, -0.45, 'cam-far'));
    await anpr.waitLog(/alert for plate FAR1GGG at cam-far: refused by the broker: no_recipients/);
    await anpr.waitLog(/inbox item for plate FAR1GGG at cam-far: no site within 300 m: sent to the control room's inbox as report \d+/);
    assert.equal((await st.one('SELECT count(*)::int AS n FROM alerts')).n, before);
    const rep = await st.one("SELECT id, kind, text, lat, lon, place, image_id, occurred_at FROM partner_reports WHERE text LIKE '%FAR1GGG%'");
    assert.equal(rep.kind, 'sighting');
    assert.equal(rep.place, 'sighting');
    assert.deepEqual([rep.lat, rep.lon], [51.65, -0.45]);
    assert.ok(rep.image_id, 'the hotlist image goes with it');
    assert.equal(rep.occurred_at.toISOString(), '2026-11-22T10:00:00.000Z');
    for (const s of ['cam-far', 'Seen far away', 'no partner site within 300 m']) assert.ok(rep.text.includes(s), rep.text);
    // and a controller sees it in the control room's inbox
    const browser = await launch();
    try {
      const problems = [];
      const page = await openAs(browser, st.broker.httpUrl, 'controller', 'controller', problems);
      await withoutProblems(problems, async () => {
        await textBecomes(page, `#inbox li[data-report-id="${rep.id}"] .report-text`, /FAR1GGG \(read as "FAR1 GGG"\)/,
          'the ANPR hit in the inbox');
        await page.locator(`#inbox li[data-report-id="${rep.id}"]`).scrollIntoViewIfNeeded();
        // the control room's list names the camera, not the adapter's
        // bound controller (who is this very user)
        await textBecomes(page, `#sent-alerts li[data-alert-id="${firstHit}"] .sent-by`,
          /^Sent by ANPR camera cam-A at 51\.\d{6}, -?0\.\d{6} \(imported by anpr-e2e, /, 'the hit\'s source in the list');
      }, () => shot(page, '64-anpr-no-site-inbox'));
    } finally {
      await browser.close().catch(() => {});
    }
  });

  it('an image is kept until its hotlist entry expires, not 90 days', async () => {
    anpr.write(read('HOT6 FFF', camB.lat, camB.lon));
    const [a] = await oneAlertFor('HOT6FFF', 'the entry that expires in three days');
    const row = await st.one(`SELECT i.expires_at, al.sent_at FROM alert_images ai JOIN images i ON i.id = ai.image_id
                               JOIN alerts al ON al.id = ai.alert_id WHERE ai.alert_id = $1`, [a.id]);
    const days = (row.expires_at - row.sent_at) / 86400000;
    assert.equal(days, 3, `kept ${days} days`);
    const att = await st.one("SELECT detail FROM audit WHERE action = 'image_attach' AND alert_id = $1", [a.id]);
    assert.equal(att.detail.image_days, 3, 'the attach names the retention it was given');
    // HOT1's entry runs to 2099: the force's maximum, 90 days
    const [h1] = await alertsFor('HOT1AAA');
    const h1att = await st.one("SELECT detail FROM audit WHERE action = 'image_attach' AND alert_id = $1", [h1.id]);
    assert.equal(h1att.detail.image_days, 90);
  });

  it('a broker that does not answer for a while: resent with the same seq, published once', async () => {
    st.broker.proc.kill('SIGSTOP');
    try {
      anpr.write(read('FRZ1 HHH', camA.lat, camA.lon));
      await anpr.waitLog(/plate FRZ1HHH: hotlist hit/);
      await sleep(5000);            // two or three resends queue up at the broker
    } finally {
      st.broker.proc.kill('SIGCONT');
    }
    await oneAlertFor('FRZ1HHH', 'after the broker woke up');
    await anpr.waitLog(/alert for plate FRZ1HHH at cam-e2e: published as alert/);
    await sleep(1500);
    assert.equal((await alertsFor('FRZ1HHH')).length, 1, 'the resends published nothing more');
  });

  it('SIGHUP reloads the hotlist', async () => {
    fs.appendFileSync(hotlist, JSON.stringify({ plate: 'NEW1 FFF', reason: 'Added later', severity: 'moderate' }) + '\n');
    anpr.proc.kill('SIGHUP');
    await anpr.waitLog(/hotlist .* reloaded: 9 plates/);
    anpr.write(read('NEW1FFF', camA.lat, camA.lon), read('HOT1 AAA', camA.lat, camA.lon));
    await oneAlertFor('NEW1FFF', 'plate added by SIGHUP');
    assert.equal((await alertsFor('HOT1AAA')).length, 1, 'the reload kept HOT1\'s fold window');
  });

  it('SIGTERM stops the adapter cleanly (exit 0) with a summary', async () => {
    const r = await anpr.stop('SIGTERM');
    assert.deepEqual(r, { code: 0, signal: null }, anpr.stderr);
    assert.match(anpr.stderr, /signal 15: stopping/);
    const m = anpr.stderr.match(/stopped: (\d+) reads, (\d+) malformed, (\d+) hits, (\d+) folded, (\d+) expired, (\d+) dropped .*?, (\d+) published, (\d+) duplicates, (\d+) failed, (\d+) abandoned, (\d+) images uploaded/);
    assert.ok(m, anpr.stderr);
    const [reads, bad, hits, folded, expired, dropped, published, duplicates, failed, abandoned, images] = m.slice(1).map(Number);
    assert.equal(bad, 8);
    assert.equal(hits, 9);
    assert.equal(folded, 50 - 1 + 1);  // the burst, and HOT1 after the reload
    assert.equal(expired, 0);          // OLD1 was left out when loading: a miss
    assert.equal(dropped, 0);
    assert.equal(published + duplicates, 8, 'FRZ1 may have been answered by a resend (duplicate: true)');
    assert.equal(failed, 1);          // FAR1: no_recipients (reported to the inbox instead)
    assert.equal(abandoned, 0);
    assert.equal(images, 2);
    assert.equal(reads, 1 + 50 + 1 + 11 + 1 + 1 + 1 + 1 + 2);
  });

  it('a restarted adapter goes on from the state file: no sequence number is used twice', async () => {
    const before = await st.query(`SELECT s.seq FROM adapter_submissions s JOIN adapters a ON a.id = s.adapter_id
                                    WHERE a.name = 'anpr-e2e' ORDER BY s.seq`);
    const last = Number(fs.readFileSync(stateFile, 'utf8').trim());
    assert.equal(Number(before.at(-1).seq), last);
    anpr = new Adapter(['--hotlist', hotlist, '--bus-ingest', st.bus.ingest,
      '--bus-server-key', st.bus.serverPublicKey, '--bus-key', adapter.keyFile, '--state', stateFile,
      '--radius-m', String(RADIUS)], 'tocsin-anpr (restarted)');
    await anpr.waitLog(/matching:/);
    anpr.write(read('HOT3 CCC', camA.lat, camA.lon, 'cam-after-restart'));
    await waitFor(async () => (await alertsFor('HOT3CCC')).length === 2,
      { timeoutMs: 30000, what: `a second alert for HOT3 after the restart; log:\n${anpr.stderr}` });
    const after = await st.query(`SELECT s.seq FROM adapter_submissions s JOIN adapters a ON a.id = s.adapter_id
                                   WHERE a.name = 'anpr-e2e' ORDER BY s.seq`);
    assert.equal(after.length, before.length + 1);
    assert.equal(Number(after.at(-1).seq), last + 1, 'the next number after the last one used');
    assert.doesNotMatch(anpr.stderr, /duplicate/);
    assert.deepEqual(await anpr.stop('SIGTERM'), { code: 0, signal: null }, anpr.stderr);
    await st.stop();
    st = null;
  });
});

describe('ANPR adapter: --zmq input, --print, usage errors', { timeout: 120_000 }, () => {
  let dir;
  before(() => {
    dir = fs.mkdtempSync(path.join(fs.realpathSync(process.env.TMPDIR || '/tmp'), 'tocsin-anpr-'));
    fs.writeFileSync(path.join(dir, 'hotlist.jsonl'), JSON.stringify({ plate: 'ZMQ 1', reason: 'Via ZeroMQ', severity: 'severe' }) + '\n');
  });
  after(() => { fs.rmSync(dir, { recursive: true, force: true }); });

  it('reads from a PULL socket and prints the publish requests', async () => {
    const port = await freePort();
    const a = new Adapter(['--hotlist', path.join(dir, 'hotlist.jsonl'), '--print', '--zmq', `tcp://127.0.0.1:${port}`], 'tocsin-anpr --zmq');
    try {
      await a.waitLog(/PULL socket bound at/);
      const lines = [read('zmq1', 51.5, -0.09), 'garbage', read('zmq 1', 51.5, -0.09), read('OTHER', 51.5, -0.09)].join('\n');
      const push = spawn(PUSH, [`tcp://127.0.0.1:${port}`], { stdio: ['pipe', 'ignore', 'pipe'] });
      push.stdin.end(`${lines}\n${read('ZMQ-1', 51.5, -0.09)}\n`);
      assert.equal(await new Promise((resolve) => push.on('exit', resolve)), 0);
      await waitFor(() => a.stdout.includes('\n'), { timeoutMs: 20000, what: `a printed request; log:\n${a.stderr}` });
      await a.waitLog(/malformed, skipped/);
      // One message carrying several lines (the last without a newline).
      const whole = spawn(PUSH, ['--whole', `tcp://127.0.0.1:${port}`], { stdio: ['pipe', 'ignore', 'pipe'] });
      whole.stdin.end(`${read('ZMQ1', 51.5, -0.09)}\n{"plate":\n${read('ZMQ1', 51.5, -0.09)}`);
      assert.equal(await new Promise((resolve) => whole.on('exit', resolve)), 0);
      await a.waitLog(/read 7: malformed, skipped \(2 so far\)/);  // the message's second line
      const r = await a.stop('SIGTERM');
      assert.deepEqual(r, { code: 0, signal: null }, a.stderr);
      const printed = a.stdout.trim().split('\n').map((l) => JSON.parse(l));
      assert.equal(printed.length, 1, 'three reads of ZMQ1 fold into one');
      assert.equal(printed[0].type, 'publish');
      assert.equal(printed[0].headline, 'Hotlisted vehicle ZMQ1: Via ZeroMQ');
      assert.deepEqual(printed[0].targets, { area: true });
      assert.equal(printed[0].area.circle.radius_m, 500, 'default radius');
      assert.match(a.stderr, /stopped: 8 reads, 2 malformed, 1 hits, 4 folded/);
    } finally {
      a.kill();
    }
  });

  it('with no broker answering: a full queue drops hits (reading goes on), SIGTERM abandons the rest and exits 0', async () => {
    const key = path.join(dir, 'lonely.key');
    const gen = spawn(path.join(ROOT, 'build/tocsinctl'), ['bus', 'keygen', '--out', key], { stdio: 'ignore' });
    assert.equal(await new Promise((resolve) => gen.on('exit', resolve)), 0);
    const serverKey = fs.readFileSync(key, 'utf8').match(/^public (\S{40})$/m)[1];
    fs.writeFileSync(path.join(dir, 'three.jsonl'), ['Q1', 'Q2', 'Q3', 'Q4']
      .map((p) => JSON.stringify({ plate: p, reason: 'Queue test', severity: 'minor' })).join('\n') + '\n');
    const port = await freePort();   // nothing listens there
    const a = new Adapter(['--hotlist', path.join(dir, 'three.jsonl'), '--bus-ingest', `tcp://127.0.0.1:${port}`,
      '--bus-server-key', serverKey, '--bus-key', key, '--state', path.join(dir, 'lonely.seq'),
      '--queue', '1', '--drain-seconds', '1', '--log-level', 'debug'], 'tocsin-anpr (no broker)');
    try {
      await a.waitLog(/matching:/);
      a.write(read('Q1', 51.5, -0.09));
      await a.waitLog(/alert for plate Q1 at cam-e2e: sending as seq 1/);  // in flight; the queue is empty
      a.write(read('Q2', 51.5, -0.09), read('Q3', 51.5, -0.09), read('Q4', 51.5, -0.09), 'bad line');
      await a.waitLog(/plate Q3 at cam-e2e: publish queue full, alert dropped \(1 so far\)/);
      await a.waitLog(/plate Q4 at cam-e2e: publish queue full, alert dropped \(2 so far\)/);
      await a.waitLog(/read 5: malformed/);   // reading went on
      const r = await a.stop('SIGTERM');
      assert.deepEqual(r, { code: 0, signal: null }, a.stderr);
      assert.match(a.stderr, /alert for plate Q1 at cam-e2e \(seq 1\): abandoned: stopping/);
      assert.match(a.stderr, /1 queued alerts abandoned/);
      assert.match(a.stderr, /stopped: 5 reads, 1 malformed, 4 hits, 0 folded, 0 expired, 2 dropped \(queue full\), 0 published, 0 duplicates, 0 failed, 2 abandoned/);
    } finally {
      a.kill();
    }
  });

  it('refuses bad options with exit 2 and a message naming the option; --help', async () => {
    const run = (args) => new Promise((resolve) => {
      const p = spawn(ANPR, args, { stdio: ['ignore', 'pipe', 'pipe'], env: SAN_ENV });
      let out = '';
      let err = '';
      p.stdout.on('data', (d) => { out += d; });
      p.stderr.on('data', (d) => { err += d; });
      p.on('close', (code) => {
        assert.doesNotMatch(err, SANITIZER_REPORT, `tocsin-anpr ${args.join(' ')}: sanitizer report`);
        resolve({ code, out, err });
      });
    });
    const hl = path.join(dir, 'hotlist.jsonl');
    let r = await run(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.out, /^NAME\n {4}tocsin-anpr/);
    for (const s of ['SYNOPSIS', 'DESCRIPTION', 'OPTIONS', '--fold-seconds', '--radius-m', '--zmq', 'SIGHUP', 'EXIT STATUS']) assert.ok(r.out.includes(s), s);
    r = await run(['--hotlist', hl, '--print', '--radius-m', '0']);
    assert.equal(r.code, 2);
    assert.match(r.err, /--radius-m must be a whole number from 1 to 50000/);
    r = await run(['--hotlist', hl, '--print', '--fold-seconds', 'x']);
    assert.equal(r.code, 2);
    assert.match(r.err, /--fold-seconds/);
    r = await run(['--hotlist', hl]);
    assert.equal(r.code, 2);
    assert.match(r.err, /--bus-ingest, --bus-server-key, --bus-key and --state are required/);
    r = await run(['--print']);
    assert.equal(r.code, 2);
    assert.match(r.err, /--hotlist FILE is required/);
    r = await run(['--hotlist', hl, '--print', '--bogus']);
    assert.equal(r.code, 2);
    assert.match(r.err, /unknown option/);
    r = await run(['--hotlist', path.join(dir, 'missing.jsonl'), '--print']);
    assert.equal(r.code, 1);
    assert.match(r.err, /missing\.jsonl: No such file or directory/);
    r = await run(['--hotlist', hl, '--print', '--zmq', 'bogus://nowhere']);
    assert.equal(r.code, 1);
    assert.match(r.err, /cannot bind a PULL socket at bogus:\/\/nowhere/);
    r = await run(['--hotlist', hl, '--bus-ingest', 'tcp://127.0.0.1:1', '--bus-server-key', 'x'.repeat(40),
      '--bus-key', path.join(dir, 'no.key'), '--state', path.join(dir, 's.seq')]);
    assert.equal(r.code, 1);
    assert.match(r.err, /no\.key/);
    r = await run(['--hotlist', hl, '--bus-ingest', 'tcp://127.0.0.1:1', '--bus-server-key', path.join(dir, 'nokey.pub'),
      '--bus-key', path.join(dir, 'no.key'), '--state', path.join(dir, 's.seq')]);
    assert.equal(r.code, 1);
    assert.match(r.err, /nokey\.pub/);
  });
});
