// bench:tail's account of slow events (over SLOW_MS): for each OTLP request that had one, when the
// gateway acknowledged it (the tail tap publishes before the acknowledgement, so an
// acknowledgement as late as the event means the request was held before the bus: decode, or a
// main thread busy with something else), the gateway's main-thread stalls and GC in the event's
// window, and the CPU its other threads (DuckDB's work on the libuv pool, V8's helpers) used then,
// on the same pinned core.
import type { GcInterval, Interval, Stall } from './loop-probe.ts';
import { fmt, threadSchedMs } from './lib.ts';

export const SLOW_MS = 100;

export interface SendRecord {
  req: number;
  sent: number;
  ack: number;
}

/**
 * CPU of a process's threads other than the main one, sampled every `everyMs` while running, and
 * which thread used most in each sample, by its place in thread-creation order (Node's threads are
 * all named "node": V8's platform workers — GC helpers, compilers — start first, libuv's pool,
 * which runs DuckDB's statements, when first used).
 */
export interface ThreadSample {
  at: number;
  ms: number;
  byThread: Map<number, number>;
}
export function threadSampler(pid: number, everyMs = 20): { stop(): ThreadSample[] } {
  // ms on a CPU of every thread but the main one
  const read = (): Map<string, number> => new Map([...threadSchedMs(pid)].filter(([tid]) => tid !== String(pid)).map(([tid, t]) => [tid, t.runMs]));
  let prev = read();
  const samples: ThreadSample[] = [];
  const timer = setInterval(() => {
    const cur = read();
    const order = [...cur.keys()].map(Number).sort((a, b) => a - b);
    let ms = 0;
    const byThread = new Map<number, number>();
    for (const [tid, v] of cur) {
      const d = v - (prev.get(tid) ?? v);
      ms += d;
      if (d > 0) byThread.set(order.indexOf(Number(tid)) + 1, d);
    }
    prev = cur;
    if (ms > 0) samples.push({ at: performance.timeOrigin + performance.now(), ms, byThread });
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return samples;
    },
  };
}

const overlap = (a0: number, a1: number, b0: number, b1: number) => Math.max(0, Math.min(a1, b1) - Math.max(a0, b0));

/** Prints what held each request that had an event slower than SLOW_MS. */
export function attribute(
  events: { reqs: number[]; arrivals: number[]; latencies: number[] },
  sends: SendRecord[],
  stalls: Stall[],
  gcs: GcInterval[],
  threads: ThreadSample[],
  workerLoop: Interval[],
  absMinusMonoMs: number,
): void {
  // The send each slow event belongs to: the last send of its request index before it arrived.
  const byReq = new Map<number, SendRecord[]>();
  for (const s of sends) {
    const l = byReq.get(s.req);
    if (l) l.push(s);
    else byReq.set(s.req, [s]);
  }
  const slow = new Map<SendRecord, { n: number; worst: number; last: number }>();
  let slowEvents = 0;
  events.latencies.forEach((lat, i) => {
    if (lat <= SLOW_MS) return;
    slowEvents++;
    const at = events.arrivals[i]!;
    const s = byReq.get(events.reqs[i]!)?.filter((x) => x.sent <= at).at(-1);
    if (!s) return;
    const e = slow.get(s) ?? { n: 0, worst: 0, last: 0 };
    e.n++;
    e.worst = Math.max(e.worst, at - s.sent);
    e.last = Math.max(e.last, at);
    slow.set(s, e);
  });
  console.log(`  slow events (> ${SLOW_MS} ms): ${slowEvents} of ${events.latencies.length}, from ${slow.size} requests`);
  if (slow.size === 0) return;
  // What held each request, in the order checked: an acknowledgement as late as the event means
  // the gateway had not yet published it (its main thread busy, or runnable but not scheduled);
  // otherwise the subscribers' worker stalling for half the rest means the bench's own client.
  const causes = new Map<string, number>();
  console.log(
    '    request sent (monotonic s, as in --profile) | worst ms | events | ack ms | gateway main-thread stalls in window: ms (ran / runnable-not-running) | GC ms | gateway other threads CPU ms (top threads by creation order) | subscribers\' worker stalls ms | held by',
  );
  for (const [s, e] of [...slow].sort((a, b) => a[0].sent - b[0].sent)) {
    const w0 = s.sent;
    const w1 = e.last;
    const st = stalls.filter((x) => overlap(x.at, x.at + x.ms, w0, w1) > 0);
    const gcMs = gcs.reduce((a, g) => a + overlap(g.at, g.at + g.ms, w0, w1), 0);
    const inWindow = threads.filter((t) => t.at >= w0 && t.at <= w1 + 20);
    const other = inWindow.reduce((a, t) => a + t.ms, 0);
    const perThread = new Map<number, number>();
    for (const t of inWindow) for (const [n, ms] of t.byThread) perThread.set(n, (perThread.get(n) ?? 0) + ms);
    const top = [...perThread].sort((a, b) => b[1] - a[1]).slice(0, 2).map(([n, ms]) => `#${n} ${fmt(ms, 0)}`).join(', ');
    const wl = workerLoop.filter((x) => overlap(x.at, x.at + x.ms, w0, w1) > 0);
    const ackMs = s.ack - s.sent;
    const ran = st.reduce((a, x) => a + x.ranMs, 0);
    const waited = st.reduce((a, x) => a + x.waitedMs, 0);
    const workerStalledAfterAck = wl.reduce((a, x) => a + overlap(x.at, x.at + x.ms, s.ack, w1), 0);
    const cause =
      ackMs >= e.worst / 2
        ? waited > ran
          ? 'gateway not scheduled (core busy)'
          : 'gateway busy before the bus'
        : workerStalledAfterAck >= (e.worst - ackMs) / 2
          ? "subscribers' worker stalled"
          : 'delivery after the bus';
    causes.set(cause, (causes.get(cause) ?? 0) + 1);
    console.log(
      `    ${((s.sent - absMinusMonoMs) / 1000).toFixed(3).padStart(42)} | ${fmt(e.worst, 0).padStart(8)} | ${String(e.n).padStart(6)} | ${fmt(ackMs, 0).padStart(6)} | ${(st.map((x) => `${fmt(x.ms, 0)} (${fmt(x.ranMs, 0)}/${fmt(x.waitedMs, 0)})`).join(' + ') || '-').padEnd(30)} | ${fmt(gcMs, 0).padStart(3)} | ${`${fmt(other, 0)}${top ? ` (${top})` : ''}`.padStart(22)} | ${(wl.map((x) => fmt(x.ms, 0)).join(' + ') || '-').padEnd(20)} | ${cause}`,
    );
  }
  console.log(`    requests by what held them: ${[...causes].map(([c, n]) => `${c} ${n}`).join(', ')}`);
}
