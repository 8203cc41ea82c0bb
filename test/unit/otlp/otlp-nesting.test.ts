// One nesting rule for every encoding: an AnyValue nested deeper than 64 levels refuses its item
// (partial success) whether it came as OTLP/JSON, OTLP/JSON with proto field names, or protobuf, and
// whatever is accepted can be encoded again (Jaeger exporter, spill). protobufjs's default limit of
// 100 message levels used to refuse a whole protobuf body holding 33 nested maps or 48 nested arrays
// (400, the good items lost too) and made the encoder fail on values the JSON path had accepted.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import protobuf from 'protobufjs';
import { OtlpDecodeError, decodeRequest } from '../../../src/otlp/codec.ts';
import { encodeByTenant } from '../../../src/otlp/encode.ts';
import { otlpProto } from '../../../src/otlp/proto.ts';
import type { Signal } from '../../../src/model/telemetry.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';

type Json = Record<string, unknown>;

/** An AnyValue `levels` arrays (or maps) deep around a string: the string is at depth `levels`. */
function deep(kind: 'array' | 'kvlist', levels: number): Json {
  let v: Json = { stringValue: 'bottom' };
  for (let i = 0; i < levels; i++) v = kind === 'array' ? { arrayValue: { values: [v] } } : { kvlistValue: { values: [{ key: `k${i}`, value: v }] } };
  return v;
}

/** A request of each signal with one item carrying `value` at its deepest attribute and one plain item. */
function request(signal: Signal, value: Json): Json {
  switch (signal) {
    case 'traces':
      return {
        resourceSpans: [{ scopeSpans: [{ spans: [
          { traceId: TRACE_ID, spanId: SPAN_ID, name: 'deep', events: [{ name: 'e', attributes: [{ key: 'v', value }] }] },
          { traceId: TRACE_ID, spanId: '00f067aa0ba902b8', name: 'plain' },
        ] }] }],
      };
    case 'logs':
      return { resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: value, severityText: 'deep' }, { body: { stringValue: 'plain' } }] }] }] };
    case 'metrics':
      // An exemplar's attribute is OTLP's deepest place for an AnyValue (8 messages in).
      return {
        resourceMetrics: [{ scopeMetrics: [{ metrics: [{
          name: 'm',
          histogram: {
            aggregationTemporality: 2,
            dataPoints: [
              { timeUnixNano: '1', count: '1', exemplars: [{ timeUnixNano: '1', asDouble: 1, filteredAttributes: [{ key: 'v', value }] }] },
              { timeUnixNano: '2', count: '2' },
            ],
          },
        }] }] }],
      };
  }
}

const snakeCase = (text: string) => text.replace(/"(arrayValue|kvlistValue|stringValue|filteredAttributes|logRecords)"/g, (_, k: string) => `"${k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}"`);

/** Encoded with protobufjs's encoder limit raised for the test only: the body is what a client could send. */
function protobufBody(signal: Signal, json: Json): Buffer {
  const type = otlpProto().request[signal];
  const util = protobuf.util as unknown as { recursionLimit: number };
  const limit = util.recursionLimit;
  util.recursionLimit = 10_000;
  try {
    return Buffer.from(type.encode(type.fromObject(withIdBytes(json))).finish());
  } finally {
    util.recursionLimit = limit;
  }
}

function withIdBytes(json: Json): Json {
  return JSON.parse(JSON.stringify(json), (k, v: unknown) => (k === 'traceId' || k === 'spanId') && typeof v === 'string' ? Buffer.from(v, 'hex') : v) as Json;
}

/** Records as comparable text (a log's observed time, "now" when absent, left out). */
const records = (items: readonly unknown[]): string =>
  JSON.stringify(items, (k, v: unknown) => (k === 'observedTimeUnixNano' ? undefined : typeof v === 'bigint' ? String(v) : v));

/** What each encoding makes of the request: the model records (as JSON) and the rejection reasons. */
function outcomes(signal: Signal, json: Json) {
  const text = JSON.stringify(json);
  const bodies: [string, Buffer, 'json' | 'protobuf'][] = [
    ['OTLP/JSON', Buffer.from(text), 'json'],
    ['OTLP/JSON with proto field names', Buffer.from(snakeCase(text)), 'json'],
    ['OTLP/protobuf', protobufBody(signal, json), 'protobuf'],
  ];
  return bodies.map(([name, body, format]) => {
    const decoded = decodeRequest(signal, body, format, 'default');
    return { name, decoded, items: records(decoded.items), reasons: decoded.rejected.map((r) => r.reason) };
  });
}

