// `since`: replay stored matches, oldest first, then continue live with no gap and no duplicate.
//
// The order of steps is what makes the seam exact:
// 1. subscribe to the bus first, so every record published from now on is in the live buffer;
// 2. wait until everything published before that is readable from the store (bus.settled: the
//    ingest batches holding it were written), so a record is either stored or buffered live;
// 3. read the stored matches (time ≥ since), oldest first;
// 4. a record that is both stored and buffered (published after step 1, written before step 3
//    read it) is sent once, from the replay: each buffered record is matched to one replayed record
//    it is the live copy of (identity.ts), so genuine repeats of a record still pass.
// Records published after the read cannot be in it (publish comes before the store write) and
// reach the client through the live buffer.
// While steps 2–3 run, live records are taken off the bus as they arrive: the bus buffer is sized
// for a reader that keeps up, and a slow replay (a loaded store) would otherwise overflow it and
// report records as dropped that the seam still had (stored) or needed (live). Up to maxReplay are
// held this way; past that the bus buffers and drops as for any slow reader.
import type { TailEvent, TailSubscription } from './bus.ts';
import type { RecordIdentity } from './identity.ts';

export interface ReplayEvent<R> extends TailEvent<R> {
  /** Read from the store (`since`), not live. */
  replayed: boolean;
}

export interface ReplaySubscription<R> extends AsyncIterableIterator<ReplayEvent<R>> {
  /** Closes the live subscription under it; safe twice. */
  close(): void;
  /** The next event without waiting, or undefined. */
  poll(): ReplayEvent<R> | undefined;
  /** See TailSubscription.onReady; events already waiting (a replay, or live ones) are announced on the next microtask. */
  onReady(ready: ((full?: boolean) => void) | undefined): void;
}

/** More stored records match than a replay may send. */
export class ReplayLimitError extends Error {
  readonly limit = 'tail.maxReplay';
  readonly value: number;
  constructor(value: number) {
    super(`more than ${value} stored records match since (tail.maxReplay = ${value}); use a later since or a narrower filter`);
    this.name = 'ReplayLimitError';
    this.value = value;
  }
}

export interface ReplayOptions<R> {
  /** The live subscription, opened before this is called. */
  live: TailSubscription<R>;
  /** Resolves once records published before `live` opened are readable (bus.settled). */
  settled: () => Promise<void>;
  /**
   * Stored matches from `since`, oldest first, page by page: `after` is the previous page's
   * cursor. `records` may be longer than what matches (e.g. a store filtering less), `accept` decides.
   */
  readPage: (after: string | undefined) => Promise<{ records: R[]; next: string | null }>;
  accept?: (record: R) => boolean;
  /** Which stored record is a live one's copy. */
  identity: RecordIdentity<R>;
  maxReplay: number;
}

/**
 * Reads the replay (failing before any event with ReplayLimitError or the store's error, after
 * closing `live`) and returns the subscription that sends it and then the live records.
 */
