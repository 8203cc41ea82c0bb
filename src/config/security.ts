// The `auth`, `limits` and `tls` config sections: types, defaults and checks, kept here so the
// shared config files only gain one field each.
import type { ConfigProblems } from './merge.ts';
import { SCOPES } from '../auth/types.ts';
import { isValidTenant } from '../tenant.ts';

export interface ApiKeyConfig {
  /** A name for logs (never the key itself). */
  name: string;
  /** `sha256:<hex>` or `scrypt:<salt base64>:<hash base64>` of the key; the key itself is never in the config. */
  hash: string;
  tenant: string;
  scopes: string[];
}

export interface AuthConfig {
  /** `none`: no credentials, tenant from X-Scope-OrgID (loopback only, warned about otherwise). */
  mode: 'none' | 'apiKey' | 'jwt' | 'apiKey+jwt';
  /** Header carrying an API key; `Authorization: Bearer <key>` also works (and with this set to Authorization, the bare key or `ApiKey <key>`). */
  apiKeyHeader: string;
  apiKeys: ApiKeyConfig[];
  jwt: {
    /** HMAC shared secret (HS256/384/512), or… */
    secret: string;
    /** …a JWKS JSON file with the public keys (RS*, ES*, EdDSA). */
    jwksFile: string;
    issuer: string;
    audience: string;
    /** Claim holding the tenant ID (a dotted path for nested claims). */
    tenantClaim: string;
    /** Claim holding the scopes: a space-separated string or a list. */
    scopesClaim: string;
    /** Clock skew allowed when checking exp and nbf (default 30). */
    clockToleranceSeconds: number;
  };
  /**
   * Who may read /metrics when auth is on: `metrics` (a credential with the metrics scope: the
   * operator's, since the figures sum every tenant's), `admin` (any credential with the admin scope:
   * then every tenant admin sees all tenants' volumes) or `open`.
   */
  metrics: 'metrics' | 'admin' | 'open';
  /**
   * Who may ask /healthz and /readyz when auth is on: `open` (anyone: kubelet probes send no
   * credential; a caller without a valid one gets /readyz's status without its reason) or
   * `authenticated` (any valid credential, no scope needed; else 401).
   */
  health: 'open' | 'authenticated';
}

export interface LimitsConfig {
  graphql: {
    maxDepth: number;
    maxAliases: number;
    maxTokens: number;
    /** Cost = sum over fields of the product of the list sizes (`first`/`limit`) above them. */
    maxCost: number;
    /** List size assumed for a list field without `first`/`limit`. */
    defaultListSize: number;
    /**
     * Spans one request's Trace.spans fields return together (the rest left out and noted): a
     * trace's size is not known when the cost is computed (resolvers/traces.ts).
     */
    maxTraceSpans: number;
    maxQueryBytes: number;
    /**
     * Size of a GraphQL HTTP request body (query, variables, extensions), before or after
     * gzip/deflate; also of one message on an admitted graphql-ws connection (before admission a
     * connection may send at most node's HTTP header limit, 16 KiB, in all: src/server/ws-admission.ts).
     */
    maxBodyBytes: number;
    /** Per tenant, operations per second (0 = unlimited). */
    requestsPerSecond: number;
    /** Per tenant, query cost (as for maxCost) per second; a costlier query is owed over the next seconds (0 = unlimited). */
    costPerSecond: number;
    /**
     * Per tenant, GraphQL queries and mutations running at once, over HTTP and graphql-ws together;
     * more get 429 / GW_RATE_LIMITED (0 = unlimited). Keeps one tenant's slow queries from holding
     * every DuckDB read lane. Subscriptions (SSE or graphql-ws) do not count: the tail.* caps bound them.
     */
    concurrentPerTenant: number;
    /** Deadline of one GraphQL request; running DuckDB queries are interrupted when it passes (0 = none). */
    timeoutMs: number;
    /** Automatic persisted queries (Apollo protocol): entries per tenant (each tenant its own LRU, 8 MiB of text at most); 0 = off. */
    persistedQueries: number;
    /**
     * Query text, in bytes, whose parsed documents are kept for reuse (all tenants); parse errors get
     * an eighth of it, graphql-jit's compiled forms of them a tenth for queries and a tenth for subscriptions (compiledDocumentChars); 0 =
     * nothing kept. A parsed document takes ~20-60 times its text in memory, a compiled one ~300.
     */
    documentCacheBytes: number;
    /**
     * Per tenant, milliseconds of DuckDB read time per second (0 = unlimited): each GraphQL request's
     * statements are timed and charged when it is done; a tenant that used its share (or owes
     * time from a longer request) gets 429 before its next request is parsed, so its queries cannot
     * keep DuckDB's threads busy while other tenants' wait.
     */
    duckdbMsPerSecond: number;
  };
  ingest: {
    /** Per tenant, spans + log records + data points per second (0 = unlimited). */
    itemsPerSecond: number;
    /** Per tenant, request bytes (after decompression) per second (0 = unlimited). */
    bytesPerSecond: number;
    /**
     * OTLP/HTTP: a tenant refused (429) more than this many times within one Retry-After window gets
     * its next 429s with `Connection: close` and its bodies left unread, instead of each body being
     * read and discarded (0 = always drain). Clients that honour Retry-After never get there.
     */
    closeAfterRefusals: number;
  };
  /** When idle or slow connections are closed, on every listener (0 = never), and how many a listener holds at once. */
  connections: ConnectionLimits;
  /** The tarpit: a tenant that keeps sending after its 429s gets its further refusals late (src/limits/refusal-delay.ts). */
  refusalDelay: RefusalDelayConfig;
}

