// Refused OTLP items on a real receiver: a request of many invalid items costs about what as many
// valid ones do (only the first few are described, the rest counted; QA round 28, D3), histogram
// bounds out of order are refused (D7), and invalid UTF-8 in a protobuf string reads as U+FFFD, as
// over OTLP/JSON, instead of refusing the whole request (D8).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeRequest } from '../../src/otlp/codec.ts';
import { DESCRIBED_REJECTIONS, UNDESCRIBED_REJECTION } from '../../src/otlp/convert-common.ts';
import { otlpProto } from '../../src/otlp/proto.ts';
import type { Signal } from '../../src/model/telemetry.ts';
import { type OtlpReceiver, otlpReceiverFactory } from '../../ingest/receivers/otlp/factory.ts';
import { silentLogger } from '../../src/logger.ts';
import { type SinkConsumer, sinkConsumer } from '../helpers/sink-consumer.ts';
import { toProtobuf } from '../helpers/otlp-bodies.ts';
import { grpcExport } from '../helpers/otlp-grpc.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';
const GOOD_SPAN = { traceId: TRACE_ID, spanId: SPAN_ID, name: 'ok', startTimeUnixNano: '1', endTimeUnixNano: '2' };
const PROTO_HEADERS = { 'content-type': 'application/x-protobuf' };

type Json = Record<string, unknown>;
const spans = (items: Json[]): Json => ({ resourceSpans: [{ scopeSpans: [{ spans: items }] }] });

interface Running {
  receiver: OtlpReceiver;
  traces: SinkConsumer<'traces'>;
  metrics: SinkConsumer<'metrics'>;
  http: string;
  grpc: string;
}

async function startReceiver(): Promise<Running> {
  const config = otlpReceiverFactory.createDefaultConfig();
  config.grpc.port = 0;
  config.http.port = 0;
  const traces = sinkConsumer<'traces'>();
  const metrics = sinkConsumer<'metrics'>();
  const receiver = otlpReceiverFactory.create({ id: 'otlp', logger: silentLogger() }, config, { traces, logs: sinkConsumer<'logs'>(), metrics });
  await receiver.start({ logger: silentLogger(), reportError: () => {} });
  const { http = '', grpc = '' } = receiver.addresses();
  return { receiver, traces, metrics, http, grpc };
}

/** POSTs a protobuf body; the status and the decoded Export*ServiceResponse. */
async function postProtobuf(addr: string, signal: Signal, body: Buffer): Promise<{ status: number; partial?: { rejected: number; errorMessage: string } }> {
  const res = await fetch(`http://${addr}/v1/${signal}`, { method: 'POST', headers: PROTO_HEADERS, body: new Uint8Array(body) });
  return { status: res.status, partial: partialOf(signal, Buffer.from(await res.arrayBuffer())) };
}

function partialOf(signal: Signal, body: Buffer): { rejected: number; errorMessage: string } | undefined {
  const type = otlpProto().response[signal];
  const answer = type.toObject(type.decode(body), { longs: Number }) as { partialSuccess?: Record<string, number | string> };
  const p = answer.partialSuccess;
  if (!p) return undefined;
  return { rejected: Number(p.rejectedSpans ?? p.rejectedDataPoints ?? p.rejectedLogRecords ?? 0), errorMessage: String(p.errorMessage ?? '') };
}

