// MetricStore and PromQlStore over Prometheus' HTTP API. Structured queries (metricSeries) are
// turned into PromQL:
// - the name may be the OTel name ("http.server.duration") or the Prometheus one
//   ("http_server_duration_milliseconds"); the families are found among the stored metric names (the
//   sanitised OTel name plus unit / _total / _ratio words, as the exporter writes them): one OTel name
//   written with two units is two families, and the series of both are answered;
// - label matches: service.name → job (with or without a namespace/ prefix), service.namespace →
//   job prefix, service.instance.id → instance, any other key → its sanitised label name; groupBy
//   service.namespace takes job's prefix;
// - each step [b, b + step) is an `<agg>_over_time()` window holding exactly the step's samples up to
//   `to` (stepWindows); a counter's SUM and RATE, and histograms' counts, sums and buckets, take what
//   the counter counted as the DuckDB store does, from the series' last sample before the step
//   (counterIncrease), not Prometheus' extrapolated increase(); a quantile is histogram_quantile()
//   of the buckets' increases (a summary's {quantile} series: its last sample in the step);
// - series labels are Prometheus' label names (sanitised), without __name__.
import { observationsValue, rateSeconds, seriesQueryProblem, seriesTypeProblem } from '../series-query.ts';
import type { KeyValue, MetricPoint, MetricType } from '../../model/telemetry.ts';
import { regexEscape } from '../../model/patterns.ts';
import type { MetricSeries, MetricStore, SeriesAggregation, SeriesPoint, SeriesQuery, StoredExemplar, TimeRange } from '../types.ts';
import { StoreError } from '../types.ts';
import { untilQueryAborted, withoutQuerySignal } from '../query-signal.ts';
import { BACKEND, type PrometheusClient, type RawExemplarSeries } from './client.ts';
import { promqlString as str } from './promql-string.ts';
import { formatFloat, labelName, metricStem, NAMESPACE_OF_JOB, SOURCE_LABELS, splitJob, UNIT_SUFFIX_WORDS, unitOfName } from './names.ts';
import type { PromQlResult, PromQlSeries, PromQlStore } from './types.ts';

const MS = 1_000_000n;
const HOUR_MS = 3_600_000;
/** How far back a step's base sample is looked for (at least one step): Prometheus' own look-back. */
const BASE_LOOKBACK_MS = 300_000;
const FAMILY_SUFFIXES = ['_bucket', '_count', '_sum'];

type Kind = 'counter' | 'gauge' | 'histogram' | 'summary' | 'native';
interface Family {
  name: string;
  kind: Kind;
  type: MetricType;
  unit: string;
}

const OVER_TIME: Record<Exclude<SeriesAggregation, 'RATE'>, string> = {
  AVG: 'avg_over_time', SUM: 'sum_over_time', MIN: 'min_over_time', MAX: 'max_over_time', LAST: 'last_over_time', COUNT: 'count_over_time',
};
const TYPE_OF: Record<Kind, MetricType> = { counter: 'sum', gauge: 'gauge', histogram: 'histogram', summary: 'summary', native: 'exponentialHistogram' };

const badQuery = (message: string): StoreError => new StoreError('BAD_QUERY', BACKEND, message);
const nsToMs = (ns: bigint): number => Number(ns / MS);

/**
 * Prometheus counts time in milliseconds: a step of less, or not a whole number of them, came back
 * as no series, every sample twice, or "integer divide by zero" (QA round 38g). Refused, saying so.
 */
function stepProblem(stepNano: bigint): string | undefined {
  if (stepNano % MS === 0n) return undefined;
  return `step: Prometheus counts time in milliseconds, so a step read from it must be a whole number of them (actual: ${stepNano} ns)`;
}
const msToNs = (ms: number): bigint => BigInt(Math.round(ms)) * MS;
const finite = (v: number): number | null => (Number.isFinite(v) ? v : null);
const secondsToNs = (s: number | undefined): bigint | undefined => (s === undefined ? undefined : BigInt(Math.round(s * 1e9)));

