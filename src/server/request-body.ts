// Reading an HTTP request body with a size limit, inflating gzip/deflate as it streams. Shared by the
// OTLP/HTTP receiver and the GraphQL server: both refuse a body over their limit before or while it
// arrives, and a compressed body is refused as soon as its inflated size passes the limit (a few KiB
// of gzip can inflate to gigabytes), never after inflating it all.
import type { IncomingMessage } from 'node:http';
import zlib from 'node:zlib';

/** Why a body could not be read: too large (413), or unreadable (400). */
export class RequestBodyError extends Error {
  constructor(
    readonly kind: 'too-large' | 'bad',
    message: string,
  ) {
    super(message);
    this.name = 'RequestBodyError';
  }
}

// `zlib` is the Collector's name for what HTTP calls `deflate` (zlib-wrapped).
export const SUPPORTED_ENCODINGS: readonly string[] = ['identity', 'gzip', 'x-gzip', 'deflate', 'zlib'];

/** The request's Content-Encoding, lowercased ('identity' when absent). */
export function contentEncoding(req: IncomingMessage): string {
  return (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
}

/** The request's Content-Length, if it sent one. */
export function declaredLength(req: IncomingMessage): number | undefined {
  return req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
}

/** Reads the body, inflating as it streams; never holds more than `max` bytes, before or after inflating. */
export function readRequestBody(req: IncomingMessage, encoding: string, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let inflated = 0;
    let settled = false;
    const inflater = encoding === 'identity' ? undefined : encoding === 'deflate' || encoding === 'zlib' ? zlib.createInflate() : zlib.createGunzip();
    const fail = (err: RequestBodyError) => {
      if (settled) return;
      settled = true;
      inflater?.destroy();
      reject(err);
    };
    const done = () => {
      if (settled) return;
      settled = true;
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
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
