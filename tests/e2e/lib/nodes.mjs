// Several brokers (nodes) on one database (issue 20, docs/operations.md
// "Two nodes"): what the two-node tests share.
//
// Every node of a force reads the same token key and audit key (a console's
// token is good on either; either may seal the audit trail): BrokerFiles
// (faults.mjs) holds them, and each node gets --token-key from it (the
// audit key is read beside it), its own --node-id, and a journal of its own
// (the harness's, per process).
import { Broker, connect, waitFor } from './harness.mjs';

// Starts a broker on st's database as node `node`.
export async function startNode(st, files, node, args = []) {
  const b = new Broker({
    label: `${st.label}-node${node}`, databaseUrl: st.db.brokerUrl,
    args: ['--token-key', files.keyFile, '--node-id', String(node), ...args],
  });
  await b.start();
  return b;
}

// The nodes alive on st's database, as tocsin_nodes() names them:
// [{ node, leader, pid, application_name }].
export async function liveNodes(st) {
  return st.query('SELECT node, leader, pid, application_name FROM tocsin_nodes() ORDER BY node');
}

// Waits until exactly the nodes `want` (ids) hold their locks and one of
// them leads; returns the leader's id.
export async function waitNodes(st, want, { timeoutMs = 20_000 } = {}) {
  const rows = await waitFor(async () => {
    const r = await liveNodes(st);
    const ids = r.map((x) => x.node).sort((a, b) => a - b);
    return JSON.stringify(ids) === JSON.stringify([...want].sort((a, b) => a - b)) &&
      r.filter((x) => x.leader).length === 1 ? r : null;
  }, { timeoutMs, intervalMs: 100, what: `nodes ${want} alive, one of them leading` });
  return rows.find((x) => x.leader).node;
}

// A signed-in session on broker b, kept in st.sessions for the clean-up.
export async function connectTo(st, b, username, opts = {}) {
  const s = await connect(b, await st.token(username), { label: `${username}@${b.label}`, ...opts });
  st.sessions.push(s);
  return s;
}

// The alert frames of s in the order they came: [{ id, seq }].
export function arrivals(s) {
  return s.seen.filter((m) => m.type === 'alert').map((m) => ({ id: m.alert.id, seq: m.alert.seq }));
}

// Asserts that frames (arrivals) came in stream order and each id once.
export function assertInOrderOnce(assert, frames, what) {
  const ids = frames.map((f) => f.id);
  assert.equal(new Set(ids).size, ids.length, `${what}: an alert came twice: ${JSON.stringify(frames)}`);
  for (let i = 1; i < frames.length; i++) {
    assert.ok(frames[i].seq > frames[i - 1].seq,
      `${what}: position ${frames[i].seq} came after ${frames[i - 1].seq}: ${JSON.stringify(frames)}`);
  }
}
