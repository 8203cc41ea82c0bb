// OTLP refused while the DuckDB store is down (a reopen failed and is being retried: a full disk,
// the file moved away). The batch processor acknowledges a batch when it queues it, so without this
// every request was answered 200 and its batch dropped once the exporter's retries ran out (storage
// QA). Refused as retryable (503 + Retry-After, gRPC UNAVAILABLE), clients keep their data and send
// it again once the store is back.
import { retryableError, type Consumer, type NextConsumers, type ReceiverFactory, type Signal } from '../../ingest/component.ts';

/** Why `signal`'s pipeline cannot store now (it writes to a DuckDB store that is down), or null. */
export type StoreDown = (signal: Signal) => string | null;

/** The receiver factory with each next consumer refusing, while `down` says so, before the pipeline takes the batch. */
export function refusingWhileStoreDown<C>(factory: ReceiverFactory<C>, down: StoreDown): ReceiverFactory<C> {
  return {
    ...factory,
    create(settings, config, next) {
      const gated: NextConsumers = {};
      for (const signal of Object.keys(next) as Signal[]) {
        (gated as Record<Signal, Consumer<Signal>>)[signal] = refusing(signal, next[signal] as Consumer<Signal>, down);
      }
      return factory.create(settings, config, gated);
    },
  };
}

function refusing<S extends Signal>(signal: S, next: Consumer<S>, down: StoreDown): Consumer<S> {
  return {
    consume(items, request) {
      const why = down(signal);
      if (why !== null) return Promise.reject(retryableError(`the store cannot take data now: ${why}`));
      return next.consume(items, request);
    },
  };
}
