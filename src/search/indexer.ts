// The background side of semantic search: ingest hands documents to a bounded queue and returns at
// once; one worker drains it, embeds each distinct text once (content hash → vector cache in the
// store, and the ANN index as the in-memory record of what is embedded), and writes document rows.
// A full queue drops the overflow and counts it; ingest never waits here. A stop indexes what is
// queued, within its deadline; what the deadline leaves is counted as skipped and logged.
import type { Logger } from 'pino';
import type { VectorDoc, VectorStore } from '../stores/vector-types.ts';
import type { AnnIndex, AnnOptions } from './ann.ts';
import { modelNotLoaded, type Embedder } from './embedder.ts';
import { contentHash } from './hash.ts';
import { logDocs, spanDocs, type SearchDoc } from './text.ts';
import type { LogRecord, SpanRecord } from '../model/telemetry.ts';
import { REMEMBERED_TENANTS } from '../tenant.ts';

export interface IndexerOptions {
  store: VectorStore;
  embedder: Embedder;
  /** Documents held waiting; beyond this, new ones are skipped. */
  queueSize: number;
  /** Documents taken per round (texts are embedded in sub-batches of `embedBatch`). */
  batchSize: number;
  embedBatch: number;
  ann: Omit<AnnOptions, 'dimensions'>;
  /** After a failed model load, documents are skipped for this long before the next try. */
  retryLoadMs: number;
  logger: Logger;
}

export interface SearchIndexStatus {
  pending: number;
  indexed: number;
  skipped: number;
  /** Distinct texts embedded by this process (the rest came from the cache). */
  embedded: number;
  /**
   * Stored texts embedded again by this process because they had no vector of the current model
   * (after a model switch), in the background while the queue is empty.
   */
  reembedded: number;
  /** Stored texts without a vector of this model were found and the pass over them has not ended: those items do not rank yet. */
  reembedding: boolean;
  cacheHits: number;
  model: string;
  dimensions: number | null;
  ready: boolean;
  /** What the last model-load or indexing failure was, if any, without its reason (logged; it names server paths). */
  error: string | null;
  annSize: number;
}

/** Why search cannot answer yet, in words a client may see; `cause` (logged) has the reason. */
export class SearchNotReadyError extends Error {
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.name = 'SearchNotReadyError';
  }
}

/** The loaded model's vector size and vector key (Embedder.vectorKey), and the ANN index of its vectors. */
export interface ReadyIndex {
  dimensions: number;
  vectorKey: string;
  ann: AnnIndex;
}

export type IndexBatch = { signal: 'traces'; items: readonly SpanRecord[] } | { signal: 'logs'; items: readonly LogRecord[] };

export interface SearchIndexer {
  /**
   * Queues spans or logs (by reference; they are not changed after ingest hands them over) and
   * returns how many were accepted; the rest are counted as skipped. Never waits, does no work.
   */
  enqueue(batch: IndexBatch): number;
  /**
   * Loads the model, prepares the tables and rebuilds the ANN index from the store (once). Rejects
   * with a SearchNotReadyError.
   */
  ready(): Promise<ReadyIndex>;
  /**
   * With a tenant, pending/indexed/skipped count that tenant's records only (what a tenant may see);
   * embedded, cacheHits and annSize are always gateway-wide (texts are shared across tenants).
   */
  status(tenant?: string): SearchIndexStatus;
  /** Resolves when the queue is empty and the worker is idle (tests, shutdown). */
  idle(): Promise<void>;
  /**
   * Retention: deletes the texts and vectors no document refers to any more (VectorStore.
   * pruneUnreferenced), between indexing rounds, and drops them from the ANN index, which doubles
   * as the "already embedded" set: a text seen again is then stored and embedded again.
   */
  prune(batchRows: number): Promise<{ texts: number; vectors: number }>;
  /**
   * Stops taking records and indexes those queued (after the pipelines' flush, the last batches),
   * for at most `timeoutMs`: then the round in progress ends after its current model call, and what
   * is left is counted as skipped and logged. A model still loading at the deadline is not waited
   * for. Safe to call twice.
   */
  stop(timeoutMs: number): Promise<void>;
}

/** Text hashes read per page, and pages looked through per step, by the re-embedding pass. */
const REEMBED_PAGE = 2048;
const REEMBED_PAGES_PER_STEP = 8;
/** Pause before each re-embedding step: the pass yields to ingest and queries. */
const REEMBED_PAUSE_MS = 50;

