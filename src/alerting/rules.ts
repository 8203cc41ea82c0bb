// Reads a rule from its plain form (the YAML file, or the GraphQL input mapped by the resolver) and
// checks everything once, so the engine only ever holds valid rules. Errors name the field.
import { randomUUID } from 'node:crypto';
import { UNIT_NS, unitDurationNs } from '../model/duration.ts';
import { filterNanos } from '../stores/filter-fields.ts';
import { compileLogFilter, compileSpanFilter } from '../stores/filter-match.ts';
import type { TelemetryFilter } from '../stores/types.ts';
import { AlertingError, COMPARATORS, RULE_KINDS, type AlertRule, type Comparator, type NoDataSignal, type RuleKind, type SeriesDimension } from './types.ts';

/** Prometheus-style durations: `30s`, `5m`, `1h30m`, `250ms`; a bigint is taken as ns. */
export function parseRuleDuration(value: unknown, field: string): bigint {
  if (typeof value === 'bigint' && value >= 0n) return value;
  if ((typeof value === 'bigint' && value < 0n) || (typeof value === 'string' && /^\s*-/.test(value))) {
    throw new AlertingError('BAD_RULE', `${field}: must not be negative (actual: ${typeof value === 'bigint' ? `-${formatRuleDuration(-value)}` : JSON.stringify(value)})`);
  }
  const ns = typeof value === 'string' ? unitDurationNs(value) : undefined;
  if (ns === undefined) {
    throw new AlertingError('BAD_RULE', `${field}: expected a duration like "30s", "5m" or "1h30m" (actual: ${JSON.stringify(String(value))})`);
  }
  return ns;
}

/** The shortest Prometheus-style form: 300000000000n → "5m", 1000000500n → "1s500ns". */
export function formatRuleDuration(ns: bigint): string {
  if (ns === 0n) return '0s';
  let rest = ns;
  let out = '';
  for (const unit of ['d', 'h', 'm', 's', 'ms', 'us', 'ns'] as const) {
    const size = UNIT_NS[unit]!;
    if (rest >= size) {
      out += `${rest / size}${unit}`;
      rest %= size;
    }
  }
  return out;
}

const SECOND = UNIT_NS.s!;
const MAX_RULE_DURATION = 30n * UNIT_NS.d!;

/**
 * What each of a rule's durations may be. An interval under a second evaluates the rule at every
 * tick and makes no alert sooner (ticks are alerting.tickMs apart, 1 s by default); a window under a
 * second sees almost nothing. The 30-day ceiling (the default alerting.historyRetention) keeps every
 * time a rule computes (now − window, 4 × interval ahead for an Alertmanager) well within the 64-bit
 * nanoseconds the store and the notifications can hold. `for` may be 0 (fire at the first
 * evaluation that holds).
 */
export const RULE_DURATION_BOUNDS = {
  interval: { min: SECOND, max: MAX_RULE_DURATION },
  window: { min: SECOND, max: MAX_RULE_DURATION },
  for: { min: 0n, max: MAX_RULE_DURATION },
} as const satisfies Record<string, { min: bigint; max: bigint }>;

/** Why `value` is outside the bounds of `field`, or null when it is within; `path` names the field in the message. */
export function ruleDurationProblem(field: keyof typeof RULE_DURATION_BOUNDS, value: bigint, path: string): string | null {
  const { min, max } = RULE_DURATION_BOUNDS[field];
  if (value >= min && value <= max) return null;
  const range = min === 0n ? `at most ${formatRuleDuration(max)}` : `from ${formatRuleDuration(min)} to ${formatRuleDuration(max)}`;
  return `${path}: expected a duration ${range} (actual: ${formatRuleDuration(value)})`;
}

export interface RuleDefaults {
  interval: bigint;
  window: bigint;
  repeatInterval: bigint;
}

