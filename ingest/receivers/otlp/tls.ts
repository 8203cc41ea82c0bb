// TLS for both OTLP transports from the `tls` config section; with a client CA, mutual TLS.
import type { ServerOptions } from 'node:https';
import * as grpc from '@grpc/grpc-js';
import type { TlsConfig } from '../../../src/config/security.ts';
import { readSettingFile } from '../../../src/config/setting-values.ts';

export interface ReceiverTls {
  http: ServerOptions;
  grpc: grpc.ServerCredentials;
  /** The server's own certificate and key, without the client CA (what the GraphQL listener serves). */
  server: { cert: Buffer; key: Buffer };
}

/**
 * Undefined when no certificate is configured (plain listeners). Reads the files once, at start-up:
 * one that cannot be read is a ConfigError naming its key (tls.certFile…), the path and why.
 */
export function receiverTls(cfg: TlsConfig): ReceiverTls | undefined {
  if (!cfg.certFile) return undefined;
  const cert = readSettingFile('tls.certFile', cfg.certFile);
  const key = readSettingFile('tls.keyFile', cfg.keyFile);
  const ca = cfg.clientCaFile ? readSettingFile('tls.clientCaFile', cfg.clientCaFile) : undefined;
  return {
    server: { cert, key },
    http: { cert, key, ...(ca && { ca, requestCert: true, rejectUnauthorized: cfg.requireClientCert }) },
    grpc: grpc.ServerCredentials.createSsl(ca ?? null, [{ cert_chain: cert, private_key: key }], Boolean(ca) && cfg.requireClientCert),
  };
}
