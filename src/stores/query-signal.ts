// The abort signal of the request a store query is run for (its deadline, or the client going
// away), carried by AsyncLocalStorage so store interfaces need no extra parameter: the GraphQL
// server runs each request inside `withQuerySignal`, and a backend that can cancel work reads it.
// Outside a request (alert rule ticks, graphql-ws subscriptions) there is no signal: reads run as
// they always did, bounded by their backend's own timeout only.
import { AsyncLocalStorage } from 'node:async_hooks';
import { setMaxListeners } from 'node:events';

const current = new AsyncLocalStorage<AbortSignal>();

export function withQuerySignal<T>(signal: AbortSignal, run: () => T): T {
  return current.run(signal, run);
}

/**
 * Runs `run` with no request's signal: for work that requests share (a lookup cached for all),
 * which must not fail with the request that happened to start it.
 */
export function withoutQuerySignal<T>(run: () => T): T {
  return current.exit(run);
}

/** The signal of the request being served, if any. */
export function currentQuerySignal(): AbortSignal | undefined {
  return current.getStore();
}

/**
 * A backend read ended because its request was aborted (deadline passed, client gone). Not a
 * StoreError: the backend did not fail, so it is not marked unhealthy and no backend error is
 * logged or shown; a passed deadline is answered with its GW_TIMEOUT (src/server/query-limits.ts),
 * and a client that went away reads nothing.
 */
export class QueryAbortedError extends Error {
  constructor(signal: AbortSignal) {
    super(signal.reason instanceof Error ? signal.reason.message : 'the request was aborted', { cause: signal.reason });
    this.name = 'QueryAbortedError';
  }
}

/**
 * What backend clients get instead of the request's own signal: one per request, aborted with the
 * plain AbortError every client knows when the request's signal fires (the Elasticsearch transport
 * takes any other reason, such as the deadline's, for a connection fault and retries it after a
 * backoff of over a second), with no listener limit (each of a request's concurrent calls adds one).
 */
const callSignals = new WeakMap<AbortSignal, AbortSignal>();

/**
 * The signal to give the backend call about to start (undefined outside a request). Throws
 * QueryAbortedError if the request was aborted already: no call starts after the abort, so a loop
 * of calls (pages, batches of keys) ends at its next call.
 */
export function signalForCall(): AbortSignal | undefined {
  const request = current.getStore();
  if (!request) return undefined;
  if (request.aborted) throw new QueryAbortedError(request);
  let signal = callSignals.get(request);
  if (!signal) {
    const own = new AbortController();
    setMaxListeners(0, own.signal);
    request.addEventListener('abort', () => own.abort(), { once: true });
    callSignals.set(request, (signal = own.signal));
  }
  return signal;
}

/**
 * What a failed backend call ends with: QueryAbortedError when the request was aborted meanwhile
 * (the backend client's own abort or connection error means nothing then), else `err` unchanged.
 */
export function abortedOr(err: unknown): unknown {
  if (err instanceof QueryAbortedError) return err;
  const signal = current.getStore();
  return signal?.aborted ? new QueryAbortedError(signal) : err;
}

/**
 * Waits for `shared` (work other requests wait for too, started without a signal), but only until
 * the current request is aborted: then QueryAbortedError at once, and `shared` runs on for the others.
 */
export function untilQueryAborted<T>(shared: Promise<T>): Promise<T> {
  const signal = current.getStore();
  if (!signal) return shared;
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(new QueryAbortedError(signal));
    const onAbort = () => reject(new QueryAbortedError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    shared.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
