// Metric and label names the way the OpenTelemetry "Prometheus and OpenMetrics compatibility"
// specification maps them (and the Collector's prometheus translator does): invalid characters
// become `_`, runs of `_` collapse, the UCUM unit becomes a word suffix, monotonic cumulative sums
// end in `_total`, gauges with unit "1" end in `_ratio`.
import type { MetricDescriptor } from '../../model/telemetry.ts';

// UCUM unit → Prometheus base-unit word (Collector: translator/prometheus/normalize_name.go).
const UNIT_WORDS: Record<string, string> = {
  d: 'days', h: 'hours', min: 'minutes', s: 'seconds', ms: 'milliseconds', us: 'microseconds', ns: 'nanoseconds',
  By: 'bytes', KiBy: 'kibibytes', MiBy: 'mebibytes', GiBy: 'gibibytes', TiBy: 'tibibytes',
  KBy: 'kilobytes', MBy: 'megabytes', GBy: 'gigabytes', TBy: 'terabytes',
  m: 'meters', V: 'volts', A: 'amperes', J: 'joules', W: 'watts', g: 'grams',
  Cel: 'celsius', Hz: 'hertz', '1': '', '%': 'percent',
};
// The denominator of a rate unit such as "m/s" or "By/h".
const PER_UNIT_WORDS: Record<string, string> = {
  s: 'second', m: 'minute', h: 'hour', d: 'day', w: 'week', mo: 'month', y: 'year',
};

/** Every word a unit suffix may hold, for readers that map a Prometheus name back to its family. */
export const UNIT_SUFFIX_WORDS: ReadonlySet<string> = new Set(
  [...Object.values(UNIT_WORDS), ...Object.values(PER_UNIT_WORDS), 'per', 'total', 'ratio'].flatMap((w) => w.split('_')).filter((w) => w !== ''),
);

/** The labels the exporter writes a point's resource and scope as (the OTel specification's names). */
export const SOURCE_LABELS = { job: 'job', instance: 'instance', scopeName: 'otel_scope_name', scopeVersion: 'otel_scope_version' } as const;

/**
 * job is `service.namespace/service.name`, or the name alone. Either part may hold a `/`, so where
 * it splits is a convention, one for every reader (the group-by's label_replace, live points rebuilt
 * from labels): the namespace is everything before the last `/` that has a name after it.
 */
export const NAMESPACE_OF_JOB = { promql: '(?s)(.+)/.+', js: /^(.+)\/(.+)$/s } as const;

/** The service.namespace and service.name a job label holds (see NAMESPACE_OF_JOB). */
export function splitJob(job: string): { namespace: string | undefined; name: string } {
  const parts = NAMESPACE_OF_JOB.js.exec(job);
  return parts ? { namespace: parts[1], name: parts[2]! } : { namespace: undefined, name: job };
}

/** Prometheus unit word → UCUM unit, the reverse of the suffix mapping. */
const UCUM_BY_WORD: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(UNIT_WORDS).filter(([, w]) => w !== '').map(([ucum, w]) => [w, ucum]),
);
const UCUM_BY_PER_WORD: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(PER_UNIT_WORDS).map(([ucum, w]) => [w, ucum]));

/**
 * The UCUM unit a family name ends in, the reverse of unitSuffix: "_seconds" → "s",
 * "_bytes_per_second" → "By/s", "_per_second" → "1/s", a gauge's "_ratio" → "1". Only a unit word at
 * the end is read: where the name already held the word (`bytes.sent` in By is `bytes_sent_total`),
 * none was added, and a word inside a name is not known to be its unit. Annotations (`{req}`) and
 * units without a word are not in the name, so they read as "".
 */
export function unitOfName(family: string): string {
  const words = family.replace(/_(total|ratio)$/, '').split('_');
  const last = words[words.length - 1] ?? '';
  if (words.length >= 2 && words[words.length - 2] === 'per' && UCUM_BY_PER_WORD[last]) {
    const main = words.length >= 3 ? UCUM_BY_WORD[words[words.length - 3]!] : undefined;
    return `${main ?? '1'}/${UCUM_BY_PER_WORD[last]}`;
  }
  if (UCUM_BY_WORD[last]) return UCUM_BY_WORD[last];
  return family.endsWith('_ratio') ? '1' : '';
}

/** Replaces what Prometheus does not allow with `_` and collapses runs of `_`. */
function sanitize(text: string, allowColon: boolean): string {
  const invalid = allowColon ? /[^a-zA-Z0-9_:]/g : /[^a-zA-Z0-9_]/g;
  return text.replace(invalid, '_').replace(/__+/g, '_');
}

/** "ms" → "milliseconds", "By/s" → "bytes_per_second", "{request}" → "" (annotations carry no unit). */
export function unitSuffix(unit: string): string {
  const bare = unit.replace(/\{[^}]*\}/g, '').trim();
  if (bare === '') return '';
  const [main = '', per] = bare.split('/', 2);
  const mainWord = sanitize(UNIT_WORDS[main] ?? main, false).replace(/^_+|_+$/g, '');
  const perWord = per === undefined ? '' : sanitize(PER_UNIT_WORDS[per] ?? per, false).replace(/^_+|_+$/g, '');
  if (perWord === '') return mainWord;
  return mainWord === '' ? `per_${perWord}` : `${mainWord}_per_${perWord}`;
}

/** Whether Prometheus sees this metric as a counter (a monotonic sum, cumulative or converted from delta). */
export function isCounter(metric: MetricDescriptor): boolean {
  return metric.type === 'sum' && metric.isMonotonic;
}

/** An OTel metric name's words as a Prometheus name holds them (sanitised, without empty words). */
function nameWords(name: string): string[] {
  return sanitize(name, true).split('_').filter((t) => t !== '');
}

/** A name made of words: a leading digit gets `_`, as Prometheus names cannot start with one. */
function joinWords(words: readonly string[]): string {
  const name = words.join('_');
  if (name === '') return '_';
  return /^[0-9]/.test(name) ? `_${name}` : name;
}

/**
 * The Prometheus name an OTel metric name starts as, before unit words and `_total`: what a reader
 * looks for stored names under ("5xx.errors" → "_5xx_errors").
 */
export function metricStem(name: string): string {
  return joinWords(nameWords(name));
}

/**
 * The Prometheus metric name (before `_bucket`/`_sum`/`_count`). The unit word and `_total` are
 * added unless the name already carries them; "1" on a gauge becomes `_ratio`.
 */
export function metricName(metric: MetricDescriptor): string {
  let tokens = nameWords(metric.name);
  const counter = isCounter(metric);
  if (counter) tokens = tokens.filter((t, i) => !(t === 'total' && i === tokens.length - 1));
  const unit = unitSuffix(metric.unit);
  if (unit !== '' && !`_${tokens.join('_')}_`.includes(`_${unit}_`)) tokens.push(unit);
  if (metric.unit === '1' && metric.type === 'gauge' && tokens[tokens.length - 1] !== 'ratio') tokens.push('ratio');
  if (counter) tokens.push('total');
  return joinWords(tokens);
}

/** A label name: invalid characters → `_`; a leading digit gets `key_` (as the specification says). */
export function labelName(key: string): string {
  let name = key.replace(/[^a-zA-Z0-9_]/g, '_');
  if (name === '') return '_';
  if (/^[0-9]/.test(name)) name = `key_${name}`;
  return name;
}

/** `le` and `quantile` values in the form Prometheus writes them. */
export function formatFloat(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
