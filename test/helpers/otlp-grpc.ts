// A raw OTLP/gRPC Export call (pass-through definition: the body is sent exactly as given), with
// metadata and optional TLS credentials, for tests of status codes.
import * as grpc from '@grpc/grpc-js';
import { exportServiceDefinition } from '../../ingest/receivers/otlp/grpc.ts';
import type { Signal } from '../../src/model/telemetry.ts';

export interface GrpcAnswer {
  code: grpc.status;
  details: string;
  metadata?: grpc.Metadata;
  response?: Buffer;
}

export function grpcExport(
  addr: string,
  signal: Signal,
  body: Buffer,
  headers: Record<string, string> = {},
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  options: grpc.ClientOptions = {},
): Promise<GrpcAnswer> {
  const Client = grpc.makeGenericClientConstructor(exportServiceDefinition(signal), 'Export');
  const client = new Client(addr, credentials, options) as unknown as grpc.Client & {
    Export(body: Buffer, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, response?: Buffer) => void): void;
  };
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(headers)) metadata.set(k, v);
  return new Promise((resolve) => {
    client.Export(body, metadata, (err: grpc.ServiceError | null, response?: Buffer) => {
      client.close();
      resolve(err ? { code: err.code, details: err.details, metadata: err.metadata } : { code: grpc.status.OK, details: '', response });
    });
  });
}
