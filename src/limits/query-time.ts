// How long a request's store queries ran, for the per-tenant DuckDB time budget
// (limits.graphql.duckdbMsPerSecond): the GraphQL server runs each request inside `withQueryMeter`,
// the DuckDB read path adds each statement's running time (not its wait for a lane) to the current
// meter, and the server charges the total to the tenant once the request is done. Carried by
// AsyncLocalStorage, like the request's abort signal, so store interfaces need no extra parameter.
import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';

export interface QueryMeter {
  /** Milliseconds the request's statements have run so far. */
  ms: number;
}

const current = new AsyncLocalStorage<QueryMeter>();

export function withQueryMeter<T>(meter: QueryMeter, run: () => T): T {
  return current.run(meter, run);
}

/** Runs one statement, adding its running time to the current request's meter (if any). */
export async function metered<T>(run: () => Promise<T>): Promise<T> {
  const meter = current.getStore();
  if (!meter) return run();
  const t0 = performance.now();
  try {
    return await run();
  } finally {
    meter.ms += performance.now() - t0;
  }
}
