// How much of DuckDB a request's store queries used, for the per-tenant DuckDB time budget
// (limits.graphql.duckdbMsPerSecond), and whose they are, for the fair read lanes (fair-lanes.ts):
// the GraphQL server runs each request inside `withQueryMeter`, the DuckDB read path queues each
// statement under the meter's tenant and adds the statement's share of DuckDB (not its wait for a
// lane) to the meter, and the server charges the total to the tenant once the request is done.
// Carried by AsyncLocalStorage, like the request's abort signal, so store interfaces need no extra
// parameter.
import { AsyncLocalStorage } from 'node:async_hooks';

export interface QueryMeter {
  /** Milliseconds of DuckDB the request's statements have used so far (their share while others ran beside them). */
  ms: number;
  /** The tenant the statements run for; unset for the gateway's own reads (alerting, retention). */
  tenant?: string;
}

const current = new AsyncLocalStorage<QueryMeter>();

export function withQueryMeter<T>(meter: QueryMeter, run: () => T): T {
  return current.run(meter, run);
}

/** The meter of the request being served, if any. */
export function currentQueryMeter(): QueryMeter | undefined {
  return current.getStore();
}
