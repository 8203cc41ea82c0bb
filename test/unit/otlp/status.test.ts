// The google.rpc.Status of OTLP/HTTP error answers, both ways: what teleql's receiver sends and what
// its Jaeger exporter reads from a receiver's refusal (logged as code and message, not as raw bytes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeStatus, encodeStatus } from '../../../src/otlp/codec.ts';

test('a Status reads back from protobuf and JSON bodies, by their Content-Type', () => {
  const proto = encodeStatus('protobuf', 3, 'span 0: trace_id must be 16 bytes');
  assert.deepEqual(decodeStatus(proto, 'application/x-protobuf'), { code: 3, message: 'span 0: trace_id must be 16 bytes' });
  assert.deepEqual(decodeStatus(encodeStatus('json', 8, 'slow down'), 'application/json; charset=utf-8'), { code: 8, message: 'slow down' });
  // Proto3 leaves a zero code out of the bytes: it reads back as 0.
  assert.deepEqual(decodeStatus(encodeStatus('protobuf', 0, 'odd'), 'application/x-protobuf'), { code: 0, message: 'odd' });
});

test('what is not a Status reads as null, so the caller logs it as text', () => {
  assert.equal(decodeStatus(Buffer.from('<html>502 Bad Gateway</html>'), 'text/html'), null);
  assert.equal(decodeStatus(Buffer.from('bad request: span_id'), undefined), null);
  assert.equal(decodeStatus(Buffer.alloc(0), 'application/x-protobuf'), null);
  assert.equal(decodeStatus(Buffer.from('{"error":"nope"}'), 'application/json'), null);
  assert.equal(decodeStatus(Buffer.from('{"code":"x"}'), 'application/json'), null);
  assert.equal(decodeStatus(Buffer.from([0xff, 0xff, 0xff]), 'application/x-protobuf'), null);
});
