// A read store wrapped so that every call it answers (or fails) updates its backend status: the
// `backends` query then shows a read source's health from real traffic, with no extra probing.
import { StoreError } from '../stores/types.ts';
import type { BackendReporter, BackendStatus } from './status.ts';

export interface ObservedStore<T> {
  store: T;
  reporter: BackendReporter;
}

/**
 * `store`'s methods that return promises are counted: a success makes it healthy, a StoreError
 * UNAVAILABLE (the backend, not the query, failed) unhealthy with its message as lastError.
 */
export function observeStore<T extends object>(store: T, info: { id: string; kind: string; signal: string; endpoint: string }): ObservedStore<T> {
  let healthy = true;
  let lastError: string | null = null;
  let lastErrorAt: Date | null = null;
  const wrapped = new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return function (this: unknown, ...args: unknown[]) {
        const out = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (!(out instanceof Promise)) return out;
        return out.then(
          (v) => {
            healthy = true;
            return v;
          },
          (err: unknown) => {
            if (err instanceof StoreError && err.code === 'UNAVAILABLE') {
              healthy = false;
              lastError = err.message;
              lastErrorAt = new Date();
            }
            throw err;
          },
        );
      };
    },
  });
  const reporter: BackendReporter = {
    backendStatus: (): BackendStatus => ({
      id: info.id,
      kind: info.kind,
      signal: info.signal,
      roles: ['READ'],
      endpoint: info.endpoint,
      healthy,
      lastError,
      lastErrorAt,
      queueDepth: 0,
      itemsWritten: 0,
      itemsFailed: 0,
      spilled: 0,
      dropped: 0,
      retries: 0,
    }),
  };
  return { store: wrapped, reporter };
}
