// The query side of semantic search: embed the query, pick the candidates the filter leaves
// (tenant always), rank them — exactly in DuckDB when they are few or when asked, through the ANN
// index otherwise — and blend in keyword matches.
//
// Hybrid score = (1 − w) · cosine(query, text) + w · (query terms found in the text / query terms),
// w = `keywordWeight` (0.3 by default). Terms are the query's first MAX_TERMS distinct lower-cased
// words of ≥ 3 characters without stop words; a term matches as a substring of the text, both
// lower-cased by DuckDB's lower() (vector-store.ts keywordSql).
//
// TRACE hits are ranked per trace in the store (each trace's best span or exception document), so
// `limit` traces come back whenever that many match, however many similar spans the best traces
// have. A query the model knows no word of has no meaning as a vector (its embedding is zero, or
// that of an unknown token, which ranks every text alike): it is matched by its words alone, and a
// query without words to match finds nothing. The result's notes say so.
import type { Logger } from 'pino';
import { StoreError } from '../stores/types.ts';
import type { RankOptions, VectorDocKind, VectorFilter, VectorHit, VectorStore } from '../stores/vector-types.ts';
import type { Embedder } from './embedder.ts';
import { SearchNotReadyError, type SearchIndexer } from './indexer.ts';
import type { SearchFilter, SearchHit, SearchResult, SearchSignal, SemanticSearch, SimilarRequest } from './types.ts';
import { simpleLowerCase } from '../stores/filter-match.ts';

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
/**
 * Query words that count for the keyword score: the first MAX_TERMS distinct ones, in query order
 * (each is one substring test per candidate text). docs/search.md and SearchHit.keywordScore say so.
 */
export const MAX_TERMS = 32;

/**
 * The most nearest neighbours the ANN path fetches (in rounds of 200·4ⁿ, at least 20 per hit) before
 * it ranks exactly: re-scoring more in DuckDB costs about what the exact scan does.
 */
const MAX_ANN_K = 50_000;

/**
 * The keyword terms of a query. Lower-cased one code point at a time (simpleLowerCase, as DuckDB's
 * lower() does, so a word-final Σ stays σ); the store lower-cases them with DuckDB's lower() again.
 */
