// Configuration of the `otlp` receiver. Defaults follow the Collector's otlpreceiver: loopback only.
export interface OtlpReceiverConfig {
  grpc: { enabled: boolean; host: string; port: number };
  http: { enabled: boolean; host: string; port: number; cors?: { allowedOrigins: string[] } };
  /** Largest request body accepted, after decompression, on both transports. */
  maxRequestBytes: number;
  /** Header (HTTP) or metadata key (gRPC) naming the tenant; absent means "default". */
  tenantHeader: string;
}

export const DEFAULT_MAX_REQUEST_BYTES = 16 * 1024 * 1024;

export function defaultOtlpReceiverConfig(): OtlpReceiverConfig {
  return {
    grpc: { enabled: true, host: '127.0.0.1', port: 4317 },
    http: { enabled: true, host: '127.0.0.1', port: 4318 },
    maxRequestBytes: DEFAULT_MAX_REQUEST_BYTES,
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
  if (!HEADER_NAME.test(config.tenantHeader)) {
    problems.push(`tenantHeader: expected an HTTP header name (actual: ${JSON.stringify(config.tenantHeader)})`);
  }
  for (const t of ['grpc', 'http'] as const) {
    const port = config[t].port;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      problems.push(`${t}.port: expected 0..65535 (actual: ${JSON.stringify(port)})`);
    }
  }
  if (problems.length > 0) throw new Error(`invalid otlp receiver config: ${problems.join('; ')}`);
}
