import type { GatewayConfig } from './types.ts';
import { defaultAuthConfig, defaultLimitsConfig, defaultTlsConfig } from './security.ts';

// Listeners bind to loopback unless told otherwise (the Collector's default since v0.104).
export const DEFAULT_HOST = '127.0.0.1';

export function defaultConfig(): GatewayConfig {
  return {
    log: { level: 'info' },
    graphql: {
      host: DEFAULT_HOST,
      port: 4000,
      path: '/graphql',
      graphiql: true,
      exposeInternalErrors: false,
      tenantHeader: 'x-scope-orgid',
    },
    tail: { maxSubscriptions: 1000, maxPerConnection: 20, bufferSize: 1000 },
    storage: {
      duckdb: { path: './data/teleql.duckdb', threads: 0, memoryLimit: '' },
      read: { traces: 'duckdb', logs: 'duckdb', metrics: 'duckdb' },
      jaeger: { url: '', timeoutMs: 10_000, tenantHeader: 'x-tenant', headers: {} },
      elasticsearch: {
        node: '',
        index: 'logs-teleql-*',
        username: '',
        password: '',
        apiKey: '',
        bearer: '',
        caFile: '',
        rejectUnauthorized: true,
        requestTimeoutMs: 30_000,
      },
    },
    // Component sections are open maps (id → settings); each component's own defaults and key
    // checks apply when the pipeline builds it.
    receivers: { otlp: {} },
    processors: { batch: {} },
    exporters: { duckdb: {} },
    pipelines: {
      traces: { receivers: ['otlp'], processors: ['batch'], exporters: ['duckdb'] },
      logs: { receivers: ['otlp'], processors: ['batch'], exporters: ['duckdb'] },
      metrics: { receivers: ['otlp'], processors: ['batch'], exporters: ['duckdb'] },
    },
    auth: defaultAuthConfig(),
    limits: defaultLimitsConfig(),
    tls: defaultTlsConfig(),
  };
}