function labelsKey(labels: Record<string, string>, drop: readonly string[] = []): string {
  return JSON.stringify(Object.entries(labels).filter(([k]) => k !== '__name__' && !drop.includes(k)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The Prometheus label an OTel attribute key is stored as (service.name is job, matched apart: it may carry a namespace). */
function promLabelName(key: string): string {
  if (key === 'service.name') return SOURCE_LABELS.job;
  if (key === 'service.instance.id') return SOURCE_LABELS.instance;
  return labelName(key);
}

/**
 * The matchers for a label filter given with OTel attribute keys. An empty value is refused: remote
 * write drops empty labels, so Prometheus cannot tell an attribute "" from a missing one, and
 * `key=""` would match every series without the label.
 */
export function labelMatchers(labels: Record<string, string> | undefined): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(labels ?? {})) {
    if (value === '') throw badQuery(`labels: "${key}" has an empty value, which Prometheus cannot match: it keeps no empty labels, so an empty attribute and a missing one are the same there`);
    // (?s): `.` also matches a line break, which a service name or namespace may hold (QA round 38g:
    // "line\nbreak" matched nothing here and one series in DuckDB).
    if (key === 'service.name') out.push(`${SOURCE_LABELS.job}=~${str(`(?s)(?:.+/)?${regexEscape(value)}`)}`);
    else if (key === 'service.namespace') out.push(`${SOURCE_LABELS.job}=~${str(`(?s)${regexEscape(value)}/.+`)}`);
    else out.push(`${promLabelName(key)}=${str(value)}`);
  }
  return out;
}

/**
 * service.namespace is stored only as the prefix of job (`namespace/name`): grouped by, it is taken
 * from there (names.ts NAMESPACE_OF_JOB), under its sanitised name.
 */
const NAMESPACE_KEY = 'service.namespace';
const NAMESPACE_LABEL = labelName(NAMESPACE_KEY);

/**
 * `sum by (…) (expr)` and the like, or expr itself without groupBy. Where job has no namespace, a
 * series' own service_namespace label (a point attribute) is kept, as label_replace leaves it.
 */
function grouped(q: SeriesQuery, op: string, expr: string, extra: readonly string[] = []): string {
  if (!q.groupBy) return expr;
  const inner = q.groupBy.includes(NAMESPACE_KEY) ? `label_replace(${expr}, ${str(NAMESPACE_LABEL)}, "$1", ${str(SOURCE_LABELS.job)}, ${str(NAMESPACE_OF_JOB.promql)})` : expr;
  return `${op} by (${[...new Set([...q.groupBy.map(promLabelName), ...extra])].join(', ')}) (${inner})`;
}

/** The labels of the group a series is in, as grouped() forms them. */
function groupLabels(series: Record<string, string>, groupBy: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of groupBy) {
    const name = promLabelName(key);
    const fromJob = key === NAMESPACE_KEY ? splitJob(series[SOURCE_LABELS.job] ?? '').namespace : undefined;
    const value = fromJob ?? series[name];
    if (value !== undefined && value !== '') out[name] = value;
  }
  return out;
}

function selector(name: string, matchers: string[]): string {
  return `{${[`__name__=${str(name)}`, ...matchers].join(',')}}`;
}

function toExemplars(raw: RawExemplarSeries['exemplars']): StoredExemplar[] {
  return raw.map((e) => {
    const { trace_id: traceId = '', span_id: spanId = '', ...rest } = e.labels;
    const filteredAttributes: KeyValue[] = Object.entries(rest).map(([key, value]) => ({ key, value: { stringValue: value } }));
    return { timeUnixNano: msToNs(e.timestamp * 1000), value: Number(e.value), traceId, spanId, filteredAttributes };
  });
}

/**
 * The range selector of one step's window, evaluated at the window's last millisecond, and the
 * offset window that ends just before the step (where its base sample is).
 */
interface StepWindow {
  range: string;
  base: string;
}

/**
 * What a counter counted during a step, as the DuckDB store counts it: the step's last sample minus
 * the series' last sample before the step, or the last sample itself when the step starts below it
 * (a reset); without a sample before the step, what its own samples counted. increase() would
 * extrapolate to the window's ends and needs two samples in the window. A reset after the step's
 * first sample has no exact PromQL (the samples before it are not known): that step takes increase().
 */
function counterIncrease(sel: string, w: StepWindow): string {
  const last = `last_over_time(${sel}${w.range})`;
  // Without a reset in the step, its first sample is its least.
  const first = `min_over_time(${sel}${w.range})`;
  const base = `last_over_time(${sel}${w.base})`;
  const counted = `((${last} - ${base}) and (${first} >= ${base})) or (${last} and (${first} < ${base})) or (((${last} - ${first}) unless ${base}) and (count_over_time(${sel}${w.range}) > 1))`;
  return `((${counted}) unless (resets(${sel}${w.range}) > 0)) or increase(${sel}${w.range})`;
}

/**
 * Native histograms: Prometheus' increase() over the step (2.x's last_over_time() and comparisons
 * skip histogram samples, so counterIncrease cannot read them): extrapolated to the window's ends,
 * and a step needs two samples.
 */
