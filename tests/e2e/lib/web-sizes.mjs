// web-sizes.mjs: the size rule of the browser code (issue 15): no file in
// web-client/js/ (vendor/ aside) over MAX_FILE_LINES lines and no function
// over MAX_FUNCTION_LINES lines, nested functions counted in the function
// that holds them (a 1,400-line closure is one function, however small its
// inner ones). Used by tests/e2e/76-web-sizes.test.mjs; run it alone to
// see the sizes:  node tests/e2e/lib/web-sizes.mjs
//
// A heuristic, not a parser: one pass over the text that skips comments,
// strings, template literals and regular expression literals (a `/` is
// taken as a regex where an operand is expected), and matches braces. A
// `{` opens a function body when it follows `=>`, or a `)` whose `(` came
// after `function`, after a method name or after nothing (an arrow's
// parameters); never after if, for, while, switch, catch or with. A
// function's length runs from the line of its parameters to the line of
// its closing brace.

import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

export const MAX_FILE_LINES = 700;
export const MAX_FUNCTION_LINES = 150;

const CONTROL = new Set(['if', 'for', 'while', 'switch', 'catch', 'with']);
// After one of these words an expression starts: a `/` is a regex.
const OPERAND_WORDS = new Set(['return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete',
  'void', 'throw', 'case', 'do', 'else', 'yield', 'await']);

/* The functions of a source text: [{line, end, lines, text}] (1-based
 * lines, text = the opening line, trimmed), in order of their start.
 * Throws when the braces or parentheses do not balance: the heuristic
 * misread the text, and a size it gave would mean nothing. */
export function functionsOf(src) {
  const out = [];
  const parens = [];   // per open `(`: {line, before} (the word before it)
  const braces = [];   // per open `{`: the function it opens, or null
  let line = 1;
  let last = '';       // the last significant token: a word, or one character
  let lastParen = null; // the `(` whose `)` is `last`
  let arrowLine = 0;   // the line of the `=>` just read
  let i = 0;
  const n = src.length;
  const lineText = (l) => src.split('\n')[l - 1].trim();

  const skipTo = (end) => {          // to just past `end`, counting lines
    const j = src.indexOf(end, i);
    const stop = j < 0 ? n : j + end.length;
    for (; i < stop; i++) if (src[i] === '\n') line++;
  };
  const skipQuoted = (q) => {        // '…' or "…"
    for (i++; i < n && src[i] !== q; i++) {
      if (src[i] === '\\') i++;
      else if (src[i] === '\n') line++;   // unterminated: stop at the line end
    }
    i++;
  };
  const skipRegex = () => {
    let inClass = false;
    for (i++; i < n; i++) {
      const c = src[i];
      if (c === '\\') i++;
      else if (c === '[') inClass = true;
      else if (c === ']') inClass = false;
      else if (c === '/' && !inClass) break;
      else if (c === '\n') { line++; break; }
    }
    i++;
    while (i < n && /[a-z]/.test(src[i])) i++;
  };
  // A template literal, with ${…} nesting (which may hold templates).
  const skipTemplate = () => {
    for (i++; i < n && src[i] !== '`'; i++) {
      if (src[i] === '\\') i++;
      else if (src[i] === '\n') line++;
      else if (src[i] === '$' && src[i + 1] === '{') {
        i += 2;
        let depth = 1;
        while (i < n && depth) {
          const c = src[i];
          if (c === '`') { skipTemplate(); continue; }
          if (c === '\'' || c === '"') { skipQuoted(c); continue; }
          if (c === '{') depth++;
          else if (c === '}') depth--;
          else if (c === '\n') line++;
          i++;
        }
        i--;
      }
    }
    i++;
  };
  const operandExpected = () => last === '' || OPERAND_WORDS.has(last) ||
    (last.length === 1 && '(,=:[!&|?{};+-*%<>~^'.includes(last));

  while (i < n) {
    const c = src[i];
    if (c === '\n') { line++; i++; continue; }
    if (c === ' ' || c === '\t' || c === '\r') { i++; continue; }
    if (c === '/' && src[i + 1] === '/') { skipTo('\n'); last = last || ''; continue; }
    if (c === '/' && src[i + 1] === '*') { i += 2; skipTo('*/'); continue; }
    if (c === '\'' || c === '"') { skipQuoted(c); last = 'string'; continue; }
    if (c === '`') { skipTemplate(); last = 'string'; continue; }
    if (c === '/' && operandExpected()) { skipRegex(); last = 'regex'; continue; }
    const word = /^[A-Za-z_$][\w$]*/.exec(src.slice(i, i + 64));
    if (word) { last = word[0]; i += last.length; continue; }
    if (/[0-9]/.test(c)) { while (i < n && /[\w.]/.test(src[i])) i++; last = 'number'; continue; }
    if (c === '=' && src[i + 1] === '>') { arrowLine = line; last = '=>'; i += 2; continue; }
    if (c === '(') {
      parens.push({ line, before: last });
    } else if (c === ')') {
      lastParen = parens.pop() || null;
      last = ')';
      i++;
      continue;
    } else if (c === '{') {
      let start = 0;
      if (last === '=>') start = arrowLine;
      else if (last === ')' && lastParen && !CONTROL.has(lastParen.before)) start = lastParen.line;
      const fn = start ? { line: start, text: lineText(start) } : null;
      if (fn) out.push(fn);
      braces.push(fn);
    } else if (c === '}') {
      const fn = braces.pop();
      if (fn) {
        fn.end = line;
        fn.lines = line - fn.line + 1;
      }
    }
    last = c;
    i++;
  }
  if (braces.length || parens.length) {
    throw new Error(`unbalanced: ${braces.length} { and ${parens.length} ( left open at the end`);
  }
  return out;
}

