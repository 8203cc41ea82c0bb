// The Elasticsearch log backend: a LogStore (reads) and a bulk writer (for the exporter).
export type { ElasticsearchAuth, ElasticsearchConnectionOptions } from './client.ts';
export { createElasticsearchLogStore, DEFAULT_LOG_INDEX, type ElasticsearchLogStore, type ElasticsearchLogStoreOptions } from './log-store.ts';
export {
  createElasticsearchLogWriter,
  DEFAULT_DATA_STREAM,
  DEFAULT_MAX_BULK_BYTES,
  type BulkFailure,
  type BulkOutcome,
  type ElasticsearchLogWriter,
  type ElasticsearchLogWriterOptions,
} from './log-writer.ts';
export { indexExpressionCovers, indexPatternMatches, logsIndexTemplate, TEMPLATE_NAME } from './template.ts';
export { BULK_CALL } from './errors.ts';
