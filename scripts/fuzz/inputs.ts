// What the fuzzer sends, all drawn from one seeded PRNG so a seed (and a case number) gives the same
// bytes again: OTLP seed requests for every signal (IDs and times from the PRNG too), structure-blind
// byte and JSON mutations of them, GraphQL documents generated from the schema (fields with their
// arguments, filters with values of the right types, SQL metacharacters and regexes among them), and
// regex-bomb patterns with a value that nearly matches them.
import { readFileSync } from 'node:fs';
import {
  buildSchema,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  isUnionType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLObjectType,
  type GraphQLSchema,
} from 'graphql';
import { keyValues } from '../../test/helpers/otlp-bodies.ts';
import { seededRandom } from '../../test/helpers/seeded-random.ts';

/** The seeded PRNG with the helpers the fuzzer draws with. */
export function rng(seed: number) {
  const next = seededRandom(seed);
  const int = (n: number) => Math.floor(next() * n);
  const hex = (bytes: number) => Array.from({ length: bytes }, () => int(256).toString(16).padStart(2, '0')).join('');
  return { next, int, hex, pick: <T>(xs: readonly T[]): T => xs[int(xs.length)]! };
}
export type Rng = ReturnType<typeof rng>;

/** The PRNG of case `index` of a run: any one case can be regenerated without the ones before it. */
export const caseRng = (seed: number, index: number) => rng((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca77)) >>> 0);

/**
 * All record times are offsets from this fixed instant (not the clock), so a replay sends the same
 * bytes; the fuzzed gateway runs with retention off so they are kept.
 */
export const BASE_TIME_MS = Date.UTC(2026, 0, 1);
export const QUERY_FROM = '2025-12-31T00:00:00Z';
const nanos = (r: Rng) => String(BigInt(BASE_TIME_MS + r.int(3_600_000)) * 1_000_000n);

export const SERVICES = ['checkout', 'cart', "o'brien"];
export const ATTRIBUTE_KEYS = ['http.url', 'user', 'k', 'bomb'];

export const SQL_METACHARACTERS = ["' OR 1=1 --", "'); DROP TABLE spans; --", '%', '_', '%_\\', "\\'", '"\\\'`;', '/*', '*/', '--', '\u0000', '\x1d\x1e\x1f', "''", '\\'];
export const NASTY_STRINGS = [...SQL_METACHARACTERS, 'a'.repeat(5000), '\uD800', '🔥'.repeat(100), '__proto__', '${7*7}', '../../etc/passwd', 'İ', ''];
/** Regexes a filter may hold: ordinary RE2, ones RE2 refuses (refused cleanly), and classic bombs. */
export const REGEXES = ['^seed-.*', '.*', 'GET|POST', '(?i)checkout', '\\d+', '[[:punct:]]', 'a{2,5}', '\\Q.*\\E', '\\x{1d}', '\\pL+', '(a+)+$', '(a|aa)*b', '(x+x+)+y', '.*.*.*.*.*=.*', '[', '(?P<n>a)', '\\', '(?i)ß+', '(a)\\1', '(?=a)', 'a{1001}', '((((((((((x*)*)*)*)*)*)*)*)*)*)*y'];

/** A pattern with nested quantifiers and a long value that almost matches it: the input of a backtracking blow-up. */
export function regexBomb(r: Rng): { pattern: string; value: string } {
  const dotAtom = r.next() < 0.25;
  let pattern = dotAtom ? r.pick(['.', '[^x]', '\\S']) : r.pick(['a', '[a-z]', '\\w', '(?:a|aa)', 'a?a', '(?:a|a)']);
  // Mostly chains of unbounded quantifiers (V8's linear engine gives up on 5 nested `+`), else counted ones mixed in.
  const unbounded = r.next() < 0.6;
  const depth = unbounded ? 3 + r.int(6) : 2 + r.int(4);
  const quantifiers = unbounded ? ['+', '+', '*', '+?'] : ['+', '*', '{1,8}', '{1,3}', '{2,4}', '+?'];
  for (let i = 0; i < depth; i++) pattern = `(${pattern})${r.pick(quantifiers)}`;
  pattern = dotAtom ? `${pattern}x` : `${pattern}${r.pick(['$', 'b', '!x'])}`;
  if (r.next() < 0.2) pattern = `(?i)${pattern}`;
  const value = `${'a'.repeat(12 + r.int(30))}!`;
  return { pattern, value };
}

