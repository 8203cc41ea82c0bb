// Writes log records to Elasticsearch (a data stream, bulk `create` with stable IDs) through the
// shared queued exporter. The bulk answer is read per item: retryable items (429, 5xx) go back to
// the queue alone, with their document IDs (kept by the queue as retry keys, through the spill and a
// restart) so a resend stays idempotent; permanent failures are counted and logged with their reason
// by the writer.
//
// The index template is installed in the background from start, tried again with backoff until it is
// in (start never waits on Elasticsearch: the gateway's listeners bind after its exporters start), and
// no bulk goes out before it: a data stream created without it would keep Elasticsearch's built-in
// `logs` template. Until it is in, the exporter is unhealthy with the reason as its lastError.
//
// Errors (what `backends.lastError` shows admins) name the backend, the call, how many records failed
// and Elasticsearch's error types, as the Jaeger exporter's name the status: Elasticsearch's
// per-document reasons quote the documents' values ("Preview of field's value: '…'"), so they go to
// the component log only, clipped (the writer logs them with this exporter's logger).
import type { Logger } from 'pino';
import type { ExporterFactory, Signal } from '../../component.ts';
import type { GatewayConfig } from '../../../src/config/types.ts';
import type { LogRecord } from '../../../src/model/telemetry.ts';
import {
  BULK_CALL,
  createElasticsearchLogWriter,
  DEFAULT_DATA_STREAM,
  DEFAULT_MAX_BULK_BYTES,
  indexExpressionCovers,
  indexPatternMatches,
  type BulkOutcome,
  type ElasticsearchAuth,
  type ElasticsearchLogWriter,
} from '../../../src/stores/elasticsearch/index.ts';
import {
  backoffMs,
  checkMaxRequestBytes,
  createQueuedExporter,
  defaultQueueSettings,
  type QueueSettings,
  type SendResult,
  type Sender,
  type SenderReport,
} from '../helpers/index.ts';
import { defaultConnectionSettings, tlsMaterial, type ConnectionSettings } from '../helpers/connection.ts';
import { SettingError } from '../../../src/config/merge.ts';
import { settingUrl } from '../../../src/config/setting-values.ts';

export interface ElasticsearchExporterConfig extends ConnectionSettings, QueueSettings {
  /** e.g. `http://elasticsearch:9200`. */
  node: string;
  /** The data stream written to. */
  dataStream: string;
  /** Install teleql's index template (`templatePattern`) before the first bulk (idempotent; in the background from start). */
  installTemplate: boolean;
  /** The index template's pattern; must match dataStream (checked at start when installTemplate). */
  templatePattern: string;
  requestTimeoutMs: number;
  /** The largest `_bulk` request, about: a batch goes in as many requests as keep under it (10 MiB). */
  maxRequestBytes: number;
}

/** The connection the read store uses, so one set of settings (and TELEQL_ES_* env) serves both. */
export type ElasticsearchDefaults = Omit<GatewayConfig['storage']['elasticsearch'], 'index'>;

/** The log read store's target, when logs are read from Elasticsearch (`storage.elasticsearch.index`). */
export interface ElasticsearchReadTarget {
  index: string;
}

/**
 * The start-up checks between an exporter's data stream, its template pattern and the read store's
 * index (QA: `dataStream: logs-myapp-prod` alone got Elasticsearch's built-in template, ms dates and
 * mapping conflicts, and every log query answered "no logs").
 *
 * - templatePattern must match dataStream when teleql installs the template: otherwise the template
 *   it installs applies to nothing it writes, and no working setup looks like that (whoever manages
 *   the template themselves sets installTemplate: false). Refused, naming both keys.
 * - storage.elasticsearch.index should cover dataStream: otherwise log queries do not see what this
 *   exporter writes. Only warned about: a working setup can differ (the index is an alias of the
 *   stream, a remote cluster, or the reads are meant for streams another writer fills).
 */
