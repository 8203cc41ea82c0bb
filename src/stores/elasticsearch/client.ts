// One @elastic/elasticsearch client per store or writer. The client is pinned to major 8: it sends
// `compatible-with=8`, which 8.x and 9.x servers accept (an 8.x server refuses a 9.x client's headers).
import { Client, type ClientOptions } from '@elastic/elasticsearch';

export type ElasticsearchAuth = { username: string; password: string } | { apiKey: string } | { bearer: string };

export interface ElasticsearchConnectionOptions {
  /** e.g. `https://localhost:9200` */
  node: string;
  auth?: ElasticsearchAuth;
  /** PEM contents, read by the caller so a missing file is named by its setting. */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean };
  /** Per request; default 30,000. */
  requestTimeoutMs?: number;
  /** Sent with every request. */
  headers?: Record<string, string>;
  /** Client-side retries on connection faults and 502/503/504. */
  maxRetries?: number;
}

export function createClient(opts: ElasticsearchConnectionOptions, defaultRetries: number): Client {
  const options: ClientOptions = {
    node: opts.node,
    requestTimeout: opts.requestTimeoutMs ?? 30_000,
    maxRetries: opts.maxRetries ?? defaultRetries,
    // The client keeps request headers in error metadata; make sure auth headers are replaced there.
    redaction: { type: 'replace', additionalKeys: ['authorization'] },
  };
  if (opts.auth) options.auth = opts.auth;
  if (opts.headers && Object.keys(opts.headers).length > 0) options.headers = opts.headers;
  if (opts.tls) {
    options.tls = {};
    if (opts.tls.ca) options.tls.ca = opts.tls.ca;
    if (opts.tls.cert) options.tls.cert = opts.tls.cert;
    if (opts.tls.key) options.tls.key = opts.tls.key;
    if (opts.tls.rejectUnauthorized !== undefined) options.tls.rejectUnauthorized = opts.tls.rejectUnauthorized;
  }
  return new Client(options);
}
