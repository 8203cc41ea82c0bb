// Visits every attribute list and log body of a batch once (resources, scopes and metric
// descriptors are shared between records, so each is visited only once per batch), and, for a
// visitor that asks, every other free string a sender wrote. Processors that rewrite attributes
// (limits, redaction) use it so no place where user data sits is forgotten.
import type { Signal, SignalItems } from '../component.ts';
import type { AnyValue, KeyValue } from '../../src/model/telemetry.ts';

export interface AttributeHolder {
  attributes: KeyValue[];
  droppedAttributesCount?: number;
}

export interface Visitor {
  attributes(holder: AttributeHolder): void;
  /** Log bodies, span status messages: values without a key. */
  value?(value: AnyValue, set: (v: AnyValue) => void): void;
  /**
   * The other strings a sender wrote (never called with ''): span, event and scope names, scope
   * versions, span and link trace states, log severity texts and event names, resource and scope
   * schema URLs, metric descriptions. Not IDs, metric names or units (what a record is found by).
   */
  text?(value: string, set: (s: string) => void): void;
}

export function visitBatch<S extends Signal>(signal: S, items: readonly SignalItems[S][], visitor: Visitor): void {
  const seen = new WeakSet<object>();
  const text = visitor.text;
  const str = <T extends object, K extends keyof T>(o: T, k: K) => {
    const s = o[k] as string;
    if (s !== '') text!(s, (v) => (o[k] = v as T[K]));
  };
  const holder = (h: AttributeHolder | undefined) => {
    if (!h || seen.has(h)) return false;
    seen.add(h);
    visitor.attributes(h);
    return true;
  };
  for (const item of items) {
    if (holder(item.resource) && text) str(item.resource, 'schemaUrl');
    if (holder(item.scope) && text) {
      str(item.scope, 'name');
      str(item.scope, 'version');
      str(item.scope, 'schemaUrl');
    }
    if (signal === 'traces') {
      const span = item as SignalItems['traces'];
      holder(span);
      for (const e of span.events) {
        holder(e);
        if (text) str(e, 'name');
      }
      for (const l of span.links) {
        holder(l);
        if (text) str(l, 'traceState');
      }
      visitor.value?.({ stringValue: span.status.message }, (v) => {
        if ('stringValue' in v) span.status.message = v.stringValue;
      });
      if (text) {
        str(span, 'name');
        str(span, 'traceState');
      }
    } else if (signal === 'logs') {
      const log = item as SignalItems['logs'];
      holder(log);
      visitor.value?.(log.body, (v) => (log.body = v));
      if (text) {
        str(log, 'severityText');
        str(log, 'eventName');
      }
    } else {
      const m = item as SignalItems['metrics'];
      if (!seen.has(m.metric)) {
        seen.add(m.metric);
        const h = { attributes: m.metric.metadata };
        visitor.attributes(h);
        m.metric.metadata = h.attributes;
        if (text) str(m.metric, 'description');
      }
      const point = m.point as { attributes: KeyValue[]; exemplars?: { filteredAttributes: KeyValue[] }[] };
      holder(point);
      for (const ex of point.exemplars ?? []) {
        const h = { attributes: ex.filteredAttributes };
        visitor.attributes(h);
        ex.filteredAttributes = h.attributes;
      }
    }
  }
}
