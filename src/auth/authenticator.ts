// The one place every endpoint asks "who is this, which tenant, may they do that?": OTLP gRPC
// (metadata) and HTTP, GraphQL over HTTP and graphql-ws (connection_init), /metrics.
import { BlockList, isIP } from 'node:net';
import type { Logger } from 'pino';
import type { AuthConfig } from '../config/security.ts';
import type { MetricSample } from '../server/metrics.ts';
import { InvalidTenantError, isValidTenant, resolveTenant } from '../tenant.ts';
import { createApiKeyVerifier } from './api-keys.ts';
import { createJwtVerifier } from './jwt.ts';
import { AuthError, type HeaderLookup, type Principal, SCOPES, type Scope, hasScope, unauthenticated } from './types.ts';

export interface Authenticator {
  readonly mode: AuthConfig['mode'];
  /**
   * The caller's principal, checked for `scope`. With auth off, the tenant is the tenant header's
   * value (missing or empty: "default"). With auth on, the tenant is the credential's; a non-empty
   * tenant header must name the same tenant (else `forbidden`), so clients that always send it keep working.
   * Rejects with AuthError; an invalid tenant header with InvalidTenantError.
   */
  admit(headers: HeaderLookup, tenantHeader: string, scope: Scope | undefined): Promise<Principal>;
  /**
   * Replaces the API keys (a reload): new requests are checked against these only, so a removed
   * key is refused from now on, and the principals of removed or changed keys are revoked (the
   * graphql-ws connections they opened are closed).
   */
  setApiKeys(keys: AuthConfig['apiKeys']): void;
  /**
   * Reads the JWKS file again now (a reload), when it changed or its last reading was refused: the
   * principals of tokens signed by a key it no longer holds are revoked. Nothing without a file.
   */
  reloadJwks(): void;
  /** The JWKS file's readings, for /metrics. */
  metrics(): MetricSample[];
  /** Stops what looks at credential files (the JWKS file's timer); the gateway stops. */
  close(): void;
  /**
   * How much /healthz and /readyz tell this caller: `detail` with auth off or any valid credential
   * (no scope or tenant asked), else `status` (the status without its reason, which can name files)
   * or, with auth.health: authenticated, `refused` (401).
   */
  probeAccess(headers: HeaderLookup): Promise<'detail' | 'status' | 'refused'>;
}

const ALL_SCOPES: ReadonlySet<Scope> = new Set(SCOPES);
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * Whether a bearer credential is a JWT: three base64url parts (JWS compact form) whose first decodes
 * to a JSON object naming its `alg`. The shape alone is not enough, since an API key may have dots
 * too (`tq.team-a.…` has it). The decision reads only what the client sent, never a secret, so which
 * check a credential gets tells its sender nothing new; and each credential gets one check, never a
 * JWT's and then a key's: a wrong one cannot cost a signature check plus a scrypt.
 */
export function isJwt(token: string): boolean {
  if (!JWT_SHAPE.test(token)) return false;
  try {
    const header: unknown = JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8'));
    return typeof header === 'object' && header !== null && typeof (header as { alg?: unknown }).alg === 'string';
  } catch {
    return false;
  }
}

