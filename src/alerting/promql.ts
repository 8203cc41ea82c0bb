// PROMQL rules. With a Prometheus configured they run on Prometheus (/api/v1/query); on the
// embedded store a documented subset is evaluated over the DuckDB metric points:
//
//   [sum|avg|min|max|count [by (l1, l2)]] ( rate(m{l="v",…}[5m]) | increase(m{…}[5m]) | m{…}
//     | histogram_quantile(φ, [sum by (le[, l…])] (rate(m{…}[5m]))) )
//
// Inside histogram_quantile, `sum by (le, l…)` adds up the buckets of the series sharing l… before
// the quantile is taken (the store's groupBy; its histograms carry their buckets, not an `le` label).
// Metrics and labels are named as stored (OTel) or as the Prometheus exporter names them
// (promql-names.ts), so a rule reads the same here and on Prometheus.
// Only `=` label matchers, read as Prometheus reads them: `l=""` selects the series without l (or
// with it empty: Prometheus has no empty labels), and matchers that name one label all hold (two
// values select nothing). Quoted values take PromQL's escapes. Keywords (sum, by, offset…) are
// case-insensitive, function names not, as in Prometheus' lexer. Anything else is refused with a
// clear error that names the subset and what in the expression is outside it, so a rule never
// silently evaluates to something else; rules are checked when created, updated or loaded from the
// rules file (`check`), not only when evaluated. On Prometheus, `check` has Prometheus parse it.
import { StoreError, type MetricStore, type StoredExemplar, type TimeRange } from '../stores/types.ts';
import type { Logger } from 'pino';
import { labelName } from '../stores/prometheus/names.ts';
import type { PrometheusRawApi } from '../stores/prometheus/client.ts';
import { withoutCredentials } from '../url-credentials.ts';
import { createMetricNames, JOB_KEYS, jobOf, labelValue, prometheusSeriesLabels, storedLabel, type StoredMetric } from './promql-names.ts';
import { parseRuleDuration, ruleDurationProblem } from './rules.ts';
import type { PromQlEvaluator, PromQlSample, TraceExemplar } from './types.ts';

export const EMBEDDED_PROMQL_SUBSET =
  'the embedded store evaluates only [sum|avg|min|max|count [by (labels)]] (rate(m{l="v"}[5m]) | increase(m{l="v"}[5m]) | m{l="v"} ' +
  '| histogram_quantile(0.95, [sum by (le[, labels])] (rate(m{l="v"}[5m])))) with = matchers; ' +
  'configure alerting.prometheusUrl to run any PromQL on Prometheus';

export class PromQlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PromQlError';
  }
}

type Aggregation = 'sum' | 'avg' | 'min' | 'max' | 'count';

export interface PromQlSubsetQuery {
  aggregation?: { op: Aggregation; by: string[] };
  fn?: 'rate' | 'increase';
  metric: string;
  /** The `=` matchers, one value per label; '' selects the series without the label. */
  labels: Record<string, string>;
  /** Two matchers want different values of one label: no series has both, so the selector selects none. */
  selectsNothing?: true;
  /** The range of rate/increase, ns. */
  range?: bigint;
  /** histogram_quantile(φ, rate(…)): φ of what each series observed in the range. */
  quantile?: number;
  /** histogram_quantile(φ, sum by (le, l…) (rate(…))): the labels l… whose series' buckets are added up first. */
  quantileBy?: string[];
}

