// The access matrix (docs/access-matrix.json) and its table in
// docs/security.md: the table is generated from the JSON, so the doc and the
// test that walks the JSON (tests/e2e/50-access-matrix.test.mjs) cannot
// drift apart.
//
//   node tests/e2e/lib/matrix.mjs          prints the table
//   node tests/e2e/lib/matrix.mjs --write  rewrites it in docs/security.md
//   node tests/e2e/lib/matrix.mjs --check  exits 1 when the doc differs
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = process.env.TOCSIN_ROOT || path.resolve(here, '../../..');
export const MATRIX_JSON = path.join(ROOT, 'docs/access-matrix.json');
export const SECURITY_MD = path.join(ROOT, 'docs/security.md');
export const BEGIN = '<!-- access-matrix:begin (generated from docs/access-matrix.json by tests/e2e/lib/matrix.mjs --write; do not edit by hand) -->';
export const END = '<!-- access-matrix:end -->';

const ROLE_TITLES = {
  controller: 'controller', analyst: 'analyst', company_operator: 'company operator',
  site_console: 'site console', admin: 'admin', inspector: 'duty inspector',
};

export function loadMatrix(file = MATRIX_JSON) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

// Every (action, role, case) of the matrix, in table order.
export function cells(matrix) {
  const out = [];
  for (const a of matrix.actions) {
    for (const role of matrix.roles) {
      for (const c of a.cells[role] || []) out.push({ action: a, role, scope: c.scope, result: c.result });
    }
  }
  return out;
}

// Structural problems of the JSON (unknown roles, scopes or results,
// missing cells); [] when it is sound.
export function problems(matrix) {
  const errs = [];
  const results = /^(allowed|hidden|none|host_only|[a-z_]+)$/;
  const ids = new Set();
  for (const a of matrix.actions) {
    if (ids.has(a.id)) errs.push(`action ${a.id} appears twice`);
    ids.add(a.id);
    for (const role of Object.keys(a.cells)) if (!matrix.roles.includes(role)) errs.push(`${a.id}: unknown role ${role}`);
    for (const role of matrix.roles) {
      const list = a.cells[role];
      if (!Array.isArray(list) || list.length === 0) { errs.push(`${a.id}: no cell for ${role}`); continue; }
      const seen = new Set();
      for (const c of list) {
        if (!(c.scope in matrix.scopes)) errs.push(`${a.id} × ${role}: unknown scope ${c.scope}`);
        if (seen.has(c.scope)) errs.push(`${a.id} × ${role}: scope ${c.scope} twice`);
        seen.add(c.scope);
        if (typeof c.result !== 'string' || !results.test(c.result)) errs.push(`${a.id} × ${role}: bad result ${c.result}`);
      }
    }
  }
  return errs;
}

function scopeText(scope) {
  return scope.replace(/_/g, ' ');
}

function caseText(c) {
  const where = c.scope === 'any' ? '' : ` (${scopeText(c.scope)})`;
  switch (c.result) {
    case 'allowed': return c.scope === 'any' ? 'allowed' : `allowed: ${scopeText(c.scope)}`;
    case 'hidden': return `never sent${where}`;
    case 'none': return 'no backlog';
    case 'unlisted': return `not listed${where}`;
    case 'host_only': return 'host only';
    default: return `\`${c.result}\`${where}`;
  }
}

// The markdown table: one row per action, one column per role.
export function renderTable(matrix) {
  const head = ['Action', 'How', ...matrix.roles.map((r) => ROLE_TITLES[r] || r)];
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`];
  for (const a of matrix.actions) {
    const how = `\`${a.via}\``;
    const row = [a.title, how, ...matrix.roles.map((r) => (a.cells[r] || []).map(caseText).join('; '))];
    lines.push(`| ${row.join(' | ')} |`);
  }
  return lines.join('\n');
}

// The table as it stands in docs/security.md (between the markers).
export function tableInDoc(file = SECURITY_MD) {
  const text = fs.readFileSync(file, 'utf8');
  const b = text.indexOf(BEGIN);
  const e = text.indexOf(END);
  if (b < 0 || e < b) throw new Error(`${file} has no access-matrix markers`);
  return text.slice(b + BEGIN.length, e).trim();
}

export function writeTable(matrix, file = SECURITY_MD) {
  const text = fs.readFileSync(file, 'utf8');
  const b = text.indexOf(BEGIN);
  const e = text.indexOf(END);
  if (b < 0 || e < b) throw new Error(`${file} has no access-matrix markers`);
  fs.writeFileSync(file, `${text.slice(0, b + BEGIN.length)}\n${renderTable(matrix)}\n${text.slice(e)}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const m = loadMatrix();
  const errs = problems(m);
  if (errs.length) {
    console.error(errs.join('\n'));
    process.exit(1);
  }
  if (process.argv.includes('--write')) writeTable(m);
  else if (process.argv.includes('--check')) {
    if (tableInDoc() !== renderTable(m)) {
      console.error('docs/security.md: the access matrix differs from docs/access-matrix.json (run with --write)');
      process.exit(1);
    }
  } else console.log(renderTable(m));
}
