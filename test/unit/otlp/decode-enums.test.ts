// proto3 enums are open: a span kind or log severity number no SDK of today sends is any int32,
// kept as sent (the OTel Collector passes them on); what cannot be an enum value is refused.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LogRecord, SpanRecord } from '../../../src/model/telemetry.ts';
import { decodeRequest } from '../../../src/otlp/codec.ts';
import { encodeByTenant } from '../../../src/otlp/encode.ts';
import { otlpProto } from '../../../src/otlp/proto.ts';
import { log, span, spanId } from '../../helpers/telemetry-builders.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';

const spanRequest = (kinds: unknown[]) => ({
  resourceSpans: [{ scopeSpans: [{ spans: kinds.map((kind, i) => ({ traceId: TRACE_ID, spanId: SPAN_ID, name: `s${i}`, kind })) }] }],
});
const logRequest = (severities: unknown[]) => ({
  resourceLogs: [{ scopeLogs: [{ logRecords: severities.map((severityNumber) => ({ severityNumber, body: { stringValue: 'x' } })) }] }],
});

/** OTLP protobuf with IDs as bytes; `encode` writes an enum field's number as it is. */
function protobuf(signal: 'traces' | 'logs', request: unknown): Buffer {
  const withIds = JSON.parse(JSON.stringify(request), (k, v: unknown) => ((k === 'traceId' || k === 'spanId') && typeof v === 'string' ? Buffer.from(v, 'hex') : v)) as unknown;
  return Buffer.from(otlpProto().request[signal].encode(withIds as Record<string, unknown>).finish());
}

describe('open OTLP enums', () => {
  test('a span kind SpanKind does not name is kept as sent, from protobuf and JSON', () => {
    const kinds = [9, -1, 2147483647, 2];
    for (const format of ['protobuf', 'json'] as const) {
      const body = format === 'json' ? Buffer.from(JSON.stringify(spanRequest(kinds))) : protobuf('traces', spanRequest(kinds));
      const decoded = decodeRequest('traces', body, format, 'default');
      assert.deepEqual(decoded.rejected, [], format);
      assert.deepEqual(decoded.items.map((s) => s.kind), kinds, format);
    }
  });

  test('a log severity number past FATAL4 (or below unset) is kept as sent, from protobuf and JSON', () => {
    const severities = [30, 25, -3, 'SEVERITY_NUMBER_ERROR'];
    for (const format of ['protobuf', 'json'] as const) {
      const body = format === 'json' ? Buffer.from(JSON.stringify(logRequest(severities))) : protobuf('logs', logRequest(severities.map((s) => (s === 'SEVERITY_NUMBER_ERROR' ? 17 : s))));
      const decoded = decodeRequest('logs', body, format, 'default');
      assert.deepEqual(decoded.rejected, [], format);
      assert.deepEqual(decoded.items.map((l) => l.severityNumber), [30, 25, -3, 17], format);
    }
  });

  test('what cannot be an enum value is refused: past int32, a fraction, an unknown name', () => {
    const spans = decodeRequest('traces', Buffer.from(JSON.stringify(spanRequest([2147483648, 2.5, 'SPAN_KIND_NOPE', 'SPAN_KIND_SERVER']))), 'json', 'default');
    assert.deepEqual(spans.rejected.map((r) => r.reason), ['kind 2147483648 is not a valid value', 'kind 2.5 is not a valid value', 'kind "SPAN_KIND_NOPE" is not a valid value']);
    assert.deepEqual(spans.items.map((s) => s.kind), [2]);
    const logs = decodeRequest('logs', Buffer.from(JSON.stringify(logRequest([-2147483649, 'toString']))), 'json', 'default');
    assert.deepEqual(logs.rejected.map((r) => r.reason), ['severity_number -2147483649 is not a valid value', 'severity_number "toString" is not a valid value']);
  });

  test('a status code stays closed: it decides what counts as an error', () => {
    const request = { resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: TRACE_ID, spanId: SPAN_ID, name: 's', status: { code: 3 } }] }] }] };
    assert.deepEqual(decodeRequest('traces', Buffer.from(JSON.stringify(request)), 'json', 'default').rejected.map((r) => r.reason), ['status.code 3 is not a valid value']);
  });

  test('the OTLP encoder (Jaeger exporter, spill) passes them on as they are', () => {
    const spans: SpanRecord[] = [span({ kind: 9 }), span({ spanId: spanId(2), kind: -1 })];
    const logs: LogRecord[] = [log({ severityNumber: 30 }), log({ severityNumber: -3 })];
    const [tracePart] = encodeByTenant('traces', spans);
    const [logPart] = encodeByTenant('logs', logs);
    assert.deepEqual(decodeRequest('traces', Buffer.from(tracePart!.body), 'protobuf', tracePart!.tenant).items.map((s) => s.kind), [9, -1]);
    assert.deepEqual(decodeRequest('logs', Buffer.from(logPart!.body), 'protobuf', logPart!.tenant).items.map((l) => l.severityNumber), [30, -3]);
  });
});
