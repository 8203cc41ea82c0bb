// Loaded into bench:tail's gateway with --import: measures the gateway's event-loop delay and
// answers the parent over the IPC channel ('reset' clears the histogram and the logs; 'read'
// replies with p50/p99/max in ms and the logs), so the bench can tell a stalled gateway from slow
// delivery. The logs say when (absolute ms: timeOrigin + now()) the main thread stalled and when V8
// collected garbage, so the bench can name what held each slow event.
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import { openSync, readSync } from 'node:fs';

export interface Interval {
  at: number;
  ms: number;
}
/** A main-thread stall, with how long the thread ran in it and how long it was runnable but not running (another process or thread had the core). */
export interface Stall extends Interval {
  ranMs: number;
  waitedMs: number;
}
export interface GcInterval extends Interval {
  kind: number;
}
export interface ProbeReading {
  loop: { p50: number; p99: number; max: number };
  /** Stretches of ≥ STALL_MS in which a 5 ms timer could not run. */
  stalls: Stall[];
  gcs: GcInterval[];
  /** Absolute ms minus the monotonic clock's ms (V8 CPU profiles' timestamps are monotonic µs). */
  absMinusMonoMs: number;
}

const STALL_MS = 15;
const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();
let stalls: Stall[] = [];
let gcs: GcInterval[] = [];
const now = () => performance.timeOrigin + performance.now();
// The main thread's scheduler times (ns on the CPU, ns runnable and waiting for it), Linux only.
const schedstat = (() => {
  try {
    return openSync('/proc/thread-self/schedstat', 'r');
  } catch {
    return -1;
  }
})();
const buf = Buffer.alloc(128);
function sched(): [number, number] {
  if (schedstat < 0) return [NaN, NaN];
  const n = readSync(schedstat, buf, 0, buf.length, 0);
  const [ran, waited] = buf.toString('latin1', 0, n).split(' ');
  return [Number(ran) / 1e6, Number(waited) / 1e6];
}
let last = now();
let [lastRan, lastWaited] = sched();
setInterval(() => {
  const t = now();
  const [ran, waited] = sched();
  if (t - last >= STALL_MS) stalls.push({ at: last, ms: t - last, ranMs: ran - lastRan, waitedMs: waited - lastWaited });
  last = t;
  lastRan = ran;
  lastWaited = waited;
}, 5).unref();
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcs.push({ at: performance.timeOrigin + e.startTime, ms: e.duration, kind: (e as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0 });
}).observe({ entryTypes: ['gc'] });

process.on('message', (msg) => {
  if (msg === 'reset') {
    delay.reset();
    stalls = [];
    gcs = [];
  } else if (msg === 'read')
    process.send?.({ loop: { p50: delay.percentile(50) / 1e6, p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 }, stalls, gcs, absMinusMonoMs: now() - Number(process.hrtime.bigint()) / 1e6 } satisfies ProbeReading);
});
// The IPC channel must not keep the gateway alive on its own.
process.channel?.unref();
