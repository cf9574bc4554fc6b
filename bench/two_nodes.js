// bench/two_nodes.js TOCSIN.txt TWO-NODES.txt RESULTS.json: the two-node
// scenario's rows (bench/run.sh, issue 20). Prints, for each fan-out phase,
// the single-node latency of the same run beside the two-node run's local
// (the controller's node) and cross-node latencies, and the target: the
// cross-node p99 at most 50 ms above the local p99 of the same load (paced
// phase). Adds "two_nodes" and the target's row to RESULTS.json.
'use strict';
const fs = require('fs');

const [oneFile, twoFile, resultsFile] = process.argv.slice(2);
const kv = (file) => Object.fromEntries(fs.readFileSync(file, 'utf8').split('\n')
  .filter(Boolean).map((l) => { const i = l.indexOf(' '); return [l.slice(0, i), l.slice(i + 1)]; }));
const one = fs.existsSync(oneFile) ? kv(oneFile) : {};
const two = kv(twoFile);
const num = (o, k) => (o[k] === undefined ? NaN : Number(o[k]));
const ms = (v) => (Number.isFinite(v) ? v.toFixed(1) : '-');

const phases = {};
console.log(`   two nodes on one database (N = ${two.n}, half on each, the controller on node 1): ` +
  'publish-to-receipt p50 / p99, ms');
for (const p of ['solo', 'paced', 'burst']) {
  if (two[`${p}.alerts`] === undefined) continue;
  const row = {
    single_p50_ms: num(one, `${p}.lat_p50_ms`), single_p99_ms: num(one, `${p}.lat_p99_ms`),
    local_p50_ms: num(two, `${p}.local_lat_p50_ms`), local_p99_ms: num(two, `${p}.local_lat_p99_ms`),
    cross_p50_ms: num(two, `${p}.cross_lat_p50_ms`), cross_p99_ms: num(two, `${p}.cross_lat_p99_ms`),
    delivered: num(two, `${p}.delivered`), expected: num(two, `${p}.expected`),
    lost: num(two, `${p}.lost`), duplicates: num(two, `${p}.duplicates`),
  };
  phases[p] = row;
  console.log(`   ${p.padEnd(6)} single node ${ms(row.single_p50_ms)} / ${ms(row.single_p99_ms)}; ` +
    `two nodes, local ${ms(row.local_p50_ms)} / ${ms(row.local_p99_ms)}, ` +
    `cross-node ${ms(row.cross_p50_ms)} / ${ms(row.cross_p99_ms)}; ` +
    `${row.delivered} of ${row.expected} delivered, ${row.duplicates} duplicates`);
}
const paced = phases.paced || {};
const extra = paced.cross_p99_ms - paced.local_p99_ms;
const ok = Number.isFinite(extra) && extra <= 50 && paced.lost === 0;
const target = {
  target: 'two nodes: cross-node p99 <= local p99 + 50 ms, none lost',
  result: ok ? 'PASS' : 'MISS', measured: Number.isFinite(extra) ? Number(extra.toFixed(1)) : null,
  limit: 50, unit: 'ms',
  detail: `cross-node p99 ${ms(paced.cross_p99_ms)} ms, local ${ms(paced.local_p99_ms)} ms, ` +
    `single node ${ms(paced.single_p99_ms)} ms; lost ${paced.lost}`,
};
console.log(`  ${target.result}  ${target.target.padEnd(59)}${target.detail}`);
if (fs.existsSync(resultsFile)) {
  const r = JSON.parse(fs.readFileSync(resultsFile, 'utf8'));
  r.two_nodes = { n: Number(two.n), phases, raw: two };
  if (Array.isArray(r.targets)) r.targets.push(target);
  fs.writeFileSync(resultsFile, JSON.stringify(r, null, 2) + '\n');
}
