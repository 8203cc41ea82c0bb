// How an exporter reaches its backend: extra headers, credentials and TLS, the same keys for every
// exporter (`auth.username/password`, `auth.bearer`, `auth.apiKey`; `tls.caFile`, `tls.certFile`,
// `tls.keyFile`, `tls.insecureSkipVerify`), and one small HTTP client that honours them and an
// AbortSignal. Secrets never go into errors or logs.
import { request as httpRequest, Agent as HttpAgent, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import { gzipSync } from 'node:zlib';
import { readSettingFile, settingUrl } from '../../../src/config/setting-values.ts';

export interface ConnectionSettings {
  headers: Record<string, string>;
  auth: { username: string; password: string; bearer: string; apiKey: string };
  tls: { caFile: string; certFile: string; keyFile: string; insecureSkipVerify: boolean };
}

export function defaultConnectionSettings(): ConnectionSettings {
  return {
    headers: {},
    auth: { username: '', password: '', bearer: '', apiKey: '' },
    tls: { caFile: '', certFile: '', keyFile: '', insecureSkipVerify: false },
  };
}

/** The Authorization header for the configured credentials (API key as `ApiKey <key>`, Elastic's scheme). */
export function authHeaders(auth: ConnectionSettings['auth']): Record<string, string> {
  if (auth.apiKey) return { authorization: `ApiKey ${auth.apiKey}` };
  if (auth.bearer) return { authorization: `Bearer ${auth.bearer}` };
  if (auth.username) return { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` };
  return {};
}

export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized: boolean;
}

/**
 * Reads the TLS files once, at exporter creation (a missing file fails start-up, not every send,
 * with a SettingError naming `tls.caFile` etc.; the pipeline adds the exporter's section).
 */
export function tlsMaterial(tls: ConnectionSettings['tls']): TlsMaterial {
  return {
    ...(tls.caFile && { ca: readSettingFile('tls.caFile', tls.caFile) }),
    ...(tls.certFile && { cert: readSettingFile('tls.certFile', tls.certFile) }),
    ...(tls.keyFile && { key: readSettingFile('tls.keyFile', tls.keyFile) }),
    rejectUnauthorized: !tls.insecureSkipVerify,
  };
}

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface HttpPoster {
  post(path: string, body: Uint8Array, headers: Record<string, string>, signal: AbortSignal, gzip?: boolean): Promise<HttpAnswer>;
  /** The base URL without credentials. */
  readonly origin: string;
  close(): void;
}

/**
 * Keep-alive POSTs to one base URL with the connection settings applied. Rejects on network errors
 * and abort. A base URL that is not http(s) is a SettingError naming `urlKey` (the exporter's key for it).
 */
export function createHttpPoster(baseUrl: string, conn: ConnectionSettings, urlKey = 'endpoint'): HttpPoster {
  const url = settingUrl(urlKey, baseUrl, ['http:', 'https:']);
  const https = url.protocol === 'https:';
  const tls = https ? tlsMaterial(conn.tls) : undefined;
  const agent = https ? new HttpsAgent({ keepAlive: true, maxSockets: 4, ...tls }) : new HttpAgent({ keepAlive: true, maxSockets: 4 });
  const fixed = { ...conn.headers, ...authHeaders(conn.auth) };
  const basePath = url.pathname.replace(/\/$/, '');
  const send = https ? httpsRequest : httpRequest;
  return {
    origin: `${url.protocol}//${url.host}${basePath}`,
    post(path, body, headers, signal, gzip = false) {
      const payload = gzip ? gzipSync(body) : body;
      return new Promise((resolve, reject) => {
        const req = send(
          {
            protocol: url.protocol,
            hostname: url.hostname,
            port: url.port,
            path: `${basePath}${path}`,
            method: 'POST',
            agent,
            signal,
            headers: { ...fixed, ...headers, 'content-length': payload.length, ...(gzip && { 'content-encoding': 'gzip' }) },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(payload);
      });
    },
    close: () => agent.destroy(),
  };
}
