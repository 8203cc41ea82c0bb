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
      compiledQueries: true,
      // No cross-origin reads by default: with auth off, any page a developer opens could read the
      // local gateway's telemetry. GraphiQL is same-origin; Grafana queries from its server.
      cors: { allowedOrigins: [] },
    },
    tail: {
      maxSubscriptions: 1000,
      maxPerConnection: 20,
      maxPerTenant: 500,
      bufferSize: 1000,
      maxReplay: 10_000,
      matchBudgetMs: 1000,
      compiled: true,
      flushIntervalMs: 0,
      busyFlushIntervalMs: 100,
      traces: { rootWaitMs: 1000, quietMs: 5000, maxTraces: 10_000, maxSpansPerTrace: 1000 },
      redis: { url: '', channelPrefix: '' },
    },
    alerting: {
      enabled: true,
      rulesFile: '',
      reloadDebounceMs: 200,
      tickMs: 1000,
      defaultInterval: '1m',
      defaultWindow: '5m',
      defaultRepeatInterval: '4h',
      defaultGroupWait: '30s',
      defaultGroupInterval: '5m',
      externalUrl: '',
      prometheusUrl: '',
      prometheusTenantHeader: 'X-Scope-OrgID',
      receivers: [],
      retry: { attempts: 5, initialBackoffMs: 500, maxBackoffMs: 30_000, timeoutMs: 10_000 },
      leaseMs: 10_000,
      maxRulesPerTenant: 1000,
      maxSilencesPerTenant: 1000,
      silenceRetention: '120h',
      historyRetention: '30d',
    },
    storage: {
      duckdb: { path: './data/teleql.duckdb', threads: 1, memoryLimit: '64MB', readLanes: 3, writeStepRows: 512, writeStepMs: 10, reopenEveryRows: 2_000_000 },
      retention: { period: '7d', traces: '', logs: '', metrics: '', interval: '1m', batchRows: 50_000 },
      read: { traces: 'duckdb', logs: 'duckdb', metrics: 'duckdb' },
      jaeger: { url: '', timeoutMs: 10_000, tenantHeader: 'x-tenant', alwaysSendTenant: false, headers: {}, spanLookup: { lookbackMs: 7 * 86_400_000, maxRequests: 8 } },
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
      prometheus: { url: '', timeoutMs: 10_000, username: '', password: '', bearer: '', tenantHeader: '', headers: {}, caFile: '', rejectUnauthorized: true },
    },
    correlation: {
      red: {
        source: 'spans',
        prometheusUrl: '',
        tenantHeader: '',
        timeoutMs: 30_000,
        callsMetric: 'traces_span_metrics_calls_total',
        durationBucketMetric: 'traces_span_metrics_duration_milliseconds_bucket',
        durationUnit: 'ms',
      },
    },
    search: {
      enabled: true,
      model: 'Xenova/all-MiniLM-L6-v2',
      localModelPath: '',
      allowRemoteModels: true,
      cacheDir: '',
      dtype: '',
      queueSize: 20_000,
      batchSize: 1024,
      keywordWeight: 0.3,
      exactThreshold: 20_000,
      ann: { connectivity: 12, expansionAdd: 40, expansionSearch: 64, quantization: 'i8' },
    },
    // Component sections are open maps (id → settings); each component's own defaults and key
    // checks apply when the pipeline builds it.
    receivers: { otlp: {} },
    processors: { memory_limiter: {}, batch: {} },
    exporters: { duckdb: {}, embedding: {} },
    pipelines: {
      traces: { receivers: ['otlp'], processors: ['memory_limiter', 'batch'], exporters: ['duckdb', 'embedding'] },
      logs: { receivers: ['otlp'], processors: ['memory_limiter', 'batch'], exporters: ['duckdb', 'embedding'] },
      metrics: { receivers: ['otlp'], processors: ['memory_limiter', 'batch'], exporters: ['duckdb'] },
    },
    auth: defaultAuthConfig(),
    limits: defaultLimitsConfig(),
    tls: defaultTlsConfig(),
    // Local use stops at once; behind a load balancer, README "Configuration" suggests a drain.
    shutdown: { drainMs: 0 },
  };
}
