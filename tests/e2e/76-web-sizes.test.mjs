// The size rule of the browser code (issue 15): no file in web-client/js/
// (vendor/ aside) over 700 lines and no function over 150 lines, nested
// functions counted in the one that holds them (tests/e2e/lib/web-sizes.mjs
// says how it measures). The tree is checked, and so is the checker: it
// must refuse a deliberately long file and a deliberately long function,
// also one hidden inside a closure, and must not be fooled by braces in
// strings, templates, comments and regular expressions.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  measure, functionsOf, checkTree, MAX_FILE_LINES, MAX_FUNCTION_LINES,
} from './lib/web-sizes.mjs';

const WEB_JS = new URL('../../web-client/js', import.meta.url).pathname;

const lines = (n, text = '  x += 1;') => Array.from({ length: n }, () => text).join('\n');

describe('web-client/js sizes', () => {
  it('no file over 700 lines, no function over 150', () => {
    const { files, problems } = checkTree(WEB_JS);
    assert.ok(files.length > 10, `read the pages' modules (${files.length} files)`);
    assert.ok(files.every((f) => !f.name.includes('/vendor/')), 'vendor/ is left out');
    assert.deepEqual(problems, []);
  });
});

describe('the size checker', () => {
  it('refuses a file over 700 lines', () => {
    const src = `${lines(MAX_FILE_LINES + 1, 'export const a = 1;')}\n`;
    const m = measure('long.js', src);
    assert.equal(m.lines, MAX_FILE_LINES + 1);
    assert.match(m.problems.join('\n'), /long\.js: 701 lines \(at most 700\)/);
    assert.deepEqual(measure('ok.js', `${lines(MAX_FILE_LINES, 'export const a = 1;')}\n`).problems, []);
  });

  it('refuses a function over 150 lines, also an arrow or a method', () => {
    const body = lines(MAX_FUNCTION_LINES - 1);   // + the two brace lines = 151
    for (const [kind, src] of [
      ['declaration', `export function big(a, { b } = {}) {\n${body}\n}\n`],
      ['arrow', `const big = (a) => {\n${body}\n};\n`],
      ['method', `class C {\n  big(a) {\n${body}\n  }\n}\n`],
      ['callback', `session.on('alert', function (frame) {\n${body}\n});\n`],
    ]) {
      const m = measure('f.js', src);
      assert.equal(m.problems.length, 1, `${kind}: ${m.problems}`);
      assert.match(m.problems[0], /a function of 151 lines \(at most 150\)/, kind);
    }
    const fits = `function ok() {\n${lines(MAX_FUNCTION_LINES - 2)}\n}\n`;
    assert.deepEqual(measure('f.js', fits).problems, []);
  });

  it('counts inner functions in the closure that holds them', () => {
    const inner = (i) => `  function part${i}() {\n${lines(20)}\n  }`;
    const src = `function main() {\n${[0, 1, 2, 3, 4, 5, 6, 7].map(inner).join('\n')}\n}\n`;
    const fns = functionsOf(src);
    assert.equal(fns.length, 9);
    assert.equal(fns[0].lines, 8 * 22 + 2);
    assert.equal(measure('main.js', src).problems.length, 1, 'only main is too long');
  });

  it('is not fooled by braces in strings, templates, comments or regexes; not by if/for blocks', () => {
    const src = [
      'function f(x) {',
      "  const s = '}}}' + \"{\" + `${x ? `}${'{'}` : '}'}`;",
      '  // a comment with } and {',
      '  /* and { here } */',
      '  const re = /[{}]\\}/g;',
      '  if (x) { return s.replace(re, \'\'); }',
      '  for (const y of [1]) {',
      '    while (false) { }',
      '  }',
      '  return x / 2 / 1;',
      '}',
      'const g = () => 1;',
    ].join('\n');
    const fns = functionsOf(src);
    assert.deepEqual(fns.map((f) => [f.line, f.end]), [[1, 11]]);
  });

  it('says so when it cannot read a file, rather than passing it', () => {
    assert.match(measure('bad.js', 'function f() {\n').problems.join(''), /cannot be measured/);
  });
});