// The braces hold anything but `}` outside quoted values: `{path="/a}b"}` is one matcher.
const SELECTOR = String.raw`([a-zA-Z_:][a-zA-Z0-9_:.]*)\s*(?:\{((?:[^}"'\x60]|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\x60[^\x60]*\x60)*)\})?`;
const INNER_FN = new RegExp(String.raw`^(rate|increase)\s*\(\s*${SELECTOR}\s*\[\s*([0-9a-z]+)\s*\]\s*\)$`);
const INNER_SELECTOR = new RegExp(`^${SELECTOR}$`);
// Aggregation operators and `by` are keywords, which PromQL reads in any case (SUM, By).
const AGG = /^(sum|avg|min|max|count)\s*(?:by\s*\(([^)]*)\)\s*)?\((.*)\)$/is;
const HISTOGRAM_QUANTILE = /^histogram_quantile\s*\(\s*([0-9.eE+-]+)\s*,(.*)\)$/s;
const BY_LABEL = /^[a-zA-Z_][a-zA-Z0-9_.]*$/;
// A label value in double, single or back quotes (raw: no escapes), as PromQL takes them.
const MATCHER = /^\s*([a-zA-Z_][a-zA-Z0-9_.]*)\s*(=~|!=|!~|=)\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|`([^`]*)`)\s*$/;

function refuse(expr: string, why: string): PromQlError {
  return new PromQlError(`PromQL ${JSON.stringify(expr)}: ${why}; ${EMBEDDED_PROMQL_SUBSET}`);
}

const PROMQL_AGGREGATIONS = new Set(['sum', 'avg', 'min', 'max', 'count', 'group', 'stddev', 'stdvar', 'count_values', 'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio']);
const SUBSET_AGGREGATIONS = new Set(['sum', 'avg', 'min', 'max', 'count']);
const SUBSET_FUNCTIONS = new Set(['rate', 'increase', 'histogram_quantile']);
const BINARY_OPERATORS = new Set(['+', '-', '*', '/', '%', '^', '==', '!=', '<', '>', '<=', '>=', 'and', 'or', 'unless', 'atan2']);
const BINARY_MODIFIERS = new Set(['bool', 'on', 'ignoring', 'group_left', 'group_right']);
const CLOSING: Record<string, string> = { '(': ')', '{': '}', '[': ']' };
const BRACKET_NAMES: Record<string, string> = { '(': 'parenthesis', ')': 'parenthesis', '{': 'brace', '}': 'brace', '[': 'bracket', ']': 'bracket' };

interface Token {
  kind: 'ident' | 'string' | 'number' | 'op' | 'punct';
  text: string;
  /** 1-based character position, as Prometheus' parse errors give it. */
  at: number;
}

/** The index just past the quoted string that opens at `i` (its quote at expr[i]), or -1 when it is not closed. */
function quotedEnd(expr: string, i: number): number {
  const quote = expr[i]!;
  let j = i + 1;
  // Backquoted (raw) strings have no escapes.
  while (j < expr.length && expr[j] !== quote) j += expr[j] === '\\' && quote !== '`' ? 2 : 1;
  return j >= expr.length ? -1 : j + 1;
}

/** The expression with its `#` comments (to the end of their line, outside quoted strings) blanked out. */
export function withoutComments(expr: string): string {
  let out = '';
  let i = 0;
  while (i < expr.length) {
    const c = expr[i]!;
    if (c === '"' || c === "'" || c === '`') {
      const end = quotedEnd(expr, i);
      if (end < 0) return out + expr.slice(i); // unterminated: the parser says so
      out += expr.slice(i, end);
      i = end;
    } else if (c === '#') {
      while (i < expr.length && expr[i] !== '\n') i++;
      out += ' ';
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** PromQL's tokens, enough to say what an expression holds; a syntax error is returned as a reason. */
function tokenize(expr: string): Token[] | string {
  const out: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i]!;
    const at = i + 1;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '#') {
      while (i < expr.length && expr[i] !== '\n') i++;
    } else if (c === '"' || c === "'" || c === '`') {
      const end = quotedEnd(expr, i);
      if (end < 0) return `syntax error at character ${at}: unterminated quoted string`;
      out.push({ kind: 'string', text: expr.slice(i, end), at });
      i = end;
    } else if (/[0-9.]/.test(c)) {
      const m = /^[0-9.]+(?:[eE][+-]?[0-9]+)?[0-9a-zA-Z.]*/.exec(expr.slice(i))!;
      out.push({ kind: 'number', text: m[0], at });
      i += m[0].length;
    } else if (/[a-zA-Z_:]/.test(c)) {
      const m = /^[a-zA-Z_:][a-zA-Z0-9_:.]*/.exec(expr.slice(i))!;
      out.push({ kind: 'ident', text: m[0], at });
      i += m[0].length;
    } else if ('(){}[],'.includes(c)) {
      out.push({ kind: 'punct', text: c, at });
      i++;
    } else {
      const op = ['==', '!=', '<=', '>=', '=~', '!~'].find((o) => expr.startsWith(o, i)) ?? (/[=<>+\-*/%^@]/.test(c) ? c : undefined);
      if (op === undefined) return `syntax error at character ${at}: unexpected character ${JSON.stringify(c)}`;
      out.push({ kind: 'op', text: op, at });
      i += op.length;
    }
  }
  return out;
}