function nativeIncrease(sel: string, w: StepWindow): string {
  return `increase(${sel}${w.range})`;
}

interface RangeVector {
  metric: { name?: string; labels: Record<string, string> } | null;
  values: { time: Date; value: number }[];
}

/**
 * Whether a counter's sample `i` is the zero the exporter writes 1 ms before the new point of a
 * series that restarted (start-resets.ts), which was never sent: a 0 followed 1 ms later by the
 * next sample (a real export 1 ms after another is not to be expected).
 */
function isStartResetZero(values: RangeVector['values'], i: number): boolean {
  const next = values[i + 1];
  return values[i]!.value === 0 && next !== undefined && next.time.getTime() - values[i]!.time.getTime() === 1;
}

export function createPrometheusMetricStore(client: PrometheusClient): MetricStore & PromQlStore {
  /**
   * Metric names Prometheus' index holds for the range, to look families up in: at least the last
   * hour of it. The index answers by block, so this may hold names without samples in the range.
   */
  async function names(tenant: string, range: TimeRange): Promise<string[]> {
    const end = range.to !== undefined ? nsToMs(range.to) : Date.now();
    const start = range.from !== undefined ? Math.min(nsToMs(range.from), end - HOUR_MS) : end - HOUR_MS;
    return client.labelValues(tenant, '__name__', undefined, start, end);
  }

  /**
   * The metric names with samples in the range, as the DuckDB store lists them (from ≤ t ≤ to): a
   * query over the samples. Without `from`, or when Prometheus refuses that query as too large, the
   * index's names up to `to` (all stored data without a range), which answers by block.
   */
  async function namesWithSamples(tenant: string, range: TimeRange | undefined): Promise<string[]> {
    const endMs = range?.to !== undefined ? nsToMs(range.to) : undefined;
    const indexed = () => client.labelValues(tenant, '__name__', undefined, undefined, endMs);
    if (range?.from === undefined) return indexed();
    const to = endMs ?? Date.now();
    const spanMs = to - nsToMs(range.from);
    if (spanMs < 0) return [];
    const open = await rangesLeftOpen(tenant);
    try {
      // last_over_time() keeps the metric name (count_over_time() drops it) and sees native histograms.
      const r = await client.instant(tenant, `count by (__name__) (last_over_time({__name__=~".+"}[${Math.max(1, open ? spanMs + 1 : spanMs)}ms]))`, to);
      return (r.result as { metric: RangeVector['metric'] }[]).flatMap((v) => (v.metric?.name ? [v.metric.name] : []));
    } catch (err) {
      if (err instanceof StoreError && err.code === 'BAD_QUERY') return indexed();
      throw err;
    }
  }

  /**
   * Whether a family holds native histograms: histogram_count() of it has values somewhere in the
   * range (a subquery in 1-minute steps, each looking back Prometheus' 5 minutes).
   */
  async function isNative(tenant: string, name: string, range: TimeRange): Promise<boolean> {
    const endMs = nsToMs(range.to ?? msToNs(Date.now()));
    const windowMs = Math.max(HOUR_MS, endMs - (range.from !== undefined ? nsToMs(range.from) : endMs));
    const stepMs = Math.max(60_000, Math.ceil(windowMs / 10_000));
    const sel = selector(name, []);
    // Subquery steps sit on multiples of the step, so the last few minutes are looked at directly too.
    const r = await client.instant(tenant, `count(histogram_count(${sel})) or count(count_over_time(histogram_count(${sel})[${windowMs}ms:${stepMs}ms]))`, endMs);
    return r.result.length > 0;
  }

  /**
   * The family stored under `base`, from the names stored: `_bucket` is a histogram; `_count` and
   * `_sum` without `_bucket` a summary (its quantile series are optional); a bare name a counter
   * when the metadata the exporter wrote says so (`types`, where the backend keeps it), else when it
   * ends in `_total`.
   */
  function familyOf(base: string, all: ReadonlySet<string>, types: ReadonlyMap<string, string>): Family | undefined {
    let kind: Kind | undefined;
    if (all.has(`${base}_bucket`)) kind = 'histogram';
    else if (all.has(`${base}_count`) && all.has(`${base}_sum`)) kind = 'summary';
    else if (all.has(base)) {
      const written = types.get(base);
      kind = written === 'counter' || written === 'gauge' ? written : base.endsWith('_total') ? 'counter' : 'gauge';
    }
    return kind && { name: base, kind, type: TYPE_OF[kind], unit: unitOfName(base) };
  }

  /**
   * The metric types the backend keeps from remote-write metadata (one family, or all); none when it
   * keeps none (Prometheus) or cannot say: the names decide then.
   */
  function writtenTypes(tenant: string, metric?: string): Promise<Map<string, string>> {
    return client.metadataTypes(tenant, metric).catch(() => new Map<string, string>());
  }

  /**
   * The families a metricSeries name means: the Prometheus name itself, or the OTel name plus unit
   * words. One OTel name written with two units (an instrumentation that changed its unit) is two
   * families, and both are read; of the names that differ in kind (`x_total` and `x_per_second` for
   * `x`), only the shortest name's kind, as a different metric may be named like this one plus
   * unit words.
   */
  async function resolve(tenant: string, name: string, range: TimeRange): Promise<Family[]> {
    const all = new Set(await names(tenant, range));
    const none = new Map<string, string>();
    let found: Family[];
    const exact = familyOf(name, all, none);
    if (exact) found = [exact];
    else {
      const stem = metricStem(name);
      const candidates = new Set<string>();
      for (const n of all) {
        for (const base of [n, ...FAMILY_SUFFIXES.filter((x) => n.endsWith(x)).map((x) => n.slice(0, -x.length))]) {
          if (base !== stem && !base.startsWith(`${stem}_`)) continue;
          const extra = base.slice(stem.length).split('_').filter((w) => w !== '');
          if (extra.every((w) => UNIT_SUFFIX_WORDS.has(w))) candidates.add(base);
        }
      }
      const families = [...candidates].sort((a, b) => a.length - b.length || (a < b ? -1 : 1)).flatMap((c) => familyOf(c, all, none) ?? []);
      found = families.filter((f) => f.kind === families[0]!.kind);
    }
    return Promise.all(
      found.map(async (f) => {
        let family = f;
        // A gauge or UpDownCounter named `*.total` is stored as `*_total` too: the written type decides.
        if (family.kind === 'counter' || family.kind === 'gauge') family = familyOf(family.name, all, await writtenTypes(tenant, family.name)) ?? family;
        if (family.kind === 'gauge' && (await isNative(tenant, family.name, range))) family = { ...family, kind: 'native', type: 'exponentialHistogram' };
        return family;
      }),
    );
  }

  function checkQuery(q: SeriesQuery): void {
    const problem = seriesQueryProblem(q) ?? stepProblem(q.stepNano);
    if (problem) throw badQuery(problem);
  }

  /**
   * Whether range selectors are left-open, (t − r, t], as since Prometheus 3; before, they are
   * closed, [t − r, t], and a sample on a step boundary would be in two steps. Asked once, for every
   * request that waits for it: not under the first one's signal, so its abort does not fail the
   * others' wait (each stops waiting at its own).
   */
  let leftOpen: Promise<boolean> | undefined;
  function rangesLeftOpen(tenant: string): Promise<boolean> {
    leftOpen ??= withoutQuerySignal(() => client.version(tenant)).then(
      (v) => Number(/^v?(\d+)\./.exec(v)?.[1] ?? 0) >= 3,
      (err: unknown) => {
        leftOpen = undefined;
        throw err;
      },
    );
    return untilQueryAborted(leftOpen);
  }

  /**
   * Step windows that hold what DuckDB's buckets hold: the samples of [b, b + step) and, for the
   * last step, of [b, to] only. Whole steps are one range query evaluated at each step's last
   * millisecond; a last step cut short by `to` is an instant query at `to`.
   */
  async function stepWindows(tenant: string, q: SeriesQuery): Promise<{ at: number; bucket: number; stepMs: number; window: StepWindow; instant: boolean }[]> {
    const open = await rangesLeftOpen(tenant);
    // A from between two milliseconds starts at the next one: Prometheus' samples are whole
    // milliseconds, and rounding down counted a sample before from (QA round 38g).
    const fromMs = nsToMs(q.range.from + MS - 1n);
    const toMs = nsToMs(q.range.to);
    const stepMs = nsToMs(q.stepNano);
    const lookback = Math.max(stepMs, BASE_LOOKBACK_MS);
    // span: from the step's start to the evaluation time (ms), both included.
    const window = (span: number): StepWindow => ({ range: `[${Math.max(1, open ? span + 1 : span)}ms]`, base: `[${lookback}ms] offset ${span + 1}ms` });
    const lastStart = fromMs + Math.floor((toMs - fromMs) / stepMs) * stepMs;
    const cut = lastStart + stepMs - 1 > toMs;
    const out = [];
    const lastWhole = cut ? lastStart - stepMs : lastStart;
    if (lastWhole >= fromMs) out.push({ at: lastWhole + stepMs - 1, bucket: fromMs, stepMs, window: window(stepMs - 1), instant: false });
    if (cut) out.push({ at: toMs, bucket: lastStart, stepMs, window: window(toMs - lastStart), instant: true });
    return out;
  }

  /** Each step's value of expr (given the step's window) by series, keyed by the step's start. */
  async function rangeByLabels(tenant: string, expr: (w: StepWindow) => string, q: SeriesQuery, drop: readonly string[] = []): Promise<Map<string, { labels: Record<string, string>; values: Map<bigint, number> }>> {
    const out = new Map<string, { labels: Record<string, string>; values: Map<bigint, number> }>();
    for (const s of await stepWindows(tenant, q)) {
      const r = s.instant
        ? await client.instant(tenant, expr(s.window), s.at)
        : await client.range(tenant, expr(s.window), s.bucket + s.stepMs - 1, s.at, s.stepMs / 1000);
      const vectors = s.instant
        ? (r.result as { metric: RangeVector['metric']; value: { time: Date; value: number } }[]).map((v) => ({ metric: v.metric, values: [v.value] }))
        : (r.result as RangeVector[]);
      for (const v of vectors) {
        const labels = { ...(v.metric?.labels ?? {}) };
        const key = labelsKey(labels, drop);
        const values = out.get(key)?.values ?? new Map<bigint, number>();
        for (const x of v.values) values.set(msToNs(s.instant ? s.bucket : x.time.getTime() - s.stepMs + 1), x.value);
        out.set(key, { labels, values });
      }
    }
    return out;
  }

  /**
   * The seconds a cut-short last step's increase covers, by series or group: from the sample before
   * the step to the step's last sample, as the DuckDB store divides RATE (else rateSeconds' part of
   * the step up to `to`). Whole steps divide by the step. `sel` is a plain selector: `offset` follows
   * selectors only, and timestamp() of a function's result is the evaluation time, not the sample's.
   */
  async function coveredSeconds(tenant: string, q: SeriesQuery, sel: string): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const cut = (await stepWindows(tenant, q)).find((s) => s.instant);
    if (!cut) return out;
    const before = `timestamp(${sel} offset ${cut.at - cut.bucket + 1}ms)`;
    const expr = `${grouped(q, 'max', `timestamp(${sel})`)} - ${grouped(q, 'min', before)}`;
    const r = await client.instant(tenant, expr, cut.at);
    for (const v of r.result as { metric: RangeVector['metric']; value: { value: number } }[]) {
      if (v.value.value > 0) out.set(labelsKey({ ...(v.metric?.labels ?? {}) }), v.value.value);
    }
    return out;
  }

  /** Exemplars by the key of the series (with groupBy: the group) they belong to. */
  async function seriesExemplars(tenant: string, sel: string, q: SeriesQuery, drop: string[]): Promise<Map<string, StoredExemplar[]>> {
    const raw = await client.exemplars(tenant, sel, nsToMs(q.range.from), nsToMs(q.range.to));
    const out = new Map<string, StoredExemplar[]>();
    for (const s of raw ?? []) {
      const labels = q.groupBy ? groupLabels(s.seriesLabels, q.groupBy) : s.seriesLabels;
      const key = labelsKey(labels, drop);
      out.set(key, [...(out.get(key) ?? []), ...toExemplars(s.exemplars)]);
    }
    for (const list of out.values()) list.sort((a, b) => (a.timeUnixNano < b.timeUnixNano ? -1 : 1));
    return out;
  }

  function attachExemplars(series: PromQlSeries[], raw: RawExemplarSeries[]): void {
    for (const s of series) {
      const own = Object.entries(s.labels).filter(([k]) => k !== '__name__');
      for (const r of raw) {
        if (own.every(([k, v]) => r.seriesLabels[k] === v)) s.exemplars.push(...toExemplars(r.exemplars));
      }
      s.exemplars.sort((a, b) => (a.timeUnixNano < b.timeUnixNano ? -1 : 1));
    }
  }

  /**
   * Histogram-like series: what each step observed, as the increase of the count and sum over the
   * step (counterIncrease), and with a quantile, histogram_quantile() of the buckets' increases (a
   * summary's own {quantile} series, which cannot be combined).
   */
  async function histogramSeries(tenant: string, q: SeriesQuery, family: Family, matchers: string[], base: () => MetricSeries): Promise<MetricSeries[]> {
    const of = (suffix: string, extra: string[] = []) => selector(`${family.name}${suffix}`, [...matchers, ...extra]);
    const native = family.kind === 'native';
    // With groupBy, the counts and sums of a group's series are added up, and a quantile is taken of
    // their buckets added up. A native histogram's count and sum are taken per series: grouping by
    // service.namespace renames with label_replace(), which Prometheus 2 applies to float samples only.
    const quantile = q.quantile;
    const countExpr = (w: StepWindow) => grouped(q, 'sum', native ? `histogram_count(${nativeIncrease(of(''), w)})` : counterIncrease(of('_count'), w));
    const sumExpr = (w: StepWindow) => grouped(q, 'sum', native ? `histogram_sum(${nativeIncrease(of(''), w)})` : counterIncrease(of('_sum'), w));
    if (native && quantile !== undefined && q.groupBy?.includes(NAMESPACE_KEY)) {
      throw badQuery(`a quantile of ${q.name} (an exponential histogram) cannot be grouped by ${NAMESPACE_KEY} from Prometheus: the namespace is part of job, and Prometheus 2 cannot relabel native histograms; group by service.name`);
    }
    const quantileExpr =
      quantile === undefined ? undefined
      : native ? (w: StepWindow) => `histogram_quantile(${quantile}, ${grouped(q, 'sum', nativeIncrease(of(''), w))})`
      : family.kind === 'histogram' ? (w: StepWindow) => `histogram_quantile(${quantile}, ${grouped(q, 'sum', counterIncrease(of('_bucket'), w), ['le'])})`
      : (w: StepWindow) => `last_over_time(${of('', [`quantile=${str(formatFloat(quantile))}`])}${w.range})`;
    const [exemplarSel, drop] = native ? [of(''), []] : family.kind === 'histogram' ? [of('_bucket'), ['le']] : [of(''), ['quantile']];
    const [counts, sums, quantiles, exemplars, covered] = await Promise.all([
      rangeByLabels(tenant, countExpr, q),
      rangeByLabels(tenant, sumExpr, q),
      quantileExpr ? rangeByLabels(tenant, quantileExpr, q, ['quantile']) : undefined,
      seriesExemplars(tenant, exemplarSel, q, drop),
      // A native histogram's increase() is extrapolated to the ends of its window, so a cut-short
      // step's covers the step up to `to`: rateSeconds' own divisor.
      q.aggregation === 'RATE' && q.quantile === undefined && !native ? coveredSeconds(tenant, q, of('_count')) : undefined,
    ]);
    // A summary sampled once has no increase but does have its quantiles: series and steps come from either.
    const keys = new Map([...counts, ...(quantiles ?? [])].map(([key, { labels }]) => [key, labels]));
    return [...keys].map(([key, labels]) => {
      const countValues = counts.get(key)?.values;
      const sumValues = sums.get(key)?.values;
      const quantileValues = quantiles?.get(key)?.values;
      const times = new Set([...(countValues?.keys() ?? []), ...(quantileValues?.keys() ?? [])]);
      const points: SeriesPoint[] = [...times].map((t) => {
        const count = countValues?.get(t);
        const sum = sumValues?.get(t);
        const value =
          q.quantile !== undefined ? (quantileValues?.get(t) ?? null)
          : count === undefined ? null
          : observationsValue(q, count, sum ?? null, rateSeconds(q, t, secondsToNs(covered?.get(key))));
        const point: SeriesPoint = { timeUnixNano: t, value: value === null ? null : finite(value) };
        if (count !== undefined) point.count = count;
        if (sum !== undefined && Number.isFinite(sum)) point.sum = sum;
        return point;
      });
      return { ...base(), labels, points, exemplars: exemplars.get(key) ?? [] };
    });
  }

  /** The series of one family (a counter or gauge, or histogram-like). */
  async function familySeries(tenant: string, q: SeriesQuery, family: Family, matchers: string[]): Promise<MetricSeries[]> {
    const base = (): MetricSeries => ({ name: q.name, type: family.type, unit: family.unit, description: '', labels: {}, points: [], exemplars: [] });
    if (family.kind === 'counter' || family.kind === 'gauge') {
      const sel = selector(family.name, matchers);
      const overTime = (agg: Exclude<SeriesAggregation, 'RATE'>, w: StepWindow) => `${OVER_TIME[agg]}(${sel}${w.range})`;
      // With groupBy (groupedValue's rules): AVG is the mean of the group's points, MIN and MAX
      // the least and greatest, the others the total of the series' values.
      const agg = q.aggregation;
      // RATE, and a counter's SUM (what it counted during the step), as in the DuckDB store.
      const counted = agg === 'RATE' || (agg === 'SUM' && family.kind === 'counter');
      const expr = (w: StepWindow): string =>
        counted ? grouped(q, 'sum', counterIncrease(sel, w))
        : !q.groupBy ? overTime(agg, w)
        : agg === 'AVG' ? `${grouped(q, 'sum', overTime('SUM', w))} / ${grouped(q, 'sum', overTime('COUNT', w))}`
        : agg === 'MIN' || agg === 'MAX' ? grouped(q, agg.toLowerCase(), overTime(agg, w))
        : grouped(q, 'sum', overTime(agg, w));
      const [byLabels, exemplars, covered] = await Promise.all([
        rangeByLabels(tenant, expr, q),
        seriesExemplars(tenant, sel, q, []),
        agg === 'RATE' ? coveredSeconds(tenant, q, sel) : undefined,
      ]);
      return [...byLabels].map(([key, { labels, values }]) => ({
        ...base(),
        labels,
        points: [...values].map(([t, v]) => ({ timeUnixNano: t, value: finite(agg === 'RATE' ? v / rateSeconds(q, t, secondsToNs(covered?.get(key))) : v) })),
        exemplars: exemplars.get(key) ?? [],
      }));
    }
    return histogramSeries(tenant, q, family, matchers, base);
  }

  /** The raw samples of a counter or gauge family in [from, to]. */
  async function familyPoints(tenant: string, family: Family, from: bigint, to: bigint, matchers: string[]): Promise<MetricPoint[]> {
    const windowMs = Math.max(1, nsToMs(to - from));
    // One millisecond past `to`, to see whether a zero at `to` is followed by a restarted point.
    const r = await client.instant(tenant, `${selector(family.name, matchers)}[${windowMs + 1}ms]`, nsToMs(to) + 1);
    const points: MetricPoint[] = [];
    for (const v of r.result as RangeVector[]) {
      const attributes: KeyValue[] = Object.entries(v.metric?.labels ?? {}).map(([key, value]) => ({ key, value: { stringValue: value } }));
      const resource = { attributes: [], droppedAttributesCount: 0, schemaUrl: '' };
      const scope = { name: '', version: '', attributes: [], droppedAttributesCount: 0, schemaUrl: '' };
      for (const [i, s] of v.values.entries()) {
        const t = msToNs(s.time.getTime());
        if (t > to || (family.kind === 'counter' && isStartResetZero(v.values, i))) continue;
        points.push({
          tenant, resource, scope,
          metric: { name: family.name, description: '', unit: family.unit, type: family.type, aggregationTemporality: family.kind === 'counter' ? 2 : 0, isMonotonic: family.kind === 'counter', metadata: [] },
          point: { type: 'number', attributes, startTimeUnixNano: 0n, timeUnixNano: t, flags: 0, asDouble: s.value, exemplars: [] },
        });
      }
    }
    return points;
  }


  return {
    backend: BACKEND,

    async querySeries(tenant, q) {
      checkQuery(q);
      const matchers = labelMatchers(q.labels);
      const families = await resolve(tenant, q.name, q.range);
      for (const family of families) {
        const problem = seriesTypeProblem(q, family.type);
        if (problem) throw badQuery(problem);
      }
      // Series of two families (two units) with the same labels stay apart, told by their unit.
      const series = (await Promise.all(families.map((family) => familySeries(tenant, q, family, matchers)))).flat();
      for (const s of series) s.points.sort((a, b) => (a.timeUnixNano < b.timeUnixNano ? -1 : 1));
      return series.sort((a, b) => (labelsKey(a.labels) < labelsKey(b.labels) ? -1 : labelsKey(a.labels) > labelsKey(b.labels) ? 1 : a.unit < b.unit ? -1 : 1));
    },

    async points(tenant, name, range, limit, labels) {
      if (!Number.isInteger(limit) || limit < 0 || limit > 100_000) throw badQuery('limit must be an integer from 0 to 100000');
      const to = range.to ?? msToNs(Date.now());
      const from = range.from ?? to - 3_600_000n * MS;
      const matchers = labelMatchers(labels);
      const families = await resolve(tenant, name, { from, to });
      const histogram = families.find((f) => f.kind !== 'counter' && f.kind !== 'gauge');
      if (histogram) {
        throw badQuery(`raw ${histogram.type} points are not read back from Prometheus; use metricSeries or promql (e.g. ${histogram.name}_bucket)`);
      }
      const points = (await Promise.all(families.map((family) => familyPoints(tenant, family, from, to, matchers)))).flat();
      points.sort((a, b) => (a.point.timeUnixNano > b.point.timeUnixNano ? -1 : a.point.timeUnixNano < b.point.timeUnixNano ? 1 : 0));
      return points.slice(0, limit);
    },

    async metricNames(tenant, range) {
      const [all, types] = await Promise.all([namesWithSamples(tenant, range).then((list) => new Set(list)), writtenTypes(tenant)]);
      const out: { name: string; type: MetricType; unit: string; description: string }[] = [];
      const seen = new Set<string>();
      for (const n of [...all].sort()) {
        // _bucket/_count/_sum series stand for their histogram or summary family.
        const suffix = FAMILY_SUFFIXES.find((x) => n.endsWith(x));
        const parent = suffix ? familyOf(n.slice(0, -suffix.length), all, types) : undefined;
        const f = parent && (parent.kind === 'histogram' || parent.kind === 'summary') ? parent : familyOf(n, all, types);
        if (!f || seen.has(f.name)) continue;
        seen.add(f.name);
        out.push({ name: f.name, type: f.type, unit: f.unit, description: '' });
      }
      out.sort((a, b) => (a.name < b.name ? -1 : 1));
      return out;
    },

    async promql(tenant, q) {
      if (typeof q.query !== 'string' || q.query.trim() === '') throw badQuery('a PromQL query is needed');
      const range = q.range;
      const problem = range && q.stepNano !== undefined ? stepProblem(q.stepNano) : undefined;
      if (problem) throw badQuery(problem);
      const r = range
        ? await client.range(tenant, q.query, nsToMs(range.from), nsToMs(range.to), Number(q.stepNano ?? 60_000_000_000n) / 1e9)
        : await client.instant(tenant, q.query, nsToMs(q.time ?? msToNs(Date.now())));
      const resultType = String(r.resultType).toUpperCase() as PromQlResult['resultType'];
      const out: PromQlResult = { resultType, series: [] };
      const labelsOf = (m: RangeVector['metric']): Record<string, string> => ({ ...(m?.name ? { __name__: m.name } : {}), ...(m?.labels ?? {}) });
      if (resultType === 'MATRIX') {
        for (const v of r.result as RangeVector[]) {
          out.series.push({ labels: labelsOf(v.metric), points: v.values.map((s) => ({ timeUnixNano: msToNs(s.time.getTime()), value: finite(s.value) })), exemplars: [] });
        }
      } else if (resultType === 'VECTOR') {
        for (const v of r.result as { metric: RangeVector['metric']; value: { time: Date; value: number } }[]) {
          out.series.push({ labels: labelsOf(v.metric), points: [{ timeUnixNano: msToNs(v.value.time.getTime()), value: finite(v.value.value) }], exemplars: [] });
        }
      } else {
        const [t, v] = r.result as unknown as [number, string];
        if (resultType === 'SCALAR') out.series.push({ labels: {}, points: [{ timeUnixNano: msToNs(t * 1000), value: finite(Number(v)) }], exemplars: [] });
        else out.text = v;
      }
      if (q.exemplars && out.series.length > 0) {
        const end = range ? range.to : (q.time ?? msToNs(Date.now()));
        const start = range ? range.from : end - 300_000n * MS;
        attachExemplars(out.series, (await client.exemplars(tenant, q.query, nsToMs(start), nsToMs(end))) ?? []);
      }
      return out;
    },

    async series(tenant, match, range) {
      const end = range?.to !== undefined ? nsToMs(range.to) : Date.now();
      return client.series(tenant, match, range?.from !== undefined ? nsToMs(range.from) : end - HOUR_MS, end);
    },
    labelNames: (tenant, match, range) => client.labelNames(tenant, match, range?.from !== undefined ? nsToMs(range.from) : undefined, range?.to !== undefined ? nsToMs(range.to) : undefined),
    labelValues: (tenant, label, match, range) =>
      client.labelValues(tenant, label, match, range?.from !== undefined ? nsToMs(range.from) : undefined, range?.to !== undefined ? nsToMs(range.to) : undefined),
    async exemplars(tenant, query, range) {
      const raw = (await client.exemplars(tenant, query, nsToMs(range.from), nsToMs(range.to))) ?? [];
      return raw.flatMap((s) => toExemplars(s.exemplars).map((e) => ({ ...e, seriesLabels: s.seriesLabels })));
    },
  };
}