export const RULE_DEFAULTS: RuleDefaults = {
  interval: 60_000_000_000n,
  window: 300_000_000_000n,
  repeatInterval: 4n * 3_600_000_000_000n,
};

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** A groupBy of this alone groups by all labels, as Alertmanager's `...`: every alert is its own group. */
export const GROUP_BY_ALL = '...';
const KNOWN_KEYS = new Set([
  'id', 'tenant', 'name', 'kind', 'expr', 'services', 'operations', 'by', 'quantile', 'filter', 'signal', 'metric',
  'threshold', 'comparator', 'window', 'for', 'interval', 'labels', 'annotations', 'receivers', 'groupBy', 'repeatInterval', 'groupWait', 'groupInterval',
]);

/**
 * The keys each kind reads beyond the common ones. Another kind's key is refused, not ignored: the
 * rule would watch other data than it says (`services` on a PROMQL rule, `operations` on a
 * LOG_COUNT one).
 */
const KIND_KEYS: Record<RuleKind, readonly string[]> = {
  PROMQL: ['expr'],
  SPAN_ERROR_RATE: ['services', 'operations', 'by', 'filter'],
  SPAN_LATENCY_QUANTILE: ['services', 'operations', 'by', 'filter', 'quantile'],
  LOG_COUNT: ['services', 'by', 'filter'],
  NO_DATA: ['signal', 'services', 'by', 'filter', 'metric'],
};
const KIND_SPECIFIC_KEYS = [...new Set(Object.values(KIND_KEYS).flat())];
const PROMQL_SELECTS = 'select the series with label matchers in expr instead';

/** A file rule's tenant: its own `tenant` key when it has one, else `otherwise` (API rules are the caller's tenant's). */
export function fileRuleTenant(raw: unknown, otherwise: string): string {
  const tenant = raw && typeof raw === 'object' ? (raw as { tenant?: unknown }).tenant : undefined;
  return typeof tenant === 'string' && tenant !== '' ? tenant : otherwise;
}

function bad(field: string, message: string): AlertingError {
  return new AlertingError('BAD_RULE', `${field}: ${message}`);
}

function stringList(v: unknown, field: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw bad(field, 'expected a list of strings');
  return [...(v as string[])];
}

/**
 * A rule's groupBy, checked as Alertmanager checks a route's group_by: label names, each once, or
 * GROUP_BY_ALL alone. A name that is no label name could never group anything.
 */
function groupByList(v: unknown, field: string): string[] {
  const list = stringList(v, field);
  if (list.includes(GROUP_BY_ALL) && list.length > 1) throw bad(field, `"${GROUP_BY_ALL}" (group by all labels) must be the only entry (actual: ${JSON.stringify(list)})`);
  const seen = new Set<string>();
  for (const name of list) {
    if (name === GROUP_BY_ALL) continue;
    if (!LABEL_NAME.test(name)) throw bad(field, `${JSON.stringify(name)} is not a label name: a label name must match [a-zA-Z_][a-zA-Z0-9_]* ("${GROUP_BY_ALL}" alone groups by all labels)`);
    if (seen.has(name)) throw bad(field, `${JSON.stringify(name)} is listed twice`);
    seen.add(name);
  }
  return list;
}

/** `names`: what the map's keys are, checked as Prometheus checks label and annotation names (Alertmanager refuses an alert with another); undefined: not checked. */
function stringMap(v: unknown, field: string, names: 'label' | 'annotation' | undefined): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw bad(field, 'expected a mapping of strings');
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (names && !LABEL_NAME.test(k)) {
      const why = names === 'label' ? 'a label name must match [a-zA-Z_][a-zA-Z0-9_]*' : 'an annotation name must match [a-zA-Z_][a-zA-Z0-9_]*, as a label name (Alertmanager refuses others: write runbook_url, not runbook-url)';
      throw bad(`${field}.${k}`, why);
    }
    if (typeof val !== 'string' && typeof val !== 'number' && typeof val !== 'boolean') throw bad(`${field}.${k}`, 'expected a string');
    out[k] = String(val);
  }
  return out;
}

