// A `since` replay's seam when the store kept a record cut: the real DuckDB store cuts every string
// of a JSON column to one length to fit 16,000 characters (as short as one character and the mark),
// and drops attributes off the end when their keys alone do not fit. A record published live while
// the replay reads, and written before the read sees it, must still be sent once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createContextFactory } from '../../../resolvers/context.ts';
import { tailLogs, tailMetrics } from '../../../resolvers/tail.ts';
import { silentLogger } from '../../../src/logger.ts';
import type { LogRecord, MetricPoint } from '../../../src/model/telemetry.ts';
import { openDuckDbStore } from '../../../src/stores/duckdb/index.ts';
import type { LogStore, MetricStore } from '../../../src/stores/types.ts';
import { createTailBus } from '../../../src/tail/bus.ts';
import { metricPointIdentity, type RecordIdentity } from '../../../src/tail/identity.ts';
import { replayThenLive } from '../../../src/tail/replay.ts';
import type { TailEventStream } from '../../../src/tail/push.ts';
import { log, metricPoint, numberPoint, resource, T0 } from '../../helpers/telemetry-builders.ts';

const TENANT = 'cut';

/** `n` attributes whose values (`chars` long) the store cuts when there are many of them. */
const manyAttributes = (n: number, chars: number, keyChars = 8) =>
  Array.from({ length: n }, (_, i) => ({ key: `${String(i).padStart(keyChars, 'k')}`, value: { stringValue: `${i}-`.padEnd(chars, 'v') } }));

/** Every event waiting, as [body or time, replayed]. */
function drain<E>(events: AsyncIterable<E>, label: (e: E) => string): [string, boolean][] {
  const stream = events as TailEventStream<E & { replayed: boolean }>;
  const out: [string, boolean][] = [];
  for (let e = stream.poll(); e; e = stream.poll()) out.push([label(e), e.replayed]);
  stream.close();
  return out;
}

test('a log record the store kept cut or with attributes dropped is replayed once, not once more live', async (t) => {
  const store = await openDuckDbStore({ path: ':memory:', logger: silentLogger() });
  t.after(() => store.close());
  const bus = createTailBus();
  const records: LogRecord[] = [
    // 400 values of 60 characters: the store cuts each to about 30.
    log({ tenant: TENANT, timeUnixNano: T0, body: { stringValue: 'many medium values' }, attributes: manyAttributes(400, 60) }),
    // 300 keys of 60 characters do not fit even with their values at the shortest: attributes are dropped.
    log({ tenant: TENANT, timeUnixNano: T0 + 1n, body: { stringValue: 'too many long keys' }, attributes: manyAttributes(300, 8, 60) }),
    // A resource with long values, cut too.
    log({ tenant: TENANT, timeUnixNano: T0 + 2n, body: { stringValue: 'long resource' }, resource: resource('svc', Object.fromEntries(manyAttributes(400, 60).map((a) => [a.key, a.value]))) }),
  ];
  let published = false;
  const logs: LogStore = {
    ...store.logs,
    backend: store.logs.backend,
    // The records arrive while the replay reads: published live, then written before the read.
    searchLogs: async (...args) => {
      if (!published) {
        published = true;
        bus.publish(TENANT, 'logs', records);
        await store.writer.writeLogs(records);
      }
      return store.logs.searchLogs(...args);
    },
  };
  const ctx = createContextFactory({ traces: store.traces, logs, metrics: store.metrics, catalog: store.catalog }, bus)(TENANT);
  const events = drain(await tailLogs(ctx, { since: 0n }), (e) => ('stringValue' in e.record.body ? e.record.body.stringValue : ''));
  const stored = (await store.logs.searchLogs(TENANT, { timeRange: { from: 0n } }, { first: 10, order: 'OLDEST_FIRST' })).items.map((i) => i.node);
  assert.ok(stored[0]!.attributes.every((a) => 'stringValue' in a.value && a.value.stringValue.length < 32), 'the store cut the values below 32 characters');
  assert.ok(stored[1]!.attributes.length < 300 && stored[1]!.droppedAttributesCount === 300 - stored[1]!.attributes.length, 'the store dropped attributes');
  assert.deepEqual(events, [
    ['many medium values', true],
    ['too many long keys', true],
    ['long resource', true],
  ]);
});

