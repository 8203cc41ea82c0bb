// The query side of semantic search: embed the query, pick the candidates the filter leaves
// (tenant always), rank them — exactly in DuckDB when they are few or when asked, through the ANN
// index otherwise — and blend in keyword matches.
//
// Hybrid score = (1 − w) · cosine(query, text) + w · (query terms found in the text / query terms),
// w = `keywordWeight` (0.3 by default). Terms are the query's lower-cased words of ≥ 3 characters
// without stop words; a term matches as a substring of the lower-cased text.
import type { Logger } from 'pino';
import { StoreError } from '../stores/types.ts';
import type { VectorDocKind, VectorFilter, VectorHit, VectorStore } from '../stores/vector-types.ts';
import type { Embedder } from './embedder.ts';
import { SearchNotReadyError, type SearchIndexer } from './indexer.ts';
import type { SearchFilter, SearchHit, SearchResult, SearchSignal, SemanticSearch } from './types.ts';

export interface SemanticSearchOptions {
  store: VectorStore;
  embedder: Embedder;
  indexer: SearchIndexer;
  keywordWeight: number;
  /** When the filter leaves at most this many distinct texts, rank them all exactly. */
  exactThreshold: number;
  logger: Logger;
}

const STOP_WORDS = new Set(
  'the and for with that this from was were are has have had not but too all any can did does its into out over than then them they what when where which who why how took very'.split(' '),
);
const MAX_TERMS = 8;

export function keywordTerms(text: string): string[] {
  const words = text.toLowerCase().split(/[^\p{L}\p{N}_.-]+/u);
  const terms = new Set<string>();
  for (const w of words) {
    const t = w.replace(/^[._-]+|[._-]+$/g, '');
    if (t.length >= 3 && !STOP_WORDS.has(t)) terms.add(t);
    if (terms.size >= MAX_TERMS) break;
  }
  return [...terms];
}

function docKinds(signals: readonly SearchSignal[]): VectorDocKind[] {
  const kinds = new Set<VectorDocKind>();
  for (const s of signals) {
    if (s === 'SPAN') kinds.add('span');
    if (s === 'LOG') kinds.add('log');
    if (s === 'EXCEPTION') kinds.add('exception');
    if (s === 'TRACE') kinds.add('span').add('exception');
  }
  return [...kinds];
}

/** Turns ranked documents into hits of the asked signals; a trace scores as its best document. */
function toHits(docs: readonly VectorHit[], signals: readonly SearchSignal[], limit: number, exclude?: (h: SearchHit) => boolean): SearchHit[] {
  const want = new Set(signals);
  const hits: SearchHit[] = [];
  const traces = new Set<string>();
  for (const d of docs) {
    const base = {
      score: d.score,
      vectorScore: d.vectorScore,
      keywordScore: d.keywordScore,
      text: d.text,
      service: d.service,
      timeNs: d.timeNs,
      traceId: d.traceId || null,
      spanId: d.spanId || null,
      logId: d.logId,
    };
    if (d.kind === 'span' && want.has('SPAN')) hits.push({ ...base, kind: 'SPAN', logId: null });
    if (d.kind === 'log' && want.has('LOG')) hits.push({ ...base, kind: 'LOG' });
    if (d.kind === 'exception' && want.has('EXCEPTION')) hits.push({ ...base, kind: 'EXCEPTION' });
    if (d.kind !== 'log' && want.has('TRACE') && d.traceId && !traces.has(d.traceId)) {
      traces.add(d.traceId);
      hits.push({ ...base, kind: 'TRACE', spanId: d.spanId || null, logId: null });
    }
  }
  // Documents come best first; a stable sort keeps that order among equal scores (newest first).
  const kept = exclude ? hits.filter((h) => !exclude(h)) : hits;
  return kept.sort((a, b) => b.score - a.score).slice(0, limit);
}

// The client's message never carries the error itself: it names server paths (see embedder.ts modelNotLoaded).
const unavailable = (what: string, err: unknown) => new StoreError('UNAVAILABLE', 'search', `semantic search is not available: ${what}`, err);

