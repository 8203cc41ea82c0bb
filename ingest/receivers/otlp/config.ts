// Configuration of the `otlp` receiver. Defaults follow the Collector's otlpreceiver: loopback only.
export interface OtlpReceiverConfig {
  grpc: { enabled: boolean; host: string; port: number };
  http: { enabled: boolean; host: string; port: number; cors: CorsConfig };
  /** Largest request body accepted, after decompression, on both transports. */
  maxRequestBytes: number;
  /**
   * Most spans, log records or metric data points one request may hold; more is refused (413 /
   * RESOURCE_EXHAUSTED) before it is decoded. With maxRequestMessages it bounds what a request costs
   * in memory while decoded, whatever its size in bytes (src/otlp/request-count.ts).
   */
  maxRequestItems: number;
  /** Most protobuf messages (JSON objects and arrays) at any depth one request may hold: records, attributes, values, events, links, data points. */
  maxRequestMessages: number;
  /** Header (HTTP) or metadata key (gRPC) naming the tenant; absent means "default". */
  tenantHeader: string;
}

/** As the Collector's confighttp `cors`: browsers may send OTLP/HTTP from these origins. */
export interface CorsConfig {
  /** Origins, `*` matching any run of characters (`https://*.example.com`); empty: no CORS. */
  allowedOrigins: string[];
  /** Request headers allowed beyond those an OTLP exporter sends (see http.ts); `*`: any. */
  allowedHeaders: string[];
  /** Seconds a browser may cache a preflight's answer. */
  maxAge: number;
}

export const DEFAULT_MAX_REQUEST_BYTES = 16 * 1024 * 1024;
export const DEFAULT_MAX_REQUEST_ITEMS = 100_000;
export const DEFAULT_MAX_REQUEST_MESSAGES = 2_000_000;

export function defaultOtlpReceiverConfig(): OtlpReceiverConfig {
  return {
    grpc: { enabled: true, host: '127.0.0.1', port: 4317 },
    http: { enabled: true, host: '127.0.0.1', port: 4318, cors: { allowedOrigins: [], allowedHeaders: [], maxAge: 7200 } },
    maxRequestBytes: DEFAULT_MAX_REQUEST_BYTES,
    maxRequestItems: DEFAULT_MAX_REQUEST_ITEMS,
    maxRequestMessages: DEFAULT_MAX_REQUEST_MESSAGES,
    tenantHeader: 'x-scope-orgid',
  };
}

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

/** Refuses a config the receiver cannot run with; messages name the key and the value. */
export function checkOtlpReceiverConfig(config: OtlpReceiverConfig): void {
  const problems: string[] = [];
  if (!Number.isSafeInteger(config.maxRequestBytes) || config.maxRequestBytes <= 0) {
    problems.push(`maxRequestBytes: expected an integer greater than 0 (actual: ${JSON.stringify(config.maxRequestBytes)})`);
  }
  for (const key of ['maxRequestItems', 'maxRequestMessages'] as const) {
    if (!Number.isSafeInteger(config[key]) || config[key] <= 0) problems.push(`${key}: expected an integer greater than 0 (actual: ${JSON.stringify(config[key])})`);
  }
  if (!HEADER_NAME.test(config.tenantHeader)) {
    problems.push(`tenantHeader: expected an HTTP header name (actual: ${JSON.stringify(config.tenantHeader)})`);
  }
  for (const t of ['grpc', 'http'] as const) {
    const port = config[t].port;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      problems.push(`${t}.port: expected 0..65535 (actual: ${JSON.stringify(port)})`);
    }
  }
  const cors = config.http.cors;
  for (const key of ['allowedOrigins', 'allowedHeaders'] as const) {
    if (!Array.isArray(cors[key]) || !cors[key].every((v) => typeof v === 'string' && v !== '')) {
      problems.push(`http.cors.${key}: expected a list of non-empty strings (actual: ${JSON.stringify(cors[key])})`);
    }
  }
  for (const h of cors.allowedHeaders) {
    if (h !== '*' && !HEADER_NAME.test(h)) problems.push(`http.cors.allowedHeaders: expected header names or "*" (actual: ${JSON.stringify(h)})`);
  }
  if (!Number.isSafeInteger(cors.maxAge) || cors.maxAge < 0) {
    problems.push(`http.cors.maxAge: expected whole seconds, 0 or more (actual: ${JSON.stringify(cors.maxAge)})`);
  }
  if (problems.length > 0) throw new Error(`invalid otlp receiver config: ${problems.join('; ')}`);
}
