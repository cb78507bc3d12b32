/**
 * Recursive-descent parser for MLflow's search filter and order_by strings, extended with OR,
 * parentheses, IS [NOT] NULL and IN lists. Produces the AST of ast.ts; knows nothing about SQL.
 *
 *   expr       := conj (OR conj)*
 *   conj       := primary (AND primary)*
 *   primary    := '(' expr ')' | comparison
 *   comparison := identifier comparator value
 */
import { invalid } from '../errors.js';
import type { Comparator, Comparison, Entity, Expr, OrderKey } from './ast.js';
import {
  allowedOps,
  attributeNames,
  EXPERIMENT_VOCABULARY,
  MODEL_VERSION_VOCABULARY,
  REGISTERED_MODEL_VOCABULARY,
  prefixNames,
  RUN_VOCABULARY,
  type AttributeInfo,
  type ValueKind,
  type Vocabulary,
} from './fields.js';
import { Fault, tokenize, type Token } from './tokenizer.js';

export function parseRunFilter(text: string | undefined | null): Expr | null {
  return parseFilter(text, RUN_VOCABULARY);
}

export function parseExperimentFilter(text: string | undefined | null): Expr | null {
  return parseFilter(text, EXPERIMENT_VOCABULARY);
}

export function parseRunOrderBy(items: string[] | undefined): OrderKey[] {
  return parseOrderBy(items, RUN_VOCABULARY);
}

export function parseExperimentOrderBy(items: string[] | undefined): OrderKey[] {
  return parseOrderBy(items, EXPERIMENT_VOCABULARY);
}

export function parseRegisteredModelFilter(text: string | undefined | null): Expr | null {
  return parseFilter(text, REGISTERED_MODEL_VOCABULARY);
}

export function parseRegisteredModelOrderBy(items: string[] | undefined): OrderKey[] {
  return parseOrderBy(items, REGISTERED_MODEL_VOCABULARY);
}

export function parseModelVersionFilter(text: string | undefined | null): Expr | null {
  return parseFilter(text, MODEL_VERSION_VOCABULARY);
}

export function parseModelVersionOrderBy(items: string[] | undefined): OrderKey[] {
  return parseOrderBy(items, MODEL_VERSION_VOCABULARY);
}

// Bounds that keep a hostile or generated filter from exhausting the parser's stack or SQLite's
// limits (expression depth 1000, 64 joined tables); far above anything a person writes.
export const MAX_NESTING = 100;
export const MAX_CONDITIONS = 500;
export const MAX_ORDER_KEYS = 20;
/** Values across all IN lists of one filter: lablog's UI asks for runs by id 500 at a time. */
export const MAX_LIST_VALUES = 1000;
/** Longer filters are refused before they are read; 1000 quoted run ids take about 40,000. */
export const MAX_FILTER_LENGTH = 100_000;
/** SQLite refuses LIKE patterns over 50,000 bytes; no stored value (at most 6,000 characters) needs more. */
export const MAX_PATTERN_LENGTH = 10_000;
/** How much of a refused filter the error message repeats. */
const ECHO_LENGTH = 200;

function parseOrderBy(items: string[] | undefined, vocab: Vocabulary): OrderKey[] {
  const list = items ?? [];
  if (list.length > MAX_ORDER_KEYS) {
    throw invalid(`Invalid order_by: ${list.length} clauses given; at most ${MAX_ORDER_KEYS} are supported`);
  }
  return list.map((item) => parseOrderItem(item, vocab));
}

function formatFault(label: string, text: string, f: Fault): string {
  const where = `at position ${f.pos}${f.pos >= text.length ? ' (end of input)' : ''}`;
  return `${label}: ${f.message} ${where}${f.hint ? `; ${f.hint}` : ''}`;
}

function withPositions<T>(label: string, text: string, body: () => T): T {
  try {
    return body();
  } catch (e) {
    if (e instanceof Fault) throw invalid(formatFault(label, text, e));
    throw e;
  }
}