/* Every .js file under dir, vendor/ left out, as paths relative to dir. */
export function webFiles(dir) {
  return readdirSync(dir, { recursive: true })
    .filter((p) => p.endsWith('.js') && !p.split(/[\\/]/).includes('vendor'))
    .sort();
}

/* The sizes of one source: {lines, functions, problems: [text]}. */
export function measure(name, src) {
  const lines = src.split('\n').length - (src.endsWith('\n') ? 1 : 0);
  const problems = [];
  let functions = [];
  try {
    functions = functionsOf(src);
  } catch (err) {
    problems.push(`${name}: cannot be measured (${err.message})`);
  }
  if (lines > MAX_FILE_LINES) problems.push(`${name}: ${lines} lines (at most ${MAX_FILE_LINES})`);
  for (const f of functions) {
    if (f.lines > MAX_FUNCTION_LINES) {
      problems.push(`${name}:${f.line}: a function of ${f.lines} lines (at most ${MAX_FUNCTION_LINES}): ${f.text}`);
    }
  }
  return { lines, functions, problems };
}

/* The whole of web-client/js: {files: [{name, lines, longest}], problems}. */
export function checkTree(dir) {
  const files = [];
  const problems = [];
  for (const p of webFiles(dir)) {
    const name = relative(process.cwd(), join(dir, p));
    const m = measure(name, readFileSync(join(dir, p), 'utf8'));
    const longest = m.functions.reduce((a, f) => (f.lines > (a?.lines ?? 0) ? f : a), null);
    files.push({ name, lines: m.lines, longest });
    problems.push(...m.problems);
  }
  return { files, problems };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = process.argv[2] || new URL('../../../web-client/js', import.meta.url).pathname;
  const { files, problems } = checkTree(dir);
  for (const f of files.sort((a, b) => b.lines - a.lines)) {
    console.log(`${String(f.lines).padStart(5)}  ${f.name}` +
      (f.longest ? `  (longest function ${f.longest.lines} lines at ${f.longest.line})` : ''));
  }
  for (const p of problems) console.log(`TOO LONG ${p}`);
  process.exit(problems.length ? 1 : 0);
}
