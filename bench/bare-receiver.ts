// The ingest benchmark's baseline: an OTLP/gRPC trace receiver that only decodes each request with
// teleql's own codec and discards the result. Prints "listening <port>" once bound.
// With TELEQL_BENCH_DIST=1 the codec is dist/'s, as the gateway it is compared with runs it.
import * as grpc from '@grpc/grpc-js';
import type * as GrpcReceiver from '../ingest/receivers/otlp/grpc.ts';
import type * as Codec from '../src/otlp/codec.ts';

const fromDist = process.env.TELEQL_BENCH_DIST === '1';
const { exportServiceDefinition } = (await import(fromDist ? '../dist/ingest/receivers/otlp/grpc.js' : '../ingest/receivers/otlp/grpc.ts')) as typeof GrpcReceiver;
const { decodeRequest, encodeExportResponse } = (await import(fromDist ? '../dist/src/otlp/codec.js' : '../src/otlp/codec.ts')) as typeof Codec;

const server = new grpc.Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024 });
let decoded = 0;
server.addService(exportServiceDefinition('traces'), {
  Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
    decoded += decodeRequest('traces', call.request, 'protobuf', 'default').items.length;
    callback(null, encodeExportResponse('traces', 'protobuf'));
  },
});
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  console.log(`listening ${port}`);
});
process.on('SIGTERM', () => {
  console.log(`decoded ${decoded}`);
  server.forceShutdown();
  process.exit(0);
});
