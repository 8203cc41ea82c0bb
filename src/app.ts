// The only place that connects the parts: store ← exporters ← pipelines ← receivers on the ingest
// side, store → resolvers → GraphQL server on the query side.
import type { Logger } from 'pino';
import { createRootLogger, componentLogger } from './logger.ts';
import type { GatewayConfig } from './config/types.ts';
import { openDuckDbStore, type DuckDbStore } from './stores/duckdb/index.ts';
import { createRegistry } from '../ingest/registry.ts';
import { buildPipelines, type RunningPipelines } from '../ingest/pipeline.ts';
import { otlpReceiverFactoryWith } from '../ingest/receivers/otlp/factory.ts';
import { batchProcessorFactory } from '../ingest/processors/batch/factory.ts';
import { duckDbExporterFactory } from '../ingest/exporters/duckdb/factory.ts';
import type { Host } from '../ingest/component.ts';
import type { LogStore, TraceStore } from './stores/types.ts';
import type { GraphQLServer } from './server/graphql-server.ts';
import type { MetricSample } from './server/metrics.ts';
import { createTailBus, type TailBus } from './tail/bus.ts';
import { tailTaps } from './tail/tap.ts';
import { createSecurity, limitsProcessorFactory, redactionProcessorFactory, withSecurityProcessors } from './server/security.ts';

export interface App {
  start(): Promise<void>;
  /** Stops receivers, flushes every buffered item into the store, closes the store. Safe twice. */
  stop(): Promise<void>;
  /** Bound addresses after start (tests ask for port 0). */
  addresses(): { graphql: string; otlpGrpc?: string; otlpHttp?: string };
  ready(): boolean;
  /** For tests and benchmarks: the running pieces. */
  readonly internals: { store(): DuckDbStore | undefined; pipelines(): RunningPipelines | undefined; tail(): TailBus };
}

export interface AppOptions {
  logger?: Logger;
}

interface OtlpAddresses {
  addresses(): { grpc?: string; http?: string };
}