export interface RefusalDelayConfig {
  /**
   * Rate-limit refusals of a tenant within one Retry-After window answered at once (per surface:
   * OTLP ingest, GraphQL); later ones are held unanswered and unread until the window ends (0 = never hold).
   */
  afterRefusals: number;
  /** The longest a refusal is held (0 = off). */
  maxMs: number;
  /** Refusals held at once, all tenants together; beyond, answered at once. */
  maxHeld: number;
  /** Refusals of one tenant held at once; beyond, answered at once. */
  maxHeldPerTenant: number;
}

export interface ConnectionLimits {
  /** HTTP (OTLP and GraphQL): an idle kept-alive connection is closed after this long. */
  httpKeepAliveTimeoutMs: number;
  /** HTTP: the request headers must arrive within this long of the connection or previous request (408). */
  httpHeadersTimeoutMs: number;
  /** HTTP: the whole request (headers and body) must arrive within this long (408). */
  httpRequestTimeoutMs: number;
  /** graphql-ws: a connection with no operation running and no message for this long is closed (4000). */
  wsIdleTimeoutMs: number;
  /** graphql-ws: a WebSocket ping is sent this often; a connection that did not answer the previous one is cut. */
  wsPingIntervalMs: number;
  /**
   * GraphQL over SSE: a stream whose client has taken nothing of what was written for this long (its
   * write buffer full the whole time) is cut, giving back its tail's slot; SSE has no ping to answer.
   * Long by default: the kernel's buffers (megabytes) hide a slow reader's progress for as long as
   * they take to drain at its pace (a reader at 8 KB/s of a busy tail was cut at 60 s; soak QA,
   * session 31); EventSource and graphql-sse clients reconnect after a cut.
   */
  sseStalledMs: number;
  /** OTLP/gRPC: a connection with no call for this long gets GOAWAY (grpc.max_connection_idle_ms). */
  grpcMaxIdleMs: number;
  /** OTLP/gRPC: the server pings a connection this often (grpc.keepalive_time_ms)… */
  grpcKeepaliveTimeMs: number;
  /** …and closes it when the ping is not answered within this long (grpc.keepalive_timeout_ms). */
  grpcKeepaliveTimeoutMs: number;
  /** Each listener (OTLP/gRPC, OTLP/HTTP, GraphQL) on its own: connections open at once; more are refused (0 = no cap). */
  maxPerListener: number;
  /** The same from one client address, authenticated or not, so one client cannot take every slot (0 = no cap). */
  maxPerAddress: number;
  /**
   * IPv6 clients are counted for maxPerAddress by this many leading bits of their address (64: one
   * network, since a host on a /64 can use any of its 2^64 addresses; 128: each address alone).
   */
  ipv6PrefixLength: number;
}

export function defaultConnectionLimits(): ConnectionLimits {
  return {
    httpKeepAliveTimeoutMs: 5_000,
    httpHeadersTimeoutMs: 20_000,
    httpRequestTimeoutMs: 120_000,
    wsIdleTimeoutMs: 300_000,
    wsPingIntervalMs: 30_000,
    sseStalledMs: 600_000,
    grpcMaxIdleMs: 300_000,
    grpcKeepaliveTimeMs: 120_000,
    grpcKeepaliveTimeoutMs: 20_000,
    maxPerListener: 10_000,
    maxPerAddress: 2_000,
    ipv6PrefixLength: 64,
  };
}

export interface TlsConfig {
  /** PEM files; both set = every listener (GraphQL, OTLP gRPC and HTTP) serves TLS only. */
  certFile: string;
  keyFile: string;
  /** CA bundle for client certificates on the OTLP listeners (mutual TLS); needs requireClientCert. */
  clientCaFile: string;
  /** With clientCaFile (both or neither): refuse OTLP clients without a certificate signed by it. */
  requireClientCert: boolean;
  /** How often the files are looked at for a change (renewed certificates are served without a restart); 0 = read once. */
  reloadIntervalMs: number;
}

