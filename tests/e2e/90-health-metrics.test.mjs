// What a load balancer and a monitoring system see (issue 19, part 4):
// /healthz (alive), /readyz (take new consoles?), and /metrics in the
// Prometheus text format, parsed by a strict parser (lib/prom.mjs), whose
// counters move as the test signs in, publishes and acknowledges; who may
// read /metrics (metrics-allow, metrics-token).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Stack, Broker, ROOT, consoleDirectory, httpRequest, newRef, waitFor } from './lib/harness.mjs';
import { parseProm } from './lib/prom.mjs';

async function scrape(broker, headers = {}) {
  const r = await httpRequest(broker, 'GET', '/metrics', { headers });
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  return parseProm(r.text);
}

describe('/healthz, /readyz and /metrics', { timeout: 180_000 }, () => {
  let st, site, ctl, con;

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    [site] = await consoleDirectory(st);
    ctl = await st.connectAs('controller');
    con = await st.connectAs(site.username);
  });
  after(async () => { await st?.cleanup(); });

  it('/healthz says alive with the database state; /readyz says ready', async () => {
    const h = await st.http('GET', '/healthz');
    assert.equal(h.status, 200);
    assert.deepEqual([h.json.status, h.json.db, h.json.journal, h.json.ready], ['ok', 'up', 0, true]);
    assert.equal(h.json.connections, 2);
    const r = await st.http('GET', '/readyz');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { ready: true, db: 'up' });
  });

  it('/metrics parses, and every family this broker promises is there with its type', async () => {
    const m = await scrape(st.broker);
    const want = {
      tocsin_connections: 'gauge', tocsin_alerts_published_total: 'counter', tocsin_deliveries_total: 'counter',
      tocsin_fanout_seconds: 'histogram', tocsin_publish_durable_seconds: 'histogram', tocsin_acks_total: 'counter',
      tocsin_escalations_total: 'counter', tocsin_slow_consumer_closes_total: 'counter',
      tocsin_journal_records: 'gauge', tocsin_db_up: 'gauge', tocsin_signin_failures_total: 'counter',
      tocsin_signin_lockouts_total: 'counter', tocsin_bus_messages_total: 'counter', tocsin_ready: 'gauge',
    };
    for (const [name, type] of Object.entries(want)) {
      assert.equal(m.families.get(name)?.type, type, `${name} is a ${type}`);
      assert.ok(m.families.get(name).help, `${name} has HELP`);
    }
    assert.equal(m.value('tocsin_connections', { role: 'controller' }), 1);
    assert.equal(m.value('tocsin_connections', { role: 'site_console' }), 1);
    assert.equal(m.value('tocsin_db_up', { connection: 'main' }), 1);
    assert.equal(m.value('tocsin_ready'), 1);
    assert.equal(m.value('tocsin_journal_records'), 0);
    // the probe's figures come a scrape later at most
    await waitFor(async () => (await scrape(st.broker)).families.has('tocsin_db_rtt_seconds'),
      { timeoutMs: 20_000, what: 'tocsin_db_rtt_seconds' });
  });

  it('counters move as a severe alert is published, delivered and acknowledged', async () => {
    const before0 = await scrape(st.broker);
    const v0 = (name, labels) => before0.value(name, labels);
    const ref = newRef('pub');
    ctl.send({ type: 'publish', ref, headline: `Metrics ${Date.now()}`, severity: 'severe', targets: { sites: [site.site_id] } });
    const pub = await ctl.next((x) => x.ref === ref, 5000, 'published');
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    await con.next((x) => x.type === 'alert' && x.alert.id === pub.alert_id, 5000, 'the alert');

    // unacknowledged: the probe counts it
    await waitFor(async () => (await scrape(st.broker)).value('tocsin_unacked_severe_alerts') >= 1,
      { timeoutMs: 30_000, intervalMs: 500, what: 'tocsin_unacked_severe_alerts >= 1' });
    const ack = await con.request({ type: 'ack', alert_id: pub.alert_id });
    assert.equal(ack.type, 'acked', JSON.stringify(ack));

    const m = await waitFor(async () => {
      const x = await scrape(st.broker);
      return x.value('tocsin_acks_total') > v0('tocsin_acks_total') && x;
    }, { timeoutMs: 10_000, what: 'tocsin_acks_total to move' });
    const sev = { severity: 'severe', source: 'console' };
    assert.equal(m.value('tocsin_alerts_published_total', sev), v0('tocsin_alerts_published_total', sev) + 1);
    assert.equal(m.value('tocsin_alerts_published_total', { severity: 'minor', source: 'console' }),
      v0('tocsin_alerts_published_total', { severity: 'minor', source: 'console' }));
    assert.ok(m.value('tocsin_deliveries_total') >= v0('tocsin_deliveries_total') + 1, 'a delivery counted');
    assert.equal(m.value('tocsin_acks_total'), v0('tocsin_acks_total') + 1);
    assert.equal(m.value('tocsin_publish_durable_seconds_count'), v0('tocsin_publish_durable_seconds_count') + 1);
    assert.ok(m.value('tocsin_publish_durable_seconds_sum') > v0('tocsin_publish_durable_seconds_sum'));
    assert.ok(m.value('tocsin_fanout_seconds_count') >= v0('tocsin_fanout_seconds_count') + 1, 'a fan-out observed');
    assert.ok(m.value('tocsin_stream_head') >= pub.seq);
  });

  it('the Grafana dashboard (deploy/grafana) asks only for metrics the broker writes', async () => {
    const dash = JSON.parse(fs.readFileSync(path.join(ROOT, 'deploy/grafana/tocsin-dashboard.json'), 'utf8'));
    const m = await scrape(st.broker);
    const asked = new Set();
    for (const p of dash.panels) {
      for (const t of p.targets) for (const name of t.expr.match(/tocsin_[a-z_]+/g)) asked.add(name.replace(/_(bucket|sum|count)$/, ''));
    }
    assert.ok(asked.size >= 15, [...asked].join(' '));
    const missing = [...asked].filter((n) => !m.families.has(n));
    assert.deepEqual(missing, [], 'every metric the dashboard plots is in /metrics');
  });

  it('a refused sign-in and a lockout are counted', async () => {
    const before0 = await scrape(st.broker);
    const bad = await st.http('POST', '/api/login', { body: { username: 'controller2', password: 'not-the-password' } });
    assert.equal(bad.status, 401);
    const m = await scrape(st.broker);
    assert.equal(m.value('tocsin_signin_failures_total'), before0.value('tocsin_signin_failures_total') + 1);
    assert.equal(m.value('tocsin_signin_lockouts_total'), before0.value('tocsin_signin_lockouts_total'));
  });
});

