// Hands spans and logs to the semantic-search indexer's bounded background queue and returns at
// once: embedding never slows ingest, and a full queue skips (and counts) instead of waiting.
// With search disabled the app builds it without an indexer and it drops everything it gets. The
// indexer may still be opening (the receivers listen before the store is open): the first batches
// wait for it.
import type { SearchIndexer } from '../../../src/search/indexer.ts';
import type { MetricSample } from '../../../src/server/metrics.ts';
import type { LogRecord, SpanRecord } from '../../../src/model/telemetry.ts';
import { SignalNotSupportedError, type Exporter, type ExporterFactory, type Signal } from '../../component.ts';

export type EmbeddingExporterConfig = Record<string, never>;

export function embeddingExporterFactory(opening: SearchIndexer | null | Promise<SearchIndexer | null>): ExporterFactory<EmbeddingExporterConfig> {
  let indexer: SearchIndexer | null = opening instanceof Promise ? null : opening;
  let opened = !(opening instanceof Promise);
  if (opening instanceof Promise) {
    opening.then(
      (i) => ((indexer = i), (opened = true)),
      () => undefined, // the app fails start-up on it
    );
  }
  return {
    kind: 'exporter',
    type: 'embedding',
    signals: ['traces', 'logs'],
    createDefaultConfig: () => ({}),
    create<S extends Signal>(settings: { id: string }, _config: EmbeddingExporterConfig, signal: S): Exporter<S> & { metrics(): MetricSample[] } {
      if (signal !== 'traces' && signal !== 'logs') throw new SignalNotSupportedError('embedding', signal);
      let accepted = 0;
      let skipped = 0;
      return {
        start: async () => {},
        shutdown: async () => {},
        async consume(items) {
          if (!opened) indexer = await opening;
          if (!indexer) {
            skipped += items.length;
            return;
          }
          const n =
            signal === 'traces'
              ? indexer.enqueue({ signal: 'traces', items: items as readonly SpanRecord[] })
              : indexer.enqueue({ signal: 'logs', items: items as readonly LogRecord[] });
          accepted += n;
          skipped += items.length - n;
        },
        metrics: () => [
          { name: 'teleql_embedding_queued_total', help: 'Records handed to the search indexer', type: 'counter', value: accepted, labels: { exporter: settings.id } },
          { name: 'teleql_embedding_skipped_total', help: 'Records not indexed for search because its queue was full or search is off', type: 'counter', value: skipped, labels: { exporter: settings.id } },
        ],
      };
    },
  };
}