function checkTargets(config: ElasticsearchExporterConfig, read: ElasticsearchReadTarget | undefined, logger: Logger): void {
  if (config.installTemplate && !indexPatternMatches(config.templatePattern, config.dataStream)) {
    throw new SettingError(
      'templatePattern',
      `'${config.templatePattern}' does not match this exporter's dataStream '${config.dataStream}', so the index template teleql installs would not apply to it ` +
        `(Elasticsearch's own would: millisecond timestamps, and records with both "http" and "http.method" attributes refused); ` +
        `set templatePattern to a pattern matching the data stream (e.g. '${config.dataStream.includes('-') ? `${config.dataStream.replace(/-[^-]*$/, '')}-*` : config.dataStream}'), or installTemplate: false if you manage the template yourself`,
    );
  }
  if (read !== undefined && indexExpressionCovers(read.index, config.dataStream) === false) {
    logger.warn(
      { readIndex: read.index, dataStream: config.dataStream },
      `storage.elasticsearch.index '${read.index}' does not cover this exporter's dataStream '${config.dataStream}': log queries will not see the logs it writes ` +
        `(an index that does not exist reads as no logs) unless '${read.index}' is an alias of that data stream; set storage.elasticsearch.index to the data stream or a pattern matching it`,
    );
  }
}

function auth(a: ConnectionSettings['auth']): ElasticsearchAuth | undefined {
  if (a.apiKey) return { apiKey: a.apiKey };
  if (a.bearer) return { bearer: a.bearer };
  if (a.username) return { username: a.username, password: a.password };
  return undefined;
}

/** An error type as Elasticsearch names them (`document_parsing_exception`); anything else is not shown. */
const errorType = (t: string) => (/^[A-Za-z0-9_.]{1,100}$/.test(t) ? t : 'unknown_error');

/**
 * The error for a bulk attempt that did not store everything, fit for `backends.lastError`:
 * `Elasticsearch refused 2 of 5 log records in _bulk: document_parsing_exception ×1, …`.
 */
function bulkError(records: readonly LogRecord[], outcome: BulkOutcome, failed: number): Error {
  if (outcome.error !== undefined) return new Error(outcome.error);
  if (failed === 0) return new Error(`Elasticsearch asked to resend ${outcome.retry.length} of ${records.length} log records in ${BULK_CALL}`);
  const types = outcome.failed.map((f) => `${errorType(f.type)} ×${f.count}`).join(', ');
  return new Error(`Elasticsearch refused ${failed} of ${records.length} log records in ${BULK_CALL}: ${types} (the reasons are in the gateway log)`);
}

/** BulkOutcome → send result: retry only what ES asked to have resent. */
export function bulkResult(records: readonly LogRecord[], outcome: BulkOutcome): SendResult<'logs'> {
  const failed = outcome.failed.reduce((n, f) => n + f.count, 0);
  if (outcome.retry.length === 0 && failed === 0) return { kind: 'success' };
  const error = bulkError(records, outcome, failed);
  const after = outcome.retryAfterMs !== undefined ? { retryAfterMs: outcome.retryAfterMs } : {};
  if (failed === 0 && outcome.retry.length === records.length) return { kind: 'retryable', error, ...after };
  if (outcome.retry.length === 0 && failed === records.length) return { kind: 'failure', error };
  // The retry items' document IDs go back with them, so the resend answers 409 for any that went in after all.
  // A batch that stopped at a request refused whole (outcome.stopped) is the backend shedding load, not progress.
  return { kind: 'partial', retry: outcome.retry, retryKeys: outcome.retryIds, failed, error, ...after, ...(outcome.stopped && { backendDown: true as const }) };
}

