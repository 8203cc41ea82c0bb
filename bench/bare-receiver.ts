// The ingest benchmark's baseline: an OTLP/gRPC trace receiver that only decodes each request with
// teleql's own codec and discards the result. Prints "listening <port>" once bound.
import * as grpc from '@grpc/grpc-js';
import { exportServiceDefinition } from '../ingest/receivers/otlp/grpc.ts';
import { decodeRequest, encodeExportResponse } from '../src/otlp/codec.ts';

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