export function createAuthenticator(cfg: AuthConfig, logger: Logger): Authenticator {
  let keys = cfg.mode.includes('apiKey') ? createApiKeyVerifier(cfg.apiKeys) : undefined;
  const jwt = cfg.mode.includes('jwt') ? createJwtVerifier(cfg.jwt, logger) : undefined;
  const apiKeyHeader = cfg.apiKeyHeader.toLowerCase();

  async function identify(headers: HeaderLookup): Promise<Principal> {
    const authorization = headers('authorization')?.trim();
    const bearer = authorization?.match(/^(?:bearer|apikey)\s+(\S+)$/i)?.[1];
    // With auth.apiKeyHeader: Authorization the header's whole value is not the key when it names a
    // scheme: SDK users write `Bearer <key>` (docs/access-control.md), so the key is the bearer's, or
    // the bare value when it has no scheme (no whitespace); any other scheme is no key.
    const bare = authorization && !/\s/.test(authorization) ? authorization : undefined;
    const apiKey = apiKeyHeader === 'authorization' ? (bearer ?? bare) : headers(apiKeyHeader)?.trim() || undefined;
    if (bearer && jwt && isJwt(bearer)) return jwt.verify(bearer);
    const candidate = apiKey ?? bearer;
    if (candidate === undefined) throw unauthenticated(authorization ? 'unsupported Authorization scheme' : 'no credentials');
    const principal = await keys?.verify(candidate);
    if (!principal) throw unauthenticated('unknown API key');
    return principal;
  }

  return {
    mode: cfg.mode,
    setApiKeys(list) {
      if (keys) keys = keys.replace(list);
    },
    reloadJwks: () => jwt?.reloadKeys(),
    metrics: () => jwt?.metrics() ?? [],
    close: () => jwt?.close(),
    async probeAccess(headers) {
      if (cfg.mode === 'none') return 'detail';
      try {
        await identify(headers);
        return 'detail';
      } catch (err) {
        if (!(err instanceof AuthError)) throw err;
        logger.debug({ reason: err.reason }, 'probe credentials refused');
        return cfg.health === 'authenticated' ? 'refused' : 'status';
      }
    },
    async admit(headers, tenantHeader, scope) {
      const requested = headers(tenantHeader.toLowerCase());
      if (cfg.mode === 'none') {
        return { tenant: resolveTenant(requested), scopes: ALL_SCOPES, subject: 'anonymous', method: 'none' };
      }
      let principal: Principal;
      try {
        principal = await identify(headers);
      } catch (err) {
        if (err instanceof AuthError) logger.debug({ reason: err.reason }, 'credentials refused');
        throw err;
      }
      // A value no tenant can have names no tenant: a bad request (400 / 4400), not another tenant's.
      if (requested !== undefined && requested !== '' && !isValidTenant(requested)) throw new InvalidTenantError(requested);
      if (requested !== undefined && requested !== '' && requested !== principal.tenant) {
        throw new AuthError('forbidden', `the ${tenantHeader} header names another tenant than the credential's`);
      }
      // auth.metrics: admin — tenant admins see the gateway-wide figures too (all tenants' volumes).
      if (cfg.metrics === 'admin' && principal.scopes.has('admin') && !principal.scopes.has('metrics')) {
        principal = { ...principal, scopes: new Set([...principal.scopes, 'metrics']) };
      }
      if (scope && !hasScope(principal, scope)) throw new AuthError('forbidden', `the credential lacks the ${scope} scope`);
      return principal;
    },
  };
}

export { AuthError, InvalidTenantError };

/**
 * Loopback addresses in any spelling: node's BlockList compares addresses, not text, so
 * `0:0:0:0:0:0:0:1` is `::1` and the IPv4-mapped `::ffff:127.0.0.1` is 127.0.0.1 (all three were
 * warned about as exposed).
 */
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

export function isLoopback(host: string): boolean {
  const address = host.replace(/^\[(.*)\]$/, '$1');
  if (address.toLowerCase() === 'localhost') return true;
  const family = isIP(address);
  return family !== 0 && LOOPBACK.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * A loud warning for every listener reachable from other hosts while auth is off: logged at error
 * level, and written to `stderr` as well when the logger prints no errors (`log.level: fatal` or
 * `silent`), since every tenant's data is open whatever the log level says.
 */
export function warnIfExposed(
  mode: AuthConfig['mode'],
  listeners: Record<string, string | undefined>,
  logger: Logger,
  stderr: Pick<NodeJS.WritableStream, 'write'> = process.stderr,
): string[] {
  if (mode !== 'none') return [];
  const exposed = Object.entries(listeners).filter((entry): entry is [string, string] => entry[1] !== undefined && !isLoopback(entry[1]));
  for (const [name, host] of exposed) {
    const message = `SECURITY: auth.mode is 'none' and the ${name} listener is bound to ${host}: anyone who can reach it can read and write every tenant's data. Set auth.mode (see SECURITY.md) or bind to 127.0.0.1.`;
    logger.error({ listener: name, host }, message);
    if (!logger.isLevelEnabled('error')) stderr.write(`teleql: ${message}\n`);
  }
  return exposed.map(([name]) => name);
}
