// TLS for both OTLP transports from the `tls` config section; with a client CA, mutual TLS.
import { readFileSync } from 'node:fs';
import type { ServerOptions } from 'node:https';
import * as grpc from '@grpc/grpc-js';
import type { TlsConfig } from '../../../src/config/security.ts';

export interface ReceiverTls {
  http: ServerOptions;
  grpc: grpc.ServerCredentials;
}

/** Undefined when no certificate is configured (plain listeners). Reads the files once, at start-up. */
export function receiverTls(cfg: TlsConfig): ReceiverTls | undefined {
  if (!cfg.certFile) return undefined;
  const cert = readFileSync(cfg.certFile);
  const key = readFileSync(cfg.keyFile);
  const ca = cfg.clientCaFile ? readFileSync(cfg.clientCaFile) : undefined;
  return {
    http: { cert, key, ...(ca && { ca, requestCert: true, rejectUnauthorized: cfg.requireClientCert }) },
    grpc: grpc.ServerCredentials.createSsl(ca ?? null, [{ cert_chain: cert, private_key: key }], Boolean(ca) && cfg.requireClientCert),
  };
}
