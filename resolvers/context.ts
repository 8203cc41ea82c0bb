import type { AttributeCatalog, LogStore, MetricStore, TraceStore } from '../src/stores/types.ts';
import { createLoaders, type Loaders } from './loaders.ts';

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
}

/** One context per request: loaders cache per request only, so tenants and requests never share data. */
export function createContextFactory(stores: Stores): (tenant: string) => GraphQLContext {
  return (tenant) => ({ tenant, stores, loaders: createLoaders(tenant, stores), notes: [] });
}
