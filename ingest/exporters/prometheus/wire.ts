// The remote-write wire format: WriteRequest protobuf (types from the .proto files next to this
// module, parsed once on first use) in a snappy block, as Prometheus' receiver reads it.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import snappy from 'snappyjs';
import type { PromMetricMetadata, PromTimeSeries } from './translate.ts';

const PROTO_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'proto');

export const REMOTE_WRITE_HEADERS = {
  'content-encoding': 'snappy',
  'content-type': 'application/x-protobuf',
  'x-prometheus-remote-write-version': '0.1.0',
} as const;

let writeRequest: protobuf.Type | undefined;

export function writeRequestType(): protobuf.Type {
  if (writeRequest) return writeRequest;
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => path.join(PROTO_DIR, path.basename(target));
  root.loadSync('remote.proto', { keepCase: false });
  root.resolveAll();
  writeRequest = root.lookupType('prometheus.WriteRequest');
  return writeRequest;
}

/** The snappy-compressed WriteRequest body. */
export function encodeWriteRequest(timeseries: readonly PromTimeSeries[], metadata: readonly PromMetricMetadata[] = []): Uint8Array {
  const type = writeRequestType();
  const bytes = type.encode(type.fromObject({ timeseries, metadata })).finish();
  return snappy.compress(bytes);
}

/** For tests and diagnostics: the WriteRequest in a body, as a plain object (int64 as numbers). */
export function decodeWriteRequest(body: Uint8Array): { timeseries: PromTimeSeries[]; metadata: PromMetricMetadata[] } {
  const type = writeRequestType();
  const message = type.decode(snappy.uncompress(body));
  return type.toObject(message, { longs: Number, enums: Number, defaults: true, arrays: true, oneofs: false }) as { timeseries: PromTimeSeries[]; metadata: PromMetricMetadata[] };
}
