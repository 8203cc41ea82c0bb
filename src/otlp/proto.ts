// The OTLP protobuf types, parsed once from the .proto files next to this module on first use
// (~30 ms), so importing the receiver costs nothing until the first request or encode.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import type { Signal } from '../model/telemetry.ts';
import { PROTOBUF_RECURSION_LIMIT } from './convert-common.ts';

const PROTO_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'proto');

export interface OtlpProto {
  request: Record<Signal, protobuf.Type>;
  response: Record<Signal, protobuf.Type>;
  status: protobuf.Type;
  retryInfo: protobuf.Type;
  /** Enum name → number, for OTLP/JSON senders that write names. */
  enums: {
    spanKind: Record<string, number>;
    statusCode: Record<string, number>;
    severityNumber: Record<string, number>;
    temporality: Record<string, number>;
  };
}

let loaded: OtlpProto | undefined;

export function otlpProto(): OtlpProto {
  if (loaded) return loaded;
  // protobufjs keeps its nesting limits in module-wide settings, read on every decode (Reader) and
  // encode (util); OTLP's AnyValue needs more than the default 100 (see PROTOBUF_RECURSION_LIMIT).
  // Only ever raised here, so another protobufjs user in the process is not cut shorter.
  protobuf.util.recursionLimit = Math.max(protobuf.util.recursionLimit, PROTOBUF_RECURSION_LIMIT);
  protobuf.Reader.recursionLimit = Math.max(protobuf.Reader.recursionLimit, PROTOBUF_RECURSION_LIMIT);
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => path.join(PROTO_DIR, target);
  root.loadSync(
    [
      'opentelemetry/proto/collector/trace/v1/trace_service.proto',
      'opentelemetry/proto/collector/logs/v1/logs_service.proto',
      'opentelemetry/proto/collector/metrics/v1/metrics_service.proto',
      'google/rpc/status.proto',
      'google/rpc/retry_info.proto',
    ],
    { keepCase: false },
  );
  root.resolveAll();
  cheapenOneofSetters(root);
  const collector = 'opentelemetry.proto.collector';
  loaded = {
    request: {
      traces: root.lookupType(`${collector}.trace.v1.ExportTraceServiceRequest`),
      logs: root.lookupType(`${collector}.logs.v1.ExportLogsServiceRequest`),
      metrics: root.lookupType(`${collector}.metrics.v1.ExportMetricsServiceRequest`),
    },
    response: {
      traces: root.lookupType(`${collector}.trace.v1.ExportTraceServiceResponse`),
      logs: root.lookupType(`${collector}.logs.v1.ExportLogsServiceResponse`),
      metrics: root.lookupType(`${collector}.metrics.v1.ExportMetricsServiceResponse`),
    },
    status: root.lookupType('google.rpc.Status'),
    retryInfo: root.lookupType('google.rpc.RetryInfo'),
    enums: {
      spanKind: root.lookupEnum('opentelemetry.proto.trace.v1.Span.SpanKind').values,
      statusCode: root.lookupEnum('opentelemetry.proto.trace.v1.Status.StatusCode').values,
      severityNumber: root.lookupEnum('opentelemetry.proto.logs.v1.SeverityNumber').values,
      temporality: root.lookupEnum('opentelemetry.proto.metrics.v1.AggregationTemporality').values,
    },
  };
  return loaded;
}

/**
 * protobufjs's decoder records which oneof member it read through a virtual property whose setter
 * `delete`s every other member, present or not. For AnyValue, read for every attribute, that was
 * half the decode time and left messages in slow dictionary mode. Our constructors get a setter that
 * deletes only a sibling that is really there: same "last member wins", one own-property check.
 * protobufjs takes the setter from util.oneOfSetter when it builds a constructor, so we swap it in
 * while building ours and put the original back for anyone else using protobufjs.
 */
function cheapenOneofSetters(root: protobuf.Root): void {
  const util = protobuf.util as unknown as { oneOfSetter: (members: string[]) => (name: string) => void };
  const original = util.oneOfSetter;
  util.oneOfSetter = (members) =>
    function (this: Record<string, unknown>, name: string) {
      for (const m of members) if (m !== name && Object.prototype.hasOwnProperty.call(this, m)) delete this[m];
    };
  try {
    forEachType(root, (type) => void type.ctor);
  } finally {
    util.oneOfSetter = original;
  }
}

function forEachType(ns: protobuf.NamespaceBase, fn: (type: protobuf.Type) => void): void {
  for (const nested of ns.nestedArray) {
    if (nested instanceof protobuf.Type) fn(nested);
    if (nested instanceof protobuf.Namespace) forEachType(nested, fn);
  }
}
