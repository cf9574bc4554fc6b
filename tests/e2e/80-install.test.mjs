// On a real server (issue 19): `make install DESTDIR=` and the Debian
// package (`make dist`, then `dpkg-buildpackage -us -uc` in the tarball,
// `dpkg-deb -x`) each give a tree in which `tocsind --check-config` passes
// with the sample configuration, `tocsinctl keys init` makes the keys, and
// the broker starts on them against the test PostgreSQL and serves only the
// consoles' files. Also: --version everywhere, the man pages render
// (man -l), tocsin-migrate applies the installed schema to an empty
// database, the package depends on no compiler, npm or PostgreSQL server
// and does not start the broker, and the unit as shipped passes
// `systemd-analyze verify` with an exposure of at most 2.0.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Broker, Stack, ROOT, httpRequest, pgConnect, run } from './lib/harness.mjs';

// A program to its exit (harness.run), from the top of the tree.
const runIn = (file, args, { cwd = ROOT, timeoutMs = 120_000, env } = {}) => run(file, args, { cwd, timeoutMs, env });

async function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

function have(program) {
  try {
    execFileSync('sh', ['-c', `command -v ${program}`], { stdio: 'pipe' });
    return true;
  } catch { return false; }
}

const GIT_VERSION = (() => {
  try {
    return execFileSync('git', ['describe', '--tags', '--always', '--dirty'], { cwd: ROOT, encoding: 'utf8' })
      .trim().replace(/^v/, '');
  } catch { return null; }
})();

// The group keys init gives the keys to: tocsin as root (when it exists).
function keyGroup() {
  if (process.getuid() === 0) {
    try { execFileSync('getent', ['group', 'tocsin'], { stdio: 'pipe' }); return []; } catch { /* none */ }
  }
  return ['--group', execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim()];
}

