// Small OTLP request bodies built by hand (JSON, and the same as protobuf), for tests that need
// exact control over IDs, attributes and sizes.
import { randomBytes } from 'node:crypto';
import { otlpProto } from '../../src/otlp/proto.ts';
import type { Signal } from '../../src/model/telemetry.ts';

export const randomTraceId = () => randomBytes(16).toString('hex');
export const randomSpanId = () => randomBytes(8).toString('hex');

export interface SpanSpec {
  traceId?: string;
  spanId?: string;
  name?: string;
  service?: string;
  attributes?: Record<string, unknown>;
}

function anyValue(v: unknown): unknown {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
  if (Array.isArray(v)) return { arrayValue: { values: v.map(anyValue) } };
  if (v && typeof v === 'object') return { kvlistValue: { values: Object.entries(v).map(([key, x]) => ({ key, value: anyValue(x) })) } };
  return {};
}

export const keyValues = (attrs: Record<string, unknown>) => Object.entries(attrs).map(([key, value]) => ({ key, value: anyValue(value) }));

/** An ExportTraceServiceRequest in OTLP/JSON with one span per spec. */
export function spansJson(specs: SpanSpec[]): Record<string, unknown> {
  const now = BigInt(Date.now()) * 1_000_000n;
  return {
    resourceSpans: specs.map((s) => ({
      resource: { attributes: keyValues({ 'service.name': s.service ?? 'svc' }) },
      scopeSpans: [
        {
          scope: { name: 'test' },
          spans: [
            {
              traceId: s.traceId ?? randomTraceId(),
              spanId: s.spanId ?? randomSpanId(),
              name: s.name ?? 'op',
              kind: 2,
              startTimeUnixNano: String(now - 1_000_000n),
              endTimeUnixNano: String(now),
              attributes: keyValues(s.attributes ?? {}),
            },
          ],
        },
      ],
    })),
  };
}

/** An ExportLogsServiceRequest in OTLP/JSON. */
export function logsJson(records: { body: unknown; attributes?: Record<string, unknown>; service?: string; traceId?: string }[]): Record<string, unknown> {
  const now = String(BigInt(Date.now()) * 1_000_000n);
  return {
    resourceLogs: records.map((r) => ({
      resource: { attributes: keyValues({ 'service.name': r.service ?? 'svc' }) },
      scopeLogs: [
        {
          scope: { name: 'test' },
          logRecords: [{ timeUnixNano: now, severityNumber: 9, body: anyValue(r.body), attributes: keyValues(r.attributes ?? {}), ...(r.traceId && { traceId: r.traceId }) }],
        },
      ],
    })),
  };
}

/** The same request as OTLP protobuf (IDs as bytes). */
export function toProtobuf(signal: Signal, json: unknown): Buffer {
  const withBytes = structuredClone(json);
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (typeof v !== 'object' || v === null) return;
    const o = v as Record<string, unknown>;
    for (const [k, x] of Object.entries(o)) {
      if (['traceId', 'spanId', 'parentSpanId'].includes(k) && typeof x === 'string') o[k] = Buffer.from(x, 'hex');
      else walk(x);
    }
  };
  walk(withBytes);
  const type = otlpProto().request[signal];
  return Buffer.from(type.encode(type.fromObject(withBytes as Record<string, unknown>)).finish());
}
