// The abort signal of the request a store query is run for (its deadline, or the client going
// away), carried by AsyncLocalStorage so store interfaces need no extra parameter: the GraphQL
// server runs each request inside `withQuerySignal`, and a backend that can cancel work reads it.
import { AsyncLocalStorage } from 'node:async_hooks';

const current = new AsyncLocalStorage<AbortSignal>();

export function withQuerySignal<T>(signal: AbortSignal, run: () => T): T {
  return current.run(signal, run);
}

/** The signal of the request being served, if any. */
export function currentQuerySignal(): AbortSignal | undefined {
  return current.getStore();
}
