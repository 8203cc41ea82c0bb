// The live-tail bus: ingest publishes every batch per tenant and topic; each subscriber gets the
// records its predicate accepts through its own bounded buffer.
//
// - publish is synchronous and never waits for a subscriber: per subscriber it runs the predicate
//   and appends to the buffer;
// - a full buffer drops its OLDEST record; the next event delivered carries `dropped`, the number
//   dropped since the previous delivery, so a slow reader sees the newest data and knows what it missed;
// - limits on subscriptions in total, per tenant and per connection are checked at subscribe time;
// - a subscriber only ever listens to its own tenant's (tenant, topic) on the transport;
// - derived topics (traces, assembled from spans) are produced on this replica by a deriver that
//   runs while anyone here listens to the (tenant, topic), and never cross the transport.
import { DERIVED_TOPICS, type TailTopic, type TailTopics } from './topics.ts';
import { createInMemoryTransport, type TailListener, type TailTransport } from './transport.ts';
import { fieldReader, mergeInterests, type TailIndexField, type TailIndexKey, type TailInterest } from './index-fields.ts';
import { matchingUntil } from '../stores/filter-match.ts';
import type { OtlpRequest } from '../otlp/codec.ts';

export interface TailEvent<R> {
  record: R;
  /** Records dropped from this subscription's buffer since the previous event it delivered. */
  dropped: number;
}

export interface TailLimits {
  /** Subscriptions open at once across all connections. */
  maxSubscriptions: number;
  /** Subscriptions open at once on one connection (a WebSocket, or one SSE request). */
  maxPerConnection: number;
  /** Subscriptions open at once for one tenant, across its connections, so one tenant cannot take every slot. */
  maxPerTenant: number;
  /** Default buffer per subscription, in records. */
  bufferSize: number;
  /** Stored records a `since` replay may send; more fail the subscription (ReplayLimitError). */
  maxReplay: number;
  /**
   * Milliseconds of the event loop one tenant's tails may spend matching records per 10 s (0 = no
   * budget); past it, its costliest tail fails (TailCostError), and until the window ends its other
   * tails fail when they would match and new ones are refused. A regex over long values is the
   * usual cause: one record's match is bounded (filter-match's MAX_FILTER_STATES), their number is
   * not. A filter made by filter-match also stops part way through a record once the budget is
   * spent (matchingUntil), so the loop is held at most the budget plus one regex match.
   */
  matchBudgetMs: number;
}

export const DEFAULT_TAIL_LIMITS: TailLimits = { maxSubscriptions: 1000, maxPerConnection: 20, maxPerTenant: 500, bufferSize: 1000, maxReplay: 10_000, matchBudgetMs: 1000 };
/** The window tail.matchBudgetMs is counted over. */
export const MATCH_WINDOW_MS = 10_000;

/** A subscribe that would exceed a limit; `limit` is the config key, `value` its setting. */
export class TailLimitError extends Error {
  readonly limit: 'tail.maxSubscriptions' | 'tail.maxPerConnection' | 'tail.maxPerTenant';
  readonly value: number;
  constructor(limit: TailLimitError['limit'], value: number) {
    const who = { 'tail.maxSubscriptions': 'the gateway', 'tail.maxPerConnection': 'this connection', 'tail.maxPerTenant': 'this tenant' }[limit];
    super(`${who} already has ${value} live tail subscriptions open (${limit} = ${value})`);
    this.name = 'TailLimitError';
    this.limit = limit;
    this.value = value;
  }
}

/**
 * A tail ended, or refused, because its tenant's tails spent tail.matchBudgetMs matching records in
 * the current window; `spentMs` is this tail's part (undefined when refused at subscribe).
 */
