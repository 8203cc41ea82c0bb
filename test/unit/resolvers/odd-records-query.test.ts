// Records as real exporters sometimes send them: sent twice (a retried export), naming themselves as
// parent, carrying NaN or infinite doubles or uint32 counts past GraphQL's Int. What the GraphQL
// types show of them.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { silentLogger } from '../../../src/logger.ts';
import { openDuckDbStore, type DuckDbStore } from '../../../src/stores/duckdb/index.ts';
import { log, span, spanId, T0, MS, traceId } from '../../helpers/telemetry-builders.ts';
import { harnessFor, type Harness } from './harness.ts';

const TRACE = traceId(0x0dd);
let store: DuckDbStore;
let h: Harness;
before(async () => {
  store = await openDuckDbStore({ path: ':memory:', logger: silentLogger() });
  const root = span({ traceId: TRACE, spanId: spanId(1), name: 'root', startTimeUnixNano: T0, endTimeUnixNano: T0 + 9n * MS });
  const selfParent = span({ traceId: TRACE, spanId: spanId(2), parentSpanId: spanId(2), name: 'self', startTimeUnixNano: T0 + MS, endTimeUnixNano: T0 + 2n * MS });
  const doubles = span({
    traceId: TRACE, spanId: spanId(3), parentSpanId: spanId(1), name: 'doubles', startTimeUnixNano: T0 + 3n * MS, endTimeUnixNano: T0 + 4n * MS,
    attributes: [
      { key: 'nan', value: { doubleValue: NaN } },
      { key: 'inf', value: { doubleValue: -Infinity } },
      { key: 'list', value: { arrayValue: { values: [{ doubleValue: Infinity }, { doubleValue: 1.5 }] } } },
    ],
  });
  const uint32 = { flags: 0xffff_ffff, droppedAttributesCount: 0xffff_ffff };
  const huge = span({ traceId: TRACE, spanId: spanId(4), parentSpanId: spanId(1), name: 'uint32', startTimeUnixNano: T0 + 5n * MS, endTimeUnixNano: T0 + 6n * MS, ...uint32, droppedEventsCount: 0xffff_ffff, droppedLinksCount: 2 ** 31 });
  await store.writer.writeSpans([root, selfParent, doubles, huge]);
  await store.writer.writeLogs([log({ timeUnixNano: T0, ...uint32 }), log({ timeUnixNano: T0 + 1n, flags: 1, droppedAttributesCount: 3 })]);
  await store.writer.writeSpans([root]); // the export retried
  h = harnessFor(store);
});
after(() => store.close());

test('a span sent twice is one span of its trace; a span naming itself as parent has no parent and is not its own child', async () => {
  const { data, errors } = await h.run(
    `query($t: ID!) { trace(traceId: $t) { spanCount rootSpan { name } spans { name parent { name } children { name } } } }`,
    { t: TRACE },
    'default',
  );
  assert.equal(errors, undefined);
  assert.deepEqual(data, {
    trace: {
      spanCount: 4,
      rootSpan: { name: 'root' },
      spans: [
        { name: 'root', parent: null, children: [{ name: 'doubles' }, { name: 'uint32' }] },
        { name: 'self', parent: null, children: [] },
        { name: 'doubles', parent: { name: 'root' }, children: [] },
        { name: 'uint32', parent: { name: 'root' }, children: [] },
      ],
    },
  });
});

test('NaN and infinite doubles read as proto3 JSON writes them, not as null (which reads as absent)', async () => {
  const { data, errors } = await h.run(
    `query($t: ID!, $s: ID!) { span(traceId: $t, spanId: $s) { attributes attribute(key: "nan") typedAttributes { key type value otlpValue } } }`,
    { t: TRACE, s: spanId(3) },
    'default',
  );
  assert.equal(errors, undefined);
  assert.deepEqual(data, {
    span: {
      attributes: { nan: 'NaN', inf: '-Infinity', list: ['Infinity', 1.5] },
      attribute: 'NaN',
      typedAttributes: [
        { key: 'nan', type: 'DOUBLE', value: 'NaN', otlpValue: { doubleValue: 'NaN' } },
        { key: 'inf', type: 'DOUBLE', value: '-Infinity', otlpValue: { doubleValue: '-Infinity' } },
        { key: 'list', type: 'ARRAY', value: ['Infinity', 1.5], otlpValue: { arrayValue: { values: [{ doubleValue: 'Infinity' }, { doubleValue: 1.5 }] } } },
      ],
    },
  });
});

test("OTLP's uint32 counts and fixed32 flags past 2^31 − 1 read as GraphQL Ints (counts at most 2147483647, flags bits 0–30) without failing the page", async () => {
  const { data, errors } = await h.run(
    `query($t: ID!, $s: ID!) {
      span(traceId: $t, spanId: $s) { flags droppedAttributesCount droppedEventsCount droppedLinksCount }
      logs(filter: { from: "2023-11-14T00:00:00Z", to: "2023-11-15T00:00:00Z" }, order: OLDEST_FIRST) { nodes { flags droppedAttributesCount } }
    }`,
    { t: TRACE, s: spanId(4) },
    'default',
  );
  assert.equal(errors, undefined);
  const max = 2_147_483_647;
  assert.deepEqual(data, {
    span: { flags: max, droppedAttributesCount: max, droppedEventsCount: max, droppedLinksCount: max },
    logs: { nodes: [{ flags: max, droppedAttributesCount: max }, { flags: 1, droppedAttributesCount: 3 }] },
  });
});