test('a metric point whose attributes the store kept cut is replayed once; another pod\'s point of the same instant is not taken for it', async (t) => {
  const store = await openDuckDbStore({ path: ':memory:', logger: silentLogger() });
  t.after(() => store.close());
  const bus = createTailBus();
  const point = (pod: string, at: bigint) =>
    metricPoint(numberPoint({ timeUnixNano: at, asDouble: 1, attributes: manyAttributes(400, 60) }), { name: 'queue.depth', type: 'gauge' }, { tenant: TENANT, resource: resource('svc', { 'k8s.pod.name': pod }) });
  // Pod b's point is stored before the subscription; pod a's arrives while the replay reads and is
  // stored too; pod c's arrives live only. All three share name, times and attributes.
  const before = point('pod-b', T0);
  await store.writer.writeMetrics([before]);
  const seam = point('pod-a', T0);
  const liveOnly = point('pod-c', T0);
  let published = false;
  const metrics: MetricStore = {
    ...store.metrics,
    backend: store.metrics.backend,
    points: async (...args) => {
      if (!published) {
        published = true;
        bus.publish(TENANT, 'metrics', [seam]);
        await store.writer.writeMetrics([seam]);
        bus.publish(TENANT, 'metrics', [liveOnly]);
      }
      return store.metrics.points(...args);
    },
  };
  const ctx = createContextFactory({ traces: store.traces, logs: store.logs, metrics, catalog: store.catalog }, bus)(TENANT);
  const pod = (m: MetricPoint) => {
    const v = m.resource.attributes.find((a) => a.key === 'k8s.pod.name')?.value;
    return v && 'stringValue' in v ? v.stringValue : '';
  };
  const events = drain(await tailMetrics(ctx, { name: 'queue.depth', since: 0n }), (e) => (e instanceof Error ? e.message : pod(e.record)));
  assert.deepEqual(events.filter(([, replayed]) => replayed).map(([p]) => p).sort(), ['pod-a', 'pod-b']);
  assert.deepEqual(events.filter(([, replayed]) => !replayed).map(([p]) => p), ['pod-c']);
});

test('copies kept whole are found by key: the many series of one instant are not compared one by one', async () => {
  const bus = createTailBus({ bufferSize: 5000 });
  // 1,000 pods' points of one metric at one instant: their cut-copy keys are all alike ("pod-…" outlines as "p").
  const points = Array.from({ length: 1000 }, (_, i) =>
    metricPoint(numberPoint({ timeUnixNano: T0, asDouble: i, attributes: [{ key: 'pod', value: { stringValue: `pod-${i}` } }] }), { name: 'up', type: 'gauge' }, { tenant: TENANT }));
  let compared = 0;
  const cutCopy = metricPointIdentity.cutCopy!;
  const identity: RecordIdentity<MetricPoint> = { key: metricPointIdentity.key, cutCopy: { key: cutCopy.key, matches: (s, l) => (compared++, cutCopy.matches(s, l)) } };
  const live = bus.subscribe(TENANT, 'metrics', () => true);
  const sub = await replayThenLive({
    live,
    settled: async () => {},
    readPage: async () => {
      // All of them arrive while the replay reads and are stored whole (copies, as a store reads them back).
      bus.publish(TENANT, 'metrics', points);
      return { records: points.map((p) => structuredClone(p)), next: null };
    },
    identity,
    maxReplay: 5000,
  });
  let replayed = 0;
  let sentLive = 0;
  for (let e = sub.poll(); e; e = sub.poll()) {
    if (e.replayed) replayed++;
    else sentLive++;
  }
  sub.close();
  assert.deepEqual([replayed, sentLive, compared], [1000, 0, 0]);
});
