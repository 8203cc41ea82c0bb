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
    /** A query document's runs after its first execute compiled by graphql-jit; false: graphql-js runs every query. */
    compiledQueries: boolean;
    /** Browser origins allowed to call the API from their pages (CORS); empty: none, `*`: any. */
    cors: { allowedOrigins: string[] };
  };
  /** Live tails (GraphQL subscriptions tailSpans / tailLogs). */
  tail: {
    /** Subscriptions open at once across all connections. */
    maxSubscriptions: number;
    /** Subscriptions open at once on one WebSocket connection or SSE request. */
    maxPerConnection: number;
    /** Subscriptions open at once for one tenant (all its connections). */
    maxPerTenant: number;
    /** Records buffered per subscription; when full, the oldest are dropped and counted. */
    bufferSize: number;
    /** Stored records a `since` replay may send; more fail the subscription. */
    maxReplay: number;
    /** Ms of the event loop one tenant's tails may spend matching records per 10 s; past it its costliest tail fails, then the rest until the window ends (0 = no budget). */
    matchBudgetMs: number;
    /** Each event's selection runs compiled by graphql-jit; false: graphql-js runs every event. */
    compiled: boolean;
    /** Pushed events are held up to this long (ms) so a socket's events share one write; 0 = write at once. */
    flushIntervalMs: number;
    /** The same while the event loop was ≥ 90 % busy over each of the last two half seconds (ingest saturating it). */
    busyFlushIntervalMs: number;
    /** tailTraces assembly (per tenant, on each replica). */
    traces: { rootWaitMs: number; quietMs: number; maxTraces: number; maxSpansPerTrace: number };
    /**
     * Redis pub/sub between replicas: '' = in-process only. e.g. redis://127.0.0.1:6379.
     * `channelPrefix` keeps deployments sharing one Redis apart ('' = `teleql:tail`, or
     * `teleql:tail:db<N>` when the URL selects database N: pub/sub ignores database numbers).
     */
    redis: { url: string; channelPrefix: string };
  };
  /** Alert rules, evaluation and notifications (src/alerting). */
  alerting: {
    enabled: boolean;
    /** YAML file of rules, reloaded when it changes; '' = none. */
    rulesFile: string;
    reloadDebounceMs: number;
    /** How often due rules are looked for, ms; 0 = never (tests call the engine's tick). */
    tickMs: number;
    /** Defaults for rules that leave them out (Prometheus-style durations). */
    defaultInterval: string;
    defaultWindow: string;
    defaultRepeatInterval: string;
    /** Alertmanager's group_wait and group_interval for rules that set none: a new group's first message waits the one, later changes the other. */
    defaultGroupWait: string;
    defaultGroupInterval: string;
    /** Base URL of this gateway as users reach it, for generatorURL / externalURL in notifications. */
    externalUrl: string;
    /** Prometheus base URL for PROMQL rules; '' = the embedded subset over DuckDB. */
    prometheusUrl: string;
    prometheusTenantHeader: string;
    /** Where notifications go: [{ name, type: webhook | slack | alertmanager, url, headers? }]. */
    receivers: { name: string; type: 'webhook' | 'slack' | 'alertmanager'; url: string; headers?: Record<string, string> }[];
    retry: { attempts: number; initialBackoffMs: number; maxBackoffMs: number; timeoutMs: number };
    /** With tail.redis.url set, one replica holds the notifier lease; a dead holder is replaced after this, ms. */
    leaseMs: number;
    /** Rules one tenant may create through the API (each is evaluated every interval); the rules file is not counted. */
    maxRulesPerTenant: number;
    /** Silences one tenant may hold, expired ones included; at the limit a new one replaces the oldest expired one. */
    maxSilencesPerTenant: number;
    /** How long an expired silence is kept (listed, in the store) before it is removed; Alertmanager's data.retention. */
    silenceRetention: string;
    /** How long alert state changes are kept for alertHistory before they are deleted. */
    historyRetention: string;
  };
  storage: {
    duckdb: {
      /** A file path, or ':memory:'. */
      path: string;
      /**
       * DuckDB's threads, the statement's own thread included (0 = DuckDB's default, one per core).
       * Default 1: reads and writes already run in parallel on separate connections, and a DuckDB
       * worker thread only adds a handoff to each small statement (bench/README.md, session 9).
       */
      threads: number;
      memoryLimit: string; // '' = DuckDB's default
      /** Read connections, handed out fairly per tenant; one tenant holds at most readLanes − 1 (when 2 or more). */
      readLanes: number;
      /**
       * Rows per data chunk the store writer appends: smaller chunks cost more writer CPU. A power of
       * two from 64 to 2,048.
       */
      writeStepRows: number;
      /**
       * The longest the store writer runs before yielding to the event loop, in ms: a step ends
       * between rows or a data chunk's columns once this much has passed (the appender's flush is
       * one step of its own). From 1 to 100.
       */
      writeStepMs: number;
      /**
       * Rows written after which the store closes its DuckDB instance and opens the file again
       * (a pause of ~0.1–0.4 s in which writes and reads wait): DuckDB keeps native memory for every
       * row group an instance has written until it closes. 0 = never (memory then grows ~3.6 bytes
       * per row written until restart).
       */
      reopenEveryRows: number;
    };
    /** Deletes data older than a window (src/stores/duckdb/retention.ts). */
    retention: {
      /** How long rows are kept, e.g. '7d'; '0' or 'off' keeps them forever. */
      period: string;
      /** Per signal; '' = `period`. */
      traces: string;
      logs: string;
      metrics: string;
      /** Time between retention passes. */
      interval: string;
      /** Rows one DELETE step removes at most. */
      batchRows: number;
    };
    /** Where each signal's queries are answered. DuckDB always runs (it is the ingest default). */
    read: { traces: 'duckdb' | 'jaeger'; logs: 'duckdb' | 'elasticsearch'; metrics: 'duckdb' | 'prometheus' };
    jaeger: {
      /** Jaeger query service base URL, e.g. http://jaeger:16686 (api_v3 is used). */
      url: string;
      timeoutMs: number;
      /** Header carrying the tenant (Jaeger's multi-tenancy uses x-tenant). */
      tenantHeader: string;
      /**
       * Send the tenant header for the `default` tenant too (`default` then), for a Jaeger with
       * tenancy enabled, which refuses requests without one. Default false: no header for `default`.
       */
      alwaysSendTenant: boolean;
      headers: Record<string, string>;
      /**
       * Finding a span by ID (Jaeger has no such lookup): FindTraces windows walked back from the
       * end of the filter's range, the last hour first, each next window 4× longer.
       */
      spanLookup: {
        /** The range searched when the filter has no `from`: this long back from its end (or now). */
        lookbackMs: number;
        /** The most FindTraces requests one lookup makes; the older part of the range is left unsearched (and a note says so). */
        maxRequests: number;
      };
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
    /** Metric reads (PromQL, series, labels, exemplars) from Prometheus' HTTP API. */
    prometheus: {
      /** Prometheus base URL, e.g. http://prometheus:9090 (the API is under /api/v1). */
      url: string;
      timeoutMs: number;
      username: string;
      password: string;
      bearer: string;
      /** Header carrying the tenant (Mimir/Cortex: X-Scope-OrgID); '' = not sent. */
      tenantHeader: string;
      headers: Record<string, string>;
      caFile: string;
      rejectUnauthorized: boolean;
    };
  };
  /** Cross-signal correlation (Trace.metrics, correlate, serviceGraph, exceptionGroups). */
  correlation: {
    red: {
      /** Where RED series come from: derived from the spans in DuckDB, or PromQL over spanmetrics series. */
      source: 'spans' | 'prometheus';
      prometheusUrl: string;
      /** Header carrying the tenant to Prometheus (Mimir/Cortex: x-scope-orgid); '' sends none. */
      tenantHeader: string;
      timeoutMs: number;
      callsMetric: string;
      durationBucketMetric: string;
      /** The unit of the duration histogram's `le`: ms or s. */
      durationUnit: 'ms' | 's';
    };
  };
  /** Semantic search over spans and logs (the `embedding` exporter feeds it; docs/search.md). */
  search: {
    /** false: no model is loaded, the `embedding` exporter drops what it gets, search queries fail. */
    enabled: boolean;
    /** Hugging Face model ID, or a folder name under localModelPath. */
    model: string;
    /** Directory holding model folders (`<dir>/<model>/onnx/…`); '' = the library default. */
    localModelPath: string;
    /** false: never download a model. */
    allowRemoteModels: boolean;
    /** Where downloaded models are cached; '' = the library default. */
    cacheDir: string;
    /** ONNX weights variant (fp32, fp16, q8, …); '' = the model's default. */
    dtype: string;
    /** Records waiting to be indexed; beyond this they are skipped and counted. */
    queueSize: number;
    /** Records indexed per round. */
    batchSize: number;
    /** Weight of keyword matches in the hybrid score, 0–1 (the vector similarity gets the rest). */
    keywordWeight: number;
    /** Rank exactly when the filter leaves at most this many distinct texts; the ANN index above. */
    exactThreshold: number;
    /** The HNSW index kept beside DuckDB. */
    ann: { connectivity: number; expansionAdd: number; expansionSearch: number; quantization: 'f32' | 'f16' | 'i8' };
  };
  /** Credentials and tenants (src/auth/). */
  auth: AuthConfig;
  /** Abuse limits on queries and ingest. */
  limits: LimitsConfig;
  /** TLS for every listener. */
  tls: TlsConfig;
  /** What a stop (SIGTERM, SIGINT) does before the listeners close. */
  shutdown: {
    /**
     * How long /readyz answers 503 while OTLP and GraphQL are still served, so a load balancer or
     * Kubernetes Service stops sending before the listeners close (ms; 0 = close at once).
     */
    drainMs: number;
  };
}