/** The tokens of an expression whose quotes and brackets pair up, or the syntax error (a string). */
function balancedTokens(expr: string): Token[] | string {
  const tokens = tokenize(expr);
  if (typeof tokens === 'string') return tokens;
  if (tokens.length === 0) return 'syntax error: no expression';
  const open: Token[] = [];
  for (const t of tokens) {
    if (t.kind !== 'punct' || t.text === ',') continue;
    if (CLOSING[t.text]) {
      open.push(t);
    } else {
      const last = open.pop();
      if (!last || CLOSING[last.text] !== t.text) return `syntax error at character ${t.at}: unexpected right ${BRACKET_NAMES[t.text]!}`;
    }
  }
  if (open.length) return `syntax error at character ${open.at(-1)!.at}: unclosed left ${BRACKET_NAMES[open.at(-1)!.text]!}`;
  return tokens;
}

/**
 * Why an expression the subset's parser did not take is refused: the first construct the embedded
 * store cannot evaluate. Null when nothing in particular stands out.
 */
function unsupportedReason(expr: string): string | null {
  const tokens = balancedTokens(expr);
  if (typeof tokens === 'string') return tokens;
  let braces = 0;
  let brackets = 0;
  let aggregations = 0;
  for (const [i, t] of tokens.entries()) {
    const next = tokens[i + 1];
    const prev = tokens[i - 1];
    if (t.text === '{' && t.kind === 'punct') braces++;
    if (t.text === '}' && t.kind === 'punct') braces--;
    if (t.text === '[' && t.kind === 'punct') {
      const inside = tokens.slice(i + 1, tokens.findIndex((x, j) => j > i && x.text === ']'));
      if (inside.some((x) => x.text.includes(':'))) return 'subqueries ([range:step]) are not supported';
      if (inside.length !== 1 || inside[0]!.kind !== 'number') return `cannot read the range [${inside.map((x) => x.text).join(' ')}] (a duration such as [5m])`;
      brackets++;
    }
    if (t.text === ']' && t.kind === 'punct') brackets--;
    if (braces > 0) {
      if (t.kind === 'op' && t.text !== '=') return `label matcher ${t.text} is not supported (only =)`;
      continue;
    }
    if (brackets > 0) continue;
    if (t.kind === 'op' && t.text === '@') return 'the @ modifier is not supported';
    if (t.kind === 'op' && t.text === '=') return 'syntax error at character ' + t.at + ': unexpected "=" outside label matchers';
    if ((t.kind === 'op' || t.kind === 'ident') && BINARY_OPERATORS.has(t.kind === 'ident' ? t.text.toLowerCase() : t.text) && !(t.kind === 'ident' && next?.text === '(')) {
      return `the operator ${JSON.stringify(t.text)} is not supported`;
    }
    if (t.kind !== 'ident') continue;
    // Keywords in any case, as Prometheus' lexer reads them; function names as written.
    const keyword = t.text.toLowerCase();
    if (keyword === 'offset') return 'the offset modifier is not supported';
    if (BINARY_MODIFIERS.has(keyword)) return `binary operators (${t.text}) are not supported`;
    if (keyword === 'without') return 'without (…) is not supported; group with by (…)';
    if (keyword === 'by' && prev?.text === ')') return 'by (…) after the aggregated expression is not supported; write it before: sum by (label) (…)';
    if (keyword === 'by') continue;
    if (PROMQL_AGGREGATIONS.has(keyword) && (next?.text === '(' || next?.text.toLowerCase() === 'by')) {
      if (!SUBSET_AGGREGATIONS.has(keyword)) return `the aggregation ${t.text} is not supported (only ${[...SUBSET_AGGREGATIONS].join(', ')})`;
      if (++aggregations > 1) return 'only one aggregation is supported';
    } else if (next?.text === '(' && !SUBSET_FUNCTIONS.has(t.text)) {
      if (SUBSET_FUNCTIONS.has(keyword)) return `function names are case-sensitive: PromQL has no function ${t.text}(), write ${keyword}()`;
      return `the function ${t.text}() is not supported (only ${[...SUBSET_FUNCTIONS].join(', ')})`;
    }
  }
  return null;
}

/** The matchers of a selector's braces: split at the commas outside quoted values. */
function matcherParts(text: string): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < text.length; ) {
    const c = text[i]!;
    if (c === '"' || c === "'" || c === '`') i = quotedEnd(text, i) < 0 ? text.length : quotedEnd(text, i);
    else if (c === ',') {
      parts.push(text.slice(start, i));
      start = ++i;
    } else i++;
  }
  return [...parts, text.slice(start)];
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };
/** Digits and base of the numeric escapes; \x and octal ones are bytes, \u and \U code points (as in Go). */
const NUMERIC_ESCAPES: Readonly<Record<string, { digits: number; base: number; bytes: boolean }>> = {
  x: { digits: 2, base: 16, bytes: true },
  u: { digits: 4, base: 16, bytes: false },
  U: { digits: 8, base: 16, bytes: false },
};
const utf8 = new TextEncoder();

