// Two brokers on one database (issue 20): consoles split between node 1
// (A) and node 2 (B) hear each other's work as if there were one broker.
// An alert published on either reaches the consoles of both, in stream
// order, once; receipts from B's consoles reach the tallies of A's
// controller; a status report on B updates the board on A, and a
// report-now asked on A reaches B's consoles; a partner report on B
// reaches A's desks; an escalation claimed by the leader rings the site's
// consoles on the other node; a user disabled on A is cut off on B within
// 5 s. An alert fanned out from another node is signed as a local one
// is. A third broker given a node id already running refuses to run.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Broker, Stack, consoleDirectory, newRef, waitFor } from './lib/harness.mjs';
import { BrokerFiles, killBroker, publish } from './lib/faults.mjs';
import { diamond, statusMsg } from './lib/status-helpers.mjs';
import {
  startNode, waitNodes, connectTo, arrivals, assertInOrderOnce,
} from './lib/nodes.mjs';
import { AlertKeys } from '../../web-client/js/signed.js';

const ESCALATE_AFTER = 3;

describe('two brokers on one database', { timeout: 300_000 }, () => {
  let st, files, nodeA, nodeB, consoles;
  const on = (b, user, opts) => connectTo(st, b, user, opts);

  before(async () => {
    files = new BrokerFiles('nodes');
    const args = ['--escalate-after', String(ESCALATE_AFTER)];
    st = await Stack.create({ label: import.meta.url, broker: { args: ['--token-key', files.keyFile, '--node-id', '1', ...args] } });
    nodeA = st.broker;
    nodeB = await startNode(st, files, 2, args);
    await waitNodes(st, [1, 2]);
    consoles = await consoleDirectory(st);
  });
  after(async () => {
    await st?.cleanup();
    nodeB?.kill();
    files?.remove();
  });

  it('a broker given a node id that is running refuses to run (exit 1), and names who holds it', async () => {
    const twin = new Broker({
      label: `${st.label}-twin`, databaseUrl: st.db.brokerUrl,
      args: ['--token-key', files.keyFile, '--node-id', '1'],
    });
    await twin.start().catch(() => {}); // it may exit before or after answering /healthz
    await waitFor(() => twin.exit, { timeoutMs: 20_000, what: 'the twin to exit' });
    await killBroker(twin); // its log and files; throws on a sanitizer report
    assert.equal(twin.exit.code, 1, twin.tail());
    assert.match(twin.stderr, /node id 1 is held by the session of pid \d+ \(tocsind peers/);
    assert.equal(await waitNodes(st, [1, 2]) > 0, true, 'both nodes still run, one leads');
  });

  it('alerts published on either node reach the consoles of both, in stream order, once', async () => {
    const site = consoles[0];
    const [onA, onB] = [await on(nodeA, site.username), await on(nodeB, site.username)];
    const [ctlA, ctlB] = [await on(nodeA, 'controller'), await on(nodeB, 'controller2')];
    // both at once, so that their positions interleave and each node has
    // the other's before some of its own
    const sent = await Promise.all(Array.from({ length: 12 }, (_, i) =>
      publish(i % 2 ? ctlB : ctlA, { headline: `Two nodes ${i}`, severity: 'minor', targets: { sites: [site.site_id] } })));
    const ids = new Set(sent.map((p) => p.alert_id));
    for (const [s, what] of [[onA, 'the console on A'], [onB, 'the console on B']]) {
      await waitFor(() => [...ids].every((id) => arrivals(s).some((f) => f.id === id)),
        { timeoutMs: 15_000, what: `${what} to have all 12 alerts` });
      assertInOrderOnce(assert, arrivals(s).filter((f) => ids.has(f.id)), what);
    }
  });

  it('receipts from consoles on B reach the tallies of the controller on A', async () => {
    const site = consoles[1];
    const ctlA = await on(nodeA, 'controller');
    const conB = await on(nodeB, site.username);
    const pub = await publish(ctlA, { headline: 'Ack me from B', severity: 'minor', targets: { sites: [site.site_id] } });
    await conB.next((m) => m.type === 'alert' && m.alert.id === pub.alert_id, 10_000, 'the alert on B');
    await ctlA.next((m) => m.type === 'tally' && m.alert_id === pub.alert_id && m.delivered === 1, 10_000,
      'the tally on A counting the delivery on B');
    const ack = await conB.request({ type: 'ack', alert_id: pub.alert_id });
    assert.equal(ack.type, 'acked', JSON.stringify(ack));
    const t = await ctlA.next((m) => m.type === 'tally' && m.alert_id === pub.alert_id && m.acknowledged === 1,
      10_000, 'the tally on A counting the acknowledgement on B');
    assert.equal(t.recipients, 1);
  });

  it('an alert published on A reaches a console on B signed, as a local publish is, and B\'s in_force too', async () => {
    const site = consoles[0];
    const ctlA = await on(nodeA, 'controller');
    const [conB, ctlB] = [await on(nodeB, site.username), await on(nodeB, 'controller2')];
    const pub = await publish(ctlA, { headline: `Signed across nodes ${Date.now()}`, severity: 'minor', targets: { sites: [site.site_id] } });
    // both nodes read the same alert_sign.key (beside files.keyFile)
    const ak = new AlertKeys(async () => (await st.http('GET', '/api/keys/alerts')).json);
    const frame = await conB.next((m) => m.type === 'alert' && m.alert.id === pub.alert_id, 10_000, 'the alert on B');
    assert.equal(await ak.verify(frame.alert, frame.signature), 'valid', JSON.stringify(frame));
    const live = await ctlB.next((m) => m.type === 'in_force' && m.alert_id === pub.alert_id, 10_000, 'the in_force on B');
    assert.equal(await ak.verify(live.alert, live.signature), 'valid', JSON.stringify(live));
  });

  it('a status report on B updates the board on A; a report-now on A asks the consoles on B', async () => {
    const site = consoles[2];
    const ctlA = await on(nodeA, 'controller');
    const conB = await on(nodeB, site.username);
    const board = await ctlA.request({ type: 'board' });
    assert.equal(board.type, 'board', JSON.stringify(board));
    const ok = await conB.request(statusMsg({ people: 77, state: 'heightened', note: `from B ${Date.now()}` }));
    assert.equal(ok.type, 'status_ok', JSON.stringify(ok));
    const upd = await ctlA.next((m) => m.type === 'status_update' && m.site?.site_id === site.site_id && m.site.people === 77,
      10_000, 'the status_update on A');
    assert.equal(upd.site.state, 'heightened');

    const s = await st.one('SELECT lat, lon FROM sites WHERE id = $1', [site.site_id]);
    const r = await ctlA.request({ type: 'report_now', area: { polygon: diamond(s.lat, s.lon, 0.0003, 0.0004) } });
    assert.equal(r.type, 'report_now', JSON.stringify(r));
    assert.ok(r.asked.includes(site.site_id), JSON.stringify(r));
    await conB.next((m) => m.type === 'report_request' && m.request_id === r.request_id, 10_000, 'the report_request on B');
    const answer = await conB.request(statusMsg({ people: 78, in_reply_to: r.request_id }));
    assert.equal(answer.answered, true, JSON.stringify(answer));
    const prog = await ctlA.next((m) => m.type === 'report_now_status' && m.request_id === r.request_id, 10_000,
      'the progress on A');
    assert.ok(prog.reported.includes(site.site_id), JSON.stringify(prog));
  });

  it('a partner report sent on B reaches the force\'s desks on A', async () => {
    const site = consoles[3];
    const analystA = await on(nodeA, 'analyst');
    const conB = await on(nodeB, site.username);
    const text = `Seen from B ${Date.now()}`;
    const r = await conB.request({ type: 'report', kind: 'suspicious', text });
    assert.equal(r.type, 'reported', JSON.stringify(r));
    const got = await analystA.next((m) => m.type === 'partner_report' && m.report?.id === r.report_id, 10_000,
      'the partner_report on A');
    assert.equal(got.report.text, text);
  });

  it('an escalation claimed by the leader rings the site\'s consoles on the other node too', async () => {
    const leader = (await st.one('SELECT node FROM tocsin_nodes() WHERE leader')).node;
    const [here, there] = leader === 1 ? [nodeA, nodeB] : [nodeB, nodeA];
    const site = consoles[4];
    const conThere = await on(there, site.username);
    const conHere = await on(here, site.username);
    const ctlThere = await on(there, 'controller');
    const pub = await publish(ctlThere, { headline: 'Escalate across', severity: 'severe', targets: { sites: [site.site_id] } });
    for (const [c, what] of [[conThere, 'the console on the other node'], [conHere, 'the console on the leader']]) {
      const m = await c.next((x) => x.type === 'alert' && x.alert.id === pub.alert_id && x.escalated === true,
        ESCALATE_AFTER * 1000 + 15_000, `the escalated alert at ${what}`);
      assert.equal(m.alert.seq, pub.seq);
    }
    await ctlThere.next((m) => m.type === 'escalation' && m.alert_id === pub.alert_id && m.site_id === site.site_id,
      10_000, 'the escalation at the sender\'s desk on the other node');
    await conThere.expectNothing((x) => x.type === 'alert' && x.alert.id === pub.alert_id && x.escalated === true, 1500,
      'a second escalated copy');
    const n = await st.one('SELECT count(*)::int AS n FROM escalations WHERE alert_id = $1', [pub.alert_id]);
    assert.equal(n.n, 1, 'claimed once');
    // acknowledged now, so that it rings no more
    await conThere.request({ type: 'ack', alert_id: pub.alert_id });
  });

  it('a user disabled through A is cut off on B within 5 s', async () => {
    const site = consoles[5];
    const conB = await on(nodeB, site.username);
    const admin = await on(nodeA, 'admin');
    const r = await admin.request({ type: 'admin', op: 'user_disable', username: site.username, ref: newRef('adm') }, 20_000);
    assert.equal(r.rows?.[0]?.disabled, true, JSON.stringify(r));
    const closed = await conB.waitClosed(5000);
    assert.equal(closed.code, 4401, JSON.stringify(closed));
  });

  it('both nodes stop cleanly (exit 0, no sanitizer report)', async () => {
    await nodeB.stop();
    await st.stop();
  });
});
