// npm run bench:decompress — what reading a compressed OTLP/HTTP body costs, per encoding the
// receiver takes: CPU per body through readRequestBody (the receiver's and GraphQL's reader), for
// one OTLP/protobuf request of --spans spans (2,000) as bench:tail builds them, compressed by each
// encoder at its default (zstd by the zstd command, the reference encoder). The baseline, in the
// same run, is the same body uncompressed; gzip, which every OTel SDK sends, is the one to compare
// zstd and snappy with. Options: --spans N, --runs N (200).
import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import zlib from 'node:zlib';
import snappy from 'snappyjs';
import { readRequestBody } from '../src/server/request-body.ts';
import { zstdCli } from '../test/helpers/zstd-cli.ts';
import { benchSpan, encodeTraceRequests } from './otlp-requests.ts';
import { arg, fmt, machine } from './lib.ts';

const spanCount = arg('spans', 2000);
const runs = arg('runs', 200);
const resources = Array.from({ length: 10 }, (_, i) => ({ attributes: [{ key: 'service.name', value: { stringValue: `svc-${i}` } }], droppedAttributesCount: 0, schemaUrl: '' }));
const scope = { name: 'bench-decompress', version: '1.0.0', attributes: [], droppedAttributesCount: 0, schemaUrl: '' };
const spans = Array.from({ length: spanCount }, (_, i) =>
  benchSpan({
    resource: resources[i % resources.length]!,
    scope,
    traceId: (i >> 4).toString(16).padStart(32, '0'),
    spanId: (i + 1).toString(16).padStart(16, '0'),
    parentSpanId: '',
    name: `op-${i % 20}`,
    startTimeUnixNano: 1_700_000_000_000_000_000n + BigInt(i),
    endTimeUnixNano: 1_700_000_000_005_000_000n + BigInt(i),
    attributes: [
      { key: 'http.route', value: { stringValue: `/api/${i % 50}/items` } },
      { key: 'user.id', value: { stringValue: `u-${i}` } },
      { key: 'http.response.status_code', value: { intValue: String(200 + (i % 5) * 100) } },
    ],
  }),
);
const body = encodeTraceRequests([spans])[0]!;
const bodies: [string, Buffer][] = [
  ['identity', body],
  ['gzip', zlib.gzipSync(body)],
  ['deflate', zlib.deflateSync(body)],
  ['zstd', zstdCli(body)],
  ['snappy', Buffer.from(snappy.compress(body))],
];

async function read(encoding: string, compressed: Buffer): Promise<Buffer> {
  const req = Object.assign(Readable.from([compressed]), { complete: true }) as unknown as IncomingMessage;
  return readRequestBody(req, encoding, 16 * 1024 * 1024);
}

console.log(`machine: ${machine()}`);
console.log(`one OTLP/protobuf request of ${spanCount} spans (${body.length} bytes); ${runs} reads per encoding after 20 warm-up reads\n`);
console.log('encoding | compressed bytes | ratio | CPU ms per body | µs per span | × identity | × gzip');
let identityMs = 0;
let gzipMs = 0;
for (const [encoding, compressed] of bodies) {
  for (let i = 0; i < 20; i++) if (!(await read(encoding, compressed)).equals(body)) throw new Error(`${encoding}: the body read back differs`);
  const start = process.cpuUsage();
  for (let i = 0; i < runs; i++) await read(encoding, compressed);
  const used = process.cpuUsage(start);
  const ms = (used.user + used.system) / 1000 / runs;
  if (encoding === 'identity') identityMs = ms;
  if (encoding === 'gzip') gzipMs = ms;
  console.log(
    `${encoding.padEnd(8)} | ${String(compressed.length).padStart(16)} | ${fmt(body.length / compressed.length, 1).padStart(5)} | ${fmt(ms, 2).padStart(15)} | ${fmt((ms * 1000) / spanCount, 2).padStart(11)} | ${fmt(ms / identityMs, 1).padStart(10)} | ${gzipMs ? fmt(ms / gzipMs, 2).padStart(6) : '     -'}`,
  );
}