/**
 * A double- or single-quoted value's text as PromQL reads it (Go's escapes, as Prometheus' lexer
 * takes them: `\n` is a newline, `\x41` and `\101` are bytes, `\u00e9` a code point, and only
 * the opening quote may be escaped); a string with the reason when PromQL would refuse it.
 */
function unquoted(body: string, quote: string): { value: string } | string {
  const bytes: number[] = [];
  for (let i = 0; i < body.length; ) {
    const c = body[i]!;
    if (c === '\n') return 'unterminated quoted string (a line break inside quotes)';
    if (c !== '\\') {
      const cp = body.codePointAt(i)!;
      bytes.push(...utf8.encode(String.fromCodePoint(cp)));
      i += cp > 0xffff ? 2 : 1;
      continue;
    }
    const e = body[i + 1] ?? '';
    const simple = e === quote ? quote : SIMPLE_ESCAPES[e];
    if (simple !== undefined) {
      bytes.push(...utf8.encode(simple));
      i += 2;
      continue;
    }
    const numeric = /[0-7]/.test(e) ? { digits: 3, base: 8, bytes: true, start: i + 1 } : NUMERIC_ESCAPES[e] && { ...NUMERIC_ESCAPES[e], start: i + 2 };
    if (!numeric) return `unknown escape sequence \\${e}`;
    const digits = body.slice(numeric.start, numeric.start + numeric.digits);
    const valid = numeric.base === 8 ? /^[0-7]+$/ : /^[0-9a-fA-F]+$/;
    if (digits.length < numeric.digits || !valid.test(digits)) return `bad escape sequence \\${body.slice(i + 1, numeric.start + numeric.digits)}`;
    const n = parseInt(digits, numeric.base);
    if (numeric.bytes ? n > 0xff : n > 0x10ffff || (n >= 0xd800 && n < 0xe000)) return `escape sequence \\${body.slice(i + 1, numeric.start + numeric.digits)} is an invalid Unicode code point`;
    if (numeric.bytes) bytes.push(n);
    else bytes.push(...utf8.encode(String.fromCodePoint(n)));
    i = numeric.start + numeric.digits;
  }
  try {
    return { value: new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(bytes)) };
  } catch {
    return 'the escaped bytes are not UTF-8';
  }
}

/** The selector's `=` matchers, one value per label, and whether two of them want different values of one label. */
function parseMatchers(expr: string, text: string | undefined): Pick<PromQlSubsetQuery, 'labels' | 'selectsNothing'> {
  const labels: Record<string, string> = {};
  let selectsNothing = false;
  if (!text || text.trim() === '') return { labels };
  for (const part of matcherParts(text)) {
    if (part.trim() === '') continue;
    const m = MATCHER.exec(part);
    if (!m) throw refuse(expr, `cannot read label matcher ${JSON.stringify(part.trim())}`);
    if (m[2] !== '=') throw refuse(expr, `label matcher ${m[2]} is not supported (only =)`);
    const name = m[1]!;
    if (name === '__name__') throw refuse(expr, 'a __name__ matcher is not supported; write the metric name before the braces');
    let value = m[5];
    if (value === undefined) {
      const read = m[3] !== undefined ? unquoted(m[3], '"') : unquoted(m[4]!, "'");
      if (typeof read === 'string') throw refuse(expr, `label matcher ${JSON.stringify(part.trim())}: ${read}`);
      value = read.value;
    }
    // Every matcher holds, as in Prometheus: one label cannot have two values.
    if (Object.hasOwn(labels, name) && labels[name] !== value) selectsNothing = true;
    labels[name] = value;
  }
  return selectsNothing ? { labels, selectsNothing: true } : { labels };
}