export class TailCostError extends Error {
  readonly limit = 'tail.matchBudgetMs';
  constructor(
    readonly value: number,
    spentMs: number | undefined,
    windowEndsInMs: number,
  ) {
    super(
      `this tenant's live tails spent more than ${value} ms of the gateway's time matching records within ${MATCH_WINDOW_MS / 1000} s ` +
        `(tail.matchBudgetMs = ${value})${spentMs === undefined ? '' : `, this tail's filter ${Math.round(spentMs)} ms of it`}; ` +
        `its tails are ended and new ones refused for ${Math.max(1, Math.ceil(windowEndsInMs / 1000))} s more: narrow their filters (a regex over long values is the usual cause)`,
    );
    this.name = 'TailCostError';
  }
}

export interface SubscribeOptions {
  bufferSize?: number;
  /** Identifies the client connection for tail.maxPerConnection; any object, compared by identity. */
  connection?: object;
  /**
   * One equality term the predicate requires (a single service, span/event name or trace ID), when
   * it has one: the bus then hands this subscriber only the records of each batch with that value,
   * so a thousand selective tails cost one grouping per batch and field instead of a thousand
   * scans. The predicate still decides.
   */
  index?: TailIndexKey;
  /**
   * Without an index key: values one of which every record the predicate accepts has (a filter's
   * `service: [a, b]`), so a transport sends this replica only such records; absent, all.
   */
  wants?: TailInterest;
}

export type { TailIndexField, TailIndexKey } from './index-fields.ts';

export interface TailSubscription<R> extends AsyncIterableIterator<TailEvent<R>> {
  /** Stops delivery and frees the slot; a pending next() resolves as done. Safe twice. */
  close(): void;
  /** The next buffered event, or undefined when none is waiting; never waits. */
  poll(): TailEvent<R> | undefined;
  /**
   * Push delivery: `ready` is called (synchronously, from publish) after records were buffered for
   * this subscription, and with `full` true before a full buffer drops its oldest, so a reader that
   * `poll`s there takes what it can (one that defers its reads should read then); what it leaves is
   * buffered and dropped as usual. Undefined stops it.
   */
  onReady(ready: ((full?: boolean) => void) | undefined): void;
}

/**
 * Produces a derived topic for one tenant from the topics it listens to, while it runs. `start`
 * returns the function that stops it (and frees its state).
 */
export interface TailDeriver<T extends TailTopic> {
  start(
    tenant: string,
    listen: <S extends TailTopic>(topic: S, listener: TailListener<S>) => () => void,
    emit: (records: readonly TailTopics[T][]) => void,
  ): () => void;
}

export interface TailBusOptions {
  transport?: TailTransport;
  derivers?: { [T in TailTopic]?: TailDeriver<T> };
  /**
   * Resolves once every record published for the topic before the call can be read from the
   * stores (the ingest batches holding them were written). Used by replays (`since`) so that
   * nothing published before the live subscription started falls between store and live.
   */
  settled?: (topic: TailTopic) => Promise<void>;
}

export interface TailBus {
  readonly limits: Readonly<TailLimits>;
  /** `request`: what the records were decoded from, when decoding it again gives them (TailTransport.publish). */
  publish<T extends TailTopic>(tenant: string, topic: T, records: readonly TailTopics[T][], request?: OtlpRequest): void;
  subscribe<T extends TailTopic>(
    tenant: string,
    topic: T,
    predicate: (record: TailTopics[T]) => boolean,
    opts?: SubscribeOptions,
  ): TailSubscription<TailTopics[T]>;
  /** Open subscriptions, in total. */
  size(): number;
  /** Records dropped from full buffers since start, for /metrics. */
  droppedTotal(): number;
  /** Whether anything (here or, through the transport, on another replica) listens to (tenant, topic). */
  listening(tenant: string, topic: TailTopic): boolean;
  /** See TailBusOptions.settled; resolves at once when the bus was given none. */
  settled(topic: TailTopic): Promise<void>;
  /** Connects the transport (Redis); the in-memory one has nothing to do. */
  start(): Promise<void>;
  /** Closes the transport; subscriptions still open stop receiving. Safe twice. */
  close(): Promise<void>;
}

