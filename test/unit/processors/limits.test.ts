// The attribute limits processor: truncate-and-count per the OTel spec, or refuse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { createLimitsProcessor, defaultLimitsProcessorConfig } from '../../../ingest/processors/limits/limits-processor.ts';
import { isPermanent } from '../../../ingest/component.ts';
import { sinkConsumer } from '../../helpers/sink-consumer.ts';
import { attrs, log, metricPoint, resource, span, T0 } from '../../helpers/telemetry-builders.ts';
import type { ExponentialHistogramPoint, SpanEvent } from '../../../src/model/telemetry.ts';
import { silentLogger } from '../../../src/logger.ts';

const config = { ...defaultLimitsProcessorConfig(), maxAttributes: 3, maxValueLength: 5, maxArrayLength: 2, maxDepth: 2 };

test('truncate: extra attributes dropped and counted, strings and arrays cut, deep values dropped', async () => {
  const sink = sinkConsumer<'traces'>();
  const p = createLimitsProcessor('limits/traces', config, 'traces', sink, silentLogger());
  const deep = { kvlistValue: { values: [{ key: 'l1', value: { arrayValue: { values: [{ arrayValue: { values: [{ stringValue: 'x' }] } }] } } }] } };
  await p.consume([
    span({
      attributes: attrs({ a: 'abcdefgh', b: { arrayValue: { values: [{ stringValue: '1234567' }, { stringValue: 'b' }, { stringValue: 'c' }] } }, c: deep, d: 'dropped', e: 'dropped' }),
      droppedAttributesCount: 1,
    }),
  ]);
  const got = sink.all()[0]!;
  assert.deepEqual(got.attributes.map((kv) => kv.key), ['a', 'b', 'c']);
  assert.deepEqual(got.attributes[0]!.value, { stringValue: 'abcde' });
  assert.deepEqual(got.attributes[1]!.value, { arrayValue: { values: [{ stringValue: '12345' }, { stringValue: 'b' }] } });
  assert.deepEqual(got.attributes[2]!.value, { kvlistValue: { values: [{ key: 'l1', value: { arrayValue: { values: [] } } }] } }, 'the level beyond maxDepth is dropped');
  assert.equal(got.droppedAttributesCount, 1 + 2);
  // 3 here plus the resource's service.name: resource values are limited too (their count is not).
  assert.deepEqual(p.stats(), { droppedAttributes: 2, droppedEvents: 0, droppedLinks: 0, droppedPoints: 0, droppedExemplars: 0, truncatedValues: 4, refusedBatches: 0 });
  assert.equal((got.resource.attributes[0]!.value as { stringValue: string }).stringValue.length, 5);

  const logs = sinkConsumer<'logs'>();
  const lp = createLimitsProcessor('limits/logs', config, 'logs', logs, silentLogger());
  await lp.consume([log({ body: { stringValue: 'a very long body' } })]);
  assert.deepEqual(logs.all()[0]!.body, { stringValue: 'a ver' });
});

// Issue 6 QA, session 35: resources were held to maxAttributes, first-N, so an SDK's own resource
// attributes (telemetry.sdk.*, process.*) pushed service.name out and the span read as
// unknown_service; with refuse, a stock SDK's batches were refused.
test('resources are exempt from the attribute count limit, as the spec says, in both actions', async () => {
  const sdkResource = resource('checkout', {
    'telemetry.sdk.language': 'nodejs', 'telemetry.sdk.name': 'opentelemetry', 'telemetry.sdk.version': '2.0.0',
    'process.pid': 42n, 'host.name': 'h', 'host.arch': 'amd64',
  });
  // service.name comes after the SDK's attributes, as the SDK's resource merge puts it.
  const reordered = { ...sdkResource, attributes: [...sdkResource.attributes.slice(1), sdkResource.attributes[0]!] };
  for (const action of ['truncate', 'refuse'] as const) {
    const sink = sinkConsumer<'traces'>();
    const p = createLimitsProcessor('limits/traces', { ...config, maxValueLength: 0, action }, 'traces', sink, silentLogger());
    await p.consume([span({ resource: reordered, attributes: attrs({ a: 'x' }) })]);
    const got = sink.all()[0]!;
    assert.equal(got.resource.attributes.length, 7, action);
    assert.ok(got.resource.attributes.some((kv) => kv.key === 'service.name'), action);
    assert.equal(p.stats().droppedAttributes, 0, action);
  }
  // A record's own attributes are still limited.
  const sink = sinkConsumer<'traces'>();
  const p = createLimitsProcessor('limits/traces', config, 'traces', sink, silentLogger());
  await p.consume([span({ resource: reordered, attributes: attrs({ a: '1', b: '2', c: '3', d: '4' }) })]);
  assert.equal(sink.all()[0]!.attributes.length, 3);
});