// ---------- OTLP seeds ----------

export interface Seeds {
  traceIds: string[];
  traces: Record<string, unknown>;
  logs: Record<string, unknown>;
  metrics: Record<string, unknown>;
  oracle: Record<string, unknown>;
}

/** One span (OTLP/JSON request) with the given IDs, name and attributes. */
export function spanRequest(r: Rng, s: { traceId: string; name: string; service?: string; attributes?: Record<string, unknown> }): Record<string, unknown> {
  const start = nanos(r);
  return {
    resourceSpans: [
      {
        resource: { attributes: keyValues({ 'service.name': s.service ?? r.pick(SERVICES) }) },
        scopeSpans: [
          {
            scope: { name: 'fuzz' },
            spans: [
              {
                traceId: s.traceId,
                spanId: r.hex(8),
                name: s.name,
                kind: 1 + r.int(5),
                startTimeUnixNano: start,
                endTimeUnixNano: String(BigInt(start) + BigInt(1 + r.int(1_000_000_000))),
                attributes: keyValues(s.attributes ?? {}),
                events: [{ timeUnixNano: start, name: 'exception', attributes: keyValues({ 'exception.type': 'Error', 'exception.message': 'boom' }) }],
                status: { code: r.int(3) },
              },
            ],
          },
        ],
      },
    ],
  };
}

export function logRequest(r: Rng, body: string, attributes: Record<string, unknown> = {}, traceId?: string): Record<string, unknown> {
  return {
    resourceLogs: [
      {
        resource: { attributes: keyValues({ 'service.name': r.pick(SERVICES) }) },
        scopeLogs: [{ scope: { name: 'fuzz' }, logRecords: [{ timeUnixNano: nanos(r), severityNumber: 1 + r.int(24), severityText: 'INFO', body: { stringValue: body }, attributes: keyValues(attributes), ...(traceId && { traceId, spanId: r.hex(8) }) }] }],
      },
    ],
  };
}

/** A metrics request with a point of each kind (gauge, sum, histogram, exponential histogram, summary). */
export function metricRequest(r: Rng, name: string): Record<string, unknown> {
  const t = nanos(r);
  const attributes = keyValues({ job: r.pick(SERVICES), k: 'v' });
  return {
    resourceMetrics: [
      {
        resource: { attributes: keyValues({ 'service.name': r.pick(SERVICES) }) },
        scopeMetrics: [
          {
            scope: { name: 'fuzz' },
            metrics: [
              { name, unit: '1', gauge: { dataPoints: [{ timeUnixNano: t, asDouble: r.next() * 100, attributes }] } },
              { name: `${name}_total`, sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: [{ startTimeUnixNano: t, timeUnixNano: t, asInt: String(r.int(1000)), attributes }] } },
              { name: `${name}_seconds`, histogram: { aggregationTemporality: 2, dataPoints: [{ timeUnixNano: t, count: '6', sum: 3.5, bucketCounts: ['1', '2', '3'], explicitBounds: [0.1, 1], attributes }] } },
              { name: `${name}_exp`, exponentialHistogram: { aggregationTemporality: 2, dataPoints: [{ timeUnixNano: t, count: '3', sum: 2, scale: 2, zeroCount: '1', positive: { offset: 1, bucketCounts: ['1', '1'] }, attributes }] } },
              { name: `${name}_summary`, summary: { dataPoints: [{ timeUnixNano: t, count: '2', sum: 3, quantileValues: [{ quantile: 0.5, value: 1 }, { quantile: 0.99, value: 2 }], attributes }] } },
            ],
          },
        ],
      },
    ],
  };
}