function filterOf(v: unknown, field: string, signal: 'spans' | 'logs', check: boolean): TelemetryFilter | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw bad(field, 'expected a filter mapping');
  const f = v as TelemetryFilter;
  if (f.timeRange) throw bad(`${field}.timeRange`, 'a rule filter has no time range; the rule window sets it');
  if (!check) return withNanos(f, field);
  try {
    // Compiling checks every field, operator and regex the same way a live tail does; the store's
    // SQL runs it, so not the bound on the gateway matcher's own work (checkOnly).
    if (signal === 'spans') compileSpanFilter(f, undefined, { checkOnly: true });
    else compileLogFilter(f, undefined, { checkOnly: true });
  } catch (err) {
    throw bad(field, (err as Error).message);
  }
  return withNanos(f, field);
}

/**
 * The filter with its durations as bigint nanoseconds, however the plain form wrote them (a number
 * or a string of digits: YAML, the stored definition), so a rule reads back as it was saved.
 */
function withNanos(f: TelemetryFilter, field: string): TelemetryFilter {
  const out: TelemetryFilter = { ...f };
  for (const k of ['minDuration', 'maxDuration'] as const) {
    if (f[k] != null) out[k] = filterNanos(`${field}.${k}`, f[k], (m) => bad(field, m));
  }
  if (f.and) out.and = f.and.map((g, i) => withNanos(g, `${field}.and[${i}]`));
  if (f.or) out.or = f.or.map((g, i) => withNanos(g, `${field}.or[${i}]`));
  if (f.not) out.not = withNanos(f.not, `${field}.not`);
  return out;
}

/** The filter in its plain (JSON, YAML) form: bigint nanoseconds as strings of digits. */
export function plainFilter(f: TelemetryFilter): Record<string, unknown> {
  return JSON.parse(JSON.stringify(f, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))) as Record<string, unknown>;
}

/**
 * A valid rule from its plain form. `raw.tenant` wins over `tenant` only for file rules (the API
 * always uses the request's tenant). Unknown keys are refused so a typo never silently changes a rule.
 * `checkBounds: false` (rules stored before RULE_DURATION_BOUNDS existed) only requires an interval
 * and a window above 0, and does not check the groupBy names, so a stored rule never stops the
 * gateway from starting. `checkFilter: false` takes the filter unchecked, only to list a stored rule
 * this version refuses (parseStoredRule), which is never evaluated.
 */