function echo(text: string): string {
  return text.length > ECHO_LENGTH ? `${text.slice(0, ECHO_LENGTH)}...` : text;
}

function parseFilter(text: string | undefined | null, vocab: Vocabulary): Expr | null {
  if (text == null || text.trim() === '') return null;
  if (text.length > MAX_FILTER_LENGTH) {
    throw invalid(`Invalid filter '${echo(text)}': ${text.length} characters given; at most ${MAX_FILTER_LENGTH} are supported`);
  }
  return withPositions(`Invalid filter '${echo(text)}'`, text, () => {
    const p = new Parser(text, tokenize(text), vocab);
    const expr = p.expr();
    p.expectEnd('AND, OR or end of input');
    return expr;
  });
}

function parseOrderItem(item: string, vocab: Vocabulary): OrderKey {
  const text = typeof item === 'string' ? item : String(item);
  return withPositions(`Invalid order_by clause '${echo(text)}'`, text, () => {
    const p = new Parser(text, tokenize(text), vocab);
    const field = p.field('order');
    let ascending = true;
    const dir = p.peek();
    if (p.isWord(dir, 'ASC') || p.isWord(dir, 'DESC')) {
      ascending = p.isWord(dir, 'ASC');
      p.next();
    }
    p.expectEnd('ASC, DESC or end of input');
    return { entity: field.entity, key: field.key, ascending };
  });
}

const COMPARATOR_HINT = '=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL';
const KEYWORDS = new Set(['AND', 'OR', 'NOT', 'IN', 'IS', 'NULL', 'LIKE', 'ILIKE']);

interface Field {
  entity: Entity;
  key: string;
  attr: AttributeInfo | null;
}

class Parser {
  private i = 0;
  private depth = 0;
  private conditions = 0;
  private listValues = 0;

  constructor(
    private readonly text: string,
    private readonly tokens: Token[],
    private readonly vocab: Vocabulary,
  ) {}

  peek(): Token {
    return this.tokens[this.i];
  }

  next(): Token {
    const tok = this.tokens[this.i];
    if (tok.t !== 'eof') this.i++;
    return tok;
  }

  /** A bare, unquoted single word spelled `word` in any case. */
  isWord(tok: Token, word: string): boolean {
    return tok.t === 'ident' && tok.parts.length === 1 && tok.parts[0].quote === null && tok.parts[0].text.toUpperCase() === word;
  }

  private isKeyword(tok: Token): boolean {
    return tok.t === 'ident' && tok.parts.length === 1 && tok.parts[0].quote === null && KEYWORDS.has(tok.parts[0].text.toUpperCase());
  }

  private source(tok: Token): string {
    return this.text.slice(tok.pos, tok.end);
  }

  /** "expected X" at the token, naming what was found unless the input ended. */
  expected(what: string, tok: Token, hint?: string): Fault {
    if (tok.t === 'eof') return new Fault(tok.pos, `expected ${what}`, hint);
    const found = tok.t === 'string' ? `the string ${this.source(tok)}` : `'${this.source(tok)}'`;
    return new Fault(tok.pos, `expected ${what} but found ${found}`, hint);
  }

  expectEnd(what: string): void {
    const tok = this.peek();
    if (tok.t === 'eof') return;
    const hint = tok.t === ')' ? "this ')' has no matching '('" : undefined;
    throw this.expected(what, tok, hint);
  }

  expr(): Expr {
    const items = [this.conj()];
    while (this.isWord(this.peek(), 'OR')) {
      this.next();
      items.push(this.conj());
    }
    return junction('or', items);
  }

  private conj(): Expr {
    const items = [this.primary()];
    while (this.isWord(this.peek(), 'AND')) {
      this.next();
      items.push(this.primary());
    }
    return junction('and', items);
  }

