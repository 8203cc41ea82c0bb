// TLS for every listener from the `tls` config section (with a client CA, mutual TLS on OTLP), and
// its files read again when they change, so a renewed certificate (cert-manager, certbot) is served
// without a restart: new connections get it, open ones keep theirs.
import { type KeyObject, X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import type { ServerOptions } from 'node:https';
import { createSecureContext, type Server as TlsServer, type TLSSocket } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { throttledLog } from '../logger.ts';
import type { ConnectionLimits, TlsConfig } from '../config/security.ts';
import { SettingError } from '../config/merge.ts';
import { fileStamp, readSettingFile } from '../config/setting-values.ts';
import type { MetricSample } from './metrics.ts';
import { REFUSAL_LOG_EVERY_MS } from './connection-limits.ts';

type Identity = grpc.experimental.IdentityCertificateUpdate;
type CaUpdate = grpc.experimental.CaCertificateUpdate;

/** One reading of the files: the server's certificate and key, and the client CA when configured. */
interface TlsFiles {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
}

/** What a look at the TLS files did: new files served, nothing changed, or changed files refused (the previous ones stay). */
export type TlsReload = 'renewed' | 'unchanged' | 'failed';

export interface ListenerTls {
  /** The OTLP/HTTP server's options (with the client CA); the files as first read. Mutual TLS is enforced by follow(server, 'otlp'), which must be called. */
  http: ServerOptions;
  /** OTLP/gRPC's credentials, which follow every reload. */
  grpc: grpc.ServerCredentials;
  /** The certificate and key without the client CA (what the GraphQL listener serves). */
  server: { cert: Buffer; key: Buffer };
  /** Gives `server` every certificate read later; `otlp`: with the client CA too, and closes (logs, counts) a client whose certificate does not verify. */
  follow(server: TlsServer, kind: 'otlp' | 'graphql'): void;
  /**
   * Reads the files again now (SIGHUP) if they changed, or if the files on disk were refused at the
   * last look: `renewed` when new ones are served, `failed` when the files on disk are refused.
   */
  reload(): TlsReload;
  /** The served certificate's expiry and the reloads, for /metrics. */
  metrics(): MetricSample[];
  close(): void;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]*-----END CERTIFICATE-----/g;

/** The certificates of a PEM file, each parsed; a SettingError naming `key` when there is none or one does not parse. */
function pemCertificates(key: string, file: string, pem: Buffer): X509Certificate[] {
  const blocks = pem.toString('latin1').match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new SettingError(key, `${file} contains no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new SettingError(key, `${file}: certificate ${i + 1} of ${blocks.length} is not a valid PEM certificate: ${(err as Error).message}`);
    }
  });
}

/** The unencrypted private key of a PEM file; a SettingError naming tls.keyFile when it is not one. */
function pemPrivateKey(file: string, pem: Buffer): KeyObject {
  const text = pem.toString('latin1');
  // PKCS#8 (`ENCRYPTED PRIVATE KEY`) or traditional (`Proc-Type: 4,ENCRYPTED`): there is no passphrase setting.
  const encrypted = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,ENCRYPTED/.test(text);
  if (encrypted) throw new SettingError('tls.keyFile', `${file} is an encrypted private key; teleql needs an unencrypted one (there is no passphrase setting): openssl pkey -in ${file} -out <new file>`);
  try {
    return createPrivateKey(pem);
  } catch (err) {
    throw new SettingError('tls.keyFile', `${file} is not a PEM private key: ${(err as Error).message}`);
  }
}

/**
 * The files read and checked, each problem a SettingError naming its own key: the certificate file
 * holds certificates; the key is unencrypted and the first certificate's (its public key compared, as
 * Go's tls.X509KeyPair does: OpenSSL's own check misses a key of another algorithm, which then fails
 * every handshake); the client CA file holds at least one certificate and nothing unparseable in
 * armour (node would skip it silently and refuse every client). Start-up, a SIGHUP's check of the
 * config (src/app.ts) and every later reading go through here.
 */
export function readTlsFiles(cfg: TlsConfig): TlsFiles {
  const files: TlsFiles = { cert: readSettingFile('tls.certFile', cfg.certFile), key: readSettingFile('tls.keyFile', cfg.keyFile) };
  if (cfg.clientCaFile) files.ca = readSettingFile('tls.clientCaFile', cfg.clientCaFile);
  const [leaf] = pemCertificates('tls.certFile', cfg.certFile, files.cert);
  const key = pemPrivateKey(cfg.keyFile, files.key);
  if (!leaf!.checkPrivateKey(key)) {
    const [keyType, certType] = [key.asymmetricKeyType, leaf!.publicKey.asymmetricKeyType];
    const why = keyType === certType ? "not the certificate's key" : `an ${keyType} key for an ${certType} certificate`;
    throw new SettingError('tls.keyFile', `${cfg.keyFile} with ${cfg.certFile}: key values mismatch (${why})`);
  }
  if (files.ca) pemCertificates('tls.clientCaFile', cfg.clientCaFile, files.ca);
  try {
    createSecureContext({ cert: files.cert, key: files.key, ...(files.ca && { ca: files.ca }) });
  } catch (err) {
    throw new SettingError('tls.keyFile', `${cfg.keyFile} with ${cfg.certFile}: ${(err as Error).message}`);
  }
  return files;
}

/**
 * https.createServer's handshakeTimeout from limits.connections: a client that never finishes its
 * TLS handshake is closed when one that never finishes its headers would be (node's default holds it 120 s).
 */
export function tlsHandshakeOptions(limits: ConnectionLimits): { handshakeTimeout?: number } {
  const timeouts = [limits.httpHeadersTimeoutMs, limits.httpRequestTimeoutMs].filter((t) => t > 0);
  return timeouts.length ? { handshakeTimeout: Math.min(...timeouts) } : {};
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
 * that cannot be read or does not hold what it should (readFiles), or a key that is not the
 * certificate's, is a ConfigError naming its key (tls.certFile…), the path and why. Every `tls.reloadIntervalMs` their size, inode and mtime are
 * looked at; when one changed, all are read again and, if they make a valid pair, served to new
 * connections on every listener. A pair that does not (a renewal caught halfway: the certificate
 * written, not yet the key) is logged and the previous one kept, to be tried again once a file changes
 * again or at a SIGHUP (which reports it as failed again, never as unchanged).
 */
export function listenerTls(cfg: TlsConfig, logger: Logger): ListenerTls | undefined {
  if (!cfg.certFile) return undefined;
  const paths = [cfg.certFile, cfg.keyFile, ...(cfg.clientCaFile ? [cfg.clientCaFile] : [])];
  let stamps = paths.map(fileStamp).join('|');
  let files = readTlsFiles(cfg);
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

  // Mutual TLS on OTLP/HTTP is enforced here rather than by node (rejectUnauthorized), which closes a
  // refused client's socket without an event: the operator would never learn why a collector cannot deliver.
  const refusedClientCerts = new Map<string, number>();
  const warnRefused = throttledLog(REFUSAL_LOG_EVERY_MS);
  const refuseUnverifiedClient = (socket: TLSSocket) => {
    const peer = socket.getPeerCertificate() ?? {};
    const certified = Object.keys(peer).length > 0;
    // A certificate is required as well: node calls a resumed TLS 1.3 session without one authorized.
    if (socket.authorized && certified) return;
    socket.destroy(); // before node's HTTP listener reads a byte (prepended)
    const reason = certified ? String(socket.authorizationError) : 'NO_CLIENT_CERTIFICATE';
    refusedClientCerts.set(reason, (refusedClientCerts.get(reason) ?? 0) + 1);
    // A warning: a collector that cannot deliver needs the operator. At most one per interval, the count in each (a scanner cannot flood the log).
    warnRefused((n) =>
      logger.warn({ address: socket.remoteAddress, reason, subject: peer.subject?.CN, issuer: peer.issuer?.CN, refusedSinceLastWarning: n }, 'client certificate refused (mutual TLS, tls.clientCaFile)'),
    );
  };

  const fingerprint = (cert: Buffer) => createHash('sha256').update(cert).digest('hex').slice(0, 16);
  // Whether the files on disk (as of `stamps`) were refused: the timer waits for them to change
  // again, a SIGHUP reads them again, and neither reports them as unchanged.
  let refused = false;
  /** Reads the files if they changed (`again`: or if they were refused); what it did. */
  const reload = (again: boolean): TlsReload => {
    const now = paths.map(fileStamp).join('|');
    if (now === stamps && !(again && refused)) return refused ? 'failed' : 'unchanged';
    let next: TlsFiles;
    stamps = now;
    try {
      next = readTlsFiles(cfg);
    } catch (err) {
      reloads.failed++;
      refused = true;
      logger.warn({ err: (err as Error).message }, 'TLS files changed but cannot be served; the previous certificate stays');
      return 'failed';
    }
    refused = false;
    if (next.cert.equals(files.cert) && next.key.equals(files.key) && Boolean(next.ca) === Boolean(files.ca) && (!next.ca || next.ca.equals(files.ca!))) return 'unchanged';
    const caOnly = next.cert.equals(files.cert) && next.key.equals(files.key);
    files = next;
    for (const { server, kind } of followers) server.setSecureContext({ cert: files.cert, key: files.key, ...(kind === 'otlp' && files.ca && { ca: files.ca }) });
    for (const l of identityListeners) l(identity());
    for (const l of caListeners) l(caUpdate());
    reloads.ok++;
    logger.info({ certificate: fingerprint(files.cert), notAfter: new Date(notAfter(files.cert) * 1000).toISOString() }, caOnly ? 'TLS client CA reloaded' : 'TLS certificate reloaded');
    return 'renewed';
  };
  const timer = cfg.reloadIntervalMs > 0 ? setInterval(() => reload(false), cfg.reloadIntervalMs).unref() : undefined;

  return {
    // rejectUnauthorized false: refuseUnverifiedClient closes the socket once the handshake is done, and says why.
    http: { cert: files.cert, key: files.key, ...(files.ca && { ca: files.ca, requestCert: true, rejectUnauthorized: false }) },
    grpc: credentials,
    server: { cert: files.cert, key: files.key },
    reload: () => reload(true),
    follow(server, kind) {
      const follower = { server, kind };
      followers.push(follower);
      if (kind === 'otlp' && cfg.clientCaFile) server.prependListener('secureConnection', refuseUnverifiedClient);
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
      { name: 'teleql_tls_files_refused', help: 'TLS files on disk that were read and refused, the previous certificate still served (1; alert on it), else 0', type: 'gauge' as const, value: refused ? 1 : 0, labels: {} },
      ...[...refusedClientCerts].map(([reason, value]) => ({
        name: 'teleql_tls_client_certificates_refused_total',
        help: "OTLP/HTTP connections closed by mutual TLS (tls.clientCaFile), by OpenSSL's reason (OTLP/gRPC's are refused inside grpc-js, not counted)",
        type: 'counter' as const,
        value,
        labels: { reason },
      })),
    ],
    close: () => clearInterval(timer),
  };
}