export async function replayThenLive<R>(opts: ReplayOptions<R>): Promise<ReplaySubscription<R>> {
  const { live } = opts;
  const stored: R[] = [];
  // Live records published since `live` opened; anything stored is in here if it was published after that.
  const buffered: TailEvent<R>[] = [];
  live.onReady(() => {
    while (buffered.length < opts.maxReplay) {
      const e = live.poll();
      if (!e) break;
      buffered.push(e);
    }
  });
  try {
    await opts.settled();
    let after: string | undefined;
    for (;;) {
      const page = await opts.readPage(after);
      for (const r of page.records) {
        if (opts.accept && !opts.accept(r)) continue;
        if (stored.length === opts.maxReplay) throw new ReplayLimitError(opts.maxReplay);
        stored.push(r);
      }
      if (page.next === null || page.records.length === 0) break;
      after = page.next;
    }
  } catch (err) {
    live.close();
    throw err;
  }

  live.onReady(undefined);
  for (let e = live.poll(); e; e = live.poll()) buffered.push(e);
  const copyOf = storedCopies(stored, opts.identity);
  const queue: ReplayEvent<R>[] = stored.map((record) => ({ record, dropped: 0, replayed: true }));
  let carry = 0;
  for (const e of buffered) {
    if (copyOf(e.record)) {
      // Already in the replay; keep its drop count for the next event that is sent.
      carry += e.dropped;
      continue;
    }
    queue.push({ record: e.record, dropped: e.dropped + carry, replayed: false });
    carry = 0;
  }
  // The onReady callback above keeps `buffered` for the subscription's life: its records are in `queue` now.
  buffered.length = 0;

  let head = 0;
  /** The next replayed or held event, its slot let go (push delivery keeps a subscription for its life). */
  const takeQueued = (): ReplayEvent<R> | undefined => {
    if (head === queue.length) return undefined;
    const value = queue[head]!;
    queue[head++] = undefined as unknown as ReplayEvent<R>;
    if (head === queue.length) {
      queue.length = 0;
      head = 0;
    }
    return value;
  };
  const sub: ReplaySubscription<R> = {
    next: () => {
      const queued = takeQueued();
      if (queued) return Promise.resolve({ value: queued, done: false });
      return live.next().then((r) => {
        if (r.done) return { value: undefined, done: true };
        const value = { ...r.value, dropped: r.value.dropped + carry, replayed: false };
        carry = 0;
        return { value, done: false };
      });
    },
    poll: () => {
      const queued = takeQueued();
      if (queued) return queued;
      const e = live.poll();
      if (!e) return undefined;
      const value = { ...e, dropped: e.dropped + carry, replayed: false };
      carry = 0;
      return value;
    },
    return: () => {
      live.close();
      queue.length = 0;
      head = 0;
      return Promise.resolve({ value: undefined, done: true });
    },
    throw: (err?: unknown) => {
      live.close();
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    },
    close: () => {
      live.close();
      queue.length = 0;
      head = 0;
    },
    onReady: (ready) => {
      live.onReady(ready);
      if (ready) queueMicrotask(() => ready(false));
    },
    [Symbol.asyncIterator]: () => sub,
  };
  return sub;
}

/**
 * Finds a live record's copy among the stored ones, each taken once: whole copies by key first, then
 * (built on first need) the copies a store cut, by RecordIdentity.cutCopy. Returns whether one was found.
 */
function storedCopies<R>(stored: readonly R[], identity: RecordIdentity<R>): (live: R) => boolean {
  const taken = new Uint8Array(stored.length);
  const index = (key: (r: R) => string): Map<string, number[]> => {
    const byKey = new Map<string, number[]>();
    stored.forEach((r, i) => {
      const k = key(r);
      const list = byKey.get(k);
      if (list) list.push(i);
      else byKey.set(k, [i]);
    });
    return byKey;
  };
  let whole: Map<string, number[]> | undefined;
  let cut: Map<string, number[]> | undefined;
  const take = (candidates: number[] | undefined, matches: (i: number) => boolean): boolean => {
    const i = candidates?.find((j) => taken[j] === 0 && matches(j));
    if (i === undefined) return false;
    taken[i] = 1;
    return true;
  };
  return (live) => {
    whole ??= index(identity.key);
    if (take(whole.get(identity.key(live)), () => true)) return true;
    const copy = identity.cutCopy;
    if (!copy) return false;
    cut ??= index(copy.key);
    return take(cut.get(copy.key(live)), (i) => copy.matches(stored[i]!, live));
  };
}

/** The same event type without a replay, so every tail has one shape. */
export function liveOnly<R>(live: TailSubscription<R>): ReplaySubscription<R> {
  // The bus makes a fresh event object per delivery: marking it in place spares an allocation per event.
  const mark = (e: TailEvent<R>): ReplayEvent<R> => {
    (e as ReplayEvent<R>).replayed = false;
    return e as ReplayEvent<R>;
  };
  const sub: ReplaySubscription<R> = {
    next: () => live.next().then((r) => (r.done ? r : { value: mark(r.value), done: false })),
    poll: () => {
      const e = live.poll();
      return e && mark(e);
    },
    return: () => {
      live.close();
      return Promise.resolve({ value: undefined, done: true });
    },
    throw: (err?: unknown) => {
      live.close();
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    },
    close: () => live.close(),
    onReady: (ready) => {
      live.onReady(ready);
      if (ready) queueMicrotask(() => ready(false));
    },
    [Symbol.asyncIterator]: () => sub,
  };
  return sub;
}