// What an installed tree must do. tree: the root the files went to;
// p: where they are inside it (sbin, bin, data, man, unit, etc).
// whyNot() says why there is no tree (the test is then skipped).
function checksOfTree(label, getTree, whyNot = () => 'no tree') {
  let st;
  let keys;
  let t;

  before(async () => {
    t = getTree();
    if (!t) return;
    keys = fs.mkdtempSync(path.join(os.tmpdir(), `tocsin-${label}-keys-`));
    st = await Stack.create({ label: `${label}`, startBroker: false });
  });
  after(async () => {
    await st?.cleanup();
    if (keys) fs.rmSync(keys, { recursive: true, force: true });
  });

  const at = (p) => path.join(t.root, p);

  it('--version on every program', async (t2) => {
    if (!t) { t2.skip(whyNot()); return; }
    for (const [prog, file] of [['tocsind', t.sbin], ['tocsinctl', t.bin], ['tocsin-cap', t.bin], ['tocsin-anpr', t.bin]]) {
      const r = await runIn(at(path.join(file, prog)), ['--version']);
      assert.equal(r.code, 0, `${prog}: ${r.stderr}`);
      assert.equal(r.stdout.trim(), `${prog} ${t.version}`);
    }
  });

  it('tocsind --check-config passes with the sample configuration', async (t2) => {
    if (!t) { t2.skip(whyNot()); return; }
    const conf = at('etc/tocsin/tocsind.conf');
    assert.ok(fs.existsSync(conf), 'the sample configuration is installed as /etc/tocsin/tocsind.conf');
    const r = await runIn(at(path.join(t.sbin, 'tocsind')), ['--config', conf, '--check-config']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^web-root = ${t.data}/tocsin/web-client +# file`, 'm'));
    assert.match(r.stdout, /^public-url = https:\/\/tocsin\.force\.example +# file/m);
    assert.match(r.stdout, /^token-key = \/etc\/tocsin\/token\.key +# file/m);
  });

  it('serves only the consoles\' files: no node_modules, package.json or READMEs', (t2) => {
    if (!t) { t2.skip(whyNot()); return; }
    const web = at(path.join(t.data, 'tocsin/web-client'));
    const names = fs.readdirSync(web, { recursive: true });
    assert.ok(names.includes('index.html') && names.includes(path.join('vendor', 'leaflet', 'leaflet-src.esm.js')), names.join(' '));
    for (const n of names) {
      assert.doesNotMatch(n, /node_modules|package(-lock)?\.json|README|\.tocsin-/, `${n} is not served`);
    }
    assert.ok(fs.existsSync(at(path.join(t.data, 'tocsin/sql/schema/01_roles.sql'))));
    assert.ok(!fs.existsSync(at(path.join(t.data, 'tocsin/sql/demo'))), 'no demo data (and its passwords)');
  });

  it('the man pages render with man -l', async (t2) => {
    if (!t) { t2.skip(whyNot()); return; }
    if (!have('man')) { t2.skip('man is not installed (man-db)'); return; }
    for (const [page, words] of [['tocsind.8', ['SETTINGS', 'public-url', 'TOCSIN_PUBLIC_URL', '--check-config', 'tocsinctl keys init']],
      ['tocsinctl.8', ['COMMANDS', 'keys init', 'audit verify', 'EXIT STATUS']]]) {
      let file = at(path.join(t.man, 'man8', page));
      if (!fs.existsSync(file)) file += '.gz';
      const r = await runIn('man', ['-l', file], { env: { MANWIDTH: '100', PAGER: 'cat' } });
      assert.equal(r.code, 0, r.stderr);
      const text = r.stdout.replace(/.\x08/g, '');
      for (const w of words) assert.ok(text.includes(w), `${page}: ${w}`);
      assert.doesNotMatch(r.stderr, /warning/i, `${page}: ${r.stderr}`);
    }
  });

  it('tocsin-migrate applies the installed schema to an empty database', async (t2) => {
    if (!t) { t2.skip(whyNot()); return; }
    const admin = await pgConnect(process.env.TOCSIN_PG_ADMIN_URL);
    const name = `t_${label.replace(/\W/g, '_')}_empty_${process.pid}`;
    try {
      await admin.query(`CREATE DATABASE "${name}"`);
      const url = new URL(st.db.superUrl);
      url.pathname = `/${name}`;
      const r = await runIn(at(path.join(t.sbin, 'tocsin-migrate')), [url.toString()],
        { env: { TOCSIN_SQL_DIR: at(path.join(t.data, 'tocsin/sql')) } });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /empty database: applied the baseline/);
      assert.match(r.stdout, /applied the functions/);
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS "${name}"`).catch(() => {});
      await admin.end();
    }
  });

  it('tocsinctl keys init makes the keys, and the broker starts on them with the sample configuration', async (t2) => {
    if (!t) { t2.skip(whyNot()); return; }
    const kdir = path.join(keys, 'etc-tocsin');
    const r = await runIn(at(path.join(t.bin, 'tocsinctl')), ['keys', 'init', '--dir', kdir, ...keyGroup()]);
    assert.equal(r.code, 0, r.stderr);
    const busPort = await freePort();
    st.broker = new Broker({
      label: `${label}-broker`,
      databaseUrl: st.db.brokerUrl,
      binary: at(path.join(t.sbin, 'tocsind')),
      flags: false,
      // the sample file, with what differs on a test machine on the command line
      args: (b) => ['--config', at('etc/tocsin/tocsind.conf'), '--listen', `127.0.0.1:${b.port}`,
        '--database', st.db.brokerUrl, '--public-url', `http://127.0.0.1:${b.port}`,
        '--web-root', at(path.join(t.data, 'tocsin/web-client')),
        '--token-key', path.join(kdir, 'token.key'), '--audit-key', path.join(kdir, 'audit.key'),
        '--alert-key', path.join(kdir, 'alert_sign.key'),
        '--bus-key', path.join(kdir, 'bus_server.key'), '--bus-ingest', `tcp://127.0.0.1:${busPort}`,
        '--tls-cert=', '--tls-key=', '--user=', '--journal', path.join(b.tmpDir, 'journal', 'tocsin.journal')],
    });
    await st.broker.start();
    assert.match(st.broker.stderr, new RegExp(`bus: ingest tcp://127\\.0\\.0\\.1:${busPort}`));
    const page = await httpRequest(st.broker, 'GET', '/');
    assert.equal(page.status, 200);
    assert.equal((await httpRequest(st.broker, 'GET', '/vendor/leaflet/leaflet.css')).status, 200);
    for (const p of ['/package.json', '/node_modules/leaflet/package.json', '/README.md']) {
      assert.equal((await httpRequest(st.broker, 'GET', p)).status, 404, p);
    }
    const s = await st.connectAs('controller');
    await s.ping();
    s.close();
    await st.stop();
  });

  it('the unit as shipped: systemd-analyze verify passes, exposure at most 2.0', async (t2) => {
    if (!t) { t2.skip(whyNot()); return; }
    if (!have('systemd-analyze')) { t2.skip('systemd-analyze is not installed (systemd)'); return; }
    const unit = at(path.join(t.unit, 'tocsind.service'));
    const text = fs.readFileSync(unit, 'utf8');
    assert.match(text, new RegExp(`^ExecStart=${t.sbin}/tocsind --config /etc/tocsin/tocsind\\.conf$`, 'm'));
    const sec = await runIn('systemd-analyze', ['security', '--offline=yes', unit]);
    const m = sec.stdout.match(/Overall exposure level for tocsind\.service: ([\d.]+)/);
    assert.ok(m, sec.stdout + sec.stderr);
    assert.ok(Number(m[1]) <= 2.0, `exposure ${m[1]} > 2.0:\n${sec.stdout.split('\n').filter((l) => l.includes('✗')).join('\n')}`);
    // verify wants ExecStart's program and the Documentation= pages to exist:
    // the tree's, not the machine's
    const copy = path.join(keys, 'tocsind.service');
    fs.writeFileSync(copy, text.replace(/^ExecStart=\S+/m, `ExecStart=${at(path.join(t.sbin, 'tocsind'))}`));
    const v = await runIn('systemd-analyze', ['verify', copy], { env: { MANPATH: at(t.man) } });
    assert.equal(v.code, 0, v.stdout + v.stderr);
  });
}

