// The only place that connects the parts: store ← exporters ← pipelines ← receivers on the ingest
// side, store → resolvers → GraphQL server on the query side.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { createRootLogger, componentLogger, silentLogger } from './logger.ts';
import type { GatewayConfig } from './config/types.ts';
import type { BackendRegistry } from './backends/index.ts';
import type { DuckDbStore } from './stores/duckdb/index.ts';
import type { Retention } from './stores/duckdb/retention.ts';
import { componentType, createRegistry, type Registry } from '../ingest/registry.ts';
import type { AnyFactory, Signal } from '../ingest/component.ts';
import { buildPipelines, type RunningPipelines } from '../ingest/pipeline.ts';
import { otlpReceiverFactoryWith } from '../ingest/receivers/otlp/factory.ts';
import { batchProcessorFactory } from '../ingest/processors/batch/factory.ts';
import { duckDbExporterFactory, duckDbExporterStats } from '../ingest/exporters/duckdb/factory.ts';
import type { Host } from '../ingest/component.ts';
import type { LogStore, MetricStore, StoreWriter, TraceStore } from './stores/types.ts';
import type { CorrelationStores } from './stores/correlation-types.ts';
import type { Stores } from '../resolvers/context.ts';
import { createSpanmetricsRedStore } from './stores/prometheus/spanmetrics-red.ts';
import type { PrometheusClientOptions } from './stores/prometheus/client.ts';
import type { GraphQLServer, Readiness } from './server/graphql-server.ts';
import type { MetricSample } from './server/metrics.ts';
import type { TailBus } from './tail/bus.ts';
import { tailTaps } from './tail/tap.ts';
import type { Alerting } from './alerting/index.ts';
import type { AlertEngine } from './alerting/engine.ts';
import type { Clock } from './alerting/types.ts';
import { addComponentReporters, backendMetrics, createBackendRegistry, duckDbReporters, observeStore, type BackendRole } from './backends/index.ts';
import { createTailService } from './tail/service.ts';
import { embeddingExporterFactory } from '../ingest/exporters/embedding/factory.ts';
import type { SearchParts } from './search/setup.ts';
import type { SearchIndexer } from './search/indexer.ts';
import { createSecurity, limitsProcessorFactory, memoryLimiterProcessorFactory, redactionProcessorFactory, withSecurityProcessors } from './server/security.ts';
import { openingWriter } from './startup/opening-writer.ts';
import { refusingWhileStoreDown, type StoreDown } from './startup/store-gate.ts';
import { openGraphQLListener, type GraphQLListener } from './server/graphql-listener.ts';
import { readTlsFiles, type TlsReload } from './server/tls.ts';
import { deferred } from '../ingest/helpers/deferred.ts';
import { readSettingFile } from './config/setting-values.ts';
import { ConfigProblems } from './config/merge.ts';
import { changedSettings } from './config/changed-settings.ts';
import { readJwks } from './auth/jwt.ts';

export interface App {
  start(): Promise<void>;
  /**
   * Once ready: /readyz answers 503 for shutdown.drainMs while everything is still served; then stops
   * receivers, flushes every buffered item into the store, closes the store. Safe twice.
   */
  stop(): Promise<void>;
  /**
   * Reads again what can change without a restart, as the OTel Collector and Prometheus do on
   * SIGHUP: the alert rules file, the TLS files and the JWKS file (also picked up on their own, by a
   * watch, every tls.reloadIntervalMs, once a second) and, given `loadConfig` (the config as started:
   * file, environment, flags), the API keys (`auth.apiKeys`), whatever else the config changed. Other
   * changed settings are named in a warning and wait for a restart; a config that does not load or
   * would not start (checkStartable) is logged and changes nothing. Never rejects.
   */
  reload(loadConfig?: () => GatewayConfig): Promise<void>;
  /** Bound addresses after start (tests ask for port 0). */
  addresses(): { graphql: string; otlpGrpc?: string; otlpHttp?: string };
  ready(): boolean;
  /** For tests and benchmarks: the running pieces. */
  readonly internals: {
    store(): DuckDbStore | undefined;
    pipelines(): RunningPipelines | undefined;
    tail(): TailBus;
    alerting(): AlertEngine | undefined;
    backends(): BackendRegistry;
    search(): SearchParts | undefined;
    retention(): Retention | undefined;
  };
}

export interface AppOptions {
  logger?: Logger;
  /** Alerting's clock (tests drive evaluations with data timestamps). */
  clock?: Clock;
  /** Awaited before the store opens (tests: send data while the store is still opening). */
  beforeStoreOpen?: () => Promise<void>;
}

interface OtlpAddresses {
  addresses(): { grpc?: string; http?: string };
}

