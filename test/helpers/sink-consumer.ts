// An in-memory Consumer that keeps every batch it takes, like the Collector's consumertest sinks.
// It can be told to fail, permanently or retryably, to test what the component in front does.
import { type Consumer, type Signal, type SignalItems, permanentError, retryableError } from '../../ingest/component.ts';

export interface SinkConsumer<S extends Signal> extends Consumer<S> {
  /** Every accepted batch, in arrival order. */
  readonly batches: readonly (readonly SignalItems[S][])[];
  /** All accepted items, flattened. */
  all(): SignalItems[S][];
  count(): number;
  /** Make every following consume reject with a ConsumeError of this kind (null: accept again). */
  failWith(kind: 'permanent' | 'retryable' | null, message?: string): void;
  /** Resolves once at least `n` items arrived; rejects after `timeoutMs`. */
  waitForCount(n: number, timeoutMs?: number): Promise<void>;
  reset(): void;
}

export function sinkConsumer<S extends Signal>(): SinkConsumer<S> {
  const batches: SignalItems[S][][] = [];
  let failure: { kind: 'permanent' | 'retryable'; message: string } | null = null;
  let waiters: { n: number; resolve: () => void }[] = [];
  const count = () => batches.reduce((sum, b) => sum + b.length, 0);

  return {
    batches,
    async consume(items) {
      if (failure) {
        throw failure.kind === 'permanent' ? permanentError(failure.message) : retryableError(failure.message);
      }
      batches.push([...items]);
      const total = count();
      waiters = waiters.filter((w) => (total >= w.n ? (w.resolve(), false) : true));
    },
    all: () => batches.flat(),
    count,
    failWith(kind, message = `sink told to fail (${kind})`) {
      failure = kind ? { kind, message } : null;
    },
    waitForCount(n, timeoutMs = 5000) {
      if (count() >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`sink holds ${count()} items, waited for ${n}`)), timeoutMs);
        waiters.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
      });
    },
    reset() {
      batches.length = 0;
      failure = null;
    },
  };
}