describe('make install DESTDIR=: a tree that runs', { timeout: 600_000 }, () => {
  let dest;
  let tree = null;

  before(async () => {
    dest = fs.mkdtempSync(path.join(os.tmpdir(), 'tocsin-destdir-'));
    const r = await runIn('make', ['--no-print-directory', 'install', `DESTDIR=${dest}`], { timeoutMs: 540_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    tree = { root: dest, version: GIT_VERSION, sbin: '/usr/local/sbin', bin: '/usr/local/bin', data: '/usr/local/share',
      man: '/usr/local/share/man', unit: '/usr/local/lib/systemd/system' };
  });
  after(() => { if (dest) fs.rmSync(dest, { recursive: true, force: true }); });

  checksOfTree('destdir', () => tree);
});

describe('the Debian package, built from make dist\'s tarball', { timeout: 1_200_000 }, () => {
  let work;
  let tree = null;
  let deb;
  const missing = ['dpkg-buildpackage', 'dh', 'dpkg-deb'].filter((p) => !have(p));

  before(async () => {
    if (missing.length) return;
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'tocsin-deb-'));
    const dist = await runIn('make', ['--no-print-directory', 'dist'], { timeoutMs: 300_000 });
    assert.equal(dist.code, 0, dist.stdout + dist.stderr);
    const tarball = path.join(ROOT, dist.stdout.match(/^dist: (\S+)$/m)[1]);
    await runIn('tar', ['-xzf', tarball, '-C', work]);
    const [src] = fs.readdirSync(work);
    const version = fs.readFileSync(path.join(work, src, 'VERSION'), 'utf8').trim();
    // no git, no npm: the tarball has VERSION and web-client/vendor/
    const build = await runIn('dpkg-buildpackage', ['-us', '-uc', '-b', '-j2'],
      { cwd: path.join(work, src), timeoutMs: 900_000, env: { GIT_DIR: '/nonexistent' } });
    assert.equal(build.code, 0, build.stdout.slice(-4000) + build.stderr.slice(-4000));
    deb = path.join(work, fs.readdirSync(work).find((f) => /^tocsin_.*\.deb$/.test(f)));
    const root = path.join(work, 'root');
    await runIn('dpkg-deb', ['-x', deb, root]);
    tree = { root, version, sbin: '/usr/sbin', bin: '/usr/bin', data: '/usr/share', man: '/usr/share/man',
      unit: '/lib/systemd/system' };
  });
  after(() => { if (work) fs.rmSync(work, { recursive: true, force: true }); });

  it('depends on runtime libraries only, keeps the configuration, and starts nothing', async (t) => {
    if (missing.length) { t.skip(`${missing.join(', ')} missing: install dpkg-dev and debhelper (deploy/install-deps.sh --test)`); return; }
    const depends = (await runIn('dpkg-deb', ['-f', deb, 'Depends'])).stdout.trim();
    for (const lib of ['libwebsockets17', 'libpq5', 'libsodium23', 'libzmq5', 'libinih1', 'libwebsockets-evlib-ev', 'adduser']) {
      assert.ok(depends.includes(lib), `Depends: ${depends} (${lib})`);
    }
    for (const tool of ['gcc', 'make', 'nodejs', 'npm', 'debhelper']) {
      assert.ok(!depends.split(/,\s*/).some((d) => d.split(' ')[0] === tool), `Depends: ${depends} (${tool})`);
    }
    assert.ok(!depends.split(/,\s*/).some((d) => /^postgresql(-\d+)?( |$)/.test(d)), `no PostgreSQL server: ${depends}`);
    const ctl = path.join(work, 'control');
    await runIn('dpkg-deb', ['-e', deb, ctl]);
    assert.equal(fs.readFileSync(path.join(ctl, 'conffiles'), 'utf8').trim(), '/etc/tocsin/tocsind.conf');
    const postinst = fs.readFileSync(path.join(ctl, 'postinst'), 'utf8');
    assert.match(postinst, /adduser --quiet --system --group --home \/var\/lib\/tocsin/);
    assert.match(postinst, /install -d -o tocsin -g tocsin -m 0750 \/var\/lib\/tocsin/);
    // dh_installsystemd --no-enable --no-start: enabled again only if it was
    assert.doesNotMatch(postinst, /^\s*(deb-systemd-invoke (start|restart)|systemctl (start|restart|enable))/m);
    assert.match(postinst, /if deb-systemd-helper --quiet was-enabled 'tocsind\.service'; then\n\s*# Create new symlinks/);
  });

  checksOfTree('debian', () => tree,
    () => `${missing.join(', ')} missing: install dpkg-dev and debhelper (deploy/install-deps.sh --test)`);
});
