// The ingest side of the tail: a Consumer per signal, used as a pipeline tap, that publishes each
// batch to the bus synchronously and returns. Subscribers therefore see records before the store
// has written them, and a slow subscriber never slows ingest.
import type { Consumer, NextConsumers } from '../../ingest/component.ts';
import type { TailBus } from './bus.ts';
import type { TailTopics } from './topics.ts';
import { groupByTenant } from '../tenant.ts';

function publishByTenant<T extends 'spans' | 'logs' | 'metrics'>(bus: TailBus, topic: T, items: readonly TailTopics[T][]): void {
  if (items.length === 0) return;
  const first = items[0]!.tenant;
  // One request is one tenant, so a batch almost always is too.
  if (items.every((r) => r.tenant === first)) return bus.publish(first, topic, items);
  for (const [tenant, records] of groupByTenant(items)) bus.publish(tenant, topic, records);
}

export function tailTaps(bus: TailBus): NextConsumers {
  const spans: Consumer<'traces'> = {
    consume(items) {
      publishByTenant(bus, 'spans', items);
      return Promise.resolve();
    },
  };
  const logs: Consumer<'logs'> = {
    consume(items) {
      publishByTenant(bus, 'logs', items);
      return Promise.resolve();
    },
  };
  const metrics: Consumer<'metrics'> = {
    consume(items) {
      publishByTenant(bus, 'metrics', items);
      return Promise.resolve();
    },
  };
  return { traces: spans, logs, metrics };
}
