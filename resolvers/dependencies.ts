// serviceDependencies: the store's own dependency graph when it has one (Jaeger), else computed
// from the spans of the time range, read page by page up to a bound (with a note when cut short).
import { dependenciesFromSpans, hasDependencies, type DependencyLink } from '../src/stores/dependencies.ts';
import type { SpanRecord } from '../src/model/telemetry.ts';
import { checkTimeRange, nowNs } from './args.ts';
import { callStore } from './call-store.ts';
import type { GraphQLContext } from './context.ts';

const DAY = 86_400_000_000_000n;
const PAGE = 1000;
/** Spans read to compute the graph when the store has no graph of its own. */
export const MAX_DEPENDENCY_SPANS = 50_000;

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
  const spans: SpanRecord[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await callStore(() => store.searchSpans(ctx.tenant, { timeRange: range }, { first: PAGE, ...(after && { after }) }));
    for (const e of page.items) spans.push(e.node);
    if (!page.hasNextPage || !page.endCursor) break;
    if (spans.length >= MAX_DEPENDENCY_SPANS) {
      ctx.notes.push(`serviceDependencies: computed from the ${spans.length} most recent spans of the time range; narrow it for a complete graph`);
      break;
    }
    after = page.endCursor;
  }
  const links = dependenciesFromSpans(spans);
  return args.service ? links.filter((l) => l.parent === args.service || l.child === args.service) : links;
}
