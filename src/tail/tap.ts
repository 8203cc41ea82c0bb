// The ingest side of the tail: a Consumer per signal, used as a pipeline tap, that publishes each
// batch to the bus synchronously and returns. Subscribers therefore see records before the store
// has written them, and a slow subscriber never slows ingest. The OTLP request the batch was decoded
// from goes along when it stands for the batch (the pipeline says when), for a transport to send.
import type { Consumer, NextConsumers } from '../../ingest/component.ts';
import type { TailBus } from './bus.ts';
import type { TailTopics } from './topics.ts';
import { groupByTenant } from '../tenant.ts';
import type { OtlpRequest } from '../otlp/codec.ts';

function publishByTenant<T extends 'spans' | 'logs' | 'metrics'>(bus: TailBus, topic: T, items: readonly TailTopics[T][], request: OtlpRequest | undefined): void {
  if (items.length === 0) return;
  const first = items[0]!.tenant;
  // One request is one tenant, so a batch almost always is too.
  if (items.every((r) => r.tenant === first)) return bus.publish(first, topic, items, request);
  for (const [tenant, records] of groupByTenant(items)) bus.publish(tenant, topic, records);
}

export function tailTaps(bus: TailBus): NextConsumers {
  const spans: Consumer<'traces'> = {
    consume(items, request) {
      publishByTenant(bus, 'spans', items, request);
      return Promise.resolve();
    },
  };
  const logs: Consumer<'logs'> = {
    consume(items, request) {
      publishByTenant(bus, 'logs', items, request);
      return Promise.resolve();
    },
  };
  const metrics: Consumer<'metrics'> = {
    consume(items, request) {
      publishByTenant(bus, 'metrics', items, request);
      return Promise.resolve();
    },
  };
  return { traces: spans, logs, metrics };
}
