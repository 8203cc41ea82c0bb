// Semantic search: search(text), similar(to), searchIndex. The hybrid score and what is embedded
// are described on the fields; docs/search.md has the details.
import type { SearchHit, SearchResult } from '../src/search/types.ts';
import { hitLog, hitSpan, hitTrace, search, searchIndexStatus, similar, MAX_SEARCH_LIMIT, MAX_SEARCH_TEXT, type SearchFilterInput, type SimilarToInput, type VisibleSearchIndexStatus } from '../resolvers/search.ts';
import { builder } from './builder.ts';

const SearchSignalEnum = builder.enumType('SearchSignal', {
  description: 'What a search returns: spans, logs, traces (scored by their best span) or exceptions (span exception events, logs with exception.* attributes).',
  values: ['SPAN', 'LOG', 'TRACE', 'EXCEPTION'] as const,
});

const SearchMethodEnum = builder.enumType('SearchMethod', {
  description: 'EXACT: every candidate scored in DuckDB. ANN: nearest texts from the HNSW index, then the filter and keywords.',
  values: ['EXACT', 'ANN'] as const,
});

const SearchFilterRef = builder.inputRef<SearchFilterInput>('SearchFilter').implement({
  description: 'Narrows the candidates before they are ranked. The tenant always applies. No time range means all indexed data.',
  fields: (t) => ({
    service: t.stringList({ description: 'service.name, any of.' }),
    telemetrySource: t.stringList({ description: 'telemetry.source attribute, any of.' }),
    from: t.field({ type: 'Timestamp', description: "Inclusive, on each item's own time: a span's start, a log's time, an exception's event time (for a span's exception, not the span's start); a TRACE is ranked by its spans and exceptions in the range." }),
    to: t.field({ type: 'Timestamp', description: 'Inclusive.' }),
  }),
});

const SimilarToRef = builder.inputRef<SimilarToInput>('SimilarTo').implement({
  description: 'Exactly one of the three.',
  fields: (t) => ({
    spanId: t.id(),
    traceId: t.id(),
    logId: t.id({ description: 'As LogRecord.id gives it; leading zeros name the same log.' }),
  }),
});

const SearchHitRef = builder.objectRef<SearchHit>('SearchHit').implement({
  description: 'One result. Exactly the object of its kind is set (an EXCEPTION has its span or its log); trace is set whenever the item has a trace ID.',
  fields: (t) => ({
    kind: t.field({ type: SearchSignalEnum, resolve: (h) => h.kind }),
    score: t.exposeFloat('score', { description: '(1 − keywordWeight) · vectorScore + keywordWeight · keywordScore.' }),
    vectorScore: t.exposeFloat('vectorScore', { description: 'Cosine similarity of the query and the embedded text, −1…1.' }),
    keywordScore: t.exposeFloat('keywordScore', {
      description:
        'Share of the query words found in the text, 0…1: the first 32 distinct words of the query (≥ 3 letters, no stop words, in query order; later words do not count), lower-cased like the text and matched as substrings; the share is of those kept words.',
    }),
    text: t.exposeString('text', { description: 'The text that was embedded (variable parts masked).' }),
    service: t.exposeString('service'),
    time: t.field({ type: 'Timestamp', resolve: (h) => h.timeNs }),
    traceId: t.exposeID('traceId', { nullable: true }),
    spanId: t.exposeID('spanId', { nullable: true }),
    span: t.field({ type: 'Span', nullable: true, resolve: (h, _, ctx) => hitSpan(ctx, h) }),
    log: t.field({ type: 'LogRecord', nullable: true, resolve: (h, _, ctx) => hitLog(ctx, h) }),
    trace: t.field({ type: 'Trace', nullable: true, resolve: (h, _, ctx) => hitTrace(ctx, h) }),
  }),
});

const SearchResultsRef = builder.objectRef<SearchResult>('SearchResults').implement({
  fields: (t) => ({
    hits: t.field({ type: [SearchHitRef], description: 'Best first.', resolve: (r) => r.hits }),
    method: t.field({ type: SearchMethodEnum, resolve: (r) => r.method }),
    candidates: t.exposeInt('candidates', {
      description:
        "Distinct texts the filter left to rank (for similar, the item's own texts among them, though its own items are never hits). After a model switch this includes texts still waiting for a vector of the current model, which do not rank yet (extensions.notes says so).",
    }),
    model: t.exposeString('model', { description: 'The embedding model.' }),
  }),
});

