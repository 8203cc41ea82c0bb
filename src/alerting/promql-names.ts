// The stored OTel metric and attributes a name in an embedded PromQL rule stands for: the name
// itself, or one the Prometheus exporter would write for it (stores/prometheus/names.ts, the same
// translation), so that a rule reads the same on the embedded store as on Prometheus:
// qa_requests_total is qa.requests, http_route is http.route.
import { LRUCache } from 'lru-cache';
import type { MetricType } from '../model/telemetry.ts';
import { SCOPE_LABEL_KEYS } from '../model/values.ts';
import { labelName, metricName } from '../stores/prometheus/names.ts';
import type { MetricStore, TimeRange } from '../stores/types.ts';
import { REMEMBERED_TENANTS } from '../tenant.ts';

/** Which series of a histogram-like metric a Prometheus name reads: its `_bucket`, `_count` or `_sum`. */
export type HistogramPart = 'bucket' | 'count' | 'sum';

export interface StoredMetric {
  name: string;
  type: MetricType;
  /** How the selector named it, when by a histogram part (`x_bucket`). */
  part?: HistogramPart;
}

interface Known {
  type: MetricType;
  unit: string;
  /** Whether a sum is monotonic, once asked (metricNames does not say). */
  monotonic?: boolean;
}

const HISTOGRAM_PARTS: readonly HistogramPart[] = ['bucket', 'count', 'sum'];

/** The Prometheus names of a stored metric, each with the part it reads. */
function prometheusNames(name: string, k: Known): Map<string, HistogramPart | undefined> {
  const out = new Map<string, HistogramPart | undefined>();
  // A sum's `_total` depends on whether it is monotonic: unless known, both names are its.
  const monotonic = k.type !== 'sum' ? [false] : k.monotonic === undefined ? [true, false] : [k.monotonic];
  for (const isMonotonic of monotonic) {
    const base = metricName({ name, type: k.type, unit: k.unit, isMonotonic, description: '', aggregationTemporality: 0, metadata: [] });
    out.set(base, undefined);
    if (k.type !== 'gauge' && k.type !== 'sum') for (const part of HISTOGRAM_PARTS) out.set(`${base}_${part}`, part);
  }
  return out;
}

/**
 * The resource attributes the Prometheus exporter writes as target labels rather than by their
 * label names (ingest/exporters/prometheus/translate.ts, resourceTarget): `job` is service.name,
 * after service.namespace and a `/` when there is one, and `instance` service.instance.id.
 */
const NAME = 'service.name';
const NAMESPACE = 'service.namespace';
const INSTANCE = 'service.instance.id';
const TARGET_KEYS: Readonly<Record<string, string>> = { job: NAME, instance: INSTANCE };
/** The stored keys a series' `job` is written from (jobOf). */
export const JOB_KEYS = [NAMESPACE, NAME] as const;
/** The scope's stored labels, whose label names (labelName) are the exporter's otel_scope_name and otel_scope_version. */
const SCOPE_KEYS: readonly string[] = Object.values(SCOPE_LABEL_KEYS);
/** Stored keys the exporter writes as `job`, `instance` or the scope's labels, after the attributes. */
const TARGET_OR_SCOPE = new Set([...JOB_KEYS, INSTANCE, ...SCOPE_KEYS]);

/**
 * The label key a rule's label stands for among a metric's keys: the key itself, else the resource
 * attribute a target label (`job`, `instance`) is written from, else the one whose Prometheus label
 * name it is (the first, when several share it); else itself, which matches nothing, as in Prometheus.
 * `job` is service.name here; which series a `job` value is also depends on service.namespace
 * (jobOf).
 */
export function storedLabel(label: string, keys: Iterable<string>): string {
  let translated: string | undefined;
  const target = TARGET_KEYS[label];
  for (const key of keys) {
    if (key === label) return key;
    if (key === target) translated = key;
    else if (translated === undefined && labelName(key) === label) translated = key;
  }
  return translated ?? label;
}

/** A series' `job` as the exporter writes it: `<service.namespace>/<service.name>`, or service.name alone. */
export function jobOf(stored: Readonly<Record<string, string>>): string | undefined {
  const name = stored[NAME];
  if (!name) return undefined;
  const namespace = stored[NAMESPACE];
  return namespace ? `${namespace}/${name}` : name;
}

/**
 * A stored series' labels (OTel keys: `service.name`, `http.route`) as the Prometheus exporter
 * writes that series' labels, so an alert carries on the embedded store the labels it carries on
 * Prometheus: each key by labelName (keys that come out the same join their values with `;` in key
 * order), service.namespace and service.name as `job`, service.instance.id as `instance`, and the
 * scope as `otel_scope_name` and `otel_scope_version` (which win over an attribute of that name);
 * empty values are left out, as Prometheus has no empty label.
 */
