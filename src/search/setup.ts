// Assembles semantic search from its config: the embedder (not loaded yet), the DuckDB vector
// store, the background indexer and the query service. Called by the app; nothing here waits for
// the model, so start-up and ingest never do either.
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Db } from '../stores/duckdb/connection.ts';
import { createDuckDbVectorStore, type VectorStoreOptions } from '../stores/duckdb/vector-store.ts';
import { createEmbedder } from './embedder.ts';
import { createSearchIndexer, type SearchIndexer } from './indexer.ts';
import { createSemanticSearch } from './service.ts';
import type { SemanticSearch } from './types.ts';

import type { SearchConfig } from './config.ts';
import type { SearchRetention } from '../stores/duckdb/retention.ts';

const EMBED_BATCH = 64; // texts per model call: large enough to amortise, small enough to yield often
const RETRY_LOAD_MS = 60_000;
/**
 * How long a stop indexes what is still queued (the pipelines' last batches) before it counts and
 * logs the rest as skipped: the exporters' own flush bound (`shutdownTimeoutMs`, 5 s by default).
 */
const SEARCH_SHUTDOWN_TIMEOUT_MS = 5_000;

export interface SearchParts {
  indexer: SearchIndexer;
  service: SemanticSearch;
  /** Loads the model and rebuilds the ANN index in the background when the store already has documents. */
  warmUp(): void;
  /** What storage retention deletes of search (documents past their window, then unreferenced texts and vectors). */
  retention: SearchRetention;
  /** Indexes what is queued for at most `timeoutMs` (SearchIndexer.stop), then releases the model. */
  close(timeoutMs?: number): Promise<void>;
}

/** `storedIn`: which signals' pipelines write to this DuckDB (search hits of the others are not checked against it). */
export async function openSemanticSearch(c: SearchConfig, db: Db, logger: Logger, storedIn: VectorStoreOptions['storedIn'] = { traces: true, logs: true }): Promise<SearchParts> {
  const store = await createDuckDbVectorStore(db, { storedIn });
  const embedder = createEmbedder({
    model: c.model,
    localModelPath: c.localModelPath ? resolve(c.localModelPath) + '/' : '',
    allowRemoteModels: c.allowRemoteModels,
    cacheDir: c.cacheDir ? resolve(c.cacheDir) : '',
    dtype: c.dtype,
    logger,
  });
  const indexer = createSearchIndexer({
    store,
    embedder,
    queueSize: c.queueSize,
    batchSize: c.batchSize,
    embedBatch: EMBED_BATCH,
    ann: c.ann,
    retryLoadMs: RETRY_LOAD_MS,
    logger,
  });
  const service = createSemanticSearch({ store, embedder, indexer, keywordWeight: c.keywordWeight, exactThreshold: c.exactThreshold, logger });
  return {
    indexer,
    service,
    retention: { deleteDocsBefore: (signal, cutoffNs, batchRows) => store.deleteDocsBefore(signal, cutoffNs, batchRows), prune: (batchRows) => indexer.prune(batchRows) },
    warmUp() {
      void store
        .docCount()
        .then((n) => (n > 0 ? indexer.ready() : undefined))
        .catch(() => undefined); // the indexer logged it; status().error shows it
    },
    async close(timeoutMs = SEARCH_SHUTDOWN_TIMEOUT_MS) {
      await indexer.stop(timeoutMs);
      await embedder.close();
    },
  };
}
