// Sends one batch to several consumers. Every consumer gets the batch even when another fails;
// the combined error is permanent only when every failure was.
import { ConsumeError, isPermanent, type Consumer, type Signal, type SignalItems } from '../component.ts';

export function fanout<S extends Signal>(consumers: readonly Consumer<S>[]): Consumer<S> {
  if (consumers.length === 1) return consumers[0]!;
  return {
    async consume(items: readonly SignalItems[S][]) {
      const results = await Promise.allSettled(consumers.map((c) => c.consume(items)));
      const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      if (failures.length === 0) return;
      const message = failures.map((f) => (f instanceof Error ? f.message : String(f))).join('; ');
      throw new ConsumeError(message, { permanent: failures.every(isPermanent), cause: failures[0] });
    },
  };
}
