// Parenthesizes the module functions of an esbuild chunk so that V8 compiles them with the chunk.
//
// esbuild wraps each CommonJS module (and each lazily initialized ES module) of a bundle in a function
// handed to a helper at the chunk's top level: `var require_x = __commonJS((exports, module) => {…})`.
// V8 compiles such a function lazily, on its first call, and Node's compile cache, written right
// after a chunk is compiled, never holds it: every start compiled those module bodies again. A
// function literal in parentheses is one V8 expects to be called at once and compiles eagerly with
// its script ("PIFE"), so its bytecode then comes from the compile cache from the second start on.
// Only the wrapper itself becomes eager; the functions inside a module stay lazy. Parentheses around
// an expression do not change what the code does.
//
// The chunk's source map is moved along: every generated column after an inserted parenthesis on the
// same line shifts by one.
import ts from 'typescript';

/**
 * Where `(` and `)` go in a chunk: around each function that is the only argument of a call that
 * initializes a top-level `var`/`let`/`const` (esbuild's `__commonJS(…)` and `__esm(…)` sites).
 * Sorted offsets (UTF-16 code units, as source maps count columns).
 */
export function wrapperInsertions(code) {
  const file = ts.createSourceFile('chunk.js', code, ts.ScriptTarget.Latest, false, ts.ScriptKind.JS);
  const at = [];
  for (const statement of file.statements) {
    if (!ts.isVariableStatement(statement)) continue;
    for (const declaration of statement.declarationList.declarations) {
      const init = declaration.initializer;
      if (!init || !ts.isCallExpression(init) || init.arguments.length !== 1) continue;
      const fn = init.arguments[0];
      if (!ts.isArrowFunction(fn) && !ts.isFunctionExpression(fn)) continue;
      at.push({ offset: fn.getStart(file), text: '(' }, { offset: fn.end, text: ')' });
    }
  }
  return at.sort((a, b) => a.offset - b.offset);
}

/** Inserts the parentheses into the code. */
export function applyInsertions(code, insertions) {
  let out = '';
  let from = 0;
  for (const { offset, text } of insertions) {
    out += code.slice(from, offset) + text;
    from = offset;
  }
  return out + code.slice(from);
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_VALUE = new Map([...B64].map((c, i) => [c, i]));

/** The first VLQ value of a source map segment, and the rest of the segment as it was. */
function readFirstVlq(segment) {
  let value = 0;
  let shift = 0;
  let i = 0;
  for (;;) {
    const digit = B64_VALUE.get(segment[i++]);
    if (digit === undefined) throw new Error(`source map: bad VLQ in segment ${JSON.stringify(segment)}`);
    value += (digit & 31) << shift;
    if ((digit & 32) === 0) break;
    shift += 5;
  }
  return { value: value & 1 ? -(value >>> 1) : value >>> 1, rest: segment.slice(i) };
}

function writeVlq(value) {
  let v = value < 0 ? (-value << 1) | 1 : value << 1;
  let out = '';
  do {
    let digit = v & 31;
    v >>>= 5;
    if (v > 0) digit |= 32;
    out += B64[digit];
  } while (v > 0);
  return out;
}

/**
 * Moves a source map's generated columns past the inserted text: a segment at or after an insertion
 * on its line moves right by the length of every insertion before or at its column. Only the first
 * field of each segment (the generated column, relative within its line) is rewritten.
 */
export function shiftMappings(mappings, code, insertions) {
  // Insertion columns per generated line.
  const byLine = new Map();
  let line = 0;
  let lineStart = 0;
  let next = 0;
  for (const { offset, text } of insertions) {
    while (true) {
      next = code.indexOf('\n', lineStart);
      if (next === -1 || next >= offset) break;
      line++;
      lineStart = next + 1;
    }
    let list = byLine.get(line);
    if (!list) byLine.set(line, (list = []));
    list.push({ column: offset - lineStart, length: text.length });
  }
  return mappings
    .split(';')
    .map((segments, index) => {
      const shifts = byLine.get(index);
      if (!shifts || segments === '') return segments;
      let previous = 0;
      let previousShifted = 0;
      return segments
        .split(',')
        .map((segment) => {
          const { value, rest } = readFirstVlq(segment);
          const column = previous + value;
          previous = column;
          let shifted = column;
          for (const s of shifts) if (s.column <= column) shifted += s.length;
          const out = writeVlq(shifted - previousShifted) + rest;
          previousShifted = shifted;
          return out;
        })
        .join(',');
    })
    .join(';');
}
