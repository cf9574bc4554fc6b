// journal_applied does not grow without end (issue 16, item 7). Every
// delivery batch, acknowledgement and read written straight to the
// database, and every journal record written back, leaves its record id
// in journal_applied, so that a replay of the same record is skipped. The
// broker now prunes the ids older than the retention (30 days,
// tocsin_journal_applied_prune in sql/functions/alerts.sql; docs/operations.md),
// soon after it connects and then every minute; recent ones stay.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, Broker, pgConnect, waitFor } from './lib/harness.mjs';
import { stopStack } from './lib/faults.mjs';

describe('journal_applied is pruned past its retention', { timeout: 120_000 }, () => {
  let st;

  before(async () => {
    st = await Stack.create({ label: import.meta.url, startBroker: false });
  });
  after(async () => { await st?.cleanup(); });

  it('ids older than 30 days go, newer ones stay', async () => {
    await st.query(`INSERT INTO journal_applied (jid, kind, applied_at, outcome)
                    SELECT 't19-old-' || g, 'deliveries', now() - interval '31 days' - g * interval '1 minute', 'direct'
                      FROM generate_series(1, 1200) g`);
    await st.query(`INSERT INTO journal_applied (jid, kind, applied_at, outcome)
                    SELECT 't19-kept-' || g, 'ack', now() - interval '29 days' + g * interval '1 minute', 'direct'
                      FROM generate_series(1, 50) g
                    UNION ALL
                    SELECT 't19-new-' || g, 'read', now(), 'applied' FROM generate_series(1, 50) g`);
    st.broker = new Broker({ label: st.label, databaseUrl: st.db.brokerUrl });
    await st.broker.start();
    await waitFor(async () => (await st.one(`SELECT count(*)::int AS n FROM journal_applied WHERE jid LIKE 't19-old-%'`)).n === 0,
      { timeoutMs: 60_000, intervalMs: 250, what: 'the ids older than 30 days pruned' });
    const kept = await st.one(`SELECT count(*) FILTER (WHERE jid LIKE 't19-kept-%')::int AS kept,
                                      count(*) FILTER (WHERE jid LIKE 't19-new-%')::int AS recent
                                 FROM journal_applied`);
    assert.deepEqual(kept, { kept: 50, recent: 50 }, 'the ids younger than 30 days stay');
  });

  it('the broker\'s role cannot delete ids itself', async () => {
    const db = await pgConnect(st.db.brokerUrl);
    try {
      await assert.rejects(db.query(`DELETE FROM journal_applied WHERE jid LIKE 't19-new-%'`), /permission denied/);
    } finally {
      await db.end().catch(() => {});
    }
  });

  it('stops cleanly (no sanitizer report)', async () => {
    await stopStack(st);
  });
});
