// Encodes model spans as OTLP ExportTraceServiceRequest protobuf bytes with protobufjs and the
// receiver's own .proto files: the requests the ingest benchmark sends.
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import type { AnyValue, KeyValue, SpanRecord } from '../src/model/telemetry.ts';

const PROTO_DIR = fileURLToPath(new URL('../src/otlp/proto/', import.meta.url));

function loadRequestType(): protobuf.Type {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(PROTO_DIR, target);
  root.loadSync('opentelemetry/proto/collector/trace/v1/trace_service.proto', { keepCase: false });
  return root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
}

function value(v: AnyValue): Record<string, unknown> {
  if ('bytesValue' in v) return { bytesValue: Buffer.from(v.bytesValue, 'base64') };
  if ('arrayValue' in v) return { arrayValue: { values: v.arrayValue.values.map(value) } };
  if ('kvlistValue' in v) return { kvlistValue: { values: attrs(v.kvlistValue.values) } };
  return v;
}
const attrs = (kvs: readonly KeyValue[]) => kvs.map((kv) => ({ key: kv.key, value: value(kv.value) }));
const hex = (s: string) => Buffer.from(s, 'hex');

/** One request per group of spans; spans sharing a Resource object share a ResourceSpans. */
export function encodeTraceRequests(groups: readonly (readonly SpanRecord[])[]): Buffer[] {
  const type = loadRequestType();
  return groups.map((spans) => {
    const byResource = new Map<object, SpanRecord[]>();
    for (const s of spans) byResource.set(s.resource, [...(byResource.get(s.resource) ?? []), s]);
    const msg = type.fromObject({
      resourceSpans: [...byResource.values()].map((ss) => ({
        resource: { attributes: attrs(ss[0]!.resource.attributes) },
        scopeSpans: [
          {
            scope: { name: ss[0]!.scope.name, version: ss[0]!.scope.version },
            spans: ss.map((s) => ({
              traceId: hex(s.traceId),
              spanId: hex(s.spanId),
              parentSpanId: hex(s.parentSpanId),
              flags: s.flags,
              name: s.name,
              kind: s.kind,
              startTimeUnixNano: s.startTimeUnixNano.toString(),
              endTimeUnixNano: s.endTimeUnixNano.toString(),
              attributes: attrs(s.attributes),
              status: { code: s.status.code, message: s.status.message },
            })),
          },
        ],
      })),
    });
    return Buffer.from(type.encode(msg).finish());
  });
}

/** The span fields a benchmark chooses. */
export type BenchSpanFields = Pick<SpanRecord, 'resource' | 'scope' | 'traceId' | 'spanId' | 'parentSpanId' | 'name' | 'startTimeUnixNano' | 'endTimeUnixNano' | 'attributes'>;

/** A server span of the default tenant with those fields; no events, links or dropped counts, status unset. */
export function benchSpan(fields: BenchSpanFields): SpanRecord {
  return { tenant: 'default', traceState: '', flags: 0, kind: 2, droppedAttributesCount: 0, events: [], droppedEventsCount: 0, links: [], droppedLinksCount: 0, status: { code: 0, message: '' }, ...fields };
}