/** Parses the embedded subset; throws PromQlError (naming the subset) for anything else. */
export function parsePromQlSubset(expr: string): PromQlSubsetQuery {
  // Comments are PromQL (Prometheus takes them); the subset's patterns read the rest.
  let body = withoutComments(expr).trim();
  let aggregation: PromQlSubsetQuery['aggregation'];
  const agg = AGG.exec(body);
  if (agg) {
    const by = (agg[2] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    const badLabel = by.find((l) => !BY_LABEL.test(l));
    if (badLabel !== undefined) throw refuse(expr, `cannot read label ${JSON.stringify(badLabel)} in by (…)`);
    aggregation = { op: agg[1]!.toLowerCase() as Aggregation, by };
    body = agg[3]!.trim();
  }
  let quantile: number | undefined;
  let quantileBy: string[] | undefined;
  // A syntax error is said as one, whatever part of the subset it resembles.
  const syntax = balancedTokens(expr);
  if (typeof syntax === 'string') throw refuse(expr, syntax);
  const hq = HISTOGRAM_QUANTILE.exec(body);
  if (hq) {
    quantile = Number(hq[1]);
    if (!(quantile >= 0 && quantile <= 1)) throw refuse(expr, `the quantile must be from 0 to 1, not ${hq[1]}`);
    body = hq[2]!.trim();
    const sum = AGG.exec(body);
    if (sum) {
      const by = (sum[2] ?? '').split(',').map((l) => l.trim()).filter(Boolean);
      if (sum[1]!.toLowerCase() !== 'sum' || !by.includes('le')) throw refuse(expr, 'inside histogram_quantile only sum by (le[, labels]) (…) can combine series: the quantile needs the buckets (le)');
      const badLabel = by.find((l) => !BY_LABEL.test(l));
      if (badLabel !== undefined) throw refuse(expr, `cannot read label ${JSON.stringify(badLabel)} in by (…)`);
      quantileBy = by.filter((l) => l !== 'le');
      body = sum[3]!.trim();
    }
    if (!INNER_FN.test(body)) throw refuse(expr, 'histogram_quantile takes rate(m{…}[range]) of one histogram, or sum by (le, …) of it');
  }
  const fn = INNER_FN.exec(body);
  if (fn) {
    let range: bigint;
    try {
      range = parseRuleDuration(fn[4], 'range');
    } catch {
      throw refuse(expr, `bad range [${fn[4]}]`);
    }
    // The range is the window the store reads: bounded as a rule's window is.
    const outside = ruleDurationProblem('window', range, `range [${fn[4]}]`);
    if (outside) throw refuse(expr, outside);
    const q: PromQlSubsetQuery = { aggregation, fn: fn[1] as 'rate' | 'increase', metric: fn[2]!, ...parseMatchers(expr, fn[3]), range };
    if (quantile !== undefined) q.quantile = quantile;
    if (quantileBy !== undefined) q.quantileBy = quantileBy;
    return q;
  }
  const sel = INNER_SELECTOR.exec(body);
  if (sel) return { aggregation, metric: sel[1]!, ...parseMatchers(expr, sel[2]) };
  throw refuse(expr, unsupportedReason(expr) ?? 'not in the supported subset');
}

/** Metric exemplars that name a trace, newest first. */
function exemplarsOf(list: readonly StoredExemplar[]): TraceExemplar[] {
  return list
    .filter((e) => e.traceId)
    .sort((a, b) => (a.timeUnixNano < b.timeUnixNano ? 1 : a.timeUnixNano > b.timeUnixNano ? -1 : 0))
    .map((e) => ({ traceId: e.traceId, spanId: e.spanId, durationNano: null, error: false }));
}

/** A group's labels (`by (…)` names and values) as Prometheus gives them: valid label names, and no empty values (a label the series lack). */
function byLabels(entries: Iterable<[string, string]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of entries) if (value !== '') out[labelName(name)] = value;
  return out;
}

/** Prometheus' default lookback for an instant selector. */
const LOOKBACK_NS = 300_000_000_000n;

/** A sample with the stored labels of its series (OTel keys), which `by (…)` reads. */
interface StoredSample extends PromQlSample {
  stored: Record<string, string>;
}

/** What a query selects, in the metric's stored keys. */
interface StoredSelection {
  /** The exact matches the store filters by (non-empty values). */
  labels: Record<string, string>;
  /** The keys of the `l=""` matchers: the series must lack them or have them empty. */
  without: string[];
  /** The store's groupBy for histogram_quantile's sum by (…). */
  quantileBy?: string[];
  /** The `job` matcher's value, which jobOf checks. */
  job?: string;
  /** Two matchers want different values of one stored key (`http_route` and `http.route` name one). */
  selectsNothing?: true;
}

