import type { LevelWithSilent } from 'pino';
import type { IngestConfig } from '../../ingest/pipeline.ts';

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
  storage: {
    duckdb: {
      /** A file path, or ':memory:'. */
      path: string;
      threads: number; // 0 = DuckDB's default
      memoryLimit: string; // '' = DuckDB's default
    };
  };
}