/**
 * The backend exporters a config uses. Each is imported only then: their clients (Elasticsearch,
 * OTLP/gRPC, remote write) took ~0.7 s of start-up that the embedded default does not need.
 */
/**
 * Every component factory a config may name: the embedded ones and its backend exporters. The
 * store's writer and the search indexer are promises, as the store opens after the listeners.
 */
async function componentRegistry(
  cfg: GatewayConfig,
  security: { receiver: Parameters<typeof otlpReceiverFactoryWith>[0] },
  writer: Promise<StoreWriter>,
  indexer: Promise<SearchIndexer | null>,
  storeDown: StoreDown,
): Promise<Registry> {
  return createRegistry([
    refusingWhileStoreDown(otlpReceiverFactoryWith(security.receiver), storeDown),
    batchProcessorFactory,
    memoryLimiterProcessorFactory,
    limitsProcessorFactory,
    redactionProcessorFactory,
    duckDbExporterFactory(openingWriter(writer)),
    embeddingExporterFactory(indexer),
    ...(await backendExporterFactories(cfg)),
  ]);
}

/**
 * The files a config names outside its pipelines (whose components read theirs when they are built),
 * read and checked by the functions that use them: the TLS files, the JWKS file, the alert rules file
 * (read, not parsed: its rules are the rules file's own reload, which keeps the previous ones when
 * they are refused), the read sources' CA files. Start-up runs it before anything opens (a rules file
 * that could not be read stopped start-up only once alerting started, leaving the store's file
 * behind) and a SIGHUP before anything is applied, so a file that would stop the one fails the other
 * with the same SettingError, naming the key.
 */
function checkSettingFiles(cfg: GatewayConfig, problems: ConfigProblems): void {
  if (cfg.tls.certFile) problems.check(() => readTlsFiles(cfg.tls));
  if (cfg.auth.mode.includes('jwt') && cfg.auth.jwt.jwksFile) problems.check(() => readJwks(cfg.auth.jwt.jwksFile));
  if (cfg.alerting.enabled && cfg.alerting.rulesFile) problems.check(() => readSettingFile('alerting.rulesFile', cfg.alerting.rulesFile));
  const { read, elasticsearch, prometheus } = cfg.storage;
  if (read.logs === 'elasticsearch' && elasticsearch.caFile) problems.check(() => readSettingFile('storage.elasticsearch.caFile', elasticsearch.caFile));
  if (read.metrics === 'prometheus' && prometheus.caFile) problems.check(() => readSettingFile('storage.prometheus.caFile', prometheus.caFile));
}

/**
 * Whether `next` would start, as far as can be told without starting it: the files it names read as
 * start-up reads them, its pipelines build (every section's type and keys, the processors' order) and
 * its alerting settings read. A SIGHUP that finds a config failing this is a failed reload, not an
 * "ok" that the next restart refuses.
 */
async function checkStartable(next: GatewayConfig, security: { receiver: Parameters<typeof otlpReceiverFactoryWith>[0] }): Promise<void> {
  const problems = new ConfigProblems();
  checkSettingFiles(next, problems);
  const registry = await componentRegistry(next, security, new Promise(() => {}), Promise.resolve(null), () => null);
  // Created, never started: a factory's create checks its config and builds objects, no I/O.
  problems.check(() => buildPipelines(registry, withSecurityProcessors(next), silentLogger()));
  if (next.alerting.enabled) {
    const { checkAlertingConfig } = await import('./alerting/index.ts');
    problems.check(() => checkAlertingConfig(next.alerting));
  }
  problems.throwIfAny();
}

/** Whether the signal's pipeline has an exporter of this type (`duckdb`, `embedding/…`). */
function pipelineExportsTo(cfg: GatewayConfig, signal: Signal, type: string): boolean {
  return cfg.pipelines[signal]?.exporters.some((id) => componentType(id) === type) ?? false;
}

async function backendExporterFactories(cfg: GatewayConfig): Promise<AnyFactory[]> {
  // A pipeline may only name exporters configured here (buildPipelines checks), so these suffice.
  const named = new Set(Object.keys(cfg.exporters).map(componentType));
  const factories: Promise<AnyFactory>[] = [];
  if (named.has('jaeger')) factories.push(import('../ingest/exporters/jaeger/factory.ts').then((m) => m.jaegerExporterFactory));
  if (named.has('elasticsearch')) {
    const read = cfg.storage.read.logs === 'elasticsearch' ? { index: cfg.storage.elasticsearch.index } : undefined;
    factories.push(import('../ingest/exporters/elasticsearch/factory.ts').then((m) => m.elasticsearchExporterFactory(cfg.storage.elasticsearch, read)));
  }
  if (named.has('prometheus')) factories.push(import('../ingest/exporters/prometheus/factory.ts').then((m) => m.prometheusExporterFactory));
  return Promise.all(factories);
}

