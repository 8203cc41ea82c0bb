// Fair sharing of DuckDB's read connections ("lanes") between tenants. Before, a read statement went
// to the least busy lane and queued there in arrival order, so a tenant that sent many statements
// made every other tenant's statements wait behind all of them. Here each tenant has its own queue
// and a free lane goes to the waiting tenant with the fewest statements running (among equals, the
// one served least recently: round-robin), and one tenant never holds more than `lanes − 1` lanes:
// a tenant that floods reads leaves a lane for the others, and another tenant's statement starts
// next, not after the flood.
// It also measures, per tenant, how long statements waited for a lane and how long they ran, and
// each statement's share of DuckDB: its running time divided by the statements running beside it
// (reads and writes), which is what the per-tenant DuckDB time budget charges.
import { performance } from 'node:perf_hooks';
import { LRUCache } from 'lru-cache';
import { REMEMBERED_TENANTS } from '../tenant.ts';

export interface LaneStats {
  statements: number;
  /** Milliseconds statements waited for a lane. */
  waitMs: number;
  /** Milliseconds statements ran (wall time). */
  runMs: number;
  /** Their share of that time: each interval divided by the statements running in it. */
  shareMs: number;
  /** Now: statements waiting for a lane, and running. */
  waiting: number;
  running: number;
}

export interface FairLanes<L> {
  /** Runs fn on a lane once it is this tenant's turn; resolves with fn's result and the statement's share (ms). */
  run<T>(tenant: string, fn: (lane: L) => Promise<T>): Promise<{ value: T; shareMs: number }>;
  /** Statements waiting for a lane, this tenant's or all. */
  waiting(tenant?: string): number;
  /** Statements running, this tenant's or all. */
  running(tenant?: string): number;
  /** Per tenant, since the lanes were created, for the REMEMBERED_TENANTS most recently active (waiting and running: now). */
  stats(): Map<string, LaneStats>;
  /** Resolves once nothing waits or runs. */
  idle(): Promise<void>;
}

interface Job<L> {
  queuedAt: number;
  start(lane: L): void;
}

export interface Shares {
  /** Runs one statement, counting it among those sharing DuckDB; resolves with its result and its share (ms). */
  measure<T>(fn: () => Promise<T>): Promise<{ value: T; shareMs: number }>;
}

/** Running statements and their accrued share of DuckDB (processor sharing: dt / n to each of n). */
export function createShares(): Shares {
  const active = new Set<{ share: number }>();
  let since = performance.now();
  const accrue = () => {
    const now = performance.now();
    if (active.size) for (const a of active) a.share += (now - since) / active.size;
    since = now;
  };
  return {
    async measure<T>(fn: () => Promise<T>): Promise<{ value: T; shareMs: number }> {
      accrue();
      const me = { share: 0 };
      active.add(me);
      try {
        const value = await fn();
        accrue();
        return { value, shareMs: me.share };
      } finally {
        accrue();
        active.delete(me);
      }
    },
  };
}

/** `shares` also counts statements run elsewhere (the write lanes), so reads' shares shrink while writes run. */
export function createFairLanes<L>(lanes: readonly L[], shares: Shares = createShares()): FairLanes<L> {
  const free = [...lanes];
  const cap = Math.max(1, lanes.length - 1);
  const queues = new Map<string, Job<L>[]>();
  /** When each tenant was last given a lane (a counter), for round-robin among equals; one forgotten counts as never served. */
  const served = new LRUCache<string, number>({ max: REMEMBERED_TENANTS });
  let serial = 0;
  const runningBy = new Map<string, number>();
  const statsBy = new LRUCache<string, LaneStats>({ max: REMEMBERED_TENANTS });
  let waitingTotal = 0;
  let idleWaiters: (() => void)[] = [];

  // A lane is out of `free` exactly while a statement runs on it.
  const runningTotal = () => lanes.length - free.length;

  const statsOf = (tenant: string): LaneStats => {
    let s = statsBy.get(tenant);
    if (!s) statsBy.set(tenant, (s = { statements: 0, waitMs: 0, runMs: 0, shareMs: 0, waiting: 0, running: 0 }));
    return s;
  };

  function dispatch(): void {
    while (free.length && queues.size) {
      // The eligible tenant with the fewest statements running; among equals the least recently served.
      let pick: string | undefined;
      let pickRunning = 0;
      for (const tenant of queues.keys()) {
        const n = runningBy.get(tenant) ?? 0;
        if (n >= cap) continue;
        if (pick === undefined || n < pickRunning || (n === pickRunning && (served.peek(tenant) ?? 0) < (served.peek(pick) ?? 0))) {
          pick = tenant;
          pickRunning = n;
        }
      }
      if (pick === undefined) return;
      const tenant = pick;
      const queue = queues.get(tenant)!;
      const job = queue.shift()!;
      if (!queue.length) queues.delete(tenant);
      served.set(tenant, ++serial);
      waitingTotal--;
      runningBy.set(tenant, (runningBy.get(tenant) ?? 0) + 1);
      job.start(free.pop()!);
    }
  }

  function release(tenant: string, lane: L): void {
    const n = (runningBy.get(tenant) ?? 1) - 1;
    if (n) runningBy.set(tenant, n);
    else runningBy.delete(tenant);
    free.push(lane);
    dispatch();
    if (!runningTotal() && !waitingTotal) {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  return {
    run<T>(tenant: string, fn: (lane: L) => Promise<T>) {
      return new Promise<{ value: T; shareMs: number }>((resolve, reject) => {
        const s = statsOf(tenant);
        const job: Job<L> = {
          queuedAt: performance.now(),
          start(lane) {
            const t0 = performance.now();
            s.statements++;
            s.waitMs += t0 - job.queuedAt;
            shares
              .measure(() => fn(lane))
              .then(
                (r) => {
                  s.shareMs += r.shareMs;
                  resolve(r);
                },
                reject,
              )
              .finally(() => {
                s.runMs += performance.now() - t0;
                release(tenant, lane);
              });
          },
        };
        let queue = queues.get(tenant);
        if (!queue) queues.set(tenant, (queue = []));
        queue.push(job);
        waitingTotal++;
        dispatch();
      });
    },
    waiting: (tenant) => (tenant === undefined ? waitingTotal : (queues.get(tenant)?.length ?? 0)),
    running: (tenant) => (tenant === undefined ? runningTotal() : (runningBy.get(tenant) ?? 0)),
    stats: () => new Map([...statsBy.entries()].map(([t, s]) => [t, { ...s, waiting: queues.get(t)?.length ?? 0, running: runningBy.get(t) ?? 0 }])),
    idle: () => (runningTotal() || waitingTotal ? new Promise<void>((res) => idleWaiters.push(res)) : Promise.resolve()),
  };
}
