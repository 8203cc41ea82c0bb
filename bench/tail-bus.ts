// The tail bus alone, in process: CPU µs per published span with N subscribers indexed by service
// (bench:tail's filters), each with a push reader that polls its events as push delivery does, but
// executes and writes nothing. Separates the bus's share of bench:tail's cost per delivered event
// from what a wall-clock profile on a contended core attributes to it.
// Usage: taskset -c 0 node --import tsx bench/tail-bus.ts [--subscribers 1000] [--batches 2000]
import { createTailBus } from '../src/tail/bus.ts';
import type { SpanRecord } from '../src/model/telemetry.ts';
import { serviceName } from '../src/model/values.ts';
import { arg, fmt, machine } from './lib.ts';

const subscribers = arg('subscribers', 1000);
const batches = arg('batches', 2000);
const SERVICES = 1000;
const bus = createTailBus({ maxSubscriptions: subscribers, maxPerTenant: subscribers });
const resources = Array.from({ length: SERVICES }, (_, i) => ({
  attributes: [{ key: 'service.name', value: { stringValue: `svc-${i}` } }],
  droppedAttributesCount: 0,
  schemaUrl: '',
}));
let taken = 0;
for (let i = 0; i < subscribers; i++) {
  const service = `svc-${i % SERVICES}`;
  const sub = bus.subscribe('default', 'spans', (r) => serviceName(r.resource) === service, { index: { field: 'service', value: service } });
  sub.onReady(() => {
    while (sub.poll()) taken++;
  });
}
// 200 distinct batches of 100 spans over random services, published round-robin.
const groups = Array.from({ length: 200 }, () =>
  Array.from({ length: 100 }, (_, i) => ({ tenant: 'default', resource: resources[Math.floor(Math.random() * SERVICES)]!, name: `op-${i % 20}`, traceId: 'x' }) as unknown as SpanRecord),
);
console.log(`machine: ${machine()}; ${subscribers} subscribers indexed by service, batches of 100 spans over ${SERVICES} services`);
for (let round = 0; round < 4; round++) {
  const c0 = process.cpuUsage();
  for (let b = 0; b < batches; b++) bus.publish('default', 'spans', groups[b % groups.length]!);
  const c = process.cpuUsage(c0);
  console.log(`  round ${round + 1}: ${fmt((c.user + c.system) / (batches * 100), 2)} µs CPU per span (${fmt(taken, 0)} events taken so far)`);
}