export function createEmbeddedPromQl(metrics: MetricStore): PromQlEvaluator {
  const names = createMetricNames(metrics);

  /**
   * The labels of `q` (matchers, quantileBy) as the metric's stored keys (promql-names.ts). A `job`
   * is service.namespace and service.name (jobOf): its matcher is a filter on service.name only when
   * the value has no `/` (none at all otherwise) and is returned as `job`, for the series to be picked
   * by their job; and a group reads it, as `by (job)` does, from both keys. An empty value is no
   * filter of the store (which matches a key present and empty only) but a key the series are
   * picked by: lacking it or having it empty, as Prometheus, which has no empty labels, reads it.
   */
  async function storedLabels(tenant: string, q: PromQlSubsetQuery, metric: string, window: Required<TimeRange>): Promise<StoredSelection> {
    const wanted = [...Object.keys(q.labels), ...(q.quantileBy ?? [])];
    if (wanted.length === 0) return { labels: {}, without: [], ...(q.quantileBy && { quantileBy: q.quantileBy }) };
    let keys = await names.labelKeys(tenant, metric, window, false);
    // A label the cached keys do not have may be on a series seen since.
    if (wanted.some((l) => !keys.has(storedLabel(l, keys)))) keys = await names.labelKeys(tenant, metric, window, true);
    const isJob = (l: string) => l === 'job' && storedLabel(l, keys) === JOB_KEYS[1];
    const wants: [string, string][] = [];
    let job: string | undefined;
    for (const [l, v] of Object.entries(q.labels)) {
      if (!isJob(l)) wants.push([storedLabel(l, keys), v]);
      else {
        job = v;
        if (v !== '' && !v.includes('/')) wants.push([JOB_KEYS[1], v]);
      }
    }
    const values = new Map(wants);
    const selectsNothing = wants.some(([key, value]) => values.get(key) !== value);
    const labels: Record<string, string> = {};
    const without: string[] = [];
    for (const [key, value] of values) {
      if (value === '') without.push(key);
      else labels[key] = value;
    }
    const out: StoredSelection = { labels, without, ...(job !== undefined && { job }), ...(selectsNothing && { selectsNothing: true as const }) };
    if (q.quantileBy === undefined) return out;
    const quantileBy = q.quantileBy.flatMap((l) => (isJob(l) ? JOB_KEYS : [storedLabel(l, keys)]));
    // Groups of one job each, and apart by the keys that must be empty, which the matchers then pick.
    if (job !== undefined) quantileBy.push(...JOB_KEYS);
    quantileBy.push(...without);
    return { ...out, quantileBy: [...new Set(quantileBy)] };
  }

  /**
   * A series' labels as Prometheus would give them: a group's as the rule's `by` names them
   * (`http_route`, not `http.route` as stored; labelValue), a series' own as the Prometheus exporter
   * names them (prometheusSeriesLabels: `job`, `http_route`, `otel_scope_name`); no empty ones.
   */
  function resultLabels(labels: Record<string, string>, ruleBy: readonly string[] | undefined): Record<string, string> {
    if (!ruleBy) return prometheusSeriesLabels(labels);
    return byLabels(ruleBy.map((l): [string, string] => [l, labelValue(l, labels)]));
  }

  /** One stored metric's samples for the query: one series each, over one step covering the window. */
  async function storedSamples(tenant: string, expr: string, q: PromQlSubsetQuery, m: StoredMetric, window: Required<TimeRange>): Promise<StoredSample[]> {
    if (m.part === 'bucket' && q.quantile === undefined) throw new PromQlError(`PromQL ${JSON.stringify(expr)}: ${q.metric} is read by histogram_quantile only; rate() or increase() of ${m.name}'s observations is of ${q.metric.replace(/_bucket$/, '_count')}`);
    if (m.part === 'sum') throw new PromQlError(`PromQL ${JSON.stringify(expr)}: the sum of ${m.name}'s observations (${q.metric}) is not in the embedded subset; ${EMBEDDED_PROMQL_SUBSET}`);
    const stepNano = window.to - window.from + 1n;
    // increase() of a counter is the store's SUM (what it counted), exact: the increase per second
    // times the seconds came out as 124.99999999999999 where 125 were counted.
    const counted = q.fn === 'increase' && m.type === 'sum' && (await names.monotonic(tenant, m.name, window));
    const { labels, without, quantileBy, job, selectsNothing } = await storedLabels(tenant, q, m.name, window);
    if (selectsNothing) return [];
    // One step covering the whole range: RATE yields the increase over it per second.
    const series = await metrics
      .querySeries(tenant, {
        name: m.name,
        labels,
        range: window,
        stepNano,
        aggregation: !q.fn ? 'LAST' : counted ? 'SUM' : 'RATE',
        ...(q.quantile !== undefined && { quantile: q.quantile }),
        ...(quantileBy !== undefined && { groupBy: quantileBy }),
      })
      .catch((err: unknown) => {
        // e.g. a bare selector on a histogram, or histogram_quantile on a counter.
        if (err instanceof StoreError && err.code === 'BAD_QUERY') throw new PromQlError(`PromQL ${JSON.stringify(expr)}: ${err.message}`);
        throw err;
      });
    const samples: StoredSample[] = [];
    for (const s of series) {
      const points = s.points.filter((p) => p.value !== null);
      if (points.length === 0 || (job !== undefined && (jobOf(s.labels) ?? '') !== job)) continue;
      if (without.some((key) => (s.labels[key] ?? '') !== '')) continue;
      let value: number;
      if (!q.fn || q.quantile !== undefined) value = points[points.length - 1]!.value!;
      // A histogram's observations counted, as they are: no rate to scale back.
      else if (q.fn === 'increase' && points.every((p) => p.count !== undefined)) value = points.reduce((a, p) => a + p.count!, 0);
      else {
        value = points.reduce((a, p) => a + p.value!, 0);
        if (q.fn === 'increase' && !counted) value *= Number(stepNano) / 1e9;
      }
      // As in Prometheus, rate() and increase() drop the metric name.
      const labels = resultLabels(s.labels, q.quantileBy);
      samples.push({ labels: q.fn ? labels : { __name__: q.metric, ...labels }, stored: s.labels, value, exemplars: exemplarsOf(s.exemplars) });
    }
    // The store groups a key it lacks apart from the same key empty; Prometheus, which has no empty
    // labels, sees one group there, whose buckets are added up before the quantile is taken.
    if (q.quantileBy !== undefined) {
      const seen = new Set<string>();
      for (const s of samples) {
        const key = JSON.stringify(s.labels);
        if (seen.has(key)) throw new PromQlError(`PromQL ${JSON.stringify(expr)}: the series of group ${key} differ only in a label some lack and others have empty, which Prometheus reads as one group; the embedded store cannot add up their buckets; ${EMBEDDED_PROMQL_SUBSET}`);
        seen.add(key);
      }
    }
    return samples;
  }

  return {
    backend: 'embedded',
    check(_tenant, expr) {
      // Whether the metric is a histogram (a bare selector of one is refused) depends on data that
      // may not exist yet: that is found at evaluation.
      try {
        parsePromQlSubset(expr);
        return Promise.resolve(null);
      } catch (err) {
        return Promise.reject(err as Error);
      }
    },
    async query(tenant, expr, time) {
      const q = parsePromQlSubset(expr);
      if (q.selectsNothing) return [];
      const range = q.range ?? LOOKBACK_NS;
      const window = { from: time - range, to: time };
      const stored = await names.resolve(tenant, q.metric);
      // A name the store has in neither form answers nothing, as in Prometheus: SDKs export a
      // counter only from its first increment, so an error counter may not exist until it fires.
      if (stored.length === 0) return [];
      const samples: StoredSample[] = [];
      // Loops, not spreads, here and below: a rule may select more series than a call takes arguments.
      for (const m of stored) for (const s of await storedSamples(tenant, expr, q, m, window)) samples.push(s);
      if (!q.aggregation) return samples.map(({ labels, value, exemplars }) => ({ labels, value, ...(exemplars && { exemplars }) }));
      const groups = new Map<string, { labels: Record<string, string>; values: number[]; exemplars: TraceExemplar[] }>();
      for (const s of samples) {
        // Grouped by the stored labels, each `by` label read from them as Prometheus would have it (promql-names.ts).
        const labels = byLabels(q.aggregation.by.map((l): [string, string] => [l, labelValue(l, s.stored)]));
        const key = JSON.stringify(labels);
        const g = groups.get(key) ?? { labels, values: [], exemplars: [] };
        g.values.push(s.value);
        for (const e of s.exemplars ?? []) g.exemplars.push(e);
        groups.set(key, g);
      }
      const op = q.aggregation.op;
      return [...groups.values()].map(({ labels, values, exemplars }) => ({
        labels,
        exemplars,
        value:
          op === 'sum' ? values.reduce((a, b) => a + b, 0)
          : op === 'avg' ? values.reduce((a, b) => a + b, 0) / values.length
          : op === 'min' ? values.reduce((a, b) => Math.min(a, b), Infinity)
          : op === 'max' ? values.reduce((a, b) => Math.max(a, b), -Infinity)
          : values.length,
      }));
    },
  };
}