export function defaultAuthConfig(): AuthConfig {
  return {
    mode: 'none',
    apiKeyHeader: 'x-api-key',
    apiKeys: [],
    jwt: { secret: '', jwksFile: '', issuer: '', audience: '', tenantClaim: 'tenant', scopesClaim: 'scope', clockToleranceSeconds: 30 },
    metrics: 'metrics',
    health: 'open',
  };
}

export function defaultLimitsConfig(): LimitsConfig {
  return {
    graphql: {
      maxDepth: 12,
      maxAliases: 15,
      maxTokens: 2000,
      maxCost: 200_000,
      defaultListSize: 100,
      maxTraceSpans: 10_000,
      maxQueryBytes: 64 * 1024,
      maxBodyBytes: 16 * 1024 * 1024,
      requestsPerSecond: 0,
      costPerSecond: 0,
      concurrentPerTenant: 0,
      timeoutMs: 30_000,
      persistedQueries: 1000,
      documentCacheBytes: 1024 * 1024,
      duckdbMsPerSecond: 0,
    },
    ingest: { itemsPerSecond: 0, bytesPerSecond: 0, closeAfterRefusals: 32 },
    connections: defaultConnectionLimits(),
    refusalDelay: { afterRefusals: 32, maxMs: 5_000, maxHeld: 1_000, maxHeldPerTenant: 64 },
  };
}

export function defaultTlsConfig(): TlsConfig {
  return { certFile: '', keyFile: '', clientCaFile: '', requireClientCert: false, reloadIntervalMs: 60_000 };
}

/** limits.refusalDelay.maxMs at most: a longer hold outlasts most clients' request timeouts (the OTel exporters' is 10 s). */
const MAX_REFUSAL_DELAY_MS = 60_000;
/** The longest delay a node timer takes (2^31 − 1 ms); a longer one fires after 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const MODES = ['none', 'apiKey', 'jwt', 'apiKey+jwt'];
/** What hashApiKey writes (src/auth/api-keys.ts). */
export const SCRYPT_HASH_BYTES = 32;
const SCRYPT_MIN_SALT_BYTES = 16;
const HASH = /^(sha256:[0-9a-f]{64}|scrypt:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+)$/;