const SearchIndexRef = builder.objectRef<VisibleSearchIndexStatus>('SearchIndex').implement({
  description: 'Progress of the background indexer. Records are indexed after they are stored, off the ingest path.',
  fields: (t) => ({
    pending: t.exposeInt('pending', { description: "The tenant's spans and logs queued or being indexed." }),
    indexed: t.exposeInt('indexed', { description: "The tenant's spans and logs indexed since start." }),
    skipped: t.exposeInt('skipped', {
      description:
        "The tenant's spans and logs not indexed: the queue was full, the model could not load, their batch failed to index or their text could not be built (both logged), or the gateway stopped before it indexed them (logged).",
    }),
    embedded: t.exposeInt('embedded', { nullable: true, description: 'Distinct texts embedded since start, all tenants; identical texts are embedded once. null without the metrics scope (the operator’s; not in a tenant’s admin unless auth.metrics: admin).' }),
    reembedded: t.exposeInt('reembedded', {
      nullable: true,
      description:
        'Stored texts embedded again since start because they had no vector of the current model (after a model switch, or other files under the same model name), all tenants; done in the background while nothing waits to be indexed. null without the metrics scope (the operator’s; not in a tenant’s admin unless auth.metrics: admin).',
    }),
    cacheHits: t.exposeInt('cacheHits', { nullable: true, description: 'Distinct texts whose vector came from the persisted cache, all tenants. null without the metrics scope (the operator’s; not in a tenant’s admin unless auth.metrics: admin).' }),
    model: t.exposeString('model'),
    dimensions: t.exposeInt('dimensions', { nullable: true, description: 'Read from the model once loaded.' }),
    ready: t.exposeBoolean('ready', { description: 'The model is loaded and the ANN index rebuilt.' }),
    error: t.exposeString('error', {
      nullable: true,
      description: 'What failed, when the model did not load (naming the model) or indexing failed; the reason is in the gateway log only.',
    }),
    annSize: t.exposeInt('annSize', { nullable: true, description: 'Vectors in the ANN index, all tenants. null without the metrics scope (the operator’s; not in a tenant’s admin unless auth.metrics: admin).' }),
  }),
});

const LIMIT = `1–${MAX_SEARCH_LIMIT}.`;

builder.queryFields((t) => ({
  search: t.field({
    nullable: true,
    type: SearchResultsRef,
    description:
      'Spans, logs, traces and exceptions by meaning. The text is embedded with the configured model and compared with the embedded texts of the ' +
      "tenant's items that pass the filter; keyword matches are blended in (see SearchHit.score). GW_BACKEND_UNAVAILABLE when the model cannot load.",
    args: {
      text: t.arg.string({ required: true, description: `At most ${MAX_SEARCH_TEXT.toLocaleString('en')} characters after trimming (UTF-16 code units: an emoji counts 2); GW_BAD_ARGUMENT beyond.` }),
      signals: t.arg({ type: [SearchSignalEnum], defaultValue: ['SPAN', 'LOG'], description: 'At least one.' }),
      filter: t.arg({ type: SearchFilterRef }),
      limit: t.arg.int({ defaultValue: 10, description: LIMIT }),
      exact: t.arg.boolean({ defaultValue: false, description: 'Rank every candidate exactly instead of using the ANN index (also automatic when the filter leaves few).' }),
    },
    resolve: (_, args, ctx) => search(ctx, args),
  }),
  similar: t.field({
    nullable: true,
    type: SearchResultsRef,
    description:
      "Items whose text is close to that of the given span, trace (its spans) or log. The source's own telemetry is left out: for a span, the span, its exceptions and its logs " +
      '(its trace can be a TRACE hit); for a trace, the trace and its spans, exceptions and logs; for a log, the log and its exception. `limit` hits come back whenever that many ' +
      'other items match. GW_NOT_FOUND when it is not indexed.',
    args: {
      to: t.arg({ type: SimilarToRef, required: true }),
      signals: t.arg({ type: [SearchSignalEnum], description: 'Default: the kind of `to`.' }),
      filter: t.arg({ type: SearchFilterRef }),
      limit: t.arg.int({ defaultValue: 10, description: LIMIT }),
    },
    resolve: (_, args, ctx) => similar(ctx, args),
  }),
  searchIndex: t.field({
    type: SearchIndexRef,
    nullable: true,
    description: 'null when semantic search is disabled.',
    resolve: (_, __, ctx) => searchIndexStatus(ctx),
  }),
}));