export function createTailBus(limits: Partial<TailLimits> = {}, options: TailBusOptions | TailTransport = {}): TailBus {
  const opts: TailBusOptions = 'publish' in options ? { transport: options } : options;
  const transport = opts.transport ?? createInMemoryTransport();
  // Derived topics stay on this replica.
  const local = createInMemoryTransport();
  const transportOf = (topic: TailTopic) => (DERIVED_TOPICS.has(topic) ? local : transport);
  const allLimits: TailLimits = {
    maxSubscriptions: limits.maxSubscriptions ?? DEFAULT_TAIL_LIMITS.maxSubscriptions,
    maxPerConnection: limits.maxPerConnection ?? DEFAULT_TAIL_LIMITS.maxPerConnection,
    maxPerTenant: limits.maxPerTenant ?? DEFAULT_TAIL_LIMITS.maxPerTenant,
    bufferSize: limits.bufferSize ?? DEFAULT_TAIL_LIMITS.bufferSize,
    maxReplay: limits.maxReplay ?? DEFAULT_TAIL_LIMITS.maxReplay,
    matchBudgetMs: limits.matchBudgetMs ?? DEFAULT_TAIL_LIMITS.matchBudgetMs,
  };
  const { maxSubscriptions, maxPerConnection, maxPerTenant, bufferSize: defaultBuffer, matchBudgetMs } = allLimits;
  let open = 0;
  let droppedTotal = 0;
  const perConnection = new WeakMap<object, number>();
  const perTenant = new Map<string, number>();
  const derived = new Map<string, { users: number; stop: () => void }>();

  // Matching time per tenant and per subscription in the current window (tail.matchBudgetMs).
  interface MatchCost {
    spentMs: number;
    window: number;
    fail: (err: TailCostError) => void;
  }
  interface TenantMatchCost {
    spentMs: number;
    window: number;
    startedAt: number;
    subscriptions: Set<MatchCost>;
  }
  const matchCosts = new Map<string, TenantMatchCost>();
  /** `cost` in the current window (a new one starts its count at 0). */
  function inWindow(cost: TenantMatchCost, now: number): TenantMatchCost {
    if (now - cost.startedAt >= MATCH_WINDOW_MS) {
      cost.spentMs = 0;
      cost.window++;
      cost.startedAt = now;
    }
    return cost;
  }
  /** The tenant's costs, in the current window. */
  function tenantMatchCost(tenant: string, now: number): TenantMatchCost {
    const cost = matchCosts.get(tenant);
    if (cost) return inWindow(cost, now);
    const created: TenantMatchCost = { spentMs: 0, window: 0, startedAt: now, subscriptions: new Set() };
    matchCosts.set(tenant, created);
    return created;
  }
  const overBudget = (cost: TenantMatchCost) => cost.spentMs > matchBudgetMs;
  const windowEndsIn = (cost: TenantMatchCost, now: number) => cost.startedAt + MATCH_WINDOW_MS - now;
  /**
   * Just over budget: the tenant's costliest tail of the window fails first. Its time keeps
   * counting (a tail subscribed again would start at 0 and could keep the loop busy), so until the
   * window ends its other tails fail when they would match and new ones are refused.
   */
  function failCostliest(cost: TenantMatchCost, now: number): void {
    let costliest: MatchCost | undefined;
    for (const sub of cost.subscriptions) {
      if (sub.window === cost.window && sub.spentMs > (costliest?.spentMs ?? 0)) costliest = sub;
    }
    costliest?.fail(new TailCostError(matchBudgetMs, costliest.spentMs, windowEndsIn(cost, now)));
  }

  // One transport listener per (tenant, topic) here, shared by its subscribers; those with an
  // index key are found by it (field, then value), the rest see every record.
  type Deliver = (records: readonly unknown[]) => void;
  interface Channel {
    all: Set<Deliver>;
    /** Of `all`, those that said which values they want (SubscribeOptions.wants). */
    allWants: Map<Deliver, TailInterest>;
    indexed: Map<TailIndexField, Map<string, Set<Deliver>>>;
    stop: () => void;
  }
  const channels = new Map<string, Channel>();

  function dispatch(ch: Channel, records: readonly unknown[]): void {
    for (const d of ch.all) d(records);
    for (const [field, byValue] of ch.indexed) {
      // Group the batch by the field's value, keeping record order, for the values someone wants.
      const read = fieldReader(field);
      const groups = new Map<string, unknown[]>();
      for (const r of records) {
        const v = read(r);
        if (v === undefined || !byValue.has(v)) continue;
        const g = groups.get(v);
        if (g) g.push(r);
        else groups.set(v, [r]);
      }
      for (const [v, group] of groups) for (const d of byValue.get(v)!) d(group);
    }
  }

  /** What a channel's subscribers can match: all when one of them has neither an index key nor wants. */
  function interestOf(ch: Channel): TailInterest {
    if (ch.all.size > ch.allWants.size) return 'all';
    const interest: { [F in TailIndexField]?: string[] } = {};
    for (const [field, byValue] of ch.indexed) interest[field] = [...byValue.keys()];
    return ch.allWants.size === 0 ? interest : mergeInterests([interest, ...ch.allWants.values()]);
  }

  function join(tenant: string, topic: TailTopic, deliver: Deliver, index: TailIndexKey | undefined, wants: TailInterest | undefined): () => void {
    const key = `${topic}\u0000${tenant}`;
    let ch = channels.get(key);
    const transport = transportOf(topic);
    if (!ch) {
      const created: Channel = { all: new Set(), allWants: new Map(), indexed: new Map(), stop: () => {} };
      created.stop = transport.listen(tenant, topic, (records) => dispatch(created, records as readonly unknown[]), () => interestOf(created));
      channels.set(key, (ch = created));
    }
    const c = ch;
    // The transport hears of a value, or of a subscriber that wants all, coming or going; not of a
    // second subscriber to the same value.
    let changed = false;
    if (index === undefined) {
      // One that wants all changes the channel's interest only when it is the first such.
      changed = wants !== undefined && wants !== 'all' ? true : c.all.size === c.allWants.size;
      c.all.add(deliver);
      if (wants !== undefined && wants !== 'all') c.allWants.set(deliver, wants);
    } else {
      let byValue = c.indexed.get(index.field);
      if (!byValue) c.indexed.set(index.field, (byValue = new Map()));
      let set = byValue.get(index.value);
      if (!set) {
        byValue.set(index.value, (set = new Set()));
        changed = c.all.size === c.allWants.size;
      }
      set.add(deliver);
    }
    if (changed) transport.interestChanged?.(tenant, topic);
    return () => {
      let changed = false;
      if (index === undefined) {
        c.all.delete(deliver);
        changed = c.allWants.delete(deliver) || c.all.size === c.allWants.size;
      } else {
        const byValue = c.indexed.get(index.field);
        const set = byValue?.get(index.value);
        set?.delete(deliver);
        if (set?.size === 0) {
          byValue!.delete(index.value);
          changed = c.all.size === c.allWants.size;
        }
        if (byValue?.size === 0) c.indexed.delete(index.field);
      }
      if (c.all.size === 0 && c.indexed.size === 0 && channels.get(key) === c) {
        channels.delete(key);
        c.stop();
      } else if (changed) transport.interestChanged?.(tenant, topic);
    };
  }

  /** Runs the topic's deriver for the tenant while someone listens; returns the release. */
  function useDeriver(tenant: string, topic: TailTopic): () => void {
    const deriver = opts.derivers?.[topic] as TailDeriver<TailTopic> | undefined;
    if (!deriver) return () => {};
    const key = `${topic}\u0000${tenant}`;
    let entry = derived.get(key);
    if (!entry) {
      const stop = deriver.start(
        tenant,
        (source, listener) => transportOf(source).listen(tenant, source, listener),
        (records) => {
          if (records.length > 0) local.publish(tenant, topic, records);
        },
      );
      derived.set(key, (entry = { users: 0, stop }));
    }
    entry.users++;
    const e = entry;
    return () => {
      if (--e.users === 0 && derived.get(key) === e) {
        derived.delete(key);
        e.stop();
      }
    };
  }

  return {
    limits: allLimits,
    publish(tenant, topic, records, request) {
      const t = transportOf(topic);
      if (records.length === 0 || !t.hasListeners(tenant, topic)) return;
      t.publish(tenant, topic, records, request);
    },

    subscribe(tenant, topic, predicate, opts = {}) {
      const bufferSize = opts.bufferSize ?? defaultBuffer;
      if (!Number.isInteger(bufferSize) || bufferSize < 1) throw new RangeError(`bufferSize must be a positive integer (actual: ${bufferSize})`);
      if (open >= maxSubscriptions) throw new TailLimitError('tail.maxSubscriptions', maxSubscriptions);
      const conn = opts.connection;
      const onConn = conn ? (perConnection.get(conn) ?? 0) : 0;
      if (conn && onConn >= maxPerConnection) throw new TailLimitError('tail.maxPerConnection', maxPerConnection);
      const onTenant = perTenant.get(tenant) ?? 0;
      if (onTenant >= maxPerTenant) throw new TailLimitError('tail.maxPerTenant', maxPerTenant);
      if (matchBudgetMs > 0 && matchCosts.has(tenant)) {
        const now = performance.now();
        const cost = tenantMatchCost(tenant, now);
        if (overBudget(cost)) throw new TailCostError(matchBudgetMs, undefined, windowEndsIn(cost, now));
      }
      open++;
      if (conn) perConnection.set(conn, onConn + 1);
      perTenant.set(tenant, onTenant + 1);

      type R = TailTopics[typeof topic];
      const ring: (R | undefined)[] = new Array<R | undefined>(bufferSize);
      let head = 0;
      let count = 0;
      let dropped = 0;
      let closed = false;
      // Why the subscription ended, when it failed: next() rejects with it, poll() throws it.
      let failure: TailCostError | undefined;
      let waiter: ((r: IteratorResult<TailEvent<R>>) => void) | undefined;
      let waiterFail: ((err: Error) => void) | undefined;
      let ready: ((full?: boolean) => void) | undefined;
      const callReady = (full: boolean) => {
        try {
          ready!(full);
        } catch {
          // A push reader that throws (it should not) must not stop ingest.
        }
      };

      const take = (): TailEvent<R> => {
        const record = ring[head] as R;
        ring[head] = undefined;
        head = (head + 1) % bufferSize;
        count--;
        const event = { record, dropped };
        dropped = 0;
        return event;
      };

      const offer = (record: R) => {
        if (waiter) {
          const w = waiter;
          waiter = waiterFail = undefined;
          w({ value: { record, dropped }, done: false });
          dropped = 0;
          return;
        }
        // A full buffer lets a push reader take what it can first; checked again, since it may have.
        if (count === bufferSize && ready) callReady(true);
        if (count === bufferSize) {
          ring[head] = undefined;
          head = (head + 1) % bufferSize;
          count--;
          dropped++;
          droppedTotal++;
        }
        ring[(head + count) % bufferSize] = record;
        count++;
      };

      const releaseDeriver = useDeriver(tenant, topic);
      const tenantCost = matchBudgetMs > 0 ? tenantMatchCost(tenant, performance.now()) : undefined;
      const cost: MatchCost = { spentMs: 0, window: tenantCost?.window ?? 0, fail: (err) => fail(err) };
      tenantCost?.subscriptions.add(cost);
      const stopListening = join(tenant, topic, (records) => {
        if (closed) return;
        // The tenant's entry stays in matchCosts while this subscription is in it.
        let started = tenantCost ? performance.now() : 0;
        const tc = tenantCost && inWindow(tenantCost, started);
        if (tc && cost.window !== tc.window) {
          cost.spentMs = 0;
          cost.window = tc.window;
        }
        const matchAll = () => {
          for (const r of records as readonly R[]) {
            // Over budget (another tail took it over): this one ends rather than match.
            if (tc && overBudget(tc)) return fail(new TailCostError(matchBudgetMs, cost.spentMs, windowEndsIn(tc, started)));
            let match = false;
            try {
              match = predicate(r);
            } catch {
              // A predicate that throws on one record (it should not) must not stop ingest; one that
              // met the deadline (MatchDeadlineError) has spent the budget, charged just below.
            }
            if (match) offer(r);
            if (!tc) continue;
            // Charged per record, so one batch of costly matches cannot run past the budget.
            const now = performance.now();
            cost.spentMs += now - started;
            tc.spentMs += now - started;
            started = now;
            if (overBudget(tc)) {
              failCostliest(tc, now);
              if (closed) return;
            }
          }
        };
        // The filter stops between its conditions once the tenant's budget is spent, so one record
        // (a trace of many spans, a filter of many regexes) cannot run far past it.
        if (tc) matchingUntil(started + matchBudgetMs - tc.spentMs, matchAll);
        else matchAll();
        if (ready && count > 0 && !closed) callReady(false);
      }, opts.index, opts.index ? undefined : opts.wants);

      const close = () => {
        if (closed) return;
        closed = true;
        ready = undefined;
        stopListening();
        releaseDeriver();
        tenantCost?.subscriptions.delete(cost);
        // Kept while over budget, so that subscribing again is refused until the window ends.
        if (tenantCost?.subscriptions.size === 0 && matchCosts.get(tenant) === tenantCost && !overBudget(tenantCost)) matchCosts.delete(tenant);
        ring.fill(undefined);
        count = 0;
        open--;
        const left = (perTenant.get(tenant) ?? 1) - 1;
        if (left > 0) perTenant.set(tenant, left);
        else perTenant.delete(tenant);
        if (conn) {
          const n = (perConnection.get(conn) ?? 1) - 1;
          if (n > 0) perConnection.set(conn, n);
          else perConnection.delete(conn);
        }
        const w = waiter;
        const wFail = waiterFail;
        waiter = waiterFail = undefined;
        if (failure && wFail) wFail(takeFailure()!);
        else w?.({ value: undefined, done: true });
      };
      /** Ends the subscription with `err`: what is buffered is dropped, the reader gets the error next. */
      const fail = (err: TailCostError) => {
        if (closed) return;
        failure = err;
        const wake = ready;
        close();
        // A push reader polls now and meets the error.
        try {
          wake?.(false);
        } catch {
          // As callReady: a reader that throws must not stop ingest.
        }
      };
      /** The failure once (then done), for a reader that asks after it. */
      const takeFailure = (): TailCostError | undefined => {
        const err = failure;
        failure = undefined;
        return err;
      };

      const sub: TailSubscription<R> = {
        next() {
          if (count > 0) return Promise.resolve({ value: take(), done: false });
          if (closed) {
            const err = takeFailure();
            return err ? Promise.reject(err) : Promise.resolve({ value: undefined, done: true });
          }
          return new Promise((resolve, reject) => {
            waiter = resolve;
            waiterFail = reject;
          });
        },
        return() {
          close();
          return Promise.resolve({ value: undefined, done: true });
        },
        throw(err?: unknown) {
          close();
          return Promise.reject(err instanceof Error ? err : new Error(String(err)));
        },
        close,
        poll: () => {
          if (count > 0) return take();
          const err = closed ? takeFailure() : undefined;
          if (err) throw err;
          return undefined;
        },
        onReady(fn) {
          ready = closed ? undefined : fn;
        },
        [Symbol.asyncIterator]() {
          return sub;
        },
      };
      return sub;
    },

    size: () => open,
    droppedTotal: () => droppedTotal,
    listening: (tenant, topic) => transportOf(topic).hasListeners(tenant, topic),
    settled: (topic) => opts.settled?.(topic) ?? Promise.resolve(),
    start: () => transport.start?.() ?? Promise.resolve(),
    close: () => transport.close?.() ?? Promise.resolve(),
  };
}
