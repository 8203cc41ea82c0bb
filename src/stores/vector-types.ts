// The store behind semantic search. Texts are kept once per content hash (64-bit, from the text),
// vectors once per (model key, hash) — the key names the model, its dtype and a digest of its files
// (Embedder.vectorKey), so changed weights under one name are embedded again — and every searchable span/log/exception as a small document row
// pointing at its hash. So a million spans with a thousand distinct texts hold a thousand vectors.
//
// Documents are tenant-scoped; texts and vectors are not (they are a pure function of the text and
// the model and say nothing about who sent it). Every document query binds the tenant.
import type { AnyValue } from '../model/telemetry.ts';
import type { TimeRange } from './types.ts';

export type VectorDocKind = 'span' | 'log' | 'exception';

export interface VectorDoc {
  tenant: string;
  kind: VectorDocKind;
  hash: bigint; // content hash of the text (signed 64-bit)
  traceId: string;
  spanId: string;
  timeNs: bigint;
  service: string;
  telemetrySource: string | null;
  /** Logs: the natural key the log's store ID is found by at read time (the store keys the body as it stores it). */
  log?: { timeUnixNano: bigint; observedTimeUnixNano: bigint; body: AnyValue };
}

/** Narrows the documents before ranking. The tenant is always applied. */
export interface VectorFilter {
  kinds: readonly VectorDocKind[];
  service?: readonly string[];
  telemetrySource?: readonly string[];
  timeRange?: TimeRange;
  traceId?: readonly string[];
}

/** A ranked document. `logId` is set for logs found in the log table. */
export interface VectorHit {
  kind: VectorDocKind;
  hash: bigint;
  score: number;
  vectorScore: number;
  keywordScore: number;
  traceId: string;
  spanId: string;
  logId: string | null;
  timeNs: bigint;
  service: string;
  text: string;
}

export interface RankOptions {
  /** Weight of the keyword score in [0, 1]; the vector score gets the rest. */
  keywordWeight: number;
  /** Lower-cased query terms; a document's keyword score is the share of terms its text contains. */
  terms: readonly string[];
  /** Documents returned (with bestPerTrace: traces). */
  limit: number;
  /**
   * One document per trace, its best-scoring one (ties: the newest): up to `limit` distinct traces,
   * however many documents each trace has. Documents without a trace ID are left out.
   */
  bestPerTrace?: boolean;
  /**
   * The query vector means nothing (the model knew none of its words): every vector score is 0 and
   * only texts that contain a query term are ranked.
   */
  keywordsOnly?: boolean;
}

export interface VectorStore {
  readonly backend: string;
  /** Creates the vector table for a dimension (once per model dimension). */
  prepare(dimensions: number): Promise<void>;
  /** Which of these hashes have a stored text (so a text is written once). */
  knownTexts(hashes: readonly bigint[]): Promise<Set<bigint>>;
  /** Stored vectors of this model for these hashes. */
  cachedVectors(model: string, dimensions: number, hashes: readonly bigint[]): Promise<Map<bigint, Float32Array>>;
  putTexts(texts: readonly { hash: bigint; text: string }[]): Promise<void>;
  /** Distinct stored text hashes above `after` (all when null), ascending, at most `limit` (keyset pages). */
  textHashes(after: bigint | null, limit: number): Promise<bigint[]>;
  /** The stored texts of these hashes (one per hash). */
  textsOf(hashes: readonly bigint[]): Promise<Map<bigint, string>>;
  putVectors(model: string, dimensions: number, vectors: readonly { hash: bigint; vector: Float32Array }[]): Promise<void>;
  putDocs(docs: readonly VectorDoc[]): Promise<void>;
  /** Every stored vector of a model, in pages (to rebuild an ANN index). */
  scanVectors(model: string, dimensions: number, onPage: (hashes: bigint[], vectors: Float32Array) => void, pageSize?: number): Promise<number>;
  /** How many distinct hashes the filter leaves for this tenant (decides exact vs ANN). */
  countCandidates(tenant: string, filter: VectorFilter): Promise<number>;
  /** Exact ranking over every document the filter leaves (cosine over stored vectors, plus keywords). */
  rankExact(tenant: string, model: string, dimensions: number, query: Float32Array, filter: VectorFilter, opts: RankOptions): Promise<VectorHit[]>;
  /**
   * Ranks the documents whose hash is among `hashes` (candidates from an ANN index), re-scoring them
   * with the exact cosine of the stored vectors, plus keywords.
   */
  rankHashes(tenant: string, model: string, dimensions: number, query: Float32Array, hashes: readonly bigint[], filter: VectorFilter, opts: RankOptions): Promise<VectorHit[]>;
  /** The hash of a span's, log's or trace's documents (for `similar`); [] when it has none. */
  hashesOf(tenant: string, ref: { spanId?: string; traceId?: string; logId?: string }): Promise<bigint[]>;
  docCount(): Promise<number>;
  /**
   * Retention: deletes up to `batchRows` documents older than `cutoffNs` that came from the signal
   * (spans and their exceptions: traces; logs and theirs: logs); how many it deleted.
   */
  deleteDocsBefore(signal: 'traces' | 'logs', cutoffNs: bigint, batchRows: number): Promise<number>;
  /**
   * Deletes, in steps of `batchRows`, the texts and vectors no document refers to any more; calls
   * `onPruned` with each step's hashes (an in-memory index drops them). Must not run beside a write
   * of texts, vectors and their documents (SearchIndexer.prune serializes them).
   */
  pruneUnreferenced(batchRows: number, onPruned: (hashes: bigint[]) => void): Promise<{ texts: number; vectors: number }>;
}