export function prometheusSeriesLabels(stored: Record<string, string>): Record<string, string> {
  const grouped = new Map<string, [string, string][]>();
  for (const [key, value] of Object.entries(stored)) {
    if (TARGET_OR_SCOPE.has(key)) continue;
    const name = labelName(key);
    grouped.set(name, [...(grouped.get(name) ?? []), [key, value]]);
  }
  const out: Record<string, string> = {};
  for (const [name, list] of grouped) {
    list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    out[name] = list.map((e) => e[1]).join(';');
  }
  const job = jobOf(stored);
  if (job !== undefined) out.job = job;
  if (stored[INSTANCE] !== undefined) out.instance = stored[INSTANCE];
  for (const key of SCOPE_KEYS) if (stored[key] !== undefined) out[labelName(key)] = stored[key];
  for (const name of Object.keys(out)) if (out[name] === '') delete out[name];
  return out;
}

/**
 * What `by (label)` reads of a series' stored labels: the key itself, else the label of that name
 * as Prometheus has it (`job`, `otel_scope_name`, `http_route`), else the stored key storedLabel
 * finds for it; '' when the series has none.
 */
export function labelValue(label: string, stored: Record<string, string>): string {
  if (Object.hasOwn(stored, label)) return stored[label]!;
  return prometheusSeriesLabels(stored)[label] ?? stored[storedLabel(label, Object.keys(stored))] ?? '';
}

export interface MetricNames {
  /** The stored metrics `name` stands for; none when the store has none by it or its Prometheus name. */
  resolve(tenant: string, name: string): Promise<StoredMetric[]>;
  /** Whether a stored sum is monotonic (a counter), from its newest point in `range`. */
  monotonic(tenant: string, name: string, range: TimeRange): Promise<boolean>;
  /** The label keys of a metric's series in `range` (cached: `refresh` asks the store again). */
  labelKeys(tenant: string, name: string, range: Required<TimeRange>, refresh: boolean): Promise<Set<string>>;
}

/**
 * Name resolution over a metric store, with what it learnt cached per tenant: the store is asked
 * for its metric names again only when a name is not among those known (so a new metric is found,
 * and an unknown name costs one listing per evaluation).
 */
export function createMetricNames(metrics: MetricStore): MetricNames {
  // Bounded, as all per-tenant bookkeeping (src/tenant.ts): rules of tenants long gone, or deleted, leave their entries.
  const known = new LRUCache<string, Map<string, Known>>({ max: REMEMBERED_TENANTS });
  const keys = new LRUCache<string, Set<string>>({ max: REMEMBERED_TENANTS });

  async function list(tenant: string): Promise<Map<string, Known>> {
    const names = new Map((await metrics.metricNames(tenant)).map((m): [string, Known] => [m.name, { type: m.type, unit: m.unit }]));
    // What was learnt of a metric still of the same type stays.
    for (const [name, k] of known.get(tenant) ?? []) {
      const now = names.get(name);
      if (now && now.type === k.type && k.monotonic !== undefined) now.monotonic = k.monotonic;
    }
    known.set(tenant, names);
    return names;
  }

  function find(names: Map<string, Known>, name: string): StoredMetric[] {
    const k = names.get(name);
    if (k) return [{ name, type: k.type }];
    const out: StoredMetric[] = [];
    for (const [stored, info] of names) {
      const prometheus = prometheusNames(stored, info);
      if (prometheus.has(name)) {
        const part = prometheus.get(name);
        out.push(part === undefined ? { name: stored, type: info.type } : { name: stored, type: info.type, part });
      }
    }
    return out;
  }

  return {
    async resolve(tenant, name) {
      const cached = known.get(tenant);
      const found = cached ? find(cached, name) : [];
      return found.length > 0 ? found : find(await list(tenant), name);
    },
    async monotonic(tenant, name, range) {
      const k = known.get(tenant)?.get(name);
      if (k?.monotonic !== undefined) return k.monotonic;
      const [point] = await metrics.points(tenant, name, range, 1);
      const monotonic = point?.metric.isMonotonic ?? false;
      if (k && point) k.monotonic = monotonic;
      return monotonic;
    },
    async labelKeys(tenant, name, range, refresh) {
      const key = JSON.stringify([tenant, name]);
      const cached = keys.get(key);
      if (cached && !refresh) return cached;
      // COUNT applies to every metric type; only the series' labels are read.
      const series = await metrics.querySeries(tenant, { name, range, stepNano: range.to - range.from + 1n, aggregation: 'COUNT' });
      const found = new Set(series.flatMap((s) => Object.keys(s.labels)));
      keys.set(key, found);
      return found;
    },
  };
}