describe('refused OTLP items', () => {
  let r: Running;
  before(async () => {
    r = await startReceiver();
  });
  after(async () => {
    await r.receiver.shutdown();
  });

  test('a request of 20,000 empty spans around two good ones: the good ones kept, the count and the first three reasons answered', async () => {
    const body = toProtobuf('traces', spans([GOOD_SPAN, ...Array.from({ length: 20_000 }, () => ({})), { ...GOOD_SPAN, name: 'ok too' }]));
    const where = (i: number) => `resourceSpans[0].scopeSpans[0].spans[${i}]: trace_id is missing`;
    const expected = `20000 spans rejected: ${where(1)}; ${where(2)}; ${where(3)}; and 19997 more`;
    r.traces.reset();
    const viaHttp = await postProtobuf(r.http, 'traces', body);
    assert.equal(viaHttp.status, 200);
    assert.deepEqual(viaHttp.partial, { rejected: 20_000, errorMessage: expected });
    assert.deepEqual(r.traces.all().map((s) => s.name), ['ok', 'ok too']);

    const viaGrpc = await grpcExport(r.grpc, 'traces', body);
    assert.equal(viaGrpc.code, 0);
    assert.deepEqual(partialOf('traces', viaGrpc.response!), { rejected: 20_000, errorMessage: expected });
    assert.equal(r.traces.count(), 4);
  });

  test('rejections past the described ones are one shared entry: no message or path is made for them', () => {
    const decoded = decodeRequest('traces', toProtobuf('traces', spans(Array.from({ length: 1000 }, () => ({})))), 'protobuf', 'default');
    assert.equal(decoded.rejected.length, 1000);
    assert.deepEqual(
      decoded.rejected.slice(0, DESCRIBED_REJECTIONS).map((x) => x.item),
      Array.from({ length: DESCRIBED_REJECTIONS }, (_, i) => `resourceSpans[0].scopeSpans[0].spans[${i}]`),
    );
    assert.ok(decoded.rejected.slice(DESCRIBED_REJECTIONS).every((x) => x === UNDESCRIBED_REJECTION));
  });

  test('an item past the described rejections is still refused for any invalid value, and a valid one still kept', () => {
    const filler = Array.from({ length: DESCRIBED_REJECTIONS }, () => ({}));
    const bad: Json[] = [
      { ...GOOD_SPAN, spanId: '00f0' },
      { ...GOOD_SPAN, parentSpanId: 'xyz' },
      { ...GOOD_SPAN, kind: 'SPAN_KIND_NOPE' },
      { ...GOOD_SPAN, flags: 4294967297 },
      { ...GOOD_SPAN, endTimeUnixNano: '-5' },
      { ...GOOD_SPAN, attributes: [{ key: 'i', value: { intValue: '99999999999999999999' } }] },
      { ...GOOD_SPAN, attributes: [{ key: 'deep', value: nested(70) }] },
      { ...GOOD_SPAN, events: [{ name: 'e', attributes: [{ key: 42, value: { stringValue: 'x' } }] }] },
      { ...GOOD_SPAN, links: [{ traceId: TRACE_ID, spanId: '' }] },
      { ...GOOD_SPAN, status: { code: 3 } },
      { ...GOOD_SPAN, name: 7 },
    ];
    const decoded = decodeRequest('traces', Buffer.from(JSON.stringify(spans([...filler, ...bad, GOOD_SPAN]))), 'json', 'default');
    assert.equal(decoded.rejected.length, DESCRIBED_REJECTIONS + bad.length);
    assert.deepEqual(decoded.items.map((s) => s.name), ['ok']);

    const metrics = (points: Json[], extra: Json = {}): Json => ({ name: 'h', histogram: { aggregationTemporality: 2, dataPoints: points }, ...extra });
    const point = (bounds: number[]) => ({ timeUnixNano: '1', count: '1', bucketCounts: Array.from({ length: bounds.length + 1 }, () => '0'), explicitBounds: bounds });
    const request = {
      resourceMetrics: [
        {
          scopeMetrics: [
            {
              metrics: [
                metrics(Array.from({ length: DESCRIBED_REJECTIONS }, () => point([2, 1]))),
                metrics([point([1, 1]), { ...point([1]), bucketCounts: ['1'] }, point([1, 2])]),
                { name: 's', sum: { aggregationTemporality: 7, dataPoints: [{ timeUnixNano: '1', asInt: '1' }] } },
              ],
            },
          ],
        },
      ],
    };
    const points = decodeRequest('metrics', Buffer.from(JSON.stringify(request)), 'json', 'default');
    assert.equal(points.rejected.length, DESCRIBED_REJECTIONS + 3);
    assert.deepEqual(points.items.map((p) => (p.point as { explicitBounds?: number[] }).explicitBounds), [[1, 2]]);
  });

  test('histogram explicit_bounds that are not strictly increasing refuse their point, as partial success', async () => {
    const point = (bounds: number[]) => ({ timeUnixNano: '1', count: '3', bucketCounts: ['1', '2', '0'], explicitBounds: bounds });
    const request = {
      resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'latency', histogram: { aggregationTemporality: 2, dataPoints: [point([10, 1]), point([1, 10]), point([5, 5])] } }] }] }],
    };
    r.metrics.reset();
    const answer = await postProtobuf(r.http, 'metrics', toProtobuf('metrics', request));
    assert.equal(answer.status, 200);
    const where = (i: number) => `resourceMetrics[0].scopeMetrics[0].metrics[0].histogram.dataPoints[${i}]`;
    assert.deepEqual(answer.partial, {
      rejected: 2,
      errorMessage:
        `2 data points rejected: ${where(0)}: explicit_bounds must be strictly increasing, got 10 then 1 at [1]; ` +
        `${where(2)}: explicit_bounds must be strictly increasing, got 5 then 5 at [1]`,
    });
    assert.deepEqual(r.metrics.all().map((p) => (p.point as { explicitBounds: number[] }).explicitBounds), [[1, 10]]);
  });

  test('invalid UTF-8 in a protobuf string reads as U+FFFD, as over OTLP/JSON; the request and its other spans are kept', async () => {
    // Same-length stand-ins, swapped for invalid bytes once encoded: 0xff never occurs in UTF-8, 0xc3 starts a 2-byte sequence cut short.
    const encoded = toProtobuf('traces', spans([{ ...GOOD_SPAN, name: 'n@@@', attributes: [{ key: 'k', value: { stringValue: 'v@@' } }] }, { ...GOOD_SPAN, name: 'fine' }]));
    const body = Buffer.from(encoded.toString('latin1').replace('n@@@', 'n\xff\xc3a').replace('v@@', 'v\xfe\xff'), 'latin1');
    assert.equal(body.length, encoded.length);
    r.traces.reset();
    const viaHttp = await postProtobuf(r.http, 'traces', body);
    assert.deepEqual(viaHttp, { status: 200, partial: undefined });
    const viaGrpc = await grpcExport(r.grpc, 'traces', body);
    assert.equal(viaGrpc.code, 0);
    const kept = r.traces.all();
    assert.deepEqual(kept.map((s) => s.name), ['n\ufffd\ufffda', 'fine', 'n\ufffd\ufffda', 'fine']);
    assert.deepEqual(kept[0]!.attributes, [{ key: 'k', value: { stringValue: 'v\ufffd\ufffd' } }]);
    const viaJson = decodeRequest('traces', Buffer.from(JSON.stringify(spans([{ ...GOOD_SPAN, name: 'n@@@' }])).replace('n@@@', 'n\xff\xc3a'), 'latin1'), 'json', 'default');
    assert.equal(viaJson.items[0]!.name, kept[0]!.name);
  });
});

/** An AnyValue nested `depth` arrays deep (past MAX_ANY_VALUE_DEPTH it is refused). */
function nested(depth: number): Json {
  let v: Json = { stringValue: 'x' };
  for (let i = 0; i < depth; i++) v = { arrayValue: { values: [v] } };
  return v;
}
