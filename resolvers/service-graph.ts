// The service graph, shaped for Grafana's node graph panel (node `id`/`title`/`mainStat`/
// `secondaryStat`/`arc__*`, edge `id`/`source`/`target`/`mainStat`).
import type { ServiceEdgeStats, ServiceGraph, ServiceNodeStats } from '../src/stores/correlation-types.ts';
import { checkTimeRange } from './args.ts';
import { callStore } from './call-store.ts';
import type { GraphQLContext } from './context.ts';
import { noteSource } from './call-store.ts';
import { correlationRange, type CorrelationModel } from './correlation.ts';
import { correlationStores } from './loaders.ts';
import { loadTrace, traceServices } from './traces.ts';

const NS_PER_MS = 1e6;

export interface ServiceGraphModel extends ServiceGraph {
  source: string;
  seconds: number;
}

export interface ServiceNodeModel extends ServiceNodeStats {
  seconds: number;
}

/**
 * The seconds a range's rates are per: its length, at least one second. A rate over no time is
 * undefined (1 request in an empty range came out as 1e9/s), and one second is what a RED series
 * of the same range says (its default step is at least a second, and its total is over a step).
 */
function rateSeconds(range: { from: bigint; to: bigint }): number {
  return Math.max(Number(range.to - range.from) / 1e9, 1);
}

/** The service graph over `range` (edges touching `services` when given), noting its backend for `field`. */
export async function graphFor(ctx: GraphQLContext, field: string, range: { from: bigint; to: bigint }, services?: readonly string[]): Promise<ServiceGraphModel> {
  const store = correlationStores(ctx.stores).serviceGraph;
  noteSource(ctx, field, store.backend);
  const graph = await callStore(() => store.serviceGraph(ctx.tenant, { range, ...(services && { services }) }));
  return { ...graph, source: store.backend, seconds: rateSeconds(range) };
}

export function serviceGraph(ctx: GraphQLContext, args: { from: bigint; to: bigint; services?: readonly string[] | null }): Promise<ServiceGraphModel> {
  checkTimeRange({ from: args.from, to: args.to });
  return graphFor(ctx, 'serviceGraph', { from: args.from, to: args.to }, args.services?.length ? args.services : undefined);
}

/** The trace's services, the services they call or are called by, and those edges, over the window. */
export async function correlationServiceGraph(ctx: GraphQLContext, c: CorrelationModel): Promise<ServiceGraphModel | null> {
  const [trace, range] = await Promise.all([loadTrace(ctx, c.traceId), correlationRange(ctx, c)]);
  if (!trace || !range) return null;
  return graphFor(ctx, 'Correlation.serviceGraph', range, traceServices(trace));
}

export function graphNodes(g: ServiceGraphModel): ServiceNodeModel[] {
  return g.nodes.map((n) => ({ ...n, seconds: g.seconds }));
}

const ms = (ns: number | null) => (ns === null ? null : ns / NS_PER_MS);
const fixed = (n: number, digits: number) => n.toFixed(digits);
/** Two decimals, or three significant digits below 1 (3 requests in 30 minutes are 0.00167/s, not 0.00). */
const rate = (perSecond: number) => (perSecond > 0 && perSecond < 1 ? String(Number(perSecond.toPrecision(3))) : fixed(perSecond, 2));
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export const nodeStats = {
  requestRate: (n: ServiceNodeModel) => n.requests / n.seconds,
  errorRate: (n: ServiceNodeModel) => n.errors / n.seconds,
  errorRatio: (n: ServiceNodeModel) => (n.requests > 0 ? n.errors / n.requests : 0),
  p95Ms: (n: ServiceNodeModel) => ms(n.p95Nano),
  mainStat: (n: ServiceNodeModel) => `${rate(n.requests / n.seconds)} req/s`,
  secondaryStat: (n: ServiceNodeModel) => (n.p95Nano === null ? 'p95 –' : `p95 ${fixed(n.p95Nano / NS_PER_MS, 1)} ms`),
  // Arcs must add up to 1; a service without requests shows as all success.
  arcFailed: (n: ServiceNodeModel) => (n.requests > 0 ? n.errors / n.requests : 0),
  arcSuccess: (n: ServiceNodeModel) => (n.requests > 0 ? 1 - n.errors / n.requests : 1),
};

export const edgeStats = {
  id: (e: ServiceEdgeStats) => `${e.source}->${e.target}`,
  p95Ms: (e: ServiceEdgeStats) => e.p95Nano / NS_PER_MS,
  mainStat: (e: ServiceEdgeStats) => plural(e.calls, 'call'),
  secondaryStat: (e: ServiceEdgeStats) => `${plural(e.errors, 'error')}, p95 ${fixed(e.p95Nano / NS_PER_MS, 1)} ms`,
};
