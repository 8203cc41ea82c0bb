// serviceDependencies: the trace store's own dependency graph when it has one (Jaeger), else the
// edges of the service graph over the range, so `serviceDependencies` and `serviceGraph` count
// calls by one definition (a span whose parent span is in another service) in one place.
import { hasDependencies, sortLinks, type DependencyLink } from '../src/stores/dependencies.ts';
import { checkTimeRange, nowNs } from './args.ts';
import { callStore } from './call-store.ts';
import type { GraphQLContext } from './context.ts';
import { graphFor } from './service-graph.ts';

const DAY = 86_400_000_000_000n;

export interface DependencyArgs {
  from?: bigint | null;
  to?: bigint | null;
  service?: string | null;
}

export async function serviceDependencies(ctx: GraphQLContext, args: DependencyArgs): Promise<DependencyLink[]> {
  const to = args.to ?? nowNs();
  const range = checkTimeRange({ from: args.from ?? to - DAY, to }) as { from: bigint; to: bigint };
  const store = ctx.stores.traces;
  if (hasDependencies(store)) return callStore(() => store.dependencies(ctx.tenant, range, args.service ?? undefined));
  // The other trace read source is DuckDB, whose spans the service graph is computed from.
  const graph = await graphFor(ctx, 'serviceDependencies', range, args.service ? [args.service] : undefined);
  return sortLinks(graph.edges.map((e) => ({ parent: e.source, child: e.target, callCount: e.calls })));
}