  private primary(): Expr {
    const tok = this.peek();
    if (tok.t === '(') {
      if (++this.depth > MAX_NESTING) throw new Fault(tok.pos, `parentheses nested more than ${MAX_NESTING} deep`);
      this.next();
      const inner = this.expr();
      this.depth--;
      const close = this.peek();
      if (close.t !== ')') throw this.expected("AND, OR or ')'", close, `the '(' at position ${tok.pos} is not closed`);
      this.next();
      return inner;
    }
    return this.comparison();
  }

  private comparison(): Comparison {
    if (++this.conditions > MAX_CONDITIONS) {
      throw new Fault(this.peek().pos, `more than ${MAX_CONDITIONS} conditions`, 'use IN lists for long alternatives');
    }
    const field = this.field('filter');
    const opTok = this.peek();
    const op = this.comparator();
    const { ops, kind } = allowedOps(field.entity, field.attr);
    if (!ops.includes(op)) {
      throw new Fault(
        opTok.pos,
        `invalid comparator '${op}' for ${field.entity} '${field.key}'`,
        `expected one of ${ops.join(', ')}`,
      );
    }
    return { kind: 'cmp', entity: field.entity, key: field.key, op, value: this.value(op, kind, field) };
  }

  /** Reads an identifier and resolves it against the vocabulary (entity prefix, attribute name). */
  field(use: 'filter' | 'order'): Field {
    const tok = this.next();
    const start = use === 'filter' ? 'a condition such as metrics.acc > 0.9' : 'a key such as metrics.rmse';
    if (tok.t === 'string' && tok.quote === '"') {
      return this.attribute(tok.value, tok.pos, use);
    }
    if (tok.t !== 'ident' || (this.isKeyword(tok) && use === 'filter')) throw this.expected(start, tok);
    const parts = tok.parts;
    if (parts.length === 1) return this.attribute(parts[0].text, parts[0].pos, use);

    const prefix = parts[0].text;
    const entity = this.vocab.prefixes.get(prefix.toLowerCase());
    if (entity === undefined) {
      throw new Fault(
        parts[0].pos,
        `unknown entity type '${prefix}'`,
        `expected one of ${prefixNames(this.vocab).join(', ')}`,
      );
    }
    const keyParts = parts.slice(1);
    if (keyParts.length > 1 && keyParts.some((p) => p.quote !== null)) {
      const q = keyParts.find((p) => p.quote !== null) ?? keyParts[0];
      throw new Fault(q.pos, 'a quoted key must be the whole key', 'quote the entire key, e.g. metrics.`a.b c`');
    }
    const key = keyParts.map((p) => p.text).join('.');
    const keyPos = keyParts[0].pos;
    if (entity === 'attribute') return this.attribute(key, keyPos, use);
    if (use === 'order' && !this.vocab.orderEntities.has(entity)) {
      throw new Fault(parts[0].pos, `cannot order ${this.vocab.subject}s by ${entity} keys`);
    }
    if (entity === 'dataset' && !this.vocab.datasetKeys.has(key)) {
      throw new Fault(keyPos, `unknown dataset key '${key}'`, `expected one of ${[...this.vocab.datasetKeys].join(', ')}`);
    }
    if (key === '') throw new Fault(keyPos, `expected a non-empty ${entity} key`);
    return { entity, key, attr: null };
  }

  private attribute(name: string, pos: number, use: 'filter' | 'order'): Field {
    const table = use === 'filter' ? this.vocab.filterAttributes : this.vocab.orderAttributes;
    const attr = table.get(name.toLowerCase());
    if (attr === undefined) {
      const verb = use === 'filter' ? 'searchable' : 'orderable';
      throw new Fault(
        pos,
        `unknown ${verb} ${this.vocab.subject} attribute '${name}'`,
        `expected one of ${attributeNames(table).join(', ')}, or a prefixed key like ${use === 'filter' && this.vocab.subject === 'run' ? 'metrics.<key>, params.<key>, tags.<key>' : 'tags.<key>'}`,
      );
    }
    return { entity: 'attribute', key: attr.canonical, attr };
  }

