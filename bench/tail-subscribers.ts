// bench:tail's subscribers, in a worker thread: a thousand graphql-ws clients receive thousands of
// frames a second, and on the load generator's thread that work delayed its own OTLP sends (its
// event-loop delay p99 reached ~200 ms with 1,000 subscribers), so the benchmark measured itself.
// Send times come from the main thread in a SharedArrayBuffer (absolute ms: timeOrigin + now()).
import { parentPort, workerData } from 'node:worker_threads';
import { monitorEventLoopDelay, performance, type EventLoopUtilization } from 'node:perf_hooks';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export interface SubscriberPlan {
  gqlPort: number;
  services: number;
  sentAt: SharedArrayBuffer;
}
export type SubscriberCommand = { cmd: 'subscribe'; n: number } | { cmd: 'unsubscribe' } | { cmd: 'record'; on: boolean } | { cmd: 'stats' };
export interface SubscriberStats {
  delivered: number;
  latencies: number[];
  /** Per latency: the request's index and the arrival time (absolute ms), to say what held slow events. */
  reqs: number[];
  arrivals: number[];
  /** This worker's event-loop utilisation (0–1) and delay p99 (ms) since recording started: a busy worker delays receipts. */
  utilisation: number;
  loopP99: number;
  /** Stretches (absolute ms) in which this worker's 5 ms timer could not run. */
  stalls: { at: number; ms: number }[];
}

const plan = workerData as SubscriberPlan;
const sentAt = new Float64Array(plan.sentAt);
const QUERY = 'subscription($s: [String!]) { tailSpans(filter: { service: $s }) { dropped span { spanId attribute(key: "bench.req") } } }';
let clients: Client[] = [];
let delivered = 0;
let recording = false;
let latencies: number[] = [];
let reqs: number[] = [];
let arrivals: number[] = [];
const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();
let elu: EventLoopUtilization = performance.eventLoopUtilization();
let stalls: { at: number; ms: number }[] = [];
let lastTick = performance.timeOrigin + performance.now();
setInterval(() => {
  const t = performance.timeOrigin + performance.now();
  if (recording && t - lastTick >= 15) stalls.push({ at: lastTick, ms: t - lastTick });
  lastTick = t;
}, 5).unref();

async function subscribe(n: number): Promise<void> {
  // Connections open 25 at a time: a busy gateway would otherwise miss graphql-ws's 3 s
  // connection_init deadline for some of a thousand simultaneous sockets.
  for (let from = 0; from < n; from += 25) {
    const opened: Promise<void>[] = [];
    for (let i = from; i < Math.min(n, from + 25); i++) {
      let connected!: () => void;
      opened.push(new Promise<void>((r) => (connected = r)));
      const c = createClient({
        url: `ws://127.0.0.1:${plan.gqlPort}/graphql`,
        webSocketImpl: WebSocket,
        retryAttempts: 5,
        lazy: false,
        onNonLazyError: () => {},
        on: { connected: () => connected() },
      });
      c.subscribe<{ tailSpans: { span: { attribute: string } } }>(
        { query: QUERY, variables: { s: [`svc-${i % plan.services}`] } },
        {
          next: (r) => {
            const now = performance.timeOrigin + performance.now();
            delivered++;
            const req = Number(r.data?.tailSpans.span.attribute);
            if (recording && Number.isInteger(req)) {
              latencies.push(now - sentAt[req]!);
              reqs.push(req);
              arrivals.push(now);
            }
          },
          error: (err) => console.error('subscription error:', (err as { reason?: string }).reason ?? err),
          complete: () => {},
        },
      );
      clients.push(c);
    }
    await Promise.all(opened);
  }
}

parentPort!.on('message', (m: SubscriberCommand) => {
  const reply = (v: unknown) => parentPort!.postMessage(v);
  switch (m.cmd) {
    case 'subscribe':
      subscribe(m.n).then(() => reply('ok'), (err: unknown) => reply({ error: String(err) }));
      break;
    case 'unsubscribe':
      Promise.all(clients.map((c) => c.dispose())).then(() => {
        clients = [];
        reply('ok');
      });
      break;
    case 'record':
      recording = m.on;
      if (m.on) {
        latencies = [];
        reqs = [];
        arrivals = [];
        stalls = [];
        loop.reset();
        elu = performance.eventLoopUtilization();
      }
      reply('ok');
      break;
    case 'stats':
      reply({ delivered, latencies, reqs, arrivals, utilisation: performance.eventLoopUtilization(elu).utilization, loopP99: loop.percentile(99) / 1e6, stalls } satisfies SubscriberStats);
      break;
  }
});
