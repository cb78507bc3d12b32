/**
 * Splits a filter or order_by string into tokens. Whether a word is a keyword, an attribute or a key,
 * and whether a double-quoted token is an identifier or a string value, depends on where it stands,
 * so the tokenizer leaves those decisions to the parser.
 */

/** A syntax problem at a character offset; the parser turns it into the user-facing error. */
export class Fault {
  constructor(
    readonly pos: number,
    readonly message: string,
    readonly hint?: string,
  ) {}
}

export interface IdentPart {
  text: string;
  /** The quote character when the part was quoted (`key` or "key"), else null. */
  quote: '`' | '"' | null;
  pos: number;
}

export type Token =
  | { t: 'ident'; parts: IdentPart[]; pos: number; end: number }
  | { t: 'string'; value: string; quote: "'" | '"'; pos: number; end: number }
  | { t: 'number'; value: number; pos: number; end: number }
  | { t: 'op'; value: string; pos: number; end: number }
  | { t: '(' | ')' | ','; pos: number; end: number }
  | { t: 'other'; pos: number; end: number }
  | { t: 'eof'; pos: number; end: number };

const WORD_CHAR = /[\p{L}\p{N}_]/u;
const WORD = /[\p{L}\p{N}_]+/uy;
// MLflow (sqlparse) accepts integers, decimals (also ".5" and "5.") and exponents, with a leading minus.
const NUMBER = /-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/y;
const OP = /[<>=!~]+/y;
const SPACE = /\s/u;

/**
 * Reads a quoted run starting at `start` (the opening quote). The quote char doubled stands for
 * itself (SQL style); backslashes are plain characters, so Windows paths need no escaping.
 */
function readQuoted(text: string, start: number): { value: string; end: number } {
  const q = text[start];
  let value = '';
  let i = start + 1;
  while (i < text.length) {
    const c = text[i];
    if (c === q) {
      if (text[i + 1] === q) {
        value += q;
        i += 2;
      } else {
        return { value, end: i + 1 };
      }
    } else {
      value += c;
      i++;
    }
  }
  const what = q === '`' ? 'backtick' : q === '"' ? 'double quote' : 'quote';
  throw new Fault(start, `unterminated ${what} (${q}) starting`, `add the closing ${q}`);
}

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;

  // An identifier chain: word or quoted segments joined by dots ("metrics.`val loss`", "a.b.c").
  const readIdent = (first: IdentPart, afterFirst: number): Token => {
    const parts = [first];
    let j = afterFirst;
    while (text[j] === '.') {
      const c = text[j + 1];
      if (c !== undefined && WORD_CHAR.test(c)) {
        WORD.lastIndex = j + 1;
        const m = WORD.exec(text) as RegExpExecArray;
        parts.push({ text: m[0], quote: null, pos: j + 1 });
        j = j + 1 + m[0].length;
      } else if (c === '`' || c === '"') {
        const q = readQuoted(text, j + 1);
        parts.push({ text: q.value, quote: c, pos: j + 1 });
        j = q.end;
      } else {
        throw new Fault(j + 1, `expected a key after '${text.slice(first.pos, j + 1)}'`);
      }
    }
    return { t: 'ident', parts, pos: first.pos, end: j };
  };

  while (i < text.length) {
    const c = text[i];
    if (SPACE.test(c)) {
      i++;
      continue;
    }
    if (c === '(' || c === ')' || c === ',') {
      tokens.push({ t: c, pos: i, end: i + 1 });
      i++;
      continue;
    }
    if (c === "'") {
      const q = readQuoted(text, i);
      tokens.push({ t: 'string', value: q.value, quote: "'", pos: i, end: q.end });
      i = q.end;
      continue;
    }
    if (c === '"' || c === '`') {
      const q = readQuoted(text, i);
      if (text[q.end] === '.' || c === '`') {
        tokens.push(readIdent({ text: q.value, quote: c, pos: i }, q.end));
      } else {
        tokens.push({ t: 'string', value: q.value, quote: '"', pos: i, end: q.end });
      }
      i = tokens[tokens.length - 1].end;
      continue;
    }
    NUMBER.lastIndex = i;
    const num = NUMBER.exec(text);
    if (num && !(text[i + num[0].length] !== undefined && /[\p{L}_.]/u.test(text[i + num[0].length]))) {
      tokens.push({ t: 'number', value: Number(num[0]), pos: i, end: i + num[0].length });
      i += num[0].length;
      continue;
    }
    if (WORD_CHAR.test(c)) {
      WORD.lastIndex = i;
      const m = WORD.exec(text) as RegExpExecArray;
      const tok = readIdent({ text: m[0], quote: null, pos: i }, i + m[0].length);
      tokens.push(tok);
      i = tok.end;
      continue;
    }
    OP.lastIndex = i;
    const op = OP.exec(text);
    if (op) {
      tokens.push({ t: 'op', value: op[0], pos: i, end: i + op[0].length });
      i += op[0].length;
      continue;
    }
    tokens.push({ t: 'other', pos: i, end: i + 1 });
    i++;
  }
  tokens.push({ t: 'eof', pos: text.length, end: text.length });
  return tokens;
}