export function parseRule(
  raw: unknown,
  opts: { tenant: string; source: AlertRule['source']; where: string; defaults?: RuleDefaults; checkBounds?: boolean; checkFilter?: boolean },
): AlertRule {
  const where = opts.where;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad(where, 'a rule must be a mapping');
  const r = raw as Record<string, unknown>;
  for (const key of Object.keys(r)) if (!KNOWN_KEYS.has(key)) throw bad(`${where}.${key}`, `unknown key (known keys: ${[...KNOWN_KEYS].join(', ')})`);
  const defaults = opts.defaults ?? RULE_DEFAULTS;
  const checkFilter = opts.checkFilter !== false;

  if (typeof r.name !== 'string' || r.name.trim() === '') throw bad(`${where}.name`, 'a rule needs a name');
  const kind = r.kind as RuleKind;
  if (!RULE_KINDS.includes(kind)) throw bad(`${where}.kind`, `expected one of ${RULE_KINDS.join(', ')} (actual: ${JSON.stringify(r.kind)})`);

  const comparator = (r.comparator ?? (kind === 'NO_DATA' ? 'EQ' : 'GT')) as Comparator;
  if (!COMPARATORS.includes(comparator)) throw bad(`${where}.comparator`, `expected one of ${COMPARATORS.join(', ')}`);
  const threshold = r.threshold ?? (kind === 'NO_DATA' ? 0 : undefined);
  if (typeof threshold !== 'number' || !Number.isFinite(threshold)) throw bad(`${where}.threshold`, 'a rule needs a finite number');

  const rule: AlertRule = {
    id: typeof r.id === 'string' && r.id !== '' ? r.id : randomUUID(),
    tenant: opts.source === 'file' ? fileRuleTenant(r, opts.tenant) : opts.tenant,
    name: r.name.trim(),
    kind,
    source: opts.source,
    threshold,
    comparator,
    window: r.window === undefined ? defaults.window : parseRuleDuration(r.window, `${where}.window`),
    for: r.for === undefined ? 0n : parseRuleDuration(r.for, `${where}.for`),
    interval: r.interval === undefined ? defaults.interval : parseRuleDuration(r.interval, `${where}.interval`),
    labels: stringMap(r.labels, `${where}.labels`, 'label'),
    // A stored rule's annotations predate the check: its webhook and Slack receivers took them.
    annotations: stringMap(r.annotations, `${where}.annotations`, opts.checkBounds === false ? undefined : 'annotation'),
    receivers: stringList(r.receivers, `${where}.receivers`),
    // A stored rule's groupBy predates the check: one it would refuse groups by nothing, as it did.
    groupBy: r.groupBy === undefined ? ['alertname'] : opts.checkBounds === false ? stringList(r.groupBy, `${where}.groupBy`) : groupByList(r.groupBy, `${where}.groupBy`),
    repeatInterval: r.repeatInterval === undefined ? defaults.repeatInterval : parseRuleDuration(r.repeatInterval, `${where}.repeatInterval`),
    // Unset: the config's (alerting.defaultGroupWait / defaultGroupInterval), read when sending.
    ...(r.groupWait !== undefined && { groupWait: parseRuleDuration(r.groupWait, `${where}.groupWait`) }),
    ...(r.groupInterval !== undefined && { groupInterval: parseRuleDuration(r.groupInterval, `${where}.groupInterval`) }),
  };
  if (opts.checkBounds === false) {
    if (rule.interval <= 0n) throw bad(`${where}.interval`, 'must be greater than 0');
    if (rule.window <= 0n) throw bad(`${where}.window`, 'must be greater than 0');
  } else {
    for (const field of ['interval', 'window', 'for'] as const) {
      const problem = ruleDurationProblem(field, rule[field], `${where}.${field}`);
      if (problem) throw new AlertingError('BAD_RULE', problem);
    }
    // Each evaluation looks back over the window: a shorter window than the interval leaves gaps
    // no evaluation sees (a LOG_COUNT misses the logs in them, a NO_DATA fires on data it skipped).
    // PROMQL sets its own ranges in the expression; its window only bounds the evidence.
    if (kind !== 'PROMQL' && rule.window < rule.interval) {
      throw bad(`${where}.window`, `must be at least the interval (${formatRuleDuration(rule.interval)}), so that every moment is in some evaluation's window (actual: ${formatRuleDuration(rule.window)})`);
    }
  }
  if (rule.repeatInterval <= 0n) throw bad(`${where}.repeatInterval`, 'must be greater than 0');
  // As Alertmanager refuses a zero group_interval: every change would page at once.
  if (rule.groupInterval === 0n) throw bad(`${where}.groupInterval`, 'must be greater than 0');

  // A stored rule's keys predate the check (an earlier version ignored them): it is evaluated as before.
  if (opts.checkBounds !== false) {
    for (const key of KIND_SPECIFIC_KEYS) {
      const v = r[key];
      if (v == null || (Array.isArray(v) && v.length === 0) || KIND_KEYS[kind].includes(key)) continue;
      const hint = kind === 'PROMQL' ? `; ${PROMQL_SELECTS}` : '';
      throw bad(`${where}.${key}`, `a ${kind} rule does not use ${key} (it reads ${KIND_KEYS[kind].join(', ')}); remove it${hint}`);
    }
  }
  const by = stringList(r.by, `${where}.by`);
  for (const d of by) if (d !== 'service' && d !== 'operation') throw bad(`${where}.by`, `expected service or operation (actual: ${JSON.stringify(d)})`);

  switch (kind) {
    case 'PROMQL':
      if (typeof r.expr !== 'string' || r.expr.trim() === '') throw bad(`${where}.expr`, 'a PROMQL rule needs an expression');
      rule.expr = r.expr.trim();
      break;
    case 'SPAN_ERROR_RATE':
    case 'SPAN_LATENCY_QUANTILE':
      rule.services = stringList(r.services, `${where}.services`);
      rule.operations = stringList(r.operations, `${where}.operations`);
      rule.by = (r.by === undefined ? ['service'] : by) as SeriesDimension[];
      rule.filter = filterOf(r.filter, `${where}.filter`, 'spans', checkFilter);
      if (kind === 'SPAN_LATENCY_QUANTILE') {
        const q = r.quantile ?? 0.99;
        if (typeof q !== 'number' || !(q > 0 && q < 1)) throw bad(`${where}.quantile`, 'expected a number between 0 and 1 (exclusive)');
        rule.quantile = q;
      }
      break;
    case 'LOG_COUNT':
      rule.services = stringList(r.services, `${where}.services`);
      rule.by = by as SeriesDimension[];
      if (rule.by.includes('operation')) throw bad(`${where}.by`, 'log rules can be split by service only');
      rule.filter = filterOf(r.filter, `${where}.filter`, 'logs', checkFilter);
      break;
    case 'NO_DATA': {
      const signal = (r.signal ?? 'spans') as NoDataSignal;
      if (!['spans', 'logs', 'metrics'].includes(signal)) throw bad(`${where}.signal`, 'expected spans, logs or metrics');
      rule.signal = signal;
      rule.services = stringList(r.services, `${where}.services`);
      if (by.length > 0) {
        if (by.some((d) => d !== 'service')) throw bad(`${where}.by`, 'a NO_DATA rule can be split by service only (one alert per listed service)');
        // A service that never sent anything is not in the store: the rule has to name the ones to watch.
        if (rule.services.length === 0) throw bad(`${where}.by`, 'a NO_DATA rule split by service needs the services to watch (services): a service that sent nothing cannot be found otherwise');
        rule.by = ['service'];
      }
      if (signal === 'metrics') {
        if (typeof r.metric !== 'string' || r.metric === '') throw bad(`${where}.metric`, 'a NO_DATA rule on metrics needs a metric name');
        rule.metric = r.metric;
        // The filter language is the spans' and logs'; taking it here and ignoring it would watch
        // other points than the rule says.
        if (r.filter != null && checkFilter) throw bad(`${where}.filter`, 'a NO_DATA rule on metrics takes no filter; name the metric with metric and the services (resource service.name) with services');
        // (A broken stored rule's, listed as it was stored: see parseStoredRule.)
        if (r.filter != null) rule.filter = filterOf(r.filter, `${where}.filter`, 'spans', false);
      } else {
        if (r.metric != null && r.metric !== '' && opts.checkBounds !== false) throw bad(`${where}.metric`, `a NO_DATA rule on ${signal} does not use metric (only one on metrics does); remove it, or set signal: metrics`);
        rule.filter = filterOf(r.filter, `${where}.filter`, signal, checkFilter);
      }
      break;
    }
  }
  return rule;
}