/** The service of the spans the SQL-metacharacter oracle looks up (one span per SQL_METACHARACTERS entry, named it, attribute `k` it). */
export const ORACLE_SERVICE = 'sql-oracle';

export function makeSeeds(r: Rng): Seeds {
  const traceIds = [r.hex(16), r.hex(16)];
  const traces = { resourceSpans: Array.from({ length: 4 }, (_, i) => (spanRequest(r, { traceId: traceIds[i % 2]!, name: `seed-${i}`, attributes: { 'http.url': `https://x.test/${i}`, user: 'u', n: i } }).resourceSpans as unknown[])[0]) };
  const logs = logRequest(r, 'seed log', { k: 'v', 'http.url': 'https://x.test/log' }, traceIds[0]);
  const metrics = metricRequest(r, 'fuzz_seed_metric');
  const oracle = { resourceSpans: SQL_METACHARACTERS.map((m) => (spanRequest(r, { traceId: r.hex(16), name: m, service: ORACLE_SERVICE, attributes: { k: m } }).resourceSpans as unknown[])[0]) };
  return { traceIds, traces, logs, metrics, oracle };
}

/** Protobuf varint. */
const varint = (n: number): number[] => {
  const out: number[] = [];
  for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n % 128) | 0x80);
  return [...out, n];
};
const lengthDelimited = (field: number, body: Buffer) => Buffer.concat([Buffer.from([(field << 3) | 2, ...varint(body.length)]), body]);

/**
 * One resource, one scope and `count` invalid items (spans, log records or metrics: field 2 of
 * field 2 of field 1 in all three requests): what rejecting an item costs. An empty span (no IDs)
 * or metric (no name, no data) is invalid; an empty log record is valid, so each gets a one-byte
 * trace_id (field 9).
 */
export function manyInvalidItems(signal: 'traces' | 'logs' | 'metrics', count: number): Buffer {
  const item = Buffer.from(signal === 'logs' ? [0x12, 0x03, 0x4a, 0x01, 0x00] : [0x12, 0x00]);
  return lengthDelimited(1, lengthDelimited(2, Buffer.alloc(count * item.length, item)));
}

// ---------- mutations ----------

export function mutateBytes(r: Rng, input: Buffer): Buffer {
  const b = Buffer.from(input);
  if (b.length === 0) return Buffer.from([r.int(256)]);
  switch (r.int(7)) {
    case 0: // flip bits
      for (let i = 0; i < 1 + r.int(8); i++) b[r.int(b.length)]! ^= 1 << r.int(8);
      return b;
    case 1: // truncate
      return b.subarray(0, r.int(b.length));
    case 2: // insert random bytes
      return Buffer.concat([b.subarray(0, r.int(b.length)), Buffer.from(Array.from({ length: 1 + r.int(16) }, () => r.int(256))), b.subarray(r.int(b.length))]);
    case 3: // huge varint / length prefix
      return Buffer.concat([Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), b]);
    case 4: // the same bytes repeated: many repeated top-level items (each a valid or invalid resource)
      return Buffer.concat(Array.from({ length: 2 + r.int(200) }, () => b));
    case 5: // overwrite one byte with a wire-type edge (END_GROUP, wire types 6/7, field 0)
      b[r.int(b.length)] = r.pick([0x04, 0x0e, 0x0f, 0x00, 0x0c]);
      return b;
    default: // duplicate a slice
      return Buffer.concat([b, b.subarray(r.int(b.length))]);
  }
}

const JSON_SPECIALS = (r: Rng): unknown[] => [null, -1, 1e308, 'x', [], {}, true, '18446744073709551616', 'NaN', '-0', 2 ** 64, r.pick(NASTY_STRINGS), { a: { b: { c: [] } } }, Array.from({ length: 50 }, () => []), 'AAAAAAAAAAAAAAAAAAAAAA==', 'ABCDEF0123456789ABCDEF0123456789'];

