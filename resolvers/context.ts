import type { AttributeCatalog, LogStore, MetricStore, TraceStore } from '../src/stores/types.ts';
import { createTailBus, type TailBus } from '../src/tail/bus.ts';
import { createLoaders, type Loaders } from './loaders.ts';
import type { Principal } from '../src/auth/types.ts';

export interface Stores {
  traces: TraceStore;
  logs: LogStore;
  metrics: MetricStore;
  catalog: AttributeCatalog;
}

export interface GraphQLContext {
  tenant: string;
  stores: Stores;
  loaders: Loaders;
  /** Remarks from the backends (e.g. a filter applied in the gateway), returned in `extensions.notes`. */
  notes: string[];
  /** Live tails: the bus, and the client connection the subscription limits are counted on. */
  tail: { bus: TailBus; connection: object };
  /** Who is asking (set by the GraphQL server; check scopes with hasScope from src/auth/types.ts). */
  principal?: Principal;
}

/**
 * One context per request (per subscription on a WebSocket): loaders cache per request only, so
 * tenants and requests never share data. `connection` identifies the client connection (the
 * graphql-ws socket, or the HTTP request); without one, every context is its own connection.
 */
export function createContextFactory(stores: Stores, bus: TailBus = createTailBus()): (tenant: string, connection?: object) => GraphQLContext {
  return (tenant, connection = {}) => ({ tenant, stores, loaders: createLoaders(tenant, stores), notes: [], tail: { bus, connection } });
}