test('truncate: a cut inside a redaction marker moves before the marker, never leaving part of one', async () => {
  const sink = sinkConsumer<'logs'>();
  const p = createLimitsProcessor('limits/logs', { ...config, maxAttributes: 0, maxValueLength: 20 }, 'logs', sink, silentLogger());
  const values = {
    inside: 'card <redacted:creditCard> today', // cut at 20 inside the marker
    atAngle: 'abcdefghijklmnopqrs<redacted:email>', // cut right after its '<'
    onClose: 'user <redacted:email> left', // the marker's '>' is character 21
    whole: 'usr <redacted:email> left', // the marker ends at 20: kept
    text: 'a <b> c <d> e <f> g <h> i', // angle brackets that are not markers
    list: { arrayValue: { values: [{ stringValue: 'x <redacted:sensitiveKey>' }] } },
  };
  await p.consume([log({ resource: resource('svc'), attributes: attrs(values) })]);
  assert.deepEqual(Object.fromEntries(sink.all()[0]!.attributes.map((kv) => [kv.key, kv.value])), {
    inside: { stringValue: 'card ' },
    atAngle: { stringValue: 'abcdefghijklmnopqrs' },
    onClose: { stringValue: 'user ' },
    whole: { stringValue: 'usr <redacted:email>' },
    text: { stringValue: 'a <b> c <d> e <f> g ' },
    list: { arrayValue: { values: [{ stringValue: 'x ' }] } },
  });
});

test('truncate: a cut never splits a character made of a surrogate pair', async () => {
  const sink = sinkConsumer<'logs'>();
  const p = createLimitsProcessor('limits/logs', { ...config, maxAttributes: 0, maxValueLength: 5 }, 'logs', sink, silentLogger());
  // '😀' is two UTF-16 units: at 5 units the cut would fall between them.
  await p.consume([log({ resource: resource('svc'), attributes: attrs({ split: 'abcd😀e', whole: 'abc😀e' }) })]);
  const got = Object.fromEntries(sink.all()[0]!.attributes.map((kv) => [kv.key, (kv.value as { stringValue: string }).stringValue]));
  assert.deepEqual(got, { split: 'abcd', whole: 'abc😀' });
  // No lone surrogate left: the values survive UTF-8 unchanged.
  for (const v of Object.values(got)) assert.equal(Buffer.from(v, 'utf8').toString('utf8'), v);
});