export function createSearchIndexer(opts: IndexerOptions): SearchIndexer {
  const { store, embedder, logger } = opts;
  // Whole batches as ingest handed them over; `offset` is how far the head batch is taken.
  const queue: { batch: IndexBatch; offset: number }[] = [];
  let queued = 0;
  let inFlight = 0; // taken off the queue, not yet written: still pending for whoever waits
  let indexed = 0;
  let skipped = 0;
  let embedded = 0;
  let cacheHits = 0;
  let lastError: string | null = null;
  let shownError: string | null = null;
  let failedAt = 0;
  let stopped = false; // no record is taken any more
  let abandoned = false; // the stop's deadline passed: no round starts, the one running ends early
  let stopping: Promise<void> | null = null;
  let working: Promise<void> | null = null;
  let readying: Promise<ReadyIndex> | null = null;
  let state: ReadyIndex | null = null;
  let idleWaiters: (() => void)[] = [];
  // The re-embedding pass: once per process after the model is ready, over every stored text in
  // hash order, embedding those the ANN index (every vector of this model) does not hold, a step
  // of at most embedBatch texts at a time and only while nothing is queued.
  let reembedded = 0;
  let reembedFound = 0;
  let reembedAfter: bigint | null = null;
  let reembedDone = false;
  let reembedTimer: NodeJS.Timeout | null = null;
  let reembedStep: Promise<void> | null = null;
  // The same counts per tenant, so a tenant's searchIndex says nothing about other tenants' volume.
  // Past REMEMBERED_TENANTS, the earliest-seen tenants with nothing queued or in flight are
  // forgotten (their totals restart), so new tenant IDs cannot grow this without bound.
  const perTenant = new Map<string, { queued: number; inFlight: number; indexed: number; skipped: number }>();
  const forgetIdleTenants = () => {
    let excess = perTenant.size - REMEMBERED_TENANTS / 2;
    for (const [tenant, c] of perTenant) {
      if (excess <= 0) break;
      if (c.queued === 0 && c.inFlight === 0) {
        perTenant.delete(tenant);
        excess--;
      }
    }
  };
  // The next size at which idle tenants are forgotten: past a pass that could forget few (most
  // tenants have items queued), the next comes REMEMBERED_TENANTS / 2 tenants later, not at each new one.
  let forgetAt = REMEMBERED_TENANTS;
  const countsOf = (tenant: string) => {
    let c = perTenant.get(tenant);
    if (!c) {
      if (perTenant.size >= forgetAt) {
        forgetIdleTenants();
        forgetAt = Math.max(REMEMBERED_TENANTS, perTenant.size + REMEMBERED_TENANTS / 2);
      }
      perTenant.set(tenant, (c = { queued: 0, inFlight: 0, indexed: 0, skipped: 0 }));
    }
    return c;
  };
  /** Adds `n` to one counter of the tenants of items[from, to). */
  const countRange = (items: readonly { tenant: string }[], from: number, to: number, key: 'queued' | 'inFlight' | 'skipped', n: 1 | -1) => {
    for (let i = from; i < to; i++) countsOf(items[i]!.tenant)[key] += n;
  };
  let takenTenants: Map<string, number> = new Map();

  const pending = () => queued + inFlight;
  /** After a failed model load, until the next try: records are skipped at once, never held. */
  const unavailable = () => !state && failedAt !== 0 && Date.now() - failedAt < opts.retryLoadMs;

  function ready(): Promise<ReadyIndex> {
    readying ??= (async () => {
      await embedder.load();
      const dimensions = embedder.dimensions()!;
      const vectorKey = embedder.vectorKey()!;
      await store.prepare(dimensions);
      // usearch (a native addon) loads with the model, not at start-up.
      const { createAnnIndex } = await import('./ann.ts');
      const ann = createAnnIndex({ dimensions, ...opts.ann });
      const t0 = performance.now();
      const n = await store.scanVectors(vectorKey, dimensions, (hashes, vectors) => ann.add(hashes, vectors));
      logger.info({ vectors: n, ms: Math.round(performance.now() - t0) }, 'ANN index rebuilt from the store');
      state = { dimensions, vectorKey, ann };
      lastError = null;
      shownError = null;
      scheduleReembed();
      return state;
    })().catch((err: unknown) => {
      readying = null;
      failedAt = Date.now();
      const message = err instanceof Error ? err.message : String(err);
      // A model that loaded has its dimensions: then the store or the ANN index failed.
      const loaded = embedder.dimensions() !== null;
      // Said once: the retries (every retryLoadMs) fail the same way on an offline machine.
      if (message !== lastError) {
        logger.error({ err: message, model: embedder.model }, loaded ? 'semantic search unavailable: the search index could not be opened' : 'semantic search unavailable: the embedding model did not load');
      } else logger.debug({ err: message }, 'semantic search still unavailable');
      lastError = message;
      shownError = loaded ? 'the search index could not be opened (the reason is in the gateway log)' : modelNotLoaded(embedder.model);
      throw new SearchNotReadyError(shownError, err);
    });
    return readying;
  }

  /**
   * Takes up to n records off the queue and turns them into documents (texts are built here, off
   * ingest). A record whose documents cannot be built is skipped, counted and logged (once per
   * call); the others go on. `records`: those whose documents are returned (now in flight).
   */
  function take(n: number): { records: number; docs: SearchDoc[] } {
    const docs: SearchDoc[] = [];
    let taken = 0;
    let records = 0;
    let failed = 0;
    let firstFailure: unknown;
    while (taken < n && queue.length) {
      const head = queue[0]!;
      const count = Math.min(n - taken, head.batch.items.length - head.offset);
      const end = head.offset + count;
      for (let i = head.offset; i < end; i++) {
        const item = head.batch.items[i]!;
        const c = countsOf(item.tenant);
        c.queued--;
        let built: SearchDoc[];
        try {
          built = head.batch.signal === 'traces' ? spanDocs(item as SpanRecord) : logDocs(item as LogRecord);
        } catch (err) {
          c.skipped++;
          if (failed++ === 0) firstFailure = err;
          continue;
        }
        // One push per document: a spread into push() throws past ~125,000 arguments.
        for (const d of built) docs.push(d);
        c.inFlight++;
        takenTenants.set(item.tenant, (takenTenants.get(item.tenant) ?? 0) + 1);
        records++;
      }
      head.offset = end;
      taken += count;
      if (head.offset >= head.batch.items.length) queue.shift();
    }
    queued -= taken;
    if (failed > 0) {
      skipped += failed;
      logger.warn({ err: firstFailure instanceof Error ? firstFailure.message : String(firstFailure), records: failed }, 'building the search text of a record failed; it is skipped');
    }
    return { records, docs };
  }

  function dropAll(): void {
    for (const { batch, offset } of queue) {
      countRange(batch.items, offset, batch.items.length, 'queued', -1);
      countRange(batch.items, offset, batch.items.length, 'skipped', 1);
    }
    skipped += queued;
    queue.length = 0;
    queued = 0;
  }

  // A round writes texts and vectors before the documents that refer to them; a prune between
  // those writes would take them. Rounds and prunes run one at a time.
  let exclusive: Promise<unknown> = Promise.resolve();
  function oneAtATime<T>(fn: () => Promise<T>): Promise<T> {
    const run = exclusive.then(fn, fn);
    exclusive = run.catch(() => undefined);
    return run;
  }

  async function round(docs: SearchDoc[]): Promise<void> {
    const { dimensions, vectorKey, ann } = await ready();
    if (abandoned) throw new Error('the gateway stopped before this batch was indexed');
    const hashes = docs.map((d) => contentHash(d.text));
    const textOf = new Map<bigint, string>();
    docs.forEach((d, i) => textOf.set(hashes[i]!, d.text));
    // The ANN index holds every vector of this model, so it doubles as the "already embedded" set.
    const unknown = [...textOf.keys()].filter((h) => !ann.has(h));
    const cached = await store.cachedVectors(vectorKey, dimensions, unknown);
    cacheHits += cached.size;
    if (cached.size) addToAnn(ann, dimensions, [...cached]);
    const missing = unknown.filter((h) => !cached.has(h));
    if (missing.length) {
      const known = await store.knownTexts(missing);
      await store.putTexts(missing.filter((h) => !known.has(h)).map((h) => ({ hash: h, text: textOf.get(h)! })));
      for (let off = 0; off < missing.length; off += opts.embedBatch) {
        // One model call at a time past the stop's deadline, not the whole round (seconds with a large model).
        if (abandoned) throw new Error('the gateway stopped before this batch was indexed');
        const part = missing.slice(off, off + opts.embedBatch);
        await embedAndKeep(part, textOf, { dimensions, vectorKey, ann });
        embedded += part.length;
      }
    }
    await store.putDocs(docs.map((d, i) => toVectorDoc(d, hashes[i]!)));
  }

  /** Embeds these texts (by hash) with the model, stores their vectors and adds them to the ANN index. */
  async function embedAndKeep(hashes: readonly bigint[], textOf: ReadonlyMap<bigint, string>, { dimensions, vectorKey, ann }: ReadyIndex): Promise<void> {
    const vectors = await embedder.embed(hashes.map((h) => textOf.get(h)!));
    const entries = hashes.map((h, i) => ({ hash: h, vector: vectors[i]! }));
    await store.putVectors(vectorKey, dimensions, entries);
    addToAnn(
      ann,
      dimensions,
      entries.map((e) => [e.hash, e.vector]),
    );
  }

  /** Schedules the next re-embedding step, unless records wait (drain schedules it when done) or the pass ended. */
  function scheduleReembed(): void {
    if (reembedDone || stopped || !state || reembedTimer || reembedStep || queued > 0 || working) return;
    reembedTimer = setTimeout(() => {
      reembedTimer = null;
      if (stopped || queued > 0 || working) return;
      reembedStep = oneAtATime(reembedOnce)
        .catch((err: unknown) => {
          // Tried again at the next start; live records are not affected.
          reembedDone = true;
          logger.warn({ err: err instanceof Error ? err.message : String(err) }, 're-embedding stored texts failed; the rest waits for the next start');
        })
        .finally(() => {
          reembedStep = null;
          scheduleReembed();
        });
    }, REEMBED_PAUSE_MS);
    reembedTimer.unref();
  }

  /** One step: finds up to embedBatch stored texts without a vector of this model and embeds them. */
  async function reembedOnce(): Promise<void> {
    if (!state || stopped) return;
    const { ann } = state;
    const missing: bigint[] = [];
    for (let page = 0; page < REEMBED_PAGES_PER_STEP && missing.length < opts.embedBatch; page++) {
      const hashes = await store.textHashes(reembedAfter, REEMBED_PAGE);
      let i = 0;
      for (; i < hashes.length && missing.length < opts.embedBatch; i++) if (!ann.has(hashes[i]!)) missing.push(hashes[i]!);
      if (i > 0) reembedAfter = hashes[i - 1]!;
      if (i === hashes.length && hashes.length < REEMBED_PAGE) {
        reembedDone = true;
        break;
      }
    }
    reembedFound += missing.length;
    if (missing.length === 0) return;
    const texts = await store.textsOf(missing);
    const part = missing.filter((h) => texts.has(h));
    if (part.length === 0) return;
    await embedAndKeep(part, texts, state);
    reembedded += part.length;
    if (reembedDone) logger.info({ texts: reembedded, model: embedder.model }, 'stored texts re-embedded for the current model');
  }

  /** Indexes one batch taken off the queue; a failure skips (and counts, and logs) its records only. */
  async function drainOnce(): Promise<void> {
    takenTenants = new Map();
    const { records, docs } = take(opts.batchSize);
    const taken = takenTenants;
    inFlight = records;
    let ok = false;
    try {
      if (records > 0) await oneAtATime(() => round(docs));
      indexed += records;
      ok = true;
    } catch (err) {
      skipped += records;
      // Cut short by the stop: the stop logs what it left.
      if (state && !abandoned) {
        lastError = err instanceof Error ? err.message : String(err);
        shownError = 'indexing a batch failed; its records are skipped (the reason is in the gateway log)';
        logger.warn({ err: lastError, docs: docs.length }, 'indexing a batch failed; its documents are skipped');
      }
    } finally {
      inFlight = 0;
      for (const [t, n] of taken) {
        const c = countsOf(t);
        c.inFlight -= n;
        if (ok) c.indexed += n;
        else c.skipped += n;
      }
    }
  }

  async function drain(): Promise<void> {
    try {
      while (queued > 0 && !abandoned) {
        if (unavailable()) {
          // The model is not available: drop what waits rather than hold it (it is counted).
          dropAll();
          break;
        }
        await drainOnce();
      }
    } catch (err) {
      // Not expected (a batch's own failures are caught above), but the worker must never take the
      // process down or stop for good: what waits is skipped and counted, and the next record starts
      // a new worker.
      logger.error({ err: err instanceof Error ? err.message : String(err) }, 'the search indexer failed; the records waiting are skipped');
      dropAll();
    } finally {
      working = null;
      scheduleReembed();
      if (pending() === 0 || stopped) {
        const waiters = idleWaiters;
        idleWaiters = [];
        for (const w of waiters) w();
      }
    }
  }

  function kick(): void {
    if (working || abandoned) return;
    // setImmediate: the worker starts after the ingest call that queued has returned. drain()
    // catches everything; the catch here only keeps a bug there from being an unhandled rejection.
    working = new Promise<void>((resolve) => setImmediate(resolve))
      .then(drain)
      .catch((err: unknown) => {
        working = null;
        logger.error({ err: err instanceof Error ? err.message : String(err) }, 'the search indexer failed');
      });
  }

  return {
    enqueue(batch) {
      const n = batch.items.length;
      const room = stopped || unavailable() ? 0 : Math.max(0, opts.queueSize - queued);
      const accepted = Math.min(room, n);
      skipped += n - accepted;
      countRange(batch.items, 0, accepted, 'queued', 1);
      countRange(batch.items, accepted, n, 'skipped', 1);
      if (accepted === 0) return 0;
      queue.push({ batch: accepted === n ? batch : ({ signal: batch.signal, items: batch.items.slice(0, accepted) } as IndexBatch), offset: 0 });
      queued += accepted;
      kick();
      return accepted;
    },
    ready,
    status: (tenant) => {
      const own = tenant === undefined ? undefined : (perTenant.get(tenant) ?? { queued: 0, inFlight: 0, indexed: 0, skipped: 0 });
      return {
        pending: own ? own.queued + own.inFlight : pending(),
        indexed: own ? own.indexed : indexed,
        skipped: own ? own.skipped : skipped,
        embedded,
        reembedded,
        reembedding: !reembedDone && reembedFound > 0,
        cacheHits,
        model: embedder.model,
        dimensions: state?.dimensions ?? embedder.dimensions(),
        ready: state !== null,
        error: shownError,
        annSize: state?.ann.size() ?? 0,
      };
    },
    prune(batchRows) {
      return oneAtATime(async () => {
        const removed: bigint[][] = [];
        const pruned = await store.pruneUnreferenced(batchRows, (hashes) => {
          state?.ann.remove(hashes);
          if (!state && readying) removed.push(hashes);
        });
        // An index being rebuilt now may have read some of them before they were deleted.
        if (removed.length && !state && readying) {
          const rebuilt = await readying.catch(() => null);
          for (const hashes of removed) rebuilt?.ann.remove(hashes);
        }
        return pruned;
      });
    },
    idle() {
      if (queued === 0 && !working) return Promise.resolve();
      return new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
    stop(timeoutMs) {
      stopping ??= (async () => {
        stopped = true;
        if (reembedTimer) clearTimeout(reembedTimer);
        await reembedStep;
        // The pipelines have flushed their last batches here: index them, as the exporters send
        // theirs, within the same kind of bound.
        const waiting = pending();
        if (working && waiting > 0) {
          logger.info({ records: waiting, timeoutMs }, 'indexing the queued records before stopping');
          let timer: NodeJS.Timeout | undefined;
          const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
          await Promise.race([working, deadline]);
          clearTimeout(timer);
        }
        abandoned = true;
        const skippedBefore = skipped;
        dropAll();
        // Wait for a round that is writing (it ends after its current model call), not for a model
        // still loading (or downloading): that round fails on the closed store later.
        if (state) await working;
        const notIndexed = skipped - skippedBefore + inFlight;
        if (notIndexed > 0) {
          logger.warn({ records: notIndexed, timeoutMs }, 'stopped before every queued record was indexed: they are stored, but search and similar will not find them');
        }
        const waiters = idleWaiters;
        idleWaiters = [];
        for (const w of waiters) w();
      })();
      return stopping;
    },
  };
}

function addToAnn(ann: AnnIndex, dimensions: number, entries: [bigint, Float32Array][]): void {
  const flat = new Float32Array(entries.length * dimensions);
  entries.forEach(([, v], i) => flat.set(v, i * dimensions));
  ann.add(
    entries.map(([h]) => h),
    flat,
  );
}

function toVectorDoc(d: SearchDoc, hash: bigint): VectorDoc {
  return {
    tenant: d.tenant,
    kind: d.kind,
    hash,
    traceId: d.traceId,
    spanId: d.spanId,
    timeNs: d.timeNs,
    service: d.service,
    telemetrySource: d.telemetrySource,
    ...(d.log && { log: { timeUnixNano: d.log.timeUnixNano, observedTimeUnixNano: d.log.observedTimeUnixNano, body: d.log.body } }),
  };
}
