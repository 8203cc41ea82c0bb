// What the query side (resolvers) sees of semantic search. Resolvers depend on this only.
import type { TimeRange } from '../stores/types.ts';
import type { SearchIndexStatus } from './indexer.ts';

export type { SearchIndexStatus };

export type SearchSignal = 'SPAN' | 'LOG' | 'TRACE' | 'EXCEPTION';

export interface SearchFilter {
  service?: string[];
  telemetrySource?: string[];
  timeRange?: TimeRange;
}

export interface SearchRequest {
  text: string;
  signals: readonly SearchSignal[];
  filter: SearchFilter;
  limit: number;
  /** Rank every candidate exactly instead of asking the ANN index. */
  exact: boolean;
}

export interface SimilarRequest {
  to: { spanId?: string; traceId?: string; logId?: string };
  signals?: readonly SearchSignal[];
  filter: SearchFilter;
  limit: number;
}

/** One result: a span, a log, a trace (its best span's score) or an exception (on a span or a log). */
export interface SearchHit {
  kind: SearchSignal;
  score: number;
  vectorScore: number;
  keywordScore: number;
  /** The embedded text that matched. */
  text: string;
  service: string;
  timeNs: bigint;
  traceId: string | null;
  spanId: string | null;
  logId: string | null;
}

export interface SearchResult {
  hits: SearchHit[];
  method: 'EXACT' | 'ANN';
  /** Distinct texts the filter left to rank. */
  candidates: number;
  model: string;
  /**
   * Remarks for the client (for `extensions.notes`), e.g. that the model knew none of the query's
   * words, so it was matched as text only. Absent when there is nothing to say.
   */
  notes?: string[];
}

export interface SemanticSearch {
  search(tenant: string, req: SearchRequest): Promise<SearchResult>;
  similar(tenant: string, req: SimilarRequest): Promise<SearchResult>;
  /** See SearchIndexer.status: with a tenant, its own pending/indexed/skipped. */
  status(tenant?: string): SearchIndexStatus;
}