/**
 * An API rule as an earlier version stored it (alert_rules.definition), read with the bounds a new
 * rule must keep relaxed (see parseRule's checkBounds). One this version refuses still (a filter
 * regex the matcher no longer takes: named groups, too many states) is kept with the reason in
 * `broken`, never dropped: refusing it would stop the gateway, and deleting it would lose a tenant's
 * rule. It is read again without checking its filter, so it lists as it was stored; should even that
 * fail (a key this version does not know, after a downgrade), it lists by its ID, name and kind, the
 * rest placeholders (threshold 0, default durations, no receivers): its `lastEvaluationError` says
 * it is not evaluated, and its stored row is never rewritten.
 */
export function parseStoredRule(definition: string, opts: { tenant: string; id: string; defaults?: RuleDefaults }): AlertRule {
  const where = `stored rule ${opts.id}`;
  const parseOpts = { tenant: opts.tenant, source: 'api' as const, where, defaults: opts.defaults, checkBounds: false };
  let raw: unknown;
  try {
    raw = JSON.parse(definition);
    return parseRule(raw, parseOpts);
  } catch (err) {
    const broken = (err as Error).message;
    try {
      return { ...parseRule(raw, { ...parseOpts, checkFilter: false }), id: opts.id, broken };
    } catch {
      const r = (raw ?? {}) as Record<string, unknown>;
      const defaults = opts.defaults ?? RULE_DEFAULTS;
      return {
        id: opts.id,
        tenant: opts.tenant,
        name: typeof r.name === 'string' && r.name.trim() !== '' ? r.name.trim() : opts.id,
        kind: RULE_KINDS.includes(r.kind as RuleKind) ? (r.kind as RuleKind) : 'NO_DATA',
        source: 'api',
        threshold: 0,
        comparator: 'GT',
        window: defaults.window,
        for: 0n,
        interval: defaults.interval,
        labels: {},
        annotations: {},
        receivers: [],
        groupBy: ['alertname'],
        repeatInterval: defaults.repeatInterval,
        broken,
      };
    }
  }
}

