import type { AttributeCatalog, LogStore, MetricStore, TraceStore } from '../src/stores/types.ts';
import type { CorrelationStores } from '../src/stores/correlation-types.ts';
import { createTailBus, type TailBus } from '../src/tail/bus.ts';
import { createLoaders, type Loaders } from './loaders.ts';
import type { AlertEngine } from '../src/alerting/engine.ts';
import type { BackendStatus } from '../src/backends/status.ts';
import type { SemanticSearch } from '../src/search/types.ts';

/** Process-wide services a resolver may need besides the stores; each is optional so tests pass only what they use. */
export interface ContextServices {
  alerting?: AlertEngine;
  backends?: () => BackendStatus[];
  search?: SemanticSearch;
  /** limits.graphql.maxTraceSpans; default DEFAULT_MAX_TRACE_SPANS. */
  maxTraceSpans?: number;
}

/** Spans one request's Trace.spans fields return together, unless the config says otherwise (limits.graphql.maxTraceSpans). */
export const DEFAULT_MAX_TRACE_SPANS = 10_000;
import type { Principal } from '../src/auth/types.ts';

export interface Stores {
  traces: TraceStore;
  logs: LogStore;
  metrics: MetricStore;
  catalog: AttributeCatalog;
  /** RED, service graph, exception groups, logs around a span; absent: those fields fail GW_BACKEND_UNAVAILABLE. */
  correlation?: CorrelationStores;
  /**
   * Where a tail's `since` replay reads, for a signal read from another backend than the store its
   * pipeline writes before the replay reads (the embedded one): there the seam is exact. Absent:
   * the read source.
   */
  replay?: { traces?: TraceStore; metrics?: MetricStore };
}

export interface GraphQLContext {
  tenant: string;
  stores: Stores;
  loaders: Loaders;
  /** Remarks from the backends (e.g. a filter applied in the gateway), returned in `extensions.notes`. */
  notes: string[];
  /** Live tails: the bus, and the client connection the subscription limits are counted on. */
  tail: { bus: TailBus; connection: object };
  /** The alert engine; absent when alerting.enabled is false. */
  alerting?: AlertEngine;
  /** Every backend's status (the `backends` query). */
  backends: () => BackendStatus[];
  /** Semantic search; absent when it is disabled. */
  search?: SemanticSearch;
  /** Who is asking (set by the GraphQL server; check scopes with hasScope from src/auth/types.ts). */
  principal?: Principal;
  /** Spans one request's Trace.spans fields return together (resolvers/traces.ts). */
  maxTraceSpans: number;
}

/**
 * One context per request (per subscription on a WebSocket): loaders cache per request only, so
 * tenants and requests never share data. `connection` identifies the client connection (the
 * graphql-ws socket, or the HTTP request); without one, every context is its own connection.
 */
export function createContextFactory(
  stores: Stores,
  bus: TailBus = createTailBus(),
  services: ContextServices = {},
): (tenant: string, connection?: object) => GraphQLContext {
  const backends = services.backends ?? (() => []);
  const maxTraceSpans = services.maxTraceSpans ?? DEFAULT_MAX_TRACE_SPANS;
  return (tenant, connection = {}) => ({ tenant, stores, loaders: createLoaders(tenant, stores), notes: [], tail: { bus, connection }, alerting: services.alerting, backends, maxTraceSpans, ...(services.search && { search: services.search }) });
}
