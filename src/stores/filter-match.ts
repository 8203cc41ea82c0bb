// TelemetryFilter evaluated in memory against SpanRecords and LogRecords: for backends that can
// evaluate only part of the filter language (Jaeger: one service, one operation, durations, time
// range, attribute equality), the gateway applies the whole filter after fetching.
//
// The semantics are those of src/stores/duckdb/filter-sql.ts, so a backend that post-filters answers
// as DuckDB would for the same data:
// - fields on one level are ANDed; `and`, `or`, `not` nest; an empty list counts as unset;
// - an attribute key is looked up on the record (the last occurrence of the key wins), then on its
//   resource, and compared in the filter-string form of src/model/values.ts; a missing attribute
//   makes its condition false (SQL's NULL), so `not` over it is true; `neq` needs the attribute;
// - `gt`/`gte`/`lt`/`lte` compare as numbers, and a value that is not a number never matches;
// - `regex` is RE2 syntax and must match the whole value (see compileRegex);
// - a field that does not apply to the signal, an unknown field, or a condition without its value is
//   a BAD_QUERY StoreError, raised when the filter is compiled, before any record is looked at.
import { setFlagsFromString } from 'node:v8';
import { knownSpanKind, type KeyValue, type LogRecord, type SpanRecord } from '../model/telemetry.ts';
import { anyValueToFilterString, headOf, serviceName, TELEMETRY_SOURCE_KEY, wellFormed } from '../model/values.ts';
import { StoreError, type AttributeCondition, type TelemetryFilter, type TimeRange } from './types.ts';
import { checkFilterFields, conditionThreshold, filterNanos, STATUS_CODES, type FilterSignal } from './filter-fields.ts';
import { spanDuration } from './span-order.ts';
import { CUT_MARK, MAX_STORED_CHARS } from './duckdb/long-values.ts';

export type MatchSignal = FilterSignal;
export type Predicate<R> = (record: R) => boolean;

/** The backend named in the StoreErrors of a filter compiled without one. */
const DEFAULT_BACKEND = 'gateway';


/** What a condition reads from a record; the two signals differ only here. */
interface View<R> {
  time(r: R): bigint;
  name(r: R): string | null;
  resourceAttributes(r: R): readonly KeyValue[];
  attributes(r: R): readonly KeyValue[];
  traceId(r: R): string;
  spanId(r: R): string;
}

const SPAN_VIEW: View<SpanRecord> = {
  time: (s) => s.startTimeUnixNano,
  name: (s) => s.name,
  resourceAttributes: (s) => s.resource.attributes,
  attributes: (s) => s.attributes,
  traceId: (s) => s.traceId,
  spanId: (s) => s.spanId,
};

const LOG_VIEW: View<LogRecord> = {
  // As the logs table's time_ns: the event time, or the observed time when the source set none.
  time: (l) => (l.timeUnixNano === 0n ? l.observedTimeUnixNano : l.timeUnixNano),
  name: (l) => (l.eventName === '' ? null : l.eventName),
  resourceAttributes: (l) => l.resource.attributes,
  attributes: (l) => l.attributes,
  traceId: (l) => l.traceId,
  spanId: (l) => l.spanId,
};

/**
 * The attribute's filter-string value: `undefined` when neither the record nor its resource has
 * the key, `null` when it is there with an empty value (it then `exists` but equals nothing).
 */