export function createElasticsearchSender(
  writer: ElasticsearchLogWriter,
  node: string,
  installTemplate: boolean,
  retry: QueueSettings['retry'],
  logger: Logger,
): Sender<'logs'> {
  let templateReady = !installTemplate;
  let installing: Promise<void> | undefined; // the install attempt in flight
  let templateError = 'not answered yet';
  let failures = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  let report: SenderReport | undefined;

  /** One install attempt at a time; a failed one schedules the next (backoff as the exporter's retries). */
  function ensureTemplate(): Promise<void> {
    if (templateReady || stopped) return Promise.resolve();
    installing ??= writer
      .ensureIndexTemplate()
      .then(
        () => {
          templateReady = true;
          clearTimeout(retryTimer);
          report?.resolved();
        },
        (err: unknown) => {
          failures++;
          templateError = err instanceof Error ? err.message : String(err);
          report?.problem(`the index template is not installed (no log record is sent before it is): ${templateError}`);
          if (stopped) return;
          const wait = backoffMs(retry, failures);
          logger.warn({ err: templateError, retryInMs: wait }, 'could not install the index template yet; will try again');
          clearTimeout(retryTimer);
          retryTimer = setTimeout(() => void ensureTemplate(), wait);
          retryTimer.unref();
        },
      )
      .finally(() => {
        installing = undefined;
      });
    return installing;
  }

  return {
    endpoint: node,
    start(r) {
      report = r;
      void ensureTemplate();
    },
    async send(records, signal, keys) {
      if (!templateReady) {
        await ensureTemplate();
        if (!templateReady) return { kind: 'retryable', error: new Error(`the index template is not installed yet: ${templateError}`) };
      }
      // Records without a kept ID get theirs derived by the writer (QA round 32: one of two identical lines was lost through the spill).
      const outcome = await writer.writeLogs(records, keys, { signal });
      return bulkResult(records, outcome);
    },
    async shutdown() {
      stopped = true;
      clearTimeout(retryTimer);
      const closed = writer.close();
      // The template request takes no abort signal, and closing the client waits for it, up to
      // requestTimeoutMs: a hung Elasticsearch held SIGTERM 16 s more. It ends on its own.
      if (installing) return void closed.catch(() => {});
      await closed;
    },
  };
}

/** `read`: where log queries read, when that is Elasticsearch (checked against each exporter's data stream at start). */
export function elasticsearchExporterFactory(defaults: ElasticsearchDefaults, read?: ElasticsearchReadTarget): ExporterFactory<ElasticsearchExporterConfig> {
  return {
    kind: 'exporter',
    type: 'elasticsearch',
    signals: ['logs'],
    createDefaultConfig: () => {
      const conn = defaultConnectionSettings();
      return {
        node: defaults.node,
        dataStream: DEFAULT_DATA_STREAM,
        installTemplate: true,
        templatePattern: 'logs-teleql-*',
        requestTimeoutMs: defaults.requestTimeoutMs,
        maxRequestBytes: DEFAULT_MAX_BULK_BYTES,
        headers: conn.headers,
        auth: { username: defaults.username, password: defaults.password, bearer: defaults.bearer, apiKey: defaults.apiKey },
        tls: { ...conn.tls, caFile: defaults.caFile, insecureSkipVerify: !defaults.rejectUnauthorized },
        ...defaultQueueSettings(),
      };
    },
    create<S extends Signal>(settings: { id: string; logger: Logger }, config: ElasticsearchExporterConfig, signal: S) {
      if (config.node === '') throw new SettingError('node', 'not set; set it here or as storage.elasticsearch.node (TELEQL_ES_NODE)');
      settingUrl('node', config.node, ['http:', 'https:']);
      checkMaxRequestBytes(config.maxRequestBytes);
      checkTargets(config, read, settings.logger);
      const a = auth(config.auth);
      const writer = createElasticsearchLogWriter({
        node: config.node,
        headers: config.headers,
        ...(a && { auth: a }),
        tls: tlsMaterial(config.tls),
        requestTimeoutMs: config.requestTimeoutMs,
        dataStream: config.dataStream,
        templatePattern: config.templatePattern,
        maxBulkBytes: config.maxRequestBytes,
        logger: settings.logger,
      });
      const sender = createElasticsearchSender(writer, config.node, config.installTemplate, config.retry, settings.logger) as unknown as Sender<S>;
      return createQueuedExporter({ id: settings.id, kind: 'elasticsearch', signal, sender, settings: config, logger: settings.logger });
    },
  };
}