export function validateSecurityConfig(cfg: { auth: AuthConfig; limits: LimitsConfig; tls: TlsConfig }, problems: ConfigProblems): void {
  const { auth, limits, tls } = cfg;
  if (!MODES.includes(auth.mode)) problems.add(`auth.mode: expected one of ${MODES.join('|')} (actual: '${auth.mode}')`);
  auth.apiKeys.forEach((k, i) => {
    const at = `auth.apiKeys[${i}]`;
    if (typeof k !== 'object' || k === null) return problems.add(`${at}: expected a mapping with name, hash, tenant, scopes`);
    for (const key of Object.keys(k)) {
      if (!['name', 'hash', 'tenant', 'scopes'].includes(key)) return problems.add(`${at}: unknown key "${key}" (known keys: name, hash, tenant, scopes)`);
    }
    if (typeof k.hash !== 'string' || !HASH.test(k.hash)) {
      return problems.add(`${at}.hash: expected sha256:<64 hex> or scrypt:<salt base64>:<hash base64> (actual: ${JSON.stringify(k.hash)})`);
    }
    if (k.hash.startsWith('scrypt:')) {
      // A short hash would be compared as short: a 0-byte one matched every key.
      const [, salt, hash] = k.hash.split(':') as [string, string, string];
      const [saltBytes, hashBytes] = [Buffer.from(salt, 'base64').length, Buffer.from(hash, 'base64').length];
      if (saltBytes < SCRYPT_MIN_SALT_BYTES || hashBytes !== SCRYPT_HASH_BYTES) {
        return problems.add(
          `${at}.hash: a scrypt hash needs a salt of at least ${SCRYPT_MIN_SALT_BYTES} bytes and a hash of ${SCRYPT_HASH_BYTES} bytes, as hashApiKey writes (actual: ${saltBytes} and ${hashBytes})`,
        );
      }
    }
    if (typeof k.tenant !== 'string' || !isValidTenant(k.tenant)) return problems.add(`${at}.tenant: not a valid tenant ID (actual: ${JSON.stringify(k.tenant)})`);
    if (!Array.isArray(k.scopes) || k.scopes.length === 0 || k.scopes.some((s) => !(SCOPES as readonly string[]).includes(s))) {
      return problems.add(`${at}.scopes: expected a non-empty list of ${SCOPES.join('|')} (actual: ${JSON.stringify(k.scopes)})`);
    }
  });
  // One hash listed twice is one key with two tenants or scope sets, and the first entry silently
  // won: refused as ambiguous. (Two scrypt hashes of one key differ by salt and cannot be seen.)
  const firstAt = new Map<string, number>();
  auth.apiKeys.forEach((k, i) => {
    if (typeof k?.hash !== 'string') return;
    const first = firstAt.get(k.hash);
    if (first === undefined) return void firstAt.set(k.hash, i);
    problems.add(
      `auth.apiKeys[${i}].hash: the same hash as auth.apiKeys[${first}] (${JSON.stringify(auth.apiKeys[first]!.name)} and ${JSON.stringify(k.name)}): ` +
        'one key cannot name two tenants or scope sets; give each entry its own key, or merge their scopes into one entry',
    );
  });
  if (auth.mode.includes('apiKey') && auth.apiKeys.length === 0) problems.add(`auth.apiKeys: auth.mode is '${auth.mode}' but no key is configured`);
  if (auth.mode.includes('jwt') && !auth.jwt.secret && !auth.jwt.jwksFile) {
    problems.add(`auth.jwt: auth.mode is '${auth.mode}': set jwt.secret or jwt.jwksFile`);
  }
  // The verifier takes one source of keys; with both, HS* tokens were refused as if the secret were unset.
  if (auth.jwt.secret && auth.jwt.jwksFile) {
    problems.add('auth.jwt: set jwt.secret (HS256/384/512 tokens) or jwt.jwksFile (RS*, PS*, ES*, EdDSA tokens), not both (TELEQL_JWT_SECRET, TELEQL_JWKS_FILE)');
  }
  if (auth.jwt.secret && auth.jwt.secret.length < 32) problems.add('auth.jwt.secret: use at least 32 characters');
  if (!['open', 'authenticated'].includes(auth.health)) problems.add(`auth.health: expected open|authenticated (actual: '${auth.health}')`);
  if (!['metrics', 'admin', 'open'].includes(auth.metrics)) problems.add(`auth.metrics: expected metrics|admin|open (actual: '${auth.metrics}')`);
  for (const [section, values] of Object.entries(limits) as [string, Record<string, number>][]) {
    for (const [key, v] of Object.entries(values)) {
      if (!Number.isInteger(v) || v < 0) problems.add(`limits.${section}.${key}: expected an integer of 0 or more (actual: ${v})`);
    }
  }
  for (const key of ['maxDepth', 'maxAliases', 'maxTokens', 'maxCost', 'defaultListSize', 'maxTraceSpans', 'maxQueryBytes', 'maxBodyBytes'] as const) {
    // Negatives and fractions were named above.
    if (limits.graphql[key] === 0) problems.add(`limits.graphql.${key}: expected an integer greater than 0 (actual: ${limits.graphql[key]})`);
  }
  if (limits.connections.ipv6PrefixLength < 1 || limits.connections.ipv6PrefixLength > 128) {
    problems.add(`limits.connections.ipv6PrefixLength: expected 1 to 128 bits (64: one IPv6 network per client; actual: ${limits.connections.ipv6PrefixLength})`);
  }
  if (limits.refusalDelay.maxMs > MAX_REFUSAL_DELAY_MS) {
    problems.add(`limits.refusalDelay.maxMs: expected at most ${MAX_REFUSAL_DELAY_MS} (longer holds run into clients' own timeouts; actual: ${limits.refusalDelay.maxMs})`);
  }
  if (Boolean(tls.certFile) !== Boolean(tls.keyFile)) problems.add('tls: set both certFile and keyFile, or neither');
  if ((tls.clientCaFile || tls.requireClientCert) && !tls.certFile) problems.add('tls.clientCaFile: mutual TLS needs tls.certFile and tls.keyFile');
  if (tls.requireClientCert && !tls.clientCaFile) problems.add('tls.requireClientCert: needs tls.clientCaFile');
  // The OTel Collector's client_ca_file alone requires and verifies client certificates; here a CA
  // without requireClientCert would verify nothing, so it is refused rather than silently ignored.
  if (tls.clientCaFile && !tls.requireClientCert) {
    problems.add('tls.clientCaFile: mutual TLS requires and verifies client certificates: set tls.requireClientCert: true as well (teleql has no optional client certificates), or remove tls.clientCaFile');
  }
  if (!Number.isInteger(tls.reloadIntervalMs) || tls.reloadIntervalMs < 0 || tls.reloadIntervalMs > MAX_TIMER_MS) {
    problems.add(`tls.reloadIntervalMs: expected an integer from 0 to ${MAX_TIMER_MS} (a timer's maximum, about 24.8 days; actual: ${tls.reloadIntervalMs})`);
  }
}