describe('AnyValue nesting is judged alike in every encoding', () => {
  for (const signal of ['traces', 'logs', 'metrics'] as const) {
    for (const kind of ['array', 'kvlist'] as const) {
      test(`${signal}: ${kind}s nested 64 deep are kept, and encode again for exporters and the spill`, () => {
        const all = outcomes(signal, request(signal, deep(kind, 64)));
        for (const o of all) {
          assert.deepEqual(o.reasons, [], o.name);
          assert.equal(o.decoded.items.length, 2, o.name);
          assert.ok(o.items === all[0]!.items, `${o.name} decodes to the same records as OTLP/JSON`);
        }
        // The exporters' encoder takes whatever the receiver accepted, and the spill reads it back the same.
        const [part] = encodeByTenant(signal, all[0]!.decoded.items);
        const again = decodeRequest(signal, Buffer.from(part!.body), 'protobuf', 'default');
        assert.deepEqual(again.rejected, []);
        assert.ok(records(again.items) === all[0]!.items, 'the encoded records decode to the same records');
      });

      test(`${signal}: ${kind}s nested 65 deep reject only their item, as partial success`, () => {
        for (const o of outcomes(signal, request(signal, deep(kind, 65)))) {
          assert.equal(o.reasons.length, 1, o.name);
          assert.match(o.reasons[0]!, /AnyValue nested deeper than 64 levels/, o.name);
          assert.equal(o.decoded.items.length, 1, `${o.name}: the plain item is kept`);
        }
      });
    }
  }

  test('the real SDKs\' depths from the QA report: 33 nested maps and 48 nested arrays in protobuf are kept', () => {
    for (const [kind, levels] of [['kvlist', 33], ['array', 48]] as const) {
      const decoded = decodeRequest('logs', protobufBody('logs', request('logs', deep(kind, levels))), 'protobuf', 'default');
      assert.deepEqual(decoded.rejected, []);
      assert.equal(decoded.items.length, 2);
    }
  });

  test('a protobuf body nested far past the limit is still refused whole, without overflowing the stack', () => {
    // 100,000 nested arrays, written by hand: protobufjs's own encoder would overflow the stack.
    const levels = 100_000;
    const varint = (n: number): number[] => {
      const out: number[] = [];
      while (n > 0x7f) {
        out.push((n & 0x7f) | 0x80);
        n >>>= 7;
      }
      out.push(n);
      return out;
    };
    // Lengths from the inside out (the innermost AnyValue is empty), then the tags and lengths outside in.
    const lengths: [number, number][] = []; // per level: the AnyValue's ArrayValue length, the ArrayValue's AnyValue length
    let inner = 0;
    for (let i = 0; i < levels; i++) {
      const arrayValue = 1 + varint(inner).length + inner; // ArrayValue { values = 1: AnyValue }
      lengths.push([arrayValue, inner]);
      inner = 1 + varint(arrayValue).length + arrayValue; // AnyValue { array_value = 5: ArrayValue }
    }
    const bytes: number[] = [];
    for (let i = levels - 1; i >= 0; i--) bytes.push(0x2a, ...varint(lengths[i]![0]), 0x0a, ...varint(lengths[i]![1]));
    const value = Buffer.from(bytes);
    const kv = Buffer.concat([Buffer.from([0x0a, 1, 0x6b]), Buffer.from([0x12, ...varint(value.length)]), value]); // KeyValue{key "k", value}
    const logRecord = Buffer.concat([Buffer.from([0x32, ...varint(kv.length)]), kv]); // LogRecord.attributes = 6
    const scopeLogs = Buffer.concat([Buffer.from([0x12, ...varint(logRecord.length)]), logRecord]); // ScopeLogs.log_records = 2
    const resourceLogs = Buffer.concat([Buffer.from([0x12, ...varint(scopeLogs.length)]), scopeLogs]); // ResourceLogs.scope_logs = 2
    const body = Buffer.concat([Buffer.from([0x0a, ...varint(resourceLogs.length)]), resourceLogs]); // request.resource_logs = 1
    assert.throws(() => decodeRequest('logs', body, 'protobuf', 'default'), (err: unknown) => err instanceof OtlpDecodeError && /max depth exceeded/.test(err.message));
  });
});