export function keywordTerms(text: string): string[] {
  const words = simpleLowerCase(text).split(/[^\p{L}\p{N}_.-]+/u);
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

function hitBase(d: VectorHit): Omit<SearchHit, 'kind'> {
  return {
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
}

/** SPAN, LOG and EXCEPTION hits of ranked documents (TRACE hits come from a per-trace ranking). */
function itemHits(docs: readonly VectorHit[], signals: readonly SearchSignal[]): SearchHit[] {
  const want = new Set(signals);
  const hits: SearchHit[] = [];
  for (const d of docs) {
    if (d.kind === 'span' && want.has('SPAN')) hits.push({ ...hitBase(d), kind: 'SPAN', logId: null });
    if (d.kind === 'log' && want.has('LOG')) hits.push({ ...hitBase(d), kind: 'LOG' });
    if (d.kind === 'exception' && want.has('EXCEPTION')) hits.push({ ...hitBase(d), kind: 'EXCEPTION' });
  }
  return hits;
}

/** TRACE hits of a per-trace ranking: a trace scores as its best document. */
function traceHits(docs: readonly VectorHit[]): SearchHit[] {
  return docs.filter((d) => d.kind !== 'log' && d.traceId).map((d) => ({ ...hitBase(d), kind: 'TRACE' as const, logId: null }));
}

/** The best `limit` hits; hits come best first per ranking, and a stable sort keeps that order among equal scores (newest first). */
function best(hits: SearchHit[], limit: number): SearchHit[] {
  return hits.sort((a, b) => b.score - a.score).slice(0, limit);
}

/** Extra documents a `similar` ranking asks for at first, for the source's own items it drops. */
const SIMILAR_EXTRA = 20;

/** Whether a query vector can rank anything: finite and not zero (unknown tokens embed to zero in static models). */
function isMeaningful(v: Float32Array): boolean {
  let sum = 0;
  for (const x of v) {
    if (!Number.isFinite(x)) return false;
    sum += x * x;
  }
  return sum > 1e-12;
}

/**
 * `similar`'s source with its log ID in the decimal form hits carry ("04" is log 4): the store looks
 * the log up by number and the hits are excluded by string, so both must see one form.
 */
function canonicalSource(to: SimilarRequest['to']): SimilarRequest['to'] {
  return to.logId !== undefined && /^\d+$/.test(to.logId) ? { ...to, logId: to.logId.replace(/^0+(?=\d)/, '') } : to;
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

  type RankDocs = (vf: VectorFilter, o: RankOptions) => Promise<VectorHit[]>;

  async function rank(
    tenant: string,
    query: Float32Array,
    terms: string[],
    signals: readonly SearchSignal[],
    filter: SearchFilter,
    limit: number,
    exact: boolean,
    { exclude, keywordsOnly = false, notes = [] }: { exclude?: (h: SearchHit) => boolean; keywordsOnly?: boolean; notes?: string[] } = {},
  ): Promise<SearchResult> {
    const { dimensions, vectorKey, ann } = await ready();
    const vf: VectorFilter = { kinds: docKinds(signals), ...filter };
    const base = { keywordWeight: opts.keywordWeight, terms, keywordsOnly };
    const items = signals.filter((s) => s !== 'TRACE');
    /**
     * One ranking's hits, without those `exclude` drops (`similar`'s source). The store ranks the
     * source's own items too, and they can fill any window (a trace of 30 identical spans, a span
     * with dozens of logs of one template): the window grows 4× until `limit` others are left or
     * the ranking has no more. Asked again rather than excluded in the store's query, so search and
     * similar share one ranking query: a round is repeated only while the source's own items fill
     * the window, so what is read stays within 4 × (the source's documents + limit).
     */
    const ranked = async (rankDocs: RankDocs, f: VectorFilter, o: Omit<RankOptions, 'limit'>, toHits: (docs: VectorHit[]) => SearchHit[]): Promise<SearchHit[]> => {
      for (let want = limit + (exclude ? SIMILAR_EXTRA : 0); ; want *= 4) {
        const docs = await rankDocs(f, { ...o, limit: want });
        const hits = toHits(docs);
        if (!exclude) return hits;
        const kept = hits.filter((h) => !exclude(h));
        if (kept.length >= limit || docs.length < want) return kept;
      }
    };
    /** Hits of every asked signal from one ranking method: items by document, traces by their best document. */
    const hitsFrom = async (rankDocs: RankDocs): Promise<SearchHit[]> => {
      // Traces first: at an equal score a trace comes before its own spans.
      // concat, not a spread into push(): a widened window can hold more hits than a call takes arguments.
      let hits: SearchHit[] = [];
      if (signals.includes('TRACE')) hits = hits.concat(await ranked(rankDocs, { ...filter, kinds: docKinds(['TRACE']) }, { ...base, bestPerTrace: true }, traceHits));
      if (items.length > 0) hits = hits.concat(await ranked(rankDocs, { ...filter, kinds: docKinds(items) }, base, (docs) => itemHits(docs, items)));
      return best(hits, limit);
    };
    const candidates = await store.countCandidates(tenant, vf);
    // Only to a tenant with candidates, and without the pass's count: that counts every tenant's texts
    // (searchIndex.reembedded is for the metrics scope only).
    if (candidates > 0 && indexer.status().reembedding) {
      notes = [
        ...notes,
        `stored texts without a vector of the embedding model ${embedder.model} (indexed with another model) are being embedded again in the background; until then their items are candidates but do not rank`,
      ];
    }
    const result = (hits: SearchHit[], method: SearchResult['method']): SearchResult => ({
      hits,
      method,
      candidates,
      model: embedder.model,
      ...(notes.length > 0 && { notes }),
    });
    if (candidates === 0 || (keywordsOnly && terms.length === 0)) return result([], 'EXACT');
    const exactly: RankDocs = (f, o) => store.rankExact(tenant, vectorKey, dimensions, query, f, o);
    // A meaningless query vector has no nearest neighbours: keywords are matched over every candidate.
    if (keywordsOnly || exact || candidates <= opts.exactThreshold || ann.size() === 0) return result(await hitsFrom(exactly), 'EXACT');
    // ANN: the nearest texts of the index (every tenant's), re-scored, the tenant's documents among
    // them kept. A text not fetched is no nearer than the k-th neighbour, so it scores at most
    // (1 − w)·cos(k-th) + w (every query word): once the limit-th hit scores above that, nothing
    // unfetched can take a place, and the answer is the exact one whatever texts other tenants (or
    // the filter's left-outs) put nearer. Otherwise fetch 4× more; past MAX_ANN_K, rank exactly.
    const w = Math.min(1, Math.max(0, opts.keywordWeight));
    for (let k = Math.max(limit * 20, 200); k <= MAX_ANN_K; k *= 4) {
      const near = ann.search(query, k);
      // The index finds the candidates; DuckDB re-scores them with the exact cosine (the index
      // stores vectors at reduced precision), so both paths rank with the same scores.
      const hits = await hitsFrom((f, o) => store.rankHashes(tenant, vectorKey, dimensions, query, near.map((n) => n.hash), f, o));
      if (near.length < k) return result(hits, 'ANN'); // every indexed text was fetched
      const unfetchedBest = (1 - w) * (near[near.length - 1]!.similarity + ann.similarityError) + (terms.length > 0 ? w : 0);
      if (hits.length >= limit && hits[limit - 1]!.score > unfetchedBest) return result(hits, 'ANN');
    }
    return result(await hitsFrom(exactly), 'EXACT');
  }

  /**
   * Whether the model knew a word of the query: its vector is finite and not zero, and (when the
   * model has a tokenizer to ask) one of its tokens is a vocabulary token, not the unknown one.
   */
  async function understood(text: string, vector: Float32Array): Promise<boolean> {
    if (!isMeaningful(vector)) return false;
    const known = await embedder.knownTokens?.(text);
    return known === undefined || known === null || known > 0;
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
      const terms = keywordTerms(req.text);
      if (await understood(req.text, query)) return rank(tenant, query, terms, req.signals, req.filter, req.limit, req.exact);
      logger.debug({ model: embedder.model, terms: terms.length }, 'the embedding model knows no word of a search query');
      const note =
        terms.length > 0
          ? `the embedding model ${embedder.model} knows none of the query's words, so it was matched by its words alone: only texts containing one are hits`
          : `the embedding model ${embedder.model} knows none of the query's words, and it has no word of 3 or more letters to match as text: nothing can match it`;
      return rank(tenant, query, terms, req.signals, req.filter, req.limit, req.exact, { keywordsOnly: true, notes: [note] });
    },

    async similar(tenant, req) {
      const { dimensions, vectorKey } = await ready();
      const to = canonicalSource(req.to);
      const hashes = await store.hashesOf(tenant, to);
      if (hashes.length === 0) throw new StoreError('NOT_FOUND', 'search', 'the item is unknown or not indexed yet for this tenant');
      const vectors = await store.cachedVectors(vectorKey, dimensions, hashes);
      const mean = new Float32Array(dimensions);
      for (const v of vectors.values()) for (let i = 0; i < dimensions; i++) mean[i]! += v[i]!;
      let squares = 0;
      for (const x of mean) squares += x * x;
      const norm = Math.sqrt(squares) || 1;
      for (let i = 0; i < dimensions; i++) mean[i]! /= norm;
      const { spanId, traceId, logId } = to;
      const signals = req.signals ?? [logId ? 'LOG' : traceId ? 'TRACE' : 'SPAN'];
      // The source's own telemetry is not "similar" to it: a span's exceptions and logs go with the
      // span (its trace may be a TRACE hit); a trace's spans, exceptions and logs with the trace; a
      // log's exception with the log. The schema's `similar` description says so.
      const exclude = (h: SearchHit) =>
        (spanId !== undefined && h.spanId === spanId && h.kind !== 'TRACE') ||
        (logId !== undefined && h.logId === logId) ||
        (traceId !== undefined && h.traceId === traceId);
      if (vectors.size === 0) {
        // Indexed with another model, and the re-embedding pass has not reached its text yet.
        const note = `the item's text has no vector of the embedding model ${embedder.model} yet (texts indexed with another model are embedded again in the background), so nothing can be found similar to it until it has one`;
        return rank(tenant, mean, [], signals, req.filter, req.limit, false, { exclude, keywordsOnly: true, notes: [note] });
      }
      if (!isMeaningful(mean)) {
        // The item's text has no word the model knows: it is like nothing, rather than like everything.
        const note = `the embedding model ${embedder.model} knows no word of the item's text, so nothing is similar to it`;
        return rank(tenant, mean, [], signals, req.filter, req.limit, false, { exclude, keywordsOnly: true, notes: [note] });
      }
      return rank(tenant, mean, [], signals, req.filter, req.limit, false, { exclude });
    },

    status: (tenant) => indexer.status(tenant),
  };
}