export function createSemanticSearch(opts: SemanticSearchOptions): SemanticSearch {
  const { store, embedder, indexer, logger } = opts;

  async function ready() {
    try {
      return await indexer.ready();
    } catch (err) {
      // The indexer has logged the reason; its message is the part a client may see.
      throw unavailable(err instanceof SearchNotReadyError ? err.message : 'the search index could not be opened', err);
    }
  }

  async function rank(
    tenant: string,
    query: Float32Array,
    terms: string[],
    signals: readonly SearchSignal[],
    filter: SearchFilter,
    limit: number,
    exact: boolean,
    exclude?: (h: SearchHit) => boolean,
  ): Promise<SearchResult> {
    const { dimensions, ann } = await ready();
    const vf: VectorFilter = { kinds: docKinds(signals), ...filter };
    // Traces group many documents, and `similar` drops its own source: fetch more documents than hits.
    const docLimit = limit * (signals.includes('TRACE') ? 5 : 1) + (exclude ? 20 : 0);
    const rankOpts = { keywordWeight: opts.keywordWeight, terms, limit: docLimit };
    const candidates = await store.countCandidates(tenant, vf);
    const result = (hits: SearchHit[], method: SearchResult['method']): SearchResult => ({ hits, method, candidates, model: embedder.model });
    if (candidates === 0) return result([], 'EXACT');
    if (exact || candidates <= opts.exactThreshold || ann.size() === 0) {
      const docs = await store.rankExact(tenant, embedder.model, dimensions, query, vf, rankOpts);
      return result(toHits(docs, signals, limit, exclude), 'EXACT');
    }
    // ANN: the nearest texts across all tenants, then this tenant's documents among them. When the
    // filter or the tenant leaves too few, ask for more, and in the end rank exactly.
    for (let k = Math.max(limit * 20, 200); k <= Math.max(4 * ann.size(), 200) && k <= 50_000; k *= 4) {
      const near = ann.search(query, k);
      // The index finds the candidates; DuckDB re-scores them with the exact cosine (the index
      // stores vectors at reduced precision), so both paths rank with the same scores.
      const docs = await store.rankHashes(
        tenant,
        embedder.model,
        dimensions,
        query,
        near.map((n) => n.hash),
        vf,
        rankOpts,
      );
      const hits = toHits(docs, signals, limit, exclude);
      if (hits.length >= limit || near.length < k) return result(hits, 'ANN');
    }
    const docs = await store.rankExact(tenant, embedder.model, dimensions, query, vf, rankOpts);
    return result(toHits(docs, signals, limit, exclude), 'EXACT');
  }

  async function embedQuery(text: string): Promise<Float32Array> {
    await ready();
    try {
      const [v] = await embedder.embed([text]);
      return v!;
    } catch (err) {
      logger.error({ err: err instanceof Error ? err.message : String(err), model: embedder.model }, 'embedding a search query failed');
      throw unavailable(`the embedding model ${embedder.model} failed to embed the query (the reason is in the gateway log)`, err);
    }
  }

  return {
    async search(tenant, req) {
      const query = await embedQuery(req.text);
      return rank(tenant, query, keywordTerms(req.text), req.signals, req.filter, req.limit, req.exact);
    },

    async similar(tenant, req) {
      const { dimensions } = await ready();
      const hashes = await store.hashesOf(tenant, req.to);
      if (hashes.length === 0) throw new StoreError('NOT_FOUND', 'search', 'the item is unknown or not indexed yet for this tenant');
      const vectors = await store.cachedVectors(embedder.model, dimensions, hashes);
      const mean = new Float32Array(dimensions);
      for (const v of vectors.values()) for (let i = 0; i < dimensions; i++) mean[i]! += v[i]!;
      const norm = Math.hypot(...mean) || 1;
      for (let i = 0; i < dimensions; i++) mean[i]! /= norm;
      const { spanId, traceId, logId } = req.to;
      const signals = req.signals ?? [logId ? 'LOG' : traceId ? 'TRACE' : 'SPAN'];
      const exclude = (h: SearchHit) =>
        (spanId !== undefined && h.spanId === spanId && h.kind !== 'TRACE') ||
        (logId !== undefined && h.logId === logId) ||
        (traceId !== undefined && h.traceId === traceId);
      return rank(tenant, mean, [], signals, req.filter, req.limit, false, exclude);
    },

    status: (tenant) => indexer.status(tenant),
  };
}
