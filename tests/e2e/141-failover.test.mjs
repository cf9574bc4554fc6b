// A node killed with SIGKILL behind the balancer (issue 20): two brokers on
// one database, nginx in front of them (deploy/nginx-tocsin.conf), site
// consoles split between the nodes by it, and a controller on B publishing
// a stream of alerts. Node A, which leads, is killed with SIGKILL in the
// middle of the stream. Its consoles reconnect through nginx, land on B and
// resume: every console has every alert meant for it once, in stream order.
// B leads within 5 s: it escalates the severe alert A had not yet
// escalated, it seals the audit trail, and `tocsinctl audit verify` finds
// the chain intact.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, consoleDirectory, sleep, waitFor } from './lib/harness.mjs';
import { BrokerFiles, alertFrames, connectResume, killBroker, publish } from './lib/faults.mjs';
import { connect } from './lib/harness.mjs';
import { verifyAudit, waitAllSealed } from './lib/audit.mjs';
import { Balancer } from './lib/balancer.mjs';
import { startNode, waitNodes, connectTo, liveNodes, assertInOrderOnce } from './lib/nodes.mjs';

const ESCALATE_AFTER = 3;
const STREAM = 30;    // alerts in the stream
const KILL_AT = 10;   // A dies after this many
const CONSOLES = 6;

// A console as the page is one: connected through the balancer, and on a
// close, reconnected there with back-off, resuming from the highest
// position it holds.
class Console {
  constructor(lb, token, label) {
    Object.assign(this, { lb, token, label, sessions: [], stopping: false, reconnects: 0 });
  }

  async start() {
    this.#watch(await connect(this.lb, this.token, { label: this.label }));
    this.epoch = this.sessions[0].welcome.stream.epoch;
    this.head = this.sessions[0].welcome.stream.head;
    return this;
  }

  #watch(s) {
    this.sessions.push(s);
    s.closed.then(() => { if (!this.stopping) this.reconnected = this.#reconnect(); });
  }

  async #reconnect() {
    for (let delay = 100; !this.stopping; delay = Math.min(delay * 2, 2000)) {
      try {
        const s = await connectResume(this.lb, this.token, { epoch: this.epoch, seq: this.cursor() },
          { label: `${this.label}-again` });
        assert.equal(s.welcome.resume?.status, 'ok', JSON.stringify(s.welcome));
        this.reconnects++;
        this.#watch(s);
        return;
      } catch (err) {
        this.lastError = err;
        await sleep(delay);
      }
    }
  }

  // Every alert frame of every connection, but an escalation's second copy.
  frames() {
    return this.sessions.flatMap((s) => alertFrames(s)).filter((m) => !m.escalated);
  }

  cursor() {
    return this.frames().reduce((seq, m) => Math.max(seq, m.alert.seq), this.head);
  }

  arrivals() {
    return this.frames().map((m) => ({ id: m.alert.id, seq: m.alert.seq }));
  }

  stop() {
    this.stopping = true;
    for (const s of this.sessions) s.close();
  }
}

describe('a node killed with SIGKILL behind the balancer', { timeout: 300_000 }, () => {
  let st, files, nodeA, nodeB, lb, consoles;
  const clients = [];

  before(async () => {
    files = new BrokerFiles('failover');
    const args = ['--escalate-after', String(ESCALATE_AFTER)];
    st = await Stack.create({ label: import.meta.url, broker: { args: ['--token-key', files.keyFile, '--node-id', '1', ...args] } });
    nodeA = st.broker;
    assert.equal(await waitNodes(st, [1]), 1, 'A leads, alone');
    nodeB = await startNode(st, files, 2, args);
    assert.equal(await waitNodes(st, [1, 2]), 1, 'A still leads with B beside it');
    lb = await new Balancer([nodeA, nodeB]).start();
    consoles = await consoleDirectory(st);
  });
  after(async () => {
    for (const c of clients) c.stop();
    await lb?.stop();
    await st?.cleanup();
    nodeB?.kill();
    files?.remove();
  });

  it('consoles resume on B with nothing lost, doubled or out of order; B leads within 5 s', async () => {
    const sites = consoles.slice(0, CONSOLES);
    for (const site of sites) {
      clients.push(await new Console(lb, await st.token(site.username), site.username).start());
    }
    const ctl = await connectTo(st, nodeB, 'controller');
    const targets = { sites: sites.map((s) => s.site_id) };
    const sent = [];
    let killedAt;
    let severe;
    let leads; // B holds the leader's lock within 5 s of A's death
    for (let i = 0; i < STREAM; i++) {
      sent.push(await publish(ctl, { headline: `Stream ${i}`, severity: 'minor', targets }, 20_000));
      if (i + 1 === KILL_AT) {
        // due for escalation in ESCALATE_AFTER s: A must not live to claim it
        severe = await publish(ctl, { headline: 'Severe, unanswered', severity: 'severe', targets: { sites: [sites[0].site_id] } });
        await killBroker(nodeA);
        killedAt = Date.now();
        leads = waitFor(async () => {
          const r = await liveNodes(st);
          return r.length === 1 && r[0].node === 2 && r[0].leader ? Date.now() : null;
        }, { timeoutMs: 5000, intervalMs: 100, what: 'B alone, leading, within 5 s of the kill' })
          .catch(async (err) => { throw new Error(`${err.message}: ${JSON.stringify(await liveNodes(st))}`); });
        leads.catch(() => {}); // awaited below, after the stream
      }
    }
    console.log(`# B led ${(await leads) - killedAt} ms after A was killed`);

    const onA = clients.filter((c) => c.sessions[0].closeInfo);
    assert.ok(onA.length > 0 && onA.length < CONSOLES, `nginx put consoles on both nodes (${onA.length} on A)`);
    for (const c of clients) {
      const want = sent.map((p) => p.alert_id).concat(c === clients[0] ? [severe.alert_id] : []);
      await waitFor(() => want.every((id) => c.frames().some((m) => m.alert.id === id)), {
        timeoutMs: 60_000, what: `${c.label} to hold all ${want.length} alerts (reconnects ${c.reconnects}, ` +
          `last error ${c.lastError?.message})`,
      });
      assertInOrderOnce(assert, c.arrivals(), c.label);
    }
    for (const c of onA) assert.equal(c.reconnects, 1, `${c.label} came back once, through nginx`);

    // B escalates the severe alert A had not: once, to the console
    const first = clients[0].sessions;
    await waitFor(() => first.some((s) => s.seen.some((m) => m.type === 'alert' && m.escalated && m.alert.id === severe.alert_id)),
      { timeoutMs: ESCALATE_AFTER * 1000 + 15_000, what: 'the escalated copy at the severe alert\'s console' });
    const esc = await st.query('SELECT escalated_at FROM escalations WHERE alert_id = $1', [severe.alert_id]);
    assert.equal(esc.length, 1, 'claimed once');
    assert.ok(esc[0].escalated_at.getTime() > killedAt - 1000, 'claimed by B, after the kill');
    await clients[0].sessions.at(-1).request({ type: 'ack', alert_id: severe.alert_id });

    // B seals what both wrote, and the chain verifies
    await waitAllSealed(st, { timeoutMs: 60_000, what: 'every audit row sealed by B' });
    const v = await verifyAudit(st, { keyFile: `${files.dir}/audit.key` });
    assert.equal(v.code, 0, v.out);
  });

  it('B stops cleanly (exit 0, no sanitizer report)', async () => {
    for (const c of clients) c.stop();
    await nodeB.stop();
    await lb.stop();
  });
});