test('truncate: bytes that are text are cut at a character and never inside a redaction marker; binary bytes at the byte', async () => {
  const sink = sinkConsumer<'logs'>();
  // 10 base64 characters: 6 bytes (the base64 of 6 bytes is 8 characters, of 9 bytes 12).
  const p = createLimitsProcessor('limits/logs', { ...config, maxAttributes: 0, maxValueLength: 10 }, 'logs', sink, silentLogger());
  const b64 = (b: string | Buffer) => Buffer.from(b).toString('base64');
  const binary = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0x9f, 0x98, 0x80]);
  await p.consume([
    log({
      resource: resource('svc'),
      attributes: attrs({
        emoji: { bytesValue: b64('abcde😀') }, // '😀' is 4 bytes: the 6th byte is its first
        accent: { bytesValue: b64('abcdeé!') }, // 'é' is 2 bytes, cut after its first
        marker: { bytesValue: b64('ab<redacted:email>') }, // cut inside the marker
        ascii: { bytesValue: b64('abcdefghi') },
        binary: { bytesValue: b64(binary) },
      }),
      body: { bytesValue: b64('€€€') }, // 3 bytes each: the cut at 6 is between two
    }),
  ]);
  const got = sink.all()[0]!;
  const bytesOf = (v: unknown) => Buffer.from((v as { bytesValue: string }).bytesValue, 'base64');
  const text = Object.fromEntries(got.attributes.map((kv) => [kv.key, bytesOf(kv.value)]));
  assert.deepEqual(
    Object.fromEntries(Object.entries(text).filter(([k]) => k !== 'binary').map(([k, b]) => [k, b.toString('utf8')])),
    { emoji: 'abcde', accent: 'abcde', marker: 'ab', ascii: 'abcdef' },
  );
  assert.deepEqual(text['binary'], binary.subarray(0, 6), 'binary bytes are cut at the limit');
  assert.equal(bytesOf(got.body).toString('utf8'), '€€');
  for (const kv of got.attributes) {
    const value = (kv.value as { bytesValue: string }).bytesValue;
    assert.ok(value.length <= 10, `${kv.key}: ${value.length} base64 characters`);
    if (kv.key !== 'binary') assert.ok(isUtf8(bytesOf(kv.value)), `${kv.key} stays UTF-8`);
  }

  // A marker that ends within the limit is kept whole; a first character longer than the limit
  // leaves nothing (not the text up to a marker after it).
  const wide = createLimitsProcessor('limits/logs', { ...config, maxAttributes: 0, maxValueLength: 24 }, 'logs', sink, silentLogger());
  await wide.consume([log({ resource: resource('svc'), attributes: attrs({ whole: { bytesValue: b64('a<redacted:email>bcdefghij') } }) })]);
  assert.equal(bytesOf(sink.all()[1]!.attributes[0]!.value).toString('utf8'), 'a<redacted:email>b');
  const narrow = createLimitsProcessor('limits/logs', { ...config, maxAttributes: 0, maxValueLength: 4 }, 'logs', sink, silentLogger());
  await narrow.consume([log({ resource: resource('svc'), attributes: attrs({ first: { bytesValue: b64('😀<redacted:email>') } }) })]);
  assert.deepEqual(sink.all()[2]!.attributes[0]!.value, { bytesValue: '' });
});

test('refuse: the batch is refused with a permanent error naming the limit and the value', async () => {
  const sink = sinkConsumer<'traces'>();
  const p = createLimitsProcessor('limits/traces', { ...config, action: 'refuse' }, 'traces', sink, silentLogger());
  await p.consume([span({ attributes: attrs({ a: 'ok' }) })]);
  await assert.rejects(p.consume([span({ attributes: attrs({ a: 'abcdefgh' }) })]), (err: Error) => {
    assert.ok(isPermanent(err));
    assert.match(err.message, /a string value of 8 characters exceeds maxValueLength of 5/);
    return true;
  });
  assert.equal(sink.count(), 1);
});

test('events past maxEvents are dropped without being read: the cut stops at the limit', async () => {
  const sink = sinkConsumer<'traces'>();
  const p = createLimitsProcessor('limits/traces', { ...defaultLimitsProcessorConfig(), maxEvents: 2 }, 'traces', sink, silentLogger());
  const event = (i: number): SpanEvent => ({ timeUnixNano: T0, name: `e${i}`, attributes: attrs({ i }), droppedAttributesCount: 0 });
  const untouchable = new Proxy({} as SpanEvent, { get: () => assert.fail('an event past the limit was read') });
  const events = [event(0), event(1), ...Array.from({ length: 100_000 }, () => untouchable)];
  await p.consume([span({ events })]);
  const got = sink.all()[0]!;
  assert.deepEqual(got.events.map((e) => e.name), ['e0', 'e1']);
  assert.equal(got.droppedEventsCount, 100_000);
});

