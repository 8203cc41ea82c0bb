// Writes log records to Elasticsearch (a data stream, bulk `create` with stable IDs) through the
// shared queued exporter. The bulk answer is read per item: retryable items (429, 5xx) go back to
// the queue alone, with their document IDs so a resend stays idempotent; permanent failures are
// counted and logged with their reason by the writer.
import type { Logger } from 'pino';
import type { ExporterFactory, Signal } from '../../component.ts';
import type { GatewayConfig } from '../../../src/config/types.ts';
import type { LogRecord } from '../../../src/model/telemetry.ts';
import { createElasticsearchLogWriter, DEFAULT_DATA_STREAM, type BulkOutcome, type ElasticsearchAuth, type ElasticsearchLogWriter } from '../../../src/stores/elasticsearch/index.ts';
import { createQueuedExporter, defaultQueueSettings, type QueueSettings, type SendResult, type Sender } from '../helpers/index.ts';
import { defaultConnectionSettings, tlsMaterial, type ConnectionSettings } from '../helpers/connection.ts';
import { SettingError } from '../../../src/config/merge.ts';
import { settingUrl } from '../../../src/config/setting-values.ts';

export interface ElasticsearchExporterConfig extends ConnectionSettings, QueueSettings {
  /** e.g. `http://elasticsearch:9200`. */
  node: string;
  /** The data stream written to. */
  dataStream: string;
  /** Install the `logs-teleql-*` index template at start (idempotent). */
  installTemplate: boolean;
  /** The index template's pattern; must match dataStream. */
  templatePattern: string;
  requestTimeoutMs: number;
}

/** The connection the read store uses, so one set of settings (and TELEQL_ES_* env) serves both. */
export type ElasticsearchDefaults = Omit<GatewayConfig['storage']['elasticsearch'], 'index'>;

function auth(a: ConnectionSettings['auth']): ElasticsearchAuth | undefined {
  if (a.apiKey) return { apiKey: a.apiKey };
  if (a.bearer) return { bearer: a.bearer };
  if (a.username) return { username: a.username, password: a.password };
  return undefined;
}

/** BulkOutcome → send result: retry only what ES asked to have resent. */
export function bulkResult(records: readonly LogRecord[], outcome: BulkOutcome): SendResult<'logs'> {
  const failed = outcome.failed.reduce((n, f) => n + f.count, 0);
  // The error becomes backends { lastError }: error types and counts only. Elasticsearch's reasons
  // quote the documents ("Preview of field's value: …"); the writer has logged them.
  const types = failed > 0 ? `elasticsearch refused ${failed} log records: ${outcome.failed.map((f) => `${f.count}× ${f.type}`).join(', ')} (the reasons are in the gateway log)` : '';
  if (outcome.retry.length === 0 && failed === 0) return { kind: 'success' };
  const error = new Error(outcome.error ?? (types || `elasticsearch asked to resend ${outcome.retry.length} of ${records.length} log records`));
  const after = outcome.retryAfterMs !== undefined ? { retryAfterMs: outcome.retryAfterMs } : {};
  if (failed === 0 && outcome.retry.length === records.length) return { kind: 'retryable', error, ...after };
  if (outcome.retry.length === 0 && failed === records.length) return { kind: 'failure', error };
  return { kind: 'partial', retry: outcome.retry, failed, error, ...after };
}

export function createElasticsearchSender(writer: ElasticsearchLogWriter, node: string, installTemplate: boolean, logger: Logger): Sender<'logs'> {
  // Document IDs of records to resend, so the resend answers 409 for any that went in after all.
  const idOf = new WeakMap<LogRecord, string>();
  let templateReady = !installTemplate;
  async function ensureTemplate(): Promise<void> {
    if (templateReady) return;
    try {
      await writer.ensureIndexTemplate();
      templateReady = true;
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'could not install the index template yet; will try again before the next bulk');
    }
  }
  return {
    endpoint: node,
    async start() {
      await ensureTemplate();
    },
    async send(records, signal) {
      await ensureTemplate();
      const ids = records.map((r) => idOf.get(r));
      const known = ids.every((id): id is string => id !== undefined) ? ids : undefined;
      const outcome = await writer.writeLogs(records, known, { signal });
      outcome.retry.forEach((r, i) => idOf.set(r, outcome.retryIds[i]!));
      return bulkResult(records, outcome);
    },
    async shutdown() {
      await writer.close();
    },
  };
}

export function elasticsearchExporterFactory(defaults: ElasticsearchDefaults): ExporterFactory<ElasticsearchExporterConfig> {
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
        headers: conn.headers,
        auth: { username: defaults.username, password: defaults.password, bearer: defaults.bearer, apiKey: defaults.apiKey },
        tls: { ...conn.tls, caFile: defaults.caFile, insecureSkipVerify: !defaults.rejectUnauthorized },
        ...defaultQueueSettings(),
      };
    },
    create<S extends Signal>(settings: { id: string; logger: Logger }, config: ElasticsearchExporterConfig, signal: S) {
      if (config.node === '') throw new SettingError('node', 'not set; set it here or as storage.elasticsearch.node (TELEQL_ES_NODE)');
      settingUrl('node', config.node, ['http:', 'https:']);
      const a = auth(config.auth);
      const writer = createElasticsearchLogWriter({
        node: config.node,
        headers: config.headers,
        ...(a && { auth: a }),
        tls: tlsMaterial(config.tls),
        requestTimeoutMs: config.requestTimeoutMs,
        dataStream: config.dataStream,
        templatePattern: config.templatePattern,
        logger: settings.logger,
      });
      const sender = createElasticsearchSender(writer, config.node, config.installTemplate, settings.logger) as unknown as Sender<S>;
      return createQueuedExporter({ id: settings.id, kind: 'elasticsearch', signal, sender, settings: config, logger: settings.logger });
    },
  };
}