/** The rule in its plain form (YAML-compatible), for the GraphQL `definition` field and tests. */
export function ruleToPlain(rule: AlertRule): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: rule.id,
    name: rule.name,
    kind: rule.kind,
    threshold: rule.threshold,
    comparator: rule.comparator,
    window: formatRuleDuration(rule.window),
    for: formatRuleDuration(rule.for),
    interval: formatRuleDuration(rule.interval),
    labels: rule.labels,
    annotations: rule.annotations,
    receivers: rule.receivers,
    groupBy: rule.groupBy,
    repeatInterval: formatRuleDuration(rule.repeatInterval),
  };
  if (rule.groupWait !== undefined) out.groupWait = formatRuleDuration(rule.groupWait);
  if (rule.groupInterval !== undefined) out.groupInterval = formatRuleDuration(rule.groupInterval);
  for (const k of ['expr', 'services', 'operations', 'by', 'quantile', 'signal', 'metric'] as const) {
    if (rule[k] !== undefined) out[k] = rule[k];
  }
  if (rule.filter !== undefined) out.filter = plainFilter(rule.filter);
  return out;
}

/**
 * Whether `value <comparator> threshold` holds. ±Inf compare as the numbers they are: as in
 * Prometheus, `+Inf > 5` holds, so a ratio divided by zero or a quantile in the +Inf bucket fires a
 * GT rule. NaN (0/0: no defined value) satisfies no comparator, NEQ included (Prometheus' `!=` would
 * keep it): an alert on a value that does not exist would fire on silence; a NO_DATA rule is the way
 * to alert on that.
 */
export function compare(value: number, comparator: Comparator, threshold: number): boolean {
  if (Number.isNaN(value)) return false;
  switch (comparator) {
    case 'GT':
      return value > threshold;
    case 'GTE':
      return value >= threshold;
    case 'LT':
      return value < threshold;
    case 'LTE':
      return value <= threshold;
    case 'EQ':
      return value === threshold;
    case 'NEQ':
      return value !== threshold;
  }
}

/**
 * An alert's value as text, the same in `{{ $value }}` and in every receiver (the Slack line, the
 * `value` annotation): an integer (a count, a queue depth) exactly; any other value to 6 significant
 * digits, so float noise does not show (19.999999999999996 reads 20, 0.1 + 0.2 reads 0.3), in
 * exponent form where 6 digits cannot write it out (1.23457e+8, 1.2e-7), so a rounded value never
 * reads as exact digits it does not have; ±Inf and NaN as Prometheus writes them.
 */
export function valueText(value: number): string {
  const nonFinite = nonFiniteText(value);
  if (nonFinite !== null) return nonFinite;
  if (Number.isSafeInteger(value)) return String(value);
  const rounded = value.toPrecision(6);
  // "1.20000e-7" → "1.2e-7"; "0.300000" → "0.3".
  return rounded.includes('e') ? rounded.replace(/\.?0+e/, 'e') : String(Number(rounded));
}

/** How Prometheus writes the values JS numbers print otherwise (`Infinity`): `+Inf`, `-Inf`, `NaN`; null for a finite one. */
export function nonFiniteText(value: number): string | null {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return null;
}
