// PromQL passed through to the metrics read source when it speaks PromQL (Prometheus). DuckDB does
// not evaluate PromQL: the query is refused with GW_NOT_SUPPORTED rather than half-answered.
import { GatewayError } from '../src/errors.ts';
import { isPromQlStore, type PromQlResult } from '../src/stores/prometheus/types.ts';
import { argumentError, checkTimeRange } from './args.ts';
import { callStore } from './call-store.ts';
import type { GraphQLContext } from './context.ts';
import { stepArg } from './metrics.ts';

export interface PromQlArgs {
  query: string;
  from?: bigint | null;
  to?: bigint | null;
  step?: bigint | null;
}

/** from + to: a range query (step as for metricSeries); only to: an instant query at to; neither: now. */
export function promql(ctx: GraphQLContext, args: PromQlArgs): Promise<PromQlResult> {
  const store = ctx.stores.metrics;
  if (!isPromQlStore(store)) {
    throw new GatewayError(
      'GW_NOT_SUPPORTED',
      `PromQL needs Prometheus as the metrics read source (storage.read.metrics: prometheus); metrics are read from ${store.backend}. Use metricSeries instead.`,
      { backend: store.backend },
    );
  }
  if (args.query.trim() === '') throw argumentError('query must not be empty');
  if (args.from != null && args.to == null) throw argumentError('a range query needs both from and to (only to: an instant query at to)');
  if (args.from != null && args.to != null) {
    checkTimeRange({ from: args.from, to: args.to });
    const stepNano = stepArg(args.from, args.to, args.step);
    return callStore(() => store.promql(ctx.tenant, { query: args.query, range: { from: args.from!, to: args.to! }, stepNano, exemplars: true }));
  }
  if (args.step != null) throw argumentError('step applies to range queries only (give from and to)');
  return callStore(() => store.promql(ctx.tenant, { query: args.query, ...(args.to != null && { time: args.to }), exemplars: true }));
}
