import type { LevelWithSilent } from 'pino';
import type { IngestConfig } from '../../ingest/pipeline.ts';
import type { AuthConfig, LimitsConfig, TlsConfig } from './security.ts';

export interface GatewayConfig extends IngestConfig {
  log: { level: LevelWithSilent };
  graphql: {
    host: string;
    port: number;
    path: string;
    graphiql: boolean;
    /** Show unexpected errors' messages to clients (development only). */
    exposeInternalErrors: boolean;
    /** Header carrying the tenant ID for queries (the OTLP receiver has its own setting). */
    tenantHeader: string;
  };
  /** Live tails (GraphQL subscriptions tailSpans / tailLogs). */
  tail: {
    /** Subscriptions open at once across all connections. */
    maxSubscriptions: number;
    /** Subscriptions open at once on one WebSocket connection or SSE request. */
    maxPerConnection: number;
    /** Records buffered per subscription; when full, the oldest are dropped and counted. */
    bufferSize: number;
  };
  storage: {
    duckdb: {
      /** A file path, or ':memory:'. */
      path: string;
      threads: number; // 0 = DuckDB's default
      memoryLimit: string; // '' = DuckDB's default
    };
    /** Where each signal's queries are answered. DuckDB always runs (it is the ingest default). */
    read: { traces: 'duckdb' | 'jaeger'; logs: 'duckdb' | 'elasticsearch'; metrics: 'duckdb' };
    jaeger: {
      /** Jaeger query service base URL, e.g. http://jaeger:16686 (api_v3 is used). */
      url: string;
      timeoutMs: number;
      /** Header carrying the tenant (Jaeger's multi-tenancy uses x-tenant). */
      tenantHeader: string;
      headers: Record<string, string>;
    };
    elasticsearch: {
      node: string;
      /** Data stream, index or pattern searched for logs. */
      index: string;
      username: string;
      password: string;
      apiKey: string;
      bearer: string;
      caFile: string;
      rejectUnauthorized: boolean;
      requestTimeoutMs: number;
    };
  };
  /** Credentials and tenants (src/auth/). */
  auth: AuthConfig;
  /** Abuse limits on queries and ingest. */
  limits: LimitsConfig;
  /** TLS for every listener. */
  tls: TlsConfig;
}