/** A sample value as Prometheus writes it: a float in Go's format, or `+Inf`, `-Inf`, `NaN` (which JS' Number() reads as NaN, bar the last). */
export function parsePrometheusValue(text: string): number {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

/**
 * The endpoints that parse an expression without running it, in the order tried: format_query
 * (Prometheus 2.42, Debian bookworm's, has it) and parse_query (newer releases). A server that
 * answers 404 to both (an older Prometheus, or a compatible backend without them) is not checked:
 * its rules show their errors at evaluation.
 */
const PARSE_ENDPOINTS = ['format_query', 'parse_query'] as const;

/** Prometheus' own text behind a StoreError of the client (its error, or the network error), for the log only. */
function detailOf(err: StoreError): string {
  const cause = err.cause as { error?: unknown; prometheus?: { error?: unknown }; code?: unknown } | undefined;
  const text = [cause?.prometheus?.error ?? cause?.error, cause?.code].filter((x) => typeof x === 'string' && x !== '').join(' ');
  return withoutCredentials(text || err.message);
}

/** What Prometheus said of the PromQL it refused (a BAD_QUERY's message without the client's `Prometheus: `). */
const refusal = (err: StoreError): string => err.message.replace(/^Prometheus: /, '');

const asStoreError = (err: unknown): StoreError => (err instanceof StoreError ? err : new StoreError('INTERNAL', 'prometheus', String(err), err));

/**
 * Any PromQL, on a Prometheus server's HTTP API through the client the metric read path uses
 * (src/stores/prometheus/client.ts): the same credentials, TLS and tenant header, and the same
 * errors. What a tenant sees (the mutation's error, `lastEvaluationError`) is Prometheus' message
 * only when it refused the PromQL; otherwise the status, as the read path says it. Prometheus'
 * address and its 5xx text (a proxy writes upstream addresses into it) go to the log only.
 */
export function createPrometheusPromQl(opts: { api: PrometheusRawApi; logger: Logger }): PromQlEvaluator {
  // The parse endpoint that answered last (undefined: not known yet; null: the server has none).
  let parseEndpoint: (typeof PARSE_ENDPOINTS)[number] | null | undefined;
  return {
    backend: 'prometheus',
    async check(tenant, expr) {
      const endpoints = parseEndpoint === undefined ? PARSE_ENDPOINTS : parseEndpoint === null ? [] : [parseEndpoint];
      for (const endpoint of endpoints) {
        try {
          await opts.api.post(tenant, endpoint, { query: expr });
          parseEndpoint = endpoint;
          return null;
        } catch (caught) {
          const err = asStoreError(caught);
          if (err.status === 404) continue;
          if (err.status !== undefined) parseEndpoint = endpoint;
          if (err.code === 'BAD_QUERY') {
            const why = refusal(err).replace(/^invalid parameter "query": /, '');
            throw new PromQlError(`PromQL ${JSON.stringify(expr)} does not parse: ${why} (checked by Prometheus)`);
          }
          // Logged by the engine, not shown to the tenant.
          return `Prometheus could not parse it with /api/v1/${endpoint}: ${err.message} (${detailOf(err)})`;
        }
      }
      parseEndpoint = null;
      return 'Prometheus has neither /api/v1/format_query nor /api/v1/parse_query; it is checked at evaluation';
    },
    async query(tenant, expr, time) {
      let data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] | [number, string] } | undefined;
      try {
        data = (await opts.api.post(tenant, 'query', { query: expr, time: (Number(time / 1_000_000n) / 1000).toFixed(3) })) as typeof data;
      } catch (caught) {
        const err = asStoreError(caught);
        if (err.code === 'BAD_QUERY') throw new PromQlError(`Prometheus answered ${err.status ?? 'an error'}: ${refusal(err)}`);
        opts.logger.warn({ tenant, reason: err.message, detail: detailOf(err) }, 'Prometheus failed a PROMQL rule query');
        throw err;
      }
      if (!data) throw new PromQlError('Prometheus answered without a result');
      const { resultType, result } = data;
      if (resultType === 'scalar') return [{ labels: {}, value: parsePrometheusValue((result as [number, string])[1]) }];
      if (resultType !== 'vector') throw new PromQlError(`PromQL ${JSON.stringify(expr)} returned a ${resultType}; an alert rule needs an instant vector`);
      return (result as { metric: Record<string, string>; value: [number, string] }[]).map((r) => ({ labels: r.metric, value: parsePrometheusValue(r.value[1]) }));
    },
  };
}
