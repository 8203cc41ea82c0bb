// TLS for every listener from the `tls` config section (with a client CA, mutual TLS on OTLP), and
// its files read again when they change, so a renewed certificate (cert-manager, certbot) is served
// without a restart: new connections get it, open ones keep theirs.
import { X509Certificate, createHash } from 'node:crypto';
import type { ServerOptions } from 'node:https';
import { createSecureContext, type Server as TlsServer } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { TlsConfig } from '../config/security.ts';
import { SettingError } from '../config/merge.ts';
import { fileStamp, readSettingFile } from '../config/setting-values.ts';
import type { MetricSample } from './metrics.ts';

type Identity = grpc.experimental.IdentityCertificateUpdate;
type CaUpdate = grpc.experimental.CaCertificateUpdate;

/** One reading of the files: the server's certificate and key, and the client CA when configured. */
interface TlsFiles {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
}

export interface ListenerTls {
  /** The OTLP/HTTP server's options (with the client CA); the files as first read. */
  http: ServerOptions;
  /** OTLP/gRPC's credentials, which follow every reload. */
  grpc: grpc.ServerCredentials;
  /** The certificate and key without the client CA (what the GraphQL listener serves). */
  server: { cert: Buffer; key: Buffer };
  /** Gives `server` every certificate read later; `otlp`: with the client CA too. */
  follow(server: TlsServer, kind: 'otlp' | 'graphql'): void;
  /** Reads the files again now if they changed (SIGHUP); true when a new certificate is served. */
  reload(): boolean;
  /** The served certificate's expiry and the reloads, for /metrics. */
  metrics(): MetricSample[];
  close(): void;
}

/** The files read and checked: the key must be the certificate's (a mismatch is a SettingError naming tls.keyFile). */
function readFiles(cfg: TlsConfig): TlsFiles {
  const files: TlsFiles = { cert: readSettingFile('tls.certFile', cfg.certFile), key: readSettingFile('tls.keyFile', cfg.keyFile) };
  if (cfg.clientCaFile) files.ca = readSettingFile('tls.clientCaFile', cfg.clientCaFile);
  try {
    createSecureContext({ cert: files.cert, key: files.key, ...(files.ca && { ca: files.ca }) });
  } catch (err) {
    throw new SettingError('tls.keyFile', `${cfg.keyFile} with ${cfg.certFile}: ${(err as Error).message}`);
  }
  return files;
}

/** The leaf certificate's expiry, in Unix seconds (NaN when it does not parse). */
const notAfter = (cert: Buffer) => {
  try {
    return Math.floor(Date.parse(new X509Certificate(cert).validTo) / 1000);
  } catch {
    return Number.NaN;
  }
};

/**
 * Undefined when no certificate is configured (plain listeners). The files are read at start-up: one
 * that cannot be read, or a key that is not the certificate's, is a ConfigError naming its key
 * (tls.certFile…), the path and why. Every `tls.reloadIntervalMs` their size, inode and mtime are
 * looked at; when one changed, all are read again and, if they make a valid pair, served to new
 * connections on every listener. A pair that does not (a renewal caught halfway: the certificate
 * written, not yet the key) is logged and the previous one kept, to be tried again at the next look.
 */
export function listenerTls(cfg: TlsConfig, logger: Logger): ListenerTls | undefined {
  if (!cfg.certFile) return undefined;
  const paths = [cfg.certFile, cfg.keyFile, ...(cfg.clientCaFile ? [cfg.clientCaFile] : [])];
  let stamps = paths.map(fileStamp).join('|');
  let files = readFiles(cfg);
  const reloads = { ok: 0, failed: 0 };
  const followers: { server: TlsServer; kind: 'otlp' | 'graphql' }[] = [];

  // grpc-js's certificate-provider credentials: it is called back with our identity and CA once a
  // server starts watching, and again on each reload. Not from inside add…Listener: grpc-js adds
  // its server's watcher after that call returns, and an answer given before would reach no server.
  const identityListeners = new Set<(u: Identity | null) => void>();
  const caListeners = new Set<(u: CaUpdate | null) => void>();
  const identity = () => ({ certificate: files.cert, privateKey: files.key });
  const caUpdate = () => (files.ca ? { caCertificate: files.ca } : null);
  const provider: grpc.experimental.CertificateProvider = {
    addIdentityCertificateListener(l) {
      identityListeners.add(l);
      queueMicrotask(() => identityListeners.has(l) && l(identity()));
    },
    removeIdentityCertificateListener: (l) => identityListeners.delete(l),
    addCaCertificateListener(l) {
      caListeners.add(l);
      queueMicrotask(() => caListeners.has(l) && l(caUpdate()));
    },
    removeCaCertificateListener: (l) => caListeners.delete(l),
  };
  // (grpc-js 1.14 reads its first argument as the identity provider, whatever its declaration names it.)
  const credentials = grpc.experimental.createCertificateProviderServerCredentials(provider, cfg.clientCaFile ? provider : null, Boolean(cfg.clientCaFile) && cfg.requireClientCert);

  const fingerprint = (cert: Buffer) => createHash('sha256').update(cert).digest('hex').slice(0, 16);
  /** Reads the files again if they changed; true when a new certificate is served. */
  const reload = (): boolean => {
    const now = paths.map(fileStamp).join('|');
    if (now === stamps) return false;
    let next: TlsFiles;
    try {
      next = readFiles(cfg);
    } catch (err) {
      reloads.failed++;
      stamps = now; // tried again once a file changes again
      logger.warn({ err: (err as Error).message }, 'TLS files changed but cannot be served; the previous certificate stays');
      return false;
    }
    stamps = now;
    if (next.cert.equals(files.cert) && next.key.equals(files.key) && Boolean(next.ca) === Boolean(files.ca) && (!next.ca || next.ca.equals(files.ca!))) return false;
    files = next;
    for (const { server, kind } of followers) server.setSecureContext({ cert: files.cert, key: files.key, ...(kind === 'otlp' && files.ca && { ca: files.ca }) });
    for (const l of identityListeners) l(identity());
    for (const l of caListeners) l(caUpdate());
    reloads.ok++;
    logger.info({ certificate: fingerprint(files.cert), notAfter: new Date(notAfter(files.cert) * 1000).toISOString() }, 'TLS certificate reloaded');
    return true;
  };
  const timer = cfg.reloadIntervalMs > 0 ? setInterval(reload, cfg.reloadIntervalMs).unref() : undefined;

  return {
    http: { cert: files.cert, key: files.key, ...(files.ca && { ca: files.ca, requestCert: true, rejectUnauthorized: cfg.requireClientCert }) },
    grpc: credentials,
    server: { cert: files.cert, key: files.key },
    reload,
    follow(server, kind) {
      const follower = { server, kind };
      followers.push(follower);
      server.once('close', () => followers.splice(followers.indexOf(follower) >>> 0, 1));
    },
    metrics: () => [
      { name: 'teleql_tls_certificate_not_after_seconds', help: "When the served TLS certificate expires (Unix seconds): alert on it nearing", type: 'gauge' as const, value: notAfter(files.cert), labels: {} },
      ...(['ok', 'failed'] as const).map((result) => ({
        name: 'teleql_tls_reloads_total',
        help: 'TLS files read again after they changed (tls.reloadIntervalMs): served (ok), or not a valid pair and the previous one kept (failed)',
        type: 'counter' as const,
        value: reloads[result],
        labels: { result },
      })),
    ],
    close: () => clearInterval(timer),
  };
}