test('an exponential histogram no resolution fits is dropped and counted; one that fits is merged with its counts kept', async () => {
  const sink = sinkConsumer<'metrics'>();
  const p = createLimitsProcessor('limits/metrics', { ...defaultLimitsProcessorConfig(), maxBuckets: 2 }, 'metrics', sink, silentLogger());
  const exp = (scale: number, positive: number[], negative: number[], offset = 0): ExponentialHistogramPoint => ({
    type: 'exponentialHistogram', attributes: [], startTimeUnixNano: T0, timeUnixNano: T0, flags: 0, count: 0, scale, zeroCount: 0, zeroThreshold: 0,
    positive: { offset, bucketCounts: positive }, negative: { offset: -1, bucketCounts: negative }, exemplars: [],
  });
  // At the lowest scale already, three buckets cannot become two.
  const stuck = metricPoint(exp(-10, [1, 1, 1], []), { name: 'stuck', type: 'exponentialHistogram' });
  // Negative index -1 and positive 0..3 at scale 2: both sides share a scale, so one shift for both.
  const merged = metricPoint(exp(2, [1, 2, 3, 4], [5]), { name: 'merged', type: 'exponentialHistogram' });
  const batch = [stuck, merged];
  await p.consume(batch);
  assert.deepEqual(sink.all().map((m) => m.metric.name), ['merged']);
  assert.deepEqual(batch.map((m) => m.metric.name), ['merged'], 'dropped from the batch itself, which the live-tail tap is given');
  const point = sink.all()[0]!.point as ExponentialHistogramPoint;
  assert.deepEqual({ scale: point.scale, positive: point.positive, negative: point.negative }, { scale: 0, positive: { offset: 0, bucketCounts: [10] }, negative: { offset: -1, bucketCounts: [5] } });
  assert.deepEqual(p.stats(), { droppedAttributes: 0, droppedEvents: 0, droppedLinks: 0, droppedPoints: 1, droppedExemplars: 0, truncatedValues: 1, refusedBatches: 0 });
});

test('refuse: too many events, links, key-value entries, buckets, quantiles or exemplars refuse the batch, naming the limit', async () => {
  const refuse = { ...defaultLimitsProcessorConfig(), maxEvents: 1, maxLinks: 1, maxKvlistLength: 1, maxBuckets: 2, maxQuantiles: 1, maxExemplars: 1, action: 'refuse' as const };
  const traces = createLimitsProcessor('limits/traces', refuse, 'traces', sinkConsumer<'traces'>(), silentLogger());
  const e = { timeUnixNano: T0, name: 'e', attributes: [], droppedAttributesCount: 0 };
  const l = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceState: '', flags: 0, attributes: [], droppedAttributesCount: 0 };
  await assert.rejects(traces.consume([span({ events: [e, e] })]), /2 events exceed maxEvents of 1/);
  await assert.rejects(traces.consume([span({ links: [l, l] })]), /2 links exceed maxLinks of 1/);
  const logs = createLimitsProcessor('limits/logs', refuse, 'logs', sinkConsumer<'logs'>(), silentLogger());
  await assert.rejects(logs.consume([log({ body: { kvlistValue: { values: attrs({ a: 1, b: 2 }) } } })]), /a key-value list of 2 entries exceeds maxKvlistLength of 1/);
  const sink = sinkConsumer<'metrics'>();
  const metrics = createLimitsProcessor('limits/metrics', refuse, 'metrics', sink, silentLogger());
  const base = { attributes: [], startTimeUnixNano: T0, timeUnixNano: T0, flags: 0 };
  const hist = metricPoint({ ...base, type: 'histogram', count: 3, bucketCounts: [1, 1, 1], explicitBounds: [1, 2], exemplars: [] }, { type: 'histogram' });
  await assert.rejects(metrics.consume([hist]), (err: Error) => isPermanent(err) && /a histogram of 3 buckets exceeds maxBuckets of 2/.test(err.message));
  const summary = metricPoint({ ...base, type: 'summary', count: 1, sum: 1, quantileValues: [{ quantile: 0.5, value: 1 }, { quantile: 0.9, value: 1 }] }, { type: 'summary' });
  await assert.rejects(metrics.consume([summary]), /a summary of 2 quantiles exceeds maxQuantiles of 1/);
  const exemplar = { filteredAttributes: [], timeUnixNano: T0, asDouble: 1, spanId: '', traceId: '' };
  const gauge = metricPoint({ ...base, type: 'number', asDouble: 1, exemplars: [exemplar, exemplar] }, { type: 'gauge' });
  await assert.rejects(metrics.consume([gauge]), /a point of 2 exemplars exceeds maxExemplars of 1/);
  assert.equal(sink.count(), 0);
  assert.equal(traces.stats().refusedBatches + logs.stats().refusedBatches + metrics.stats().refusedBatches, 6);
});

test('bad settings are refused at start-up', () => {
  assert.throws(() => createLimitsProcessor('limits/logs', { ...config, maxDepth: -1 }, 'logs', sinkConsumer<'logs'>(), silentLogger()), /maxDepth: expected an integer of 0 or more/);
  assert.throws(() => createLimitsProcessor('limits/traces', { ...config, maxEvents: 1.5 }, 'traces', sinkConsumer<'traces'>(), silentLogger()), /maxEvents: expected an integer of 0 or more/);
});