export function mutateJson(r: Rng, value: unknown, depth = 0): unknown {
  if (r.next() < 0.1 || depth > 14) return r.pick(JSON_SPECIALS(r));
  if (Array.isArray(value)) {
    const items = value.map((v) => mutateJson(r, v, depth + 1));
    return r.next() < 0.05 ? [...items, ...items] : items;
  }
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (r.next() > 0.05) out[r.next() < 0.02 ? r.pick(['__proto__', 'constructor', `${k}_`, k.toUpperCase()]) : k] = mutateJson(r, v, depth + 1);
    return out;
  }
  if (typeof value === 'string' && r.next() < 0.1) return Number(value) || value.toUpperCase();
  return value;
}

/** Text-level damage to a JSON or GraphQL text (what JSON.stringify never makes: BOM, bad escapes, bad UTF-8 as U+FFFD-free text). */
export function mutateText(r: Rng, text: string): string {
  const at = r.int(text.length + 1);
  switch (r.int(5)) {
    case 0:
      return text.slice(0, at);
    case 1:
      return text.slice(0, at) + r.pick(['{', '}', '(', ')', '$', '"', '...', '@include(if: $x)', '#', '\\u0000', '\\ud800', '\uFEFF', ',,', 'fragment f on Query { ...f }', r.pick(NASTY_STRINGS)]) + text.slice(at);
    case 2:
      return `\uFEFF${text}`;
    case 3:
      return text.slice(0, at) + text.slice(at + 1 + r.int(8));
    default:
      return text.replace(/[a-z]/, () => String.fromCharCode(32 + r.int(95)));
  }
}

// ---------- GraphQL documents from the schema ----------

export const SCHEMA_FILE = new URL('../../schema/schema.graphql', import.meta.url);
export const loadSchema = (): GraphQLSchema => buildSchema(readFileSync(SCHEMA_FILE, 'utf8'));

/** An enum value in a generated argument: a bare name in a literal, a string in variables. */
class EnumValue {
  constructor(readonly name: string) {}
  toJSON() {
    return this.name;
  }
}

function literal(v: unknown): string {
  if (v instanceof EnumValue) return v.name;
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return `[${v.map(literal).join(', ')}]`;
  if (typeof v === 'object') return `{ ${Object.entries(v).map(([k, x]) => `${k}: ${literal(x)}`).join(', ')} }`;
  return JSON.stringify(v);
}

export interface Context {
  traceIds: string[];
  names: string[];
}

