// The tail bus alone, in process: CPU µs per published span with N subscribers indexed by service
// (bench:tail's filters), each with the predicate a tail compiles for its filter and a push reader
// that polls its events as push delivery does, but executes and writes nothing. Spans are decoded
// from OTLP for every publish (fresh objects, as ingest hands them over; the decode is timed apart
// and left out) and the last 300 batches are kept alive, so caches and the GC see what a gateway's
// would. Separates the bus's share of bench:tail's cost per delivered event from what a
// wall-clock profile on a contended core attributes to it.
// Usage: taskset -c 0 node --import tsx bench/tail-bus.ts [--subscribers 1000] [--batches 3000]
import { randomBytes } from 'node:crypto';
import { createTailBus } from '../src/tail/bus.ts';
import type { Resource } from '../src/model/telemetry.ts';
import { compileSpanFilter } from '../src/stores/filter-match.ts';
import { decodeRequest } from '../src/otlp/codec.ts';
import { benchSpan, encodeTraceRequests } from './otlp-requests.ts';
import { arg, fmt, machine } from './lib.ts';

const subscribers = arg('subscribers', 1000);
const batches = arg('batches', 3000);
const SERVICES = 1000;
const LIVE_BATCHES = 300;
const bus = createTailBus({ maxSubscriptions: subscribers, maxPerTenant: subscribers });
let taken = 0;
for (let i = 0; i < subscribers; i++) {
  const service = `svc-${i % SERVICES}`;
  const sub = bus.subscribe('default', 'spans', compileSpanFilter({ service: [service] }), { index: { field: 'service', value: service } });
  sub.onReady(() => {
    while (sub.poll()) taken++;
  });
}
// 200 distinct requests of 100 spans over random services, decoded again for every publish.
const resources: Resource[] = Array.from({ length: SERVICES }, (_, i) => ({
  attributes: [{ key: 'service.name', value: { stringValue: `svc-${i}` } }],
  droppedAttributesCount: 0,
  schemaUrl: '',
}));
const scope = { name: 'bench-tail-bus', version: '1', attributes: [], droppedAttributesCount: 0, schemaUrl: '' };
const requests = encodeTraceRequests(
  Array.from({ length: 200 }, () => {
    const traceId = randomBytes(16).toString('hex');
    return Array.from({ length: 100 }, (_, i) =>
      benchSpan({
        resource: resources[Math.floor(Math.random() * SERVICES)]!,
        scope,
        traceId,
        spanId: randomBytes(8).toString('hex'),
        parentSpanId: '',
        name: `op-${i % 20}`,
        startTimeUnixNano: 1n,
        endTimeUnixNano: 2n,
        attributes: [{ key: 'http.route', value: { stringValue: `/api/${i % 10}` } }],
      }),
    );
  }),
);
console.log(`machine: ${machine()}; ${subscribers} subscribers indexed by service, batches of 100 decoded spans over ${SERVICES} services`);
const live: unknown[] = [];
const cpu = () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};
for (let round = 0; round < 5; round++) {
  let busUs = 0;
  for (let b = 0; b < batches; b++) {
    const batch = decodeRequest('traces', requests[b % requests.length]!, 'protobuf', 'default').items;
    live.push(batch);
    if (live.length > LIVE_BATCHES) live.shift();
    const c0 = cpu();
    bus.publish('default', 'spans', batch);
    busUs += cpu() - c0;
  }
  // A collection that starts in publish counts here, one that starts in decode does not.
  console.log(`  round ${round + 1}: ${fmt(busUs / (batches * 100), 2)} µs CPU per span (${fmt(taken, 0)} events taken so far)`);
}
