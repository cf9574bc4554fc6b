// The audit seal chain from the outside: `tocsinctl audit verify` and the
// wait for the broker's sealer (broker/handle/audit_sealer.c).
import { execFile } from 'node:child_process';
import path from 'node:path';
import { ROOT, waitFor } from './harness.mjs';

const TOCSINCTL = path.join(ROOT, 'build/tocsinctl');

// tocsinctl audit verify as the broker's role, with the broker's audit key
// (created beside its token key): { code, out }.
export function verifyAudit(st, { keyFile, timeoutMs = 60_000 } = {}) {
  const key = keyFile || path.join(path.dirname(st.broker.keyFile), 'audit.key');
  return new Promise((resolve) => {
    execFile(TOCSINCTL, ['audit', 'verify', '--database', st.db.brokerUrl, '--audit-key', key],
      { timeout: timeoutMs }, (err, stdout, stderr) => {
        resolve({ code: err ? err.code : 0, out: stdout + stderr });
      });
  });
}

// Waits until every audit row that exists now has its seal (rows written
// later may still wait); returns the number of rows.
export async function waitAllSealed(st, { timeoutMs = 60_000, what = 'every audit row sealed' } = {}) {
  const { n, top } = await st.one('SELECT count(*)::int AS n, COALESCE(max(id), 0)::float8 AS top FROM audit');
  await waitFor(async () => {
    const r = await st.one(`SELECT count(*)::int AS sealed FROM audit_seal WHERE audit_id <= $1`, [top]);
    return r.sealed >= n ? r : null;
  }, { timeoutMs, intervalMs: 250, what: `${what} (${n} rows up to id ${top})` });
  return n;
}