/** A value for a leaf named `hint` (the argument or input field), mostly well-typed, sometimes hostile. */
function scalarValue(r: Rng, type: string, hint: string, ctx: Context): unknown {
  const hostile = r.next() < 0.15;
  switch (type) {
    case 'Int':
      return r.pick(hostile ? [-1, 2 ** 31 - 1, 2 ** 31, 1.5, '1'] : [0, 1, 2, 5, 20, 100]);
    case 'Float':
      return r.pick(hostile ? [1e308, -1, Number.MIN_VALUE, '0.5'] : [0, 0.5, 0.99, 1, 100]);
    case 'Boolean':
      return r.next() < 0.5;
    case 'Timestamp':
      return r.pick(hostile ? [-1, 1e21, '1e20', 'now-99999999999h', 'yesterday', r.pick(NASTY_STRINGS)] : [QUERY_FROM, '2026-01-01T00:30:00Z', 'now', 'now-1h', 'now-400d', BASE_TIME_MS]);
    case 'Duration':
      return r.pick(hostile ? ['0', 0, '-1s', 1e308, '99999999999h', '1ns', r.pick(NASTY_STRINGS)] : ['1m', '5m', '1s', '1h', '10ms']);
    case 'JSON':
      return r.pick(hostile ? [JSON.parse('{"__proto__":{"polluted":1}}') as unknown, [], 'x', { a: { b: [] } }, null, 1e308] : [{ job: r.pick(SERVICES) }, { k: 'v' }, {}]);
    default:
      break;
  }
  const h = hint.toLowerCase();
  if (hostile) return r.pick(NASTY_STRINGS);
  if (h === 'regex' || h === 'value' || h === 'pattern') return r.next() < 0.5 ? r.pick(REGEXES) : regexBomb(r).pattern;
  if (h.includes('traceid') || h === 'id' || h === 'spanid') return r.next() < 0.8 ? r.pick(ctx.traceIds) : r.hex(r.pick([16, 8, 3]));
  if (h.includes('service')) return r.pick(SERVICES);
  if (h === 'key' || h === 'prefix' || h === 'groupby' || h === 'exists') return r.pick(ATTRIBUTE_KEYS);
  if (h === 'name') return r.pick(ctx.names);
  if (h === 'after') return r.pick(['', 'x', 'eyJ4IjoxfQ==']);
  return r.next() < 0.5 ? r.pick(SQL_METACHARACTERS) : r.pick([...ctx.names, 'seed log', 'u', 'https://x.test/1']);
}

function inputValue(r: Rng, type: GraphQLInputType, hint: string, ctx: Context, depth: number): unknown {
  if (isNonNullType(type)) return inputValue(r, type.ofType, hint, ctx, depth);
  if (isListType(type)) return Array.from({ length: r.int(depth > 2 ? 2 : 4) }, () => inputValue(r, type.ofType, hint, ctx, depth + 1));
  if (isEnumType(type)) return new EnumValue(r.pick(type.getValues()).name);
  if (isInputObjectType(type)) {
    const out: Record<string, unknown> = {};
    for (const field of Object.values(type.getFields())) {
      const required = isNonNullType(field.type) && field.defaultValue === undefined;
      const recursive = getNamedType(field.type) === type;
      if (required || (r.next() < (recursive ? 0.25 / (depth + 1) : 0.35) && depth < 5)) out[field.name] = inputValue(r, field.type, field.name, ctx, depth + 1);
    }
    return out;
  }
  return scalarValue(r, getNamedType(type).name, hint, ctx);
}

class DocumentBuilder {
  private readonly declarations: string[] = [];
  readonly variables: Record<string, unknown> = {};
  constructor(
    private readonly r: Rng,
    private readonly ctx: Context,
  ) {}

  header(): string {
    return this.declarations.length ? `(${this.declarations.join(', ')})` : '';
  }

  private args(field: GraphQLField<unknown, unknown>): string {
    const parts: string[] = [];
    for (const arg of field.args) {
      const required = isNonNullType(arg.type) && arg.defaultValue === undefined;
      if (!required && this.r.next() > 0.5) continue;
      const value = inputValue(this.r, arg.type, arg.name, this.ctx, 0);
      if (this.r.next() < 0.5) {
        const name = `v${this.declarations.length}`;
        this.declarations.push(`$${name}: ${arg.type.toString()}`);
        this.variables[name] = JSON.parse(JSON.stringify(value)) as unknown;
        parts.push(`${arg.name}: $${name}`);
      } else {
        parts.push(`${arg.name}: ${literal(value)}`);
      }
    }
    return parts.length ? `(${parts.join(', ')})` : '';
  }

  field(field: GraphQLField<unknown, unknown>, depth: number): string {
    const named = getNamedType(field.type);
    const head = `${field.name}${this.args(field)}`;
    if (isLeafType(named)) return head;
    return `${head} { ${this.selection(named as GraphQLObjectType, depth + 1)} }`;
  }

