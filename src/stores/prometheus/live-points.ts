// Metric points read back from Prometheus, in the shape live tails send the points teleql receives
// (tailMetrics' `since` replay when Prometheus is the metrics read source). Prometheus keeps a family
// name and labels only: what the exporter wrote as labels is read back as far as it can be undone.
import type { KeyValue, MetricDescriptor, MetricPoint } from '../../model/telemetry.ts';
import { labelName, metricName, metricStem, SOURCE_LABELS, splitJob } from './names.ts';

/** A name Prometheus could store a family under. */
const FAMILY_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** The Prometheus family each metric is written as, worked out once per descriptor (a batch's points share theirs). */
const families = new WeakMap<MetricDescriptor, string>();
function familyOf(metric: MetricDescriptor): string {
  let family = families.get(metric);
  if (family === undefined) families.set(metric, (family = metricName(metric)));
  return family;
}

/**
 * Whether a received point is the metric `name` names, as the Prometheus read path takes a name: the
 * OTel name, or the Prometheus family the exporter writes it as (`items_done_total`).
 */
export function namedAsPrometheusReads(name: string): (m: MetricPoint) => boolean {
  if (!FAMILY_NAME.test(name)) return (m) => m.metric.name === name;
  return (m) => m.metric.name === name || familyOf(m.metric) === name;
}

/**
 * Of the OTel metric names a store holds, those a tail named `name` as Prometheus reads it may take
 * points of: the name itself, and those the family `name` could be written from (their words begin
 * it: the exporter adds unit words and `_total`, and drops a `total` word of a counter's own).
 * A superset: namedAsPrometheusReads decides per point, by its unit and type.
 */
export function familyCandidates(name: string, stored: readonly { name: string }[]): string[] {
  if (!FAMILY_NAME.test(name)) return [name];
  return stored
    .map((m) => m.name)
    .filter((n) => {
      const stem = metricStem(n);
      return n === name || stem === name || name.startsWith(`${stem.replace(/_total$/, '')}_`);
    });
}

const text = (key: string, value: string): KeyValue => ({ key, value: { stringValue: value } });

/**
 * A point read from Prometheus as a live one: named `name` (the store found the family by it); `job`
 * and `instance` back as the resource's service.namespace/service.name and service.instance.id,
 * `otel_scope_*` as the scope; the labels filtered on under the keys given (`labels`), so the live
 * filter finds them. Other labels stay point attributes under their Prometheus names: the exporter's
 * sanitising cannot be undone.
 */
export function asLivePoint(p: MetricPoint, name: string, labels: Record<string, string> | undefined): MetricPoint {
  const givenKey = new Map(Object.keys(labels ?? {}).map((k) => [labelName(k), k]));
  const resource: KeyValue[] = [];
  const attributes: KeyValue[] = [];
  let scopeName = '';
  let scopeVersion = '';
  for (const a of p.point.attributes) {
    const value = 'stringValue' in a.value ? a.value.stringValue : '';
    if (a.key === SOURCE_LABELS.job) {
      const { namespace, name: service } = splitJob(value);
      if (namespace !== undefined) resource.push(text('service.namespace', namespace));
      resource.push(text('service.name', service));
    } else if (a.key === SOURCE_LABELS.instance) resource.push(text('service.instance.id', value));
    else if (a.key === SOURCE_LABELS.scopeName) scopeName = value;
    else if (a.key === SOURCE_LABELS.scopeVersion) scopeVersion = value;
    else attributes.push(text(givenKey.get(a.key) ?? a.key, value));
  }
  return {
    ...p,
    resource: { ...p.resource, attributes: resource },
    scope: { ...p.scope, name: scopeName, version: scopeVersion },
    metric: { ...p.metric, name },
    point: { ...p.point, attributes },
  };
}
