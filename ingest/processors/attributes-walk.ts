// Visits every attribute list and log body of a batch once (resources and scopes are shared
// between records, so each is visited only once per batch). Processors that rewrite attributes
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
}

export function visitBatch<S extends Signal>(signal: S, items: readonly SignalItems[S][], visitor: Visitor): void {
  const seen = new WeakSet<object>();
  const holder = (h: AttributeHolder | undefined) => {
    if (!h || seen.has(h)) return;
    seen.add(h);
    visitor.attributes(h);
  };
  for (const item of items) {
    holder(item.resource);
    holder(item.scope);
    if (signal === 'traces') {
      const span = item as SignalItems['traces'];
      holder(span);
      for (const e of span.events) holder(e);
      for (const l of span.links) holder(l);
      visitor.value?.({ stringValue: span.status.message }, (v) => {
        if ('stringValue' in v) span.status.message = v.stringValue;
      });
    } else if (signal === 'logs') {
      const log = item as SignalItems['logs'];
      holder(log);
      visitor.value?.(log.body, (v) => (log.body = v));
    } else {
      const point = (item as SignalItems['metrics']).point as { attributes: KeyValue[]; exemplars?: { filteredAttributes: KeyValue[] }[] };
      holder(point);
      for (const ex of point.exemplars ?? []) {
        const h = { attributes: ex.filteredAttributes };
        visitor.attributes(h);
        ex.filteredAttributes = h.attributes;
      }
    }
  }
}
