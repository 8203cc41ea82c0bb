// One GraphQL request's "now". Every relative Timestamp of a request (`from: "now-1h", to: "now"`)
// reads the same instant, and stays recognisable as relative after the scalar has turned it into
// nanoseconds, so that a later page of a search can resolve it again against its first page's now
// (page-cursor.ts `n`) instead of moving with the clock. Carried by AsyncLocalStorage, as the
// request's abort signal is (the scalar is parsed with no context); outside a request, `now` is the
// clock's.
import { AsyncLocalStorage } from 'node:async_hooks';

const wallClockNs = () => BigInt(Date.now()) * 1_000_000n;

interface RequestClock {
  now?: bigint;
  /** Instants written relative to now, by value: how long before now each was. */
  ago: Map<bigint, bigint>;
}

const current = new AsyncLocalStorage<RequestClock>();

/** Runs `fn` (a request's parse and execution) with its own clock. */
export function withRequestClock<T>(fn: () => T): T {
  return current.run({ ago: new Map() }, fn);
}

/** The request's now: the clock's time at its first reading in the request. */
export function requestNow(): bigint {
  const clock = current.getStore();
  if (!clock) return wallClockNs();
  return (clock.now ??= wallClockNs());
}

/** `ago` before the request's now, remembered as a relative instant. */
export function relativeInstant(ago: bigint): bigint {
  const ns = requestNow() - ago;
  current.getStore()?.ago.set(ns, ago);
  return ns;
}

/** How long before the request's now `ns` was written (`now-<ago>`); undefined for an absolute instant. */
export function agoOf(ns: bigint): bigint | undefined {
  return current.getStore()?.ago.get(ns);
}