describe('who may read /metrics', { timeout: 120_000 }, () => {
  let st;
  const token = 'metrics-token-of-the-test-0123456789';

  before(async () => {
    // 127.0.0.1 is not in metrics-allow here: only the token opens it
    st = await Stack.create({ label: `${import.meta.url}-access`, broker: {
      args: ['--metrics-allow', '10.0.0.0/8', '--metrics-token', token] } });
  });
  after(async () => { await st?.cleanup(); });

  it('refuses an address outside metrics-allow, and a wrong token; takes the token', async () => {
    const none = await st.http('GET', '/metrics');
    assert.equal(none.status, 403, none.text);
    assert.equal(none.json.error.code, 'forbidden');
    assert.doesNotMatch(none.text, /tocsin_/, 'no metric in a refusal');
    const wrong = await st.http('GET', '/metrics', { headers: { authorization: `Bearer ${token}x` } });
    assert.equal(wrong.status, 403);
    const prefix = await st.http('GET', '/metrics', { headers: { authorization: `Bearer ${token.slice(0, -1)}` } });
    assert.equal(prefix.status, 403);
    const m = await scrape(st.broker, { authorization: `Bearer ${token}` });
    assert.equal(m.value('tocsin_ready'), 1);
    // /healthz and /readyz stay open to anyone: a load balancer has no token
    assert.equal((await st.http('GET', '/healthz')).status, 200);
    assert.equal((await st.http('GET', '/readyz')).status, 200);
  });

  it('refuses a metrics-token shorter than 16 characters at start', async () => {
    const b = new Broker({ label: 'metrics-short-token', databaseUrl: st.db.brokerUrl, args: ['--metrics-token', 'short'] });
    await assert.rejects(b.start(), /exited before answering/);
    assert.match(b.stderr, /metrics-token must be at least 16 characters/);
    assert.equal(b.exit.code, 2);
  });
});
