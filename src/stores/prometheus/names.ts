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

/** Prometheus unit word → UCUM unit, the reverse of the suffix mapping. */
export const UCUM_BY_WORD: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(UNIT_WORDS).filter(([, w]) => w !== '').map(([ucum, w]) => [w, ucum]),
);

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

/**
 * The Prometheus metric name (before `_bucket`/`_sum`/`_count`). The unit word and `_total` are
 * added unless the name already carries them; "1" on a gauge becomes `_ratio`.
 */
export function metricName(metric: MetricDescriptor): string {
  let tokens = sanitize(metric.name, true).split('_').filter((t) => t !== '');
  const counter = isCounter(metric);
  if (counter) tokens = tokens.filter((t, i) => !(t === 'total' && i === tokens.length - 1));
  const unit = unitSuffix(metric.unit);
  if (unit !== '' && !`_${tokens.join('_')}_`.includes(`_${unit}_`)) tokens.push(unit);
  if (metric.unit === '1' && metric.type === 'gauge' && tokens[tokens.length - 1] !== 'ratio') tokens.push('ratio');
  if (counter) tokens.push('total');
  let name = tokens.join('_');
  if (name === '') name = '_';
  return /^[0-9]/.test(name) ? `_${name}` : name;
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
