// Reading an HTTP request body with a size limit, decompressing it. Shared by the OTLP/HTTP receiver
// and the GraphQL server: both refuse a body over their limit before or while it arrives, and a
// compressed body is refused as soon as its decompressed size passes the limit (a few KiB of gzip
// can inflate to gigabytes), never after decompressing it all. gzip and deflate inflate as they
// stream (node:zlib); zstd (fzstd) and snappy (snappyjs) are read whole first (the compressed body
// is within the limit) and decompressed under the same bound.
import type { IncomingMessage } from 'node:http';
import zlib from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';
import snappy from 'snappyjs';
import { largestZstdWindow, ZstdFrameError } from './zstd-frames.ts';

/** Why a body could not be read: too large (413), unreadable (400), or in an encoding variant not supported (415). */
export class RequestBodyError extends Error {
  constructor(
    readonly kind: 'too-large' | 'bad' | 'unsupported',
    message: string,
  ) {
    super(message);
    this.name = 'RequestBodyError';
  }
}

// The Collector's names (configcompression): `zlib` is what HTTP calls `deflate` (zlib-wrapped);
// `snappy` is the block format (the framed one is `x-snappy-framed`, refused). Not `lz4`.
export const SUPPORTED_ENCODINGS: readonly string[] = ['identity', 'gzip', 'x-gzip', 'deflate', 'zlib', 'zstd', 'snappy'];
/** For the 415 a request with another Content-Encoding gets. */
export const SUPPORTED_ENCODINGS_TEXT = 'gzip, deflate (zlib), zstd, snappy (block format) or none';

/**
 * A zstd frame may ask for a window up to the body limit, or up to this when the limit is lower
 * (libzstd's decoders refuse windows over 128 MiB by default): 8 MiB is the window of the
 * Collector's encoder (klauspost/compress) by default, so a small body limit still takes its frames.
 */
const ZSTD_MIN_WINDOW_LIMIT = 8 * 1024 * 1024;
/** How the snappy framing format begins (stream identifier chunk: 0xff, length 6, "sNaPpY"). */
const SNAPPY_FRAMED_MAGIC = Buffer.from([0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59]);

/** The request's Content-Encoding, lowercased ('identity' when absent). */
export function contentEncoding(req: IncomingMessage): string {
  return (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
}

/** The request's Content-Length, if it sent one. */
export function declaredLength(req: IncomingMessage): number | undefined {
  return req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
}

/** A whole zstd body, decompressed; refused past `max` bytes out or a window over the limit. */
function unzstd(body: Buffer, max: number): Buffer {
  let window: number;
  try {
    window = largestZstdWindow(body);
  } catch (err) {
    if (err instanceof ZstdFrameError) throw new RequestBodyError('bad', `zstd request body could not be decompressed: ${err.message}`);
    throw err;
  }
  const windowLimit = Math.max(max, ZSTD_MIN_WINDOW_LIMIT);
  if (window > windowLimit) throw new RequestBodyError('too-large', `zstd request body asks for a window of ${window} bytes, over the limit of ${windowLimit} bytes`);
  const parts: Uint8Array[] = [];
  let size = 0;
  const tooLarge = new RequestBodyError('too-large', `zstd request body decompresses to more than the limit of ${max} bytes`);
  // ondata runs inside push: throwing there stops the decoder at the first block past the limit.
  const decoder = new ZstdDecompress((chunk) => {
    size += chunk.length;
    if (size > max) throw tooLarge;
    parts.push(chunk);
  });
  try {
    decoder.push(body, true);
  } catch (err) {
    if (err === tooLarge) throw err;
    throw new RequestBodyError('bad', `zstd request body could not be decompressed: ${err instanceof Error ? err.message : String(err)}`);
  }
  return Buffer.concat(parts, size);
}

/** A whole snappy (block format) body, decompressed; its header states its size, checked against `max` first. */
function unsnappy(body: Buffer, max: number): Buffer {
  if (body.subarray(0, SNAPPY_FRAMED_MAGIC.length).equals(SNAPPY_FRAMED_MAGIC)) {
    throw new RequestBodyError(
      'unsupported',
      'snappy request body is in the framing format (x-snappy-framed), which is not supported: send the block format (what the Collector sends as snappy since v0.131) or use gzip or zstd',
    );
  }
  try {
    return snappy.uncompress(body, max);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // snappyjs: "The uncompressed length of N is too big, expect at most MAX".
    if (/too big/.test(message)) throw new RequestBodyError('too-large', `snappy request body decompresses to more than the limit of ${max} bytes`);
    throw new RequestBodyError('bad', `snappy request body could not be decompressed: ${message}`);
  }
}

/**
 * Reads the body and decompresses it; never holds more than `max` bytes, before or after
 * decompressing (zstd and snappy: the compressed body, then at most `max` bytes out).
 */
export function readRequestBody(req: IncomingMessage, encoding: string, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let inflated = 0;
    let settled = false;
    const whole = encoding === 'zstd' ? unzstd : encoding === 'snappy' ? unsnappy : undefined;
    const inflater = encoding === 'identity' || whole ? undefined : encoding === 'deflate' || encoding === 'zlib' ? zlib.createInflate() : zlib.createGunzip();
    const fail = (err: RequestBodyError) => {
      if (settled) return;
      settled = true;
      inflater?.destroy();
      reject(err);
    };
    const done = () => {
      if (settled) return;
      let body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      if (whole) {
        try {
          body = whole(body, max);
        } catch (err) {
          return fail(err instanceof RequestBodyError ? err : new RequestBodyError('bad', `${encoding} request body could not be decompressed: ${String(err)}`));
        }
      }
      settled = true;
      resolve(body);
    };
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      received += chunk.length;
      if (received > max) return fail(new RequestBodyError('too-large', `request body exceeds the limit of ${max} bytes`));
      if (!inflater) return void chunks.push(chunk);
      if (!inflater.write(chunk)) {
        req.pause();
        inflater.once('drain', () => req.resume());
      }
    });
    req.on('end', () => (inflater ? inflater.end() : done()));
    req.on('error', (err) => fail(new RequestBodyError('bad', `reading the request body failed: ${err.message}`)));
    req.on('close', () => {
      if (!req.complete) fail(new RequestBodyError('bad', 'the client closed the connection before sending the whole body'));
    });
    if (!inflater) return;
    inflater.on('data', (chunk: Buffer) => {
      if (settled) return;
      inflated += chunk.length;
      if (inflated > max) return fail(new RequestBodyError('too-large', `${encoding} request body inflates to more than the limit of ${max} bytes`));
      chunks.push(chunk);
    });
    inflater.on('end', done);
    inflater.on('error', (err) => fail(new RequestBodyError('bad', `${encoding} request body could not be decompressed: ${err.message}`)));
  });
}