export function buildApp(cfg: GatewayConfig, opts: AppOptions = {}): App {
  const root = opts.logger ?? createRootLogger(cfg.log.level);
  const log = componentLogger(root, 'app');
  let store: DuckDbStore | undefined;
  let pipelines: RunningPipelines | undefined;
  let graphql: GraphQLServer | undefined;
  let isReady = false;
  let closeReaders: (() => Promise<void>) | undefined;
  let stopping: Promise<void> | undefined;
  // Live tails: ingest publishes every batch here (before batching and storage); subscriptions read.
  const tail = createTailBus(cfg.tail);

  // Credentials, limits and TLS shared by every listener (src/auth, src/limits, src/server/security.ts).
  const security = createSecurity(cfg, root);

  const host: Host = {
    logger: root,
    reportError: (componentId, err) => log.error({ err, component: componentId }, 'component reported an error'),
  };

  async function start(): Promise<void> {
    const t0 = performance.now();
    store = await openDuckDbStore({
      path: cfg.storage.duckdb.path,
      logger: componentLogger(root, 'duckdb'),
      threads: cfg.storage.duckdb.threads || undefined,
      memoryLimit: cfg.storage.duckdb.memoryLimit || undefined,
    });
    const registry = createRegistry([otlpReceiverFactoryWith(security.receiver), batchProcessorFactory, duckDbExporterFactory(store.writer), limitsProcessorFactory, redactionProcessorFactory]);
    pipelines = buildPipelines(registry, withSecurityProcessors(cfg), root, tailTaps(tail));
    await pipelines.start(host);
    log.info({ ms: Math.round(performance.now() - t0), sinceProcessStartMs: Math.round(process.uptime() * 1000), otlp: otlpAddresses() }, 'accepting OTLP');

    // The GraphQL side loads after ingest is listening: its modules are the heaviest to import.
    const [{ createGraphQLServer }, { schema }, { createContextFactory }] = await Promise.all([
      import('./server/graphql-server.ts'),
      import('../schema/index.ts'),
      import('../resolvers/context.ts'),
    ]);
    const readers = await openReadSources(store);
    closeReaders = readers.close;
    const contextFor = createContextFactory({ traces: readers.traces, logs: readers.logs, metrics: store.metrics, catalog: store.catalog }, tail);
    graphql = createGraphQLServer({
      ...cfg.graphql,
      schema,
      contextFor,
      ready: () => isReady,
      metrics: gatewayMetrics,
      logger: componentLogger(root, 'graphql'),
      ...security.graphql,
    });
    await graphql.start();
    security.warnIfExposed();
    isReady = true;
    log.info({ ms: Math.round(performance.now() - t0), sinceProcessStartMs: Math.round(process.uptime() * 1000), graphql: `${security.graphql.tls ? 'https' : 'http'}://${graphql.address()}${cfg.graphql.path}` }, 'ready');
  }

  /** The store each signal is read from: DuckDB unless the config names another backend. */
  async function openReadSources(duck: DuckDbStore): Promise<{ traces: TraceStore; logs: LogStore; close: () => Promise<void> }> {
    const { read, jaeger, elasticsearch: es } = cfg.storage;
    let traces: TraceStore = duck.traces;
    let logs: LogStore = duck.logs;
    const closers: (() => Promise<void>)[] = [];
    if (read.traces === 'jaeger') {
      const { createJaegerTraceStore } = await import('./stores/jaeger/index.ts');
      traces = createJaegerTraceStore({
        baseUrl: jaeger.url,
        timeoutMs: jaeger.timeoutMs,
        tenantHeader: jaeger.tenantHeader,
        headers: jaeger.headers,
        logger: componentLogger(root, 'jaeger'),
      });
    }
    if (read.logs === 'elasticsearch') {
      const { createElasticsearchLogStore } = await import('./stores/elasticsearch/index.ts');
      const auth = es.apiKey
        ? { apiKey: es.apiKey }
        : es.bearer
          ? { bearer: es.bearer }
          : es.username
            ? { username: es.username, password: es.password }
            : undefined;
      const esLogs = createElasticsearchLogStore({
        node: es.node,
        index: es.index,
        auth,
        tls: { ...(es.caFile && { caFile: es.caFile }), rejectUnauthorized: es.rejectUnauthorized },
        requestTimeoutMs: es.requestTimeoutMs,
        logger: componentLogger(root, 'elasticsearch'),
      });
      logs = esLogs;
      closers.push(() => esLogs.close());
    }
    log.info({ traces: traces.backend, logs: logs.backend, metrics: duck.metrics.backend }, 'read sources');
    return { traces, logs, close: async () => void (await Promise.all(closers.map((c) => c()))) };
  }

  function gatewayMetrics(): MetricSample[] {
    const samples: MetricSample[] = [];
    for (const c of pipelines?.components.values() ?? []) {
      const m = (c as Partial<{ metrics(): MetricSample[] }>).metrics;
      if (typeof m === 'function') samples.push(...m.call(c));
    }
    if (store) {
      const s = store.stats();
      for (const [table, rows] of Object.entries(s.rowsWritten)) {
        samples.push({ name: 'teleql_duckdb_rows_written_total', help: 'Rows committed to DuckDB', type: 'counter', value: rows, labels: { table } });
      }
      samples.push({ name: 'teleql_duckdb_write_errors_total', help: 'Write batches DuckDB refused', type: 'counter', value: s.writeErrors });
    }
    samples.push({ name: 'teleql_tail_subscriptions', help: 'Live tail subscriptions open', type: 'gauge', value: tail.size() });
    samples.push({ name: 'teleql_tail_dropped_total', help: 'Tail records dropped from full subscription buffers', type: 'counter', value: tail.droppedTotal() });
    return samples;
  }

  function otlpAddresses(): { grpc?: string; http?: string } {
    for (const [id, c] of pipelines?.components ?? []) {
      if (id === 'otlp' || id.startsWith('otlp/')) return (c as unknown as OtlpAddresses).addresses();
    }
    return {};
  }

  async function stop(): Promise<void> {
    stopping ??= (async () => {
      isReady = false;
      // Receivers stop first (pipelines shut down upstream first), then batches flush into the store.
      await graphql?.stop();
      await pipelines?.shutdown();
      await closeReaders?.();
      await store?.close();
      log.info('stopped');
    })();
    return stopping;
  }

  return {
    start,
    stop,
    ready: () => isReady,
    addresses: () => {
      const otlp = otlpAddresses();
      return { graphql: graphql?.address() ?? '', otlpGrpc: otlp.grpc, otlpHttp: otlp.http };
    },
    internals: { store: () => store, pipelines: () => pipelines, tail: () => tail },
  };
}