const PROCESS_START_SECONDS = Math.round(Date.now() / 1000 - process.uptime());

export function buildApp(cfg: GatewayConfig, opts: AppOptions = {}): App {
  const root = opts.logger ?? createRootLogger(cfg.log.level);
  const log = componentLogger(root, 'app');
  let store: DuckDbStore | undefined;
  let pipelines: RunningPipelines | undefined;
  let graphql: GraphQLServer | undefined;
  // The GraphQL port, bound with the receivers' before the store opens its file (graphql takes it over).
  let graphqlListener: GraphQLListener | undefined;
  // Settled once every listener is bound (resolved) or one could not bind (rejected): the store opens
  // its file only after, so a port in use does not leave a new DuckDB file behind.
  const listenersBound = deferred<void>();
  listenersBound.promise.catch(() => undefined);
  let readiness: Readiness = 'starting';
  /** Why the DuckDB store serves nothing now (a failed reopen, retried: Db.reopenFailure), or null. */
  const storeDownReason = () => store?.db.reopenFailure?.message ?? null;
  // What /readyz answers: 503 naming the reason while the store is down, though the gateway started.
  const probeStatus = (): string => {
    const down = readiness === 'ready' ? storeDownReason() : null;
    return down === null ? readiness : `unavailable: ${down}`;
  };
  // OTLP for a signal whose pipeline writes to DuckDB is refused (retryable) while the store is down.
  const storeDown: StoreDown = (signal) => {
    const why = storeDownReason();
    return why !== null && duckDbRoles()[signal].includes('WRITE') ? why : null;
  };
  let closeReaders: (() => Promise<void>) | undefined;
  let stopping: Promise<void> | undefined;
  let alerting: Alerting | undefined;
  let search: SearchParts | undefined;
  let retention: Retention | undefined;
  let storeOpening: Promise<{ store: DuckDbStore; search?: SearchParts }> | undefined;
  // Live tails: ingest publishes every batch here (before batching and storage); subscriptions read.
  const tailService = createTailService(cfg.tail, componentLogger(root, 'tail'), async (signal) => {
    // Everything the signal's batch processors hold now is written once their flush resolves.
    const flushes = [...(pipelines?.components ?? [])]
      .filter(([id]) => id.endsWith(`/${signal}`))
      .map(([, c]) => (c as Partial<{ flush(): Promise<void> }>).flush?.call(c));
    await Promise.all(flushes);
  });
  const tail = tailService.bus;
  // What the `backends` query and /metrics report: exporters, the DuckDB store, the read sources.
  const backends = createBackendRegistry();

  // Every file the config names that cannot be read is named at once, before the first is read
  // for use (the listeners' TLS files, the JWKS, here) and before the store creates its file.
  const fileProblems = new ConfigProblems();
  checkSettingFiles(cfg, fileProblems);
  fileProblems.throwIfAny();
  // Credentials, limits and TLS shared by every listener (src/auth, src/limits, src/server/security.ts).
  const security = createSecurity(cfg, root);

  const host: Host = {
    logger: root,
    reportError: (componentId, err) => log.error({ err, component: componentId }, 'component reported an error'),
  };

  /**
   * Loads DuckDB (its native binding alone takes ~270 ms), opens the store and the search tables.
   * Runs while the receivers already listen: what they acknowledge meanwhile waits in the pipeline.
   */
  async function openStore(): Promise<{ store: DuckDbStore; search?: SearchParts }> {
    await opts.beforeStoreOpen?.();
    const [{ openDuckDbStore }, { retentionPlan, startRetention }] = await Promise.all([import('./stores/duckdb/index.ts'), import('./stores/duckdb/retention.ts')]);
    await listenersBound.promise;
    const opened = await openDuckDbStore({
      path: cfg.storage.duckdb.path,
      logger: componentLogger(root, 'duckdb'),
      threads: cfg.storage.duckdb.threads || undefined,
      memoryLimit: cfg.storage.duckdb.memoryLimit || undefined,
      readLanes: cfg.storage.duckdb.readLanes,
      writeStepRows: cfg.storage.duckdb.writeStepRows,
      writeStepMs: cfg.storage.duckdb.writeStepMs,
      reopenEveryRows: cfg.storage.duckdb.reopenEveryRows,
    });
    store = opened;
    const plan = retentionPlan(cfg.storage.retention);
    if (cfg.search.enabled) {
      // No model is loaded here: the first indexed record or search query loads it.
      const { openSemanticSearch } = await import('./search/setup.ts');
      const roles = duckDbRoles();
      search = await openSemanticSearch(cfg.search, opened.db, componentLogger(root, 'search'), { traces: roles.traces.includes('WRITE'), logs: roles.logs.includes('WRITE') });
      // Only a pipeline with the embedding exporter feeds the index: a list of exporters written
      // for a backend (TELEQL_TRACES_EXPORTERS=duckdb,jaeger) dropped it without a word.
      const unindexed = (['traces', 'logs'] as const).filter((signal) => cfg.pipelines[signal] && !pipelineExportsTo(cfg, signal, 'embedding'));
      if (unindexed.length > 0) {
        log.warn({ pipelines: unindexed }, `search.enabled, but the ${unindexed.join(' and ')} pipeline${unindexed.length > 1 ? 's have' : ' has'} no embedding exporter: search and similar will not find them (add embedding to pipelines.<signal>.exporters)`);
      }
    }
    retention = startRetention(opened.db, { plan, logger: componentLogger(root, 'retention'), pruneParts: opened.pruneParts, search: search?.retention });
    return { store: opened, ...(search && { search }) };
  }

  async function start(): Promise<void> {
    const t0 = performance.now();
    // Before any listener accepts: an operator reading the first lines of the log sees it.
    security.warnIfExposed();
    storeOpening = openStore();
    storeOpening.catch(() => undefined); // awaited below, after the receivers listen
    // Whatever fails before every listener is bound (a component section, Redis, a port) leaves
    // no data file: the store opens only once listenersBound resolves.
    try {
      const registry = await componentRegistry(
        cfg,
        security,
        storeOpening.then((o) => o.store.writer),
        storeOpening.then((o) => o.search?.indexer ?? null),
        storeDown,
      );
      await tail.start();
      pipelines = buildPipelines(registry, withSecurityProcessors(cfg), root, tailTaps(tail));
      addComponentReporters(backends, pipelines.components.values());
      await pipelines.start(host);
      graphqlListener = await openGraphQLListener({ host: cfg.graphql.host, port: cfg.graphql.port, readiness: probeStatus, authenticator: security.authenticator, ...security.graphqlListener });
    } catch (err) {
      listenersBound.reject(err);
      throw err;
    }
    listenersBound.resolve();
    log.info({ ms: Math.round(performance.now() - t0), sinceProcessStartMs: Math.round(process.uptime() * 1000), otlp: otlpAddresses() }, 'accepting OTLP');
    // A store that cannot open fails start-up here (the caller stops the process with the error).
    const { store } = await storeOpening;
    const exporterStats = (signal: Signal) => {
      const sum = { failedItems: 0, retries: 0 };
      for (const [id, c] of pipelines?.components ?? []) {
        const s = id.endsWith(`/${signal}`) ? duckDbExporterStats(c) : undefined;
        sum.failedItems += s?.failedItems ?? 0;
        sum.retries += s?.retries ?? 0;
      }
      return sum;
    };
    for (const r of duckDbReporters(() => store.stats(), exporterStats, duckDbRoles(), cfg.storage.duckdb.path)) backends.add(r);
    search?.warmUp();
    log.info({ ms: Math.round(performance.now() - t0), sinceProcessStartMs: Math.round(process.uptime() * 1000) }, 'store open');

    // The GraphQL side loads after ingest is listening: its modules are the heaviest to import.
    const [{ createGraphQLServer }, { schema }, { createContextFactory }] = await Promise.all([
      import('./server/graphql-server.ts'),
      import('../schema/index.ts'),
      import('../resolvers/context.ts'),
    ]);
    const readers = await openReadSources(store);
    closeReaders = readers.close;
    if (cfg.alerting.enabled) {
      const { startAlerting } = await import('./alerting/index.ts');
      // PROMQL rules go to the metrics read source when that is Prometheus and no other URL is set.
      const rulesOn = cfg.alerting.prometheusUrl || (cfg.storage.read.metrics === 'prometheus' ? cfg.storage.prometheus.url : '');
      alerting = await startAlerting({
        config: cfg.alerting,
        ...(rulesOn && { prometheus: prometheusConnection(rulesOn, cfg.alerting.prometheusTenantHeader, cfg.alerting.retry.timeoutMs) }),
        db: store.db,
        metrics: store.metrics,
        exceptions: store.correlation.exceptions,
        bus: tail,
        clock: opts.clock,
        logger: componentLogger(root, 'alerting'),
        redisUrl: cfg.tail.redis.url,
        redisChannelPrefix: cfg.tail.redis.channelPrefix,
        graphqlPath: cfg.graphql.path,
      });
    }
    const contextFor = createContextFactory(
      { traces: readers.traces, logs: readers.logs, metrics: readers.metrics, catalog: store.catalog, correlation: correlationStores(store, readers.logs), replay: replayStores(store, readers) },
      tail,
      { alerting: alerting?.engine, backends: () => backends.statuses(), search: search?.service, maxTraceSpans: cfg.limits.graphql.maxTraceSpans },
    );
    graphql = createGraphQLServer({
      ...cfg.graphql,
      listener: graphqlListener,
      schema,
      contextFor,
      readiness: probeStatus,
      metrics: gatewayMetrics,
      logger: componentLogger(root, 'graphql'),
      compileSubscriptions: cfg.tail.compiled,
      tailFlush: { intervalMs: cfg.tail.flushIntervalMs, busyIntervalMs: cfg.tail.busyFlushIntervalMs },
      ...security.graphql,
    });
    await graphql.start();
    // A stop that came during start-up closed what existed then, not this listener: close it, and
    // never turn ready.
    if (stopping) return graphql.stop();
    readiness = 'ready';
    log.info({ ms: Math.round(performance.now() - t0), sinceProcessStartMs: Math.round(process.uptime() * 1000), graphql: `${security.graphqlListener.tls ? 'https' : 'http'}://${graphql.address()}${cfg.graphql.path}` }, 'ready');
  }

  /** The store each signal is read from: DuckDB unless the config names another backend. */
  async function openReadSources(duck: DuckDbStore): Promise<{ traces: TraceStore; logs: LogStore; metrics: MetricStore; close: () => Promise<void> }> {
    const { read, jaeger, elasticsearch: es } = cfg.storage;
    let traces: TraceStore = duck.traces;
    let logs: LogStore = duck.logs;
    const closers: (() => Promise<void>)[] = [];
    if (read.traces === 'jaeger') {
      const { createJaegerTraceStore } = await import('./stores/jaeger/index.ts');
      const observed = observeStore(
        createJaegerTraceStore({
          baseUrl: jaeger.url,
          timeoutMs: jaeger.timeoutMs,
          tenantHeader: jaeger.tenantHeader,
          alwaysSendTenant: jaeger.alwaysSendTenant,
          headers: jaeger.headers,
          spanLookbackNs: BigInt(jaeger.spanLookup.lookbackMs) * 1_000_000n,
          spanLookupRequests: jaeger.spanLookup.maxRequests,
          logger: componentLogger(root, 'jaeger'),
        }),
        { id: 'jaeger/read/traces', kind: 'jaeger', signal: 'traces', endpoint: jaeger.url },
      );
      traces = observed.store;
      backends.add(observed.reporter);
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
        tls: { ...(es.caFile && { ca: readSettingFile('storage.elasticsearch.caFile', es.caFile) }), rejectUnauthorized: es.rejectUnauthorized },
        requestTimeoutMs: es.requestTimeoutMs,
        logger: componentLogger(root, 'elasticsearch'),
      });
      const observed = observeStore(esLogs, { id: 'elasticsearch/read/logs', kind: 'elasticsearch', signal: 'logs', endpoint: es.node });
      logs = observed.store;
      backends.add(observed.reporter);
      closers.push(() => esLogs.close());
    }
    let metrics: MetricStore = duck.metrics;
    if (read.metrics === 'prometheus') {
      const { createPrometheusStore } = await import('./stores/prometheus/index.ts');
      const p = cfg.storage.prometheus;
      // The same object answers PromQL (resolvers/promql.ts checks for the PromQlStore methods).
      const prom = createPrometheusStore(readSourceConnection(p.timeoutMs));
      const observed = observeStore(prom, { id: 'prometheus/read/metrics', kind: 'prometheus', signal: 'metrics', endpoint: p.url });
      metrics = observed.store;
      backends.add(observed.reporter);
    }
    log.info({ traces: traces.backend, logs: logs.backend, metrics: metrics.backend }, 'read sources');
    return { traces, logs, metrics, close: async () => void (await Promise.all(closers.map((c) => c()))) };
  }

  /**
   * Tails replay spans and metric points from DuckDB when their pipeline writes it and they are
   * read from Jaeger or Prometheus: a `since` replay waits for the pipeline's batches to be written
   * to DuckDB (not for an exporter's queue and the backend's own delay), and DuckDB keeps a point as
   * received (Prometheus gives back labels, and no raw histogram). Logs read from Elasticsearch
   * replay from it all the same: a log's `id` is its document there, which `log(id)` reads.
   */
  function replayStores(duck: DuckDbStore, readers: { traces: TraceStore; metrics: MetricStore }): NonNullable<Stores['replay']> {
    return {
      ...(readers.traces !== duck.traces && pipelineExportsTo(cfg, 'traces', 'duckdb') && { traces: duck.traces }),
      ...(readers.metrics !== duck.metrics && pipelineExportsTo(cfg, 'metrics', 'duckdb') && { metrics: duck.metrics }),
    };
  }

  /** storage.prometheus: how the metrics read source's Prometheus is reached. */
  function readSourceConnection(timeoutMs: number): PrometheusClientOptions {
    const p = cfg.storage.prometheus;
    return {
      url: p.url,
      timeoutMs,
      username: p.username,
      password: p.password,
      bearer: p.bearer,
      tenantHeader: p.tenantHeader,
      headers: p.headers,
      ...(p.caFile && { ca: readSettingFile('storage.prometheus.caFile', p.caFile) }),
      rejectUnauthorized: p.rejectUnauthorized,
    };
  }

  /**
   * How PROMQL rules and RED reach the Prometheus at `url`. The metrics read source's Prometheus
   * (read.metrics prometheus, the same URL but for a trailing slash) is reached as the read path
   * reaches it: storage.prometheus's credentials, headers, CA and tenant header, so that one
   * Prometheus is never reached two ways. Any other with what its URL carries (user info as Basic
   * auth) and the feature's own tenant header.
   */
  function prometheusConnection(url: string, tenantHeader: string, timeoutMs: number): PrometheusClientOptions {
    const trimmed = (u: string) => u.replace(/\/+$/, '');
    if (cfg.storage.read.metrics === 'prometheus' && trimmed(url) === trimmed(cfg.storage.prometheus.url)) return readSourceConnection(timeoutMs);
    return { url, timeoutMs, tenantHeader };
  }

  /**
   * Correlation reads DuckDB's tables; logs around a span only when logs are read from DuckDB too;
   * RED from Prometheus spanmetrics series when configured.
   */
  function correlationStores(duck: DuckDbStore, logs: LogStore): CorrelationStores {
    const { logWindows, ...rest } = duck.correlation;
    const red = cfg.correlation.red;
    if (red.source === 'prometheus') {
      const { url, ...connection } = prometheusConnection(red.prometheusUrl, red.tenantHeader, red.timeoutMs);
      rest.red = createSpanmetricsRedStore({
        baseUrl: url,
        ...connection,
        callsMetric: red.callsMetric,
        durationBucketMetric: red.durationBucketMetric,
        durationUnitNano: red.durationUnit === 's' ? 1e9 : 1e6,
      });
    }
    return logs === duck.logs && logWindows ? { ...rest, logWindows } : rest;
  }

  function gatewayMetrics(): MetricSample[] {
    const samples: MetricSample[] = [];
    for (const result of ['ok', 'failed'] as const) {
      samples.push({ name: 'teleql_config_reloads_total', help: 'Config loads on SIGHUP: its API keys applied (ok; other changed settings wait for a restart), or a config that does not load or would not start, nothing applied (failed)', type: 'counter', value: configReloads[result], labels: { result } });
    }
    samples.push({ name: 'teleql_config_last_reload_successful', help: '0 when the last SIGHUP found a config that does not load or would not start (the settings in force stay), else 1', type: 'gauge', value: configReloads.lastFailed ? 0 : 1 });
    samples.push({ name: 'teleql_config_last_reload_success_timestamp_seconds', help: 'When a SIGHUP last applied the config (0: never)', type: 'gauge', value: configReloads.lastOkAtMs / 1000 });
    for (const c of pipelines?.components.values() ?? []) {
      const m = (c as Partial<{ metrics(): MetricSample[] }>).metrics;
      if (typeof m === 'function') samples.push(...m.call(c));
    }
    if (store) {
      const s = store.stats();
      for (const [table, rows] of Object.entries(s.rowsWritten)) {
        samples.push({ name: 'teleql_duckdb_rows_written_total', help: 'Rows committed to DuckDB', type: 'counter', value: rows, labels: { table } });
      }
      samples.push({ name: 'teleql_duckdb_write_errors_total', help: 'Write attempts DuckDB refused (each retry of a batch counts)', type: 'counter', value: s.writeErrors });
      for (const [table, steps] of Object.entries(s.appendSteps)) {
        samples.push({ name: 'teleql_duckdb_append_steps_total', help: 'Synchronous appender steps, each followed by a yield to the event loop (storage.duckdb.writeStepMs, writeStepRows)', type: 'counter', value: steps, labels: { table } });
      }
      samples.push({ name: 'teleql_duckdb_strings_cut_total', help: 'Strings (a column value: attributes, events, a body) stored cut to 16,000 characters, since DuckDB cannot keep many longer ones (docs/known-gaps.md)', type: 'counter', value: store.stringsCut() });
      const oom = store.db.outOfMemoryReads;
      samples.push({ name: 'teleql_duckdb_reads_out_of_memory_total', help: 'Reads that ran out of DuckDB memory (storage.duckdb.memoryLimit): run again once the read lanes were quiet, and those that failed again', type: 'counter', value: oom.retried, labels: { outcome: 'retried' } });
      samples.push({ name: 'teleql_duckdb_reads_out_of_memory_total', help: 'Reads that ran out of DuckDB memory (storage.duckdb.memoryLimit): run again once the read lanes were quiet, and those that failed again', type: 'counter', value: oom.failedAgain, labels: { outcome: 'failed_again' } });
      samples.push({ name: 'teleql_duckdb_reopens_total', help: 'DuckDB instance reopens (storage.duckdb.reopenEveryRows, each giving back the native memory of the row groups written before it; a failed commit or checkpoint)', type: 'counter', value: store.db.reopens });
      for (const [table, ms] of Object.entries(s.longestStepMs)) {
        samples.push({ name: 'teleql_duckdb_append_step_longest_seconds', help: 'The longest appender step since start (wall clock; a step far over storage.duckdb.writeStepMs delayed every request and live tail behind it)', type: 'gauge', value: ms / 1000, labels: { table } });
      }
    }
    // Where the resident memory is: V8's heap, buffers outside it; the rest of rss is native
    // (DuckDB, onnxruntime, code).
    const mem = process.memoryUsage();
    // The standard process metrics, under the names dashboards for any exporter use.
    const cpu = process.cpuUsage();
    samples.push(
      { name: 'process_cpu_seconds_total', help: 'Total user and system CPU time spent in seconds', type: 'counter', value: (cpu.user + cpu.system) / 1e6 },
      { name: 'process_resident_memory_bytes', help: 'Resident memory size in bytes', type: 'gauge', value: mem.rss },
      { name: 'process_start_time_seconds', help: 'Start time of the process since unix epoch in seconds', type: 'gauge', value: PROCESS_START_SECONDS },
    );
    for (const [kind, value] of [['rss', mem.rss], ['heap_used', mem.heapUsed], ['heap_total', mem.heapTotal], ['external', mem.external], ['array_buffers', mem.arrayBuffers]] as const) {
      samples.push({ name: 'teleql_process_memory_bytes', help: 'process.memoryUsage() of the gateway', type: 'gauge', value, labels: { kind } });
    }
    samples.push(...backendMetrics(backends.statuses()));
    samples.push(...tailService.metrics());
    samples.push(...security.metrics(), ...security.authenticator.metrics());
    if (retention) samples.push(...retention.metrics());
    if (alerting) samples.push(...alerting.engine.metrics());
    if (search) {
      const st = search.service.status();
      samples.push({ name: 'teleql_search_pending', help: 'Records waiting to be indexed for search', type: 'gauge', value: st.pending });
      samples.push({ name: 'teleql_search_indexed_total', help: 'Records indexed for search', type: 'counter', value: st.indexed });
      samples.push({ name: 'teleql_search_skipped_total', help: 'Records not indexed (queue full, model unavailable, or left when the gateway stopped)', type: 'counter', value: st.skipped });
      samples.push({ name: 'teleql_search_embedded_total', help: 'Distinct texts embedded (the rest came from the cache)', type: 'counter', value: st.embedded });
    }
    return samples;
  }

  /** Per signal: WRITE when a pipeline exports to DuckDB, READ when queries are answered from it. */
  function duckDbRoles(): Record<'traces' | 'logs' | 'metrics', BackendRole[]> {
    const roles = { traces: [] as BackendRole[], logs: [] as BackendRole[], metrics: [] as BackendRole[] };
    for (const signal of ['traces', 'logs', 'metrics'] as const) {
      if (cfg.pipelines[signal]?.exporters.some((id) => id === 'duckdb' || id.startsWith('duckdb/'))) roles[signal].push('WRITE');
      if (cfg.storage.read[signal] === 'duckdb') roles[signal].push('READ');
    }
    return roles;
  }

  function otlpAddresses(): { grpc?: string; http?: string } {
    for (const [id, c] of pipelines?.components ?? []) {
      if (id === 'otlp' || id.startsWith('otlp/')) return (c as unknown as OtlpAddresses).addresses();
    }
    return {};
  }

  async function stop(): Promise<void> {
    stopping ??= (async () => {
      const wasReady = readiness === 'ready';
      readiness = 'draining';
      // Load balancers learn of the stop from failing /readyz probes, or on Kubernetes once the pod's
      // endpoint removal has reached kube-proxy and ingresses: seconds in which they still send, so
      // the listeners keep accepting OTLP and GraphQL. A gateway never ready has no traffic to drain.
      const { drainMs } = cfg.shutdown;
      if (wasReady && drainMs > 0) {
        log.info({ drainMs }, 'draining: /readyz answers 503, OTLP and GraphQL are still served until the listeners close');
        await sleep(drainMs);
      }
      // A stop during start-up, before every listener was bound: the store still opens, for the flush.
      listenersBound.resolve();
      // Receivers stop first (pipelines shut down upstream first), then batches flush into the store.
      await (graphql ? graphql.stop() : graphqlListener?.close());
      await pipelines?.shutdown();
      // Still opening (a stop during start-up): the flush above waited for it; close what opened.
      await storeOpening?.catch(() => undefined);
      await alerting?.stop();
      // Retention before search: a pass may be pruning search's texts and its ANN index.
      await retention?.stop();
      await search?.close();
      await closeReaders?.();
      await tail.close();
      security.close();
      await store?.close();
      log.info('stopped');
    })();
    return stopping;
  }

  // SIGHUP config loads, for /metrics (as Prometheus' prometheus_config_last_reload_successful).
  const configReloads = { ok: 0, failed: 0, lastFailed: false, lastOkAtMs: 0 };

  async function reload(loadConfig?: () => GatewayConfig): Promise<void> {
    // Stopping: the rules would be applied to an engine whose store is closing.
    if (stopping) return;
    let apiKeys: number | 'unchanged' | 'refused' = 'unchanged';
    if (loadConfig) {
      try {
        const next = loadConfig();
        await checkStartable(next, security);
        configReloads.ok++;
        configReloads.lastFailed = false;
        configReloads.lastOkAtMs = Date.now();
        // Once per reload, every changed setting a SIGHUP does not apply: they changed silently.
        const atRestart = changedSettings(cfg, next).filter((key) => key !== 'auth.apiKeys');
        if (atRestart.length > 0) {
          // A key left in auth.apiKeys under a mode without API keys works until the restart: say so.
          const keysStay = next.auth.mode !== cfg.auth.mode && cfg.auth.mode.includes('apiKey') && !next.auth.mode.includes('apiKey');
          log.warn(
            { settings: atRestart, ...(atRestart.includes('auth.mode') && { mode: cfg.auth.mode, configured: next.auth.mode }) },
            `changed in the config, taking effect at a restart: ${atRestart.join(', ')}` +
              (keysStay ? `; until then auth.mode stays ${cfg.auth.mode}, and the keys still listed in auth.apiKeys are accepted` : ''),
          );
        }
        // The keys in force follow the list whatever else changed (auth.mode too): a key removed
        // in the same edit as a restart-only change was kept valid.
        if (cfg.auth.mode.includes('apiKey')) {
          security.authenticator.setApiKeys(next.auth.apiKeys);
          apiKeys = next.auth.apiKeys.length;
        }
      } catch (err) {
        configReloads.failed++;
        configReloads.lastFailed = true;
        apiKeys = 'refused';
        log.error({ err: (err as Error).message }, 'the config does not load or would not start (err says why); nothing from it was applied');
      }
    }
    // Read now rather than at its next look: a key removed from it stops verifying, and its tails close.
    security.authenticator.reloadJwks();
    let tls: TlsReload | 'off' = 'off';
    try {
      const listenerTls = security.graphqlListener.tls;
      if (listenerTls) tls = listenerTls.reload();
    } catch (err) {
      log.warn({ err }, 'reloading the TLS files failed');
    }
    const rulesFile = alerting?.rulesFile;
    const rulesError = rulesFile ? await rulesFile.reload().catch((err: unknown) => String(err)) : undefined;
    const summary = { apiKeys, tls, rulesFile: rulesFile ? (rulesError ? 'refused' : 'loaded') : 'none', ...(rulesError && { rulesFileError: rulesError }) };
    const refused = [apiKeys === 'refused' && 'the config (its API keys)', tls === 'failed' && 'the TLS files', rulesError && 'the alert rules file'].filter((part): part is string => typeof part === 'string');
    if (refused.length === 0) log.info(summary, 'reloaded the API keys, the TLS files and the alert rules file; other settings take effect at a restart');
    else log.warn(summary, `reload: ${refused.join(', ')} refused, the previous ones stay in force (the lines above say why); the rest was reloaded`);
  }

  return {
    start,
    stop,
    reload,
    ready: () => readiness === 'ready',
    addresses: () => {
      const otlp = otlpAddresses();
      return { graphql: graphqlListener?.address ?? '', otlpGrpc: otlp.grpc, otlpHttp: otlp.http };
    },
    internals: { store: () => store, pipelines: () => pipelines, tail: () => tail, alerting: () => alerting?.engine, backends: () => backends, search: () => search, retention: () => retention },
  };
}