  selection(type: GraphQLObjectType | ReturnType<typeof getNamedType>, depth: number): string {
    if (isUnionType(type) || isInterfaceType(type)) {
      const possible = isUnionType(type) ? type.getTypes() : [];
      const one = possible.length ? this.r.pick(possible) : undefined;
      return one ? `__typename ... on ${one.name} { ${this.selection(one, depth)} }` : '__typename';
    }
    if (!isObjectType(type)) return '__typename';
    const fields = Object.values(type.getFields());
    const leaves = fields.filter((f) => isLeafType(getNamedType(f.type)) && f.args.every((a) => !isNonNullType(a.type)));
    const nested = fields.filter((f) => !isLeafType(getNamedType(f.type)));
    const picked = new Set<GraphQLField<unknown, unknown>>();
    for (let i = 0; i < 1 + this.r.int(4) && leaves.length; i++) picked.add(this.r.pick(leaves));
    if (depth < 4) for (let i = 0; i < this.r.int(3) && nested.length; i++) picked.add(this.r.pick(nested));
    if (!picked.size) return '__typename';
    return [...picked].map((f) => this.field(f, depth)).join(' ');
  }
}

/** A document of one or two root fields of `operation` (with arguments from the schema), and its variables. */
export function generateOperation(r: Rng, schema: GraphQLSchema, operation: 'query' | 'mutation' | 'subscription', ctx: Context): { query: string; variables: Record<string, unknown> } {
  const root = operation === 'query' ? schema.getQueryType() : operation === 'mutation' ? schema.getMutationType() : schema.getSubscriptionType();
  if (!root) throw new Error(`the schema has no ${operation} type`);
  const b = new DocumentBuilder(r, ctx);
  const fields = Object.values(root.getFields());
  const count = operation === 'subscription' ? 1 : 1 + r.int(2);
  const body = Array.from({ length: count }, (_, i) => `${count > 1 ? `f${i}: ` : ''}${b.field(r.pick(fields), 0)}`).join(' ');
  return { query: `${operation}${b.header()} { ${body} }`, variables: b.variables };
}

/** Documents built to be costly to validate or plan: fragment fan-out, deep and wide variables, alias and directive floods. */
export function hostileDocument(r: Rng, ctx: Context): { query: string; variables: Record<string, unknown> } {
  switch (r.int(5)) {
    case 0: {
      const n = 4 + r.int(40);
      const fragments = Array.from({ length: n }, (_, i) => (i === 0 ? 'fragment F0 on Query { services }' : `fragment F${i} on Query { ...F${i - 1} ...F${i - 1} }`));
      return { query: `${fragments.join(' ')} { ...F${n - 1} }`, variables: {} };
    }
    case 1: {
      let f: Record<string, unknown> = { service: [r.pick(SERVICES)] };
      const depth = r.pick([10, 100, 500, 1500, 3000]);
      for (let i = 0; i < depth; i++) f = { [r.pick(['and', 'or'])]: [f] };
      return { query: 'query($f: TelemetryFilter) { spans(first: 5, filter: $f) { nodes { name } } }', variables: { f } };
    }
    case 2: {
      const size = r.pick([10, 1000, 20_000, 100_000]);
      const f = r.next() < 0.5 ? { attributes: [{ key: 'k', in: Array.from({ length: size }, (_, i) => `v${i}`) }] } : { or: Array.from({ length: Math.min(size, 5000) }, (_, i) => ({ attributes: [{ key: 'k', regex: `a${i}.*` }] })) };
      return { query: 'query($f: TelemetryFilter) { spans(first: 5, filter: $f) { nodes { name } } }', variables: { f } };
    }
    case 3:
      return { query: `{ ${Array.from({ length: 1 + r.int(40) }, (_, i) => `a${i}: services @include(if: true) @skip(if: false)`).join(' ')} }`, variables: {} };
    default:
      return { query: `{ ${'trace(traceId: "x") { spans { children { '.repeat(1 + r.int(30))} name ${'} } }'.repeat(1 + r.int(30))} }`, variables: { id: r.pick(ctx.traceIds) } };
  }
}