  private comparator(): Comparator {
    const tok = this.next();
    if (tok.t === 'op') {
      const ok = ['=', '!=', '<', '<=', '>', '>='];
      if (!ok.includes(tok.value)) throw new Fault(tok.pos, `invalid comparator '${tok.value}'`, `expected one of ${COMPARATOR_HINT}`);
      return tok.value as Comparator;
    }
    if (this.isWord(tok, 'LIKE')) return 'LIKE';
    if (this.isWord(tok, 'ILIKE')) return 'ILIKE';
    if (this.isWord(tok, 'IN')) return 'IN';
    if (this.isWord(tok, 'NOT')) {
      const nxt = this.next();
      if (!this.isWord(nxt, 'IN')) throw this.expected("IN after 'NOT'", nxt);
      return 'NOT IN';
    }
    if (this.isWord(tok, 'IS')) {
      let nxt = this.next();
      let negated = false;
      if (this.isWord(nxt, 'NOT')) {
        negated = true;
        nxt = this.next();
      }
      if (!this.isWord(nxt, 'NULL')) throw this.expected(negated ? "NULL after 'IS NOT'" : "NULL or NOT NULL after 'IS'", nxt);
      return negated ? 'IS NOT NULL' : 'IS NULL';
    }
    const hint = tok.t === 'other' || tok.t === 'ident' ? 'quote keys containing special characters with backticks or double quotes, e.g. metrics.`val-loss`' : undefined;
    throw this.expected(`a comparator (${COMPARATOR_HINT})`, tok, hint);
  }

  private value(op: Comparator, kind: ValueKind, field: Field): Comparison['value'] {
    if (op === 'IS NULL' || op === 'IS NOT NULL') return null;
    if (op === 'IN' || op === 'NOT IN') return this.list();
    const tok = this.next();
    const subject = `${field.entity} '${field.key}'`;
    if (kind === 'number') {
      if (tok.t === 'number') return tok.value;
      throw this.expected('a number', tok, tok.t === 'string' ? `${subject} compares with unquoted numbers` : undefined);
    }
    if (tok.t === 'string') {
      if ((op === 'LIKE' || op === 'ILIKE') && tok.value.length > MAX_PATTERN_LENGTH) {
        throw new Fault(tok.pos, `a ${op} pattern of ${tok.value.length} characters`, `at most ${MAX_PATTERN_LENGTH} are supported`);
      }
      return tok.value;
    }
    const bare = tok.t === 'ident' ? tok.parts.map((p) => p.text).join('.') : tok.t === 'number' ? this.source(tok) : null;
    const hint = bare === null ? undefined : `${subject} compares with strings; quote the value, e.g. '${bare}'`;
    throw this.expected('a quoted string', tok, hint);
  }

  private list(): string[] {
    const open = this.next();
    if (open.t !== '(') throw this.expected("'(' starting a list such as ('a', 'b')", open);
    const values: string[] = [];
    if (this.peek().t === ')') throw new Fault(this.peek().pos, 'expected at least one quoted string in the list');
    for (;;) {
      const tok = this.next();
      if (tok.t !== 'string') throw this.expected('a quoted string', tok);
      if (++this.listValues > MAX_LIST_VALUES) {
        throw new Fault(tok.pos, `more than ${MAX_LIST_VALUES} values in IN lists`, 'split the search into several requests');
      }
      values.push(tok.value);
      const sep = this.next();
      if (sep.t === ')') return values;
      if (sep.t !== ',') throw this.expected("',' or ')'", sep, `the list opened at position ${open.pos} is not closed`);
    }
  }
}

function junction(kind: 'and' | 'or', items: Expr[]): Expr {
  if (items.length === 1) return items[0];
  // (a AND (b AND c)) is a AND b AND c: flattening keeps the SQL shallow and the AST comparable.
  const flat = items.flatMap((e) => (e.kind === kind ? e.items : [e]));
  return { kind, items: flat };
}
