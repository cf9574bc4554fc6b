// A strict parser of the Prometheus text exposition format (version
// 0.0.4: https://prometheus.io/docs/instrumenting/exposition_formats/),
// for the tests of GET /metrics. It throws on anything a Prometheus server
// would refuse or misread: a malformed line, a sample before its # TYPE, a
// family whose samples are not together, a series given twice, a label
// value badly quoted, a histogram whose buckets are not cumulative or whose
// +Inf bucket is not its _count, a negative counter, a missing final
// newline.
//
//   const m = parseProm(text);
//   m.value('tocsin_acks_total')                       // a number
//   m.value('tocsin_connections', { role: 'site_console' })
//   m.families.get('tocsin_fanout_seconds').type       // 'histogram'

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(s, where) {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`${where}: bad value '${s}'`);
  return Number(s);
}

// name{a="x",b="y"} -> [name, {a, b}, rest of the line]
function parseSeries(line, where) {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(.*)$/.exec(line);
  if (!m) throw new Error(`${where}: no metric name in '${line}'`);
  const [, name] = m;
  let rest = m[2];
  const labels = {};
  if (rest.startsWith('{')) {
    let i = 1;
    for (;;) {
      if (rest[i] === '}') { i++; break; }
      const lm = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(rest.slice(i));
      if (!lm) throw new Error(`${where}: bad label at '${rest.slice(i)}'`);
      i += lm[0].length;
      let v = '';
      for (;;) {
        const c = rest[i++];
        if (c === undefined) throw new Error(`${where}: unterminated label value`);
        if (c === '"') break;
        if (c === '\\') {
          const e = rest[i++];
          if (e === 'n') v += '\n';
          else if (e === '\\' || e === '"') v += e;
          else throw new Error(`${where}: bad escape \\${e}`);
        } else {
          v += c;
        }
      }
      if (lm[1] in labels) throw new Error(`${where}: label ${lm[1]} twice`);
      labels[lm[1]] = v;
      if (rest[i] === ',') { i++; continue; }
      if (rest[i] === '}') { i++; break; }
      throw new Error(`${where}: expected , or } at '${rest.slice(i)}'`);
    }
    rest = rest.slice(i);
  }
  if (!/^ /.test(rest)) throw new Error(`${where}: expected a space before the value in '${line}'`);
  return [name, labels, rest.slice(1)];
}

function familyOf(name, families) {
  if (families.has(name)) return name;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length);
      const f = families.get(base);
      if (f && (f.type === 'histogram' || (f.type === 'summary' && suffix !== '_bucket'))) return base;
    }
  }
  return null;
}

const key = (name, labels) => `${name}{${Object.keys(labels).sort().map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',')}}`;

function checkHistogram(fam) {
  const groups = new Map(); // the series of one histogram, by its labels without le
  for (const s of fam.samples) {
    const { le, ...rest } = s.labels;
    const g = key('', rest);
    if (!groups.has(g)) groups.set(g, { buckets: [], sum: undefined, count: undefined });
    const grp = groups.get(g);
    if (s.name === `${fam.name}_bucket`) {
      if (le === undefined) throw new Error(`${fam.name}: a bucket without le`);
      grp.buckets.push([parseValue(le, `${fam.name} le`), s.value]);
    } else if (s.name === `${fam.name}_sum`) grp.sum = s.value;
    else if (s.name === `${fam.name}_count`) grp.count = s.value;
    else throw new Error(`${fam.name}: unexpected sample ${s.name}`);
  }
  for (const [g, grp] of groups) {
    if (grp.sum === undefined || grp.count === undefined) throw new Error(`${fam.name}${g}: no _sum or _count`);
    const b = grp.buckets;
    if (!b.length || b[b.length - 1][0] !== Infinity) throw new Error(`${fam.name}${g}: no +Inf bucket last`);
    for (let i = 1; i < b.length; i++) {
      if (!(b[i][0] > b[i - 1][0])) throw new Error(`${fam.name}${g}: bucket bounds not increasing`);
      if (b[i][1] < b[i - 1][1]) throw new Error(`${fam.name}${g}: buckets not cumulative`);
    }
    if (b[b.length - 1][1] !== grp.count) throw new Error(`${fam.name}${g}: +Inf bucket ${b[b.length - 1][1]} != _count ${grp.count}`);
  }
}

export function parseProm(text) {
  if (!text.endsWith('\n')) throw new Error('the exposition does not end with a newline');
  const families = new Map();
  const seen = new Set();
  let current = null; // the family whose samples are being read
  const closed = new Set();
  text.slice(0, -1).split('\n').forEach((line, n) => {
    const where = `line ${n + 1}`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) ([^ ]+) ?(.*)$/.exec(line);
      if (!m) return; // a plain comment
      const [, what, name, rest] = m;
      if (!NAME.test(name)) throw new Error(`${where}: bad metric name ${name}`);
      if (closed.has(name)) throw new Error(`${where}: ${name} again after other families`);
      const f = families.get(name) || { name, type: 'untyped', help: undefined, samples: [], typed: false };
      if (what === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`${where}: unknown type ${rest}`);
        if (f.typed || f.samples.length) throw new Error(`${where}: TYPE of ${name} after its samples or twice`);
        f.type = rest;
        f.typed = true;
      } else {
        if (f.help !== undefined) throw new Error(`${where}: HELP of ${name} twice`);
        f.help = rest;
      }
      families.set(name, f);
      if (current && current !== name) closed.add(current);
      current = name;
      return;
    }
    const [name, labels, rest] = parseSeries(line, where);
    for (const l of Object.keys(labels)) if (!LABEL.test(l)) throw new Error(`${where}: bad label name ${l}`);
    const fname = familyOf(name, families);
    if (!fname) throw new Error(`${where}: ${name} has no # TYPE before it`);
    if (closed.has(fname) || (current && current !== fname)) throw new Error(`${where}: the samples of ${fname} are not together`);
    current = fname;
    const parts = rest.split(' ');
    if (parts.length > 2) throw new Error(`${where}: trailing text '${rest}'`);
    const value = parseValue(parts[0], where);
    if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) throw new Error(`${where}: bad timestamp`);
    const k = key(name, labels);
    if (seen.has(k)) throw new Error(`${where}: series ${k} twice`);
    seen.add(k);
    const f = families.get(fname);
    if (f.type === 'counter' && !(value >= 0)) throw new Error(`${where}: counter ${name} is ${value}`);
    f.samples.push({ name, labels, value });
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return {
    families,
    // The value of the series name{labels} (all its labels given); throws
    // when there is no such series.
    value(name, labels = {}) {
      const fname = familyOf(name, families);
      const s = fname && families.get(fname).samples.find((x) => x.name === name && key(name, x.labels) === key(name, labels));
      if (!s) throw new Error(`no series ${key(name, labels)} in the exposition`);
      return s.value;
    },
  };
}