export function lookupAttribute(attributes: readonly KeyValue[], resourceAttributes: readonly KeyValue[], key: string): string | null | undefined {
  for (const attrs of [attributes, resourceAttributes]) {
    for (let i = attrs.length - 1; i >= 0; i--) {
      const kv = attrs[i]!;
      if (kv.key === key) return anyValueToFilterString(kv.value);
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Compilation

interface Ctx {
  signal: MatchSignal;
  backend: string;
  /** The states of the filter's regex conditions so far, at every level (MAX_FILTER_STATES). */
  states: number;
  /** The most `states` may reach: MAX_FILTER_STATES, or Infinity for a filter only checked here (see compileSpanFilter). */
  maxStates: number;
}

/** How a filter is compiled: `checkOnly` for one the store's SQL runs (an alert rule's), not this matcher. */
export interface CompileOptions {
  checkOnly?: boolean;
}

const contextFor = (signal: MatchSignal, backend: string, opts: CompileOptions): Ctx => ({ signal, backend, states: 0, maxStates: opts.checkOnly ? Infinity : MAX_FILTER_STATES });

function bad(ctx: Ctx, message: string): StoreError {
  return new StoreError('BAD_QUERY', ctx.backend, message);
}


const isList = <T>(v: readonly T[] | undefined | null): v is readonly T[] => Array.isArray(v) && v.length > 0;
const TRUE = () => true;

function all<R>(parts: Predicate<R>[]): Predicate<R> {
  if (parts.length === 0) return TRUE;
  if (parts.length === 1) return parts[0]!;
  return (r) => {
    for (const p of parts) if (!p(r)) return false;
    return true;
  };
}

function timeRangePredicate<R>(ctx: Ctx, range: TimeRange | undefined | null, time: (r: R) => bigint): Predicate<R> | undefined {
  const from = range?.from != null ? filterNanos('timeRange.from', range.from, (m) => bad(ctx, m)) : undefined;
  const to = range?.to != null ? filterNanos('timeRange.to', range.to, (m) => bad(ctx, m)) : undefined;
  if (from === undefined && to === undefined) return undefined;
  return (r) => {
    const t = time(r);
    return (from === undefined || t >= from) && (to === undefined || t <= to);
  };
}

// Digits may be grouped by single underscores (1_000, 1e1_0), as DuckDB reads them.
const DIGITS = String.raw`\d+(?:_\d+)*`;
const UNSIGNED_DECIMAL = new RegExp(String.raw`^(${DIGITS}(\.(${DIGITS})?)?|\.${DIGITS})([eE][+-]?${DIGITS})?$`);
const UNSIGNED_INFINITE = /^inf(inity)?$/i;
const UNSIGNED_NAN = /^nan(\(\w*\))?$/i;
/** What TRY_CAST skips around a number: ASCII whitespace only (not NBSP, U+2000–200A, U+3000 or the BOM). */
const isAsciiSpace = (unit: number) => unit === 32 || (unit >= 9 && unit <= 13);

/**
 * A value as DuckDB's TRY_CAST(… AS DOUBLE) reads it; null when it is not a number. DuckDB skips
 * one `+` and then reads an optional `-`, so "+-1" is -1 and "-+1" is not a number; "nan" is NaN,
 * which no comparison matches.
 */
export function toNumber(value: string | null | undefined): number | null {
  if (value == null) return null;
  let start = 0;
  let end = value.length;
  while (start < end && isAsciiSpace(value.charCodeAt(start))) start++;
  while (end > start && isAsciiSpace(value.charCodeAt(end - 1))) end--;
  if (value[start] === '+') start++;
  const negative = value[start] === '-';
  const t = value.slice(negative ? start + 1 : start, end);
  let n: number;
  if (UNSIGNED_DECIMAL.test(t)) n = Number(t.replaceAll('_', ''));
  else if (UNSIGNED_INFINITE.test(t)) n = Infinity;
  else if (UNSIGNED_NAN.test(t)) return NaN;
  else return null;
  return negative ? -n : n;
}

/**
 * How much of a value a regex reads: what the embedded store keeps of a value alone in its record,
 * its first characters and a mark. A regex's time grows with the value's length (see MAX_STATES),
 * and tails and gateway-side filters meet values as long as an OTLP request.
 */
const MAX_REGEX_VALUE_CHARS = MAX_STORED_CHARS;

/** Whether `re` (from compileRegex) matches `value` as the store would hold it. */
export function regexMatches(re: RegExp, value: string): boolean {
  const read = value.length > MAX_REGEX_VALUE_CHARS ? `${headOf(value, MAX_REGEX_VALUE_CHARS - CUT_MARK.length)}${CUT_MARK}` : value;
  return re.test(asStored(read));
}

/** A value as the store keeps it: a lone surrogate (possible in OTLP/JSON) becomes U+FFFD, one code point for a regex. */
const asStored = wellFormed;

/**
 * Thrown by a compiled filter that meets the deadline matchingUntil set, before a step whose time
 * grows with the value (a regex, bodyContains): a caller with a time budget stops a record's match
 * part way through instead of after all its conditions (a tailTraces record is up to 1,000 spans).
 */
export class MatchDeadlineError extends Error {
  constructor() {
    super('the filter met its matching deadline');
    this.name = 'MatchDeadlineError';
  }
}

/** performance.now() past which compiled filters stop (matchingUntil); Infinity while none is set. */
let matchDeadline = Infinity;

function stopAtDeadline(): void {
  if (matchDeadline !== Infinity && performance.now() > matchDeadline) throw new MatchDeadlineError();
}

/**
 * Runs `match` (calls of compiled filters) so that any of them throws MatchDeadlineError before a
 * regex or bodyContains it would start after `deadline` (a performance.now() time).
 */
export function matchingUntil<T>(deadline: number, match: () => T): T {
  const outer = matchDeadline;
  matchDeadline = deadline;
  try {
    return match();
  } finally {
    matchDeadline = outer;
  }
}

function attributePredicate<R>(ctx: Ctx, c: AttributeCondition, view: View<R>): Predicate<R> {
  if (c === null || typeof c !== 'object' || typeof c.key !== 'string') throw bad(ctx, 'an attribute condition needs a key');
  const key = c.key;
  const get = (r: R) => lookupAttribute(view.attributes(r), view.resourceAttributes(r), key);
  const value = (): string => {
    if (typeof c.value !== 'string') throw bad(ctx, `attribute condition ${c.op} on "${key}" needs a string value`);
    return c.value;
  };
  switch (c.op) {
    case 'eq': {
      const v = value();
      return (r) => get(r) === v;
    }
    case 'neq': {
      const v = value();
      return (r) => {
        const actual = get(r);
        return actual != null && actual !== v;
      };
    }
    case 'in': {
      if (!Array.isArray(c.values) || c.values.length === 0) throw bad(ctx, `attribute condition in on "${key}" needs values`);
      const set = new Set(c.values.map(String));
      return (r) => {
        const actual = get(r);
        return actual != null && set.has(actual);
      };
    }
    case 'regex': {
      const { re, states } = compileCountedRegex(value(), ctx.backend);
      ctx.states += states;
      if (ctx.states > ctx.maxStates) throw bad(ctx, tooManyFilterStates);
      return (r) => {
        stopAtDeadline();
        const actual = get(r);
        return actual != null && regexMatches(re, actual);
      };
    }
    case 'exists':
      return (r) => get(r) !== undefined;
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const n = conditionThreshold(c, (message) => bad(ctx, message));
      const op = c.op;
      return (r) => {
        const x = toNumber(get(r));
        if (x === null) return false;
        return op === 'gt' ? x > n : op === 'gte' ? x >= n : op === 'lt' ? x < n : x <= n;
      };
    }
    default:
      throw bad(ctx, `unknown attribute operator ${String((c as { op: unknown }).op)}`);
  }
}

/** The conditions of one filter level that both signals share. */
function commonParts<R>(ctx: Ctx, f: TelemetryFilter, view: View<R>, out: Predicate<R>[]): void {
  const range = timeRangePredicate(ctx, f.timeRange, view.time);
  if (range) out.push(range);
  if (isList(f.service)) {
    const set = new Set(f.service);
    // Records of one resource come one after another (an OTLP request groups them), so the last
    // resource's service name is kept. Not a WeakMap per predicate: with a thousand live tails each
    // fresh resource would be an entry (and a GC ephemeron) in every subscriber's map.
    let lastAttrs: readonly KeyValue[] | undefined;
    let lastName = '';
    out.push((r) => {
      const attrs = view.resourceAttributes(r);
      if (attrs !== lastAttrs) {
        lastName = serviceName({ attributes: attrs as KeyValue[], droppedAttributesCount: 0, schemaUrl: '' });
        lastAttrs = attrs;
      }
      return set.has(lastName);
    });
  }
  if (isList(f.name)) {
    const set = new Set(f.name);
    out.push((r) => {
      const name = view.name(r);
      return name !== null && set.has(name);
    });
  }
  if (isList(f.telemetrySource)) {
    const set = new Set(f.telemetrySource);
    out.push((r) => {
      const v = lookupAttribute(view.attributes(r), view.resourceAttributes(r), TELEMETRY_SOURCE_KEY);
      return v != null && set.has(v);
    });
  }
  if (isList(f.traceId)) {
    const set = new Set(f.traceId.map((id) => String(id).toLowerCase()));
    out.push((r) => set.has(view.traceId(r)));
  }
  if (isList(f.spanId)) {
    const set = new Set(f.spanId.map((id) => String(id).toLowerCase()));
    out.push((r) => set.has(view.spanId(r)));
  }
}

function checkFields(ctx: Ctx, f: TelemetryFilter): void {
  checkFilterFields(f, ctx.signal, (m) => bad(ctx, m));
}

/** `and`, `or` and `not` of one filter level. */
function nested<R>(f: TelemetryFilter, out: Predicate<R>[], compile: (f: TelemetryFilter) => Predicate<R>): void {
  if (isList(f.and)) for (const sub of f.and) out.push(compile(sub));
  if (isList(f.or)) {
    const subs = f.or.map(compile);
    out.push((r) => {
      for (const p of subs) if (p(r)) return true;
      return false;
    });
  }
  if (f.not != null) {
    const sub = compile(f.not);
    out.push((r) => !sub(r));
  }
}

function compileSpans(ctx: Ctx, f: TelemetryFilter): Predicate<SpanRecord> {
  checkFields(ctx, f);
  const out: Predicate<SpanRecord>[] = [];
  commonParts(ctx, f, SPAN_VIEW, out);
  if (isList(f.status)) {
    const codes = new Set(
      f.status.map((s) => {
        const code = STATUS_CODES[s];
        if (code === undefined) throw bad(ctx, `unknown status ${String(s)}`);
        return code;
      }),
    );
    out.push((s) => codes.has(s.status.code));
  }
  if (isList(f.kind)) {
    if (!f.kind.every((k) => Number.isInteger(k))) throw bad(ctx, 'kind must be SpanKind numbers');
    const kinds = new Set<number>(f.kind);
    // A kind SpanKind does not name reads as UNSPECIFIED, so UNSPECIFIED finds it too (as in DuckDB).
    out.push((s) => kinds.has(s.kind) || kinds.has(knownSpanKind(s.kind)));
  }
  if (f.minDuration != null) {
    const min = filterNanos('minDuration', f.minDuration, (m) => bad(ctx, m));
    out.push((s) => spanDuration(s) >= min); // as stored: 0 for a span that ends before it starts
  }
  if (f.maxDuration != null) {
    const max = filterNanos('maxDuration', f.maxDuration, (m) => bad(ctx, m));
    out.push((s) => spanDuration(s) <= max);
  }
  if (isList(f.attributes)) for (const c of f.attributes) out.push(attributePredicate(ctx, c, SPAN_VIEW));
  nested(f, out, (sub) => compileSpans(ctx, sub));
  return all(out);
}

const NON_ASCII = /[\u0080-\uffff]/;

/**
 * Lower case one code point at a time (Unicode's simple mapping), as DuckDB's lower() does, so a
 * live tail's bodyContains matches what the search matches: String.prototype.toLowerCase uses
 * context (a word-final Σ becomes ς, not σ) and İ becomes two code points; the ~55 letters given
 * case after DuckDB's Unicode tables stay as they are there (CASED_AFTER_DUCKDB).
 */
export function simpleLowerCase(text: string): string {
  if (!NON_ASCII.test(text)) return text.toLowerCase();
  // Only Σ (final sigma takes context), İ and those letters lower differently one code point at a
  // time: the text between them is lowered whole (a loop per code point was ~50–100× slower).
  specialLowerCase ??= new RegExp(`(\\u03a3|\\u0130|${codePointsAtom(CASED_AFTER_DUCKDB)})`);
  const parts = text.split(specialLowerCase);
  if (parts.length === 1) return text.toLowerCase();
  // split puts what the group captured at the odd indices.
  return parts.map((part, i) => (i % 2 === 0 ? part.toLowerCase() : part === '\u03a3' ? '\u03c3' : part === '\u0130' ? 'i' : part)).join('');
}
let specialLowerCase: RegExp | undefined;

/**
 * A log's body lowered for bodyContains. The last record's is kept: a record is tried against all
 * of a filter's conditions before the next, and an `or` of thousands of bodyContains terms would
 * otherwise lower a long body once each. (Across tails it helps only for a batch of one record: each
 * tail walks the whole batch. Keyed by the record object: nothing changes a record's body between
 * the matches of one batch, as processors run before the tap.)
 */
function loweredBody(l: LogRecord): string | null {
  if (l !== lastBody.record) {
    stopAtDeadline();
    const text = 'stringValue' in l.body ? l.body.stringValue : anyValueToFilterString(l.body);
    lastBody = { record: l, lowered: text == null ? null : simpleLowerCase(text) };
  }
  return lastBody.lowered;
}
let lastBody: { record: LogRecord | undefined; lowered: string | null } = { record: undefined, lowered: null };

function compileLogs(ctx: Ctx, f: TelemetryFilter): Predicate<LogRecord> {
  checkFields(ctx, f);
  const out: Predicate<LogRecord>[] = [];
  commonParts(ctx, f, LOG_VIEW, out);
  if (f.minSeverity != null) {
    if (!Number.isInteger(f.minSeverity)) throw bad(ctx, 'minSeverity must be an integer');
    const min = f.minSeverity;
    out.push((l) => l.severityNumber >= min);
  }
  if (f.bodyContains != null && f.bodyContains !== '') {
    const needle = simpleLowerCase(f.bodyContains);
    out.push((l) => {
      const text = loweredBody(l);
      return text != null && text.includes(needle);
    });
  }
  if (isList(f.attributes)) for (const c of f.attributes) out.push(attributePredicate(ctx, c, LOG_VIEW));
  nested(f, out, (sub) => compileLogs(ctx, sub));
  return all(out);
}

/**
 * The filter as a span predicate. Validates the whole filter first: a problem is a BAD_QUERY
 * StoreError naming `backend` (the store that asked), thrown here rather than per span. With
 * `checkOnly` (a filter the store's SQL runs, as an alert rule's) the regexes are not held to
 * MAX_FILTER_STATES together, which bounds this matcher's work only: a rule stored before that bound
 * must still load.
 */
export function compileSpanFilter(filter: TelemetryFilter | null | undefined, backend = DEFAULT_BACKEND, opts: CompileOptions = {}): Predicate<SpanRecord> {
  return compileSpans(contextFor('spans', backend, opts), filter ?? {});
}

/** The filter as a log-record predicate; see compileSpanFilter. */
export function compileLogFilter(filter: TelemetryFilter | null | undefined, backend = DEFAULT_BACKEND, opts: CompileOptions = {}): Predicate<LogRecord> {
  return compileLogs(contextFor('logs', backend, opts), filter ?? {});
}

/** One-off form; to test many spans against one filter, compile it once with compileSpanFilter. */
export function matchesSpan(span: SpanRecord, filter: TelemetryFilter): boolean {
  return compileSpanFilter(filter)(span);
}

export function matchesLog(log: LogRecord, filter: TelemetryFilter): boolean {
  return compileLogFilter(filter)(log);
}

// ---------------------------------------------------------------------------------------------
// RE2 patterns as JavaScript regexes
//
// RE2 has no backreferences and no lookaround, and it runs in linear time. V8's backtracking engine
// can take exponential time on a pattern such as `(a+)+b`, and a gateway evaluates its users'
// patterns on its one event loop. Three things keep that out:
// 1. Backreferences and lookaround are refused (RE2 refuses them too).
// 2. V8 is told to switch a regex that backtracks excessively to its linear-time engine
//    (--enable-experimental-regexp-engine-on-excessive-backtracks, set below). That engine cannot
//    take the `i` or `u` flag, lookaround, or large counted repetition, so (?i) is translated into
//    character classes and no `u` flag is ever used.
// 3. Every pattern must be one V8's linear engine can run, asked of V8 itself by compiling it with
//    the `l` flag; otherwise it is refused with a BAD_QUERY. Its limits are its own: four nested `+`
//    pass, five do not; counted repetitions over 16 it refuses, so they are written out as several
//    (splitCount: `a{40}` is `(?:a){16}(?:a){16}(?:a){8}`). Not only nested or several variable
//    repetitions backtrack badly: a repetition of an alternation does too, exponentially, counted
//    (`(a|a){30}`) or not, and `.` is an alternation here (a surrogate pair, or one unit), so
//    `.*a{30}` over emoji did. (Fuzz QA: a static rule missed `((((a+)+)+)+)+`, which held the event
//    loop for minutes on a 16-character value; filter QA, session 31: `(.|..){30}` held it 44 s.)
// Translation also keeps RE2's meaning where JavaScript differs: `\s` is ASCII whitespace, `\z`,
// `\A`, `\Q…\E`, `\x{…}`, `(?P<name>…)`, POSIX classes such as `[[:alpha:]]`, and a `{` or `]`
// that is not syntax is a literal; a class, `.`, `\S` and the like take one code point (a surrogate
// pair is one), and (?i) folds by Unicode's case-folding orbits (codePointsAtom, caseFolding).
// The linear engine is used only after a regex has backtracked excessively, so its results are the
// same; only the time changes.

try {
  setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');
  // The `l` flag, used only to ask whether the linear engine takes a pattern (linearEngineTakes).
  setFlagsFromString('--enable-experimental-regexp-engine');
} catch {
  // Not fatal: without the `l` flag no risky pattern passes linearEngineTakes, so they are refused.
}

/** Whether V8's linear-time engine can run `source` (so the excessive-backtracks fallback can take over). */
function linearEngineTakes(source: string, flags: string): boolean {
  try {
    new RegExp(`^(?:${source})$`, `${flags}l`);
    return true;
  } catch {
    return false;
  }
}

const MAX_PATTERN_LENGTH = 4096;
/** RE2's own limit on a counted repetition. */
const MAX_REPEAT = 1000;

const JS_SYNTAX = new Set('^$\\.*+?()[]{}|/');

/** Code points as sorted, disjoint, non-adjacent inclusive ranges: what RE2 makes of a class. */
type CodePoints = [number, number][];
const MAX_CODE_POINT = 0x10ffff;

const POSIX_CLASSES: Record<string, CodePoints> = {
  alnum: [[0x30, 0x39], [0x41, 0x5a], [0x61, 0x7a]],
  alpha: [[0x41, 0x5a], [0x61, 0x7a]],
  ascii: [[0x00, 0x7f]],
  blank: [[0x09, 0x09], [0x20, 0x20]],
  cntrl: [[0x00, 0x1f], [0x7f, 0x7f]],
  digit: [[0x30, 0x39]],
  graph: [[0x21, 0x7e]],
  lower: [[0x61, 0x7a]],
  print: [[0x20, 0x7e]],
  punct: [[0x21, 0x2f], [0x3a, 0x40], [0x5b, 0x60], [0x7b, 0x7e]],
  space: [[0x09, 0x0d], [0x20, 0x20]],
  upper: [[0x41, 0x5a]],
  word: [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]],
  xdigit: [[0x30, 0x39], [0x41, 0x46], [0x61, 0x66]],
};
/** RE2's \d, \s (ASCII whitespace without \v) and \w; the upper-case escapes are their complements. */
const PERL_CLASSES: Record<string, CodePoints> = {
  d: POSIX_CLASSES.digit!,
  s: [[0x09, 0x0a], [0x0c, 0x0d], [0x20, 0x20]],
  w: POSIX_CLASSES.word!,
};
/** What RE2 (DuckDB's) lets a backslash make literal: ASCII punctuation and `_`, not a letter, a digit or anything past ASCII. */
const RE2_ESCAPABLE = /^[\x20-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]$/;

class PatternError extends Error {}

const hex4 = (n: number) => `\\u${n.toString(16).padStart(4, '0')}`;

/** Sorted, merged (overlapping and adjacent ranges joined). */
function normalized(ranges: CodePoints): CodePoints {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: CodePoints = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

function complement(ranges: CodePoints): CodePoints {
  const out: CodePoints = [];
  let next = 0;
  for (const [lo, hi] of normalized(ranges)) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX_CODE_POINT) out.push([next, MAX_CODE_POINT]);
  return out;
}

// (?i) as RE2 folds: a letter matches every member of its case-folding orbit (Unicode's simple case
// folding, CaseFolding.txt status C and S): k, K and U+212A; s, S and ſ; σ, ς and Σ; ß and ẞ; µ, μ and Μ.
// The orbits are derived once from V8's own case mappings by grouping code points under a canonical
// fold: the lower case of the (single) upper case. Two letters are left out as Unicode does for
// folding (their mappings are Turkish, status T): ı, whose upper case is I but which I does not fold
// to, and İ. Letters given case after the Unicode version of DuckDB's RE2 tables do not fold there,
// so not here either (the test compares every orbit with DuckDB). Cased letters are all below U+20000.
const CASED_AFTER_DUCKDB: CodePoints = [[0x1c89, 0x1c8a], [0xa7cb, 0xa7cf], [0xa7d2, 0xa7d5], [0xa7da, 0xa7dc], [0x10d50, 0x10d85], [0x16ea0, 0x16ed3]];
const isCasedAfterDuckDb = (cp: number) => CASED_AFTER_DUCKDB.some(([lo, hi]) => cp >= lo && cp <= hi);
const LAST_CASED = 0x1ffff;
let caseOrbits: { orbitOf: Map<number, readonly number[]>; cased: readonly number[] } | undefined;

function caseFolding(): NonNullable<typeof caseOrbits> {
  if (caseOrbits) return caseOrbits;
  const single = (s: string) => s.length === 1 || (s.length === 2 && s.codePointAt(0)! > 0xffff);
  const byFold = new Map<number, number[]>();
  for (let cp = 0; cp <= LAST_CASED; cp++) {
    if ((cp >= 0xd800 && cp <= 0xdfff) || cp === 0x130 || cp === 0x131) continue;
    if (isCasedAfterDuckDb(cp)) continue;
    const ch = String.fromCodePoint(cp);
    const upper = ch.toUpperCase();
    const base = single(upper) ? upper : ch; // ß's upper case is SS: it folds by its lower case only
    const lower = base.toLowerCase();
    const fold = (single(lower) ? lower : base).codePointAt(0)!;
    if (fold === cp && !byFold.has(fold)) continue; // no case (or not yet known to have)
    const orbit = byFold.get(fold) ?? [];
    if (orbit.length === 0) byFold.set(fold, orbit);
    for (const member of [fold, cp]) if (!orbit.includes(member)) orbit.push(member);
  }
  const orbitOf = new Map<number, readonly number[]>();
  for (const orbit of byFold.values()) {
    if (orbit.length < 2) continue;
    orbit.sort((a, b) => a - b);
    for (const cp of orbit) orbitOf.set(cp, orbit);
  }
  caseOrbits = { orbitOf, cased: [...orbitOf.keys()].sort((a, b) => a - b) };
  return caseOrbits;
}

/** The code points with every case-folding orbit member of each added (RE2's AddFoldedRange). */
function caseFolded(ranges: CodePoints): CodePoints {
  const { orbitOf, cased } = caseFolding();
  const out = normalized(ranges);
  const added: CodePoints = [];
  for (const [lo, hi] of out) {
    // The first cased code point ≥ lo, by binary search.
    let a = 0;
    let b = cased.length;
    while (a < b) {
      const mid = (a + b) >> 1;
      if (cased[mid]! < lo) a = mid + 1;
      else b = mid;
    }
    for (let k = a; k < cased.length && cased[k]! <= hi; k++) for (const cp of orbitOf.get(cased[k]!)!) added.push([cp, cp]);
  }
  return normalized([...out, ...added]);
}

/** A code unit range as class text. */
const unitRange = (lo: number, hi: number) => (lo === hi ? hex4(lo) : `${hex4(lo)}-${hex4(hi)}`);
const surrogates = (cp: number) => [0xd800 + ((cp - 0x10000) >> 10), 0xdc00 + ((cp - 0x10000) & 0x3ff)] as const;

/**
 * Code points as one atom of a non-`u` JavaScript regex that consumes one code point, as RE2 does:
 * the BMP ones as a class of single units, the others as surrogate pairs (`[^a]` matches one emoji,
 * not half of it). Lone surrogates are not code points (the store keeps U+FFFD for them, and the
 * matcher reads them so). The alternatives are disjoint, so backtracking never tries two that match.
 */
function codePointsAtom(ranges: CodePoints): string {
  let units = '';
  const pairs: string[] = [];
  for (const [lo, hi] of normalized(ranges)) {
    for (const [a, z] of [[0, 0xd7ff], [0xe000, 0xffff]] as const) {
      const from = Math.max(lo, a);
      const to = Math.min(hi, z);
      if (from <= to) units += unitRange(from, to);
    }
    if (hi < 0x10000) continue;
    const [leadLo, trailLo] = surrogates(Math.max(lo, 0x10000));
    const [leadHi, trailHi] = surrogates(hi);
    const trails = (a: number, z: number) => (a === z ? hex4(a) : `[${unitRange(a, z)}]`);
    if (leadLo === leadHi) {
      pairs.push(`${hex4(leadLo)}${trails(trailLo, trailHi)}`);
      continue;
    }
    // Whole leads in the middle, partial ones at the ends.
    const fullFrom = trailLo === 0xdc00 ? leadLo : leadLo + 1;
    const fullTo = trailHi === 0xdfff ? leadHi : leadHi - 1;
    if (fullFrom !== leadLo) pairs.push(`${hex4(leadLo)}${trails(trailLo, 0xdfff)}`);
    if (fullFrom <= fullTo) pairs.push(`${trails(fullFrom, fullTo)}[\\udc00-\\udfff]`);
    if (fullTo !== leadHi) pairs.push(`${hex4(leadHi)}${trails(0xdc00, trailHi)}`);
  }
  const unitClass = units === '' ? '' : `[${units}]`;
  if (pairs.length === 0) return unitClass === '' ? '[]' : unitClass;
  return `(?:${[...pairs, ...(unitClass === '' ? [] : [unitClass])].join('|')})`;
}

/** A code point as an atom of a non-`u` JavaScript regex. */
function codePointAtom(cp: number): string {
  if (cp <= 0xffff) return hex4(cp);
  const [lead, trail] = surrogates(cp);
  return `(?:${hex4(lead)}${hex4(trail)})`;
}

/** \d \D \s \S \w \W as code points; under (?i) RE2 folds the positive class before taking a complement (so (?i)\W leaves out K, U+212A). */
function perlClass(letter: string, caseInsensitive: boolean): CodePoints {
  const positive = PERL_CLASSES[letter.toLowerCase()]!;
  const folded = caseInsensitive ? caseFolded(positive) : positive;
  return letter === letter.toLowerCase() ? folded : complement(folded);
}

interface Group {
  hasRepeat: boolean;
  /** Where the group's text starts in the translation (for a counted repetition of it). */
  start: number;
  /** Its states written out so far (see MAX_STATES). */
  states: number;
}

/** What the last atom written was: whether it may be quantified, where its text starts, and so on. */
interface LastAtom {
  /** A group with a repetition inside. */
  repeatInside: boolean;
  start: number;
  states: number;
}

/**
 * The most states (atoms, each counted repetition written out) a pattern may have. V8's linear-time
 * engine steps every live state for every character, ~25–80 ns each: 20 × a{0,1000} took 31 s on
 * 20,000 characters (code review, session 32); at this bound the worst found takes ~0.12 s on the
 * 16,000 characters of a value a regex reads at most (MAX_REGEX_VALUE_CHARS).
 */
const MAX_STATES = 128;
/**
 * An atom's states: one per range of its classes (V8's linear engine runs a class as one branch per
 * range, so `[acegikmoqsuwy]` is 13 and `.` 5: its BMP ranges and a surrogate pair's two), at least
 * one. Atoms are written with \uXXXX escapes only (codePointsAtom, codePointAtom), plain ASCII aside.
 */
const atomStates = (text: string) => Math.max(1, (text.match(/\\u[0-9a-f]{4}/g)?.length ?? 0) - (text.match(/-\\u/g)?.length ?? 0));

/** The longest counted repetition V8's linear-time engine takes; longer ones are written as several (splitCount). */
const LINEAR_MAX_COUNT = 16;
/** The longest translation kept (counted repetitions of large groups multiply them): past it, a pattern is refused. */
const MAX_TRANSLATED_LENGTH = 32_768;

/**
 * `text{min,max}` (max Infinity for `{min,}`) as repetitions of at most LINEAR_MAX_COUNT each, which
 * V8's linear-time engine takes: `a{40}` is `(?:a){16}(?:a){16}(?:a){8}`, `a{0,20}` is
 * `(?:a){0,16}(?:a){0,4}`. The same values match; only which of them a lazy `?` prefers could differ,
 * and a filter asks only whether a value matches.
 */
function splitCount(text: string, min: number, max: number, repeatInside: boolean): string {
  const unit = `(?:${text})`;
  // A unit with a repetition inside is written out once per count instead: V8's linear engine refuses
  // nested counts whose product is large (`(?:(?:a){16}){16}`).
  const chunk = repeatInside ? 1 : LINEAR_MAX_COUNT;
  const times = (n: number, optional: boolean) => (chunk === 1 ? `${unit}${optional ? '?' : ''}` : `${unit}{${optional ? '0,' : ''}${n}}`);
  let out = '';
  for (let left = min; left > 0; left -= chunk) out += times(Math.min(left, chunk), false);
  if (max === Infinity) return `${out}${unit}*`;
  for (let left = max - min; left > 0; left -= chunk) out += times(Math.min(left, chunk), true);
  return out;
}

/** A named group as RE2 takes it: `(?P<name>`, the name of letters, digits, marks and connectors (`1a`, `é` too). */
const RE2_GROUP_NAME = /^\(\?P<[\p{Lu}\p{Ll}\p{Lt}\p{Lm}\p{Lo}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]+>/u;

const tooManyStates = `it has more than ${MAX_STATES} positions written out (each counted repetition counts its copies: a{0,100} is 100), more than the gateway's matcher runs in bounded time; use smaller counts or fewer of them`;

/**
 * The most states (MAX_STATES) all the regex conditions of one compiled filter may have together.
 * A record's match runs every one of them (an `or` of 100 regexes at MAX_STATES each held the event
 * loop ~7 s on one span, bigquery QA), so this bounds one record's match: ~0.2 s at worst (two
 * patterns at MAX_STATES over 16,000 characters, ~0.09 s each). Filters the gateway matches itself
 * (tails, the Jaeger read path) are refused past it; the store's SQL is not held to it, nor are alert
 * rules' filters, which the store runs.
 */
export const MAX_FILTER_STATES = 2 * MAX_STATES;
const tooManyFilterStates =
  `the filter's regex conditions have more than ${MAX_FILTER_STATES} positions written out together (each counted as in a pattern's own bound of ${MAX_STATES}), ` +
  `more than the gateway's matcher runs on one record; a filter it matches itself (a live tail, the Jaeger read path) may have at most ${MAX_FILTER_STATES}: use fewer regexes or smaller ones`;

/** A pattern translated: the JavaScript regex source (no anchors added), its flags, and its states (MAX_STATES). */
interface Translated {
  source: string;
  flags: string;
  states: number;
}

/** RE2 pattern → the source of an equivalent JavaScript regex (no anchors added), its flags and its states. */
function translate(pattern: string): Translated {
  let i = 0;
  let out = '';
  let caseInsensitive = false;
  let dotAll = false;
  const groups: Group[] = [{ hasRepeat: false, start: 0, states: 0 }];
  // Whether the atom just written may be quantified, where its text starts, and whether it is a group with repetition inside.
  let lastAtom: LastAtom | null = null;
  let nestedRepeat = false;
  let variableRepeats = 0;
  const top = () => groups[groups.length - 1]!;

  const atom = (text: string, repeatInside = false, start = out.length, states = atomStates(text)) => {
    out += text;
    top().states += states;
    lastAtom = { repeatInside, start, states };
  };
  /** One code point (one or two UTF-16 units), under (?i) any member of its case-folding orbit. */
  const literal = (ch: string) => {
    const cp = ch.codePointAt(0)!;
    const orbit = caseInsensitive ? caseFolding().orbitOf.get(cp) : undefined;
    if (orbit) atom(codePointsAtom(orbit.map((m) => [m, m])));
    else if (cp < 0x20 || cp > 0x7e) atom(codePointAtom(cp));
    else atom(JS_SYNTAX.has(ch) || ch === '-' ? `\\${ch}` : ch);
  };

  // Leading inline flags, the only place JavaScript can take them (as regex flags).
  const lead = /^\(\?([a-zA-Z]+)\)/.exec(pattern);
  if (lead) {
    for (const f of lead[1]!) {
      if (f === 'i') caseInsensitive = true;
      else if (f === 's') dotAll = true;
      else throw new PatternError(`the inline flag ${f} is not supported (only i and s are)`);
    }
    i = lead[0].length;
  }

  while (i < pattern.length) {
    const ch = pattern[i]!;
    if (ch === '\\') {
      i = escapeOutsideClass(pattern, i, { atom, literal, caseInsensitive, anchor: (s) => ((out += s), (lastAtom = null)) });
      continue;
    }
    if (ch === '[') {
      const { codePoints, end } = characterClass(pattern, i, caseInsensitive);
      atom(codePointsAtom(codePoints));
      i = end;
      continue;
    }
    if (ch === '(') {
      const rest = pattern.slice(i);
      // Every group is written non-capturing: a filter only asks whether a value matches, and a
      // counted repetition may write its group several times (splitCount), where names would clash.
      let open: string;
      if (rest.startsWith('(?:')) open = '(?:';
      else if (RE2_GROUP_NAME.test(rest)) open = RE2_GROUP_NAME.exec(rest)![0];
      else if (rest.startsWith('(?P<')) throw new PatternError('a group name is made of letters, digits, marks and _ (as RE2 takes them)');
      else if (/^\(\?<[A-Za-z_][A-Za-z0-9_]*>/.test(rest)) throw new PatternError('a named group is written (?P<name>…) (the RE2 the store runs refuses (?<name>…))');
      else if (/^\(\?(=|!|<=|<!)/.test(rest)) throw new PatternError('lookahead and lookbehind are not supported (RE2 has none)');
      else if (rest.startsWith('(?P=')) throw new PatternError('backreferences are not supported (RE2 has none)');
      else if (rest.startsWith('(?')) throw new PatternError('inline flags are supported only at the start of the pattern, as (?i) or (?s)');
      else open = '(';
      groups.push({ hasRepeat: false, start: out.length, states: 0 });
      out += '(?:';
      i += open.length;
      lastAtom = null;
      continue;
    }
    if (ch === ')') {
      if (groups.length === 1) throw new PatternError('unmatched )');
      const g = groups.pop()!;
      if (g.hasRepeat) top().hasRepeat = true;
      atom(')', g.hasRepeat, g.start, g.states);
      i++;
      continue;
    }
    const counted = ch === '{' ? /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i)) : null;
    if (ch === '*' || ch === '+' || ch === '?' || counted) {
      let repeats: boolean;
      let len = 1;
      if (counted) {
        const min = Number(counted[1]);
        const max = counted[2] === undefined ? min : counted[3] === '' ? Infinity : Number(counted[3]);
        if (min > MAX_REPEAT || (max !== Infinity && max > MAX_REPEAT)) throw new PatternError(`a counted repetition may not exceed ${MAX_REPEAT}`);
        if (max < min) throw new PatternError(`bad repetition ${counted[0]}`);
        if (max !== min) variableRepeats++;
        repeats = max > 1;
        len = counted[0].length;
      } else {
        repeats = ch !== '?';
        variableRepeats++;
      }
      const quantified = lastAtom as LastAtom | null; // set inside closures, which narrowing does not see
      if (quantified === null) throw new PatternError(`missing argument to repetition operator ${counted ? counted[0] : ch}`);
      if (repeats && quantified.repeatInside) nestedRepeat = true;
      if (repeats) top().hasRepeat = true;
      const [min, max] = counted ? [Number(counted[1]), counted[2] === undefined ? Number(counted[1]) : counted[3] === '' ? Infinity : Number(counted[3])] : [0, 0];
      // Written out, `x{2,5}` is five x's (`x{3,}` four: three and a loop).
      if (counted) top().states += quantified.states * (Math.max(max === Infinity ? min : max, 1) - 1);
      if (top().states > MAX_STATES) throw new PatternError(tooManyStates);
      const split = counted !== null && (min > LINEAR_MAX_COUNT || (max !== Infinity && max > LINEAR_MAX_COUNT) || quantified.repeatInside);
      if (split) {
        out = out.slice(0, quantified.start) + splitCount(out.slice(quantified.start), min, max, quantified.repeatInside);
        if (out.length > MAX_TRANSLATED_LENGTH) throw new PatternError(`its counted repetitions make it too large (over ${MAX_TRANSLATED_LENGTH} characters written out)`);
      } else {
        out += pattern.slice(i, i + len);
      }
      i += len;
      if (pattern[i] === '?') {
        if (!split) out += '?'; // which of the values a lazy repetition prefers does not change whether one matches
        i++;
      }
      if (pattern[i] === '*' || pattern[i] === '+' || pattern[i] === '?' || (pattern[i] === '{' && /^\{\d+(,\d*)?\}/.test(pattern.slice(i)))) {
        throw new PatternError(`bad repetition operator ${pattern.slice(i - len, i + 1)}`);
      }
      lastAtom = null;
      continue;
    }
    if (ch === '^' || ch === '$' || ch === '|') {
      out += ch;
      lastAtom = null;
      i++;
      continue;
    }
    if (ch === '.') {
      // RE2's `.` is one code point other than \n (any with (?s)); JavaScript's also stops at \r,
      // U+2028 and U+2029, and without the `u` flag it is one UTF-16 unit.
      atom(codePointsAtom(dotAll ? [[0, MAX_CODE_POINT]] : complement([[0x0a, 0x0a]])));
      i++;
      continue;
    }
    const cp = pattern.codePointAt(i)!;
    if (cp > 0xffff) {
      literal(String.fromCodePoint(cp));
      i += 2;
      continue;
    }
    // A `{`, `}` or `]` that is not syntax is a literal in RE2.
    literal(ch);
    i++;
  }
  if (groups.length > 1) throw new PatternError('missing )');
  if (groups[0]!.states > MAX_STATES) throw new PatternError(tooManyStates);
  if (out.length > MAX_TRANSLATED_LENGTH) throw new PatternError(`it is too large written out for the gateway (over ${MAX_TRANSLATED_LENGTH} characters)`);
  // Every pattern must be one V8's linear-time engine can take, so that one which backtracks
  // excessively is finished by it (see the top of this part): not only nested or several variable
  // repetitions backtrack badly, but also any repetition of an alternation (`(a|a){30}`, and `.`,
  // which is an alternation here, `.*a{30}` over emoji), exponentially.
  if (!linearEngineTakes(out, '')) {
    throw new PatternError(
      nestedRepeat
        ? "nested repetition beyond what the gateway's linear-time matcher can run (it could take exponential time); simplify the nesting or use smaller counts"
        : variableRepeats > 1
          ? "several variable-length repetitions beyond what the gateway's linear-time matcher can run (they could take polynomial time in the value's length); use fewer, or counts of 16 or less"
          : "a pattern the gateway's linear-time matcher cannot run (it could take exponential time); simplify it",
    );
  }
  return { source: out, flags: '', states: groups[0]!.states };
}

interface EscapeSink {
  atom(text: string): void;
  literal(ch: string): void;
  anchor(text: string): void;
  caseInsensitive: boolean;
}

/** One escape outside a character class, starting at the backslash; returns the index after it. */
function escapeOutsideClass(p: string, i: number, sink: EscapeSink): number {
  const c = p[i + 1];
  if (c === undefined) throw new PatternError('trailing backslash');
  if (c >= '1' && c <= '9') throw new PatternError('backreferences are not supported (RE2 has none)');
  switch (c) {
    case 'k':
      throw new PatternError('backreferences are not supported (RE2 has none)');
    case 'A':
      sink.anchor('^');
      return i + 2;
    case 'z':
      sink.anchor('$');
      return i + 2;
    case 'b':
    case 'B':
      sink.anchor(`\\${c}`);
      return i + 2;
    case 'd':
    case 'D':
    case 's':
    case 'S':
    case 'w':
    case 'W':
      sink.atom(codePointsAtom(perlClass(c, sink.caseInsensitive)));
      return i + 2;
    case 'n':
    case 't':
    case 'r':
    case 'f':
    case 'v':
      sink.atom(`\\${c}`);
      return i + 2;
    case 'a':
      sink.atom('\\x07');
      return i + 2;
    case '0': {
      const m = /^0[0-7]{0,2}/.exec(p.slice(i + 1))!;
      sink.atom(hex4(parseInt(m[0], 8)));
      return i + 1 + m[0].length;
    }
    case 'x': {
      const { cp, end } = hexEscape(p, i);
      if (cp >= 0xd800 && cp <= 0xdfff) sink.atom(codePointAtom(cp));
      else sink.literal(String.fromCodePoint(cp));
      return end;
    }
    case 'Q': {
      const close = p.indexOf('\\E', i + 2);
      const text = p.slice(i + 2, close === -1 ? p.length : close);
      // Each quoted character is its own atom, so a quantifier after \E applies to the last one, as in RE2.
      for (const ch of text) sink.literal(ch);
      return close === -1 ? p.length : close + 2;
    }
    case 'E':
      return i + 2; // a stray \E is ignored, as in RE2
    default:
      if (!RE2_ESCAPABLE.test(c)) throw new PatternError(`the escape \\${c} is not supported`);
      sink.literal(c);
      return i + 2;
  }
}

/** \xHH or \x{H…}, starting at the backslash. */
function hexEscape(p: string, i: number): { cp: number; end: number } {
  const rest = p.slice(i + 2);
  const braced = /^\{([0-9A-Fa-f]{1,6})\}/.exec(rest);
  if (braced) {
    const cp = parseInt(braced[1]!, 16);
    if (cp > 0x10ffff) throw new PatternError(`the escape \\x{${braced[1]}} is not a code point`);
    return { cp, end: i + 2 + braced[0].length };
  }
  const two = /^[0-9A-Fa-f]{2}/.exec(rest);
  if (!two) throw new PatternError('\\x needs two hex digits or {hex}');
  return { cp: parseInt(two[0], 16), end: i + 4 };
}

/**
 * A character class starting at `[`, RE2 syntax, as the code points it matches: under (?i) every
 * member is folded (RE2 folds a range, a POSIX class and \w alike), and a negated class is the
 * complement of the folded members, so `(?i)[^k]` does not match K (U+212A).
 */
function characterClass(p: string, start: number, caseInsensitive: boolean): { codePoints: CodePoints; end: number } {
  let i = start + 1;
  let negated = false;
  if (p[i] === '^') {
    negated = true;
    i++;
  }
  const members: CodePoints = [];
  const fold = (ranges: CodePoints) => (caseInsensitive ? caseFolded(ranges) : ranges);
  let first = true;
  /** One class character (possibly escaped) as its code point, or null for a class (added to members). */
  const member = (): number | null => {
    const ch = p[i]!;
    if (ch === '\\') {
      const c = p[i + 1];
      if (c === undefined) throw new PatternError('trailing backslash');
      if (c >= '1' && c <= '9') throw new PatternError('octal and backreference escapes are not supported in a class');
      if ('dDsSwW'.includes(c)) {
        i += 2;
        members.push(...perlClass(c, caseInsensitive));
        return null;
      }
      const simple: Record<string, number> = { n: 10, t: 9, r: 13, f: 12, v: 11, a: 7 };
      if (c in simple) return (i += 2), simple[c]!;
      if (c === '0') {
        const m = /^0[0-7]{0,2}/.exec(p.slice(i + 1))!;
        i += 1 + m[0].length;
        return parseInt(m[0], 8);
      }
      if (c === 'x') {
        const { cp, end } = hexEscape(p, i);
        i = end;
        return cp;
      }
      if (!RE2_ESCAPABLE.test(c)) throw new PatternError(`the escape \\${c} is not supported`);
      i += 2;
      return c.charCodeAt(0);
    }
    if (ch === '[' && p[i + 1] === ':') {
      const m = /^\[:(\^?)([a-z]+):\]/.exec(p.slice(i));
      if (m) {
        const cls = POSIX_CLASSES[m[2]!];
        if (!cls) throw new PatternError(`unknown POSIX class [:${m[2]}:]`);
        i += m[0].length;
        members.push(...(m[1] ? complement(fold(cls)) : fold(cls)));
        return null;
      }
    }
    const cp = p.codePointAt(i)!;
    i += cp > 0xffff ? 2 : 1;
    return cp;
  };
  for (;;) {
    if (i >= p.length) throw new PatternError('missing ]');
    if (p[i] === ']' && !first) {
      i++;
      break;
    }
    first = false;
    const lo = member();
    if (lo === null) continue;
    if (p[i] === '-' && p[i + 1] !== undefined && p[i + 1] !== ']') {
      i++;
      const hi = member();
      if (hi === null) throw new PatternError('a class escape cannot end a range');
      if (hi < lo) throw new PatternError(`bad character class range ${String.fromCodePoint(lo)}-${String.fromCodePoint(hi)}`);
      members.push(...fold([[lo, hi]]));
    } else {
      members.push(...fold([[lo, lo]]));
    }
  }
  const codePoints = normalized(members);
  return { codePoints: negated ? complement(codePoints) : codePoints, end: i };
}

/**
 * An RE2 pattern as a JavaScript RegExp that must match a whole value (as RE2's full match does).
 * A pattern that is not valid, or that uses what RE2 does not have or the gateway refuses, is a
 * BAD_QUERY naming the pattern.
 */
export function compileRegex(pattern: string, backend = DEFAULT_BACKEND): RegExp {
  return compileCountedRegex(pattern, backend).re;
}

/** compileRegex, and the pattern's states written out (what one match of it costs, MAX_STATES). */
function compileCountedRegex(pattern: string, backend: string): { re: RegExp; states: number } {
  const fail = (why: string) => new StoreError('BAD_QUERY', backend, `invalid regex ${JSON.stringify(pattern)}: ${why}`);
  if (typeof pattern !== 'string') throw fail('a regex must be a string');
  if (pattern.length > MAX_PATTERN_LENGTH) throw fail(`longer than ${MAX_PATTERN_LENGTH} characters`);
  let translated: Translated;
  try {
    translated = translate(pattern);
  } catch (err) {
    if (err instanceof PatternError) throw fail(err.message);
    throw err;
  }
  try {
    return { re: new RegExp(`^(?:${translated.source})$`, translated.flags), states: translated.states };
  } catch (err) {
    const why = err instanceof Error ? err.message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '') : String(err);
    throw fail(why);
  }
}
